//! Watch caches of the API objects the harness's loops read.

use futures::StreamExt;
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::Api;

/// A reflector of every object of `api`, and the task feeding it (abort it to stop).
pub(crate) fn reflect<K>(api: Api<K>) -> (reflector::Store<K>, tokio::task::JoinHandle<()>)
where
    K: kube::Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let mut stream =
        Box::pin(watcher(api, watcher::Config::default()).default_backoff().reflect(writer).touched_objects());
    let task = tokio::spawn(async move { while stream.next().await.is_some() {} });
    (reader, task)
}

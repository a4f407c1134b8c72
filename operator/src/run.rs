//! Wiring: the three controllers, their watches, and what maps a change of one kind to the
//! objects of another that depend on it.

use std::sync::Arc;

use futures::{future, StreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use kube::api::Api;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use crate::build::MANAGED_BY;
use crate::context::Context;
use crate::crd::{AccessKey, BleepStore, Bucket};
use crate::{access_key, bucket, store};

/// Which namespaces are watched: one, or all.
#[derive(Debug, Clone)]
pub enum Scope {
    All,
    Namespace(String),
}

fn api<K>(client: &Client, scope: &Scope) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match scope {
        Scope::All => Api::all(client.clone()),
        Scope::Namespace(ns) => Api::namespaced(client.clone(), ns),
    }
}

/// Runs every controller, in each scope, until a shutdown signal.
pub async fn controllers(ctx: Arc<Context>, scopes: &[Scope]) {
    future::join_all(scopes.iter().map(|scope| scoped(ctx.clone(), scope))).await;
}

async fn scoped(ctx: Arc<Context>, scope: &Scope) {
    let client = ctx.client.clone();
    let config = watcher::Config::default();
    let owned = watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGED_BY}"));

    let store_controller = Controller::new(api::<BleepStore>(&client, scope), config.clone());
    ctx.add_store_cache(store_controller.store());
    let stores = store_controller
        .owns(api::<StatefulSet>(&client, scope), owned)
        .shutdown_on_signal()
        .run(store::reconcile, store::error_policy, ctx.clone())
        .for_each(|_| future::ready(()));

    let bucket_controller = Controller::new(api::<Bucket>(&client, scope), config.clone());
    let bucket_reader = bucket_controller.store();
    let buckets = bucket_controller
        .watches(api::<BleepStore>(&client, scope), config.clone(), move |store: BleepStore| {
            bucket_reader
                .state()
                .into_iter()
                .filter(|b| b.namespace() == store.namespace() && b.spec.store == store.name_any())
                .map(|b| ObjectRef::from_obj(&*b))
                .collect::<Vec<_>>()
        })
        .shutdown_on_signal()
        .run(bucket::reconcile, crate::dependent::error_policy::<crate::crd::Bucket>, ctx.clone())
        .for_each(|_| future::ready(()));

    let key_controller = Controller::new(api::<AccessKey>(&client, scope), config.clone());
    let keys_by_store = key_controller.store();
    let keys_by_bucket = key_controller.store();
    let keys = key_controller
        .watches(api::<BleepStore>(&client, scope), config.clone(), move |store: BleepStore| {
            keys_by_store
                .state()
                .into_iter()
                .filter(|k| k.namespace() == store.namespace() && k.spec.store == store.name_any())
                .map(|k| ObjectRef::from_obj(&*k))
                .collect::<Vec<_>>()
        })
        .watches(api::<Bucket>(&client, scope), config, move |bucket: Bucket| {
            keys_by_bucket
                .state()
                .into_iter()
                .filter(|k| {
                    k.namespace() == bucket.namespace() && k.spec.buckets.iter().any(|g| g.bucket == bucket.name_any())
                })
                .map(|k| ObjectRef::from_obj(&*k))
                .collect::<Vec<_>>()
        })
        .shutdown_on_signal()
        .run(access_key::reconcile, crate::dependent::error_policy::<crate::crd::AccessKey>, ctx)
        .for_each(|_| future::ready(()));

    tokio::join!(stores, buckets, keys);
}

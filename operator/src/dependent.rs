//! What the Bucket and AccessKey reconcilers share: finding the store they name and reaching
//! its admin API, and one policy for refusing (a `Ready=False` condition the user can act on,
//! looked at again soon), for blocked deletions (`DeletionBlocked`, the finalizer kept), and for
//! failures (backoff).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use crate::admin::{AdminError, AdminTarget};
use crate::api::secret_value;
use crate::build::{names, ADMIN_TOKEN_KEY};
use crate::conditions::{self, Want, DELETION_BLOCKED, READY};
use crate::context::Context;
use crate::crd::BleepStore;
use crate::error::{Error, Result};

/// A dependent that waits (for its store, a bucket, a fixed spec) is looked at again this soon.
pub const RECHECK: Duration = Duration::from_secs(10);

/// The store a dependent names, as far as it can be used.
pub enum StoreLookup {
    /// No BleepStore of that name in the namespace.
    Missing,
    /// It exists but is not Ready (or its admin token is not there yet).
    NotReady(Box<BleepStore>),
    /// Ready, with its admin API.
    Ready(Box<BleepStore>, AdminTarget),
}

pub async fn lookup_store(ctx: &Context, ns: &str, name: &str) -> Result<StoreLookup> {
    let Some(store) = Api::<BleepStore>::namespaced(ctx.client.clone(), ns).get_opt(name).await? else {
        return Ok(StoreLookup::Missing);
    };
    let ready = store.status.as_ref().is_some_and(|s| conditions::is_true(&s.conditions, READY));
    if !ready {
        return Ok(StoreLookup::NotReady(Box::new(store)));
    }
    match admin_target(ctx, ns, &store).await? {
        Some(target) => Ok(StoreLookup::Ready(Box::new(store), target)),
        None => Ok(StoreLookup::NotReady(Box::new(store))),
    }
}

/// The store's admin API address and token, or `None` while its admin Secret is missing.
pub async fn admin_target(ctx: &Context, ns: &str, store: &BleepStore) -> Result<Option<AdminTarget>> {
    let secret = Api::<Secret>::namespaced(ctx.client.clone(), ns).get_opt(&names::admin_secret(store)).await?;
    Ok(secret_value(secret.as_ref(), ADMIN_TOKEN_KEY).map(|token| AdminTarget {
        base_url: format!("http://{}", crate::admin::management_address(store)),
        token: token.into(),
    }))
}

/// `StoreUnreachable` when the store did not answer, `AdminAPIError` when it answered an error.
pub fn admin_reason(error: &AdminError) -> &'static str {
    match error {
        AdminError::Unreachable(_) => "StoreUnreachable",
        AdminError::Status { .. } | AdminError::Decode(_) => "AdminAPIError",
    }
}

/// A resource that lives in a store: a Bucket or an AccessKey.
pub trait Dependent: Resource<DynamicType = ()> + Send + Sync + 'static {
    /// The kind, for metrics, logs and backoff keys.
    const KIND: &'static str;

    /// The conditions of its current status.
    fn conditions(&self) -> &[Condition];

    /// Writes its status with `wanted` merged into the conditions, the rest as it is.
    fn write_conditions(&self, ctx: &Context, wanted: &[Want]) -> impl Future<Output = Result<()>> + Send;
}

/// The conditions a dependent's status should carry: `wanted` merged in, and a stale
/// `DeletionBlocked` dropped while the resource is not being deleted.
pub fn merged_conditions<K: Dependent>(obj: &K, wanted: &[Want]) -> Vec<Condition> {
    let mut current = obj.conditions().to_vec();
    if obj.meta().deletion_timestamp.is_none() {
        current.retain(|c| c.type_ != DELETION_BLOCKED);
    }
    conditions::merge(&current, wanted, obj.meta().generation, jiff::Timestamp::now())
}

/// Not ready for a reason the user can see and fix (an event the first time); looked at again
/// soon.
pub async fn refuse<K: Dependent>(obj: &K, ctx: &Context, reason: &str, message: String) -> Result<Action> {
    let already = obj.conditions().iter().any(|c| c.type_ == READY && c.reason == reason);
    obj.write_conditions(ctx, &[Want::new(READY, false, reason, message.clone())]).await?;
    if !already {
        ctx.event(obj, true, reason, message).await;
    }
    Ok(Action::requeue(RECHECK))
}

/// Deletion cannot finish yet: say why in `DeletionBlocked` (and an event, once per reason),
/// and keep the finalizer by failing, which retries with backoff.
pub async fn block<K: Dependent>(obj: &K, ctx: &Context, reason: &str, message: String) -> Result<Action> {
    let already =
        obj.conditions().iter().any(|c| c.type_ == DELETION_BLOCKED && c.status == "True" && c.reason == reason);
    obj.write_conditions(ctx, &[Want::new(DELETION_BLOCKED, true, reason, message.clone())]).await?;
    if !already {
        ctx.event(obj, true, "DeletionBlocked", message.clone()).await;
    }
    Err(Error::DeletionBlocked(message))
}

/// The backoff key of a dependent.
pub fn backoff_key<K: Dependent>(obj: &K) -> String {
    format!("{}/{}/{}", K::KIND, obj.namespace().unwrap_or_default(), obj.name_any())
}

/// The controllers' error policy: the failure is counted and logged, and retried with backoff.
// The signature is kube-runtime's `Controller::run` error policy: it hands over the Arcs.
#[allow(clippy::needless_pass_by_value)]
pub fn error_policy<K: Dependent>(obj: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.failure(K::KIND, error.metric_label());
    tracing::warn!(kind = K::KIND, name = %obj.name_any(), namespace = ?obj.namespace(), %error, "reconcile failed");
    ctx.failure_backoff(&backoff_key(obj.as_ref()))
}

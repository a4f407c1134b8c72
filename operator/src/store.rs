//! The `BleepStore` reconciler: dereference → validate → build → apply → status.
//!
//! A store gets the finalizer [`FINALIZER`]: while Bucket or AccessKey resources still name it,
//! its deletion waits with a `DeletionBlocked` condition, so their finalizers can still reach
//! the store's admin API to honour their deletion policies.

mod apply;
mod dereference;
mod kept;
mod status;
mod validate;

use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{finalizer, Event};
use kube::ResourceExt;

use crate::build;
use crate::conditions::{self, Want};
use crate::context::Context;
use crate::crd::{AccessKey, BleepStore, Bucket};
use crate::error::{Error, Result};

pub use dereference::StoreRefs;
pub use validate::{validate, Invalid};

/// The finalizer a store carries while dependents may need it.
pub const FINALIZER: &str = "bleepstore.io/store-protection";

/// How often a healthy store is looked at again without a watch event.
const RESYNC: Duration = Duration::from_secs(300);
/// How soon a store that is not ready yet, or is invalid, is looked at again.
const RECHECK: Duration = Duration::from_secs(15);

pub async fn reconcile(store: Arc<BleepStore>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile("BleepStore");
    let ns = store.namespace().ok_or(Error::Invariant("BleepStore has no namespace"))?;
    let api: Api<BleepStore> = Api::namespaced(ctx.client.clone(), &ns);
    let action = finalizer(&api, FINALIZER, store, |event| async {
        match event {
            Event::Apply(store) => apply_store(&store, &ctx, &ns).await,
            Event::Cleanup(store) => cleanup(&store, &ctx, &ns).await,
        }
    })
    .await
    .map_err(Error::from_finalizer)?;
    Ok(action)
}

async fn apply_store(store: &BleepStore, ctx: &Context, ns: &str) -> Result<Action> {
    let refs = dereference::dereference(store, ctx, ns).await?;
    let secrets = kept::kept_or_generated(&refs);
    let mut inputs = match validate(store, &refs, secrets, &ctx.settings.default_image) {
        Ok(inputs) => inputs,
        Err(invalid) => {
            status::write_invalid(store, ctx, ns, &invalid).await?;
            return Ok(Action::requeue(RECHECK));
        }
    };
    // A new default image (an operator upgrade) reaches the stores that follow it one at a
    // time: this one keeps the image it runs while another is still rolling to the new one.
    let moving = store.spec.image.is_none()
        && store.status.as_ref().and_then(|s| s.image.as_deref()).is_some_and(|running| running != inputs.image);
    let mut turn = if moving { Some(ctx.image_rollout.lock().await) } else { None };
    let queued = match &turn {
        Some(last) => rolling_elsewhere(store, ctx, &inputs.image, last.as_ref()),
        None => None,
    };
    if let Some(other) = &queued {
        inputs.image = store.status.as_ref().and_then(|s| s.image.clone()).unwrap_or(inputs.image);
        tracing::info!(store = %store.name_any(), waits_for = %other, "a new default image waits for its turn");
    } else if let Some(last) = turn.as_mut() {
        **last = Some((key(store), inputs.image.clone()));
        tracing::info!(store = %store.name_any(), image = %inputs.image, "moving to the new default image");
    }
    let resources = build::store_resources(&inputs);
    let applied = match apply::apply(ctx, ns, resources, &refs).await {
        Ok(applied) => applied,
        // The API server refused an object (RBAC, admission, a quota): say so on the store,
        // with the generation it applies to, then back off as for any error.
        Err(Error::Kube(kube::Error::Api(refusal))) if matches!(refusal.code, 403 | 422) => {
            let invalid =
                Invalid { reason: "ApplyRefused", message: format!("the API server refused: {}", refusal.message) };
            status::write_invalid(store, ctx, ns, &invalid).await?;
            return Err(Error::Kube(kube::Error::Api(refusal)));
        }
        Err(e) => return Err(e),
    };
    let (claims, refused) = apply::grow_volumes(ctx, ns, store, &refs).await?;
    let waiting = queued.map(|other| {
        let other = other.trim_start_matches("BleepStore/");
        format!("the default image {} waits until store {other} has rolled to it", ctx.settings.default_image)
    });
    let image = status::Image { running: &inputs.image, waiting: waiting.as_deref() };
    let settled = status::write_applied(store, ctx, ns, &applied, &claims, &refused, &image).await?;
    ctx.succeeded(&key(store));
    Ok(Action::requeue(if settled { RESYNC } else { RECHECK }))
}

/// Deletion: wait while Buckets or AccessKeys name this store; then let the finalizer go (the
/// owned objects are garbage-collected; the data volume claims are kept).
async fn cleanup(store: &BleepStore, ctx: &Context, ns: &str) -> Result<Action> {
    let name = store.name_any();
    let buckets: Api<Bucket> = Api::namespaced(ctx.client.clone(), ns);
    let keys: Api<AccessKey> = Api::namespaced(ctx.client.clone(), ns);
    let bucket_count =
        buckets.list(&ListParams::default()).await?.items.iter().filter(|b| b.spec.store == name).count();
    let key_count = keys.list(&ListParams::default()).await?.items.iter().filter(|k| k.spec.store == name).count();
    if bucket_count + key_count == 0 {
        return Ok(Action::await_change());
    }
    let message = format!(
        "{bucket_count} Bucket and {key_count} AccessKey resources still use this store; delete them first (the store \
            stays up meanwhile so their deletion policies can run)"
    );
    let want = Want::new(conditions::DELETION_BLOCKED, true, "DependentsExist", message.clone());
    let blocked_before =
        store.status.as_ref().is_some_and(|s| conditions::is_true(&s.conditions, conditions::DELETION_BLOCKED));
    status::write_conditions(store, ctx, ns, &[want]).await?;
    if !blocked_before {
        ctx.event(store, true, "DeletionBlocked", message.clone()).await;
    }
    Err(Error::DeletionBlocked(message))
}

/// Another store following the default image that has moved to `image` and is not settled on
/// it yet (not ready, or still rolling out), by `namespace/name`.
/// `last` is the store that moved last and to what (its status may not be in the cache yet).
fn rolling_elsewhere(
    store: &BleepStore,
    ctx: &Context,
    image: &str,
    last: Option<&(String, String)>,
) -> Option<String> {
    let settled_on = |other: &BleepStore| {
        other.status.as_ref().is_some_and(|status| {
            status.image.as_deref() == Some(image)
                && conditions::is_true(&status.conditions, conditions::READY)
                && !conditions::is_true(&status.conditions, conditions::PROGRESSING)
        })
    };
    let stores = ctx.all_stores();
    let me = key(store);
    if let Some((last_key, last_image)) = last {
        let mid_move = *last_key != me
            && last_image == image
            && stores.iter().any(|other| key(other) == *last_key && !settled_on(other));
        if mid_move {
            return Some(last_key.clone());
        }
    }
    stores.iter().find_map(|other| {
        let moved = other.status.as_ref().is_some_and(|s| s.image.as_deref() == Some(image));
        (key(other) != me && other.spec.image.is_none() && moved && !settled_on(other)).then(|| key(other))
    })
}

/// The backoff key of a store.
pub fn key(store: &BleepStore) -> String {
    format!("BleepStore/{}/{}", store.namespace().unwrap_or_default(), store.name_any())
}

/// The controller's error policy: a condition-carrying failure was already written; back off.
// The signature is kube-runtime's `Controller::run` error policy: it hands over the Arcs.
#[allow(clippy::needless_pass_by_value)]
pub fn error_policy(store: Arc<BleepStore>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.failure("BleepStore", error.metric_label());
    tracing::warn!(store = %store.name_any(), namespace = ?store.namespace(), %error, "reconcile failed");
    ctx.failure_backoff(&key(&store))
}

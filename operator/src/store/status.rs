//! Status: `observedGeneration`, the conditions, ready replicas, the endpoint and the volumes,
//! written with a merge patch on `/status` only when something changed.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::ResourceExt;

use super::apply::ResizeRefused;
use super::validate::claim_request;
use super::Invalid;
use crate::build::names;
use crate::conditions::{self, Want, DEGRADED, PROGRESSING, READY};
use crate::context::Context;
use crate::crd::{BleepStore, BleepStoreStatus, VolumeStatus};
use crate::error::Result;
use crate::quantity;

/// Writes `status` if it differs from the store's current status.
async fn write(store: &BleepStore, ctx: &Context, _ns: &str, status: BleepStoreStatus) -> Result<()> {
    crate::api::patch_status(ctx, store, store.status.as_ref(), &status).await
}

fn current(store: &BleepStore) -> BleepStoreStatus {
    store.status.clone().unwrap_or_default()
}

/// Sets some conditions, leaving the rest of the status as it is.
pub(super) async fn write_conditions(store: &BleepStore, ctx: &Context, ns: &str, wanted: &[Want]) -> Result<()> {
    let mut status = current(store);
    status.conditions =
        conditions::merge(&status.conditions, wanted, store.metadata.generation, jiff::Timestamp::now());
    write(store, ctx, ns, status).await
}

/// The spec cannot be built: not ready, degraded, with the reason; nothing was applied.
pub(super) async fn write_invalid(store: &BleepStore, ctx: &Context, ns: &str, invalid: &Invalid) -> Result<()> {
    let mut status = current(store);
    status.observed_generation = store.metadata.generation;
    let wanted = [
        Want::new(READY, false, invalid.reason, invalid.message.clone()),
        Want::new(DEGRADED, true, invalid.reason, invalid.message.clone()),
        Want::new(
            PROGRESSING,
            false,
            invalid.reason,
            if invalid.reason == "ApplyRefused" {
                "waiting for the API server to accept the objects"
            } else {
                "waiting for the spec to be fixed"
            },
        ),
    ];
    status.conditions =
        conditions::merge(&status.conditions, &wanted, store.metadata.generation, jiff::Timestamp::now());
    let first_time = !store.status.as_ref().is_some_and(|s| {
        s.conditions.iter().any(|c| c.type_ == DEGRADED && c.status == "True" && c.reason == invalid.reason)
    });
    write(store, ctx, ns, status).await?;
    if first_time {
        ctx.event(store, true, invalid.reason, invalid.message.clone()).await;
    }
    Ok(())
}

/// The image a store's pods are given, and why it is not the new default yet, if it waits.
pub(super) struct Image<'a> {
    pub running: &'a str,
    pub waiting: Option<&'a str>,
}

/// The objects were applied: report the rollout and the volumes. Returns whether it is settled
/// (ready, and no volume still expanding), which decides how soon it is looked at again.
pub(super) async fn write_applied(
    store: &BleepStore,
    ctx: &Context,
    ns: &str,
    applied: &StatefulSet,
    claims: &[PersistentVolumeClaim],
    refused: &[ResizeRefused],
    image: &Image<'_>,
) -> Result<bool> {
    let replicas = store.spec.replicas;
    let sts_status = applied.status.clone().unwrap_or_default();
    let ready_replicas = sts_status.ready_replicas.unwrap_or(0);
    let rolled_out = sts_status.observed_generation >= applied.metadata.generation
        && sts_status.updated_replicas.unwrap_or(0) >= replicas
        && sts_status.current_revision == sts_status.update_revision;
    let volumes: Vec<VolumeStatus> = claims
        .iter()
        .map(|claim| VolumeStatus {
            claim: claim.name_any(),
            requested: claim_request(claim).unwrap_or_default(),
            capacity: claim.status.as_ref().and_then(|s| s.capacity.as_ref()?.get("storage")).map(|q| q.0.clone()),
        })
        .collect();
    let expanding_claim = volumes
        .iter()
        .find(|v| {
            let capacity = v.capacity.as_deref().and_then(quantity::bytes);
            matches!((capacity, quantity::bytes(&store.spec.storage.size)), (Some(have), Some(want)) if have < want)
        })
        .cloned();
    let ready = ready_replicas >= replicas;
    let mut wanted = vec![match refused.first() {
        // Still serving on the old size: degraded, with what to do about it.
        Some(refusal) => Want::new(
            DEGRADED,
            true,
            "VolumeResizeRefused",
            format!(
                "claim {} cannot grow to {}: {}; set storage.size back to the size the volume has, or move the \
                 data to a StorageClass that allows expansion",
                refusal.claim, store.spec.storage.size, refusal.message
            ),
        ),
        None => Want::new(DEGRADED, false, "AsExpected", ""),
    }];
    wanted.push(if ready {
        Want::new(READY, true, "Ready", format!("{ready_replicas} of {replicas} pods ready"))
    } else {
        Want::new(READY, false, "PodsNotReady", format!("{ready_replicas} of {replicas} pods ready"))
    });
    let settled = ready && expanding_claim.is_none() && image.waiting.is_none();
    let expanding_claim = expanding_claim.filter(|v| !refused.iter().any(|r| r.claim == v.claim));
    wanted.push(match (rolled_out && ready, expanding_claim, image.waiting) {
        (_, _, Some(waiting)) => Want::new(PROGRESSING, true, "ImageUpdateQueued", waiting),
        (_, Some(volume), None) => Want::new(
            PROGRESSING,
            true,
            "VolumeExpanding",
            format!(
                "claim {} has {} of {}",
                volume.claim,
                volume.capacity.as_deref().unwrap_or("?"),
                store.spec.storage.size
            ),
        ),
        (true, None, None) => Want::new(PROGRESSING, false, "RolledOut", "every pod runs the current spec"),
        (false, None, None) => Want::new(PROGRESSING, true, "RollingOut", "pods are being created or updated"),
    });
    let mut status = current(store);
    status.observed_generation = store.metadata.generation;
    status.ready_replicas = ready_replicas;
    status.endpoint = Some(names::endpoint(store));
    status.image = Some(image.running.to_owned());
    status.volumes = volumes;
    // DeletionBlocked only matters while deleting; drop it from a live store's status.
    status.conditions.retain(|c| c.type_ != conditions::DELETION_BLOCKED);
    status.conditions =
        conditions::merge(&status.conditions, &wanted, store.metadata.generation, jiff::Timestamp::now());
    let newly_refused = !refused.is_empty()
        && !store.status.as_ref().is_some_and(|s| {
            s.conditions.iter().any(|c| c.type_ == DEGRADED && c.status == "True" && c.reason == "VolumeResizeRefused")
        });
    write(store, ctx, ns, status).await?;
    if newly_refused {
        if let Some(c) = wanted.iter().find(|w| w.type_ == DEGRADED) {
            ctx.event(store, true, "VolumeResizeRefused", c.message.clone()).await;
        }
    }
    Ok(settled)
}

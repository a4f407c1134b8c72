//! The `Bucket` reconciler: creates the bucket through its store's admin API, reports its
//! usage, and on deletion honours `deletionPolicy` behind the finalizer [`FINALIZER`], showing a
//! `DeletionBlocked` condition (and an event) while it cannot.

use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{finalizer, Event};
use kube::ResourceExt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use crate::admin::{AdminError, BucketDeleted};
use crate::api::patch_status;
use crate::build::bucket::{bucket_name, request};
use crate::conditions::{Want, READY};
use crate::context::Context;
use crate::crd::{Bucket, BucketStatus, BucketUsage, DeletionPolicy};
use crate::dependent::{
    admin_reason, backoff_key, block, lookup_store, merged_conditions, refuse, Dependent, StoreLookup,
};
use crate::error::{Error, Result};

pub const FINALIZER: &str = "bleepstore.io/bucket";

/// Usage is refreshed this often.
const RESYNC: Duration = Duration::from_secs(120);

impl Dependent for Bucket {
    const KIND: &'static str = "Bucket";

    fn conditions(&self) -> &[Condition] {
        self.status.as_ref().map_or(&[], |s| &s.conditions)
    }

    async fn write_conditions(&self, ctx: &Context, wanted: &[Want]) -> Result<()> {
        write(self, ctx, wanted, None).await
    }
}

pub async fn reconcile(bucket: Arc<Bucket>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile("Bucket");
    let ns = bucket.namespace().ok_or(Error::Invariant("Bucket has no namespace"))?;
    let api: Api<Bucket> = Api::namespaced(ctx.client.clone(), &ns);
    finalizer(&api, FINALIZER, bucket, |event| async {
        match event {
            Event::Apply(bucket) => apply(&bucket, &ctx, &ns).await,
            Event::Cleanup(bucket) => cleanup(&bucket, &ctx, &ns).await,
        }
    })
    .await
    .map_err(Error::from_finalizer)
}

async fn apply(bucket: &Bucket, ctx: &Context, ns: &str) -> Result<Action> {
    let name = bucket_name(bucket);
    let (store, target) = match lookup_store(ctx, ns, &bucket.spec.store).await? {
        StoreLookup::Missing => {
            let message = format!("BleepStore {} not found in namespace {ns}", bucket.spec.store);
            return refuse(bucket, ctx, "StoreNotFound", message).await;
        }
        StoreLookup::NotReady(_) => {
            let message = format!("BleepStore {} is not ready yet", bucket.spec.store);
            return refuse(bucket, ctx, "StoreNotReady", message).await;
        }
        StoreLookup::Ready(store, target) => (store, target),
    };
    if let Some(winner) = name_conflict(bucket, ctx, ns, &name).await? {
        let message = format!("Bucket {winner} already manages bucket {name} in store {}", store.name_any());
        return refuse(bucket, ctx, "BucketNameConflict", message).await;
    }
    let drift = match drift(bucket, ctx, &target, &name).await {
        Ok(drift) => drift,
        Err(error) => return admin_failed(bucket, ctx, error).await,
    };
    match ctx.admin.put_bucket(&target, &name, &request(bucket)).await {
        Ok(()) => {}
        Err(AdminError::Status { status: 400, code, message }) if code == "InvalidTag" => {
            return refuse(
                bucket,
                ctx,
                "InvalidTags",
                format!("the store refused the tags of bucket {name}: {message}"),
            )
            .await;
        }
        Err(AdminError::Status { status: 400, message, .. }) => {
            return refuse(bucket, ctx, "InvalidBucketName", format!("the store refused bucket {name}: {message}"))
                .await;
        }
        Err(AdminError::Status { status: 409, message, .. }) => {
            return refuse(bucket, ctx, "BucketOwnedByAnother", message).await;
        }
        Err(error) => return admin_failed(bucket, ctx, error).await,
    }
    if let Some(message) = drift {
        tracing::info!(bucket = %name, %message, "drift corrected");
        ctx.event(bucket, true, "DriftCorrected", message).await;
    }
    let info = match ctx.admin.bucket_info(&target, &name).await {
        Ok(info) => info.unwrap_or_default(),
        Err(error) => return admin_failed(bucket, ctx, error).await,
    };
    let message = format!("bucket {name} exists in store {}", store.name_any());
    let seen = Seen {
        name,
        usage: BucketUsage { objects: info.usage.objects, bytes: info.usage.bytes },
        versioning: info.versioning,
    };
    write(bucket, ctx, &[Want::new(READY, true, "Created", message)], Some(seen)).await?;
    ctx.succeeded(&backoff_key(bucket));
    Ok(Action::requeue(RESYNC))
}

/// For a bucket this resource already made: a message naming what the store holds that differs
/// from the spec (changed outside the resource: its versioning when the spec sets it, its ACL),
/// which the PUT that follows puts back.
async fn drift(
    bucket: &Bucket,
    ctx: &Context,
    target: &crate::admin::AdminTarget,
    name: &str,
) -> std::result::Result<Option<String>, AdminError> {
    let made = bucket.status.as_ref().is_some_and(|s| s.bucket_name.as_deref() == Some(name));
    if !made {
        return Ok(None);
    }
    let Some(info) = ctx.admin.bucket_info(target, name).await? else { return Ok(None) };
    Ok(drift_message(bucket, name, &info))
}

/// What differs between the spec and the store's `info`, as an event's note.
pub fn drift_message(bucket: &Bucket, name: &str, info: &crate::admin::BucketInfo) -> Option<String> {
    let mut found = Vec::new();
    if let Some(wanted) = bucket.spec.versioning {
        if info.versioning.as_deref() != Some(wanted.as_str()) {
            let was = info.versioning.as_deref().unwrap_or("never enabled");
            found.push(format!("versioning was {was}, set back to {}", wanted.as_str()));
        }
    }
    if let Some(wanted) = &bucket.spec.tags {
        let wanted: std::collections::BTreeMap<&str, &str> =
            wanted.iter().map(|(k, v)| (k.as_str(), v.0.as_str())).collect();
        let held: std::collections::BTreeMap<&str, &str> =
            info.tags.iter().flatten().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        if wanted != held {
            found.push(format!("its {} tag(s) differed, set back to the {} in the spec", held.len(), wanted.len()));
        }
    }
    let wanted_acl = bucket.spec.acl.as_str();
    if let Some(acl) = info.acl.as_deref().filter(|acl| *acl != wanted_acl) {
        let was = if acl.starts_with('{') { "a list of grants" } else { acl };
        found.push(format!("the ACL was {was}, set back to {wanted_acl}"));
    }
    (!found.is_empty()).then(|| format!("bucket {name} was changed outside this resource: {}", found.join("; ")))
}

/// An admin API failure: shown in `Ready`, then retried with backoff.
async fn admin_failed(bucket: &Bucket, ctx: &Context, error: AdminError) -> Result<Action> {
    write(bucket, ctx, &[Want::new(READY, false, admin_reason(&error), error.to_string())], None).await?;
    Err(error.into())
}

/// An older other Bucket resource naming the same bucket in the same store, if any.
async fn name_conflict(bucket: &Bucket, ctx: &Context, ns: &str, name: &str) -> Result<Option<String>> {
    let all = Api::<Bucket>::namespaced(ctx.client.clone(), ns).list(&ListParams::default()).await?;
    let age = |b: &Bucket| (b.creation_timestamp().map(|t| t.0), b.name_any());
    Ok(all
        .items
        .iter()
        .filter(|other| other.name_any() != bucket.name_any())
        .filter(|other| other.spec.store == bucket.spec.store && bucket_name(other) == name)
        .filter(|other| other.metadata.deletion_timestamp.is_none())
        .filter(|other| age(other) < age(bucket))
        .map(|other| other.name_any())
        .next())
}

/// What the store confirmed of a bucket: its name, usage and versioning.
struct Seen {
    name: String,
    usage: BucketUsage,
    versioning: Option<String>,
}

/// Writes the status; `seen` (what the store confirmed) only after it confirmed the bucket, so
/// `status.bucketName` marks a bucket this resource manages.
async fn write(bucket: &Bucket, ctx: &Context, wanted: &[Want], seen: Option<Seen>) -> Result<()> {
    let current = bucket.status.clone().unwrap_or_default();
    let status = match seen {
        Some(seen) => BucketStatus {
            observed_generation: bucket.metadata.generation,
            conditions: merged_conditions(bucket, wanted),
            bucket_name: Some(seen.name),
            usage: Some(seen.usage),
            versioning: seen.versioning,
        },
        None => BucketStatus {
            observed_generation: bucket.metadata.generation,
            conditions: merged_conditions(bucket, wanted),
            ..current
        },
    };
    patch_status(ctx, bucket, bucket.status.as_ref(), &status).await
}

async fn cleanup(bucket: &Bucket, ctx: &Context, ns: &str) -> Result<Action> {
    let policy = bucket.spec.deletion_policy;
    // Only a bucket this resource created is ever deleted: one refused as a name conflict or
    // owned by another was never this resource's.
    let Some(name) = bucket.status.as_ref().and_then(|s| s.bucket_name.clone()) else {
        return Ok(Action::await_change());
    };
    if policy == DeletionPolicy::Retain {
        tracing::info!(bucket = %name,
            "Bucket deleted with deletionPolicy Retain: the bucket and its objects are kept");
        return Ok(Action::await_change());
    }
    let target = match lookup_store(ctx, ns, &bucket.spec.store).await? {
        StoreLookup::Missing => {
            tracing::info!(bucket = %name, store = %bucket.spec.store, "store is gone: nothing to delete");
            return Ok(Action::await_change());
        }
        StoreLookup::NotReady(_) => {
            return block(
                bucket,
                ctx,
                "StoreNotReady",
                format!("store {} is not ready; deletion waits", bucket.spec.store),
            )
            .await;
        }
        StoreLookup::Ready(_, target) => target,
    };
    match ctx.admin.delete_bucket(&target, &name, policy == DeletionPolicy::Delete).await {
        Ok(BucketDeleted::Deleted) => Ok(Action::await_change()),
        Ok(BucketDeleted::NotEmpty) => {
            let message = format!(
                "bucket {name} is not empty and deletionPolicy is DeleteIfEmpty; empty it, or set \
                    deletionPolicy: Delete"
            );
            block(bucket, ctx, "BucketNotEmpty", message).await
        }
        Err(error) => block(bucket, ctx, admin_reason(&error), error.to_string()).await,
    }
}

//! The `AccessKey` reconciler: a key id and secret generated once and kept in the key's Secret
//! (the record of both), written to the store with the key's grants; the finalizer
//! [`FINALIZER`] revokes the key. Changing the grants changes access, never the key.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{finalizer, Event};
use kube::ResourceExt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use crate::api::{apply_object, patch_status, secret_value};
use crate::build::access_key::{grants, is_keys_secret, secret_name, KeyRecord, ResolvedGrant, SecretTemplate};
use crate::build::Credentials;
use crate::conditions::{self, Want, READY};
use crate::context::Context;
use crate::crd::{AccessKey, AccessKeyStatus, BleepStore, Bucket, KeyDeletionPolicy};
use crate::dependent::{
    admin_reason, backoff_key, block, lookup_store, merged_conditions, refuse, Dependent, StoreLookup,
};
use crate::error::{Error, Result};
use crate::generate;
use secrecy::ExposeSecret;

pub const FINALIZER: &str = "bleepstore.io/access-key";

const RESYNC: Duration = Duration::from_secs(300);

impl Dependent for AccessKey {
    const KIND: &'static str = "AccessKey";

    fn conditions(&self) -> &[Condition] {
        self.status.as_ref().map_or(&[], |s| &s.conditions)
    }

    async fn write_conditions(&self, ctx: &Context, wanted: &[Want]) -> Result<()> {
        write(self, ctx, wanted, None).await
    }
}

pub async fn reconcile(key: Arc<AccessKey>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile("AccessKey");
    let ns = key.namespace().ok_or(Error::Invariant("AccessKey has no namespace"))?;
    let api: Api<AccessKey> = Api::namespaced(ctx.client.clone(), &ns);
    finalizer(&api, FINALIZER, key, |event| async {
        match event {
            Event::Apply(key) => apply(&key, &ctx, &ns).await,
            Event::Cleanup(key) => cleanup(&key, &ctx, &ns).await,
        }
    })
    .await
    .map_err(Error::from_finalizer)
}

/// Why a grant cannot be resolved.
type Refusal = (&'static str, String);

/// Resolves each granted Bucket resource to its S3 bucket name.
async fn resolve_grants(key: &AccessKey, ctx: &Context, ns: &str) -> Result<Result<Vec<ResolvedGrant>, Refusal>> {
    let api: Api<Bucket> = Api::namespaced(ctx.client.clone(), ns);
    let mut out = Vec::with_capacity(key.spec.buckets.len());
    for grant in &key.spec.buckets {
        let Some(bucket) = api.get_opt(&grant.bucket).await? else {
            return Ok(Err(("BucketNotFound", format!("Bucket {} not found in namespace {ns}", grant.bucket))));
        };
        if bucket.spec.store != key.spec.store {
            let message = format!("Bucket {} is in store {}, not {}", grant.bucket, bucket.spec.store, key.spec.store);
            return Ok(Err(("BucketInOtherStore", message)));
        }
        let status = bucket.status.unwrap_or_default();
        match status.bucket_name {
            Some(name) if conditions::is_true(&status.conditions, READY) => {
                out.push(ResolvedGrant { bucket_name: name, access: grant.access })
            }
            _ => return Ok(Err(("BucketNotReady", format!("Bucket {} is not ready yet", grant.bucket)))),
        }
    }
    Ok(Ok(out))
}

async fn apply(key: &AccessKey, ctx: &Context, ns: &str) -> Result<Action> {
    let (store, target) = match lookup_store(ctx, ns, &key.spec.store).await? {
        StoreLookup::Missing => {
            return refuse(
                key,
                ctx,
                "StoreNotFound",
                format!("BleepStore {} not found in namespace {ns}", key.spec.store),
            )
            .await;
        }
        StoreLookup::NotReady(_) => {
            return refuse(key, ctx, "StoreNotReady", format!("BleepStore {} is not ready yet", key.spec.store)).await;
        }
        StoreLookup::Ready(store, target) => (store, target),
    };
    let resolved = match resolve_grants(key, ctx, ns).await? {
        Ok(resolved) => resolved,
        Err((reason, message)) => return refuse(key, ctx, reason, message).await,
    };
    let name = secret_name(key);
    let secrets = Api::<Secret>::namespaced(ctx.client.clone(), ns);
    let existing = secrets.get_opt(&name).await?;
    if let Some(existing) = &existing {
        if !is_keys_secret(existing, key) {
            let message = format!(
                "Secret {name} exists and is not managed by this AccessKey; set spec.secretName to another name"
            );
            return refuse(key, ctx, "SecretConflict", message).await;
        }
    }
    let ca_bundle = ca_bundle(&store, &secrets).await?;
    let template = SecretTemplate { key, store: &store, grants: &resolved, ca_bundle: ca_bundle.as_deref() };
    let existing_credentials = match (
        secret_value(existing.as_ref(), "AWS_ACCESS_KEY_ID"),
        secret_value(existing.as_ref(), "AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(access_key), Some(secret_key)) => Some(Credentials { access_key, secret_key: secret_key.into() }),
        _ => None,
    };
    // A retained Secret from an earlier AccessKey of this name: its key is taken back as it is.
    let adopted = recorded_id(key).is_none()
        && existing_credentials.is_some()
        && existing.as_ref().is_some_and(|s| s.owner_references().is_empty());
    let wanted_rotation = key.spec.rotation.as_ref().map_or(0, |r| r.generation);
    let period = key.spec.rotation.as_ref().and_then(|r| r.period());
    let mut record = KeyRecord::from_secret(existing.as_ref());
    if period.is_some() && record.rotated_at.is_none() {
        // A schedule counts from when the key is first seen with it.
        record.rotated_at = Some(jiff::Timestamp::now());
    }
    let mut credentials = match existing_credentials {
        Some(credentials) => credentials,
        None => {
            // A lost Secret keeps the recorded key id; only the secret is new. A new key is made
            // for the rotation generation the spec asks for: nothing to rotate.
            record.rotation_generation = wanted_rotation;
            Credentials {
                access_key: recorded_id(key).unwrap_or_else(generate::access_key_id),
                secret_key: generate::secret_key().into(),
            }
        }
    };
    let stored: Result<()> = async {
        // A rotation a crash interrupted left a key in the store that no Secret holds: revoke it.
        if let Some(pending) = record.pending.take() {
            ctx.admin.delete_key(&target, &pending).await?;
            apply_object(ctx, ns, &template.secret(&credentials, &record)).await?;
        }
        if wanted_rotation > record.rotation_generation || rotation_due(period, &record) {
            let generation = wanted_rotation.max(record.rotation_generation);
            credentials = rotate(ctx, ns, &template, &target, &credentials, &mut record, generation).await?;
        }
        // The Secret is written first: it is the record of the key, so a crash after this point
        // reuses the same id instead of leaving a key in the store that nothing remembers.
        apply_object(ctx, ns, &template.secret(&credentials, &record)).await?;
        ctx.admin.put_key(&target, &credentials.access_key, credentials.secret_key.expose_secret()).await?;
        ctx.admin.put_grants(&target, &credentials.access_key, &grants(&resolved)).await?;
        // The previous key keeps the same grants until it expires, then is revoked.
        if let Some((previous, expires)) = record.previous.clone() {
            if jiff::Timestamp::now() >= expires {
                ctx.admin.delete_key(&target, &previous).await?;
                record.previous = None;
                apply_object(ctx, ns, &template.secret(&credentials, &record)).await?;
                tracing::info!(key = %previous, "previous key revoked at the end of its grace period");
            } else {
                ctx.admin.put_grants(&target, &previous, &grants(&resolved)).await?;
            }
        }
        Ok(())
    }
    .await;
    match stored {
        Ok(()) => {}
        Err(Error::Admin(error)) => {
            let want = Want::new(READY, false, admin_reason(&error), error.to_string());
            write(key, ctx, &[want], Some((credentials.access_key, &record))).await?;
            return Err(error.into());
        }
        Err(other) => return Err(other),
    }
    if adopted {
        let message = format!("took back key {} from the retained Secret {name}", credentials.access_key);
        ctx.event(key, false, "RetainedKeyAdopted", message).await;
    }
    let message =
        format!("key {} grants {} bucket(s); credentials in Secret {name}", credentials.access_key, resolved.len());
    write(key, ctx, &[Want::new(READY, true, "Granted", message)], Some((credentials.access_key, &record))).await?;
    ctx.succeeded(&backoff_key(key));
    // Come back when the previous key's grace ends, to revoke it, or the next rotation is due.
    let until = |at: jiff::Timestamp| {
        let left = at.duration_since(jiff::Timestamp::now());
        Duration::from_secs(left.as_secs().max(0) as u64 + 1)
    };
    let until_expiry = record.previous.as_ref().map(|(_, expires)| until(*expires));
    let until_rotation = next_rotation(period, &record).map(until);
    Ok(Action::requeue(until_expiry.into_iter().chain(until_rotation).fold(RESYNC, Duration::min)))
}

/// When the schedule (`rotation.every`) next rotates the key.
fn next_rotation(period: Option<Duration>, record: &KeyRecord) -> Option<jiff::Timestamp> {
    let period = jiff::SignedDuration::try_from(period?).ok()?;
    record.rotated_at?.checked_add(period).ok()
}

fn rotation_due(period: Option<Duration>, record: &KeyRecord) -> bool {
    next_rotation(period, record).is_some_and(|at| jiff::Timestamp::now() >= at)
}

/// Makes the next key: recorded as pending in the Secret, put in the store with the grants, then
/// switched in (the caller's Secret write): apps that read the new Secret find the key already
/// live, and the old one keeps working for the grace period.
async fn rotate(
    ctx: &Context,
    ns: &str,
    template: &SecretTemplate<'_>,
    target: &crate::admin::AdminTarget,
    current: &Credentials,
    record: &mut KeyRecord,
    wanted: i64,
) -> Result<Credentials> {
    // A rotation within the grace of the last one revokes that one's previous key now.
    if let Some((older, _)) = record.previous.take() {
        ctx.admin.delete_key(target, &older).await?;
    }
    let next = Credentials { access_key: generate::access_key_id(), secret_key: generate::secret_key().into() };
    record.pending = Some(next.access_key.clone());
    apply_object(ctx, ns, &template.secret(current, record)).await?;
    ctx.admin.put_key(target, &next.access_key, next.secret_key.expose_secret()).await?;
    ctx.admin.put_grants(target, &next.access_key, &grants(template.grants)).await?;
    let key = template.key;
    let grace = key.spec.rotation.as_ref().map(|r| r.grace()).unwrap_or(Duration::from_secs(3600));
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::try_from(grace).unwrap_or(jiff::SignedDuration::ZERO);
    record.pending = None;
    record.previous = Some((current.access_key.clone(), expires));
    record.rotation_generation = wanted;
    record.rotated_at = Some(jiff::Timestamp::now());
    let message = format!(
        "rotated: key {} replaces {}, which keeps working until {}",
        next.access_key,
        current.access_key,
        expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    );
    tracing::info!(new = %next.access_key, previous = %current.access_key, "key rotated");
    ctx.event(key, false, "KeyRotated", message).await;
    Ok(next)
}

fn recorded_id(key: &AccessKey) -> Option<String> {
    key.status.as_ref()?.access_key_id.clone()
}

/// Writes the status; `key_state` is the current key id and the Secret's record, when known.
async fn write(key: &AccessKey, ctx: &Context, wanted: &[Want], key_state: Option<(String, &KeyRecord)>) -> Result<()> {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    let current = key.status.clone().unwrap_or_default();
    let period = key.spec.rotation.as_ref().and_then(|r| r.period());
    let (access_key_id, rotation_generation, previous_access_key_id, previous_key_expires_at, next_rotation_at) =
        match key_state {
            Some((id, record)) => (
                Some(id),
                Some(record.rotation_generation),
                record.previous.as_ref().map(|(id, _)| id.clone()),
                record.previous.as_ref().map(|(_, t)| Time(*t)),
                next_rotation(period, record).map(Time),
            ),
            None => (
                current.access_key_id.clone(),
                current.rotation_generation,
                current.previous_access_key_id.clone(),
                current.previous_key_expires_at.clone(),
                current.next_rotation_at.clone(),
            ),
        };
    let status = AccessKeyStatus {
        observed_generation: key.metadata.generation,
        conditions: merged_conditions(key, wanted),
        access_key_id,
        secret_name: Some(secret_name(key)),
        rotation_generation,
        previous_access_key_id,
        previous_key_expires_at,
        next_rotation_at,
    };
    patch_status(ctx, key, key.status.as_ref(), &status).await
}

/// A TLS store's CA certificate, when its certificate Secret carries one (`ca.crt`).
async fn ca_bundle(store: &BleepStore, secrets: &Api<Secret>) -> Result<Option<String>> {
    let Some(tls) = &store.spec.tls else { return Ok(None) };
    let secret = secrets.get_opt(&tls.secret_name).await?;
    Ok(secret_value(secret.as_ref(), "ca.crt"))
}

async fn cleanup(key: &AccessKey, ctx: &Context, ns: &str) -> Result<Action> {
    if key.spec.deletion_policy == KeyDeletionPolicy::Retain {
        // The key stays live in the store and its Secret (which has no owner) stays with it.
        tracing::info!(key = %key.name_any(), "deletionPolicy Retain: the key and its Secret are kept");
        return Ok(Action::await_change());
    }
    // The key id is in status once written, and in the Secret from the first write on.
    let id = match recorded_id(key) {
        Some(id) => Some(id),
        None => {
            let secret = Api::<Secret>::namespaced(ctx.client.clone(), ns).get_opt(&secret_name(key)).await?;
            if secret.as_ref().is_some_and(|s| is_keys_secret(s, key)) {
                secret_value(secret.as_ref(), "AWS_ACCESS_KEY_ID")
            } else {
                None
            }
        }
    };
    let Some(id) = id else {
        return Ok(Action::await_change());
    };
    let target = match lookup_store(ctx, ns, &key.spec.store).await? {
        StoreLookup::Missing => return Ok(Action::await_change()),
        StoreLookup::NotReady(_) => {
            return block(
                key,
                ctx,
                "StoreNotReady",
                format!("store {} is not ready; revoking key {id} waits", key.spec.store),
            )
            .await;
        }
        StoreLookup::Ready(_, target) => target,
    };
    // A rotation's previous key, still in its grace period, goes too.
    let previous = key.status.as_ref().and_then(|s| s.previous_access_key_id.clone());
    for id in std::iter::once(id).chain(previous) {
        if let Err(error) = ctx.admin.delete_key(&target, &id).await {
            return block(key, ctx, admin_reason(&error), error.to_string()).await;
        }
    }
    Ok(Action::await_change())
}

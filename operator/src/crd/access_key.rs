//! `AccessKey`: an S3 credential in a store, with per-bucket grants, delivered as a Secret.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of an AccessKey.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "bleepstore.io",
    version = "v1alpha1",
    kind = "AccessKey",
    namespaced,
    status = "AccessKeyStatus",
    category = "bleepstore-all",
    printcolumn = r#"{"name":"Store","type":"string","jsonPath":".spec.store"}"#,
    printcolumn = r#"{"name":"Key","type":"string","jsonPath":".status.accessKeyId"}"#,
    printcolumn = r#"{"name":"Secret","type":"string","jsonPath":".status.secretName"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.store == oldSelf.store").message("spec.store is immutable"))]
#[x_kube(validation = Rule::new(
    "has(self.secretName) == has(oldSelf.secretName) && (!has(self.secretName) || self.secretName == \
        oldSelf.secretName)"
).message("spec.secretName is immutable"))]
#[x_kube(validation = Rule::new("self.buckets.all(a, self.buckets.exists_one(b, b.bucket == a.bucket))").message("each \
    bucket may be listed once"))]
pub struct AccessKeySpec {
    /// The BleepStore (same namespace) the key belongs to. Immutable.
    #[schemars(length(min = 1, max = 253))]
    pub store: String,
    /// What the key may do, per Bucket resource (same namespace).
    #[serde(default)]
    #[schemars(length(max = 256))]
    pub buckets: Vec<BucketGrant>,
    /// The Secret to write the credentials to. Default: the resource's name. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        regex(pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"),
        length(min = 1, max = 253)
    )]
    pub secret_name: Option<String>,
    /// Key rotation: raise `rotation.generation` to replace the key without downtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<Rotation>,
    /// What deleting this resource does to the key: `Delete` (default) revokes it, and its
    /// Secret goes with the resource; `Retain` leaves the key live in the store and keeps the
    /// Secret, which an AccessKey of the same name and store applied later takes back, key and
    /// all (a GitOps re-create, a restore).
    #[serde(default)]
    pub deletion_policy: KeyDeletionPolicy,
}

/// What deleting an AccessKey resource does to the key.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KeyDeletionPolicy {
    #[default]
    Delete,
    Retain,
}

/// Rotating a key: a new key is made and put in the Secret; the previous one keeps working for
/// `gracePeriod` (so apps can pick up the new Secret), then is revoked. A rotation happens when
/// `generation` is raised, and, with `every`, when that long has passed since the last one.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Rotation {
    /// Raise it to rotate (to any value above the last one rotated for, `status.rotationGeneration`).
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub generation: i64,
    /// Also rotate on a schedule: a number and `h` or `d` (`720h`, `90d`), at least `1h`; the
    /// period counts from the last rotation (or from when the key was first seen with it).
    /// Keep `gracePeriod` shorter: a rotation within the grace of the last one revokes that
    /// one's previous key at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^[0-9]{1,5}(h|d)$"))]
    pub every: Option<String>,
    /// How long the previous key keeps working after a rotation: a number and `s`, `m` or `h`
    /// (`90s`, `30m`, `24h`); longer than a week counts as a week. Default `1h`.
    #[serde(default = "default_grace_period")]
    #[schemars(regex(pattern = "^[0-9]{1,6}(s|m|h)$"))]
    pub grace_period: String,
}

fn default_grace_period() -> String {
    "1h".to_owned()
}

impl Rotation {
    /// The grace period as a duration, at most a week (the schema guarantees its form).
    pub fn grace(&self) -> std::time::Duration {
        let (number, unit) = self.grace_period.split_at(self.grace_period.len().saturating_sub(1));
        let n: u64 = number.parse().unwrap_or(3600);
        let secs = match unit {
            "h" => n * 3600,
            "m" => n * 60,
            _ => n,
        };
        std::time::Duration::from_secs(secs.min(7 * 24 * 3600))
    }

    /// The scheduled rotation period, at least an hour (the schema guarantees its form).
    pub fn period(&self) -> Option<std::time::Duration> {
        let every = self.every.as_deref()?;
        let (number, unit) = every.split_at(every.len().saturating_sub(1));
        let n: u64 = number.parse().ok()?;
        let hours = if unit == "d" { n.saturating_mul(24) } else { n };
        Some(std::time::Duration::from_secs(hours.max(1).saturating_mul(3600)))
    }
}

/// Access to one bucket.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BucketGrant {
    /// The name of a Bucket resource in the same namespace.
    #[schemars(length(min = 1, max = 253))]
    pub bucket: String,
    /// `ReadWrite`, `ReadOnly` or `WriteOnly`.
    pub access: BucketAccess,
}

/// The access a key has to a bucket.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketAccess {
    ReadWrite,
    ReadOnly,
    WriteOnly,
}

impl BucketAccess {
    /// The admin API's name for the access (`/admin/v1/keys/{id}/grants`).
    pub fn admin_name(self) -> &'static str {
        match self {
            Self::ReadWrite => "readwrite",
            Self::ReadOnly => "read",
            Self::WriteOnly => "write",
        }
    }
}

/// Observed state of an AccessKey, written only by the operator. Never holds the secret.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct AccessKeyStatus {
    /// The generation the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, kstatus's `Reconciling` and `Stalled`, and `DeletionBlocked`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The access key id (public; the secret is only in the Secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// The Secret holding the credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// The `rotation.generation` the current key was made for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_generation: Option<i64>,
    /// After a rotation: the previous key, still working until `previousKeyExpiresAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_access_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_key_expires_at: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    /// With `rotation.every`: when the key is next rotated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_rotation_at: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
}

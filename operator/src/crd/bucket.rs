//! `Bucket`: one S3 bucket in a store, created through the store's admin API.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of a Bucket.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "bleepstore.io",
    version = "v1alpha1",
    kind = "Bucket",
    namespaced,
    status = "BucketStatus",
    category = "bleepstore-all",
    printcolumn = r#"{"name":"Store","type":"string","jsonPath":".spec.store"}"#,
    printcolumn = r#"{"name":"Bucket","type":"string","jsonPath":".status.bucketName"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Objects","type":"integer","jsonPath":".status.usage.objects"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = Rule::new("has(self.spec.bucketName) || \
        self.metadata.name.matches('^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$')").message("metadata.name is not a valid S3 bucket name (3-63 lowercase letters, digits, '.' and '-'); set spec.bucketName")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.store == oldSelf.store").message("spec.store is immutable"))]
#[x_kube(validation = Rule::new(
    "!has(oldSelf.versioning) || oldSelf.versioning != 'Enabled' || has(self.versioning)"
).message("spec.versioning cannot be removed once Enabled (an S3 bucket never returns to unversioned); set Suspended"))]
#[x_kube(validation = Rule::new(
    "has(self.bucketName) == has(oldSelf.bucketName) && (!has(self.bucketName) || self.bucketName == \
        oldSelf.bucketName)"
).message("spec.bucketName is immutable"))]
pub struct BucketSpec {
    /// The BleepStore (same namespace) the bucket lives in. Immutable.
    #[schemars(length(min = 1, max = 253))]
    pub store: String,
    /// The S3 bucket name. Default: the resource's name. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"))]
    #[x_kube(validation = Rule::new("!self.contains('..') && !self.contains('.-') && \
        !self.contains('-.')").message("bucket names must not contain '..', '.-' or '-.'"))]
    #[x_kube(validation = Rule::new("!self.matches('^[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+$')").message("bucket names must \
        not be formatted as an IP address"))]
    pub bucket_name: Option<String>,
    /// What deleting this resource does to the bucket: `Retain` (default) keeps it and its
    /// objects, `DeleteIfEmpty` deletes it only when it holds nothing, `Delete` deletes it with
    /// every object in it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// The bucket's canned ACL.
    #[serde(default)]
    pub acl: CannedAcl,
    /// S3 versioning: `Enabled` keeps every version of every object, `Suspended` stops making
    /// new ones (earlier versions stay). Absent leaves the bucket unversioned. Once `Enabled` it
    /// cannot be removed, as an S3 bucket never returns to unversioned: set `Suspended`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<Versioning>,
    /// The bucket's S3 tags, key to value: at most 50; keys of 1 to 128 and values of up to 256
    /// characters, letters, digits, spaces and `+ - = . _ : / @`; no key starting `aws:`.
    /// Absent leaves the bucket's tags as they are; `{}` removes them. Tags changed outside
    /// this resource are put back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 50))]
    #[x_kube(validation = Rule::new("self.all(k, k.size() >= 1 && k.size() <= 128 && !k.startsWith('aws:'))")
        .message("tag keys are 1 to 128 characters and may not start with aws:"))]
    pub tags: Option<std::collections::BTreeMap<String, TagValue>>,
}

/// A tag value: up to 256 letters, digits, spaces and `+ - = . _ : / @`. The schema refuses
/// control characters and the other ASCII punctuation (a pattern every validator reads, without
/// Unicode classes); the store refuses the rest (`Ready=False InvalidTags`).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(transparent)]
pub struct TagValue(
    #[schemars(length(max = 256), regex(pattern = r##"^[^\x00-\x1F\x7F!"#$%&'()*,;<>?\[\\\]^`{|}~]*$"##))] pub String,
);

/// A bucket's S3 versioning state.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versioning {
    Enabled,
    Suspended,
}

impl Versioning {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "Enabled",
            Self::Suspended => "Suspended",
        }
    }
}

/// What deleting a Bucket resource does to the bucket.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeletionPolicy {
    #[default]
    Retain,
    DeleteIfEmpty,
    Delete,
}

/// The canned ACLs a bucket may carry.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CannedAcl {
    #[default]
    #[serde(rename = "private")]
    Private,
    #[serde(rename = "public-read")]
    PublicRead,
    #[serde(rename = "public-read-write")]
    PublicReadWrite,
    #[serde(rename = "authenticated-read")]
    AuthenticatedRead,
}

impl CannedAcl {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::PublicRead => "public-read",
            Self::PublicReadWrite => "public-read-write",
            Self::AuthenticatedRead => "authenticated-read",
        }
    }
}

/// Observed state of a Bucket, written only by the operator.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct BucketStatus {
    /// The generation the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, kstatus's `Reconciling` and `Stalled`, and `DeletionBlocked`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The S3 bucket name in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<String>,
    /// Objects (every version counted) and bytes in the bucket when last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<BucketUsage>,
    /// The bucket's versioning as the store reports it: `Enabled`, `Suspended`, or absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<String>,
}

/// A bucket's usage.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct BucketUsage {
    pub objects: i64,
    pub bytes: i64,
}

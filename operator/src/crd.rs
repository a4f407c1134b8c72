//! The custom resource types (`bleepstore.io/v1alpha1`): `BleepStore`, `Bucket` and
//! `AccessKey`. The CRD YAML under `crds/` is generated from these types by `crdgen`; the
//! schema's CEL rules (immutable fields, storage that may only grow) live here beside the fields
//! they guard. Nothing here talks to a cluster.

// kube's `KubeSchema` derive emits a private copy of each struct it derives for; the
// `unreachable_pub` lint reports that copy, although the type itself is re-exported below.
#[allow(unreachable_pub)]
mod access_key;
#[allow(unreachable_pub)]
mod bucket;
#[allow(unreachable_pub)]
mod store;

pub use access_key::{AccessKey, AccessKeySpec, AccessKeyStatus, BucketAccess, BucketGrant, KeyDeletionPolicy};
pub use bucket::{Bucket, BucketSpec, BucketStatus, BucketUsage, CannedAcl, DeletionPolicy, TagValue, Versioning};
pub use store::{
    AzureBackend, Backend, BackendType, BleepStore, BleepStoreSpec, BleepStoreStatus, LogFormat,
    PodDisruptionBudgetSpec, Ports, S3Backend, SecretRef, ServiceSpec, ServiceType, Storage, TlsSpec, VolumeStatus,
};

/// The API group of every resource here.
pub const GROUP: &str = "bleepstore.io";

/// Every CRD, in the order `crdgen` prints them.
pub fn all() -> Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> {
    use kube::CustomResourceExt;
    vec![BleepStore::crd(), Bucket::crd(), AccessKey::crd()]
}

/// The YAML `crdgen` prints and `crds/` holds: one document per CRD, each under a `---`.
pub fn all_yaml() -> String {
    let mut out = String::new();
    for crd in all() {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&crd).expect("a CRD serializes to YAML"));
    }
    out
}

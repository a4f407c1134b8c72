//! What an `AccessKey` becomes: the Secret applications read, and the grants sent to the store.

use secrecy::ExposeSecret;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;
use kube::ResourceExt;

use super::{labels, Credentials};
use crate::admin::Grant;
use crate::crd::{AccessKey, BleepStore, BucketAccess, KeyDeletionPolicy};

/// One resolved grant: the S3 bucket name (from the Bucket resource's status) and the access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedGrant {
    pub bucket_name: String,
    pub access: BucketAccess,
}

/// The name of the Secret an AccessKey writes.
pub fn secret_name(key: &AccessKey) -> String {
    key.spec.secret_name.clone().unwrap_or_else(|| key.name_any())
}

/// Annotations of the key's Secret that record rotations (the Secret is the record of the key:
/// one write switches the credentials and records what follows from it).
pub const ROTATION_GENERATION: &str = "bleepstore.io/rotation-generation";
pub const PREVIOUS_KEY: &str = "bleepstore.io/previous-access-key-id";
pub const PREVIOUS_KEY_EXPIRES: &str = "bleepstore.io/previous-key-expires-at";
/// A key put in the store for a rotation not yet finished: a crash leaves it here, to revoke.
pub const PENDING_KEY: &str = "bleepstore.io/pending-access-key-id";
/// When the current key was made by a rotation (or first seen with a rotation schedule).
pub const ROTATED_AT: &str = "bleepstore.io/rotated-at";
/// A digest of the credentials, so tools such as Reloader (and people) see they changed.
pub const CREDENTIALS_HASH: &str = "bleepstore.io/credentials-hash";

/// What the Secret's annotations record besides the current credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRecord {
    /// The `spec.rotation.generation` the current key was made for.
    pub rotation_generation: i64,
    /// The key the last rotation replaced, and when it stops working.
    pub previous: Option<(String, jiff::Timestamp)>,
    /// A new key put in the store by a rotation that has not switched the Secret yet.
    pub pending: Option<String>,
    /// When the current key was made by a rotation, or first seen with a rotation schedule:
    /// where `rotation.every` counts from.
    pub rotated_at: Option<jiff::Timestamp>,
}

impl KeyRecord {
    /// Read back from the Secret's annotations (absent or unreadable ones mean nothing).
    pub fn from_secret(secret: Option<&Secret>) -> Self {
        let annotations = secret.and_then(|s| s.metadata.annotations.as_ref());
        let get = |key: &str| annotations.and_then(|a| a.get(key)).cloned();
        let previous = match (get(PREVIOUS_KEY), get(PREVIOUS_KEY_EXPIRES).and_then(|t| t.parse().ok())) {
            (Some(id), Some(expires)) => Some((id, expires)),
            _ => None,
        };
        Self {
            rotation_generation: get(ROTATION_GENERATION).and_then(|g| g.parse().ok()).unwrap_or(0),
            previous,
            pending: get(PENDING_KEY),
            rotated_at: get(ROTATED_AT).and_then(|t| t.parse().ok()),
        }
    }

    fn annotations(&self, credentials: &Credentials) -> BTreeMap<String, String> {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(
            format!("{}:{}", credentials.access_key, credentials.secret_key.expose_secret()).as_bytes(),
        );
        let mut out = BTreeMap::from([
            (ROTATION_GENERATION.to_owned(), self.rotation_generation.to_string()),
            (CREDENTIALS_HASH.to_owned(), hex::encode(&digest[..8])),
        ]);
        if let Some((id, expires)) = &self.previous {
            out.insert(PREVIOUS_KEY.to_owned(), id.clone());
            out.insert(PREVIOUS_KEY_EXPIRES.to_owned(), expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
        }
        if let Some(id) = &self.pending {
            out.insert(PENDING_KEY.to_owned(), id.clone());
        }
        if let Some(at) = &self.rotated_at {
            out.insert(ROTATED_AT.to_owned(), at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
        }
        out
    }
}

/// The key of the Secret holding an AWS shared-config file, for SDKs that take path-style
/// addressing only from one (mount it and point `AWS_CONFIG_FILE` at it).
pub const AWS_CONFIG_KEY: &str = "aws-config";
/// The rclone remote the Secret's `RCLONE_CONFIG_<REMOTE>_*` variables define.
pub const RCLONE_REMOTE: &str = "BLEEPSTORE";

/// An AWS shared-config file: the region, the endpoint and path-style addressing (a store is
/// reached by a Service name, with no wildcard DNS for virtual-hosted buckets).
fn aws_config(region: &str, endpoint: &str) -> String {
    format!("[default]\nregion = {region}\nendpoint_url = {endpoint}\ns3 =\n    addressing_style = path\n")
}

/// Where apps find a TLS store's CA certificate when they mount the key's Secret as the docs say
/// (at `/etc/bleepstore`): `AWS_CA_BUNDLE` and `RCLONE_CA_CERT` name this file.
pub const CA_BUNDLE_KEY: &str = "ca.crt";
pub const CA_BUNDLE_PATH: &str = "/etc/bleepstore/ca.crt";

/// The annotation of a Secret kept when its AccessKey is deleted (`deletionPolicy: Retain`).
pub const RETAINED: &str = "bleepstore.io/retained";

/// Everything a key's Secret says besides the credentials and their record.
#[derive(Debug, Clone, Copy)]
pub struct SecretTemplate<'a> {
    pub key: &'a AccessKey,
    pub store: &'a BleepStore,
    pub grants: &'a [ResolvedGrant],
    /// The store's CA certificate (PEM): a TLS store whose certificate Secret has a `ca.crt`
    /// (a private CA; a publicly trusted certificate has none and needs none).
    pub ca_bundle: Option<&'a str>,
}

impl SecretTemplate<'_> {
    /// The Secret holding a key's credentials for apps to read with `envFrom`, in every form the
    /// common clients take without code: the AWS SDKs' variables (`AWS_REGION` for most,
    /// `AWS_DEFAULT_REGION` for boto3 and the AWS CLI), an rclone remote `bleepstore:` from its
    /// `RCLONE_CONFIG_BLEEPSTORE_*` variables, an AWS shared-config file (`aws-config`) for the
    /// SDKs that set path-style addressing only there, and for a TLS store with a private CA the
    /// CA (`ca.crt`, named by `AWS_CA_BUNDLE` and `RCLONE_CA_CERT`). `BUCKET_NAME` is set when the
    /// key grants exactly one bucket. Owned by the AccessKey, unless it is to be retained.
    pub fn secret(&self, credentials: &Credentials, record: &KeyRecord) -> Secret {
        let (key, store) = (self.key, self.store);
        let endpoint = super::names::endpoint(store);
        let region = store.spec.region.clone();
        let secret_key = credentials.secret_key.expose_secret().to_owned();
        let rclone = |field: &str| format!("RCLONE_CONFIG_{RCLONE_REMOTE}_{field}");
        let mut data: BTreeMap<String, String> = BTreeMap::from([
            ("AWS_ACCESS_KEY_ID".to_owned(), credentials.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), secret_key.clone()),
            ("AWS_ENDPOINT_URL".to_owned(), endpoint.clone()),
            ("AWS_ENDPOINT_URL_S3".to_owned(), endpoint.clone()),
            ("AWS_REGION".to_owned(), region.clone()),
            ("AWS_DEFAULT_REGION".to_owned(), region.clone()),
            (AWS_CONFIG_KEY.to_owned(), aws_config(&region, &endpoint)),
            (rclone("TYPE"), "s3".to_owned()),
            (rclone("PROVIDER"), "Other".to_owned()),
            (rclone("ENDPOINT"), endpoint),
            (rclone("REGION"), region),
            (rclone("ACCESS_KEY_ID"), credentials.access_key.clone()),
            (rclone("SECRET_ACCESS_KEY"), secret_key),
            (rclone("FORCE_PATH_STYLE"), "true".to_owned()),
        ]);
        if let [only] = self.grants {
            data.insert("BUCKET_NAME".to_owned(), only.bucket_name.clone());
        }
        if let Some(ca) = self.ca_bundle {
            data.insert(CA_BUNDLE_KEY.to_owned(), ca.to_owned());
            data.insert("AWS_CA_BUNDLE".to_owned(), CA_BUNDLE_PATH.to_owned());
            data.insert("RCLONE_CA_CERT".to_owned(), CA_BUNDLE_PATH.to_owned());
        }
        let labels = BTreeMap::from([
            ("app.kubernetes.io/managed-by".to_owned(), labels::MANAGED_BY.to_owned()),
            ("bleepstore.io/access-key".to_owned(), key.name_any()),
            ("bleepstore.io/store".to_owned(), store.name_any()),
        ]);
        let mut annotations = record.annotations(credentials);
        let retained = key.spec.deletion_policy == KeyDeletionPolicy::Retain;
        if retained {
            let why = "kept when the AccessKey is deleted (deletionPolicy: Retain); an AccessKey of the same name \
                       takes it back";
            annotations.insert(RETAINED.to_owned(), why.to_owned());
        }
        Secret {
            metadata: ObjectMeta {
                name: Some(secret_name(key)),
                namespace: key.namespace(),
                labels: Some(labels),
                annotations: Some(annotations),
                // A retained Secret has no owner: the garbage collector (also in a foreground
                // deletion, which removes dependents first) leaves it.
                owner_references: (!retained).then(|| vec![labels::owner_reference(key)]),
                ..Default::default()
            },
            type_: Some("Opaque".to_owned()),
            data: Some(data.into_iter().map(|(k, v)| (k, ByteString(v.into_bytes()))).collect()),
            ..Default::default()
        }
    }
}

/// Whether `secret` is this key's to use: owned by it, or written by an earlier AccessKey of the
/// same name and store with `deletionPolicy: Retain` (no owner, our labels and annotation).
pub fn is_keys_secret(secret: &Secret, key: &AccessKey) -> bool {
    let owned = secret.owner_references().iter().any(|o| Some(&o.uid) == key.uid().as_ref());
    let label = |name: &str| secret.labels().get(name).map(String::as_str);
    let retained = secret.owner_references().is_empty()
        && secret.annotations().contains_key(RETAINED)
        && label("app.kubernetes.io/managed-by") == Some(labels::MANAGED_BY)
        && label("bleepstore.io/access-key") == Some(key.name_any().as_str())
        && label("bleepstore.io/store") == Some(key.spec.store.as_str());
    owned || retained
}

/// The admin API's grant list for a key.
pub fn grants(resolved: &[ResolvedGrant]) -> Vec<Grant> {
    resolved.iter().map(|g| Grant { bucket: g.bucket_name.clone(), access: g.access.admin_name().to_owned() }).collect()
}

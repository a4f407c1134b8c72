//! What an `AccessKey` becomes: the Secret applications read, and the grants sent to the store.

use secrecy::ExposeSecret;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;
use kube::ResourceExt;

use super::{labels, Credentials};
use crate::admin::Grant;
use crate::crd::{AccessKey, BleepStore, BucketAccess};

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

/// The Secret holding a key's credentials as the AWS SDKs' environment variables, so an app can
/// use it with `envFrom`. `BUCKET_NAME` is set when the key grants exactly one bucket.
pub fn secret(key: &AccessKey, store: &BleepStore, credentials: &Credentials, grants: &[ResolvedGrant]) -> Secret {
    let endpoint = super::names::endpoint(store);
    let mut data = BTreeMap::from([
        ("AWS_ACCESS_KEY_ID", credentials.access_key.clone()),
        ("AWS_SECRET_ACCESS_KEY", credentials.secret_key.expose_secret().to_owned()),
        ("AWS_ENDPOINT_URL", endpoint.clone()),
        ("AWS_ENDPOINT_URL_S3", endpoint),
        ("AWS_REGION", store.spec.region.clone()),
    ]);
    if let [only] = grants {
        data.insert("BUCKET_NAME", only.bucket_name.clone());
    }
    let mut labels = BTreeMap::from([
        ("app.kubernetes.io/managed-by".to_owned(), labels::MANAGED_BY.to_owned()),
        ("bleepstore.io/access-key".to_owned(), key.name_any()),
    ]);
    labels.insert("bleepstore.io/store".to_owned(), store.name_any());
    Secret {
        metadata: ObjectMeta {
            name: Some(secret_name(key)),
            namespace: key.namespace(),
            labels: Some(labels),
            owner_references: Some(vec![labels::owner_reference(key)]),
            ..Default::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(data.into_iter().map(|(k, v)| (k.to_owned(), ByteString(v.into_bytes()))).collect()),
        ..Default::default()
    }
}

/// The admin API's grant list for a key.
pub fn grants(resolved: &[ResolvedGrant]) -> Vec<Grant> {
    resolved.iter().map(|g| Grant { bucket: g.bucket_name.clone(), access: g.access.admin_name().to_owned() }).collect()
}

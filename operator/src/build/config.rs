//! The ConfigMap holding the `bleepstore` server's configuration file.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{labels, names};
use crate::crd::{BackendType, BleepStore};

/// The ConfigMap key (and file name) of the configuration.
pub const CONFIG_KEY: &str = "config.yaml";

/// Where the data volume is mounted in the pod.
pub(super) const DATA_DIR: &str = "/data";
/// Where the TLS Secret is mounted in the pod.
pub(super) const TLS_DIR: &str = "/etc/bleepstore/tls";

/// The server's configuration file (see `specs/config.md`). Secrets are not in it: the root
/// credential and admin token reach the server as environment variables from Secrets.
#[derive(Serialize)]
struct ServerConfig<'a> {
    listen: String,
    data_dir: &'static str,
    region: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    virtual_host_domains: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<TlsConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backend: Option<BackendConfig<'a>>,
    management: ManagementConfig,
    log: LogConfig,
}

#[derive(Serialize)]
struct TlsConfig {
    cert_file: String,
    key_file: String,
}

/// A remote S3 backend; its keys reach the server as `AWS_ACCESS_KEY_ID` /
/// `AWS_SECRET_ACCESS_KEY` from the user's Secret (the standard AWS chain).
#[derive(Serialize)]
struct BackendConfig<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    s3: Option<S3Config<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    azure: Option<AzureConfig<'a>>,
}

/// An Azure container; the key or SAS token reach the server as `AZURE_STORAGE_KEY` /
/// `AZURE_STORAGE_SAS_TOKEN` from the user's Secret.
#[derive(Serialize)]
struct AzureConfig<'a> {
    account: &'a str,
    container: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<&'a str>,
}

#[derive(Serialize)]
struct S3Config<'a> {
    bucket: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<&'a str>,
    force_path_style: bool,
}

#[derive(Serialize)]
struct ManagementConfig {
    listen: String,
}

#[derive(Serialize)]
struct LogConfig {
    format: &'static str,
}

/// The configuration file's text for `store` (with `backend`, its remote's credentials).
pub fn render_config(store: &BleepStore, backend: Option<&super::BackendCredentials>) -> String {
    let spec = &store.spec;
    let config = ServerConfig {
        listen: format!("0.0.0.0:{}", spec.ports.s3),
        data_dir: DATA_DIR,
        region: &spec.region,
        virtual_host_domains: &spec.virtual_host_domains,
        tls: spec
            .tls
            .as_ref()
            .map(|_| TlsConfig { cert_file: format!("{TLS_DIR}/tls.crt"), key_file: format!("{TLS_DIR}/tls.key") }),
        backend: backend_config(store, backend),
        management: ManagementConfig { listen: format!("0.0.0.0:{}", spec.ports.management) },
        log: LogConfig { format: spec.log_format.as_str() },
    };
    serde_yaml::to_string(&config).expect("the server config serializes")
}

fn backend_config<'a>(
    store: &'a BleepStore,
    backend: Option<&'a super::BackendCredentials>,
) -> Option<BackendConfig<'a>> {
    let spec = &store.spec.backend;
    match (spec.type_, &spec.s3, &spec.azure, backend) {
        (BackendType::S3, Some(s3), _, _) => Some(BackendConfig {
            kind: "s3",
            s3: Some(S3Config {
                bucket: &s3.bucket,
                prefix: s3.prefix.as_deref(),
                region: s3.region.as_deref(),
                endpoint: s3.endpoint.as_deref(),
                force_path_style: s3.force_path_style,
            }),
            azure: None,
        }),
        (BackendType::Azure, _, Some(az), Some(super::BackendCredentials::Azure { account, .. })) => {
            Some(BackendConfig {
                kind: "azure",
                s3: None,
                azure: Some(AzureConfig {
                    account,
                    container: &az.container,
                    prefix: az.prefix.as_deref(),
                    endpoint: az.endpoint.as_deref(),
                }),
            })
        }
        _ => None,
    }
}

pub(super) fn config_map(store: &BleepStore, backend: Option<&super::BackendCredentials>) -> ConfigMap {
    ConfigMap {
        metadata: labels::metadata(store, names::config_map(store)),
        data: Some(BTreeMap::from([(CONFIG_KEY.to_owned(), render_config(store, backend))])),
        ..Default::default()
    }
}

/// A digest of what the server reads only at start — the ConfigMap's data and the credentials
/// it gets from Secrets — put on the pod template so a change rolls the pods. The digest does
/// not reveal the credentials (SHA-256 over them and the whole configuration).
pub(super) fn pod_hash(
    config_map: &ConfigMap,
    kept: &super::KeptSecrets,
    backend: Option<&super::BackendCredentials>,
    tls_certificate: Option<&str>,
) -> String {
    use secrecy::ExposeSecret;
    let mut hasher = Sha256::new();
    let root = &kept.root;
    for secret in [root.access_key.as_str(), root.secret_key.expose_secret(), kept.admin_token.expose_secret()] {
        hasher.update(secret.as_bytes());
        hasher.update([0]);
    }
    // Only stores with a remote backend hash its keys, so other stores' hashes (and pods) stay.
    for secret in backend.iter().flat_map(|b| b.hashed()) {
        hasher.update(secret.as_bytes());
        hasher.update([0]);
    }
    // Likewise only TLS stores hash their certificate.
    if let Some(fingerprint) = tls_certificate {
        hasher.update(fingerprint.as_bytes());
        hasher.update([0]);
    }
    for (key, value) in config_map.data.iter().flatten() {
        hasher.update(key.as_bytes());
        hasher.update([0]);
        hasher.update(value.as_bytes());
        hasher.update([0]);
    }
    hex::encode(&hasher.finalize()[..16])
}

//! The ConfigMap holding the `bleepstore` server's configuration file.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{labels, names};
use crate::crd::BleepStore;

/// The ConfigMap key (and file name) of the configuration.
pub const CONFIG_KEY: &str = "config.yaml";

/// Where the data volume is mounted in the pod.
pub const DATA_DIR: &str = "/data";
/// Where the TLS Secret is mounted in the pod.
pub const TLS_DIR: &str = "/etc/bleepstore/tls";

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
    management: ManagementConfig,
    log: LogConfig,
}

#[derive(Serialize)]
struct TlsConfig {
    cert_file: String,
    key_file: String,
}

#[derive(Serialize)]
struct ManagementConfig {
    listen: String,
}

#[derive(Serialize)]
struct LogConfig {
    format: &'static str,
}

/// The configuration file's text for `store`.
pub fn render_config(store: &BleepStore) -> String {
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
        management: ManagementConfig { listen: format!("0.0.0.0:{}", spec.ports.management) },
        log: LogConfig { format: spec.log_format.as_str() },
    };
    serde_yaml::to_string(&config).expect("the server config serializes")
}

pub fn config_map(store: &BleepStore) -> ConfigMap {
    ConfigMap {
        metadata: labels::metadata(store, names::config_map(store)),
        data: Some(BTreeMap::from([(CONFIG_KEY.to_owned(), render_config(store))])),
        ..Default::default()
    }
}

/// A digest of what the server reads only at start — the ConfigMap's data and the credentials
/// it gets from Secrets — put on the pod template so a change rolls the pods. The digest does
/// not reveal the credentials (SHA-256 over them and the whole configuration).
pub fn pod_hash(config_map: &ConfigMap, root: &super::Credentials, admin_token: &str) -> String {
    let mut hasher = Sha256::new();
    for secret in [root.access_key.as_str(), root.secret_key.as_str(), admin_token] {
        hasher.update(secret.as_bytes());
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

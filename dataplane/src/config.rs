//! The server configuration: defaults, the YAML file (serde_yaml), command-line overrides, and
//! validation. Every error names the field at fault. Loading config must not touch the data dir.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// The whole configuration, as read from YAML (every field optional there).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address of the S3 listener.
    pub listen: SocketAddr,
    /// Directory holding `meta.db`, blobs and temp files.
    pub data_dir: PathBuf,
    /// The region this store answers as (`LocationConstraint`, SigV4 scope).
    pub region: String,
    /// Base domains for virtual-hosted-style requests: `bucket.<domain>`.
    pub virtual_host_domains: Vec<String>,
    /// The root credential; when absent, taken from the environment or generated.
    pub root_credentials: Option<RootCredentials>,
    /// Serve HTTPS on the S3 port with this certificate; plain HTTP when absent.
    pub tls: Option<TlsConfig>,
    pub limits: Limits,
    pub storage: StorageConfig,
    pub backend: BackendConfig,
    pub multipart: MultipartConfig,
    pub management: ManagementConfig,
    pub log: LogConfig,
}

/// The management port: probes, metrics, OpenAPI, docs and the admin API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManagementConfig {
    pub listen: SocketAddr,
    /// Bearer token for `/admin/v1`; also from `BLEEPSTORE_ADMIN_TOKEN`. Without one the admin
    /// API refuses every call.
    pub admin_token: Option<String>,
}

impl Default for ManagementConfig {
    fn default() -> Self {
        Self { listen: SocketAddr::from(([127, 0, 0, 1], 9001)), admin_token: None }
    }
}

/// Where object bytes are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Objects up to this many bytes are stored in the metadata database, committed with their
    /// row (no blob file, no second fsync); 0 stores every object as a blob.
    pub inline_max_size: u64,
}

/// The largest `storage.inline_max_size` accepted: SQLite is quicker than files for small
/// values, not for large ones.
pub const INLINE_MAX_SIZE_CEILING: u64 = 256 * 1024;

impl Default for StorageConfig {
    fn default() -> Self {
        Self { inline_max_size: 32 * 1024 }
    }
}

/// Where blobs (objects over `storage.inline_max_size`) are kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackendConfig {
    #[serde(rename = "type")]
    pub kind: BackendKind,
    /// For `type: s3`.
    pub s3: Option<S3BackendConfig>,
    /// For `type: azure`.
    pub azure: Option<AzureBackendConfig>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Files under `data_dir/blobs`.
    #[default]
    Local,
    /// Objects in a remote S3 (or S3-compatible) bucket.
    S3,
    /// Blobs in an Azure Blob Storage container.
    Azure,
}

/// An Azure Blob container (it must exist). Authenticated with a SAS token, or with the
/// account key (the store then signs its own short-lived account SAS); either may come from
/// the environment (`AZURE_STORAGE_SAS_TOKEN`, `AZURE_STORAGE_KEY`) instead. The key and the SAS
/// never print (`secrecy`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureBackendConfig {
    pub account: String,
    pub container: String,
    /// Prepended to every blob name; must belong to this store alone.
    #[serde(default)]
    pub prefix: String,
    /// Default `https://<account>.blob.core.windows.net`; e.g. `http://127.0.0.1:10000/<account>`
    /// for Azurite.
    pub endpoint: Option<String>,
    /// Blobs larger than this are uploaded as staged blocks of this size (also the most memory
    /// one blob write holds); 1 MiB to 4000 MiB.
    #[serde(default = "default_part_size")]
    pub block_size: u64,
    pub account_key: Option<SecretString>,
    pub sas_token: Option<SecretString>,
}

/// A remote S3 bucket. Credentials not given here come from the standard AWS chain
/// (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, profiles, web identity, instance metadata).
/// The secret never prints (`secrecy`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3BackendConfig {
    pub bucket: String,
    /// Prepended to every blob key; must belong to this store alone.
    #[serde(default)]
    pub prefix: String,
    pub region: Option<String>,
    /// An S3-compatible endpoint instead of AWS, e.g. `http://minio:9000`.
    pub endpoint: Option<String>,
    #[serde(default)]
    pub force_path_style: bool,
    /// Blobs larger than this go up as multipart uploads of parts this size (also the most
    /// memory one blob write holds); 5 MiB to 5 GiB.
    #[serde(default = "default_part_size")]
    pub part_size: u64,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
}

fn default_part_size() -> u64 {
    8 * 1024 * 1024
}

/// Lifetime of unfinished multipart uploads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MultipartConfig {
    /// Uploads older than this are aborted by the reaper (S3's usual lifecycle rule: 7 days).
    pub expiry_secs: u64,
    /// How often the reaper runs (it also runs at start-up).
    pub reap_interval_secs: u64,
}

impl Default for MultipartConfig {
    fn default() -> Self {
        Self { expiry_secs: 7 * 24 * 3600, reap_interval_secs: 3600 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain (leaf first).
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootCredentials {
    pub access_key: String,
    pub secret_key: String,
}

/// Resource bounds that keep a slow or hostile client from exhausting the server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Open client connections; further connections wait in the accept backlog.
    pub max_connections: usize,
    /// Requests handled at once; further requests wait (backpressure).
    pub max_inflight_requests: usize,
    /// A request body that sends nothing for this long gets `RequestTimeout`.
    pub body_idle_timeout_secs: u64,
    /// A client must finish sending request headers within this time.
    pub header_read_timeout_secs: u64,
    /// The largest object a single PUT may carry (S3: 5 GiB).
    pub max_object_size: u64,
    /// The largest XML request body (DeleteObjects, CreateBucket, …).
    pub max_xml_body: usize,
    /// After SIGTERM, how long in-flight requests may finish before the process exits.
    pub drain_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter directive, e.g. `info` or `bleepstore=debug`.
    pub level: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9000)),
            data_dir: PathBuf::from("./data"),
            region: "us-east-1".to_owned(),
            virtual_host_domains: vec!["localhost".to_owned()],
            root_credentials: None,
            tls: None,
            limits: Limits::default(),
            storage: StorageConfig::default(),
            backend: BackendConfig::default(),
            multipart: MultipartConfig::default(),
            management: ManagementConfig::default(),
            log: LogConfig::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_inflight_requests: 512,
            body_idle_timeout_secs: 30,
            header_read_timeout_secs: 15,
            max_object_size: 5 * 1024 * 1024 * 1024,
            max_xml_body: 2 * 1024 * 1024,
            drain_secs: 20,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: LogFormat::Text, level: "info".to_owned() }
    }
}

impl Limits {
    pub fn body_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.body_idle_timeout_secs)
    }
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }
    pub fn drain(&self) -> Duration {
        Duration::from_secs(self.drain_secs)
    }
}

/// A configuration error: the field at fault and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config field `{field}`: {message}")]
    Invalid { field: &'static str, message: String },
}

impl Config {
    /// Reads a YAML config file; fields it does not set keep their defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::from_yaml(&text).map_err(|message| ConfigError::Parse { path: path.to_owned(), message })
    }

    /// Parses YAML text; the error message names the field (serde_yaml reports its path).
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_yaml::from_str(text).map_err(|e| e.to_string())
    }

    /// Checks values serde cannot: ranges, names, non-empty strings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, message: &str| Err(ConfigError::Invalid { field, message: message.to_owned() });
        if self.region.is_empty()
            || !self.region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return invalid("region", "must be a non-empty region name of lowercase letters, digits and '-'");
        }
        for domain in &self.virtual_host_domains {
            if domain.is_empty()
                || domain.starts_with('.')
                || domain.contains(|c: char| c.is_whitespace() || c == '/' || c == ':')
            {
                return invalid("virtual_host_domains", &format!("`{domain}` is not a DNS domain"));
            }
        }
        if let Some(root) = &self.root_credentials {
            if root.access_key.len() < 3 || root.access_key.len() > 128 {
                return invalid("root_credentials.access_key", "must be 3 to 128 characters");
            }
            if root.secret_key.len() < 8 {
                return invalid("root_credentials.secret_key", "must be at least 8 characters");
            }
        }
        let l = &self.limits;
        if l.max_connections == 0 {
            return invalid("limits.max_connections", "must be at least 1");
        }
        if l.max_inflight_requests == 0 {
            return invalid("limits.max_inflight_requests", "must be at least 1");
        }
        if l.body_idle_timeout_secs == 0 {
            return invalid("limits.body_idle_timeout_secs", "must be at least 1");
        }
        if l.header_read_timeout_secs == 0 {
            return invalid("limits.header_read_timeout_secs", "must be at least 1");
        }
        if l.max_object_size == 0 {
            return invalid("limits.max_object_size", "must be at least 1");
        }
        if l.max_xml_body < 1024 {
            return invalid("limits.max_xml_body", "must be at least 1024 bytes");
        }
        if self.management.admin_token.as_ref().is_some_and(|t| t.len() < 16) {
            return invalid("management.admin_token", "must be at least 16 characters");
        }
        let (m, s) = (self.management.listen, self.listen);
        let overlap = m.ip() == s.ip() || m.ip().is_unspecified() || s.ip().is_unspecified();
        if m.port() == s.port() && m.port() != 0 && overlap {
            return invalid("management.listen", "must not use the S3 port (listen) on an overlapping address");
        }
        if self.storage.inline_max_size > INLINE_MAX_SIZE_CEILING {
            return invalid("storage.inline_max_size", "must be at most 262144 bytes (256 KiB)");
        }
        if self.backend.kind != BackendKind::Azure && self.backend.azure.is_some() {
            return invalid("backend.azure", "is only allowed when backend.type is azure");
        }
        match (self.backend.kind, &self.backend.s3) {
            (BackendKind::S3, None) => return invalid("backend.s3", "is required when backend.type is s3"),
            (BackendKind::Local | BackendKind::Azure, Some(_)) => {
                return invalid("backend.s3", "is only allowed when backend.type is s3")
            }
            (BackendKind::S3, Some(s3)) => {
                if s3.bucket.is_empty() {
                    return invalid("backend.s3.bucket", "must not be empty");
                }
                if !(5 * 1024 * 1024..=5 * 1024 * 1024 * 1024).contains(&s3.part_size) {
                    return invalid("backend.s3.part_size", "must be between 5 MiB and 5 GiB");
                }
                if s3.access_key_id.is_some() != s3.secret_access_key.is_some() {
                    return invalid("backend.s3.access_key_id", "and secret_access_key must be given together");
                }
            }
            (BackendKind::Local | BackendKind::Azure, None) => {}
        }
        if self.backend.kind == BackendKind::Azure {
            let Some(az) = &self.backend.azure else {
                return invalid("backend.azure", "is required when backend.type is azure");
            };
            if az.account.is_empty() {
                return invalid("backend.azure.account", "must not be empty");
            }
            if az.container.is_empty() {
                return invalid("backend.azure.container", "must not be empty");
            }
            if !(1024 * 1024..=4000 * 1024 * 1024).contains(&az.block_size) {
                return invalid("backend.azure.block_size", "must be between 1 MiB and 4000 MiB");
            }
        }
        if self.multipart.expiry_secs == 0 {
            return invalid("multipart.expiry_secs", "must be at least 1");
        }
        if self.multipart.reap_interval_secs == 0 {
            return invalid("multipart.reap_interval_secs", "must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_yaml_is_defaults() {
        let c = Config::from_yaml("").unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.region, "us-east-1");
        c.validate().unwrap();
    }

    #[test]
    fn yaml_overrides_nested_fields() {
        let c = Config::from_yaml(
            "listen: 0.0.0.0:9100\nregion: eu-west-1\nvirtual_host_domains: [s3.local]\nlimits:\n  max_connections: \
                10\nlog:\n  format: json\n",
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9100);
        assert_eq!(c.region, "eu-west-1");
        assert_eq!(c.virtual_host_domains, vec!["s3.local"]);
        assert_eq!(c.limits.max_connections, 10);
        assert_eq!(c.limits.max_inflight_requests, Limits::default().max_inflight_requests);
        assert_eq!(c.log.format, LogFormat::Json);
    }

    #[test]
    fn unknown_field_is_named() {
        let err = Config::from_yaml("lisen: 1.2.3.4:5\n").unwrap_err();
        assert!(err.contains("lisen"), "{err}");
        let err = Config::from_yaml("limits:\n  max_conections: 3\n").unwrap_err();
        assert!(err.contains("max_conections"), "{err}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = Config::from_yaml("limits:\n  max_connections: lots\n").unwrap_err();
        assert!(err.contains("limits.max_connections"), "{err}");
        let err = Config::from_yaml("log:\n  format: xml\n").unwrap_err();
        assert!(err.contains("log.format"), "{err}");
    }

    #[test]
    fn invalid_values_name_the_field() {
        let mut c = Config::default();
        c.limits.max_connections = 0;
        assert!(c.validate().unwrap_err().to_string().contains("limits.max_connections"));
        let c = Config { region: "Not A Region".into(), ..Config::default() };
        assert!(c.validate().unwrap_err().to_string().contains("`region`"));
        let mut c = Config { listen: "0.0.0.0:9000".parse().unwrap(), ..Config::default() };
        c.management.listen = "127.0.0.1:9000".parse().unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("management.listen"));
        c.management.listen = "127.0.0.1:9001".parse().unwrap();
        assert!(c.validate().is_ok());
        let c = Config::from_yaml("backend:\n  type: s3\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("backend.s3"));
        let c = Config::from_yaml("backend:\n  type: s3\n  s3:\n    bucket: b\n    part_size: 1024\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("backend.s3.part_size"));
        let c = Config::from_yaml("backend:\n  type: s3\n  s3:\n    bucket: b\n    secret_access_key: x\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("access_key_id"));
        let c = Config::from_yaml("backend:\n  type: azure\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("backend.azure"));
        let c = Config::from_yaml(
            "backend:\n  type: azure\n  azure:\n    account: a\n    container: c\n    block_size: 10\n",
        )
        .unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("backend.azure.block_size"));
        let c = Config::from_yaml(
            "backend:\n  type: azure\n  azure:\n    account: a\n    container: c\n    account_key: hidden\n",
        )
        .unwrap();
        assert!(c.validate().is_ok());
        assert!(!format!("{c:?}").contains("hidden"));
        let c = Config::from_yaml("backend:\n  s3:\n    bucket: b\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("backend.s3"));
        let c = Config::from_yaml(
            "backend:\n  type: s3\n  s3:\n    bucket: b\n    secret_access_key: hidden\n    access_key_id: AK\n",
        )
        .unwrap();
        assert!(c.validate().is_ok());
        assert!(!format!("{c:?}").contains("hidden"));
        let mut c = Config::default();
        c.storage.inline_max_size = INLINE_MAX_SIZE_CEILING + 1;
        assert!(c.validate().unwrap_err().to_string().contains("storage.inline_max_size"));
        let c = Config::from_yaml("storage:\n  inline_max_size: 0\n").unwrap();
        assert_eq!(c.storage.inline_max_size, 0);
        let c = Config {
            root_credentials: Some(RootCredentials { access_key: "admin".into(), secret_key: "short".into() }),
            ..Config::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("root_credentials.secret_key"));
    }
}

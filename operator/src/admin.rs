//! The client of a store's admin API (`/admin/v1` on the management port; `specs/management.md`
//! §5). The trait is the seam the reconcilers depend on, so their tests can record calls; the
//! HTTP implementation reaches the store's first pod by its DNS name ([`management_address`]).

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::build::names;
use crate::crd::BleepStore;

/// Body of `PUT /admin/v1/buckets/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BucketRequest {
    pub owner: String,
    pub acl: String,
    /// `Enabled` or `Suspended`; absent leaves the bucket's versioning as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versioning: Option<String>,
    /// The bucket's tags (replacing them; `{}` removes all); absent leaves them as they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<std::collections::BTreeMap<String, String>>,
}

/// What `GET /admin/v1/buckets/{name}` says of a bucket.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
pub struct BucketInfo {
    pub usage: Usage,
    /// `Enabled`, `Suspended`, or absent for a bucket never versioned.
    #[serde(default)]
    pub versioning: Option<String>,
    /// The bucket's ACL as the store keeps it: a canned ACL's name, or its grants as JSON when
    /// they were set one by one.
    #[serde(default)]
    pub acl: Option<String>,
    /// The bucket's tags, key to value; absent (null) when it has none.
    #[serde(default)]
    pub tags: Option<std::collections::BTreeMap<String, String>>,
}

/// `usage` of `GET /admin/v1/buckets/{name}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub struct Usage {
    pub objects: i64,
    pub bytes: i64,
}

/// One grant of `PUT /admin/v1/keys/{id}/grants`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub bucket: String,
    pub access: String,
}

/// Where and how to reach one store's admin API. The token never prints (`secrecy`).
#[derive(Debug, Clone)]
pub struct AdminTarget {
    pub base_url: String,
    pub token: secrecy::SecretString,
}

/// An admin API failure.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AdminError {
    /// No answer (connection refused, timeout, DNS).
    #[error("store admin API unreachable: {0}")]
    Unreachable(String),
    /// An answer with an error status: the JSON `error` code and `message`.
    #[error("store admin API answered {status} {code}: {message}")]
    Status { status: u16, code: String, message: String },
    /// An answer that is not the documented JSON.
    #[error("store admin API answered unreadable JSON: {0}")]
    Decode(String),
}

impl AdminError {
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Status { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// What a bucket delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketDeleted {
    Deleted,
    /// The bucket holds objects or uploads (only without `purge`).
    NotEmpty,
}

/// The admin operations the reconcilers use. Every call is idempotent on the store's side.
#[async_trait]
pub trait AdminApi: Send + Sync {
    async fn put_bucket(&self, target: &AdminTarget, name: &str, request: &BucketRequest) -> Result<(), AdminError>;
    /// `None` when the bucket does not exist.
    async fn bucket_info(&self, target: &AdminTarget, name: &str) -> Result<Option<BucketInfo>, AdminError>;
    async fn delete_bucket(&self, target: &AdminTarget, name: &str, purge: bool) -> Result<BucketDeleted, AdminError>;
    async fn put_key(&self, target: &AdminTarget, access_key: &str, secret_key: &str) -> Result<(), AdminError>;
    async fn put_grants(&self, target: &AdminTarget, access_key: &str, grants: &[Grant]) -> Result<(), AdminError>;
    async fn delete_key(&self, target: &AdminTarget, access_key: &str) -> Result<(), AdminError>;
}

/// `host:port` of the management port of the store's first pod: its DNS name through the
/// headless Service.
pub fn management_address(store: &BleepStore) -> String {
    format!("{}:{}", names::pod_host(store, 0), store.spec.ports.management)
}

/// The admin API over HTTP.
pub struct HttpAdmin {
    http: reqwest::Client,
}

impl HttpAdmin {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client without TLS options builds");
        Self { http }
    }

    fn request(&self, method: reqwest::Method, target: &AdminTarget, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/admin/v1/{path}", target.base_url))
            .bearer_auth(secrecy::ExposeSecret::expose_secret(&target.token))
    }
}

impl Default for HttpAdmin {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    message: String,
}

async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, AdminError> {
    let response = request.send().await.map_err(|e| AdminError::Unreachable(error_chain(&e)))?;
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(|e| AdminError::Unreachable(error_chain(&e)))?;
    let (code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(b) => (b.error, b.message),
        Err(_) => (String::new(), String::from_utf8_lossy(&body).chars().take(200).collect()),
    };
    Err(AdminError::Status { status, code, message })
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Everything but RFC 3986 unreserved characters is percent-encoded in a path segment.
const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn segment(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, SEGMENT).to_string()
}

#[async_trait]
impl AdminApi for HttpAdmin {
    async fn put_bucket(&self, target: &AdminTarget, name: &str, request: &BucketRequest) -> Result<(), AdminError> {
        send(self.request(reqwest::Method::PUT, target, &format!("buckets/{}", segment(name))).json(request)).await?;
        Ok(())
    }

    async fn bucket_info(&self, target: &AdminTarget, name: &str) -> Result<Option<BucketInfo>, AdminError> {
        match send(self.request(reqwest::Method::GET, target, &format!("buckets/{}", segment(name)))).await {
            Ok(response) => {
                let body = response.bytes().await.map_err(|e| AdminError::Unreachable(error_chain(&e)))?;
                Ok(Some(serde_json::from_slice(&body).map_err(|e| AdminError::Decode(e.to_string()))?))
            }
            Err(AdminError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn delete_bucket(&self, target: &AdminTarget, name: &str, purge: bool) -> Result<BucketDeleted, AdminError> {
        let path = format!("buckets/{}?purge={purge}", segment(name));
        match send(self.request(reqwest::Method::DELETE, target, &path)).await {
            Ok(_) => Ok(BucketDeleted::Deleted),
            Err(AdminError::Status { status: 409, code, .. }) if code == "BucketNotEmpty" => {
                Ok(BucketDeleted::NotEmpty)
            }
            Err(e) => Err(e),
        }
    }

    async fn put_key(&self, target: &AdminTarget, access_key: &str, secret_key: &str) -> Result<(), AdminError> {
        let body = serde_json::json!({ "secret_key": secret_key });
        send(self.request(reqwest::Method::PUT, target, &format!("keys/{}", segment(access_key))).json(&body)).await?;
        Ok(())
    }

    async fn put_grants(&self, target: &AdminTarget, access_key: &str, grants: &[Grant]) -> Result<(), AdminError> {
        let body = serde_json::json!({ "grants": grants });
        let path = format!("keys/{}/grants", segment(access_key));
        send(self.request(reqwest::Method::PUT, target, &path).json(&body)).await?;
        Ok(())
    }

    async fn delete_key(&self, target: &AdminTarget, access_key: &str) -> Result<(), AdminError> {
        send(self.request(reqwest::Method::DELETE, target, &format!("keys/{}", segment(access_key)))).await?;
        Ok(())
    }
}

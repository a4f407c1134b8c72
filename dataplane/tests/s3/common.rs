//! The shared harness: a store on 127.0.0.1:0 in this process (its blobs on the backend
//! `BLEEPSTORE_TEST_BACKEND` names: `remotes`), aws-sdk-s3 clients for path- and
//! virtual-hosted-style, a raw SigV4 signer for requests no SDK will make, and helpers.

use std::net::SocketAddr;
use std::sync::Arc;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::Client;
use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns};
use bleepstore::config::{BackendKind, Config};
use bleepstore::state::AppState;
use tokio::sync::oneshot;

pub(crate) const ACCESS_KEY: &str = "TESTROOTKEY";
pub(crate) const SECRET_KEY: &str = "test-root-secret-key";
pub(crate) const VHOST_DOMAIN: &str = "s3.local";
pub(crate) const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

pub(crate) struct TestServer {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    /// The self-signed CA certificate (PEM) when the server speaks HTTPS.
    pub ca_pem: Option<String>,
    /// The management port (probes, metrics, admin API).
    pub mgmt: SocketAddr,
    _dir: tempfile::TempDir,
    _shutdown: oneshot::Sender<()>,
}

/// Resolves every name to loopback, so `bucket.s3.local` reaches the test server.
#[derive(Debug, Clone)]
struct Loopback;

impl ResolveDns for Loopback {
    fn resolve_dns<'a>(&'a self, _name: &'a str) -> DnsFuture<'a> {
        DnsFuture::ready(Ok(vec![std::net::IpAddr::from([127, 0, 0, 1])]))
    }
}

impl TestServer {
    pub(crate) async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub(crate) async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().join("data"),
            listen: "127.0.0.1:0".parse().unwrap(),
            virtual_host_domains: vec![VHOST_DOMAIN.into()],
            root_credentials: Some(bleepstore::config::RootCredentials {
                access_key: ACCESS_KEY.into(),
                secret_key: SECRET_KEY.into(),
            }),
            ..Config::default()
        };
        crate::remotes::use_test_backend(&mut config).await;
        tweak(&mut config);
        config.validate().unwrap();
        Self::launch(config, dir, None).await
    }

    /// A server on HTTPS with a fresh self-signed certificate for localhost.
    pub(crate) async fn start_tls() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec![
            "localhost".into(),
            format!("*.{VHOST_DOMAIN}"),
            VHOST_DOMAIN.into(),
        ])
        .unwrap();
        let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert_file, cert.cert.pem()).unwrap();
        std::fs::write(&key_file, cert.signing_key.serialize_pem()).unwrap();
        let mut config = Config {
            data_dir: dir.path().join("data"),
            listen: "127.0.0.1:0".parse().unwrap(),
            virtual_host_domains: vec![VHOST_DOMAIN.into()],
            root_credentials: Some(bleepstore::config::RootCredentials {
                access_key: ACCESS_KEY.into(),
                secret_key: SECRET_KEY.into(),
            }),
            tls: Some(bleepstore::config::TlsConfig { cert_file, key_file }),
            ..Config::default()
        };
        crate::remotes::use_test_backend(&mut config).await;
        Self::launch(config, dir, Some(cert.cert.pem())).await
    }

    async fn launch(mut config: Config, dir: tempfile::TempDir, ca_pem: Option<String>) -> Self {
        config.management.admin_token.get_or_insert_with(|| ADMIN_TOKEN.to_owned());
        let prepared = bleepstore::server::prepare(config).await.unwrap();
        let mgmt_listener = bleepstore::server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let mgmt = mgmt_listener.local_addr().unwrap();
        tokio::spawn(bleepstore::server::serve_management(
            mgmt_listener,
            prepared.state.clone(),
            std::future::pending(),
        ));
        let listener = bleepstore::server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        let state = prepared.state.clone();
        tokio::spawn(bleepstore::server::serve(listener, prepared.state, prepared.tls, async {
            let _ = rx.await;
        }));
        Self { addr, state, ca_pem, mgmt, _dir: dir, _shutdown: tx }
    }

    pub(crate) fn endpoint(&self) -> String {
        match self.ca_pem {
            Some(_) => format!("https://localhost:{}", self.addr.port()),
            None => format!("http://{}", self.addr),
        }
    }

    /// A path-style client with the root credential.
    pub(crate) fn client(&self) -> Client {
        self.client_as(ACCESS_KEY, SECRET_KEY)
    }

    pub(crate) fn client_as(&self, access_key: &str, secret: &str) -> Client {
        client_with_ca(&self.endpoint(), access_key, secret, true, self.ca_pem.as_deref())
    }

    /// A virtual-hosted-style client: requests go to `<bucket>.s3.local:<port>`.
    pub(crate) fn vhost_client(&self) -> Client {
        let scheme = if self.ca_pem.is_some() { "https" } else { "http" };
        client_with_ca(
            &format!("{scheme}://{VHOST_DOMAIN}:{}", self.addr.port()),
            ACCESS_KEY,
            SECRET_KEY,
            false,
            self.ca_pem.as_deref(),
        )
    }

    /// A plain HTTP client (for presigned URLs) that trusts this server's certificate.
    pub(crate) fn http(&self) -> reqwest::Client {
        let mut b = reqwest::Client::builder();
        if let Some(pem) = &self.ca_pem {
            b = b.tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()]);
        }
        b.build().unwrap()
    }

    /// Adds a non-root key owned by `owner`.
    pub(crate) async fn add_key(&self, access_key: &str, secret: &str, owner: &str) {
        self.state.db.put_credential(access_key, secret, owner, true).await.unwrap();
    }

    /// A request to the management port, with the admin token when `admin` is set.
    pub(crate) async fn mgmt(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, String) {
        let mut req = reqwest::Client::new().request(method.parse().unwrap(), format!("http://{}{path}", self.mgmt));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// The value of one metric sample from /metrics (0 when absent).
    pub(crate) async fn metric(&self, sample: &str) -> f64 {
        let (_, text) = self.mgmt("GET", "/metrics", None, None).await;
        text.lines().find_map(|l| l.strip_prefix(sample).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
    }

    /// Files left in the local temp directory (the local backend stages blobs there; remote
    /// backends stage nothing on the volume, so it must stay empty or absent).
    pub(crate) fn temp_files(&self) -> usize {
        match std::fs::read_dir(self.state.config.data_dir.join("tmp")) {
            Ok(dir) => dir.count(),
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound && self.state.config.backend.kind != BackendKind::Local =>
            {
                0
            }
            Err(e) => panic!("the temp directory: {e}"),
        }
    }
}

pub(crate) fn client(endpoint: &str, access_key: &str, secret: &str, path_style: bool) -> Client {
    client_with_ca(endpoint, access_key, secret, path_style, None)
}

/// An SDK client with default checksum behaviour; trusts only `ca_pem` when given (HTTPS).
pub(crate) fn client_with_ca(
    endpoint: &str,
    access_key: &str,
    secret: &str,
    path_style: bool,
    ca_pem: Option<&str>,
) -> Client {
    use aws_smithy_http_client::tls;
    let mut builder = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc));
    if let Some(pem) = ca_pem {
        let store = tls::TrustStore::empty().with_native_roots(false).with_pem_certificate(pem.as_bytes().to_vec());
        builder = builder.tls_context(tls::TlsContext::builder().with_trust_store(store).build().unwrap());
    }
    let http = builder.build_with_resolver(Loopback);
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(access_key, secret, None, None, "test"))
        .force_path_style(path_style)
        .http_client(http)
        .build();
    Client::from_conf(config)
}

/// The S3 error code of an SDK error, for asserting on.
pub(crate) fn code<E, R>(err: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match err {
        aws_sdk_s3::error::SdkError::ServiceError(e) => e.err().code().unwrap_or("<none>").to_owned(),
        other => format!("<not a service error: {other:?}>"),
    }
}

/// The HTTP status of an SDK error.
pub(crate) fn status<E: std::fmt::Debug, R: std::fmt::Debug>(
    err: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response<R>>,
) -> u16 {
    match err {
        aws_sdk_s3::error::SdkError::ServiceError(e) => e.raw().status().as_u16(),
        other => panic!("not a service error: {other:?}"),
    }
}

/// Deterministic pseudo-random bytes.
pub(crate) fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub(crate) fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(bytes))
}

pub(crate) async fn body_bytes(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

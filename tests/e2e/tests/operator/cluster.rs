//! One test cluster: the test API server with the CRDs applied by kubectl, the real operator
//! binary (leader election on), and the kubelet harness running real `bleepstore` processes.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns};
use base64::Engine;
use bleepstore_e2e::apiserver::TestApiServer;
use bleepstore_e2e::kubelet::Kubelet;
use serde_json::Value;

pub(crate) const NS: &str = "team-a";

/// How long a condition may take before a test fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// `target/<profile>`, where `cargo test --workspace` puts the workspace's binaries.
fn binary_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent().and_then(Path::parent).expect("target/<profile>").to_owned()
}

/// A binary built by `cargo test --workspace` next to this test's own binary.
pub(crate) fn binary(name: &str) -> PathBuf {
    let path = binary_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first (`cargo build --workspace --bins`; `cargo test --workspace` does)",
        path.display()
    );
    path
}

pub(crate) struct Cluster {
    pub api: TestApiServer,
    pub kubelet: Kubelet,
    operator: Option<tokio::process::Child>,
    pub metrics_port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The API calls the operator made (everything but kubectl's), for the chart's RBAC
        // check: target/e2e-operator-calls/<test>.txt, lines "verb group resource[/subresource]".
        let mut calls: Vec<String> = self
            .api
            .requests()
            .into_iter()
            .filter(|r| !r.user_agent.starts_with("kubectl"))
            .map(|r| {
                let resource =
                    if r.subresource.is_empty() { r.resource } else { format!("{}/{}", r.resource, r.subresource) };
                format!("{} {} {resource}\n", r.verb, if r.group.is_empty() { "core" } else { &r.group })
            })
            .collect();
        calls.sort();
        calls.dedup();
        let dir = binary_dir().join("../e2e-operator-calls");
        let test = std::thread::current().name().unwrap_or("unnamed").replace("::", "-");
        if std::fs::create_dir_all(&dir).is_ok() {
            let _ = std::fs::write(dir.join(format!("{test}.txt")), calls.concat());
        }
        // BLEEPSTORE_E2E_KEEP=1 keeps the logs, data and manifests of every cluster for a look.
        if std::env::var_os("BLEEPSTORE_E2E_KEEP").is_some() {
            let kept = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir")).keep();
            eprintln!("e2e: kept {}", kept.display());
        }
    }
}

impl Cluster {
    pub(crate) async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let api = TestApiServer::start().await;
        std::fs::write(dir.path().join("kubeconfig"), api.kubeconfig(NS)).expect("kubeconfig");
        let kubelet = Kubelet::start(api.state.clone(), binary("bleepstore"), dir.path().join("pods"));
        let metrics_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cluster = Self { api, kubelet, operator: None, metrics_port, dir };
        let crds = concat!(env!("CARGO_MANIFEST_DIR"), "/../../crds/bleepstore.io.yaml");
        cluster.kubectl_ok(&["apply", "--server-side", "--validate=false", "-f", crds]);
        cluster.start_operator();
        cluster
    }

    /// Starts (or restarts) the operator process.
    pub(crate) fn start_operator(&mut self) {
        if let Some(mut old) = self.operator.take() {
            let _ = old.start_kill();
        }
        self.operator = Some(self.spawn_operator(self.metrics_port, "operator.log"));
    }

    /// Runs one more operator replica (same configuration, its own metrics port and log).
    pub(crate) fn spawn_operator(&self, metrics_port: u16, log_name: &str) -> tokio::process::Child {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join(log_name)).unwrap();
        tokio::process::Command::new(binary("bleepstore-operator"))
            .env_clear()
            .env("KUBECONFIG", self.dir.path().join("kubeconfig"))
            .env("POD_NAMESPACE", NS)
            .args(["--log-format", "text", "--log-level", "info,bleepstore_operator=debug"])
            .args(["--listen", &format!("127.0.0.1:{metrics_port}")])
            .arg("--pod-addresses")
            .arg(self.kubelet.names_file())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start the operator")
    }

    /// Stops the operator with SIGTERM (it releases its Lease) and waits for it to exit.
    pub(crate) async fn stop_operator(&mut self) {
        if let Some(mut child) = self.operator.take() {
            let pid = child.id().expect("the operator runs").to_string();
            let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
            assert!(sent.success());
            let status =
                tokio::time::timeout(PATIENCE, child.wait()).await.expect("the operator stops on SIGTERM").unwrap();
            assert!(status.success(), "the operator exits cleanly on SIGTERM: {status}");
        }
    }

    pub(crate) fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .env("KUBECONFIG", self.dir.path().join("kubeconfig"))
            .env("HOME", self.dir.path())
            .arg("--cache-dir")
            .arg(self.dir.path().join("kube-cache"))
            .args(args)
            .output()
            .expect(
                "kubectl must be installed to run the operator end-to-end suite: see \
                https://kubernetes.io/docs/tasks/tools/ (any v1.29+ client)",
            )
    }

    pub(crate) fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(out.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl apply --server-side` of a manifest; returns kubectl's output.
    pub(crate) fn apply(&self, manifest: &str) -> Output {
        let path = self.dir.path().join(format!("manifest-{}.yaml", uuid_like()));
        std::fs::write(&path, manifest).unwrap();
        self.kubectl(&["apply", "--server-side", "--validate=false", "-f", path.to_str().unwrap()])
    }

    pub(crate) fn apply_ok(&self, manifest: &str) {
        let out = self.apply(manifest);
        assert!(out.status.success(), "kubectl apply failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// An object from the API server, if it exists.
    pub(crate) fn get(&self, group: &str, plural: &str, name: &str) -> Option<Value> {
        let store = self.api.state.store.lock().unwrap();
        let t = store.types.iter().find(|t| t.group == group && t.plural == plural).cloned()?;
        store.get(&t, NS, name).ok()
    }

    pub(crate) fn list(&self, group: &str, plural: &str) -> Vec<Value> {
        let store = self.api.state.store.lock().unwrap();
        let Some(t) = store.types.iter().find(|t| t.group == group && t.plural == plural).cloned() else {
            return Vec::new();
        };
        store.list(&t, Some(NS), &Default::default())
    }

    /// Waits until `check` returns `Some`, re-checking on every change the API server records
    /// (and at least every 250 ms, for conditions outside it such as a process's state).
    pub(crate) async fn wait_for<T>(&self, what: &str, mut check: impl FnMut(&Self) -> Option<T>) -> T {
        let mut changes = self.api.state.store.lock().unwrap().changes.subscribe();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(value) = check(self) {
                return value;
            }
            if tokio::time::Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.path().join("operator.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                panic!("timed out waiting for {what}; operator log (last lines, newest first):\n{}", tail.join("\n"));
            }
            let _ = tokio::time::timeout(Duration::from_millis(250), changes.recv()).await;
        }
    }

    /// Waits until an async `check` returns a non-empty string (re-checked at every change or
    /// 250 ms).
    pub(crate) async fn wait_for_async<F: std::future::Future<Output = String>>(
        &self,
        what: &str,
        check: impl Fn() -> F,
    ) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let value = check().await;
            if !value.is_empty() {
                return value;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
            self.next_change().await;
        }
    }

    /// Returns at the next change the API server records, or after 250 ms.
    pub(crate) async fn next_change(&self) {
        let mut changes = self.api.state.store.lock().unwrap().changes.subscribe();
        let _ = tokio::time::timeout(Duration::from_millis(250), changes.recv()).await;
    }

    /// Waits for the condition `type_` of a custom resource to have `status` (and returns it).
    pub(crate) async fn wait_condition(&self, plural: &str, name: &str, type_: &str, status: &str) -> Value {
        self.wait_for(&format!("{plural}/{name} {type_}={status}"), |c| {
            let obj = c.get("bleepstore.io", plural, name)?;
            let generation = obj["metadata"]["generation"].clone();
            let cond = condition(&obj, type_)?;
            (cond["status"] == status && cond["observedGeneration"] == generation).then(|| cond.clone())
        })
        .await
    }

    /// A Secret's decoded data.
    pub(crate) fn secret(&self, name: &str) -> Option<std::collections::BTreeMap<String, String>> {
        let secret = self.get("", "secrets", name)?;
        Some(
            secret["data"]
                .as_object()?
                .iter()
                .map(|(k, v)| {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(v.as_str().unwrap_or_default())
                        .unwrap_or_default();
                    (k.clone(), String::from_utf8(bytes).unwrap_or_default())
                })
                .collect(),
        )
    }

    /// An S3 client configured only from a key Secret's environment variables, as an app
    /// using `envFrom` would be: the SDK reads `AWS_ENDPOINT_URL`, `AWS_REGION` and the keys
    /// itself. Cluster DNS names resolve through the kubelet harness.
    pub(crate) async fn app_client(&self, env: &std::collections::BTreeMap<String, String>) -> aws_sdk_s3::Client {
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .build_with_resolver(ClusterDns(self.kubelet.names_file().to_owned()));
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .env(aws_types::os_shim_internal::Env::from_slice(&pairs))
            .fs(aws_types::os_shim_internal::Fs::from_slice(&[]))
            .http_client(http)
            .load()
            .await;
        let s3 = aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build();
        aws_sdk_s3::Client::from_conf(s3)
    }

    /// An S3 client with the store's root credential (from its root Secret).
    pub(crate) async fn root_client(&self, store: &str) -> aws_sdk_s3::Client {
        let root = self.secret(&format!("{store}-root")).expect("root Secret");
        let obj = self.get("bleepstore.io", "bleepstores", store).expect("store");
        let env = std::collections::BTreeMap::from([
            ("AWS_ACCESS_KEY_ID".to_owned(), root["BLEEPSTORE_ROOT_ACCESS_KEY"].clone()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), root["BLEEPSTORE_ROOT_SECRET_KEY"].clone()),
            ("AWS_ENDPOINT_URL".to_owned(), obj["status"]["endpoint"].as_str().unwrap().to_owned()),
            ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        ]);
        self.app_client(&env).await
    }

    /// The operator's `/metrics` text.
    pub(crate) async fn metrics(&self) -> String {
        metrics(self.metrics_port).await
    }
}

/// The `/metrics` text of the operator on `port` (empty while it does not answer).
pub(crate) async fn metrics(port: u16) -> String {
    {
        let url = format!("http://127.0.0.1:{port}/metrics");
        match reqwest::get(url).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }
}

/// Resolves cluster names through the harness's map (the file the operator reads too).
#[derive(Debug, Clone)]
struct ClusterDns(PathBuf);

impl ResolveDns for ClusterDns {
    fn resolve_dns<'a>(&'a self, name: &'a str) -> DnsFuture<'a> {
        let text = std::fs::read_to_string(&self.0).unwrap_or_default();
        let found: Option<IpAddr> = text.lines().find_map(|line| {
            let (key, value) = line.split_once(' ')?;
            (key.rsplit_once(':')?.0 == name).then(|| value.rsplit_once(':')?.0.parse().ok())?
        });
        DnsFuture::ready(found.map(|ip| vec![ip]).ok_or_else(|| {
            aws_smithy_runtime_api::client::dns::ResolveDnsError::new(format!("no cluster address for {name}"))
        }))
    }
}

pub(crate) fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

fn uuid_like() -> String {
    format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos())
}

/// The S3 error code of an SDK error.
pub(crate) fn code<E, R>(err: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match err {
        aws_sdk_s3::error::SdkError::ServiceError(e) => e.err().code().unwrap_or_default().to_owned(),
        other => format!("{other:?}"),
    }
}

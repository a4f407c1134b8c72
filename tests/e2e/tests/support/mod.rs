//! What the scenarios share: the sandboxed cluster with the operator installed by helm, a
//! namespace per scenario, waiting on conditions, and S3 clients configured as apps are.

#![allow(dead_code, unreachable_pub)] // Each test binary uses its own part of this module.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Output};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bleepstore_e2e::cluster::Cluster;
use bleepstore_e2e::sandbox;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, PostParams};
use kube::Api;
use serde_json::{json, Value};

/// How long a condition may take before a scenario fails.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// A minimal store named `demo`.
pub const STORE: &str = "apiVersion: bleepstore.io/v1alpha1
kind: BleepStore
metadata:
  name: demo
spec:
  storage:
    size: 1Gi
  logFormat: text
";

pub const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../charts/bleepstore-operator");
pub const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../charts/bleepstore-operator/examples");

/// A scenario: a name and its body.
pub type Scenario = (&'static str, fn(Arc<World>) -> futures::future::BoxFuture<'static, Result<()>>);

/// The cluster and what every scenario needs from it.
pub struct World {
    /// The suite's name (`cluster`, `namespaced`).
    pub suite: String,
    pub cluster: Cluster,
    /// `target/<profile>`: the workspace's binaries (the "images").
    pub binaries: PathBuf,
    /// Held by scenarios that restart or delete the operator's pods, one at a time.
    pub disruption: tokio::sync::Mutex<()>,
    /// Set when the operator is being uninstalled: from then on its RBAC goes away while its
    /// pod shuts down, and what it is refused is not the chart's fault.
    pub uninstalled_at: std::sync::Mutex<Option<jiff::Timestamp>>,
}

/// `target/e2e/<suite>`: the run's work directory (logs, pods, volumes), emptied first.
fn work_dir(suite: &str) -> Result<PathBuf> {
    let dir = bleepstore_e2e::images::binary_dir().join("..").join("e2e").join(suite);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir.canonicalize()?)
}

/// The test binary's main: lists or runs `scenarios` against a cluster made by `setup`, inside
/// the sandbox (re-executing itself there first).
pub fn main<S, F>(suite: &str, scenarios: Vec<Scenario>, setup: S) -> ExitCode
where
    S: FnOnce(Arc<World>) -> F,
    F: Future<Output = Result<()>>,
{
    let mut args = libtest_mimic::Arguments::from_args();
    // Scenarios mostly wait on the cluster: run them all at once unless told otherwise.
    args.test_threads = args.test_threads.or(Some(scenarios.len().max(1)));
    let selected = scenarios.iter().any(|(name, _)| match &args.filter {
        None => true,
        Some(f) if args.exact => name == f,
        Some(f) => name.contains(f.as_str()),
    });
    if args.list || !selected || args.ignored {
        let trials = scenarios.into_iter().map(|(name, _)| libtest_mimic::Trial::test(name, || Ok(()))).collect();
        return libtest_mimic::run(&args, trials).exit_code();
    }
    if !sandbox::inside() {
        let tools = match bleepstore_e2e::cluster::prepare_tools() {
            Ok(tools) => tools,
            Err(e) => {
                eprintln!("{suite}: cannot prepare the tools: {e:#}");
                return ExitCode::FAILURE;
            }
        };
        return match sandbox::reexec(&tools) {
            Ok(code) => ExitCode::from(code as u8),
            Err(e) => {
                eprintln!(
                    "{suite}: cannot enter the sandbox: {e:#}\nThe end-to-end suite needs root (CAP_SYS_ADMIN and \
                     CAP_NET_ADMIN) to make its network, mount and PID namespaces."
                );
                ExitCode::FAILURE
            }
        };
    }
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let world = match runtime.block_on(start(suite)) {
        Ok(world) => Arc::new(world),
        Err(e) => {
            eprintln!("{suite}: the cluster did not start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = runtime.block_on(setup(world.clone())) {
        eprintln!("{suite}: setup failed: {e:#}\nlogs: {}", world.cluster.work.display());
        return ExitCode::FAILURE;
    }
    let handle = runtime.handle().clone();
    let trials = scenarios
        .into_iter()
        .map(|(name, body)| {
            let (world, handle) = (world.clone(), handle.clone());
            libtest_mimic::Trial::test(name, move || {
                handle
                    .block_on(body(world.clone()))
                    .map_err(|e| format!("{e:#}\nlogs: {} (pods/, logs/)", world.cluster.work.display()).into())
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    if let Err(e) = record_operator_calls(&world, suite) {
        eprintln!("{suite}: {e:#}");
        return ExitCode::FAILURE;
    }
    if std::env::var_os("BLEEPSTORE_E2E_KEEP").is_some() {
        keep_running(&world, &runtime);
    }
    conclusion.exit_code()
}

async fn start(suite: &str) -> Result<World> {
    let work = work_dir(suite)?;
    let _ = std::fs::remove_file(bleepstore_e2e::images::binary_dir().join(format!("../e2e-statuses/{suite}.jsonl")));
    sandbox::prepare(&work)?;
    let cluster = Cluster::start(&work).await?;
    Ok(World {
        suite: suite.to_owned(),
        cluster,
        binaries: bleepstore_e2e::images::binary_dir(),
        disruption: tokio::sync::Mutex::new(()),
        uninstalled_at: std::sync::Mutex::new(None),
    })
}

/// With `BLEEPSTORE_E2E_KEEP=1`: leaves the cluster up and says how to reach it.
fn keep_running(world: &World, runtime: &tokio::runtime::Runtime) {
    eprintln!(
        "\nThe cluster stays up until this process is interrupted (Ctrl-C). From another shell:\n  \
         nsenter --target $(pgrep -o -f 'unshare --net --mount --pid') --net --mount -- \\\n    \
         env KUBECONFIG={} {}/kubectl get pods -A",
        world.cluster.plane.kubeconfig.display(),
        world.cluster.plane.bin.display(),
    );
    runtime.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
}

/// The operator's API calls, from the API server's audit log, for the chart's RBAC check:
/// `target/e2e-operator-calls/<suite>.txt`, lines `verb group resource[/subresource]`. Fails
/// if the authorizer refused the operator anything: the chart's RBAC must be enough.
fn record_operator_calls(world: &World, suite: &str) -> Result<()> {
    let text = std::fs::read_to_string(&world.cluster.plane.audit_log).context("read the audit log")?;
    let mut calls = std::collections::BTreeSet::new();
    let mut refused = std::collections::BTreeSet::new();
    let cutoff = *world.uninstalled_at.lock().unwrap_or_else(|e| e.into_inner());
    for line in text.lines() {
        let event: Value = serde_json::from_str(line).context("an audit event")?;
        let user = event["user"]["username"].as_str().unwrap_or_default();
        if !(user.starts_with("system:serviceaccount:") && user.ends_with("bleepstore-operator")) {
            continue;
        }
        let object = &event["objectRef"];
        let Some(resource) = object["resource"].as_str() else { continue };
        let resource = match object["subresource"].as_str() {
            Some(sub) => format!("{resource}/{sub}"),
            None => resource.to_owned(),
        };
        let group = object["apiGroup"].as_str().filter(|g| !g.is_empty()).unwrap_or("core");
        let call = format!("{} {group} {resource}", event["verb"].as_str().unwrap_or_default());
        let at: Option<jiff::Timestamp> = event["requestReceivedTimestamp"].as_str().and_then(|t| t.parse().ok());
        let uninstalling = matches!((at, cutoff), (Some(at), Some(cutoff)) if at >= cutoff);
        // Refused by the authorizer (RBAC), not by admission (such as a refused resize).
        if event["annotations"]["authorization.k8s.io/decision"] == "forbid" && !uninstalling {
            refused.insert(format!("{call} ({})", object["namespace"].as_str().unwrap_or("cluster")));
        }
        calls.insert(call);
        // A server-side apply that creates the object (201) is authorized as a create too.
        if event["verb"] == "patch" && event["responseStatus"]["code"] == 201 {
            calls.insert(format!("create {group} {resource}"));
        }
    }
    let dir = world.binaries.join("../e2e-operator-calls");
    std::fs::create_dir_all(&dir)?;
    let lines: String = calls.iter().map(|c| format!("{c}\n")).collect();
    std::fs::write(dir.join(format!("{suite}.txt")), lines)?;
    if !refused.is_empty() {
        bail!("the API server refused the operator: {refused:?}");
    }
    Ok(())
}

/// Polls `check` every 250 ms until it gives a value; fails after [`PATIENCE`].
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut interval = tokio::time::interval(Duration::from_millis(250));
    loop {
        interval.tick().await;
        if let Some(value) = check().await {
            return Ok(value);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out after {PATIENCE:?} waiting for {what}");
        }
    }
}

/// A kind the scenarios read: (group, version, kind, plural).
fn resource(group: &str, plural: &str) -> ApiResource {
    let (version, kind) = match (group, plural) {
        ("bleepstore.io", "bleepstores") => ("v1alpha1", "BleepStore"),
        ("bleepstore.io", "buckets") => ("v1alpha1", "Bucket"),
        ("bleepstore.io", "accesskeys") => ("v1alpha1", "AccessKey"),
        ("apps", "statefulsets") => ("v1", "StatefulSet"),
        ("apps", "deployments") => ("v1", "Deployment"),
        ("batch", "jobs") => ("v1", "Job"),
        ("policy", "poddisruptionbudgets") => ("v1", "PodDisruptionBudget"),
        ("coordination.k8s.io", "leases") => ("v1", "Lease"),
        ("events.k8s.io", "events") => ("v1", "Event"),
        ("", "services") => ("v1", "Service"),
        ("", "configmaps") => ("v1", "ConfigMap"),
        ("", "secrets") => ("v1", "Secret"),
        ("", "pods") => ("v1", "Pod"),
        ("", "persistentvolumeclaims") => ("v1", "PersistentVolumeClaim"),
        other => panic!("add {other:?} to support::resource"),
    };
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// A namespace of a scenario's own (Pod Security `restricted` enforced, as a careful platform
/// team would).
pub struct Ns {
    pub name: String,
    pub world: Arc<World>,
}

impl World {
    pub async fn namespace(self: &Arc<Self>, name: &str) -> Result<Ns> {
        let namespace: Namespace = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest"}}}))?;
        Api::<Namespace>::all(self.cluster.admin.clone()).create(&PostParams::default(), &namespace).await?;
        // Pods need the namespace's default ServiceAccount, which a controller makes.
        let ns = Ns { name: name.to_owned(), world: self.clone() };
        let accounts = Api::<k8s_openapi::api::core::v1::ServiceAccount>::namespaced(ns.client(), name);
        wait_for("the namespace's default ServiceAccount", || async {
            accounts.get_opt("default").await.ok().flatten()
        })
        .await?;
        Ok(ns)
    }
}

fn output_text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

impl Ns {
    pub fn client(&self) -> kube::Client {
        self.world.cluster.admin.clone()
    }

    /// `kubectl -n <ns> <args>`.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        self.world.cluster.kubectl(&all, None)
    }

    pub fn kubectl_ok(&self, args: &[&str]) -> Result<String> {
        let out = self.kubectl(args);
        if !out.status.success() {
            bail!("kubectl {} failed: {}", args.join(" "), output_text(&out));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `kubectl apply -f -` of `yaml`, with kubectl's validation (the API server's schema).
    pub fn apply(&self, yaml: &str) -> Output {
        self.world.cluster.kubectl(&["-n", &self.name, "apply", "-f", "-"], Some(yaml))
    }

    pub fn apply_ok(&self, yaml: &str) -> Result<()> {
        let out = self.apply(yaml);
        if !out.status.success() {
            bail!("kubectl apply failed: {}\n{yaml}", output_text(&out));
        }
        Ok(())
    }

    fn api(&self, group: &str, plural: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client(), &self.name, &resource(group, plural))
    }

    /// An object as JSON, if it exists.
    pub async fn get(&self, group: &str, plural: &str, name: &str) -> Result<Option<Value>> {
        Ok(self.api(group, plural).get_opt(name).await?.map(|o| serde_json::to_value(o).expect("JSON")))
    }

    pub async fn list(&self, group: &str, plural: &str) -> Result<Vec<Value>> {
        let list = self.api(group, plural).list(&ListParams::default()).await?;
        Ok(list.items.into_iter().map(|o| serde_json::to_value(o).expect("JSON")).collect())
    }

    /// A Secret's data as strings.
    pub async fn secret(&self, name: &str) -> Result<Option<BTreeMap<String, String>>> {
        let secret = Api::<Secret>::namespaced(self.client(), &self.name).get_opt(name).await?;
        Ok(secret.map(|s| {
            s.data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                .collect()
        }))
    }

    /// Waits until `plural/name` has condition `type_` with `status` for its current
    /// generation, and returns the condition.
    pub async fn wait_condition(&self, plural: &str, name: &str, type_: &str, status: &str) -> Result<Value> {
        let what = format!("{plural}/{name} {type_}={status}");
        wait_for(&what, || async {
            let obj = self.get("bleepstore.io", plural, name).await.ok()??;
            let found = condition(&obj, type_)?;
            let current = obj["status"]["observedGeneration"] == obj["metadata"]["generation"];
            (current && found["status"] == status).then(|| found.clone())
        })
        .await
        .with_context(|| format!("{plural}/{name} is {}", self.describe(plural, name)))
    }

    /// Records a custom resource as it is now with the Argo CD health it should have
    /// (`Healthy`, `Progressing`, `Degraded`), for the chart's health-check test:
    /// `target/e2e-statuses/<suite>.jsonl`.
    pub async fn record_health(&self, plural: &str, name: &str, health: &str) -> Result<()> {
        use std::io::Write;
        let obj = self.get("bleepstore.io", plural, name).await?.with_context(|| format!("{plural}/{name}"))?;
        let dir = self.world.binaries.join("../e2e-statuses");
        std::fs::create_dir_all(&dir)?;
        let line = json!({"namespace": self.name, "name": name, "health": health, "object": obj});
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{}.jsonl", self.world.suite)))?;
        writeln!(file, "{line}")?;
        Ok(())
    }

    /// Waits until `plural/name` has every (type, status) of `wanted` for its current generation.
    pub async fn wait_for_conditions(&self, plural: &str, name: &str, wanted: &[(&str, &str)]) -> Result<Value> {
        let what = format!("{plural}/{name} {wanted:?}");
        wait_for(&what, || async {
            let obj = self.get("bleepstore.io", plural, name).await.ok()??;
            let current = obj["status"]["observedGeneration"] == obj["metadata"]["generation"];
            let all = wanted.iter().all(|(t, s)| condition(&obj, t).is_some_and(|c| c["status"] == *s));
            (current && all).then_some(obj)
        })
        .await
        .with_context(|| format!("{plural}/{name} is {}", self.describe(plural, name)))
    }

    /// A short account of an object's status, for failure messages.
    pub fn describe(&self, plural: &str, name: &str) -> String {
        let out = self.kubectl(&["get", plural, name, "-o", "jsonpath={.status}"]);
        output_text(&out)
    }

    /// The pods of this namespace.
    pub async fn pods(&self) -> Result<Vec<Pod>> {
        Ok(Api::<Pod>::namespaced(self.client(), &self.name).list(&ListParams::default()).await?.items)
    }

    /// An S3 client configured only from `env` (a key Secret's data), as an app using `envFrom`
    /// is: the SDK reads `AWS_ENDPOINT_URL`, `AWS_REGION` and the keys itself. Cluster names
    /// resolve through the sandbox's `/etc/hosts`.
    pub async fn app_client(&self, env: &BTreeMap<String, String>) -> aws_sdk_s3::Client {
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .env(aws_types::os_shim_internal::Env::from_slice(&pairs))
            .fs(aws_types::os_shim_internal::Fs::from_slice(&[]))
            .load()
            .await;
        let s3 = aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build();
        aws_sdk_s3::Client::from_conf(s3)
    }

    /// An S3 client with a store's root credential (from its root Secret).
    pub async fn root_client(&self, store: &str) -> Result<aws_sdk_s3::Client> {
        let root = self.secret(&format!("{store}-root")).await?.context("the store's root Secret")?;
        let obj = self.get("bleepstore.io", "bleepstores", store).await?.context("the store")?;
        let env = BTreeMap::from([
            ("AWS_ACCESS_KEY_ID".to_owned(), root["BLEEPSTORE_ROOT_ACCESS_KEY"].clone()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), root["BLEEPSTORE_ROOT_SECRET_KEY"].clone()),
            ("AWS_ENDPOINT_URL".to_owned(), obj["status"]["endpoint"].as_str().unwrap_or_default().to_owned()),
            ("AWS_REGION".to_owned(), obj["spec"]["region"].as_str().unwrap_or("us-east-1").to_owned()),
        ]);
        Ok(self.app_client(&env).await)
    }
}

pub fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

/// The S3 error code of an SDK error.
pub fn code<E, R>(err: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match err {
        aws_sdk_s3::error::SdkError::ServiceError(e) => e.err().code().unwrap_or_default().to_owned(),
        other => format!("{other:?}"),
    }
}

/// `helm install`/`upgrade` arguments that run this workspace's binaries as the images.
pub fn image_values() -> Vec<&'static str> {
    vec![
        "--set",
        "image.repository=bleepstore-operator",
        "--set",
        "image.tag=e2e",
        "--set",
        "storeImage.repository=bleepstore",
        "--set",
        "storeImage.tag=e2e",
        "--set",
        "logFormat=text",
    ]
}

/// The `/metrics` text of a pod's operator (empty while it does not answer).
pub async fn operator_metrics(pod: &Pod) -> String {
    let Some(ip) = pod.status.as_ref().and_then(|s| s.pod_ip.clone()) else { return String::new() };
    match reqwest::get(format!("http://{ip}:8080/metrics")).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Where a path is, as an argument.
pub fn arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

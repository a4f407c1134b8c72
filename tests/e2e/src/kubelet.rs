//! A kubelet (and StatefulSet controller) stand-in. For each StatefulSet in the test API
//! server it creates the replicas' PersistentVolumeClaims (bound at once, "expanded" as soon
//! as their request grows) and runs one `bleepstore` process per replica on its own loopback
//! address (`127.77.x.y`), so the ports in the spec are the ports served. The pod's ConfigMap
//! and Secret volumes become files, `secretKeyRef` env vars are resolved, and mount paths and
//! the `0.0.0.0` listen address in the configuration and arguments are rewritten to the local
//! directories and the pod's address. Every tick (250 ms, the probe period) it restarts a dead
//! or outdated process, runs the readiness probe and writes the StatefulSet's status. It keeps
//! a name map (`<pod>.<service>.<ns>.svc:<port>` and `<service>.<ns>.svc:<port>` to the pod's
//! address) in the file the operator reads with `--pod-addresses`. Dropping it kills every
//! process.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::apiserver::{Shared, Store};

static NEXT_ADDRESS: AtomicU32 = AtomicU32::new(1);

/// A pod's loopback address, unique within this test process.
fn next_address() -> Ipv4Addr {
    let n = NEXT_ADDRESS.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    Ipv4Addr::new(127, 77 + (pid % 100) as u8, (n / 250) as u8, (n % 250 + 1) as u8)
}

struct Pod {
    address: Ipv4Addr,
    child: Option<Child>,
    template_hash: String,
    restarts: u32,
    ready: bool,
}

#[derive(Default)]
struct Pods {
    by_name: HashMap<String, Pod>,
    names: BTreeMap<String, String>,
}

pub struct Kubelet {
    pods: Arc<Mutex<Pods>>,
    names_file: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Kubelet {
    /// Starts the loop against `api`, running `bleepstore` from `binary`, keeping data and logs
    /// under `work_dir`.
    pub fn start(api: Arc<Shared>, binary: PathBuf, work_dir: PathBuf) -> Self {
        let pods = Arc::new(Mutex::new(Pods::default()));
        let names_file = work_dir.join("pod-addresses");
        std::fs::create_dir_all(&work_dir).expect("create the kubelet work dir");
        std::fs::write(&names_file, "").expect("write the pod address map");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(1)).build().expect("HTTP client");
        let runner = Runner { api, binary, work_dir, pods: pods.clone(), http, names_file: names_file.clone() };
        let task = tokio::spawn(async move {
            loop {
                runner.tick().await;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        Self { pods, names_file, task }
    }

    /// The file mapping pod and service names to addresses (for `--pod-addresses`).
    pub fn names_file(&self) -> &Path {
        &self.names_file
    }

    /// The address a `<service>.<ns>.svc` or pod DNS name resolves to.
    pub fn resolve(&self, host: &str) -> Option<IpAddr> {
        let pods = self.pods.lock().unwrap_or_else(|e| e.into_inner());
        pods.names
            .iter()
            .find(|(k, _)| k.rsplit_once(':').map(|(h, _)| h) == Some(host))
            .and_then(|(_, v)| v.rsplit_once(':')?.0.parse().ok())
    }

    /// The process id of a pod's server, if it runs.
    pub fn pid(&self, pod: &str) -> Option<u32> {
        self.pods.lock().unwrap_or_else(|e| e.into_inner()).by_name.get(pod)?.child.as_ref()?.id()
    }

    /// How often a pod's process was restarted.
    pub fn restarts(&self, pod: &str) -> u32 {
        self.pods.lock().unwrap_or_else(|e| e.into_inner()).by_name.get(pod).map_or(0, |p| p.restarts)
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.task.abort();
        let mut pods = self.pods.lock().unwrap_or_else(|e| e.into_inner());
        for pod in pods.by_name.values_mut() {
            if let Some(child) = pod.child.as_mut() {
                let _ = child.start_kill();
            }
        }
    }
}

struct Runner {
    api: Arc<Shared>,
    binary: PathBuf,
    work_dir: PathBuf,
    pods: Arc<Mutex<Pods>>,
    http: reqwest::Client,
    names_file: PathBuf,
}

fn decode(value: &Value) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(value.as_str()?).ok()?;
    String::from_utf8(bytes).ok()
}

impl Runner {
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.api.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn list(&self, group: &str, plural: &str, ns: Option<&str>) -> Vec<Value> {
        let store = self.store();
        let Some(t) = store.types.iter().find(|t| t.group == group && t.plural == plural).cloned() else {
            return Vec::new();
        };
        store.list(&t, ns, &Default::default())
    }

    fn get(&self, group: &str, plural: &str, ns: &str, name: &str) -> Option<Value> {
        let store = self.store();
        let t = store.types.iter().find(|t| t.group == group && t.plural == plural).cloned()?;
        store.get(&t, ns, name).ok()
    }

    async fn tick(&self) {
        let sets = self.list("apps", "statefulsets", None);
        let mut wanted = Vec::new();
        for sts in &sets {
            let ns = sts["metadata"]["namespace"].as_str().unwrap_or_default().to_owned();
            let name = sts["metadata"]["name"].as_str().unwrap_or_default().to_owned();
            let replicas = sts["spec"]["replicas"].as_i64().unwrap_or(1);
            let template_hash = format!("{:x}", md5_like(&sts["spec"]["template"].to_string()));
            let mut ready = 0;
            for ordinal in 0..replicas {
                let pod = format!("{name}-{ordinal}");
                wanted.push(format!("{ns}/{pod}"));
                self.ensure_claims(sts, &ns, &name, ordinal);
                if self.run_pod(sts, &ns, &pod, &template_hash).await {
                    ready += 1;
                }
            }
            self.write_status(&ns, &name, sts, replicas, ready, &template_hash);
        }
        let mut pods = self.pods.lock().unwrap_or_else(|e| e.into_inner());
        pods.by_name.retain(|key, pod| {
            let keep = wanted.contains(key);
            if !keep {
                if let Some(child) = pod.child.as_mut() {
                    let _ = child.start_kill();
                }
            }
            keep
        });
        self.write_names(&mut pods, &sets);
    }

    /// The replica's claims, as a StatefulSet controller creates them; a grown request is
    /// reported as capacity at once (an expanding StorageClass).
    fn ensure_claims(&self, sts: &Value, ns: &str, name: &str, ordinal: i64) {
        for template in sts["spec"]["volumeClaimTemplates"].as_array().into_iter().flatten() {
            let claim = format!("{}-{name}-{ordinal}", template["metadata"]["name"].as_str().unwrap_or("data"));
            let mut store = self.store();
            let Some(t) = store.find_type("", "v1", "persistentvolumeclaims") else { return };
            match store.get(&t, ns, &claim) {
                Err(_) => {
                    let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                        "metadata": {"name": claim, "labels": template["metadata"]["labels"]},
                            "spec": template["spec"]});
                    let _ = store.create(&t, ns, pvc, false);
                }
                Ok(pvc) => {
                    let requested = pvc["spec"]["resources"]["requests"]["storage"].clone();
                    if pvc["status"]["capacity"]["storage"] != requested {
                        let status = json!({"status": {"phase": "Bound", "capacity": {"storage": requested}}});
                        let _ = store.update(&t, ns, &claim, status, crate::apiserver::Part::Status, false);
                    }
                }
            }
        }
    }

    /// Keeps the pod's process running the current template; returns whether it is ready.
    async fn run_pod(&self, sts: &Value, ns: &str, pod: &str, template_hash: &str) -> bool {
        let key = format!("{ns}/{pod}");
        let (address, needs_start) = {
            let mut pods = self.pods.lock().unwrap_or_else(|e| e.into_inner());
            let entry = pods.by_name.entry(key.clone()).or_insert_with(|| Pod {
                address: next_address(),
                child: None,
                template_hash: String::new(),
                restarts: 0,
                ready: false,
            });
            let exited = entry.child.as_mut().is_some_and(|c| !matches!(c.try_wait(), Ok(None)));
            let outdated = entry.template_hash != template_hash;
            if entry.child.is_some() && (exited || outdated) {
                if let Some(child) = entry.child.as_mut() {
                    let _ = child.start_kill();
                }
                entry.child = None;
                entry.restarts += 1;
                entry.ready = false;
            }
            (entry.address, entry.child.is_none())
        };
        if needs_start {
            match self.start_process(sts, ns, pod, address) {
                Ok(child) => {
                    let mut pods = self.pods.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(entry) = pods.by_name.get_mut(&key) {
                        entry.child = Some(child);
                        entry.template_hash = template_hash.to_owned();
                    }
                }
                Err(why) => {
                    eprintln!("kubelet: pod {key} cannot start yet: {why}");
                    return false;
                }
            }
        }
        let container = &sts["spec"]["template"]["spec"]["containers"][0];
        let probe = &container["readinessProbe"]["httpGet"];
        let port = match &probe["port"] {
            Value::String(name) => container["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == name.as_str())
                .and_then(|p| p["containerPort"].as_i64()),
            other => other.as_i64(),
        };
        let ready = match (probe["path"].as_str(), port) {
            (Some(path), Some(port)) => {
                let url = format!("http://{address}:{port}{path}");
                self.http.get(url).send().await.is_ok_and(|r| r.status().is_success())
            }
            _ => true,
        };
        if let Some(entry) = self.pods.lock().unwrap_or_else(|e| e.into_inner()).by_name.get_mut(&key) {
            entry.ready = ready;
        }
        ready
    }

    fn start_process(&self, sts: &Value, ns: &str, pod: &str, address: Ipv4Addr) -> Result<Child, String> {
        let spec = &sts["spec"]["template"]["spec"];
        let container = &spec["containers"][0];
        let pod_dir = self.work_dir.join(ns).join(pod);
        let mut rewrites: Vec<(String, String)> = Vec::new();
        for mount in container["volumeMounts"].as_array().into_iter().flatten() {
            let volume_name = mount["name"].as_str().unwrap_or_default();
            let mount_path = mount["mountPath"].as_str().unwrap_or_default();
            let local = pod_dir.join("volumes").join(volume_name);
            std::fs::create_dir_all(&local).map_err(|e| e.to_string())?;
            let volume = spec["volumes"].as_array().into_iter().flatten().find(|v| v["name"] == volume_name);
            match volume {
                Some(v) if v.get("configMap").is_some() => {
                    let name = v["configMap"]["name"].as_str().unwrap_or_default();
                    let cm = self.get("", "configmaps", ns, name).ok_or(format!("ConfigMap {name} not found"))?;
                    for (file, text) in cm["data"].as_object().into_iter().flatten() {
                        std::fs::write(local.join(file), text.as_str().unwrap_or_default())
                            .map_err(|e| e.to_string())?;
                    }
                }
                Some(v) if v.get("secret").is_some() => {
                    let name = v["secret"]["secretName"].as_str().unwrap_or_default();
                    let secret = self.get("", "secrets", ns, name).ok_or(format!("Secret {name} not found"))?;
                    for (file, data) in secret["data"].as_object().into_iter().flatten() {
                        std::fs::write(local.join(file), decode(data).unwrap_or_default())
                            .map_err(|e| e.to_string())?;
                    }
                }
                // A claim (or anything else): a directory that outlives the process.
                _ => {}
            }
            rewrites.push((mount_path.to_owned(), local.to_string_lossy().into_owned()));
        }
        // Longest mount paths first, so /etc/a/b is not rewritten as /etc/a + /b.
        rewrites.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        let rewrite = |text: &str| {
            let mut out = text.replace("0.0.0.0:", &format!("{address}:"));
            for (from, to) in &rewrites {
                out = out.replace(from.as_str(), to);
            }
            out
        };
        for (_, local) in &rewrites {
            for entry in std::fs::read_dir(local).map_err(|e| e.to_string())?.flatten() {
                if entry.path().extension().is_some_and(|e| e == "yaml") {
                    let text = std::fs::read_to_string(entry.path()).map_err(|e| e.to_string())?;
                    std::fs::write(entry.path(), rewrite(&text)).map_err(|e| e.to_string())?;
                }
            }
        }
        let mut command = Command::new(&self.binary);
        command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
        for env in container["env"].as_array().into_iter().flatten() {
            let name = env["name"].as_str().unwrap_or_default();
            let value = match (&env["value"], &env["valueFrom"]["secretKeyRef"]) {
                (Value::String(v), _) => v.clone(),
                (_, r) if r.is_object() => {
                    let secret_name = r["name"].as_str().unwrap_or_default();
                    let secret =
                        self.get("", "secrets", ns, secret_name).ok_or(format!("Secret {secret_name} not found"))?;
                    decode(&secret["data"][r["key"].as_str().unwrap_or_default()])
                        .ok_or(format!("Secret {secret_name} lacks its key"))?
                }
                _ => String::new(),
            };
            command.env(name, value);
        }
        for arg in container["args"].as_array().into_iter().flatten() {
            command.arg(rewrite(arg.as_str().unwrap_or_default()));
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(pod_dir.join("log"))
            .map_err(|e| e.to_string())?;
        command.stdout(log.try_clone().map_err(|e| e.to_string())?).stderr(log).kill_on_drop(true);
        command.spawn().map_err(|e| format!("cannot run {}: {e}", self.binary.display()))
    }

    fn write_status(&self, ns: &str, name: &str, sts: &Value, replicas: i64, ready: i64, revision: &str) {
        let mut store = self.store();
        let Some(t) = store.find_type("apps", "v1", "statefulsets") else { return };
        let status = json!({"status": {
            "observedGeneration": sts["metadata"]["generation"], "replicas": replicas, "readyReplicas": ready,
            "availableReplicas": ready, "currentReplicas": replicas, "updatedReplicas": replicas,
            "currentRevision": revision, "updateRevision": revision}});
        let _ = store.update(&t, ns, name, status, crate::apiserver::Part::Status, false);
    }

    /// Pod and Service names to addresses, for the operator and for test clients.
    fn write_names(&self, pods: &mut Pods, sets: &[Value]) {
        let mut names = BTreeMap::new();
        let services = self.list("", "services", None);
        for sts in sets {
            let ns = sts["metadata"]["namespace"].as_str().unwrap_or_default();
            let name = sts["metadata"]["name"].as_str().unwrap_or_default();
            let service = sts["spec"]["serviceName"].as_str().unwrap_or_default();
            let labels = &sts["spec"]["template"]["metadata"]["labels"];
            let ports: Vec<i64> = sts["spec"]["template"]["spec"]["containers"][0]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["containerPort"].as_i64())
                .collect();
            let Some(pod) = pods.by_name.get(&format!("{ns}/{name}-0")) else { continue };
            for port in &ports {
                names.insert(format!("{name}-0.{service}.{ns}.svc:{port}"), format!("{}:{port}", pod.address));
            }
            for svc in services.iter().filter(|s| s["metadata"]["namespace"] == ns) {
                let selects = svc["spec"]["selector"]
                    .as_object()
                    .is_some_and(|sel| !sel.is_empty() && sel.iter().all(|(k, v)| labels[k] == *v));
                if selects {
                    for port in svc["spec"]["ports"].as_array().into_iter().flatten().filter_map(|p| p["port"].as_i64())
                    {
                        names.insert(
                            format!("{}.{ns}.svc:{port}", svc["metadata"]["name"].as_str().unwrap_or_default()),
                            format!("{}:{port}", pod.address),
                        );
                    }
                }
            }
        }
        if names != pods.names {
            let text: String = names.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
            let _ = std::fs::write(&self.names_file, text);
            pods.names = names;
        }
    }
}

/// A stable digest of a pod template (change detection only).
fn md5_like(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

//! The process kubelet: registers a Node, keeps its Lease and status fresh, and runs every pod
//! the scheduler binds to it whose images are this workspace's binaries ([`images`]), as local
//! processes in namespaces of their own ([`runtime`]). It acts as the node's own user
//! (`system:node:<name>`), so the Node authorizer and the NodeRestriction admission plugin
//! apply to it as to a real kubelet.
//!
//! [`images`]: crate::images

mod env;
mod logs;
mod probe;
mod runtime;
mod volumes;
mod worker;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::Api;
use serde_json::json;

use crate::sandbox::NODE_IP;

/// The node's name.
pub const NODE: &str = "e2e-node";

/// What the pod workers share.
pub(crate) struct Shared {
    pub(crate) client: kube::Client,
    pub(crate) pods: reflector::Store<Pod>,
    pub(crate) work: PathBuf,
    pub(crate) script: PathBuf,
    pub(crate) http: reqwest::Client,
    /// `namespace/pod/container` → the running process's pid.
    processes: Mutex<HashMap<String, u32>>,
}

impl Shared {
    pub(crate) fn pod(&self, uid: &str) -> Option<Pod> {
        self.pods.state().into_iter().find(|p| p.metadata.uid.as_deref() == Some(uid)).map(|p| (*p).clone())
    }

    pub(crate) fn remember(&self, key: &str, pid: u32) {
        self.processes.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_owned(), pid);
    }

    pub(crate) fn forget(&self, key: &str) {
        self.processes.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

/// The running kubelet; dropping it stops its loops (the sandbox ends the processes).
pub struct Kubelet {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn node_object() -> serde_json::Value {
    let resources = json!({"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi"});
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": NODE, "labels": {
            "kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}},
        "status": {
            "capacity": resources, "allocatable": resources,
            "addresses": [{"type": "InternalIP", "address": NODE_IP.to_string()}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": logs::PORT}},
            "nodeInfo": {"machineID": "e2e", "systemUUID": "e2e", "bootID": "e2e", "kernelVersion": "linux",
                "osImage": "bleepstore e2e", "containerRuntimeVersion": "bleepstore-e2e://1", "kubeletVersion": "v1.36.3",
                "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"},
        }
    })
}

fn node_conditions() -> serde_json::Value {
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let condition = |kind: &str, status: &str, reason: &str| {
        json!({"type": kind, "status": status, "reason": reason, "message": reason,
            "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    json!({"status": {"conditions": [
        condition("Ready", "True", "KubeletReady"),
        condition("MemoryPressure", "False", "KubeletHasSufficientMemory"),
        condition("DiskPressure", "False", "KubeletHasNoDiskPressure"),
        condition("PIDPressure", "False", "KubeletHasSufficientPID"),
    ]}})
}

/// Registers the node, then renews its Lease every 10 s and its conditions every 30 s.
async fn heartbeat(client: kube::Client) {
    let nodes = Api::<Node>::all(client.clone());
    let leases = Api::<Lease>::namespaced(client, "kube-node-lease");
    let mut tick = 0u32;
    let mut interval = tokio::time::interval(Duration::from_secs(10));
    loop {
        interval.tick().await;
        let renew = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": NODE, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": NODE, "leaseDurationSeconds": 40, "renewTime": renew}});
        let params = PatchParams::apply("kubelet").force();
        if let Err(e) = leases.patch(NODE, &params, &Patch::Apply(&lease)).await {
            eprintln!("kubelet: node lease: {e}");
        }
        if tick.is_multiple_of(3) {
            if let Err(e) =
                nodes.patch_status(NODE, &PatchParams::default(), &Patch::Strategic(node_conditions())).await
            {
                eprintln!("kubelet: node status: {e}");
            }
        }
        tick += 1;
    }
}

impl Kubelet {
    /// Registers the node and starts running the pods bound to it. `client` acts as the node.
    /// `cert_pem` and `key_pem` serve its log port (10250).
    pub async fn start(client: kube::Client, work: PathBuf, cert_pem: String, key_pem: String) -> Result<Self> {
        let script = work.join("container.sh");
        std::fs::write(&script, runtime::CONTAINER_SH)?;
        let nodes = Api::<Node>::all(client.clone());
        let node: Node = serde_json::from_value(node_object())?;
        nodes.create(&PostParams::default(), &node).await.context("register the Node")?;
        nodes
            .patch_status(NODE, &PatchParams::default(), &Patch::Strategic(node_conditions()))
            .await
            .context("report the Node ready")?;

        let pods_api = Api::<Pod>::all(client.clone());
        let (reader, writer) = reflector::store();
        let config = watcher::Config::default().fields(&format!("spec.nodeName={NODE}"));
        let mut stream = Box::pin(watcher(pods_api, config).default_backoff().reflect(writer).applied_objects());
        let reflect = tokio::spawn(async move {
            while let Some(event) = stream.next().await {
                if let Err(e) = event {
                    eprintln!("kubelet: pod watch: {e}");
                }
            }
        });
        reader.wait_until_ready().await.context("the pod watch")?;
        let http = reqwest::Client::builder()
            .tls_danger_accept_invalid_certs(true)
            .build()
            .context("the probes' HTTP client")?;
        let shared = Arc::new(Shared {
            client: client.clone(),
            pods: reader,
            work,
            script,
            http,
            processes: Mutex::new(HashMap::new()),
        });
        let supervisor = {
            let shared = shared.clone();
            tokio::spawn(async move {
                let mut running: HashSet<String> = HashSet::new();
                let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
                let mut interval = tokio::time::interval(Duration::from_millis(200));
                loop {
                    interval.tick().await;
                    while let Ok(uid) = done_rx.try_recv() {
                        running.remove(&uid);
                    }
                    for pod in shared.pods.state() {
                        let Some(uid) = pod.metadata.uid.clone() else { continue };
                        if running.insert(uid.clone()) {
                            let worker = worker::PodWorker::new(shared.clone(), &pod);
                            let done = done_tx.clone();
                            tokio::spawn(async move {
                                worker.run().await;
                                let _ = done.send(uid);
                            });
                        }
                    }
                }
            })
        };
        let beat = tokio::spawn(heartbeat(client));
        let log_port = {
            let shared = shared.clone();
            tokio::spawn(async move {
                if let Err(e) = logs::serve(shared, cert_pem, key_pem).await {
                    eprintln!("kubelet: log port: {e:#}");
                }
            })
        };
        Ok(Self { shared, tasks: vec![reflect, supervisor, beat, log_port] })
    }

    /// The pid of a running container (`namespace/pod/container`), for tests that kill it.
    pub fn pid(&self, namespace: &str, pod: &str, container: &str) -> Option<u32> {
        let processes = self.shared.processes.lock().unwrap_or_else(|e| e.into_inner());
        processes.get(&format!("{namespace}/{pod}/{container}")).copied()
    }

    /// Where a pod's container logs are: `<work>/pods/<ns>_<pod>_<uid>/<container>.log`.
    pub fn pods_dir(&self) -> PathBuf {
        self.shared.work.join("pods")
    }
}

//! Services, as kube-proxy and cluster DNS would make them reachable: a TCP proxy on each
//! ClusterIP and port that forwards to the Service's ready endpoints (from the EndpointSlices the
//! controller manager writes), and the sandbox's `/etc/hosts` with `<svc>.<ns>.svc` (and
//! `.svc.cluster.local`) for every Service and `<hostname>.<svc>.<ns>.svc` for the endpoints of
//! headless Services (StatefulSet pods). Every process in the sandbox, pods included, reads that
//! file, so names resolve as soon as they exist. Short names (`<svc>`, `<svc>.<ns>`) need a
//! resolver's search list and are not offered.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;

/// The proxy and names; dropping it stops them.
pub struct Services {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Services {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// One ClusterIP:port listener and where it forwards.
struct Listener {
    backends: Arc<RwLock<Vec<SocketAddr>>>,
    task: tokio::task::JoinHandle<()>,
}

async fn serve(listener: tokio::net::TcpListener, backends: Arc<RwLock<Vec<SocketAddr>>>) {
    let next = AtomicUsize::new(0);
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else { continue };
        let candidates = backends.read().unwrap_or_else(|e| e.into_inner()).clone();
        if candidates.is_empty() {
            // No ready endpoint: the connection is refused, as kube-proxy's REJECT rule does.
            continue;
        }
        let target = candidates[next.fetch_add(1, Ordering::Relaxed) % candidates.len()];
        tokio::spawn(async move {
            if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

/// The ready endpoints of each Service port: (namespace, service, port name) → addresses.
fn endpoints(slices: &[Arc<EndpointSlice>]) -> HashMap<(String, String, String), Vec<SocketAddr>> {
    let mut out: HashMap<(String, String, String), Vec<SocketAddr>> = HashMap::new();
    for slice in slices {
        let ns = slice.metadata.namespace.clone().unwrap_or_default();
        let labels = slice.metadata.labels.clone().unwrap_or_default();
        let Some(service) = labels.get("kubernetes.io/service-name") else { continue };
        for port in slice.ports.iter().flatten() {
            let Some(number) = port.port else { continue };
            let key = (ns.clone(), service.clone(), port.name.clone().unwrap_or_default());
            for endpoint in &slice.endpoints {
                let ready = endpoint.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
                if !ready {
                    continue;
                }
                for address in &endpoint.addresses {
                    if let Ok(ip) = address.parse::<std::net::IpAddr>() {
                        out.entry(key.clone()).or_default().push(SocketAddr::new(ip, number as u16));
                    }
                }
            }
        }
    }
    out
}

/// The hosts file for these Services and EndpointSlices.
fn hosts(services: &[Arc<Service>], slices: &[Arc<EndpointSlice>]) -> String {
    let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for svc in services {
        let ns = svc.metadata.namespace.clone().unwrap_or_default();
        let name = svc.metadata.name.clone().unwrap_or_default();
        let cluster_ip = svc.spec.as_ref().and_then(|s| s.cluster_ip.clone()).unwrap_or_default();
        if !cluster_ip.is_empty() && cluster_ip != "None" {
            let entry = names.entry(cluster_ip).or_default();
            entry.insert(format!("{name}.{ns}.svc"));
            entry.insert(format!("{name}.{ns}.svc.cluster.local"));
        }
    }
    for slice in slices {
        let ns = slice.metadata.namespace.clone().unwrap_or_default();
        let labels = slice.metadata.labels.clone().unwrap_or_default();
        let Some(service) = labels.get("kubernetes.io/service-name") else { continue };
        let headless = services.iter().any(|s| {
            s.metadata.namespace.as_deref() == Some(ns.as_str())
                && s.metadata.name.as_deref() == Some(service.as_str())
                && s.spec.as_ref().and_then(|x| x.cluster_ip.as_deref()) == Some("None")
        });
        if !headless {
            continue;
        }
        for endpoint in &slice.endpoints {
            let ready = endpoint.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            let Some(address) = endpoint.addresses.first() else { continue };
            let entry = names.entry(address.clone()).or_default();
            if ready {
                entry.insert(format!("{service}.{ns}.svc"));
                entry.insert(format!("{service}.{ns}.svc.cluster.local"));
            }
            if let Some(hostname) = &endpoint.hostname {
                entry.insert(format!("{hostname}.{service}.{ns}.svc"));
                entry.insert(format!("{hostname}.{service}.{ns}.svc.cluster.local"));
            }
        }
    }
    let mut text = String::from("127.0.0.1 localhost\n");
    for (ip, names) in names {
        if !names.is_empty() {
            text.push_str(&format!("{ip} {}\n", names.into_iter().collect::<Vec<_>>().join(" ")));
        }
    }
    text
}

impl Services {
    /// Starts the proxy and keeps `hosts_file` (bind-mounted on `/etc/hosts`) current.
    pub async fn start(client: kube::Client, hosts_file: PathBuf) -> Result<Self> {
        let (services, services_task) = crate::cache::reflect(Api::<Service>::all(client.clone()));
        let (slices, slices_task) = crate::cache::reflect(Api::<EndpointSlice>::all(client));
        services.wait_until_ready().await?;
        slices.wait_until_ready().await?;
        let sync = tokio::spawn(async move {
            let mut listeners: HashMap<SocketAddr, Listener> = HashMap::new();
            let mut written = String::new();
            let mut interval = tokio::time::interval(Duration::from_millis(200));
            loop {
                interval.tick().await;
                let all_services = services.state();
                let all_slices = slices.state();
                let ready = endpoints(&all_slices);
                let mut wanted: HashMap<SocketAddr, Vec<SocketAddr>> = HashMap::new();
                for svc in &all_services {
                    let Some(spec) = &svc.spec else { continue };
                    let Some(ip) = spec.cluster_ip.as_deref().and_then(|ip| ip.parse::<std::net::IpAddr>().ok()) else {
                        continue;
                    };
                    let ns = svc.metadata.namespace.clone().unwrap_or_default();
                    let name = svc.metadata.name.clone().unwrap_or_default();
                    for port in spec.ports.iter().flatten() {
                        if port.protocol.as_deref().unwrap_or("TCP") != "TCP" {
                            continue;
                        }
                        let key = (ns.clone(), name.clone(), port.name.clone().unwrap_or_default());
                        wanted.insert(
                            SocketAddr::new(ip, port.port as u16),
                            ready.get(&key).cloned().unwrap_or_default(),
                        );
                    }
                }
                listeners.retain(|addr, listener| {
                    let keep = wanted.contains_key(addr);
                    if !keep {
                        listener.task.abort();
                    }
                    keep
                });
                for (addr, backends) in wanted {
                    if let Some(listener) = listeners.get(&addr) {
                        *listener.backends.write().unwrap_or_else(|e| e.into_inner()) = backends;
                        continue;
                    }
                    match tokio::net::TcpListener::bind(addr).await {
                        Ok(socket) => {
                            let backends = Arc::new(RwLock::new(backends));
                            let task = tokio::spawn(serve(socket, backends.clone()));
                            listeners.insert(addr, Listener { backends, task });
                        }
                        Err(e) => eprintln!("services: cannot listen on {addr}: {e}"),
                    }
                }
                let text = hosts(&all_services, &all_slices);
                if text != written {
                    // In place: the file is bind-mounted, a rename would leave the mount behind.
                    match std::fs::write(&hosts_file, &text) {
                        Ok(()) => written = text,
                        Err(e) => eprintln!("services: write {}: {e}", hosts_file.display()),
                    }
                }
            }
        });
        Ok(Self { tasks: vec![services_task, slices_task, sync] })
    }
}

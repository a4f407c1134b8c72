//! Probes: `httpGet` (HTTP or HTTPS without verification, success is 200–399) and `tcpSocket`,
//! against the pod's address, on the probe's schedule and thresholds.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::time::Instant;

/// A probe's schedule and counters.
pub(crate) struct Schedule {
    next: Instant,
    successes: i32,
    failures: i32,
}

/// What a probe concluded after a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not due, or within thresholds: nothing changes.
    Unchanged,
    Succeeded,
    Failed,
}

impl Schedule {
    /// A probe that first runs `initialDelaySeconds` after `started`.
    pub(crate) fn new(probe: &Probe, started: Instant) -> Self {
        let delay = Duration::from_secs(probe.initial_delay_seconds.unwrap_or(0).max(0) as u64);
        Self { next: started + delay, successes: 0, failures: 0 }
    }

    /// Runs the probe if it is due; says when a threshold is crossed.
    pub(crate) async fn run(
        &mut self,
        probe: &Probe,
        container: &Container,
        pod_ip: &str,
        http: &reqwest::Client,
    ) -> Verdict {
        let now = Instant::now();
        if now < self.next {
            return Verdict::Unchanged;
        }
        self.next = now + Duration::from_secs(probe.period_seconds.unwrap_or(10).max(1) as u64);
        let timeout = Duration::from_secs(probe.timeout_seconds.unwrap_or(1).max(1) as u64);
        if check(probe, container, pod_ip, http, timeout).await {
            self.failures = 0;
            self.successes += 1;
            if self.successes >= probe.success_threshold.unwrap_or(1) {
                return Verdict::Succeeded;
            }
        } else {
            self.successes = 0;
            self.failures += 1;
            if self.failures >= probe.failure_threshold.unwrap_or(3) {
                return Verdict::Failed;
            }
        }
        Verdict::Unchanged
    }
}

/// A port by number or by the container port's name.
fn port(port: &IntOrString, container: &Container) -> Option<i32> {
    match port {
        IntOrString::Int(n) => Some(*n),
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port),
    }
}

async fn check(probe: &Probe, container: &Container, pod_ip: &str, http: &reqwest::Client, timeout: Duration) -> bool {
    if let Some(get) = &probe.http_get {
        let Some(port) = port(&get.port, container) else { return false };
        let scheme = get.scheme.as_deref().unwrap_or("HTTP").to_ascii_lowercase();
        let host = get.host.as_deref().unwrap_or(pod_ip);
        let url = format!("{scheme}://{host}:{port}{}", get.path.as_deref().unwrap_or("/"));
        let mut request = http.get(url).timeout(timeout);
        for header in get.http_headers.iter().flatten() {
            request = request.header(&header.name, &header.value);
        }
        return request.send().await.is_ok_and(|r| (200..400).contains(&r.status().as_u16()));
    }
    if let Some(tcp) = &probe.tcp_socket {
        let Some(port) = port(&tcp.port, container) else { return false };
        let host = tcp.host.as_deref().unwrap_or(pod_ip);
        let connect = tokio::net::TcpStream::connect(format!("{host}:{port}"));
        return matches!(tokio::time::timeout(timeout, connect).await, Ok(Ok(_)));
    }
    // exec and grpc probes are not supported here: they fail, visibly.
    false
}

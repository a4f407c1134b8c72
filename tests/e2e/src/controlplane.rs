//! etcd and the Kubernetes control plane (kube-apiserver, kube-controller-manager,
//! kube-scheduler), built from source by `controlplane/build.sh` and run as processes.
//!
//! The API server authorizes with Node and RBAC, issues service-account tokens, runs its default
//! admission plugins plus `OwnerReferencesPermissionEnforcement`, and writes an audit log (every
//! request's user, verb, resource and answer) that the suite reads to check the chart's RBAC.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::process::{Child, Command};

use crate::pki::{Pki, User};
use crate::sandbox::{path, NODE_IP, POD_CIDR, SERVICE_CIDR};

/// The API server's secure port on [`NODE_IP`].
pub const API_PORT: u16 = 6443;

/// Where the binaries are: `BLEEPSTORE_CONTROLPLANE_BIN`, else what `controlplane/build.sh`
/// builds (or finds cached) and prints.
pub fn binaries() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("BLEEPSTORE_CONTROLPLANE_BIN") {
        return Ok(dir.into());
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/controlplane/build.sh");
    let out = std::process::Command::new(script)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("run {script} (needs Go and the Go module proxy)"))?;
    if !out.status.success() {
        bail!("{script} failed");
    }
    let text = String::from_utf8(out.stdout).context("build.sh's output")?;
    Ok(PathBuf::from(text.lines().last().context("build.sh printed no directory")?.trim()))
}

/// The running control plane. Dropping it kills its processes (the sandbox would anyway).
pub struct ControlPlane {
    pub pki: Pki,
    pub bin: PathBuf,
    pub work: PathBuf,
    /// `https://10.244.0.1:6443`
    pub server: String,
    /// The admin kubeconfig (for kubectl and helm).
    pub kubeconfig: PathBuf,
    pub audit_log: PathBuf,
    children: Vec<Child>,
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        // The scheduler and controllers first, etcd last: an API server without etcd retries
        // for minutes before it exits.
        for child in self.children.iter_mut().rev() {
            let _ = child.start_kill();
        }
    }
}

fn spawn(bin: &Path, name: &str, args: &[String], logs: &Path) -> Result<Child> {
    let log = std::fs::File::create(logs.join(format!("{name}.log")))?;
    Command::new(bin.join(name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {name}"))
}

const AUDIT_POLICY: &str = "apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  # Service accounts (the operator among them): who called what, and the answer.
  - level: Metadata
    userGroups: [\"system:serviceaccounts\"]
  - level: None
";

impl ControlPlane {
    /// Starts etcd, the API server, the controller manager and the scheduler, and waits until
    /// the API server is ready. `node` is the kubelet's node name (its token is made here).
    pub async fn start(work: &Path, node: &str) -> Result<Self> {
        let bin = binaries()?;
        let pki = Pki::generate(&work.join("pki"), node)?;
        let logs = work.join("logs");
        std::fs::create_dir_all(&logs)?;
        let server = format!("https://{NODE_IP}:{API_PORT}");
        let kubeconfig = work.join("kubeconfig");
        std::fs::write(&kubeconfig, pki.kubeconfig(&server, &pki.admin, "default"))?;
        let component_config = |pki: &Pki, user: &User, name: &str| -> Result<String> {
            let file = work.join(format!("{name}.kubeconfig"));
            std::fs::write(&file, pki.kubeconfig(&format!("https://{NODE_IP}:{API_PORT}"), user, "kube-system"))?;
            path(&file)
        };
        let policy = work.join("audit-policy.yaml");
        std::fs::write(&policy, AUDIT_POLICY)?;
        let audit_log = logs.join("audit.log");
        let p = |p: &Path| path(p);

        let mut children = Vec::new();
        let etcd_dir = work.join("etcd");
        children.push(spawn(
            &bin,
            "etcd",
            &[
                "--name=e2e".to_owned(),
                format!("--data-dir={}", p(&etcd_dir)?),
                "--listen-client-urls=http://127.0.0.1:2379".to_owned(),
                "--advertise-client-urls=http://127.0.0.1:2379".to_owned(),
                "--listen-peer-urls=http://127.0.0.1:2380".to_owned(),
                "--initial-advertise-peer-urls=http://127.0.0.1:2380".to_owned(),
                "--initial-cluster=e2e=http://127.0.0.1:2380".to_owned(),
                // A test cluster's etcd need not survive a power cut; fsyncs would dominate.
                "--unsafe-no-fsync".to_owned(),
                "--log-level=warn".to_owned(),
            ],
            &logs,
        )?);
        children.push(spawn(
            &bin,
            "kube-apiserver",
            &[
                "--etcd-servers=http://127.0.0.1:2379".to_owned(),
                "--bind-address=0.0.0.0".to_owned(),
                format!("--secure-port={API_PORT}"),
                format!("--advertise-address={NODE_IP}"),
                format!("--tls-cert-file={}", p(&pki.serving_cert)?),
                format!("--tls-private-key-file={}", p(&pki.serving_key)?),
                format!("--client-ca-file={}", p(&pki.ca_cert)?),
                format!("--token-auth-file={}", p(&pki.tokens)?),
                "--authorization-mode=Node,RBAC".to_owned(),
                "--kubelet-preferred-address-types=InternalIP".to_owned(),
                format!("--kubelet-certificate-authority={}", p(&pki.ca_cert)?),
                "--enable-admission-plugins=OwnerReferencesPermissionEnforcement".to_owned(),
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local".to_owned(),
                format!("--service-account-key-file={}", p(&pki.service_account_public)?),
                format!("--service-account-signing-key-file={}", p(&pki.service_account_key)?),
                format!("--service-cluster-ip-range={SERVICE_CIDR}"),
                format!("--audit-policy-file={}", p(&policy)?),
                format!("--audit-log-path={}", p(&audit_log)?),
                "--audit-log-maxsize=0".to_owned(),
                "--profiling=false".to_owned(),
            ],
            &logs,
        )?);
        let mut plane = Self { pki, bin, work: work.to_owned(), server, kubeconfig, audit_log, children };
        plane.wait_ready().await?;
        let kcm = component_config(&plane.pki, &plane.pki.controller_manager, "controller-manager")?;
        plane.children.push(spawn(
            &plane.bin,
            "kube-controller-manager",
            &[
                format!("--kubeconfig={kcm}"),
                format!("--authentication-kubeconfig={kcm}"),
                format!("--authorization-kubeconfig={kcm}"),
                "--use-service-account-credentials=true".to_owned(),
                format!("--service-account-private-key-file={}", p(&plane.pki.service_account_key)?),
                format!("--root-ca-file={}", p(&plane.pki.ca_cert)?),
                format!("--cluster-signing-cert-file={}", p(&plane.pki.ca_cert)?),
                format!("--cluster-signing-key-file={}", p(&plane.pki.ca_key)?),
                format!("--service-cluster-ip-range={SERVICE_CIDR}"),
                format!("--cluster-cidr={POD_CIDR}"),
                "--leader-elect=false".to_owned(),
                "--bind-address=127.0.0.1".to_owned(),
                "--secure-port=10257".to_owned(),
                "--profiling=false".to_owned(),
            ],
            &logs,
        )?);
        let scheduler = component_config(&plane.pki, &plane.pki.scheduler, "scheduler")?;
        plane.children.push(spawn(
            &plane.bin,
            "kube-scheduler",
            &[
                format!("--kubeconfig={scheduler}"),
                format!("--authentication-kubeconfig={scheduler}"),
                format!("--authorization-kubeconfig={scheduler}"),
                "--leader-elect=false".to_owned(),
                "--bind-address=127.0.0.1".to_owned(),
                "--secure-port=10259".to_owned(),
                "--profiling=false".to_owned(),
            ],
            &logs,
        )?);
        Ok(plane)
    }

    /// Polls `/readyz` (every 200 ms, up to 60 s) until the API server answers 200.
    async fn wait_ready(&mut self) -> Result<()> {
        let client = self.client(&self.pki.admin).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut interval = tokio::time::interval(Duration::from_millis(200));
        loop {
            interval.tick().await;
            for (name, child) in ["etcd", "kube-apiserver"].iter().zip(self.children.iter_mut()) {
                if let Some(status) = child.try_wait()? {
                    bail!("{name} exited ({status}): see {}/logs/{name}.log", self.work.display());
                }
            }
            let request = http::Request::get("/readyz").body(Vec::new())?;
            if client.request_text(request).await.is_ok() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("the API server was not ready within 60 s: see {}/logs", self.work.display());
            }
        }
    }

    /// A client acting as `user`.
    pub async fn client(&self, user: &User) -> Result<kube::Client> {
        let text = self.pki.kubeconfig(&self.server, user, "default");
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&text)?;
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// Whether any control-plane process exited, and which.
    pub fn exited(&mut self) -> Option<String> {
        let names = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"];
        names
            .iter()
            .zip(self.children.iter_mut())
            .find_map(|(name, child)| child.try_wait().ok().flatten().map(|s| format!("{name} exited ({s})")))
    }
}

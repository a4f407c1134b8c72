//! A whole test cluster: the control plane, the node (kubelet), Services and storage, plus
//! `kubectl` (built with the control plane) and `helm` (from the chart tests' venv) pointed at
//! it with an administrator's kubeconfig.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{bail, Context, Result};

use crate::controlplane::ControlPlane;
use crate::kubelet::{Kubelet, NODE};
use crate::services::Services;
use crate::storage::Storage;

/// Where `helm` is: `BLEEPSTORE_HELM`, else the venv `tests/chart/helm.sh` makes.
fn helm_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("BLEEPSTORE_HELM") {
        return Ok(path.into());
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../chart/helm.sh");
    let out = Command::new(script).stderr(Stdio::inherit()).output().with_context(|| format!("run {script}"))?;
    if !out.status.success() {
        bail!("{script} failed");
    }
    let venv = String::from_utf8(out.stdout)?;
    Ok(PathBuf::from(venv.trim()).join("bin/helm"))
}

pub struct Cluster {
    pub work: PathBuf,
    pub plane: ControlPlane,
    pub kubelet: Kubelet,
    /// An administrator (system:masters).
    pub admin: kube::Client,
    helm: PathBuf,
    _services: Services,
    _storage: Storage,
}

impl Cluster {
    /// Starts everything under `work` (inside the sandbox, after [`crate::sandbox::prepare`]).
    pub async fn start(work: &Path) -> Result<Self> {
        let helm = helm_binary()?;
        let plane = ControlPlane::start(work, NODE).await?;
        let admin = plane.client(&plane.pki.admin).await?;
        let node = plane.client(&plane.pki.kubelet).await?;
        let services = Services::start(admin.clone(), work.join("hosts")).await?;
        let storage = Storage::start(admin.clone(), work.join("volumes")).await?;
        let (cert, key) = (plane.pki.kubelet_cert_pem.clone(), plane.pki.kubelet_key_pem.clone());
        let kubelet = Kubelet::start(node, work.to_owned(), cert, key).await?;
        std::fs::create_dir_all(work.join("home"))?;
        Ok(Self { work: work.to_owned(), plane, kubelet, admin, helm, _services: services, _storage: storage })
    }

    fn tool(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .env("KUBECONFIG", &self.plane.kubeconfig)
            .env("HOME", self.work.join("home"))
            .env("HELM_CACHE_HOME", self.work.join("home/helm-cache"))
            .env("HELM_CONFIG_HOME", self.work.join("home/helm-config"))
            .env("HELM_DATA_HOME", self.work.join("home/helm-data"));
        command
    }

    /// Runs kubectl (the control plane's own build) with the administrator's kubeconfig.
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run(self.tool(&self.plane.bin.join("kubectl")), args, stdin)
    }

    /// Runs helm with the administrator's kubeconfig.
    pub fn helm(&self, args: &[&str]) -> Output {
        run(self.tool(&self.helm), args, None)
    }
}

fn run(mut command: Command, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    command.args(args).stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("start a tool");
    if let Some(text) = stdin {
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("wait for a tool")
}

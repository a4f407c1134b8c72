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

/// A tool from `var`, else from the repository script that installs it and prints its path.
fn tool_from(var: &str, script: &str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        return Ok(path.into());
    }
    let script = format!("{}/../{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(&script).stderr(Stdio::inherit()).output().with_context(|| format!("run {script}"))?;
    if !out.status.success() {
        bail!("{script} failed");
    }
    Ok(PathBuf::from(String::from_utf8(out.stdout)?.trim()))
}

/// Builds or finds everything the suites run that comes from the network (the control plane,
/// helm, the clients' venv, rclone), as the `BLEEPSTORE_*` variables that name them for the
/// process in the sandbox, which has no network.
pub fn prepare_tools() -> Result<Vec<(&'static str, PathBuf)>> {
    let tools = [
        ("BLEEPSTORE_CONTROLPLANE_BIN", crate::controlplane::binaries()?),
        ("BLEEPSTORE_HELM", tool_from("BLEEPSTORE_HELM", "chart/helm.sh")?.join_if_dir("bin/helm")),
        ("BLEEPSTORE_CLIENTS_VENV", tool_from("BLEEPSTORE_CLIENTS_VENV", "clients/venv.sh")?),
        ("BLEEPSTORE_RCLONE", tool_from("BLEEPSTORE_RCLONE", "clients/rclone.sh")?),
    ];
    Ok(tools.into())
}

/// A path, or `rest` under it when it is a directory (helm.sh prints the venv).
trait JoinIfDir {
    fn join_if_dir(self, rest: &str) -> PathBuf;
}

impl JoinIfDir for PathBuf {
    fn join_if_dir(self, rest: &str) -> PathBuf {
        if self.is_dir() {
            self.join(rest)
        } else {
            self
        }
    }
}

/// Where `helm` is (`BLEEPSTORE_HELM`, from [`prepare_tools`]).
fn helm_binary() -> Result<PathBuf> {
    std::env::var_os("BLEEPSTORE_HELM").map(PathBuf::from).context("BLEEPSTORE_HELM is not set: see prepare_tools")
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

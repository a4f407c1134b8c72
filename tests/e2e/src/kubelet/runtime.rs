//! The container runtime: a pod sandbox is a process holding a network and a UTS namespace (the
//! "pause container"), wired to the node's bridge by a veth pair; a container is a process that
//! enters the sandbox's namespaces and runs `container.sh` in a mount namespace of its own.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{bail, Context, Result};
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

use crate::sandbox::{path, NODE_IP};

/// The launcher script, written into the work directory at start.
pub(crate) const CONTAINER_SH: &str = include_str!("container.sh");

static NEXT_POD: AtomicU32 = AtomicU32::new(2);

/// A pod's network: the holder process and the pod's address.
pub(crate) struct Sandbox {
    pub(crate) ip: Ipv4Addr,
    holder: Child,
}

impl Sandbox {
    /// Makes the namespaces (hostname `hostname`) and the pod's interface `eth0` with the next
    /// free address of the pod subnet, routed through the node.
    pub(crate) async fn create(hostname: &str) -> Result<Self> {
        let n = NEXT_POD.fetch_add(1, Ordering::Relaxed);
        if n >= 250 * 250 {
            bail!("the pod subnet is exhausted");
        }
        let ip = Ipv4Addr::new(10, 244, (n / 250) as u8, (n % 250) as u8 + 1);
        let mut holder = Command::new("unshare")
            .args(["--net", "--uts", "--", "sh", "-c", "hostname \"$1\" && echo ready && exec sleep infinity", "sh"])
            .arg(hostname)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("start a pod sandbox (unshare)")?;
        let stdout = holder.stdout.take().context("the sandbox's stdout")?;
        let mut line = String::new();
        tokio::io::BufReader::new(stdout).read_line(&mut line).await?;
        if line.trim() != "ready" {
            bail!("the pod sandbox did not start: {:?}", holder.try_wait()?);
        }
        let pid = holder.id().context("the sandbox's pid")?.to_string();
        let veth = format!("veth{n}");
        run("ip", &["link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &pid]).await?;
        run("ip", &["link", "set", &veth, "master", "br0", "up"]).await?;
        let inside = format!(
            "ip link set lo up && ip addr add {ip}/16 dev eth0 && ip link set eth0 up && \
             ip route add default via {NODE_IP}"
        );
        run("nsenter", &["--target", &pid, "--net", "--", "sh", "-c", &inside]).await?;
        Ok(Self { ip, holder })
    }

    fn pid(&self) -> Result<String> {
        Ok(self.holder.id().context("the sandbox has exited")?.to_string())
    }

    /// Ends the sandbox: its namespaces and the veth pair go with the holder.
    pub(crate) async fn destroy(mut self) {
        let _ = self.holder.kill().await;
    }
}

/// What a container runs, and how.
pub(crate) struct Launch {
    pub(crate) root: PathBuf,
    /// (source on this machine, path in the container, read-only)
    pub(crate) mounts: Vec<(PathBuf, String, bool)>,
    pub(crate) user: (i64, i64),
    pub(crate) groups: Vec<i64>,
    pub(crate) read_only_root: bool,
    pub(crate) argv: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) log: PathBuf,
}

/// Starts a container in `sandbox`. `script` is the written `container.sh`.
pub(crate) fn start(sandbox: &Sandbox, script: &Path, launch: &Launch) -> Result<Child> {
    std::fs::create_dir_all(&launch.root)?;
    let mounts_file = launch.root.with_extension("mounts");
    let lines: String = launch
        .mounts
        .iter()
        .map(|(source, target, ro)| Ok(format!("{}\t{target}\t{}\n", path(source)?, if *ro { "ro" } else { "rw" })))
        .collect::<Result<_>>()?;
    std::fs::write(&mounts_file, lines)?;
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&launch.log)?;
    let groups: Vec<String> = launch.groups.iter().map(i64::to_string).collect();
    let mut command = Command::new("/usr/bin/nsenter");
    command
        .args(["--target", &sandbox.pid()?, "--net", "--uts", "--"])
        .args(["/usr/bin/unshare", "--mount", "--propagation", "private", "--", "/bin/sh"])
        .arg(script)
        .arg(&launch.root)
        .arg(&mounts_file)
        .arg(format!("{}:{}", launch.user.0, launch.user.1))
        .arg(groups.join(","))
        .arg(if launch.read_only_root { "true" } else { "false" })
        .arg("--")
        .args(&launch.argv)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    command.spawn().context("start the container (nsenter)")
}

/// Sends SIGTERM (the kubelet's polite stop).
pub(crate) async fn terminate(child: &Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
    }
}

async fn run(program: &str, args: &[&str]) -> Result<()> {
    let out = Command::new(program).args(args).output().await.with_context(|| format!("run {program}"))?;
    if !out.status.success() {
        bail!("{program} {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

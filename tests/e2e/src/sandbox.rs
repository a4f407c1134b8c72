//! The namespaces the whole cluster lives in.
//!
//! The suite re-executes itself under `unshare` in new network, mount and PID namespaces, as PID
//! 1 of the latter: when it exits, however it exits, the kernel kills every process it started
//! (etcd, the control plane, every pod). In its network namespace a bridge `br0` holds the node's
//! address ([`NODE_IP`]) and the pods' subnet; the Service subnet is routed to the loopback
//! device as local, so the [`services`](crate::services) proxy can listen on any ClusterIP. In
//! its mount namespace `/etc/hosts` is the cluster's names file and `/etc/resolv.conf` points
//! nowhere, so a name outside the cluster fails at once instead of timing out.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Set in the environment of the re-executed process.
const INSIDE: &str = "BLEEPSTORE_E2E_SANDBOX";

/// The node's address on the pod bridge: the API server advertises it, pods route through it.
pub const NODE_IP: Ipv4Addr = Ipv4Addr::new(10, 244, 0, 1);
/// The pods' subnet (on `br0`).
pub const POD_CIDR: &str = "10.244.0.0/16";
/// The Services' subnet (local on the loopback device).
pub const SERVICE_CIDR: &str = "10.96.0.0/16";
/// The `kubernetes` Service's ClusterIP (the first of [`SERVICE_CIDR`]).
pub const API_SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 1);

/// Whether this process runs inside the sandbox.
pub fn inside() -> bool {
    std::env::var_os(INSIDE).is_some()
}

/// Runs this very binary again inside new namespaces, with `env` added, and returns its exit
/// code. The PID namespace's first process is this binary, so its end ends everything it started.
pub fn reexec(env: &[(&str, std::path::PathBuf)]) -> Result<i32> {
    let exe = std::env::current_exe().context("the test binary's path")?;
    let status = Command::new("unshare")
        .args(["--net", "--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private", "--kill-child"])
        .arg("--")
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env(INSIDE, "1")
        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
        .status()
        .context("run unshare (util-linux)")?;
    Ok(status.code().unwrap_or(1))
}

/// Inside the sandbox: brings up the network and puts the cluster's names file (`hosts`, written
/// here and kept by [`services`](crate::services)) and an empty resolver configuration in place.
pub fn prepare(work: &Path) -> Result<()> {
    let cidr = format!("{NODE_IP}/16");
    run("ip", &["link", "set", "lo", "up"])?;
    run("ip", &["link", "add", "br0", "type", "bridge"])?;
    run("ip", &["addr", "add", &cidr, "dev", "br0"])?;
    run("ip", &["link", "set", "br0", "up"])?;
    run("ip", &["route", "add", "local", SERVICE_CIDR, "dev", "lo"])?;
    let hosts = work.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").context("write the hosts file")?;
    let resolv = work.join("resolv.conf");
    std::fs::write(&resolv, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n").context("write resolv.conf")?;
    run("mount", &["--bind", &path(&hosts)?, "/etc/hosts"])?;
    run("mount", &["--bind", &path(&resolv)?, "/etc/resolv.conf"])?;
    Ok(())
}

/// Runs a setup command, failing with its output.
pub fn run(program: &str, args: &[&str]) -> Result<()> {
    let out = Command::new(program).args(args).output().with_context(|| format!("run {program}"))?;
    if !out.status.success() {
        bail!("{program} {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// A path as a UTF-8 argument.
pub fn path(p: &Path) -> Result<String> {
    p.to_str().map(str::to_owned).with_context(|| format!("{} is not UTF-8", p.display()))
}

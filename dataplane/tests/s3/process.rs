//! The real `bleepstore` binary as a process: start-up output, bad configuration, and the memory
//! bound on a 1 GiB PUT and GET. The SIGKILL rounds are in `crash_loop`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use futures_util::StreamExt;

use crate::common::{client, data, ACCESS_KEY, SECRET_KEY};

pub(crate) struct Proc {
    pub child: Child,
    pub addr: SocketAddr,
    pub stdout: Vec<String>,
}

impl Proc {
    /// The management port's base URL, from the start-up banner.
    pub(crate) fn mgmt(&self) -> String {
        let line = self.stdout.iter().find_map(|l| l.trim_start().strip_prefix("management:")).unwrap();
        line.split_whitespace().next().unwrap().to_owned()
    }

    pub(crate) fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// Starts the binary on a free port over `data_dir` and waits for its "serving" line, which it
/// prints only after start-up recovery finished.
pub(crate) fn spawn(data_dir: &Path, env_root: bool) -> Proc {
    spawn_with(data_dir, env_root, &[], Stdio::null())
}

/// As [`spawn`], with more arguments (e.g. `--config FILE`) and stderr (the log) sent to `stderr`.
pub(crate) fn spawn_with(data_dir: &Path, env_root: bool, extra: &[&std::ffi::OsStr], stderr: Stdio) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bleepstore"));
    cmd.arg("--data-dir").arg(data_dir).args([
        "--listen",
        "127.0.0.1:0",
        "--management-listen",
        "127.0.0.1:0",
        "--log-level",
        "warn",
    ]);
    cmd.args(extra);
    cmd.env_remove("BLEEPSTORE_ROOT_ACCESS_KEY")
        .env_remove("BLEEPSTORE_ROOT_SECRET_KEY")
        .env_remove("BLEEPSTORE_CONFIG");
    if env_root {
        cmd.env("BLEEPSTORE_ROOT_ACCESS_KEY", ACCESS_KEY).env("BLEEPSTORE_ROOT_SECRET_KEY", SECRET_KEY);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(stderr).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stdout = Vec::new();
    let addr = loop {
        let line = lines.next().expect("bleepstore exited before serving").unwrap();
        stdout.push(line.clone());
        if let Some(addr) = line.strip_prefix("BleepStore is serving S3 at http://") {
            break addr.parse().unwrap();
        }
    };
    // Read the rest of the banner (it ends with the `try:` line).
    for line in lines.by_ref() {
        let line = line.unwrap();
        let last = line.trim_start().starts_with("try:");
        stdout.push(line);
        if last {
            break;
        }
    }
    Proc { child, addr, stdout }
}

pub(crate) fn count_files(dir: &Path) -> usize {
    walk(dir).len()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn first_start_prints_generated_credential_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = spawn(dir.path(), false);
    let banner = first.stdout.join("\n");
    let secret_line = first.stdout.iter().find(|l| l.trim_start().starts_with("secret key:")).unwrap().clone();
    assert!(banner.contains("region:      us-east-1"), "{banner}");
    assert!(secret_line.len() > 40, "{secret_line}");
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let mut second = spawn(dir.path(), false);
    let banner2 = second.stdout.join("\n");
    let secret = secret_line.split_whitespace().last().unwrap();
    assert!(!banner2.contains(secret), "the secret is never printed again: {banner2}");
    assert!(banner2.contains("root-credentials.yaml"));
    second.child.kill().unwrap();
    second.child.wait().unwrap();
}

#[test]
fn bad_config_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, "limits:\n  max_connections: 0\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bleepstore")).arg("--config").arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("limits.max_connections"));
    std::fs::write(&cfg, "listen: 127.0.0.1:0\nregoin: x\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bleepstore")).arg("--config").arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("regoin"));
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_gib_put_and_get_stay_under_100_mib_rss() {
    const SIZE: u64 = 1 << 30;
    const CHUNK: usize = 1 << 20;
    let dir = tempfile::tempdir().unwrap();
    let mut proc = spawn(dir.path(), true);
    let c = client(&format!("http://{}", proc.addr), ACCESS_KEY, SECRET_KEY, true);
    c.create_bucket().bucket("big").send().await.unwrap();
    let block = data(CHUNK, 1);
    let make_chunk = move |i: u64| {
        let mut b = block.clone();
        b[..8].copy_from_slice(&i.to_le_bytes());
        bytes::Bytes::from(b)
    };
    let mut sent = md5::Md5::default();
    for i in 0..SIZE / CHUNK as u64 {
        md5::Digest::update(&mut sent, make_chunk(i));
    }
    let sent = hex::encode(md5::Digest::finalize(sent));
    let stream =
        futures_util::stream::iter((0..SIZE / CHUNK as u64).map(move |i| Ok::<_, std::io::Error>(make_chunk(i))));
    let body =
        aws_sdk_s3::primitives::ByteStream::new(aws_smithy_types::body::SdkBody::from_body_1_x(reqwest_body(stream)));
    let put = c.put_object().bucket("big").key("gib").content_length(SIZE as i64).body(body).send().await.unwrap();
    assert_eq!(put.e_tag(), Some(format!("\"{sent}\"").as_str()));
    let got = c.get_object().bucket("big").key("gib").send().await.unwrap();
    let mut stream = got.body;
    let mut received = md5::Md5::default();
    let mut n = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        n += chunk.len() as u64;
        md5::Digest::update(&mut received, &chunk);
    }
    assert_eq!(n, SIZE);
    assert_eq!(hex::encode(md5::Digest::finalize(received)), sent);
    let peak_mib = vm_hwm_kib(proc.child.id()) / 1024;
    eprintln!("bleepstore peak RSS over a 1 GiB PUT + GET: {peak_mib} MiB");
    assert!(peak_mib < 100, "peak RSS {peak_mib} MiB");
    proc.child.kill().unwrap();
    proc.child.wait().unwrap();
}

type Frames = Result<http_body::Frame<bytes::Bytes>, std::io::Error>;

fn reqwest_body<S>(stream: S) -> http_body_util::StreamBody<impl futures_util::Stream<Item = Frames>>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>>,
{
    http_body_util::StreamBody::new(stream.map(|r| r.map(http_body::Frame::data)))
}

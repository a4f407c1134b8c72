//! The real `bleepstore` binary as a process: start-up output, SIGKILL crash rounds, and the
//! memory bound on a 1 GiB PUT and GET.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::retry::RetryConfig;
use futures_util::StreamExt;

use crate::common::{client, data, md5_hex, ACCESS_KEY, SECRET_KEY};

pub struct Proc {
    pub child: Child,
    pub addr: SocketAddr,
    pub stdout: Vec<String>,
}

/// Starts the binary on a free port over `data_dir` and waits for its "serving" line, which it
/// prints only after start-up recovery finished.
pub fn spawn(data_dir: &Path, env_root: bool) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bleepstore"));
    cmd.arg("--data-dir").arg(data_dir).args([
        "--listen",
        "127.0.0.1:0",
        "--management-listen",
        "127.0.0.1:0",
        "--log-level",
        "warn",
    ]);
    cmd.env_remove("BLEEPSTORE_ROOT_ACCESS_KEY")
        .env_remove("BLEEPSTORE_ROOT_SECRET_KEY")
        .env_remove("BLEEPSTORE_CONFIG");
    if env_root {
        cmd.env("BLEEPSTORE_ROOT_ACCESS_KEY", ACCESS_KEY).env("BLEEPSTORE_ROOT_SECRET_KEY", SECRET_KEY);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
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

fn count_files(dir: &Path) -> usize {
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

/// What the writers did: acknowledged contents per key, and writes that were in flight.
#[derive(Default)]
struct Ledger {
    acked: BTreeMap<String, Vec<u8>>,
    /// Contents sent for a key after its last acknowledgement (may or may not have landed).
    pending: BTreeMap<String, Vec<Vec<u8>>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_puts_loses_nothing_acknowledged() {
    const ROUNDS: u64 = 24;
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut rng_state = 0x9e3779b97f4a7c15u64;
    let mut next = move || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };
    for round in 0..ROUNDS {
        let mut proc = spawn(dir.path(), true);
        let c = client(&format!("http://{}", proc.addr), ACCESS_KEY, SECRET_KEY, true);
        let c = aws_sdk_s3::Client::from_conf(c.config().to_builder().retry_config(RetryConfig::disabled()).build());
        verify(&c, &ledger, dir.path()).await;
        if round == 0 {
            c.create_bucket().bucket("crash").send().await.unwrap();
        }
        let acks = Arc::new(AtomicUsize::new(0));
        let acked_signal = Arc::new(tokio::sync::Notify::new());
        let kill_after = 3 + (next() % 30) as usize;
        let mut writers = Vec::new();
        for w in 0..4u64 {
            let (c, ledger, acks, signal) = (c.clone(), ledger.clone(), acks.clone(), acked_signal.clone());
            let seed = next();
            writers.push(tokio::spawn(async move {
                for i in 0..1000u64 {
                    // Half the writes create new keys, half overwrite a hot key.
                    let key = if i % 2 == 0 { format!("r{round}-w{w}-{i}") } else { format!("hot-{w}") };
                    let body = data((seed.wrapping_add(i) % 300_000) as usize, seed ^ i);
                    ledger.lock().unwrap().pending.entry(key.clone()).or_default().push(body.clone());
                    match c.put_object().bucket("crash").key(&key).body(body.clone().into()).send().await {
                        Ok(_) => {
                            let mut l = ledger.lock().unwrap();
                            l.acked.insert(key.clone(), body);
                            l.pending.remove(&key);
                            acks.fetch_add(1, Ordering::SeqCst);
                            signal.notify_one();
                        }
                        Err(_) => return,
                    }
                }
            }));
        }
        // Kill once enough writes were acknowledged, with others in flight at random stages.
        while acks.load(Ordering::SeqCst) < kill_after {
            acked_signal.notified().await;
        }
        proc.child.kill().unwrap();
        proc.child.wait().unwrap();
        for w in writers {
            w.await.unwrap();
        }
    }
    let mut proc = spawn(dir.path(), true);
    let c = client(&format!("http://{}", proc.addr), ACCESS_KEY, SECRET_KEY, true);
    verify(&c, &ledger, dir.path()).await;
    assert!(ledger.lock().unwrap().acked.len() > 50, "the rounds acknowledged writes");
    proc.child.kill().unwrap();
    proc.child.wait().unwrap();
}

/// After a restart: every acknowledged object reads back byte-identical (or as a newer write
/// that was in flight), nothing else is visible, no temp file and no orphan blob remains.
async fn verify(c: &aws_sdk_s3::Client, ledger: &Mutex<Ledger>, data_dir: &Path) {
    let (acked, pending) = {
        let l = ledger.lock().unwrap();
        (l.acked.clone(), l.pending.clone())
    };
    let mut listed = BTreeSet::new();
    let mut token = None;
    loop {
        let Ok(page) = c.list_objects_v2().bucket("crash").set_continuation_token(token).send().await else {
            assert!(acked.is_empty(), "bucket missing with acknowledged objects");
            return;
        };
        listed.extend(page.contents().iter().map(|o| o.key().unwrap().to_owned()));
        token = page.next_continuation_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    // Objects up to the inline limit live in the database; the rest have one blob each.
    let inline_max = bleepstore::config::StorageConfig::default().inline_max_size as usize;
    let mut blob_backed = 0;
    for key in &listed {
        let got = c.get_object().bucket("crash").key(key).send().await.unwrap();
        let bytes = got.body.collect().await.unwrap().into_bytes();
        blob_backed += usize::from(bytes.len() > inline_max);
        let ok_acked = acked.get(key).is_some_and(|b| b[..] == bytes[..]);
        let ok_pending = pending.get(key).is_some_and(|v| v.iter().any(|b| b[..] == bytes[..]));
        assert!(
            ok_acked || ok_pending,
            "{key}: {} bytes, md5 {}, matches no write that was sent",
            bytes.len(),
            md5_hex(&bytes)
        );
    }
    for key in acked.keys() {
        assert!(listed.contains(key), "acknowledged {key} was lost");
    }
    assert_eq!(count_files(&data_dir.join("tmp")), 0, "temp files remain after recovery");
    assert_eq!(count_files(&data_dir.join("blobs")), blob_backed, "orphan blobs remain after recovery");
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

fn reqwest_body<S>(
    stream: S,
) -> http_body_util::StreamBody<impl futures_util::Stream<Item = Result<http_body::Frame<bytes::Bytes>, std::io::Error>>>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>>,
{
    http_body_util::StreamBody::new(stream.map(|r| r.map(http_body::Frame::data)))
}

/// Blobs the store should hold: one per single-blob object, one per manifest part, one per
/// part of an upload still in progress.
async fn expected_blobs(c: &aws_sdk_s3::Client, bucket: &str) -> usize {
    let mut n = 0;
    let listed = c.list_objects_v2().bucket(bucket).send().await.unwrap();
    for o in listed.contents() {
        let head = c.head_object().bucket(bucket).key(o.key().unwrap()).part_number(1).send().await.unwrap();
        n += head.parts_count().unwrap_or(1) as usize;
    }
    let uploads = c.list_multipart_uploads().bucket(bucket).send().await.unwrap();
    for u in uploads.uploads() {
        let parts =
            c.list_parts().bucket(bucket).key(u.key().unwrap()).upload_id(u.upload_id().unwrap()).send().await.unwrap();
        n += parts.parts().len();
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_multipart_completes_and_aborts() {
    const ROUNDS: u64 = 20;
    const PART: usize = 5 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    // key -> content of an acknowledged completion; keys whose completion was in flight.
    let completed: Arc<Mutex<BTreeMap<String, Vec<u8>>>> = Arc::default();
    let in_flight: Arc<Mutex<BTreeMap<String, Vec<u8>>>> = Arc::default();
    let aborted: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let mut seed = 7u64;
    for round in 0..=ROUNDS {
        let mut proc = spawn(dir.path(), true);
        let c = client(&format!("http://{}", proc.addr), ACCESS_KEY, SECRET_KEY, true);
        let c = aws_sdk_s3::Client::from_conf(c.config().to_builder().retry_config(RetryConfig::disabled()).build());
        if round == 0 {
            c.create_bucket().bucket("mpcrash").send().await.unwrap();
        }
        // Recovery held: acknowledged completions read back, nothing else is visible,
        // aborted uploads are gone, and the blob files are exactly the ones still used.
        let listed: BTreeSet<String> = c
            .list_objects_v2()
            .bucket("mpcrash")
            .send()
            .await
            .unwrap()
            .contents()
            .iter()
            .map(|o| o.key().unwrap().to_owned())
            .collect();
        let acknowledged = completed.lock().unwrap().clone();
        for (key, body) in acknowledged {
            assert!(listed.contains(&key), "acknowledged completion {key} lost");
            let got = c
                .get_object()
                .bucket("mpcrash")
                .key(&key)
                .send()
                .await
                .unwrap()
                .body
                .collect()
                .await
                .unwrap()
                .into_bytes();
            assert!(got[..] == body[..], "{key} changed");
        }
        for key in &listed {
            assert!(
                completed.lock().unwrap().contains_key(key) || in_flight.lock().unwrap().contains_key(key),
                "phantom object {key}"
            );
        }
        let uploads = c.list_multipart_uploads().bucket("mpcrash").send().await.unwrap();
        for u in uploads.uploads() {
            assert!(!aborted.lock().unwrap().contains(u.upload_id().unwrap()), "an acknowledged abort came back");
        }
        assert_eq!(count_files(&dir.path().join("tmp")), 0);
        assert_eq!(
            count_files(&dir.path().join("blobs")),
            expected_blobs(&c, "mpcrash").await,
            "round {round}: orphan or missing blobs"
        );
        if round == ROUNDS {
            proc.child.kill().unwrap();
            proc.child.wait().unwrap();
            break;
        }
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let kill_after = 1 + (seed >> 33) as usize % 6;
        let acks = Arc::new(AtomicUsize::new(0));
        let signal = Arc::new(tokio::sync::Notify::new());
        let mut workers = Vec::new();
        for w in 0..3u64 {
            let (c, acks, signal) = (c.clone(), acks.clone(), signal.clone());
            let (completed, in_flight, aborted) = (completed.clone(), in_flight.clone(), aborted.clone());
            workers.push(tokio::spawn(async move {
                for i in 0..100u64 {
                    let key = format!("r{round}-w{w}-{i}");
                    let Ok(create) = c.create_multipart_upload().bucket("mpcrash").key(&key).send().await else {
                        return;
                    };
                    let id = create.upload_id().unwrap().to_owned();
                    let (p1, p2) = (data(PART, round * 1000 + w * 100 + i), data(1000 + i as usize, i));
                    let mut parts = Vec::new();
                    for (n, body) in [(1, p1.clone()), (2, p2.clone())] {
                        let Ok(out) = c
                            .upload_part()
                            .bucket("mpcrash")
                            .key(&key)
                            .upload_id(&id)
                            .part_number(n)
                            .body(body.into())
                            .send()
                            .await
                        else {
                            return;
                        };
                        parts.push(
                            aws_sdk_s3::types::CompletedPart::builder()
                                .part_number(n)
                                .e_tag(out.e_tag().unwrap())
                                .build(),
                        );
                    }
                    if i % 2 == 0 {
                        let content = [p1, p2].concat();
                        in_flight.lock().unwrap().insert(key.clone(), content.clone());
                        let done =
                            aws_sdk_s3::types::CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
                        if c.complete_multipart_upload()
                            .bucket("mpcrash")
                            .key(&key)
                            .upload_id(&id)
                            .multipart_upload(done)
                            .send()
                            .await
                            .is_err()
                        {
                            return;
                        }
                        in_flight.lock().unwrap().remove(&key);
                        completed.lock().unwrap().insert(key, content);
                    } else {
                        if c.abort_multipart_upload().bucket("mpcrash").key(&key).upload_id(&id).send().await.is_err() {
                            return;
                        }
                        aborted.lock().unwrap().insert(id);
                    }
                    acks.fetch_add(1, Ordering::SeqCst);
                    signal.notify_one();
                }
            }));
        }
        while acks.load(Ordering::SeqCst) < kill_after {
            signal.notified().await;
        }
        proc.child.kill().unwrap();
        proc.child.wait().unwrap();
        for w in workers {
            w.await.unwrap();
        }
    }
    assert!(
        completed.lock().unwrap().len() >= 5 && aborted.lock().unwrap().len() >= 5,
        "the rounds completed and aborted uploads"
    );
}

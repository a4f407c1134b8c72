//! Faults injected into a real `bleepstore` process. Each test asserts that nothing acknowledged
//! is lost, nothing half-written is visible, readiness says what is wrong, and the store
//! recovers by itself:
//! - a full volume: a small tmpfs mounted in a private mount namespace (`unshare --user
//!   --map-root-user --mount`, so no privilege is needed), filled mid-PUT, mid-multipart, and
//!   until SQLite cannot grow (SQLITE_FULL);
//! - SQLite's write lock held by another connection (SQLITE_BUSY);
//! - a volume that refuses writes (immutable files, `chattr +i`);
//! - SIGKILL while SQLite checkpoints its WAL into the database file.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::common::{body_bytes, client, code, data, status, ACCESS_KEY, SECRET_KEY};
use crate::process::{count_files, spawn, Proc};

/// A store whose data directory is a tmpfs of `size_mib`, visible only to the store.
struct SmallVolume {
    child: Child,
    addr: SocketAddr,
    mgmt: String,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Drop for SmallVolume {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmallVolume {
    fn start(size_mib: u32) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        let script = format!(
            "mount -t tmpfs -o size={size_mib}m tmpfs \"$0\" && exec \"$1\" --data-dir \"$0\" --listen 127.0.0.1:0 \
                --management-listen 127.0.0.1:0 --log-level warn"
        );
        let mut child = Command::new("unshare")
            .args(["--user", "--map-root-user", "--mount", "sh", "-c", &script])
            .arg(&dir)
            .arg(env!("CARGO_BIN_EXE_bleepstore"))
            .env("BLEEPSTORE_ROOT_ACCESS_KEY", ACCESS_KEY)
            .env("BLEEPSTORE_ROOT_SECRET_KEY", SECRET_KEY)
            .env_remove("BLEEPSTORE_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("unshare (util-linux) runs the store in its own mount namespace");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut addr = None;
        let mgmt = loop {
            let line = lines.next().expect("bleepstore exited before serving (could the tmpfs be mounted?)").unwrap();
            if let Some(a) = line.strip_prefix("BleepStore is serving S3 at http://") {
                addr = Some(a.parse().unwrap());
            }
            if let Some(rest) = line.trim_start().strip_prefix("management:  ") {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Self { child, addr: addr.unwrap(), mgmt, dir, _tmp: tmp }
    }

    /// A client with the SDK's usual retries: a store that refuses a body part-way closes the
    /// connection, and the next request on it is retried on a fresh one, as in real clients.
    fn client(&self) -> aws_sdk_s3::Client {
        client(&format!("http://{}", self.addr), ACCESS_KEY, SECRET_KEY, true)
    }

    /// The store's view of its data directory (the tmpfs), through its own mount namespace.
    fn volume(&self) -> PathBuf {
        Path::new(&format!("/proc/{}/root", self.child.id())).join(self.dir.strip_prefix("/").unwrap())
    }

    fn temp_files(&self) -> usize {
        // The store runs under `sh -c … exec`, so the child's pid is the store's.
        std::fs::read_dir(self.volume().join("tmp")).unwrap().count()
    }

    async fn ready(&self) -> u16 {
        self.readyz().await.0
    }

    async fn readyz(&self) -> (u16, String) {
        readyz(&self.mgmt).await
    }
}

/// The volume fills up mid-PUT and mid-UploadPart: the client gets 507 InsufficientStorage,
/// no temp file or row is left, reads keep working, and writes work again once space is freed.
#[tokio::test]
async fn a_full_volume_refuses_writes_cleanly_and_recovers() {
    let vol = SmallVolume::start(24);
    let c = vol.client();
    c.create_bucket().bucket("full").send().await.unwrap();
    let small = data(1000, 1);
    let big = data(4 << 20, 2);
    c.put_object().bucket("full").key("small").body(small.clone().into()).send().await.unwrap();
    c.put_object().bucket("full").key("big").body(big.clone().into()).send().await.unwrap();
    assert!(vol.volume().join("meta.db").exists(), "the test reads the store's own volume");

    // A PUT larger than the free space fails part-way through writing its blob.
    let err = c.put_object().bucket("full").key("huge").body(data(40 << 20, 3).into()).send().await.unwrap_err();
    assert_eq!((status(&err), code(&err).as_str()), (507, "InsufficientStorage"));
    assert_eq!(vol.temp_files(), 0, "the half-written blob was removed");
    assert_eq!(status(&c.head_object().bucket("full").key("huge").send().await.unwrap_err()), 404);
    // Same for a multipart part; the upload itself stays usable.
    let up = c.create_multipart_upload().bucket("full").key("mp").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let p1 = data(5 << 20, 4);
    let part1 = c
        .upload_part()
        .bucket("full")
        .key("mp")
        .upload_id(id)
        .part_number(1)
        .body(p1.clone().into())
        .send()
        .await
        .unwrap();
    let err = c
        .upload_part()
        .bucket("full")
        .key("mp")
        .upload_id(id)
        .part_number(2)
        .body(data(30 << 20, 5).into())
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&err), code(&err).as_str()), (507, "InsufficientStorage"));
    assert_eq!(vol.temp_files(), 0);
    // Reads keep working on a full volume.
    assert_eq!(body_bytes(c.get_object().bucket("full").key("small").send().await.unwrap()).await, small);
    assert_eq!(body_bytes(c.get_object().bucket("full").key("big").send().await.unwrap()).await, big);
    // Fill what is left with objects until the volume refuses, then free space by deleting.
    let mut stored = Vec::new();
    let refused = loop {
        let key = format!("fill-{}", stored.len());
        match c.put_object().bucket("full").key(&key).body(data(2 << 20, 6).into()).send().await {
            Ok(_) => stored.push(key),
            Err(e) => break e,
        }
        assert!(stored.len() < 20, "a 24 MiB volume took more than 40 MiB");
    };
    assert_eq!(status(&refused), 507);
    for key in &stored {
        c.delete_object().bucket("full").key(key).send().await.unwrap();
    }
    // The deleter frees the blobs in the background: writes succeed again once it has.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match c.put_object().bucket("full").key("after").body(data(2 << 20, 7).into()).send().await {
            Ok(_) => break,
            Err(e) => {
                assert_eq!(status(&e), 507, "only a full volume may refuse");
                assert!(Instant::now() < deadline, "space freed by deletes never became writable");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    // The multipart upload completes with the part written before the volume filled.
    let done = c
        .complete_multipart_upload()
        .bucket("full")
        .key("mp")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).e_tag(part1.e_tag().unwrap()).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(done.e_tag().is_some());
    assert_eq!(body_bytes(c.get_object().bucket("full").key("mp").send().await.unwrap()).await, p1);
    assert_eq!(vol.ready().await, 200);
}

async fn readyz(mgmt: &str) -> (u16, String) {
    let r = reqwest::get(format!("{mgmt}/readyz")).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Polls `/readyz` until it says 200; the store must get there by itself.
async fn wait_ready(mgmt: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while readyz(mgmt).await.0 != 200 {
        assert!(Instant::now() < deadline, "the store did not become ready again by itself");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sdk(proc: &Proc) -> aws_sdk_s3::Client {
    let c = client(&format!("http://{}", proc.addr), ACCESS_KEY, SECRET_KEY, true);
    aws_sdk_s3::Client::from_conf(c.config().to_builder().retry_config(RetryConfig::disabled()).build())
}

/// SQLite's write lock is held by another connection (SQLITE_BUSY): writes wait out the busy
/// timeout and get 503, leaving no row and no blob; reads go on; `/readyz` says why; all of it
/// clears by itself once the lock is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_gives_503_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let proc = spawn(dir.path(), true);
    let (c, mgmt) = (sdk(&proc), proc.mgmt());
    c.create_bucket().bucket("busy").send().await.unwrap();
    let before = data(100_000, 1);
    c.put_object().bucket("busy").key("before").body(before.clone().into()).send().await.unwrap();
    let blobs = count_files(&dir.path().join("blobs"));

    let blocker = rusqlite::Connection::open(dir.path().join("meta.db")).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    for (key, len) in [("blob", 100_000), ("inline", 1000)] {
        let err = c.put_object().bucket("busy").key(key).body(data(len, 2).into()).send().await.unwrap_err();
        assert_eq!((status(&err), code(&err).as_str()), (503, "ServiceUnavailable"), "{key}");
    }
    let err = c.delete_object().bucket("busy").key("before").send().await.unwrap_err();
    assert_eq!(status(&err), 503);
    assert_eq!(body_bytes(c.get_object().bucket("busy").key("before").send().await.unwrap()).await, before);
    let (ready, why) = readyz(&mgmt).await;
    assert_eq!(ready, 503);
    assert!(why.contains("metadata") && why.contains("locked"), "{why}");
    assert_eq!(count_files(&dir.path().join("blobs")), blobs, "the refused write's blob was removed");
    assert_eq!(count_files(&dir.path().join("tmp")), 0);

    blocker.execute_batch("ROLLBACK").unwrap();
    wait_ready(&mgmt).await;
    for key in ["blob", "inline"] {
        assert_eq!(status(&c.head_object().bucket("busy").key(key).send().await.unwrap_err()), 404);
    }
    c.put_object().bucket("busy").key("blob").body(data(100_000, 3).into()).send().await.unwrap();
    c.delete_object().bucket("busy").key("before").send().await.unwrap();
    assert_eq!(body_bytes(c.get_object().bucket("busy").key("blob").send().await.unwrap()).await, data(100_000, 3));
    proc.stop();
}

/// The volume is so full that SQLite cannot grow its WAL (SQLITE_FULL): small (inline) writes
/// get 507, reads go on, `/readyz` reports the volume, and space freed makes it all writable.
#[tokio::test]
async fn a_full_database_gives_507_and_recovers() {
    let vol = SmallVolume::start(16);
    let c = vol.client();
    c.create_bucket().bucket("sqlfull").send().await.unwrap();
    let kept = data(3000, 1);
    c.put_object().bucket("sqlfull").key("kept").body(kept.clone().into()).send().await.unwrap();
    // Take every free block of the store's volume with a file of the test's own.
    let filler_path = vol.volume().join("filler");
    let mut filler = std::fs::File::create(&filler_path).unwrap();
    for chunk in [1 << 20, 4096, 512] {
        while std::io::Write::write_all(&mut filler, &vec![7u8; chunk]).is_ok() {}
    }
    drop(filler);
    let (ready, why) = vol.readyz().await;
    assert_eq!(ready, 503);
    assert!(why.contains("volume"), "{why}");
    // The WAL reuses its blocks after checkpoints; small writes fail once it must grow.
    let mut stored = 0;
    let refused = loop {
        match c.put_object().bucket("sqlfull").key(format!("s{stored}")).body(data(8000, stored).into()).send().await {
            Ok(_) => stored += 1,
            Err(e) => break e,
        }
        assert!(stored < 4000, "16 MiB took 32 MB of small objects");
    };
    assert_eq!((status(&refused), code(&refused).as_str()), (507, "InsufficientStorage"));
    let refused_key = format!("s{stored}");
    assert_eq!(body_bytes(c.get_object().bucket("sqlfull").key("kept").send().await.unwrap()).await, kept);
    assert_eq!(status(&c.head_object().bucket("sqlfull").key(&refused_key).send().await.unwrap_err()), 404);

    std::fs::remove_file(&filler_path).unwrap();
    wait_ready(&vol.mgmt).await;
    c.put_object().bucket("sqlfull").key(&refused_key).body(data(8000, 9).into()).send().await.unwrap();
    assert_eq!(
        body_bytes(c.get_object().bucket("sqlfull").key(&refused_key).send().await.unwrap()).await,
        data(8000, 9)
    );
    for i in 0..stored {
        c.head_object().bucket("sqlfull").key(format!("s{i}")).send().await.unwrap();
    }
}

/// "accepted", or the status and code of a service error.
fn outcome<T, E, R>(r: Result<T, aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response<R>>>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match r {
        Ok(_) => "accepted".to_owned(),
        Err(e @ aws_sdk_s3::error::SdkError::ServiceError(_)) => format!("{} {}", status(&e), code(&e)),
        Err(other) => format!("{other:?}"),
    }
}

/// Sets or clears the immutable flag (refused even to root, and to descriptors already open),
/// the way a volume remounted read-only refuses writes.
fn chattr(flag: &str, paths: &[PathBuf]) {
    let ok = Command::new("chattr").arg(flag).args(paths).status().expect("chattr (e2fsprogs) is needed").success();
    assert!(ok, "chattr {flag} {paths:?}");
}

/// The volume stops taking writes (its files and directories made immutable, which refuses
/// writes on descriptors SQLite already holds): writes get 503 and change nothing, reads go on,
/// `/readyz` says the volume refuses writes, and the store takes writes again by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_that_refuses_writes_gives_503_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let proc = spawn(dir.path(), true);
    let (c, mgmt) = (sdk(&proc), proc.mgmt());
    c.create_bucket().bucket("readonly").send().await.unwrap();
    let (big, small) = (data(200_000, 1), data(2000, 2));
    c.put_object().bucket("readonly").key("big").body(big.clone().into()).send().await.unwrap();
    c.put_object().bucket("readonly").key("small").body(small.clone().into()).send().await.unwrap();
    let blobs = count_files(&dir.path().join("blobs"));
    let mut frozen: Vec<PathBuf> =
        ["meta.db", "meta.db-wal", "tmp", "blobs"].iter().map(|p| dir.path().join(p)).collect();
    for shard in std::fs::read_dir(dir.path().join("blobs")).unwrap() {
        frozen.push(shard.unwrap().path());
    }
    chattr("+i", &frozen);
    let refused = [
        outcome(c.put_object().bucket("readonly").key("new-big").body(data(200_000, 3).into()).send().await),
        outcome(c.put_object().bucket("readonly").key("new-small").body(data(2000, 4).into()).send().await),
        outcome(c.delete_object().bucket("readonly").key("small").send().await),
    ];
    let reads = (
        c.get_object().bucket("readonly").key("big").send().await,
        c.get_object().bucket("readonly").key("small").send().await,
    );
    let ready = readyz(&mgmt).await;
    chattr("-i", &frozen);
    assert_eq!(refused, ["503 ServiceUnavailable"; 3]);
    assert_eq!(body_bytes(reads.0.unwrap()).await, big);
    assert_eq!(body_bytes(reads.1.unwrap()).await, small);
    assert_eq!(ready.0, 503);
    assert!(ready.1.contains("volume"), "{}", ready.1);

    wait_ready(&mgmt).await;
    for key in ["new-big", "new-small"] {
        assert_eq!(status(&c.head_object().bucket("readonly").key(key).send().await.unwrap_err()), 404);
    }
    assert_eq!(body_bytes(c.get_object().bucket("readonly").key("small").send().await.unwrap()).await, small);
    assert_eq!(count_files(&dir.path().join("blobs")), blobs);
    assert_eq!(count_files(&dir.path().join("tmp")), 0);
    c.put_object().bucket("readonly").key("new-big").body(data(200_000, 5).into()).send().await.unwrap();
    c.delete_object().bucket("readonly").key("small").send().await.unwrap();
    assert_eq!(
        body_bytes(c.get_object().bucket("readonly").key("new-big").send().await.unwrap()).await,
        data(200_000, 5)
    );
    proc.stop();
}

/// Syscalls that write or sync a file, by number (`/proc/<pid>/task/<tid>/syscall`).
/// x86_64: write, pwrite64, writev, fsync, fdatasync, pwritev, pwritev2.
#[cfg(target_arch = "x86_64")]
const WRITE_SYSCALLS: &[i64] = &[1, 18, 20, 74, 75, 296, 328];
/// aarch64: write, writev, pwrite64, pwritev, fsync, fdatasync, pwritev2.
#[cfg(target_arch = "aarch64")]
const WRITE_SYSCALLS: &[i64] = &[64, 66, 68, 70, 82, 83, 287];

fn signal(pid: u32, sig: &str) {
    assert!(Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success());
}

/// Stops the store, and tells whether one of its threads was writing or syncing the database
/// file itself. In WAL mode only a checkpoint writes `meta.db` (commits append to `meta.db-wal`),
/// so that thread is checkpointing. Leaves the process stopped when it returns true.
fn stopped_in_checkpoint(pid: u32) -> Option<String> {
    signal(pid, "-STOP");
    let tasks: Vec<PathBuf> =
        std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().map(|t| t.unwrap().path()).collect();
    // Wait for every thread to reach the stop (a thread inside fdatasync gets there after it).
    for task in &tasks {
        while !std::fs::read_to_string(task.join("stat")).is_ok_and(|s| {
            s.rsplit_once(')').is_some_and(|(_, rest)| matches!(rest.trim_start().chars().next(), Some('T' | 't')))
        }) {
            std::thread::yield_now();
        }
    }
    for task in &tasks {
        let Ok(line) = std::fs::read_to_string(task.join("syscall")) else { continue };
        let mut fields = line.split_whitespace();
        let (Some(nr), Some(fd)) = (fields.next().and_then(|n| n.parse::<i64>().ok()), fields.next()) else {
            continue;
        };
        let Ok(fd) = i64::from_str_radix(fd.trim_start_matches("0x"), 16) else { continue };
        let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap_or_default();
        if WRITE_SYSCALLS.contains(&nr) && target.file_name().is_some_and(|n| n == "meta.db") {
            return Some(format!("syscall {nr} on {}", target.display()));
        }
    }
    signal(pid, "-CONT");
    None
}

/// SIGKILL while SQLite copies its WAL into the database file (a checkpoint), caught in the act
/// three times: after each restart every acknowledged object reads back, the database passes
/// `PRAGMA integrity_check`, no temp file or orphan blob is left, and `/readyz` is 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_during_a_wal_checkpoint_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let acked: Arc<Mutex<BTreeMap<String, Vec<u8>>>> = Arc::default();
    for kill in 0..=3u64 {
        let proc = spawn(dir.path(), true);
        let c = sdk(&proc);
        if kill == 0 {
            c.create_bucket().bucket("ckpt").send().await.unwrap();
        }
        wait_ready(&proc.mgmt()).await;
        // Another reader beside the running store: its close does not checkpoint.
        let db = rusqlite::Connection::open(dir.path().join("meta.db")).unwrap();
        let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
        drop(db);
        let known = acked.lock().unwrap().clone();
        for (key, body) in &known {
            assert_eq!(&body_bytes(c.get_object().bucket("ckpt").key(key).send().await.unwrap()).await, body, "{key}");
        }
        // Every listed object is acknowledged or was in flight; blobs are exactly the big ones.
        let (mut listed, mut blobs, mut token) = (0, 0, None);
        loop {
            let page = c.list_objects_v2().bucket("ckpt").set_continuation_token(token).send().await.unwrap();
            for o in page.contents() {
                listed += 1;
                blobs += usize::from(o.size().unwrap() > 32 << 10);
            }
            token = page.next_continuation_token().map(String::from);
            if token.is_none() {
                break;
            }
        }
        // Up to one write per writer was in flight at each earlier kill, and may have landed.
        assert!(
            listed >= known.len() && listed <= known.len() + 4 * kill as usize,
            "{listed} listed, {} acked",
            known.len()
        );
        assert_eq!(count_files(&dir.path().join("blobs")), blobs, "orphan or missing blobs");
        assert_eq!(count_files(&dir.path().join("tmp")), 0);
        if kill == 3 {
            proc.stop();
            break;
        }
        // Writers fill the WAL quickly (inline objects live in the database), so SQLite
        // checkpoints every few dozen PUTs.
        let progress = Arc::new(tokio::sync::Notify::new());
        let mut writers = Vec::new();
        for w in 0..4u64 {
            let (c, acked, progress) = (c.clone(), acked.clone(), progress.clone());
            writers.push(tokio::spawn(async move {
                for i in 0.. {
                    let key = format!("k{kill}-w{w}-{i}");
                    let body = data(if i % 10 == 0 { 40_000 } else { 30_000 }, kill * 1_000_000 + w * 10_000 + i);
                    if c.put_object().bucket("ckpt").key(&key).body(body.clone().into()).send().await.is_err() {
                        return;
                    }
                    acked.lock().unwrap().insert(key, body);
                    progress.notify_one();
                }
            }));
        }
        let pid = proc.child.id();
        let deadline = Instant::now() + Duration::from_secs(120);
        let caught = loop {
            progress.notified().await;
            if let Some(what) = tokio::task::spawn_blocking(move || stopped_in_checkpoint(pid)).await.unwrap() {
                break what;
            }
            assert!(Instant::now() < deadline, "never caught SQLite checkpointing");
        };
        eprintln!("kill {kill}: SIGKILL while checkpointing ({caught})");
        proc.stop();
        for w in writers {
            w.await.unwrap();
        }
    }
    assert!(acked.lock().unwrap().len() > 100);
}

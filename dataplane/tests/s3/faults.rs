//! Faults injected into a real `bleepstore` process: its data volume is a small tmpfs mounted in
//! a private mount namespace (`unshare --user --map-root-user --mount`, so no privilege is
//! needed), which fills up mid-PUT and mid-multipart. Each test asserts that nothing
//! acknowledged is lost, nothing half-written is visible, and the store recovers by itself.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::common::{body_bytes, client, code, data, status, ACCESS_KEY, SECRET_KEY};

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
            "mount -t tmpfs -o size={size_mib}m tmpfs \"$0\" && exec \"$1\" --data-dir \"$0\" --listen 127.0.0.1:0 --management-listen 127.0.0.1:0 --log-level warn"
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
        reqwest::get(format!("{}/readyz", self.mgmt)).await.unwrap().status().as_u16()
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

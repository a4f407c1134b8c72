//! The blob-store contract, run against every backend: the local volume, a remote S3 bucket (a
//! second `bleepstore` process on loopback plays the remote) and an Azure container (Azurite, the Azure
//! Storage emulator from npm, on loopback). Then the whole server on each remote backend, and
//! what a client sees when the remote is down.

use bleepstore::blob::azure::AzureBlobStore;
use bleepstore::blob::local::LocalBlobStore;
use bleepstore::blob::s3::S3BlobStore;
use bleepstore::blob::{BlobError, BlobStore, BlobStream};
use bleepstore::config::{AzureBackendConfig, BackendKind, S3BackendConfig};
use bytes::Bytes;
use futures_util::StreamExt;

use crate::common::{body_bytes, code, data, status, TestServer, ACCESS_KEY, SECRET_KEY};

const PART: u64 = 5 * 1024 * 1024;

async fn read_all(mut s: BlobStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

async fn write_blob(store: &dyn BlobStore, body: &[u8], chunk: usize) -> String {
    let mut w = store.create().await.unwrap();
    for piece in body.chunks(chunk.max(1)) {
        w.write(Bytes::copy_from_slice(piece)).await.unwrap();
    }
    w.commit().await.unwrap()
}

/// What every backend must do; `store` starts empty. `crash_leaves_work` says whether a write
/// lost to a crash leaves something for recovery to remove (a temp file, an open multipart
/// upload) or nothing at all (Azure: staged blocks are not a blob and expire by themselves).
async fn blob_store_contract(store: &dyn BlobStore, crash_leaves_work: bool) {
    store.probe().await.unwrap();
    assert!(store.list_ids().await.unwrap().is_empty());
    // Small, empty and multi-part-sized blobs, written in uneven chunks; whole and ranged reads.
    let small = data(1000, 1);
    let big = data(2 * PART as usize + 12_345, 2);
    let id_small = write_blob(store, &small, 333).await;
    let id_empty = write_blob(store, &[], 1).await;
    let id_big = write_blob(store, &big, 1024 * 1024 + 7).await;
    assert_eq!(read_all(store.open(&id_small, None).await.unwrap()).await, small);
    assert_eq!(read_all(store.open(&id_small, Some(10..20)).await.unwrap()).await, &small[10..20]);
    assert!(read_all(store.open(&id_empty, None).await.unwrap()).await.is_empty());
    assert_eq!(read_all(store.open(&id_big, None).await.unwrap()).await, big);
    let across = PART - 10..PART + 10;
    assert_eq!(
        read_all(store.open(&id_big, Some(across.clone())).await.unwrap()).await,
        &big[across.start as usize..across.end as usize]
    );
    let mut ids = store.list_ids().await.unwrap();
    ids.sort();
    let mut want = vec![id_small.clone(), id_empty.clone(), id_big.clone()];
    want.sort();
    assert_eq!(ids, want);
    // Deleting is idempotent; a deleted or malformed id is NotFound.
    store.delete(&id_small).await.unwrap();
    store.delete(&id_small).await.unwrap();
    assert!(matches!(store.open(&id_small, None).await, Err(BlobError::NotFound(_))));
    assert!(matches!(store.open("../../etc/passwd", None).await, Err(BlobError::NotFound(_))));
    // A writer dropped before commit leaves nothing visible.
    let mut w = store.create().await.unwrap();
    w.write(Bytes::from(data(PART as usize + 1, 3))).await.unwrap();
    drop(w);
    // A writer lost to a crash (never dropped) leaves an unfinished write that recovery removes.
    let mut w = store.create().await.unwrap();
    w.write(Bytes::from(data(PART as usize + 1, 4))).await.unwrap();
    std::mem::forget(w);
    assert_eq!(store.clean_temp().await.unwrap() >= 1, crash_leaves_work);
    assert_eq!(store.clean_temp().await.unwrap(), 0);
    let mut ids = store.list_ids().await.unwrap();
    ids.sort();
    let mut want = vec![id_empty, id_big];
    want.sort();
    assert_eq!(ids, want, "uncommitted writes are never listed");
}

#[tokio::test]
async fn local_backend_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    blob_store_contract(&LocalBlobStore::open(dir.path()).unwrap(), true).await;
}

/// A second `bleepstore` process (the real binary) on loopback, playing the remote S3; killed
/// on drop.
struct RemoteProcess {
    proc: crate::process::Proc,
    _dir: tempfile::TempDir,
}

impl RemoteProcess {
    async fn start(bucket: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let proc = crate::process::spawn(dir.path(), true);
        let remote = Self { proc, _dir: dir };
        remote.client().create_bucket().bucket(bucket).send().await.unwrap();
        remote
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.proc.addr)
    }

    fn client(&self) -> aws_sdk_s3::Client {
        crate::common::client(&self.endpoint(), ACCESS_KEY, SECRET_KEY, true)
    }
}

impl Drop for RemoteProcess {
    fn drop(&mut self) {
        let _ = self.proc.child.kill();
        let _ = self.proc.child.wait();
    }
}

fn remote_config(remote: &RemoteProcess, bucket: &str, prefix: &str) -> S3BackendConfig {
    S3BackendConfig {
        bucket: bucket.into(),
        prefix: prefix.into(),
        region: Some("us-east-1".into()),
        endpoint: Some(remote.endpoint()),
        force_path_style: true,
        part_size: PART,
        access_key_id: Some(ACCESS_KEY.into()),
        secret_access_key: Some(SECRET_KEY.into()),
    }
}

#[tokio::test]
async fn s3_backend_keeps_the_contract() {
    let remote = RemoteProcess::start("remote").await;
    // Something else in the bucket, outside the prefix, is left alone.
    remote.client().put_object().bucket("remote").key("other/file").body(b"x".to_vec().into()).send().await.unwrap();
    let store = S3BlobStore::connect(&remote_config(&remote, "remote", "blobs/")).await;
    blob_store_contract(&store, true).await;
    let left = remote.client().list_objects_v2().bucket("remote").send().await.unwrap();
    let keys: Vec<&str> = left.contents().iter().filter_map(|o| o.key()).collect();
    assert!(keys.contains(&"other/file"));
    assert!(keys.iter().all(|k| *k == "other/file" || k.starts_with("blobs/")));
}

/// A server whose blobs live under `prefix` in the remote's bucket `remote` (start-up recovery
/// needs the remote, so it starts against a live one), with a bucket `app`.
async fn server_on_s3(remote: &RemoteProcess, prefix: &str) -> TestServer {
    let cfg = remote_config(remote, "remote", prefix);
    let srv = TestServer::start_with(move |c| {
        c.backend.kind = BackendKind::S3;
        c.backend.s3 = Some(cfg);
    })
    .await;
    srv.client().create_bucket().bucket("app").send().await.unwrap();
    srv
}

/// The whole server with its blobs in a remote bucket: objects round-trip, blobs land in the
/// remote under the prefix, and deleting an object deletes its remote blob.
#[tokio::test]
async fn server_on_the_s3_backend() {
    let remote = RemoteProcess::start("remote").await;
    let srv = server_on_s3(&remote, "store-a/").await;
    let c = srv.client();
    let big = data(PART as usize * 2 + 99, 7);
    c.put_object().bucket("app").key("big").body(big.clone().into()).send().await.unwrap();
    c.put_object().bucket("app").key("tiny").body(b"inline".to_vec().into()).send().await.unwrap();
    assert_eq!(body_bytes(c.get_object().bucket("app").key("big").send().await.unwrap()).await, big);
    let ranged = c.get_object().bucket("app").key("big").range("bytes=5242870-5242889").send().await.unwrap();
    assert_eq!(body_bytes(ranged).await, &big[5_242_870..5_242_890]);
    c.copy_object().bucket("app").key("copy").copy_source("app/big").send().await.unwrap();
    let remote_keys = || async {
        let page = remote.client().list_objects_v2().bucket("remote").prefix("store-a/").send().await.unwrap();
        page.contents().len()
    };
    assert_eq!(remote_keys().await, 2, "two blobs (the small object is inline)");
    c.delete_object().bucket("app").key("big").send().await.unwrap();
    c.delete_object().bucket("app").key("copy").send().await.unwrap();
    bleepstore::deleter::drain_once(&srv.state).await.unwrap();
    assert_eq!(remote_keys().await, 0);
    assert_eq!(body_bytes(c.get_object().bucket("app").key("tiny").send().await.unwrap()).await, b"inline");
}

/// A remote that does not answer: writes get 503 ServiceUnavailable and leave no row,
/// readiness says why, inline objects still work.
#[tokio::test]
async fn remote_down_gives_503_and_no_row() {
    let remote = RemoteProcess::start("remote").await;
    let srv = server_on_s3(&remote, "").await;
    let c = srv.client();
    // A blob store pointed at a port nothing listens on reports the remote as unavailable.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dead_store = S3BlobStore::connect(&S3BackendConfig {
        endpoint: Some(format!("http://{dead}")),
        ..remote_config(&remote, "remote", "")
    })
    .await;
    assert!(matches!(dead_store.probe().await, Err(BlobError::Unavailable(_))));
    let mut w = dead_store.create().await.unwrap();
    w.write(Bytes::from_static(b"bytes")).await.unwrap();
    assert!(matches!(w.commit().await, Err(BlobError::Unavailable(_))));
    // Now the server's own remote goes away (the process is killed).
    drop(remote);
    let err = c.put_object().bucket("app").key("big").body(data(40_000, 1).into()).send().await.unwrap_err();
    assert_eq!((status(&err), code(&err).as_str()), (503, "ServiceUnavailable"));
    let err = c.head_object().bucket("app").key("big").send().await.unwrap_err();
    assert_eq!(status(&err), 404, "a failed remote write leaves no row");
    let (ready, body) = srv.mgmt("GET", "/readyz", None, None).await;
    assert_eq!(ready, 503, "{body}");
    assert!(body.contains("blob store"), "{body}");
    // Small objects live in the metadata and do not need the remote.
    c.put_object().bucket("app").key("small").body(b"still works".to_vec().into()).send().await.unwrap();
    assert_eq!(body_bytes(c.get_object().bucket("app").key("small").send().await.unwrap()).await, b"still works");
}

/// Azurite's well-known development account.
const AZURITE_ACCOUNT: &str = "devstoreaccount1";
const AZURITE_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Azurite (installed by `tests/run.sh` into tests/azurite) on a free loopback port, with its
/// data in a temp dir; killed on drop.
struct Azurite {
    child: std::process::Child,
    endpoint: String,
    _dir: tempfile::TempDir,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Azurite {
    async fn start() -> Self {
        let bin =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/azurite/node_modules/.bin/azurite-blob");
        assert!(bin.exists(), "{} is missing: run `(cd tests/azurite && npm ci)` (tests/run.sh does)", bin.display());
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new(&bin)
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &port.to_string(),
                "--silent",
                "--skipApiVersionCheck",
                "--location",
            ])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Ready when it accepts connections (bounded: Node starts in well under a minute).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(std::time::Instant::now() < deadline, "Azurite did not start listening on {port}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Self { child, endpoint: format!("http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"), _dir: dir }
    }

    /// Creates a container with an account SAS signed by the store's own signer.
    async fn create_container(&self, name: &str) {
        let sas = bleepstore::blob::azure_sas::account_sas(
            AZURITE_ACCOUNT,
            AZURITE_KEY,
            time::OffsetDateTime::now_utc(),
            std::time::Duration::from_secs(3600),
        )
        .unwrap();
        let resp = reqwest::Client::new()
            .put(format!("{}/{name}?restype=container&{sas}", self.endpoint))
            .header("x-ms-version", "2021-08-06")
            .header("content-length", "0")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201, "{}", resp.text().await.unwrap_or_default());
    }

    fn config(&self, container: &str, prefix: &str) -> AzureBackendConfig {
        AzureBackendConfig {
            account: AZURITE_ACCOUNT.into(),
            container: container.into(),
            prefix: prefix.into(),
            endpoint: Some(self.endpoint.clone()),
            block_size: PART,
            account_key: Some(AZURITE_KEY.into()),
            sas_token: None,
        }
    }
}

#[tokio::test]
async fn azure_backend_keeps_the_contract() {
    let azurite = Azurite::start().await;
    azurite.create_container("blobs").await;
    let store = AzureBlobStore::connect(&azurite.config("blobs", "store-a/")).unwrap();
    blob_store_contract(&store, false).await;
    // A container that does not exist, or a remote that is not there, fails the probe.
    let missing = AzureBlobStore::connect(&azurite.config("nope", "")).unwrap();
    assert!(missing.probe().await.is_err());
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let down = AzureBlobStore::connect(&AzureBackendConfig {
        endpoint: Some(format!("http://{dead}/{AZURITE_ACCOUNT}")),
        ..azurite.config("blobs", "")
    })
    .unwrap();
    assert!(matches!(down.probe().await, Err(BlobError::Unavailable(_))));
}

/// The whole server with its blobs in an Azure container (Azurite).
#[tokio::test]
async fn server_on_the_azure_backend() {
    let azurite = Azurite::start().await;
    azurite.create_container("store").await;
    let cfg = azurite.config("store", "");
    let srv = TestServer::start_with(move |c| {
        c.backend.kind = BackendKind::Azure;
        c.backend.azure = Some(cfg);
    })
    .await;
    let c = srv.client();
    c.create_bucket().bucket("app").send().await.unwrap();
    let big = data(PART as usize * 2 + 99, 8);
    c.put_object().bucket("app").key("big").body(big.clone().into()).send().await.unwrap();
    assert_eq!(body_bytes(c.get_object().bucket("app").key("big").send().await.unwrap()).await, big);
    let ranged = c.get_object().bucket("app").key("big").range("bytes=5242870-5242889").send().await.unwrap();
    assert_eq!(body_bytes(ranged).await, &big[5_242_870..5_242_890]);
    assert_eq!(srv.state.blobs.list_ids().await.unwrap().len(), 1);
    c.delete_object().bucket("app").key("big").send().await.unwrap();
    bleepstore::deleter::drain_once(&srv.state).await.unwrap();
    assert!(srv.state.blobs.list_ids().await.unwrap().is_empty());
    let (ready, body) = srv.mgmt("GET", "/readyz", None, None).await;
    assert_eq!(ready, 200, "{body}");
    drop(azurite);
    let err = c.put_object().bucket("app").key("big").body(data(40_000, 1).into()).send().await.unwrap_err();
    assert_eq!((status(&err), code(&err).as_str()), (503, "ServiceUnavailable"));
    let (ready, _) = srv.mgmt("GET", "/readyz", None, None).await;
    assert_eq!(ready, 503);
}

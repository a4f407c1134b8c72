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
use crate::remotes::{Azurite, Guard, S3Remote, AZURITE_ACCOUNT, AZURITE_KEY, PART};

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

/// A remote S3 of this test's own (a second `bleepstore` process), with a bucket `bucket`.
async fn s3_remote(bucket: &str) -> S3Remote {
    let remote = S3Remote::start(Guard::UntilDrop);
    remote.client().create_bucket().bucket(bucket).send().await.unwrap();
    remote
}

#[tokio::test]
async fn s3_backend_keeps_the_contract() {
    let remote = s3_remote("remote").await;
    // Something else in the bucket, outside the prefix, is left alone.
    remote.client().put_object().bucket("remote").key("other/file").body(b"x".to_vec().into()).send().await.unwrap();
    let store = S3BlobStore::connect(&remote.config("remote", "blobs/")).await;
    blob_store_contract(&store, true).await;
    let left = remote.client().list_objects_v2().bucket("remote").send().await.unwrap();
    let keys: Vec<&str> = left.contents().iter().filter_map(|o| o.key()).collect();
    assert!(keys.contains(&"other/file"));
    assert!(keys.iter().all(|k| *k == "other/file" || k.starts_with("blobs/")));
}

/// A server whose blobs live under `prefix` in the remote's bucket `remote` (start-up recovery
/// needs the remote, so it starts against a live one), with a bucket `app`.
async fn server_on_s3(remote: &S3Remote, prefix: &str) -> TestServer {
    let cfg = remote.config("remote", prefix);
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
    let remote = s3_remote("remote").await;
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
    let remote = s3_remote("remote").await;
    let srv = server_on_s3(&remote, "").await;
    let c = srv.client();
    // A blob store pointed at a port nothing listens on reports the remote as unavailable.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dead_store = S3BlobStore::connect(&S3BackendConfig {
        endpoint: Some(format!("http://{dead}")),
        ..remote.config("remote", "")
    })
    .await;
    assert!(matches!(dead_store.probe().await, Err(BlobError::Unavailable(_))));
    let mut w = dead_store.create().await.unwrap();
    w.write(Bytes::from_static(b"bytes")).await.unwrap();
    assert!(matches!(w.commit().await, Err(BlobError::Unavailable(_))));
    // Now the server's own remote goes away (the process is killed).
    remote.kill();
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

#[tokio::test]
async fn azure_backend_keeps_the_contract() {
    let azurite = Azurite::start(Guard::UntilDrop).await;
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
    let azurite = Azurite::start(Guard::UntilDrop).await;
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
    azurite.kill();
    let err = c.put_object().bucket("app").key("big").body(data(40_000, 1).into()).send().await.unwrap_err();
    assert_eq!((status(&err), code(&err).as_str()), (503, "ServiceUnavailable"));
    let (ready, _) = srv.mgmt("GET", "/readyz", None, None).await;
    assert_eq!(ready, 503);
}

/// The real binary with `config_yaml` (a remote backend): a blob-sized object is stored, then
/// `take_remote_away` runs; a write gets 503 ServiceUnavailable and leaves no row, a read of
/// the stored object gets 503 too, and the process's log is returned.
async fn failure_log(config_yaml: &str, take_remote_away: impl FnOnce()) -> String {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("stderr.log");
    let proc = spawn_configured(dir.path(), config_yaml, std::fs::File::create(&log_path).unwrap().into());
    let c = crate::common::client(&format!("http://{}", proc.addr), ACCESS_KEY, SECRET_KEY, true);
    c.create_bucket().bucket("app").send().await.unwrap();
    c.put_object().bucket("app").key("stored").body(data(100_000, 1).into()).send().await.unwrap();
    take_remote_away();
    let err = c.put_object().bucket("app").key("lost").body(data(100_000, 2).into()).send().await.unwrap_err();
    assert_eq!((status(&err), code(&err).as_str()), (503, "ServiceUnavailable"));
    let err = c.head_object().bucket("app").key("lost").send().await.unwrap_err();
    assert_eq!(status(&err), 404, "a failed remote write leaves no row");
    let err = c.get_object().bucket("app").key("stored").send().await.unwrap_err();
    assert_eq!((status(&err), code(&err).as_str()), (503, "ServiceUnavailable"));
    proc.stop();
    std::fs::read_to_string(log_path).unwrap()
}

/// The log lines of a remote failure: each names the backend and the operation at error level,
/// and none carries a credential or a signed URL.
fn assert_clear_failure_lines(log: &str, backend_line: &str, secrets: &[&str]) {
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(backend_line)).collect();
    assert!(!lines.is_empty(), "no `{backend_line}` line in:\n{log}");
    for line in &lines {
        assert!(line.contains("ERROR") && line.contains("operation="), "{line}");
    }
    for secret in secrets {
        assert!(!log.contains(secret), "the log carries a secret ({secret:.4}…):\n{log}");
    }
    // A SAS's signature is the secret part of a URL in an error: only ever shown redacted.
    assert!(log.split("sig=").skip(1).all(|rest| rest.starts_with("REDACTED")), "{log}");
    // Plain text in a file (no terminal colour codes).
    assert!(!log.contains('\x1b'), "{log}");
}

#[tokio::test]
async fn a_failed_s3_remote_is_logged_clearly_and_without_secrets() {
    let remote = s3_remote("remote").await;
    let yaml = format!(
        "backend:\n  type: s3\n  s3:\n    bucket: remote\n    endpoint: {}\n    region: us-east-1\n    \
         force_path_style: true\n    access_key_id: {ACCESS_KEY}\n    secret_access_key: {SECRET_KEY}\n",
        remote.endpoint()
    );
    let log = failure_log(&yaml, || remote.kill()).await;
    assert_clear_failure_lines(&log, "remote S3 blob store failed", &[SECRET_KEY, "Signature="]);
}

#[tokio::test]
async fn a_failed_azure_remote_is_logged_clearly_and_without_secrets() {
    let azurite = Azurite::start(Guard::UntilDrop).await;
    azurite.create_container("store").await;
    let yaml = format!(
        "backend:\n  type: azure\n  azure:\n    account: {AZURITE_ACCOUNT}\n    container: store\n    \
         endpoint: {}\n    account_key: {AZURITE_KEY}\n",
        azurite.endpoint
    );
    let log = failure_log(&yaml, || azurite.kill()).await;
    assert_clear_failure_lines(&log, "remote Azure blob store failed", &[AZURITE_KEY]);
}

/// The real binary over `dir/data` with `config_yaml` written to `dir/config.yaml`.
fn spawn_configured(dir: &std::path::Path, config_yaml: &str, stderr: std::process::Stdio) -> crate::process::Proc {
    let config = dir.join("config.yaml");
    std::fs::write(&config, config_yaml).unwrap();
    crate::process::spawn_with(&dir.join("data"), true, &["--config".as_ref(), config.as_os_str()], stderr)
}

/// Start-up recovery on a remote backend: after a SIGKILL, a blob that was written but never
/// got its row (a crash between the two) is deleted from the remote, and the blobs that rows
/// reference are kept. `direct` is a blob store on the same remote and prefix as the config.
async fn recovery_sweeps_remote_orphans(config_yaml: &str, direct: &dyn BlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let proc = spawn_configured(dir.path(), config_yaml, std::process::Stdio::null());
    let c = crate::common::client(&format!("http://{}", proc.addr), ACCESS_KEY, SECRET_KEY, true);
    c.create_bucket().bucket("app").send().await.unwrap();
    let kept = data(100_000, 1);
    c.put_object().bucket("app").key("kept").body(kept.clone().into()).send().await.unwrap();
    let referenced = direct.list_ids().await.unwrap();
    assert_eq!(referenced.len(), 1);
    proc.stop();
    let orphan = write_blob(direct, &data(1000, 2), 1000).await;
    assert_eq!(direct.list_ids().await.unwrap().len(), 2);
    let proc = spawn_configured(dir.path(), config_yaml, std::process::Stdio::null());
    assert_eq!(direct.list_ids().await.unwrap(), referenced, "the orphan {orphan} is swept, the rest kept");
    let c = crate::common::client(&format!("http://{}", proc.addr), ACCESS_KEY, SECRET_KEY, true);
    assert_eq!(body_bytes(c.get_object().bucket("app").key("kept").send().await.unwrap()).await, kept);
    proc.stop();
}

#[tokio::test]
async fn recovery_on_the_s3_backend_sweeps_orphans() {
    let remote = s3_remote("remote").await;
    let yaml = format!(
        "backend:\n  type: s3\n  s3:\n    bucket: remote\n    prefix: store/\n    endpoint: {}\n    \
         region: us-east-1\n    force_path_style: true\n    access_key_id: {ACCESS_KEY}\n    \
         secret_access_key: {SECRET_KEY}\n",
        remote.endpoint()
    );
    let direct = S3BlobStore::connect(&remote.config("remote", "store/")).await;
    recovery_sweeps_remote_orphans(&yaml, &direct).await;
}

#[tokio::test]
async fn recovery_on_the_azure_backend_sweeps_orphans() {
    let azurite = Azurite::start(Guard::UntilDrop).await;
    azurite.create_container("store").await;
    let yaml = format!(
        "backend:\n  type: azure\n  azure:\n    account: {AZURITE_ACCOUNT}\n    container: store\n    \
         prefix: store/\n    endpoint: {}\n    account_key: {AZURITE_KEY}\n",
        azurite.endpoint
    );
    let direct = AzureBlobStore::connect(&azurite.config("store", "store/")).unwrap();
    recovery_sweeps_remote_orphans(&yaml, &direct).await;
}

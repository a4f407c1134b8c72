//! Remote blob stores for the tests: a second `bleepstore` process playing the remote S3, and
//! Azurite (the Azure Storage emulator, installed by `tests/run.sh` into tests/azurite).
//!
//! `BLEEPSTORE_TEST_BACKEND` (`local`, the default, `s3` or `azure`) chooses where every
//! [`TestServer`](crate::common::TestServer) keeps its blobs, so the server-level suites run
//! unchanged against each backend (tests/run.sh runs them three times). Those servers share one
//! remote per test process, each under a prefix of its own; a shared remote runs under `sh`,
//! which stops it and removes its data once this process's end of the pipe closes, so it never
//! outlives the test binary, even one that was killed (alone, or with its process group).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use bleepstore::config::{AzureBackendConfig, BackendKind, Config, S3BackendConfig};
use tokio::sync::OnceCell;

use crate::common::{ACCESS_KEY, SECRET_KEY};

/// Blobs over this size go to the remote in parts (S3 multipart / Azure staged blocks); the
/// smallest part S3 allows, so modest test objects already take the multi-part path.
pub(crate) const PART: u64 = 5 * 1024 * 1024;

/// Where test servers keep their blobs, from `BLEEPSTORE_TEST_BACKEND`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TestBackend {
    Local,
    S3,
    Azure,
}

impl TestBackend {
    pub(crate) fn from_env() -> Self {
        match std::env::var("BLEEPSTORE_TEST_BACKEND").as_deref() {
            Err(_) | Ok("" | "local") => Self::Local,
            Ok("s3") => Self::S3,
            Ok("azure") => Self::Azure,
            Ok(other) => panic!("BLEEPSTORE_TEST_BACKEND={other:?}: expected local, s3 or azure"),
        }
    }
}

/// Points `config` at the backend `BLEEPSTORE_TEST_BACKEND` names, under a prefix no other test
/// server uses. Local leaves it alone.
pub(crate) async fn use_test_backend(config: &mut Config) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = format!("server-{}/", NEXT.fetch_add(1, Ordering::Relaxed));
    match TestBackend::from_env() {
        TestBackend::Local => {}
        TestBackend::S3 => {
            config.backend.kind = BackendKind::S3;
            config.backend.s3 = Some(shared_s3().await.config(SHARED_BUCKET, &prefix));
        }
        TestBackend::Azure => {
            config.backend.kind = BackendKind::Azure;
            config.backend.azure = Some(shared_azurite().await.config(SHARED_BUCKET, &prefix));
        }
    }
}

/// The bucket (S3) or container (Azure) the shared remotes hold every test server's blobs in.
const SHARED_BUCKET: &str = "shared";

async fn shared_s3() -> &'static S3Remote {
    static REMOTE: OnceCell<S3Remote> = OnceCell::const_new();
    REMOTE
        .get_or_init(|| async {
            let remote = S3Remote::start(Guard::UntilExit);
            remote.client().create_bucket().bucket(SHARED_BUCKET).send().await.unwrap();
            remote
        })
        .await
}

async fn shared_azurite() -> &'static Azurite {
    static REMOTE: OnceCell<Azurite> = OnceCell::const_new();
    REMOTE
        .get_or_init(|| async {
            let azurite = Azurite::start(Guard::UntilExit).await;
            azurite.create_container(SHARED_BUCKET).await;
            azurite
        })
        .await
}

/// How long a remote lives.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guard {
    /// Until the value is dropped (a test that takes its remote away on purpose).
    UntilDrop,
    /// Until the test process exits: shared by the servers of many tests.
    UntilExit,
}

/// A remote's process and data directory.
struct Remote {
    child: Child,
    /// Held open while the remote should live: with [`Guard::UntilExit`], `sh` reads it and
    /// stops the remote at end of file.
    _lifeline: Option<ChildStdin>,
    /// Removed on drop with [`Guard::UntilDrop`], by `sh` otherwise.
    dir: Option<tempfile::TempDir>,
}

impl Remote {
    /// Starts `program args…` with its data in a fresh temp dir (passed as the last argument by
    /// `args`), stdout piped for its banner.
    fn spawn(guard: Guard, program: &Path, args: impl FnOnce(&Path) -> Vec<std::ffi::OsString>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let args = args(dir.path());
        let mut cmd = match guard {
            Guard::UntilDrop => {
                let mut cmd = Command::new(program);
                cmd.args(&args).stdin(Stdio::null());
                cmd
            }
            Guard::UntilExit => {
                // The remote runs in the background; `sh` lets go of the stdout pipe (so a
                // remote that dies shows as end of file), ignores the signals a Ctrl-C or a job
                // cancel sends the whole group, waits for end of file on its stdin (this process
                // exiting, however it exits), then stops the remote and removes its data.
                let mut cmd = Command::new("sh");
                cmd.arg("-c")
                    .arg(concat!(
                        r#"dir=$1; shift; "$@" & pid=$!; exec >/dev/null; trap '' INT TERM HUP; "#,
                        r#"cat >/dev/null; kill "$pid"; wait "$pid"; rm -rf "$dir""#
                    ))
                    .arg("sh")
                    .arg(dir.path())
                    .arg(program)
                    .args(&args)
                    .stdin(Stdio::piped());
                cmd
            }
        };
        cmd.env_remove("BLEEPSTORE_ROOT_ACCESS_KEY")
            .env_remove("BLEEPSTORE_ROOT_SECRET_KEY")
            .env_remove("BLEEPSTORE_CONFIG")
            .env("BLEEPSTORE_ROOT_ACCESS_KEY", ACCESS_KEY)
            .env("BLEEPSTORE_ROOT_SECRET_KEY", SECRET_KEY)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let lifeline = child.stdin.take();
        let dir = match guard {
            Guard::UntilDrop => Some(dir),
            Guard::UntilExit => {
                let _ = dir.keep();
                None
            }
        };
        Self { child, _lifeline: lifeline, dir }
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        match self._lifeline.take() {
            // Closing the pipe makes `sh` stop the remote and remove its data (a shared remote
            // dropped only when its start failed).
            Some(lifeline) => drop(lifeline),
            None => {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
        drop(self.dir.take());
    }
}

/// A second `bleepstore` process (the real binary) on loopback, playing the remote S3.
pub(crate) struct S3Remote {
    remote: Remote,
    pub addr: SocketAddr,
}

impl S3Remote {
    /// Starts the binary on a free port and waits for its "serving" line (printed once start-up
    /// recovery is done).
    pub(crate) fn start(guard: Guard) -> Self {
        let mut remote = Remote::spawn(guard, Path::new(env!("CARGO_BIN_EXE_bleepstore")), |dir| {
            let mut args: Vec<std::ffi::OsString> = vec!["--data-dir".into(), dir.into()];
            args.extend(
                ["--listen", "127.0.0.1:0", "--management-listen", "127.0.0.1:0", "--log-level", "warn"]
                    .map(Into::into),
            );
            args
        });
        let mut lines = BufReader::new(remote.child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("the remote bleepstore exited before serving").unwrap();
            if let Some(addr) = line.strip_prefix("BleepStore is serving S3 at http://") {
                break addr.parse().unwrap();
            }
        };
        // Keep draining its stdout so that it never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { remote, addr }
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn client(&self) -> aws_sdk_s3::Client {
        crate::common::client(&self.endpoint(), ACCESS_KEY, SECRET_KEY, true)
    }

    /// A backend config for blobs under `prefix` in `bucket` of this remote.
    pub(crate) fn config(&self, bucket: &str, prefix: &str) -> S3BackendConfig {
        S3BackendConfig {
            bucket: bucket.into(),
            prefix: prefix.into(),
            region: Some("us-east-1".into()),
            endpoint: Some(self.endpoint()),
            force_path_style: true,
            part_size: PART,
            access_key_id: Some(ACCESS_KEY.into()),
            secret_access_key: Some(SECRET_KEY.into()),
        }
    }

    /// Takes the remote away (the process is killed).
    pub(crate) fn kill(self) {
        drop(self.remote);
    }
}

/// Azurite's well-known development account.
pub(crate) const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub(crate) const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Azurite's blob service on a free loopback port, with its data in a temp dir.
pub(crate) struct Azurite {
    remote: Remote,
    pub endpoint: String,
}

impl Azurite {
    pub(crate) async fn start(guard: Guard) -> Self {
        let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/azurite/node_modules/.bin/azurite-blob");
        assert!(bin.exists(), "{} is missing: run `(cd tests/azurite && npm ci)` (tests/run.sh does)", bin.display());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let remote = Remote::spawn(guard, &bin, |dir| {
            let mut args: Vec<std::ffi::OsString> = ["--blobHost", "127.0.0.1", "--blobPort"].map(Into::into).into();
            args.extend([port.to_string().into(), "--silent".into(), "--skipApiVersionCheck".into()]);
            // No telemetry from a test run (it would try to reach Application Insights).
            args.push("--disableTelemetry".into());
            args.extend(["--location".into(), dir.into()]);
            args
        });
        let mut azurite = Self { remote, endpoint: format!("http://127.0.0.1:{port}/{AZURITE_ACCOUNT}") };
        // Keep draining its stdout so that it never blocks on a full pipe.
        let stdout = azurite.remote.child.stdout.take().unwrap();
        std::thread::spawn(move || BufReader::new(stdout).lines().for_each(drop));
        // Ready when Azurite itself answers on the port (not some other test's server that took
        // the port first: then Azurite exits, which is reported). Bounded: Node starts in well
        // under a minute.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let http = reqwest::Client::new();
        loop {
            if let Some(status) = azurite.remote.child.try_wait().unwrap() {
                panic!("Azurite exited before serving on port {port}: {status}");
            }
            let answer = http.get(format!("http://127.0.0.1:{port}/")).send().await;
            let server = answer.ok().and_then(|r| r.headers().get("server")?.to_str().ok().map(str::to_owned));
            if server.is_some_and(|s| s.starts_with("Azurite")) {
                return azurite;
            }
            assert!(std::time::Instant::now() < deadline, "Azurite did not start serving on port {port}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// An account SAS for an hour, signed by the store's own signer.
    fn sas() -> String {
        bleepstore::blob::azure_sas::account_sas(
            AZURITE_ACCOUNT,
            AZURITE_KEY,
            time::OffsetDateTime::now_utc(),
            std::time::Duration::from_secs(3600),
        )
        .unwrap()
    }

    /// Creates a container.
    pub(crate) async fn create_container(&self, name: &str) {
        let sas = Self::sas();
        let resp = reqwest::Client::new()
            .put(format!("{}/{name}?restype=container&{sas}", self.endpoint))
            .header("x-ms-version", "2021-08-06")
            .header("content-length", "0")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201, "{}", resp.text().await.unwrap_or_default());
    }

    /// A backend config for blobs under `prefix` in `container`.
    pub(crate) fn config(&self, container: &str, prefix: &str) -> AzureBackendConfig {
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

    /// Takes the remote away (the process is killed).
    pub(crate) fn kill(self) {
        drop(self.remote);
    }
}

/// The harness really puts a test server's blobs where `BLEEPSTORE_TEST_BACKEND` says: an
/// object over the inline limit shows up in that remote, under the server's own prefix, seen
/// through the remote's own API rather than the store's.
#[tokio::test]
async fn test_servers_use_the_backend_named() {
    let srv = crate::common::TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("app").send().await.unwrap();
    let body = crate::common::data(100_000, 5);
    c.put_object().bucket("app").key("blob").body(body.into()).send().await.unwrap();
    let backend = &srv.state.config.backend;
    match TestBackend::from_env() {
        TestBackend::Local => {
            assert_eq!(backend.kind, BackendKind::Local);
            let blobs = srv.state.config.data_dir.join("blobs");
            assert_eq!(crate::process::count_files(&blobs), 1);
        }
        TestBackend::S3 => {
            assert_eq!(backend.kind, BackendKind::S3);
            let prefix = &backend.s3.as_ref().unwrap().prefix;
            let page =
                shared_s3().await.client().list_objects_v2().bucket(SHARED_BUCKET).prefix(prefix).send().await.unwrap();
            assert_eq!(page.contents().len(), 1, "one blob under {prefix}");
        }
        TestBackend::Azure => {
            assert_eq!(backend.kind, BackendKind::Azure);
            let prefix = &backend.azure.as_ref().unwrap().prefix;
            let azurite = shared_azurite().await;
            let sas = Azurite::sas();
            let listing = reqwest::Client::new()
                .get(format!("{}/{SHARED_BUCKET}?restype=container&comp=list&prefix={prefix}&{sas}", azurite.endpoint))
                .header("x-ms-version", "2021-08-06")
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert_eq!(listing.matches("<Blob>").count(), 1, "one blob under {prefix}: {listing}");
        }
    }
}

//! SigV4 header signing for the bench client (the same pure functions the server verifies
//! with), and spawning a local `bleepstore` to measure.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use bleepstore::auth::sigv4;
use tokio::io::{AsyncBufReadExt, BufReader};

pub(crate) struct Creds {
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
    /// The signing key of the day it was derived for (derived once per day, as SDKs do).
    key: std::sync::Mutex<Option<(String, [u8; 32])>>,
}

impl Creds {
    pub(crate) fn new(access_key: &str, secret_key: &str, region: &str) -> Self {
        Self {
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            region: region.to_owned(),
            key: std::sync::Mutex::new(None),
        }
    }

    fn signing_key(&self, date: &str) -> [u8; 32] {
        let mut slot = self.key.lock().unwrap_or_else(|e| e.into_inner());
        match &*slot {
            Some((d, k)) if d == date => *k,
            _ => {
                let k = sigv4::signing_key(&self.secret_key, date, &self.region, "s3");
                *slot = Some((date.to_owned(), k));
                k
            }
        }
    }
}

/// Headers that sign `method host path?query` with UNSIGNED-PAYLOAD; `extra` are signed too.
pub(crate) fn headers(
    c: &Creds,
    method: &str,
    host: &str,
    path: &str,
    query: &str,
    extra: &[(String, String)],
) -> Vec<(String, String)> {
    let now = time::OffsetDateTime::now_utc();
    let ts = bleepstore::auth::sigv4_timestamp(now);
    let date = &ts[..8];
    let mut hs: Vec<(String, String)> = vec![
        ("host".into(), host.into()),
        ("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()),
        ("x-amz-date".into(), ts.clone()),
    ];
    hs.extend(extra.iter().cloned());
    hs.sort();
    let names: Vec<String> = hs.iter().map(|(n, _)| n.clone()).collect();
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            // Canonicalisation encodes once: start from the decoded values.
            let decode = |s: &str| bleepstore::percent::decode(s).unwrap_or_else(|_| s.to_owned());
            (decode(n), decode(v))
        })
        .collect();
    let cq = sigv4::canonical_query(pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())), None);
    let creq =
        sigv4::canonical_request(method, &sigv4::canonical_uri(path), &cq, &hs, &names.join(";"), "UNSIGNED-PAYLOAD");
    let scope = format!("{date}/{}/s3/aws4_request", c.region);
    let key = c.signing_key(date);
    let sig = sigv4::signature(&key, &sigv4::string_to_sign(&ts, &scope, &creq));
    let mut out: Vec<(String, String)> = hs.into_iter().filter(|(n, _)| n != "host").collect();
    out.push((
        "authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={}, Signature={sig}",
            c.access_key,
            names.join(";")
        ),
    ));
    out
}

pub(crate) struct Spawned {
    pub child: Option<tokio::process::Child>,
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
}

/// Removes the spawned store's data directory on drop.
pub(crate) struct DirGuard(pub PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts `target/release/bleepstore` (next to this binary) on `dir` and waits for it to serve.
pub(crate) async fn spawn_store(dir: &Path) -> Spawned {
    let exe = std::env::current_exe().expect("exe").with_file_name("bleepstore");
    let (access_key, secret_key) = ("BENCHROOTKEY".to_owned(), "bench-root-secret-key".to_owned());
    let mut child = tokio::process::Command::new(&exe)
        .args(["--listen", "127.0.0.1:0", "--management-listen", "127.0.0.1:0", "--log-level", "warn", "--data-dir"])
        .arg(dir)
        .env("BLEEPSTORE_ROOT_ACCESS_KEY", &access_key)
        .env("BLEEPSTORE_ROOT_SECRET_KEY", &secret_key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {}: {e} (build it with cargo build --release -p bleepstore)", exe.display())
        });
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let endpoint = loop {
        let line = lines.next_line().await.expect("read").expect("bleepstore exited before serving");
        if let Some(rest) = line.strip_prefix("BleepStore is serving S3 at ") {
            break rest.trim().to_owned();
        }
    };
    Spawned { child: Some(child), endpoint, access_key, secret_key }
}

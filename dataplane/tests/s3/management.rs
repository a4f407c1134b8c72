//! The management port: probes that reflect real failures, metrics that move by exactly the
//! requests made, the OpenAPI document and docs page, and the admin API behind its token.

use serde_json::json;

use crate::common::{code, TestServer, ADMIN_TOKEN};

#[tokio::test]
async fn probes_reflect_volume_and_database_failures() {
    let srv = TestServer::start().await;
    assert_eq!(srv.mgmt("GET", "/healthz", None, None).await.0, 200);
    assert_eq!(srv.mgmt("GET", "/readyz", None, None).await, (200, "ready".to_owned()));
    let (status, body) = srv.mgmt("GET", "/health", None, None).await;
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["components"]["volume"]["status"], "ok");

    // The volume stops accepting writes (immutable directory: refused even to root).
    let tmp = srv.state.config.data_dir.join("tmp");
    let chattr = |flag: &str| {
        assert!(std::process::Command::new("chattr")
            .arg(flag)
            .arg(&tmp)
            .status()
            .expect("chattr (e2fsprogs) is needed")
            .success())
    };
    chattr("+i");
    let (status, body) = srv.mgmt("GET", "/readyz", None, None).await;
    chattr("-i");
    assert_eq!(status, 503);
    assert!(body.contains("volume"), "{body}");
    assert_eq!(srv.mgmt("GET", "/readyz", None, None).await.0, 200);

    // The database file goes missing (an unmounted or deleted volume): not ready until it is back.
    let db = srv.state.config.data_dir.join("meta.db");
    let away = srv.state.config.data_dir.join("meta.db.away");
    std::fs::rename(&db, &away).unwrap();
    let (status, body) = srv.mgmt("GET", "/readyz", None, None).await;
    let (hstatus, hbody) = srv.mgmt("GET", "/health", None, None).await;
    std::fs::rename(&away, &db).unwrap();
    assert_eq!(status, 503);
    assert!(body.contains("metadata"), "{body}");
    assert_eq!(hstatus, 503);
    assert!(hbody.contains("\"failing\""), "{hbody}");
    // A write lock held elsewhere for longer than the probe waits (SQLITE_BUSY) is not ready:
    // writes would stall. It is ready again as soon as the lock is released.
    let blocker = rusqlite::Connection::open(&db).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (status, body) = srv.mgmt("GET", "/readyz", None, None).await;
    blocker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(status, 503);
    assert!(body.contains("metadata") && body.contains("locked"), "{body}");
    assert_eq!(srv.mgmt("GET", "/readyz", None, None).await.0, 200);
}

#[tokio::test]
async fn metrics_move_by_exactly_the_requests_made() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("metrics").send().await.unwrap();
    let puts = r#"bleepstore_s3_operations_total{operation="PutObject",status="200"}"#;
    let gets = r#"bleepstore_http_requests_total{method="GET",operation="GetObject",status="200"}"#;
    let missing = r#"bleepstore_s3_operations_total{operation="GetObject",status="404"}"#;
    let (p0, g0, m0) = (srv.metric(puts).await, srv.metric(gets).await, srv.metric(missing).await);
    let (rx0, tx0) =
        (srv.metric("bleepstore_bytes_received_total").await, srv.metric("bleepstore_bytes_sent_total").await);
    for i in 0..3 {
        c.put_object().bucket("metrics").key(format!("k{i}")).body(vec![7u8; 1000].into()).send().await.unwrap();
    }
    for _ in 0..2 {
        c.get_object().bucket("metrics").key("k0").send().await.unwrap().body.collect().await.unwrap();
    }
    assert_eq!(code(&c.get_object().bucket("metrics").key("nope").send().await.unwrap_err()), "NoSuchKey");
    assert_eq!(srv.metric(puts).await - p0, 3.0);
    assert_eq!(srv.metric(gets).await - g0, 2.0);
    assert_eq!(srv.metric(missing).await - m0, 1.0);
    assert!(srv.metric("bleepstore_bytes_received_total").await - rx0 >= 3000.0);
    assert!(srv.metric("bleepstore_bytes_sent_total").await - tx0 >= 2000.0);
    assert_eq!(srv.metric("bleepstore_objects").await, 3.0);
    assert_eq!(srv.metric("bleepstore_buckets").await, 1.0);
    c.delete_object().bucket("metrics").key("k1").send().await.unwrap();
    assert_eq!(srv.metric("bleepstore_objects").await, 2.0);
    let (_, text) = srv.mgmt("GET", "/metrics", None, None).await;
    assert!(text.contains("bleepstore_http_request_duration_seconds_bucket"));
    assert!(text.contains("bleepstore_http_request_size_bytes_bucket{le=\"256\"}"));
    assert!(text.contains("process_resident_memory_bytes"));
    assert!(!text.contains("k0"), "no keys or paths in labels");
}

#[tokio::test]
async fn openapi_lists_every_admin_route_and_docs_are_served() {
    let srv = TestServer::start().await;
    let (status, body) = srv.mgmt("GET", "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    for (path, methods) in [
        ("/admin/v1/keys/{access_key}", &["get", "put", "delete"][..]),
        ("/admin/v1/keys/{access_key}/grants", &["put"]),
        ("/admin/v1/buckets/{bucket}", &["get", "put", "delete"]),
        ("/admin/v1/usage", &["get"]),
    ] {
        for m in methods {
            assert!(doc["paths"][path][m].is_object(), "{m} {path} missing from the OpenAPI document");
        }
    }
    let (status, html) = srv.mgmt("GET", "/docs", None, None).await;
    assert_eq!(status, 200);
    assert!(html.contains("/openapi.json") && !html.contains("https://"), "served from the binary, no CDN");
}

#[tokio::test]
async fn admin_api_keys_grants_buckets_and_token() {
    let srv = TestServer::start().await;
    let key = json!({ "secret_key": "app-secret-key-0123456789" });
    // Without the token, or with a wrong one: 401, and nothing changes.
    for token in [None, Some("wrong-token-wrong-token")] {
        let (status, body) = srv.mgmt("PUT", "/admin/v1/keys/APPKEY", token, Some(key.clone())).await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("\"Unauthorized\""), "{body}");
        assert_eq!(srv.mgmt("PUT", "/admin/v1/buckets/app-bucket", token, Some(json!({ "owner": "x" }))).await.0, 401);
    }
    assert!(srv.state.db.get_credential("APPKEY").await.unwrap().is_none());
    assert!(srv.state.db.get_bucket("app-bucket").await.unwrap().is_none());

    // A key created through the admin API signs S3 requests at once.
    let t = Some(ADMIN_TOKEN);
    assert_eq!(srv.mgmt("PUT", "/admin/v1/keys/APPKEY", t, Some(key.clone())).await.0, 201);
    assert_eq!(
        srv.mgmt("PUT", "/admin/v1/keys/APPKEY", t, Some(key.clone())).await.0,
        200,
        "repeating it changes nothing"
    );
    assert_eq!(srv.mgmt("PUT", "/admin/v1/buckets/app-bucket", t, Some(json!({ "owner": "platform" }))).await.0, 201);
    assert_eq!(srv.mgmt("PUT", "/admin/v1/buckets/app-bucket", t, Some(json!({ "owner": "platform" }))).await.0, 200);
    assert_eq!(
        srv.mgmt("PUT", "/admin/v1/buckets/app-bucket", t, Some(json!({ "owner": "someone-else" }))).await.0,
        409
    );
    let app = srv.client_as("APPKEY", "app-secret-key-0123456789");
    assert_eq!(code(&app.list_objects_v2().bucket("app-bucket").send().await.unwrap_err()), "AccessDenied");
    let grants = json!({ "grants": [{ "bucket": "app-bucket", "access": "readwrite" }] });
    assert_eq!(srv.mgmt("PUT", "/admin/v1/keys/APPKEY/grants", t, Some(grants)).await.0, 204);
    app.put_object().bucket("app-bucket").key("k").body(vec![1u8; 100].into()).send().await.unwrap();
    assert_eq!(app.list_objects_v2().bucket("app-bucket").send().await.unwrap().contents().len(), 1);
    let (_, body) = srv.mgmt("GET", "/admin/v1/keys/APPKEY", t, None).await;
    assert!(body.contains("readwrite") && !body.contains("app-secret-key"), "{body}");
    let (_, body) = srv.mgmt("GET", "/admin/v1/buckets/app-bucket", t, None).await;
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((info["usage"]["objects"].as_u64(), info["usage"]["bytes"].as_u64()), (Some(1), Some(100)));
    let (_, body) = srv.mgmt("GET", "/admin/v1/usage", t, None).await;
    assert!(body.contains("\"objects\":1"), "{body}");
    // Versioning set through the admin API: usage counts every version; purge removes them all.
    let versioned = json!({ "owner": "platform", "versioning": "Enabled" });
    let (status, body) = srv.mgmt("PUT", "/admin/v1/buckets/app-bucket", t, Some(versioned)).await;
    assert_eq!((status, body.contains("\"versioning\":\"Enabled\"")), (200, true), "{body}");
    app.put_object().bucket("app-bucket").key("k").body(vec![2u8; 50].into()).send().await.unwrap();
    app.delete_object().bucket("app-bucket").key("k").send().await.unwrap();
    let (_, body) = srv.mgmt("GET", "/admin/v1/buckets/app-bucket", t, None).await;
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((info["usage"]["objects"].as_u64(), info["usage"]["bytes"].as_u64()), (Some(2), Some(150)));
    assert_eq!(info["versioning"], "Enabled");
    assert!(info["tags"].is_null(), "no tags yet: {info}");
    // Tags through the admin API: what S3's GetBucketTagging answers; absent leaves them, {}
    // removes them.
    let tagged = json!({ "owner": "platform", "tags": { "team": "data", "env": "prod" } });
    let (status, body) = srv.mgmt("PUT", "/admin/v1/buckets/app-bucket", t, Some(tagged)).await;
    assert_eq!(status, 200, "{body}");
    let root = srv.client();
    let tags = root.get_bucket_tagging().bucket("app-bucket").send().await.unwrap();
    let pairs: Vec<(&str, &str)> = tags.tag_set().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(pairs, [("env", "prod"), ("team", "data")], "stored in key order");
    assert_eq!(srv.mgmt("PUT", "/admin/v1/buckets/app-bucket", t, Some(json!({ "owner": "platform" }))).await.0, 200);
    let (_, body) = srv.mgmt("GET", "/admin/v1/buckets/app-bucket", t, None).await;
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["tags"], json!({ "env": "prod", "team": "data" }), "absent leaves them");
    let cleared = json!({ "owner": "platform", "tags": {} });
    assert_eq!(srv.mgmt("PUT", "/admin/v1/buckets/app-bucket", t, Some(cleared)).await.0, 200);
    assert_eq!(code(&root.get_bucket_tagging().bucket("app-bucket").send().await.unwrap_err()), "NoSuchTagSet");

    // Disabled: refused at once; enabled again: works at once.
    let disabled = json!({ "secret_key": "app-secret-key-0123456789", "enabled": false });
    assert_eq!(srv.mgmt("PUT", "/admin/v1/keys/APPKEY", t, Some(disabled)).await.0, 200);
    assert_eq!(code(&app.list_objects_v2().bucket("app-bucket").send().await.unwrap_err()), "InvalidAccessKeyId");
    assert_eq!(srv.mgmt("PUT", "/admin/v1/keys/APPKEY", t, Some(key)).await.0, 200);
    app.list_objects_v2().bucket("app-bucket").send().await.unwrap();

    // A non-empty bucket is kept unless purge is asked for.
    assert_eq!(srv.mgmt("DELETE", "/admin/v1/buckets/app-bucket", t, None).await.0, 409);
    assert_eq!(srv.mgmt("DELETE", "/admin/v1/buckets/app-bucket?purge=true", t, None).await.0, 204);
    assert!(srv.state.db.get_bucket("app-bucket").await.unwrap().is_none());
    assert_eq!(srv.mgmt("DELETE", "/admin/v1/keys/APPKEY", t, None).await.0, 204);
    assert_eq!(code(&app.list_buckets().send().await.unwrap_err()), "InvalidAccessKeyId");

    // Bad input is a clear 400; the root key cannot be managed here.
    for (path, body) in [
        ("/admin/v1/keys/APPKEY", json!({ "secret_key": "short" })),
        ("/admin/v1/keys/APPKEY", json!({ "secret": "field-name-is-wrong-0123" })),
        ("/admin/v1/keys/bad%20id", json!({ "secret_key": "app-secret-key-0123456789" })),
        ("/admin/v1/buckets/Bad_Bucket", json!({ "owner": "x" })),
        ("/admin/v1/buckets/good-bucket", json!({ "owner": "x", "versioning": "On" })),
        ("/admin/v1/buckets/good-bucket", json!({ "owner": "x", "tags": { "aws:reserved": "x" } })),
        ("/admin/v1/buckets/good-bucket", json!({ "owner": "x", "tags": { "k": "semi;colon" } })),
        ("/admin/v1/keys/APPKEY/grants", json!({ "grants": [{ "bucket": "b1b", "access": "everything" }] })),
    ] {
        let (status, text) = srv.mgmt("PUT", path, t, Some(body)).await;
        assert_eq!(status, 400, "{path}: {text}");
        assert!(text.contains("\"error\""), "{text}");
    }
    assert_eq!(
        srv.mgmt(
            "PUT",
            &format!("/admin/v1/keys/{}", crate::common::ACCESS_KEY),
            t,
            Some(json!({ "secret_key": "another-secret-0123456789" }))
        )
        .await
        .0,
        409
    );
}

#[tokio::test]
async fn not_ready_until_recovery_has_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = bleepstore::config::Config { data_dir: dir.path().join("data"), ..Default::default() };
    let opened = bleepstore::server::open(config).await.unwrap();
    let listener = bleepstore::server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(bleepstore::server::serve_management(listener, opened.state.clone(), std::future::pending()));
    let resp = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert!(resp.text().await.unwrap().contains("start-up recovery"));
    let prepared = bleepstore::server::recover(opened).await.unwrap();
    assert_eq!(reqwest::get(format!("http://{addr}/readyz")).await.unwrap().status().as_u16(), 200);
    drop(prepared);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_carry_a_secret_and_sigterm_drains_and_exits() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("stderr.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bleepstore"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--management-listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--log-level",
            "debug",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .env("BLEEPSTORE_ROOT_ACCESS_KEY", crate::common::ACCESS_KEY)
        .env("BLEEPSTORE_ROOT_SECRET_KEY", crate::common::SECRET_KEY)
        .env("BLEEPSTORE_ADMIN_TOKEN", ADMIN_TOKEN)
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let mut out = String::new();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 1];
    // Read the banner up to the management line.
    while !out.contains("management:") || !out.ends_with('\n') {
        stdout.read_exact(&mut buf).unwrap();
        out.push(buf[0] as char);
    }
    let s3 = out.lines().find_map(|l| l.strip_prefix("BleepStore is serving S3 at ")).unwrap().trim().to_owned();
    let mgmt = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("management:"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let secret = "log-test-secret-9f8e7d6c5b4a";
    let http = reqwest::Client::new();
    let put = |path: &str, body: serde_json::Value| {
        http.put(format!("{mgmt}{path}"))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    assert_eq!(put("/admin/v1/keys/LOGKEY", json!({ "secret_key": secret })).await.unwrap().status().as_u16(), 201);
    assert_eq!(put("/admin/v1/buckets/logs", json!({ "owner": "LOGKEY" })).await.unwrap().status().as_u16(), 201);
    let c = crate::common::client(&s3, "LOGKEY", secret, true);
    c.put_object().bucket("logs").key("k").body(b"v".to_vec().into()).send().await.unwrap();
    c.get_object().bucket("logs").key("k").send().await.unwrap();
    let bad = crate::common::client(&s3, "LOGKEY", "not-the-secret-at-all", true);
    assert_eq!(code(&bad.get_object().bucket("logs").key("k").send().await.unwrap_err()), "SignatureDoesNotMatch");

    // SIGTERM: the process stops accepting, drains and exits 0 on its own.
    assert!(std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status =
        tokio::time::timeout(std::time::Duration::from_secs(60), tokio::task::spawn_blocking(move || child.wait()))
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    assert!(status.success(), "{status:?}");
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(logs.contains("\"operation\":\"PutObject\""), "one JSON line per request: {logs}");
    assert!(!logs.contains(secret), "a log line carries the secret");
    assert!(!logs.contains(crate::common::SECRET_KEY) && !logs.contains(ADMIN_TOKEN));
    assert!(!logs.to_ascii_lowercase().contains("authorization"), "no Authorization header in logs");
}

/// Secrets at rest: the metadata files (database and WAL) hold no access key's secret in
/// clear, and the keys still work.
#[tokio::test]
async fn no_secret_in_clear_in_the_database_files() {
    let srv = TestServer::start().await;
    let app_secret = "app-secret-that-must-not-be-on-disk";
    srv.add_key("APPKEYATREST", app_secret, "app-owner").await;
    let c = srv.client();
    c.create_bucket().bucket("atrest").send().await.unwrap();
    srv.state.db.set_grant("APPKEYATREST", "atrest", bleepstore::meta::GRANT_READ).await.unwrap();
    let app = srv.client_as("APPKEYATREST", app_secret);
    app.list_objects_v2().bucket("atrest").send().await.unwrap();
    let dir = &srv.state.config.data_dir;
    let mut scanned = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("meta.db") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        scanned += bytes.len();
        for secret in [app_secret, crate::common::SECRET_KEY] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{name} holds the secret {secret:?} in clear"
            );
        }
    }
    assert!(scanned > 0, "no meta.db files found in {}", dir.display());
}

/// `bleepstore probe`: exit 0 only when every URL answers 2xx; a 503, a 404, a refused
/// connection and a non-http URL each exit 1 and say which URL and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_exits_zero_only_when_every_url_answers_2xx() {
    let srv = TestServer::start().await;
    let probe = |urls: Vec<String>| async move {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_bleepstore")).arg("probe").args(urls).output().await.unwrap()
    };
    let ready = format!("http://{}/readyz", srv.mgmt);
    let health = format!("http://{}/healthz", srv.mgmt);
    let ok = probe(vec![ready.clone(), health.clone()]).await;
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(String::from_utf8_lossy(&ok.stdout), format!("{ready}: 200\n{health}: 200\n"));

    let missing = format!("http://{}/no-such-path", srv.mgmt);
    let not_found = probe(vec![ready.clone(), missing.clone()]).await;
    assert_eq!(not_found.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&not_found.stderr), format!("bleepstore probe: {missing}: answered 404\n"));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let refused = probe(vec![format!("http://{closed}/readyz")]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).starts_with(&format!("bleepstore probe: http://{closed}/readyz: "))
    );

    let https = probe(vec![format!("https://{}/readyz", srv.mgmt)]).await;
    assert_eq!(https.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&https.stderr).contains("only http:// URLs are probed"));

    let none = tokio::process::Command::new(env!("CARGO_BIN_EXE_bleepstore")).arg("probe").output().await.unwrap();
    assert_eq!(none.status.code(), Some(2), "clap refuses a probe without URLs");
}

/// `bleepstore probe --s3` with only the variables a key Secret gives (`envFrom`): put, get and
/// delete through S3, over HTTP and over HTTPS with the CA from `AWS_CA_BUNDLE`; a missing
/// bucket, a wrong secret, a missing variable and an untrusted certificate each exit 1 saying
/// which step failed and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_s3_round_trips_with_a_key_secrets_variables() {
    async fn probe_s3(env: &[(&str, &str)]) -> std::process::Output {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_bleepstore"));
        command.args(["probe", "--s3"]).env_clear().env("HOME", "/nonexistent");
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().await.unwrap()
    }
    let text = |out: &std::process::Output| {
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    };
    let srv = TestServer::start().await;
    srv.client().create_bucket().bucket("probed").send().await.unwrap();
    let endpoint = srv.endpoint();
    let secret = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", crate::common::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", crate::common::SECRET_KEY),
        ("AWS_REGION", "us-east-1"),
        ("BUCKET_NAME", "probed"),
    ];
    let ok = probe_s3(&secret).await;
    assert!(ok.status.success(), "{}", text(&ok));
    let said = String::from_utf8_lossy(&ok.stdout).into_owned();
    assert!(said.contains(": put\n") && said.contains(": get, same bytes\n") && said.contains(": delete\n"), "{said}");
    let left = srv.client().list_objects_v2().bucket("probed").send().await.unwrap();
    assert_eq!(left.key_count(), Some(0), "the probe's object is deleted");

    let mut no_bucket = secret;
    no_bucket[4] = ("BUCKET_NAME", "no-such-bucket");
    let out = probe_s3(&no_bucket).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("put: ") && text(&out).contains("NoSuchBucket"), "{}", text(&out));

    let mut wrong = secret;
    wrong[2] = ("AWS_SECRET_ACCESS_KEY", "not-the-secret-key-at-all");
    let out = probe_s3(&wrong).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("SignatureDoesNotMatch"), "{}", text(&out));

    let out = probe_s3(&secret[..4]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("BUCKET_NAME is not set"), "{}", text(&out));

    // HTTPS with a private CA: trusted through AWS_CA_BUNDLE, refused without it.
    let tls = TestServer::start_tls().await;
    tls.client().create_bucket().bucket("probed").send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, tls.ca_pem.as_deref().unwrap()).unwrap();
    let tls_endpoint = tls.endpoint();
    let mut over_tls = secret.to_vec();
    over_tls[0] = ("AWS_ENDPOINT_URL", tls_endpoint.as_str());
    let out = probe_s3(&over_tls).await;
    assert_eq!(out.status.code(), Some(1), "an untrusted certificate fails: {}", text(&out));
    let ca_path = ca.to_str().unwrap();
    over_tls.push(("AWS_CA_BUNDLE", ca_path));
    let out = probe_s3(&over_tls).await;
    assert!(out.status.success(), "{}", text(&out));
}

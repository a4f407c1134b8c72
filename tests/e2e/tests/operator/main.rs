//! The operator end to end: kubectl, the real operator binary, the kubelet harness running
//! real `bleepstore` processes, and S3 clients built from the Secrets the operator writes.
//! Each scenario is its own test with its own API server, operator and processes.

mod cluster;

use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;
use cluster::{code, condition, metrics, Cluster, NS};

const STORE: &str = "apiVersion: bleepstore.io/v1alpha1
kind: BleepStore
metadata:
  name: demo
spec:
  storage:
    size: 1Gi
  logFormat: text
";

fn bucket(name: &str, policy: &str) -> String {
    format!(
        "apiVersion: bleepstore.io/v1alpha1\nkind: Bucket\nmetadata:\n  name: {name}\nspec:\n  store: demo\n  \
        deletionPolicy: {policy}\n"
    )
}

fn key(name: &str, bucket: &str, access: &str) -> String {
    format!(
        "apiVersion: bleepstore.io/v1alpha1\nkind: AccessKey\nmetadata:\n  name: {name}\nspec:\n  store: demo\n  \
            buckets:\n  - bucket: {bucket}\n    access: {access}\n"
    )
}

/// A cluster with a Ready store.
async fn with_store() -> Cluster {
    let cluster = Cluster::start().await;
    cluster.apply_ok(STORE);
    cluster.wait_condition("bleepstores", "demo", "Ready", "True").await;
    cluster
}

/// The key's Secret, once the key is Ready with its current generation.
async fn key_secret(cluster: &Cluster, name: &str) -> BTreeMap<String, String> {
    cluster.wait_condition("accesskeys", name, "Ready", "True").await;
    cluster.secret(name).expect("the key's Secret")
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_apply_of_a_store_makes_it_ready() {
    let cluster = Cluster::start().await;
    cluster.apply_ok(STORE);
    let ready = cluster.wait_condition("bleepstores", "demo", "Ready", "True").await;
    assert_eq!(ready["reason"], "Ready");
    let store = cluster.get("bleepstore.io", "bleepstores", "demo").unwrap();
    assert_eq!(store["status"]["readyReplicas"], 1);
    assert_eq!(store["status"]["endpoint"], "http://demo.team-a.svc:9000");
    assert_eq!(condition(&store, "Degraded").unwrap()["status"], "False");
    assert!(store["metadata"]["finalizers"].as_array().unwrap().iter().any(|f| f == "bleepstore.io/store-protection"));
    let uid = store["metadata"]["uid"].clone();
    for (group, plural, name) in [
        ("apps", "statefulsets", "demo"),
        ("", "services", "demo"),
        ("", "services", "demo-headless"),
        ("", "configmaps", "demo-config"),
        ("", "secrets", "demo-root"),
        ("", "secrets", "demo-admin"),
    ] {
        let obj = cluster.get(group, plural, name).unwrap_or_else(|| panic!("{plural}/{name} exists"));
        assert_eq!(obj["metadata"]["ownerReferences"][0]["uid"], uid, "{plural}/{name} is owned by the store");
    }
    let volumes = &store["status"]["volumes"];
    assert_eq!(volumes[0]["claim"], "data-demo-0");
    assert_eq!(volumes[0]["capacity"], "1Gi");
    // A PodDisruptionBudget comes and goes with the spec; storage grows on the claim.
    cluster.apply_ok(&format!("{STORE}  podDisruptionBudget:\n    maxUnavailable: 1\n"));
    let pdb = cluster.wait_for("the PodDisruptionBudget", |c| c.get("policy", "poddisruptionbudgets", "demo")).await;
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    cluster.apply_ok(&STORE.replace("1Gi", "2Gi"));
    cluster
        .wait_for("the PodDisruptionBudget to go", |c| {
            c.get("policy", "poddisruptionbudgets", "demo").is_none().then_some(())
        })
        .await;
    let grown = cluster
        .wait_for("the volume to grow", |c| {
            let store = c.get("bleepstore.io", "bleepstores", "demo")?;
            (store["status"]["volumes"][0]["capacity"] == "2Gi").then_some(store)
        })
        .await;
    assert_eq!(grown["status"]["volumes"][0]["requested"], "2Gi");
    let sts = cluster.get("apps", "statefulsets", "demo").unwrap();
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"], "1Gi",
        "the template keeps its size"
    );
    // The store answers S3 with its root credential.
    let root = cluster.root_client("demo").await;
    assert!(root.list_buckets().send().await.unwrap().buckets().is_empty());
    // Only the leader acts: the Lease names this operator.
    let lease = cluster.get("coordination.k8s.io", "leases", "bleepstore-operator").expect("the leader Lease");
    assert!(lease["spec"]["holderIdentity"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_and_a_key_give_an_app_working_credentials() {
    let cluster = with_store().await;
    cluster.apply_ok(&bucket("photos", "Retain"));
    cluster.apply_ok(&key("photo-app", "photos", "ReadWrite"));
    let env = key_secret(&cluster, "photo-app").await;
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_REGION",
        "BUCKET_NAME",
    ] {
        assert!(env.contains_key(name), "the Secret has {name}");
    }
    assert_eq!(env["AWS_ENDPOINT_URL"], "http://demo.team-a.svc:9000");
    assert_eq!(env["BUCKET_NAME"], "photos");
    let status = cluster.get("bleepstore.io", "accesskeys", "photo-app").unwrap()["status"].clone();
    assert_eq!(status["accessKeyId"], env["AWS_ACCESS_KEY_ID"].as_str());
    assert!(!status.to_string().contains(&env["AWS_SECRET_ACCESS_KEY"]), "status never holds the secret");

    let app = cluster.app_client(&env).await;
    app.put_object()
        .bucket(&env["BUCKET_NAME"])
        .key("hello.txt")
        .body(ByteStream::from_static(b"hi from the app"))
        .send()
        .await
        .unwrap();
    let got = app.get_object().bucket(&env["BUCKET_NAME"]).key("hello.txt").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"hi from the app");
    let bucket = cluster
        .wait_for("bucket usage", |c| {
            let b = c.get("bleepstore.io", "buckets", "photos")?;
            (b["status"]["bucketName"] == "photos").then_some(b)
        })
        .await;
    assert_eq!(condition(&bucket, "Ready").unwrap()["status"], "True");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_grant_refuses_writes_and_deleting_the_key_revokes_it() {
    let cluster = with_store().await;
    cluster.apply_ok(&bucket("photos", "Retain"));
    cluster.apply_ok(&key("photo-app", "photos", "ReadWrite"));
    let env = key_secret(&cluster, "photo-app").await;
    let app = cluster.app_client(&env).await;
    app.put_object().bucket("photos").key("a.txt").body(ByteStream::from_static(b"a")).send().await.unwrap();

    cluster.apply_ok(&key("photo-app", "photos", "ReadOnly"));
    let env_after = key_secret(&cluster, "photo-app").await;
    assert_eq!(env_after["AWS_ACCESS_KEY_ID"], env["AWS_ACCESS_KEY_ID"], "a grant change keeps the key");
    assert_eq!(env_after["AWS_SECRET_ACCESS_KEY"], env["AWS_SECRET_ACCESS_KEY"]);
    let refused =
        app.put_object().bucket("photos").key("b.txt").body(ByteStream::from_static(b"b")).send().await.unwrap_err();
    assert_eq!(code(&refused), "AccessDenied");
    let read = app.get_object().bucket("photos").key("a.txt").send().await.unwrap();
    assert_eq!(read.body.collect().await.unwrap().into_bytes().as_ref(), b"a");

    cluster.kubectl_ok(&["delete", "accesskey", "photo-app", "--wait=false"]);
    cluster
        .wait_for("the AccessKey and its Secret to be gone", |c| {
            (c.get("bleepstore.io", "accesskeys", "photo-app").is_none() && c.secret("photo-app").is_none())
                .then_some(())
        })
        .await;
    let revoked = app.get_object().bucket("photos").key("a.txt").send().await.unwrap_err();
    assert_eq!(code(&revoked), "InvalidAccessKeyId");
}

#[tokio::test(flavor = "multi_thread")]
async fn bucket_deletion_policies() {
    let cluster = with_store().await;
    for (name, policy) in [("kept", "Retain"), ("careful", "DeleteIfEmpty"), ("gone", "Delete")] {
        cluster.apply_ok(&bucket(name, policy));
        cluster.wait_condition("buckets", name, "Ready", "True").await;
    }
    let root = cluster.root_client("demo").await;
    for name in ["kept", "careful", "gone"] {
        root.put_object().bucket(name).key("object").body(ByteStream::from_static(b"data")).send().await.unwrap();
    }

    cluster.kubectl_ok(&["delete", "bucket", "kept", "--wait=false"]);
    cluster
        .wait_for("Bucket kept to be gone", |c| c.get("bleepstore.io", "buckets", "kept").is_none().then_some(()))
        .await;
    let kept = root.get_object().bucket("kept").key("object").send().await.unwrap();
    assert_eq!(kept.body.collect().await.unwrap().into_bytes().as_ref(), b"data", "Retain keeps the data");

    cluster.kubectl_ok(&["delete", "bucket", "careful", "--wait=false"]);
    let blocked = cluster.wait_condition("buckets", "careful", "DeletionBlocked", "True").await;
    assert_eq!(blocked["reason"], "BucketNotEmpty");
    assert!(blocked["message"].as_str().unwrap().contains("not empty"));
    root.delete_object().bucket("careful").key("object").send().await.unwrap();
    cluster
        .wait_for("Bucket careful to be gone once empty", |c| {
            c.get("bleepstore.io", "buckets", "careful").is_none().then_some(())
        })
        .await;
    assert_eq!(code(&root.head_bucket().bucket("careful").send().await.unwrap_err()), "NotFound");

    cluster.kubectl_ok(&["delete", "bucket", "gone", "--wait=false"]);
    cluster
        .wait_for("Bucket gone to be gone", |c| c.get("bleepstore.io", "buckets", "gone").is_none().then_some(()))
        .await;
    assert_eq!(code(&root.head_bucket().bucket("gone").send().await.unwrap_err()), "NotFound");
    let events = cluster.list("events.k8s.io", "events");
    assert!(
        events.iter().any(|e| e["reason"] == "DeletionBlocked" && e["regarding"]["name"] == "careful"),
        "an event says why"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_store_process_restarts_and_keeps_every_acknowledged_object() {
    let cluster = with_store().await;
    cluster.apply_ok(&bucket("data", "Retain"));
    cluster.apply_ok(&key("writer", "data", "ReadWrite"));
    let env = key_secret(&cluster, "writer").await;
    let app = cluster.app_client(&env).await;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let writer = {
        let (app, acknowledged) = (app.clone(), acknowledged.clone());
        tokio::spawn(async move {
            for i in 0.. {
                if *stopped.borrow_and_update() {
                    break;
                }
                let key = format!("object-{i:05}");
                let body = ByteStream::from(key.clone().into_bytes());
                if app.put_object().bucket("data").key(&key).body(body).send().await.is_ok() {
                    acknowledged.lock().unwrap().push(key);
                }
            }
        })
    };
    cluster.wait_for("20 acknowledged writes", |_| (acknowledged.lock().unwrap().len() >= 20).then_some(())).await;
    let pid = cluster.kubelet.pid("team-a/demo-0").expect("the store's process");
    let killed = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(killed.success());
    cluster
        .wait_for("the harness to restart the process", |c| (c.kubelet.restarts("team-a/demo-0") >= 1).then_some(()))
        .await;
    cluster
        .wait_for("readiness to return", |c| {
            let sts = c.get("apps", "statefulsets", "demo")?;
            (sts["status"]["readyReplicas"] == 1 && c.kubelet.pid("team-a/demo-0") != Some(pid)).then_some(())
        })
        .await;
    app.put_object().bucket("data").key("after-restart").body(ByteStream::from_static(b"x")).send().await.unwrap();
    stop.send(true).unwrap();
    writer.await.unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 20);
    for key in &acknowledged {
        let got = app
            .get_object()
            .bucket("data")
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key} was acknowledged but is lost: {e:?}"));
        assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), key.as_bytes());
    }
}

/// The resourceVersion of every object the operator writes, by kind and name.
fn versions(cluster: &Cluster) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (group, plural) in [
        ("apps", "statefulsets"),
        ("", "services"),
        ("", "configmaps"),
        ("", "secrets"),
        ("policy", "poddisruptionbudgets"),
        ("bleepstore.io", "bleepstores"),
        ("bleepstore.io", "buckets"),
        ("bleepstore.io", "accesskeys"),
    ] {
        for obj in cluster.list(group, plural) {
            out.insert(
                format!("{plural}/{}", obj["metadata"]["name"].as_str().unwrap()),
                obj["metadata"]["resourceVersion"].as_str().unwrap().to_owned(),
            );
        }
    }
    out
}

/// Finished reconciles of `kind`, from the operator's metrics.
fn finished(metrics: &str, kind: &str) -> u64 {
    let prefix = format!("bleepstore_operator_reconcile_duration_seconds_count{{kind=\"{kind}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gitops_resync_changes_nothing() {
    let mut cluster = with_store().await;
    let manifests =
        format!("{}---\n{}---\n{}", bucket("photos", "Delete"), key("photo-app", "photos", "ReadWrite"), STORE);
    cluster.apply_ok(&manifests);
    let env = key_secret(&cluster, "photo-app").await;
    cluster.wait_condition("buckets", "photos", "Ready", "True").await;
    let before = versions(&cluster);

    // A re-sync: the same manifests applied again, and a fresh operator that reconciles all.
    cluster.apply_ok(&manifests);
    cluster.stop_operator().await;
    cluster.start_operator();
    let mut metrics = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    for kind in ["BleepStore", "Bucket", "AccessKey"] {
        while finished(&metrics, kind) < 1 {
            assert!(tokio::time::Instant::now() < deadline, "the restarted operator did not reconcile a {kind}");
            cluster.next_change().await;
            metrics = cluster.metrics().await;
        }
    }
    let after = versions(&cluster);
    assert_eq!(before, after, "no object changed");
    assert_eq!(key_secret(&cluster, "photo-app").await, env, "no new key");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_manifests_are_refused_or_explained() {
    let cluster = with_store().await;
    let invalid = cluster.apply(
        "apiVersion: bleepstore.io/v1alpha1\nkind: Bucket\nmetadata:\n  name: x\nspec:\n  \
        store: demo\n  bucketName: Not_A_Bucket\n",
    );
    assert!(!invalid.status.success());
    let message = String::from_utf8_lossy(&invalid.stderr);
    assert!(message.contains("is invalid") && message.contains("bucketName"), "{message}");
    let dots = cluster.apply(
        "apiVersion: bleepstore.io/v1alpha1\nkind: Bucket\nmetadata:\n  name: x\nspec:\n  store: \
        demo\n  bucketName: a..b\n",
    );
    assert!(String::from_utf8_lossy(&dots.stderr).contains("must not contain '..'"));
    let shrink = cluster.apply(&STORE.replace("1Gi", "512Mi"));
    assert!(String::from_utf8_lossy(&shrink.stderr).contains("storage.size may only grow"));

    cluster.apply_ok(&key("orphan", "no-such-bucket", "ReadOnly"));
    let refused = cluster.wait_condition("accesskeys", "orphan", "Ready", "False").await;
    assert_eq!(refused["reason"], "BucketNotFound");
    assert_eq!(refused["message"], format!("Bucket no-such-bucket not found in namespace {NS}"));
    assert!(cluster.secret("orphan").is_none(), "no Secret for a key that cannot be granted");

    cluster.apply_ok(
        "apiVersion: bleepstore.io/v1alpha1\nkind: BleepStore\nmetadata:\n  name: secure\nspec:\n  \
        storage:\n    size: 1Gi\n  tls:\n    secretName: secure-tls\n",
    );
    let tls = cluster.wait_condition("bleepstores", "secure", "Ready", "False").await;
    assert_eq!(tls["reason"], "TLSSecretNotFound");
    assert_eq!(tls["message"], "TLS Secret secure-tls not found in this namespace");
    assert!(cluster.get("apps", "statefulsets", "secure").is_none(), "nothing is deployed for an invalid store");
}

/// Reconciles of `kind` started, from the operator's metrics.
fn started(metrics: &str, kind: &str) -> u64 {
    let prefix = format!("bleepstore_operator_reconciles_total{{kind=\"{kind}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_leader_acts_and_a_standby_takes_over() {
    let mut cluster = with_store().await;
    let standby_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut standby = cluster.spawn_operator(standby_port, "standby.log");
    // The standby serves its metrics (it is up) but reconciles nothing while the leader acts.
    let standby_metrics = cluster.wait_for_async("the standby's metrics", || metrics(standby_port)).await;
    assert_eq!(started(&standby_metrics, "BleepStore"), 0);
    cluster.apply_ok(&bucket("photos", "Retain"));
    cluster.wait_condition("buckets", "photos", "Ready", "True").await;
    let standby_metrics = metrics(standby_port).await;
    for kind in ["BleepStore", "Bucket", "AccessKey"] {
        assert_eq!(started(&standby_metrics, kind), 0, "the standby reconciled a {kind}");
    }
    // The leader stops (and releases the Lease): the standby takes over and acts.
    cluster.stop_operator().await;
    cluster.apply_ok(&bucket("videos", "Retain"));
    cluster.wait_condition("buckets", "videos", "Ready", "True").await;
    assert!(started(&metrics(standby_port).await, "Bucket") >= 1);
    let _ = standby.kill().await;
}

/// A second `bleepstore` process on loopback, playing a remote S3 account; killed on drop.
struct RemoteS3 {
    child: std::process::Child,
    endpoint: String,
}

impl RemoteS3 {
    const KEY: &'static str = "REMOTEACCESSKEY";
    const SECRET: &'static str = "remote-secret-key-0123456789";

    async fn start(dir: &std::path::Path, bucket: &str) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(cluster::binary("bleepstore"))
            .env_remove("BLEEPSTORE_CONFIG")
            .arg("--data-dir")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0", "--management-listen", "127.0.0.1:0", "--log-level", "warn"])
            .env("BLEEPSTORE_ROOT_ACCESS_KEY", Self::KEY)
            .env("BLEEPSTORE_ROOT_SECRET_KEY", Self::SECRET)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let endpoint = loop {
            let line = lines.next().expect("the remote exited before serving").unwrap();
            if let Some(url) = line.strip_prefix("BleepStore is serving S3 at ") {
                break url.trim().to_owned();
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        let remote = Self { child, endpoint };
        remote.client().await.create_bucket().bucket(bucket).send().await.unwrap();
        remote
    }

    async fn client(&self) -> aws_sdk_s3::Client {
        let creds = aws_sdk_s3::config::Credentials::new(Self::KEY, Self::SECRET, None, None, "remote");
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

impl Drop for RemoteS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_store_keeps_its_blobs_in_a_remote_bucket() {
    let remote_dir = tempfile::tempdir().unwrap();
    let remote = RemoteS3::start(remote_dir.path(), "company-objects").await;
    let cluster = Cluster::start().await;
    let store = format!(
        "apiVersion: bleepstore.io/v1alpha1\nkind: BleepStore\nmetadata:\n  name: demo\nspec:\n  storage:\n    \
         size: 1Gi\n  logFormat: text\n  backend:\n    type: S3\n    s3:\n      bucket: company-objects\n      \
         prefix: gateway/\n      region: us-east-1\n      endpoint: {}\n      forcePathStyle: true\n      \
         credentialsSecret:\n        name: remote-credentials\n",
        remote.endpoint
    );
    // Without its credentials Secret the store says so, and nothing is deployed.
    cluster.apply_ok(&store);
    let missing = cluster.wait_condition("bleepstores", "demo", "Ready", "False").await;
    assert_eq!(missing["reason"], "BackendSecretNotFound");
    assert!(cluster.get("apps", "statefulsets", "demo").is_none());
    // A Secret without the secret key is explained too.
    let b64 = |s: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s);
    let secret = |data: &str| {
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: remote-credentials\ntype: Opaque\ndata:\n{data}")
    };
    cluster.apply_ok(&secret(&format!("  AWS_ACCESS_KEY_ID: {}\n", b64(RemoteS3::KEY))));
    cluster
        .wait_for("BackendSecretInvalid", |c| {
            let obj = c.get("bleepstore.io", "bleepstores", "demo")?;
            (condition(&obj, "Ready")?["reason"] == "BackendSecretInvalid").then_some(())
        })
        .await;
    cluster.apply_ok(&secret(&format!(
        "  AWS_ACCESS_KEY_ID: {}\n  AWS_SECRET_ACCESS_KEY: {}\n",
        b64(RemoteS3::KEY),
        b64(RemoteS3::SECRET)
    )));
    cluster.wait_condition("bleepstores", "demo", "Ready", "True").await;
    let store_status = cluster.get("bleepstore.io", "bleepstores", "demo").unwrap();
    assert!(!store_status.to_string().contains(RemoteS3::SECRET), "no remote secret in the status");

    // Objects over the inline limit land in the remote bucket under the prefix; small ones stay
    // in the store's metadata; deleting an object deletes its remote blob.
    let root = cluster.root_client("demo").await;
    root.create_bucket().bucket("app").send().await.unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    root.put_object().bucket("app").key("big").body(ByteStream::from(big.clone())).send().await.unwrap();
    root.put_object().bucket("app").key("small").body(ByteStream::from_static(b"inline")).send().await.unwrap();
    let got = root.get_object().bucket("app").key("big").send().await.unwrap().body.collect().await.unwrap();
    assert_eq!(got.into_bytes().as_ref(), big.as_slice());
    let remote_client = remote.client().await;
    let remote_keys = || async {
        let page = remote_client.list_objects_v2().bucket("company-objects").send().await.unwrap();
        page.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect::<Vec<_>>()
    };
    let keys = remote_keys().await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("gateway/"), "{keys:?}");
    root.delete_object().bucket("app").key("big").send().await.unwrap();
    cluster
        .wait_for_async("the remote blob to be deleted", || async {
            if remote_keys().await.is_empty() {
                "deleted".to_owned()
            } else {
                String::new()
            }
        })
        .await;
}

//! Apps using the store: the chart's examples with a Job configured only by a key's Secret,
//! grants and their revocation, and a gateway store whose bytes live in a remote bucket.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{ensure, Context, Result};
use aws_sdk_s3::primitives::ByteStream;
use bleepstore_e2e::sandbox::NODE_IP;

use crate::resources::with_store;
use crate::support::{arg, code, condition, wait_for, Ns, World, EXAMPLES};
use crate::{bucket, key};

/// A Job running the app image with `envFrom` the key Secret `secret`.
fn app_job(name: &str, secret: &str) -> String {
    format!(
        "apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: app
          image: bleepstore-e2e-app:e2e
          envFrom:
            - secretRef:
                name: {secret}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: [\"ALL\"]
"
    )
}

/// Waits for a Job to finish and says whether it completed.
async fn job_outcome(ns: &Ns, name: &str) -> Result<bool> {
    wait_for(&format!("Job {name} to finish"), || async {
        let job = ns.get("batch", "jobs", name).await.ok()??;
        let done = |t: &str| {
            job["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == t && c["status"] == "True").cloned()
        };
        match (done("Complete"), done("Failed")) {
            (Some(_), _) => Some(true),
            (None, Some(_)) => Some(false),
            _ => None,
        }
    })
    .await
}

/// The chart's examples, applied as they are with kubectl's validation against the API
/// server's schema; a Job of our app image, configured only by `envFrom` of the key's Secret,
/// writes and reads back; one with the read-only key's Secret fails on its write.
pub(crate) async fn examples_and_an_app_job(world: Arc<World>) -> Result<()> {
    let ns = world.namespace("examples").await?;
    for file in ["store.yaml", "bucket.yaml", "key-readwrite.yaml", "key-readonly.yaml"] {
        let path = format!("{EXAMPLES}/{file}");
        ns.kubectl_ok(&["apply", "--validate=strict", "-f", &path])?;
    }
    // The other two need what this cluster lacks (an aws-cli image, a remote account); the API
    // server still checks them in full.
    for file in ["app.yaml", "store-on-s3.yaml"] {
        let path = format!("{EXAMPLES}/{file}");
        ns.kubectl_ok(&["apply", "--validate=strict", "--dry-run=server", "-f", &path])?;
    }
    ns.wait_condition("bleepstores", "demo", "Ready", "True").await?;
    ns.wait_condition("buckets", "photos", "Ready", "True").await?;
    ns.wait_condition("accesskeys", "photo-app", "Ready", "True").await?;
    ns.wait_condition("accesskeys", "photo-reader", "Ready", "True").await?;

    ns.apply_ok(&app_job("writer", "photo-app"))?;
    ensure!(job_outcome(&ns, "writer").await?, "the writer Job failed: see pods/examples_writer-*/app.log");
    // Its object is there for the store's root too.
    let root = ns.root_client("demo").await?;
    let listed = root.list_objects_v2().bucket("photos").prefix("e2e-app/").send().await?;
    ensure!(listed.contents().len() == 1, "{listed:?}");

    ns.apply_ok(&app_job("reader", "photo-reader-s3"))?;
    ensure!(!job_outcome(&ns, "reader").await?, "a read-only key's app cannot write");
    Ok(())
}

/// The key's Secret, once the key is Ready with its current generation.
async fn key_secret(ns: &Ns, name: &str) -> Result<BTreeMap<String, String>> {
    ns.wait_condition("accesskeys", name, "Ready", "True").await?;
    ns.secret(name).await?.context("the key's Secret")
}

pub(crate) async fn read_only_and_revoke(world: Arc<World>) -> Result<()> {
    let ns = with_store(&world, "grants").await?;
    ns.apply_ok(&bucket("photos", "Retain"))?;
    ns.apply_ok(&key("photo-app", "photos", "ReadWrite"))?;
    let env = key_secret(&ns, "photo-app").await?;
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION"]
    {
        ensure!(env.contains_key(name), "the Secret has {name}");
    }
    ensure!(env["AWS_ENDPOINT_URL"] == "http://demo.grants.svc:9000" && env["BUCKET_NAME"] == "photos", "{env:?}");
    let status = ns.get("bleepstore.io", "accesskeys", "photo-app").await?.context("the key")?["status"].clone();
    ensure!(status["accessKeyId"] == env["AWS_ACCESS_KEY_ID"].as_str(), "{status}");
    ensure!(!status.to_string().contains(&env["AWS_SECRET_ACCESS_KEY"]), "status never holds the secret");
    let app = ns.app_client(&env).await;
    app.put_object().bucket("photos").key("a.txt").body(ByteStream::from_static(b"a")).send().await?;

    ns.apply_ok(&key("photo-app", "photos", "ReadOnly"))?;
    let env_after = key_secret(&ns, "photo-app").await?;
    ensure!(env_after["AWS_ACCESS_KEY_ID"] == env["AWS_ACCESS_KEY_ID"], "a grant change keeps the key");
    ensure!(env_after["AWS_SECRET_ACCESS_KEY"] == env["AWS_SECRET_ACCESS_KEY"]);
    let refused = app.put_object().bucket("photos").key("b.txt").body(ByteStream::from_static(b"b")).send().await;
    ensure!(code(&refused.expect_err("a read-only write")) == "AccessDenied");
    let read = app.get_object().bucket("photos").key("a.txt").send().await?;
    ensure!(read.body.collect().await?.into_bytes().as_ref() == b"a");

    ns.kubectl_ok(&["delete", "accesskey", "photo-app", "--wait=false"])?;
    wait_for("the AccessKey and its Secret to be gone", || async {
        let key_gone = ns.get("bleepstore.io", "accesskeys", "photo-app").await.ok()?.is_none();
        let secret_gone = ns.secret("photo-app").await.ok()?.is_none();
        (key_gone && secret_gone).then_some(())
    })
    .await?;
    let revoked = app.get_object().bucket("photos").key("a.txt").send().await;
    ensure!(code(&revoked.expect_err("a revoked key")) == "InvalidAccessKeyId");
    Ok(())
}

/// A second `bleepstore` process on the node's address, playing a remote S3 account.
struct RemoteS3 {
    child: tokio::process::Child,
    endpoint: String,
}

impl RemoteS3 {
    const KEY: &'static str = "REMOTEACCESSKEY";
    const SECRET: &'static str = "remote-secret-key-0123456789";

    async fn start(world: &World, bucket: &str) -> Result<Self> {
        let dir = world.cluster.work.join("remote-s3");
        std::fs::create_dir_all(&dir)?;
        let port = std::net::TcpListener::bind((NODE_IP, 0))?.local_addr()?.port();
        let log = std::fs::File::create(dir.with_extension("log"))?;
        let child = tokio::process::Command::new(world.binaries.join("bleepstore"))
            .env_remove("BLEEPSTORE_CONFIG")
            .arg("--data-dir")
            .arg(arg(&dir.join("data")))
            .args(["--listen", &format!("{NODE_IP}:{port}"), "--management-listen", &format!("{NODE_IP}:0")])
            .env("BLEEPSTORE_ROOT_ACCESS_KEY", Self::KEY)
            .env("BLEEPSTORE_ROOT_SECRET_KEY", Self::SECRET)
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()?;
        let remote = Self { child, endpoint: format!("http://{NODE_IP}:{port}") };
        let client = remote.client().await;
        wait_for("the remote S3 to serve", || async { client.list_buckets().send().await.ok() }).await?;
        client.create_bucket().bucket(bucket).send().await?;
        Ok(remote)
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

pub(crate) async fn gateway_store(world: Arc<World>) -> Result<()> {
    let mut remote = RemoteS3::start(&world, "company-objects").await?;
    let ns = world.namespace("gateway").await?;
    let store = format!(
        "apiVersion: bleepstore.io/v1alpha1\nkind: BleepStore\nmetadata:\n  name: demo\nspec:\n  storage:\n    \
         size: 1Gi\n  logFormat: text\n  backend:\n    type: S3\n    s3:\n      bucket: company-objects\n      \
         prefix: gateway/\n      region: us-east-1\n      endpoint: {}\n      forcePathStyle: true\n      \
         credentialsSecret:\n        name: remote-credentials\n",
        remote.endpoint
    );
    // Without its credentials Secret the store says so, and nothing is deployed.
    ns.apply_ok(&store)?;
    let missing = ns.wait_condition("bleepstores", "demo", "Ready", "False").await?;
    ensure!(missing["reason"] == "BackendSecretNotFound", "{missing}");
    ensure!(ns.get("apps", "statefulsets", "demo").await?.is_none());
    // A Secret without the secret key is explained too.
    let secret = |data: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: remote-credentials\ntype: Opaque\nstringData:\n{data}"
        )
    };
    ns.apply_ok(&secret(&format!("  AWS_ACCESS_KEY_ID: {}\n", RemoteS3::KEY)))?;
    wait_for("BackendSecretInvalid", || async {
        let obj = ns.get("bleepstore.io", "bleepstores", "demo").await.ok()??;
        (condition(&obj, "Ready")?["reason"] == "BackendSecretInvalid").then_some(())
    })
    .await?;
    ns.apply_ok(&secret(&format!(
        "  AWS_ACCESS_KEY_ID: {}\n  AWS_SECRET_ACCESS_KEY: {}\n",
        RemoteS3::KEY,
        RemoteS3::SECRET
    )))?;
    ns.wait_condition("bleepstores", "demo", "Ready", "True").await?;
    let status = ns.get("bleepstore.io", "bleepstores", "demo").await?.context("the store")?;
    ensure!(!status.to_string().contains(RemoteS3::SECRET), "no remote secret in the status");

    // Objects over the inline limit land in the remote bucket under the prefix; small ones stay
    // in the store's metadata; deleting an object deletes its remote blob.
    let root = ns.root_client("demo").await?;
    root.create_bucket().bucket("app").send().await?;
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    root.put_object().bucket("app").key("big").body(ByteStream::from(big.clone())).send().await?;
    root.put_object().bucket("app").key("small").body(ByteStream::from_static(b"inline")).send().await?;
    let got = root.get_object().bucket("app").key("big").send().await?.body.collect().await?;
    ensure!(got.into_bytes().as_ref() == big.as_slice(), "the big object reads back");
    let remote_client = remote.client().await;
    let remote_keys = || async {
        let page = remote_client.list_objects_v2().bucket("company-objects").send().await.ok()?;
        Some(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect::<Vec<_>>())
    };
    let keys = remote_keys().await.context("list the remote")?;
    ensure!(keys.len() == 1 && keys[0].starts_with("gateway/"), "{keys:?}");
    root.delete_object().bucket("app").key("big").send().await?;
    wait_for("the remote blob to be deleted", || async { remote_keys().await?.is_empty().then_some(()) }).await?;
    let _ = remote.child.kill().await;
    Ok(())
}

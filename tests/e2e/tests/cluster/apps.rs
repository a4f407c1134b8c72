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
pub(crate) async fn key_secret(ns: &Ns, name: &str) -> Result<BTreeMap<String, String>> {
    ns.wait_condition("accesskeys", name, "Ready", "True").await?;
    ns.secret(name).await?.context("the key's Secret")
}

pub(crate) async fn read_only_and_revoke(world: Arc<World>) -> Result<()> {
    let ns = with_store(&world, "grants").await?;
    ns.apply_ok(&bucket("photos", "Retain"))?;
    ns.apply_ok(&key("photo-app", "photos", "ReadWrite"))?;
    let env = key_secret(&ns, "photo-app").await?;
    ns.record_health("accesskeys", "photo-app", "Healthy").await?;
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

/// A tool [`bleepstore_e2e::cluster::prepare_tools`] named before entering the sandbox.
fn installed(var: &str) -> Result<std::path::PathBuf> {
    std::env::var_os(var).map(std::path::PathBuf::from).with_context(|| format!("{var} is not set"))
}

/// Runs a client with exactly the Secret's variables (what `envFrom` gives a container), plus
/// `PATH`, a `HOME` of its own and `extra`.
fn run_client(
    program: &std::path::Path,
    args: &[&str],
    secret: &BTreeMap<String, String>,
    extra: &[(&str, String)],
    home: &std::path::Path,
) -> Result<std::process::Output> {
    let mut command = std::process::Command::new(program);
    command.args(args).env_clear().env("PATH", "/usr/bin:/bin").env("HOME", home);
    for (k, v) in secret {
        command.env(k, v);
    }
    for (k, v) in extra {
        command.env(k, v);
    }
    Ok(command.output()?)
}

const BOTO3: &str = "import boto3, os
s3 = boto3.client('s3')
bucket = os.environ['BUCKET_NAME']
s3.put_object(Bucket=bucket, Key='boto3.txt', Body=b'from boto3')
assert s3.get_object(Bucket=bucket, Key='boto3.txt')['Body'].read() == b'from boto3'
print('boto3 ok')
";

/// boto3, the AWS CLI and rclone, each configured only by the key's Secret as `envFrom` gives
/// it, against a store in a region other than the SDKs' default; boto3 also with the Secret's
/// `aws-config` file mounted.
pub(crate) async fn every_client_from_the_secret(world: Arc<World>) -> Result<()> {
    let ns = world.namespace("sdk-env").await?;
    ns.apply_ok(&format!("{}  region: eu-west-3\n", crate::STORE))?;
    ns.wait_condition("bleepstores", "demo", "Ready", "True").await?;
    ns.apply_ok(&bucket("photos", "Retain"))?;
    ns.apply_ok(&key("photo-app", "photos", "ReadWrite"))?;
    let secret = key_secret(&ns, "photo-app").await?;
    ensure!(secret["AWS_DEFAULT_REGION"] == "eu-west-3" && secret["AWS_REGION"] == "eu-west-3", "{secret:?}");
    let env: BTreeMap<String, String> =
        secret.iter().filter(|(k, _)| k.as_str() != "aws-config").map(|(k, v)| (k.clone(), v.clone())).collect();
    let home = tempfile::tempdir()?;
    let venv = installed("BLEEPSTORE_CLIENTS_VENV")?;
    let python = venv.join("bin/python");
    let boto3 = run_client(&python, &["-c", BOTO3], &env, &[], home.path())?;
    ensure!(boto3.status.success(), "boto3: {}", String::from_utf8_lossy(&boto3.stderr));
    // The shared-config file, mounted as the docs say, is read as well (path-style, region,
    // endpoint) and agrees with the variables.
    let config = home.path().join("mounted-aws-config");
    std::fs::write(&config, &secret["aws-config"])?;
    let mounted = [("AWS_CONFIG_FILE", crate::support::arg(&config))];
    let with_file = run_client(&python, &["-c", BOTO3], &env, &mounted, home.path())?;
    ensure!(with_file.status.success(), "boto3 with the config file: {}", String::from_utf8_lossy(&with_file.stderr));

    let aws = venv.join("bin/aws");
    let file = home.path().join("upload.txt");
    std::fs::write(&file, "from the AWS CLI")?;
    let target = format!("s3://{}/cli.txt", secret["BUCKET_NAME"]);
    let cli = run_client(&aws, &["s3", "cp", &crate::support::arg(&file), &target], &env, &[], home.path())?;
    ensure!(cli.status.success(), "aws s3 cp: {}", String::from_utf8_lossy(&cli.stderr));
    let listed = run_client(&aws, &["s3", "ls", &format!("s3://{}/", secret["BUCKET_NAME"])], &env, &[], home.path())?;
    let listing = String::from_utf8_lossy(&listed.stdout).into_owned();
    ensure!(listed.status.success() && listing.contains("cli.txt") && listing.contains("boto3.txt"), "{listing}");

    let rclone = installed("BLEEPSTORE_RCLONE")?;
    let remote = format!("bleepstore:{}/rclone.txt", secret["BUCKET_NAME"]);
    let copied = run_client(&rclone, &["copyto", &crate::support::arg(&file), &remote], &env, &[], home.path())?;
    ensure!(copied.status.success(), "rclone copyto: {}", String::from_utf8_lossy(&copied.stderr));
    let cat = run_client(&rclone, &["cat", &remote], &env, &[], home.path())?;
    ensure!(
        String::from_utf8_lossy(&cat.stdout) == "from the AWS CLI",
        "rclone cat: {}",
        String::from_utf8_lossy(&cat.stderr)
    );

    let root = ns.root_client("demo").await?;
    let objects = root.list_objects_v2().bucket("photos").send().await?;
    let keys: Vec<&str> = objects.contents().iter().filter_map(|o| o.key()).collect();
    ensure!(keys == ["boto3.txt", "cli.txt", "rclone.txt"], "{keys:?}");
    Ok(())
}

/// Rotating a key through `spec.rotation.generation` while an app keeps writing and reading,
/// switching to the new credentials when the Secret changes (as Reloader or a file watch
/// would make it): not one request fails; the old key stops working when its grace ends.
pub(crate) async fn rotation_without_downtime(world: Arc<World>) -> Result<()> {
    let ns = with_store(&world, "rotation").await?;
    ns.apply_ok(&bucket("photos", "Retain"))?;
    let rotating = |generation: u32| {
        format!(
            "{}  rotation:\n    generation: {generation}\n    gracePeriod: 15s\n",
            key("photo-app", "photos", "ReadWrite")
        )
    };
    ns.apply_ok(&rotating(0))?;
    let first = key_secret(&ns, "photo-app").await?;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let app = {
        let ns = Ns { name: ns.name.clone(), world: world.clone() };
        tokio::spawn(async move {
            let (mut requests, mut failures, mut keys) = (0u32, Vec::new(), Vec::<String>::new());
            let mut client = None;
            let mut current = String::new();
            while !*stopped.borrow_and_update() {
                let Ok(Some(env)) = ns.secret("photo-app").await else { continue };
                if env["AWS_ACCESS_KEY_ID"] != current {
                    current = env["AWS_ACCESS_KEY_ID"].clone();
                    keys.push(current.clone());
                    client = Some(ns.app_client(&env).await);
                }
                let Some(s3) = &client else { continue };
                let object = format!("o{requests:05}");
                requests += 1;
                let body = ByteStream::from(object.clone().into_bytes());
                if let Err(e) = s3.put_object().bucket("photos").key(&object).body(body).send().await {
                    failures.push(format!("put {object} with {current}: {}", code(&e)));
                    continue;
                }
                if let Err(e) = s3.get_object().bucket("photos").key(&object).send().await {
                    failures.push(format!("get {object} with {current}: {}", code(&e)));
                }
            }
            (requests, failures, keys)
        })
    };
    let old_client = ns.app_client(&first).await;
    ns.apply_ok(&rotating(1))?;
    // Rotated and settled: Ready, and the Secret holds the key the status names (a reconcile
    // that failed half-way reports the new key before it is in the Secret; the next one ends it).
    let rotated = wait_for("the rotation", || async {
        let key = ns.get("bleepstore.io", "accesskeys", "photo-app").await.ok()??;
        let status = key["status"].clone();
        let ready = crate::support::condition(&key, "Ready").is_some_and(|c| c["status"] == "True");
        let secret = ns.secret("photo-app").await.ok()??;
        (ready
            && status["rotationGeneration"] == 1
            && status["previousAccessKeyId"] == first["AWS_ACCESS_KEY_ID"].as_str()
            && status["accessKeyId"] == secret["AWS_ACCESS_KEY_ID"].as_str())
        .then_some(status)
    })
    .await?;
    ensure!(rotated["accessKeyId"] != first["AWS_ACCESS_KEY_ID"].as_str(), "a new key id: {rotated}");
    ensure!(rotated["previousKeyExpiresAt"].is_string(), "{rotated}");
    // During the grace period both keys work.
    old_client.head_bucket().bucket("photos").send().await.context("the old key during its grace period")?;
    wait_for("the previous key to be revoked", || async {
        let status = ns.get("bleepstore.io", "accesskeys", "photo-app").await.ok()??["status"].clone();
        status["previousAccessKeyId"].is_null().then_some(())
    })
    .await?;
    let revoked = old_client.head_bucket().bucket("photos").send().await;
    ensure!(revoked.is_err(), "the old key is revoked after its grace period");
    stop.send(true)?;
    let (requests, failures, keys) = app.await?;
    ensure!(failures.is_empty(), "{} of {requests} requests failed: {failures:?}", failures.len());
    ensure!(keys.len() == 2 && requests > 20, "the app ran through the rotation: {requests} requests, keys {keys:?}");
    Ok(())
}

/// A private CA and certificates it signs for a store's Service name.
struct PrivateCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl PrivateCa {
    fn new() -> Result<Self> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(rcgen::DnType::CommonName, "team-ca");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        Ok(Self { issuer: rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate()?)? })
    }

    /// A `kubernetes.io/tls` Secret as cert-manager writes it (`tls.crt`, `tls.key`, `ca.crt`)
    /// for `host`, and the certificate's DER.
    fn tls_secret(&self, name: &str, host: &str) -> Result<(String, Vec<u8>)> {
        let key = rcgen::KeyPair::generate()?;
        let cert = rcgen::CertificateParams::new(vec![host.to_owned()])?.signed_by(&key, &self.issuer)?;
        let secret = serde_json::json!({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name},
            "stringData": {"tls.crt": cert.pem(), "tls.key": key.serialize_pem(), "ca.crt": self.issuer.pem()},
        });
        Ok((secret.to_string(), cert.der().to_vec()))
    }
}

/// The certificate a TLS endpoint serves (DER), verified against `ca_pem` only.
async fn served_certificate(endpoint: &str, ca_pem: &str) -> Result<Vec<u8>> {
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes())?])
        .tls_info(true)
        .build()?;
    let response = client.get(endpoint).send().await?;
    let info = response.extensions().get::<reqwest::tls::TlsInfo>().context("TLS info")?;
    info.peer_certificate().map(<[u8]>::to_vec).context("a peer certificate")
}

/// A store serving HTTPS with a certificate from a private CA: the key's Secret carries the CA
/// (`ca.crt`, named by `AWS_CA_BUNDLE` and `RCLONE_CA_CERT`), so boto3 verifies the store from
/// the Secret alone (the file mounted where the docs say); a renewed certificate, written as
/// cert-manager writes it, rolls the pod and is served with no manual restart.
pub(crate) async fn tls_store_with_a_private_ca(world: Arc<World>) -> Result<()> {
    let ns = world.namespace("tls").await?;
    let ca = PrivateCa::new()?;
    let host = format!("demo.{}.svc", ns.name);
    let (first, first_der) = ca.tls_secret("demo-tls", &host)?;
    ns.apply_ok(&first)?;
    ns.apply_ok(&format!("{}  tls:\n    secretName: demo-tls\n", crate::STORE))?;
    ns.wait_condition("bleepstores", "demo", "Ready", "True").await?;
    ns.apply_ok(&bucket("photos", "Retain"))?;
    ns.apply_ok(&key("photo-app", "photos", "ReadWrite"))?;
    let secret = key_secret(&ns, "photo-app").await?;
    let endpoint = secret["AWS_ENDPOINT_URL"].clone();
    ensure!(endpoint == format!("https://{host}:9000"), "{endpoint}");
    ensure!(secret["ca.crt"] == ca.issuer.pem(), "the Secret carries the store's CA");
    ensure!(secret["AWS_CA_BUNDLE"] == "/etc/bleepstore/ca.crt", "{:?}", secret.get("AWS_CA_BUNDLE"));
    ensure!(served_certificate(&endpoint, &ca.issuer.pem()).await? == first_der, "the first certificate is served");

    // boto3 from the Secret's variables, its ca.crt mounted (here: written) where
    // AWS_CA_BUNDLE says; without the CA it refuses the store's certificate.
    let home = tempfile::tempdir()?;
    let mounted = home.path().join("ca.crt");
    std::fs::write(&mounted, &secret["ca.crt"])?;
    let mut env: BTreeMap<String, String> = secret
        .iter()
        .filter(|(k, _)| !k.contains('.') && !k.contains('-'))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let python = installed("BLEEPSTORE_CLIENTS_VENV")?.join("bin/python");
    let with_ca = [("AWS_CA_BUNDLE", arg(&mounted))];
    let boto3 = run_client(&python, &["-c", BOTO3], &env, &with_ca, home.path())?;
    ensure!(boto3.status.success(), "boto3 with the CA: {}", String::from_utf8_lossy(&boto3.stderr));
    env.remove("AWS_CA_BUNDLE");
    let without = run_client(&python, &["-c", BOTO3], &env, &[], home.path())?;
    let refused = String::from_utf8_lossy(&without.stderr).into_owned();
    ensure!(!without.status.success() && refused.contains("CERTIFICATE_VERIFY_FAILED"), "{refused}");

    // Renewal: a new key pair and certificate in the same Secret. The operator does not watch
    // Secrets (it may not list them): the store's next reconcile rolls the pod, at the latest at
    // its 300 s re-sync; here an annotation brings that reconcile now, as a GitOps re-sync would.
    let (renewed, renewed_der) = ca.tls_secret("demo-tls", &host)?;
    ns.apply_ok(&renewed)?;
    ns.kubectl_ok(&["annotate", "bleepstore", "demo", "example.com/resync=1"])?;
    wait_for("the renewed certificate to be served", || async {
        let served = served_certificate(&endpoint, &ca.issuer.pem()).await.ok()?;
        (served == renewed_der).then_some(())
    })
    .await?;
    ns.wait_condition("bleepstores", "demo", "Ready", "True").await?;
    let again = run_client(&python, &["-c", BOTO3], &env, &with_ca, home.path())?;
    ensure!(again.status.success(), "boto3 after the renewal: {}", String::from_utf8_lossy(&again.stderr));
    Ok(())
}

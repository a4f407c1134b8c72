//! Bad input and bad luck: refused manifests, killed and deleted store pods, and another field
//! manager reaching for the operator's fields.

use std::sync::{Arc, Mutex};

use anyhow::{ensure, Context, Result};
use aws_sdk_s3::primitives::ByteStream;
use k8s_openapi::api::core::v1::Pod;
use kube::api::DeleteParams;
use kube::Api;

use crate::resources::with_store;
use crate::support::{wait_for, Ns, World};
use crate::{bucket, key, STORE};

/// The store pod's uid and its container's restart count, from the API.
async fn store_pod(ns: &Ns) -> Option<(String, i32, bool)> {
    let pod = Api::<Pod>::namespaced(ns.client(), &ns.name).get_opt("demo-0").await.ok()??;
    let status = pod.status?;
    let container = status.container_statuses?.into_iter().next()?;
    Some((pod.metadata.uid?, container.restart_count, container.ready))
}

/// Writes numbered objects until stopped; returns the acknowledged keys.
fn writer(app: aws_sdk_s3::Client, acknowledged: Arc<Mutex<Vec<String>>>) -> tokio::sync::watch::Sender<bool> {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        for i in 0.. {
            if *stopped.borrow_and_update() {
                break;
            }
            let key = format!("object-{i:05}");
            let body = ByteStream::from(key.clone().into_bytes());
            if app.put_object().bucket("data").key(&key).body(body).send().await.is_ok() {
                acknowledged.lock().unwrap_or_else(|e| e.into_inner()).push(key);
            }
        }
    });
    stop
}

async fn all_readable(app: &aws_sdk_s3::Client, keys: &[String]) -> Result<()> {
    for key in keys {
        let got = app
            .get_object()
            .bucket("data")
            .key(key)
            .send()
            .await
            .with_context(|| format!("{key} was acknowledged but is lost"))?;
        ensure!(got.body.collect().await?.into_bytes().as_ref() == key.as_bytes(), "{key} reads back changed");
    }
    Ok(())
}

/// kill -9 of the store's process under load: the kubelet restarts the container (the pod's
/// restartCount says so), and every acknowledged write is there; then the pod itself is
/// deleted: the StatefulSet makes a new one on the same volume, and nothing is lost either.
pub(crate) async fn killed_store(world: Arc<World>) -> Result<()> {
    let ns = with_store(&world, "crash").await?;
    ns.apply_ok(&bucket("data", "Retain"))?;
    ns.apply_ok(&key("writer", "data", "ReadWrite"))?;
    ns.wait_condition("accesskeys", "writer", "Ready", "True").await?;
    let env = ns.secret("writer").await?.context("the key's Secret")?;
    let app = ns.app_client(&env).await;
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = writer(app.clone(), acknowledged.clone());
    let count = || acknowledged.lock().unwrap_or_else(|e| e.into_inner()).len();
    wait_for("20 acknowledged writes", || async { (count() >= 20).then_some(()) }).await?;
    let pid = world.cluster.kubelet.pid("crash", "demo-0", "bleepstore").context("the store's process")?;
    let killed = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status()?;
    ensure!(killed.success(), "kill -9 {pid}");
    wait_for("the container to restart and be ready", || async {
        let (_, restarts, ready) = store_pod(&ns).await?;
        (restarts >= 1 && ready).then_some(())
    })
    .await?;
    let before = count();
    wait_for("writes to be acknowledged again", || async { (count() >= before + 10).then_some(()) }).await?;

    let (uid, _, _) = store_pod(&ns).await.context("the store pod")?;
    Api::<Pod>::namespaced(ns.client(), &ns.name).delete("demo-0", &DeleteParams::default()).await?;
    wait_for("a new store pod to be ready", || async {
        let (new_uid, _, ready) = store_pod(&ns).await?;
        (new_uid != uid && ready).then_some(())
    })
    .await?;
    let before = count();
    wait_for("writes to be acknowledged by the new pod", || async { (count() >= before + 10).then_some(()) }).await?;
    stop.send(true)?;
    let keys = acknowledged.lock().unwrap_or_else(|e| e.into_inner()).clone();
    all_readable(&app, &keys).await
}

pub(crate) async fn bad_manifests(world: Arc<World>) -> Result<()> {
    let ns = with_store(&world, "bad-input").await?;
    let stderr = |out: std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();
    let invalid = ns.apply(
        "apiVersion: bleepstore.io/v1alpha1\nkind: Bucket\nmetadata:\n  name: x\nspec:\n  store: demo\n  \
         bucketName: Not_A_Bucket\n",
    );
    ensure!(!invalid.status.success());
    let message = stderr(invalid);
    ensure!(message.contains("is invalid") && message.contains("bucketName"), "{message}");
    let dots = stderr(ns.apply(
        "apiVersion: bleepstore.io/v1alpha1\nkind: Bucket\nmetadata:\n  name: x\nspec:\n  store: demo\n  \
         bucketName: a..b\n",
    ));
    ensure!(dots.contains("must not contain '..'"), "{dots}");
    let unknown = stderr(ns.apply(
        "apiVersion: bleepstore.io/v1alpha1\nkind: Bucket\nmetadata:\n  name: x\nspec:\n  store: demo\n  colour: red\n",
    ));
    ensure!(unknown.contains("unknown field \"spec.colour\""), "{unknown}");
    let shrink = stderr(ns.apply(&STORE.replace("1Gi", "512Mi")));
    ensure!(shrink.contains("storage.size may only grow"), "{shrink}");

    ns.apply_ok(&key("orphan", "no-such-bucket", "ReadOnly"))?;
    let refused = ns.wait_condition("accesskeys", "orphan", "Ready", "False").await?;
    ensure!(refused["reason"] == "BucketNotFound", "{refused}");
    // It may yet appear (a GitOps sync applies in any order): reconciling, not stalled.
    let waiting = ns.wait_condition("accesskeys", "orphan", "Reconciling", "True").await?;
    ensure!(waiting["reason"] == "BucketNotFound", "{waiting}");
    ns.record_health("accesskeys", "orphan", "Progressing").await?;
    ensure!(refused["message"] == "Bucket no-such-bucket not found in namespace bad-input", "{refused}");
    ensure!(ns.secret("orphan").await?.is_none(), "no Secret for a key that cannot be granted");

    ns.apply_ok(
        "apiVersion: bleepstore.io/v1alpha1\nkind: BleepStore\nmetadata:\n  name: secure\nspec:\n  storage:\n    \
         size: 1Gi\n  tls:\n    secretName: secure-tls\n",
    )?;
    let tls = ns.wait_condition("bleepstores", "secure", "Ready", "False").await?;
    ensure!(tls["reason"] == "TLSSecretNotFound", "{tls}");
    ns.wait_condition("bleepstores", "secure", "Stalled", "True").await?;
    ns.record_health("bleepstores", "secure", "Degraded").await?;
    ensure!(tls["message"] == "TLS Secret secure-tls not found in this namespace", "{tls}");
    ensure!(ns.get("apps", "statefulsets", "secure").await?.is_none(), "nothing is deployed for an invalid store");
    Ok(())
}

/// Server-side apply between owners: another manager's apply of a field the operator owns is
/// refused as a conflict; forced, it wins only until the operator's next apply takes the field
/// back; a field the operator does not own stays as the other manager set it.
pub(crate) async fn field_manager_conflict(world: Arc<World>) -> Result<()> {
    let ns = with_store(&world, "field-owners").await?;
    let patch =
        |labels: &str| format!("apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: demo\n  labels:\n{labels}");
    let theirs = patch("    app.kubernetes.io/managed-by: someone-else\n");
    let out = world.cluster.kubectl(
        &["-n", &ns.name, "apply", "--server-side", "--field-manager=platform-team", "-f", "-"],
        Some(&theirs),
    );
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    ensure!(!out.status.success() && text.contains("conflict") && text.contains("bleepstore-operator"), "{text}");
    let out = world.cluster.kubectl(
        &["-n", &ns.name, "apply", "--server-side", "--force-conflicts", "--field-manager=platform-team", "-f", "-"],
        Some(&format!("{theirs}    team: payments\n")),
    );
    ensure!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sts = wait_for("the operator to take its field back", || async {
        let sts = ns.get("apps", "statefulsets", "demo").await.ok()??;
        (sts["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "bleepstore-operator").then_some(sts)
    })
    .await?;
    ensure!(sts["metadata"]["labels"]["team"] == "payments", "another manager's own field stays: {}", sts["metadata"]);
    let managers: Vec<String> = sts["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["manager"].as_str().map(str::to_owned))
        .collect();
    ensure!(managers.iter().any(|m| m == "platform-team"), "{managers:?}");
    ns.wait_condition("bleepstores", "demo", "Ready", "True").await?;
    Ok(())
}

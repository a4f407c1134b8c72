//! The operator's own life: installed by helm, tested by `helm test`, restarted, and failing over
//! between its replicas.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{bail, ensure, Context, Result};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams};
use kube::Api;
use serde_json::Value;

use crate::resources::with_store;
use crate::support::{operator_metrics, wait_for, Ns, World};
use crate::{bucket, key, RELEASE, RELEASE_NS, STORE};

fn system(world: &Arc<World>) -> Ns {
    Ns { name: RELEASE_NS.to_owned(), world: world.clone() }
}

/// The operator's pods, by name.
async fn operator_pods(world: &Arc<World>) -> Result<BTreeMap<String, Pod>> {
    let pods = Api::<Pod>::namespaced(world.cluster.admin.clone(), RELEASE_NS);
    let list = pods.list(&ListParams::default().labels("app.kubernetes.io/name=bleepstore-operator")).await?;
    Ok(list
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| (p.metadata.name.clone().unwrap_or_default(), p))
        .collect())
}

/// The pod holding the leader Lease.
async fn leader(world: &Arc<World>) -> Result<Pod> {
    let lease = system(world).get("coordination.k8s.io", "leases", RELEASE).await?.context("the leader Lease")?;
    let holder = lease["spec"]["holderIdentity"].as_str().context("a holder")?.to_owned();
    operator_pods(world).await?.remove(&holder).with_context(|| format!("the leader pod {holder}"))
}

/// Reconciles of `kind` started (`reconciles_total`) or finished (`reconcile_duration_seconds_count`).
fn counter(metrics: &str, name: &str, kind: &str) -> u64 {
    let prefix = format!("{name}{{kind=\"{kind}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

pub(crate) async fn helm_install_and_helm_test(world: Arc<World>) -> Result<()> {
    // Installed by the suite's setup: two replicas, each Running with its restart count at 0,
    // one of them the leader.
    let pods = operator_pods(&world).await?;
    ensure!(pods.len() == 2, "two operator replicas: {:?}", pods.keys());
    for (name, pod) in &pods {
        let status = pod.status.clone().unwrap_or_default();
        ensure!(status.phase.as_deref() == Some("Running"), "{name}: {status:?}");
        let restarts: i32 = status.container_statuses.iter().flatten().map(|c| c.restart_count).sum();
        ensure!(restarts == 0, "{name} restarted {restarts} times");
    }
    leader(&world).await?;
    let out = world.cluster.helm(&["test", RELEASE, "--namespace", RELEASE_NS, "--logs"]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    ensure!(out.status.success(), "helm test failed: {text}");
    ensure!(text.contains("Succeeded") && text.contains("/readyz: 200"), "{text}");
    Ok(())
}

/// Restarts the operator the way an administrator would, and waits for the Deployment to have
/// rolled out again.
async fn rollout_restart(world: &Arc<World>) -> Result<()> {
    let system = system(world);
    system.kubectl_ok(&["rollout", "restart", &format!("deployment/{RELEASE}")])?;
    system.kubectl_ok(&["rollout", "status", &format!("deployment/{RELEASE}"), "--timeout=180s"])?;
    Ok(())
}

/// The resourceVersion of every object the operator writes in `ns`.
async fn versions(ns: &Ns) -> Result<BTreeMap<String, Value>> {
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
        for obj in ns.list(group, plural).await? {
            out.insert(format!("{plural}/{}", obj["metadata"]["name"].as_str().unwrap_or_default()), obj);
        }
    }
    Ok(out)
}

/// What differs between two snapshots: the objects whose resourceVersion moved, with their
/// status (or, for objects without one, their metadata) before and after.
fn changed(before: &BTreeMap<String, Value>, after: &BTreeMap<String, Value>) -> Vec<String> {
    let version = |o: Option<&Value>| o.map(|o| o["metadata"]["resourceVersion"].clone());
    let shown = |o: Option<&Value>| {
        o.map(
            |o| if o["status"].is_null() { o["metadata"]["annotations"].to_string() } else { o["status"].to_string() },
        )
    };
    before
        .keys()
        .chain(after.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|name| version(before.get(*name)) != version(after.get(*name)))
        .map(|name| format!("{name}:\n  before {:?}\n  after  {:?}", shown(before.get(name)), shown(after.get(name))))
        .collect()
}

/// Applying the same manifests again, and a fresh operator that reconciles everything from
/// scratch, change no object and make no new key.
pub(crate) async fn resync_changes_nothing(world: Arc<World>) -> Result<()> {
    let ns = with_store(&world, "gitops").await?;
    let manifests =
        format!("{}---\n{}---\n{}", bucket("photos", "Delete"), key("photo-app", "photos", "ReadWrite"), STORE);
    ns.apply_ok(&manifests)?;
    ns.wait_condition("accesskeys", "photo-app", "Ready", "True").await?;
    ns.wait_condition("buckets", "photos", "Ready", "True").await?;
    let secret = ns.secret("photo-app").await?.context("the key's Secret")?;
    let before = versions(&ns).await?;

    ns.apply_ok(&manifests)?;
    let _alone = world.disruption.lock().await;
    rollout_restart(&world).await?;
    // The new leader has reconciled, from its start, at least every object that exists now.
    let counts = [
        ("BleepStore", world_count(&world, "bleepstores").await?),
        ("Bucket", world_count(&world, "buckets").await?),
        ("AccessKey", world_count(&world, "accesskeys").await?),
    ];
    wait_for("the restarted operator to reconcile every object", || async {
        let pod = leader(&world).await.ok()?;
        let metrics = operator_metrics(&pod).await;
        counts
            .iter()
            .all(|(kind, n)| counter(&metrics, "bleepstore_operator_reconcile_duration_seconds_count", kind) >= *n)
            .then_some(())
    })
    .await?;
    let after = versions(&ns).await?;
    let moved = changed(&before, &after);
    ensure!(moved.is_empty(), "objects changed:\n{}", moved.join("\n"));
    ensure!(ns.secret("photo-app").await?.as_ref() == Some(&secret), "no new key");
    Ok(())
}

/// Objects of a kind in the whole cluster.
async fn world_count(world: &Arc<World>, plural: &str) -> Result<u64> {
    let out = world.cluster.kubectl(&["get", plural, "-A", "-o", "name"], None);
    if !out.status.success() {
        bail!("kubectl get {plural}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().count() as u64)
}

/// Only the Lease holder reconciles; when its pod is deleted another replica takes the Lease and
/// acts, and the Deployment replaces the deleted pod.
pub(crate) async fn leader_failover(world: Arc<World>) -> Result<()> {
    let ns = with_store(&world, "failover").await?;
    let _alone = world.disruption.lock().await;
    let first = leader(&world).await?;
    let first_name = first.metadata.name.clone().unwrap_or_default();
    let pods = operator_pods(&world).await?;
    let standby = pods.values().find(|p| p.metadata.name != first.metadata.name).context("a standby")?.clone();
    let standby_metrics = operator_metrics(&standby).await;
    ensure!(!standby_metrics.is_empty(), "the standby serves its metrics");
    for kind in ["BleepStore", "Bucket", "AccessKey"] {
        let started = counter(&standby_metrics, "bleepstore_operator_reconciles_total", kind);
        ensure!(started == 0, "the standby reconciled {started} {kind}");
    }
    // The leader goes away (SIGTERM: it releases the Lease on the way out); another replica
    // (the standby, or the Deployment's replacement if it is quicker) takes the Lease and acts.
    let api = Api::<Pod>::namespaced(world.cluster.admin.clone(), RELEASE_NS);
    api.delete(&first_name, &DeleteParams::default()).await?;
    let next = wait_for("another replica to take the Lease", || async {
        let pod = leader(&world).await.ok()?;
        (pod.metadata.name.as_deref() != Some(first_name.as_str())).then_some(pod)
    })
    .await?;
    ns.apply_ok(&bucket("videos", "Retain"))?;
    ns.wait_condition("buckets", "videos", "Ready", "True").await?;
    let metrics = operator_metrics(&next).await;
    ensure!(counter(&metrics, "bleepstore_operator_reconciles_total", "Bucket") >= 1, "the new leader acts");
    wait_for("the Deployment to replace the deleted pod", || async {
        let pods = operator_pods(&world).await.ok()?;
        let ready = pods.values().filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        });
        (pods.len() == 2 && !pods.contains_key(&first_name) && ready.count() == 2).then_some(())
    })
    .await
}

//! A namespaced install (`watchNamespaces`), from `helm install` to `helm uninstall`: the
//! operator acts in its namespace only and the real authorizer denies it everything outside;
//! `helm test` checks it and a store; `helm upgrade` with changed values rolls it; uninstalling
//! keeps the CRDs and the resources made with them.
//!
//! Run by hand: `cargo test -p bleepstore-e2e --test namespaced` (see tests/README.md).

#[path = "../support/mod.rs"]
mod support;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{ensure, Context, Result};
use futures::FutureExt;
use support::{image_values, wait_for, Ns, Scenario, World, CHART, STORE};

const RELEASE: &str = "bleepstore-operator";
const RELEASE_NS: &str = "ops";
const WATCHED: &str = "team-a";
const OTHER: &str = "team-b";
const OPERATOR: &str = "system:serviceaccount:ops:bleepstore-operator";

fn helm_ok(world: &World, args: &[&str]) -> Result<String> {
    let out = world.cluster.helm(args);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    ensure!(out.status.success(), "helm {} failed: {text}", args.join(" "));
    Ok(text)
}

/// `kubectl auth can-i <verb> <resource> -n <ns> --as <operator>`.
fn can_i(ns: &Ns, verb: &str, resource: &str) -> bool {
    let out = ns.kubectl(&["auth", "can-i", verb, resource, "--as", OPERATOR]);
    String::from_utf8_lossy(&out.stdout).trim() == "yes"
}

async fn install(world: Arc<World>) -> Result<()> {
    for name in [RELEASE_NS, WATCHED, OTHER] {
        world.namespace(name).await?;
    }
    let mut args = vec!["install", RELEASE, CHART, "--namespace", RELEASE_NS, "--wait", "--timeout", "3m"];
    args.extend(image_values());
    let watch = format!("watchNamespaces={{{WATCHED}}}");
    args.extend(["--set", "replicas=1", "--set", &watch]);
    helm_ok(&world, &args)?;
    Ok(())
}

async fn from_install_to_uninstall(world: Arc<World>) -> Result<()> {
    let watched = Ns { name: WATCHED.to_owned(), world: world.clone() };
    let other = Ns { name: OTHER.to_owned(), world: world.clone() };
    let ops = Ns { name: RELEASE_NS.to_owned(), world: world.clone() };

    // A store outside the watched namespace first, then one inside: once the inside one is
    // Ready, the operator has long had the chance to touch the other, and has not.
    other.apply_ok(STORE)?;
    watched.apply_ok(STORE)?;
    watched.apply_ok(&STORE.replace("name: demo", "name: second"))?;
    watched.wait_condition("bleepstores", "demo", "Ready", "True").await?;
    watched.wait_condition("bleepstores", "second", "Ready", "True").await?;
    let untouched = other.get("bleepstore.io", "bleepstores", "demo").await?.context("team-b's store")?;
    ensure!(untouched.get("status").is_none_or(serde_json::Value::is_null), "{untouched}");
    ensure!(untouched["metadata"]["finalizers"].is_null(), "{untouched}");
    ensure!(other.get("apps", "statefulsets", "demo").await?.is_none());

    // The real authorizer: allowed in team-a, denied in team-b and cluster-wide.
    for (verb, resource) in [("get", "secrets"), ("patch", "statefulsets"), ("list", "bleepstores.bleepstore.io")] {
        ensure!(can_i(&watched, verb, resource), "the operator may {verb} {resource} in {WATCHED}");
        ensure!(!can_i(&other, verb, resource), "the operator may not {verb} {resource} in {OTHER}");
    }
    let cluster_wide =
        world.cluster.kubectl(&["auth", "can-i", "list", "bleepstores.bleepstore.io", "-A", "--as", OPERATOR], None);
    ensure!(String::from_utf8_lossy(&cluster_wide.stdout).trim() == "no", "no cluster-wide list");

    // helm test: the operator's readiness and the store's, with the store image's probe; and an
    // S3 put, get and delete by a pod given only the Secret of an AccessKey the test makes (for
    // a Bucket it makes), both deleted when the test passes.
    let mut test_values = vec!["upgrade", RELEASE, CHART, "--namespace", RELEASE_NS, "--reuse-values", "--wait"];
    let store_namespace = format!("tests.storeNamespace={WATCHED}");
    test_values.extend(["--set", "tests.storeName=demo", "--set", &store_namespace]);
    helm_ok(&world, &test_values)?;
    let tested = helm_ok(&world, &["test", RELEASE, "--namespace", RELEASE_NS, "--logs"])?;
    ensure!(tested.contains("demo-0.demo-headless.team-a.svc:9001/readyz: 200"), "{tested}");
    // The S3 pod runs in team-a, where `--logs` does not look (helm reads the release
    // namespace); it passed, and the kubelet kept what it printed.
    ensure!(tested.matches("Phase:          Succeeded").count() == 4, "{tested}");
    let pods = std::fs::read_dir(world.cluster.work.join("pods"))?;
    let s3_log = pods
        .filter_map(|entry| entry.ok().map(|e| e.path().join("s3.log")))
        .find(|log| log.exists())
        .context("the S3 test pod's log")?;
    let printed = std::fs::read_to_string(&s3_log)?;
    for step in [": put\n", ": get, same bytes\n", ": delete\n"] {
        ensure!(printed.contains(step), "the S3 check says {step:?}: {printed}");
    }
    wait_for("the test's Bucket and AccessKey to be deleted", || async {
        let bucket = watched.get("bleepstore.io", "buckets", "bleepstore-operator-test").await.ok()?;
        let key = watched.get("bleepstore.io", "accesskeys", "bleepstore-operator-test").await.ok()?;
        (bucket.is_none() && key.is_none()).then_some(())
    })
    .await?;

    // helm upgrade with changed values rolls the operator: a new pod, the old one gone, and the
    // new one acting.
    let pod_names = || async {
        let pods = ops.pods().await.ok()?;
        let names: Vec<String> =
            pods.iter()
                .filter(|p| {
                    p.metadata.labels.as_ref().is_some_and(|l| {
                        l.get("app.kubernetes.io/name").map(String::as_str) == Some("bleepstore-operator")
                    })
                })
                .filter_map(|p| p.metadata.name.clone())
                .collect();
        Some(names)
    };
    let before = pod_names().await.context("the operator's pods")?;
    // The upgrade also changes the default store image: the two stores that follow it move
    // one after the other, never both at once.
    helm_ok(
        &world,
        &[
            "upgrade",
            RELEASE,
            CHART,
            "--namespace",
            RELEASE_NS,
            "--reuse-values",
            "--wait",
            "--set",
            "logLevel=debug",
            "--set",
            "storeImage.tag=e2e-next",
        ],
    )?;
    let most_at_once = AtomicUsize::new(0);
    let queued = AtomicBool::new(false);
    wait_for("both stores to settle on the new image", || {
        let (watched, most_at_once, queued) = (&watched, &most_at_once, &queued);
        async move {
            let mut settled = 0;
            let mut moving = 0;
            for name in ["demo", "second"] {
                let obj = watched.get("bleepstore.io", "bleepstores", name).await.ok()??;
                let on_new = obj["status"]["image"].as_str().is_some_and(|i| i.ends_with(":e2e-next"));
                let ready = support::condition(&obj, "Ready").is_some_and(|c| c["status"] == "True");
                let progressing = support::condition(&obj, "Progressing");
                if progressing.is_some_and(|c| c["reason"] == "ImageUpdateQueued") {
                    queued.store(true, Ordering::Relaxed);
                }
                let busy = progressing.is_some_and(|c| c["status"] == "True");
                match (on_new, ready && !busy) {
                    (true, true) => settled += 1,
                    (true, false) => moving += 1,
                    _ => {}
                }
            }
            most_at_once.fetch_max(moving, Ordering::Relaxed);
            (settled == 2).then_some(())
        }
    })
    .await?;
    let most_at_once = most_at_once.into_inner();
    ensure!(most_at_once <= 1, "{most_at_once} stores moved to the new image at once");
    ensure!(queued.into_inner(), "one store waited its turn (ImageUpdateQueued)");
    let after = wait_for("the old operator pod to be gone", || async {
        let names = pod_names().await?;
        (names.len() == 1 && !before.contains(&names[0])).then_some(names)
    })
    .await?;
    let deployment = ops.get("apps", "deployments", RELEASE).await?.context("the Deployment")?;
    let args = deployment["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    ensure!(args.contains("--log-level=debug"), "{args}");
    watched.apply_ok(
        "apiVersion: bleepstore.io/v1alpha1\nkind: Bucket\nmetadata:\n  name: after-upgrade\nspec:\n  store: demo\n",
    )?;
    watched.wait_condition("buckets", "after-upgrade", "Ready", "True").await.with_context(|| format!("{after:?}"))?;

    // helm uninstall: the operator goes, the CRDs and the resources made with them stay.
    *world.uninstalled_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(jiff::Timestamp::now());
    helm_ok(&world, &["uninstall", RELEASE, "--namespace", RELEASE_NS, "--wait"])?;
    ensure!(ops.get("apps", "deployments", RELEASE).await?.is_none(), "the Deployment is gone");
    let crds = world.cluster.kubectl(
        &["get", "crd", "bleepstores.bleepstore.io", "buckets.bleepstore.io", "accesskeys.bleepstore.io"],
        None,
    );
    ensure!(crds.status.success(), "the CRDs stay: {}", String::from_utf8_lossy(&crds.stderr));
    ensure!(watched.get("bleepstore.io", "bleepstores", "demo").await?.is_some(), "the store stays");
    ensure!(watched.get("apps", "statefulsets", "demo").await?.is_some(), "and keeps running");
    Ok(())
}

fn scenarios() -> Vec<Scenario> {
    vec![("a_namespaced_release_from_install_to_uninstall", |w| from_install_to_uninstall(w).boxed())]
}

fn main() -> ExitCode {
    support::main("namespaced", scenarios(), install)
}

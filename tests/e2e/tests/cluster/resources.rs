//! What the operator makes for a store, and how it changes with the spec.

use std::sync::Arc;

use anyhow::{ensure, Context, Result};
use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;

use crate::apps::key_secret;
use crate::support::{code, condition, wait_for, Ns, World};
use crate::{bucket, key, RELEASE, RELEASE_NS, STORE};

/// A namespace with a Ready store `demo`.
pub(crate) async fn with_store(world: &Arc<World>, ns: &str) -> Result<Ns> {
    let ns = world.namespace(ns).await?;
    ns.apply_ok(STORE)?;
    ns.wait_condition("bleepstores", "demo", "Ready", "True").await?;
    Ok(ns)
}

pub(crate) async fn a_store_is_ready_and_grows(world: Arc<World>) -> Result<()> {
    let ns = world.namespace("store-ready").await?;
    ns.apply_ok(STORE)?;
    let ready = ns.wait_condition("bleepstores", "demo", "Ready", "True").await?;
    ensure!(ready["reason"] == "Ready", "{ready}");
    let store = ns.get("bleepstore.io", "bleepstores", "demo").await?.context("the store")?;
    ensure!(store["status"]["readyReplicas"] == 1, "{}", store["status"]);
    // kstatus: neither reconciling nor stalled once ready and rolled out.
    ns.wait_for_conditions("bleepstores", "demo", &[("Reconciling", "False"), ("Stalled", "False")]).await?;
    ns.record_health("bleepstores", "demo", "Healthy").await?;
    ensure!(store["status"]["endpoint"] == "http://demo.store-ready.svc:9000", "{}", store["status"]);
    ensure!(condition(&store, "Degraded").context("Degraded")?["status"] == "False");
    let finalizers = store["metadata"]["finalizers"].as_array().cloned().unwrap_or_default();
    ensure!(finalizers.iter().any(|f| f == "bleepstore.io/store-protection"), "{finalizers:?}");
    // Everything it made is owned by the store, with blockOwnerDeletion: with the
    // OwnerReferencesPermissionEnforcement admission plugin on, that needs the chart's
    // `update` on bleepstores/finalizers.
    let uid = store["metadata"]["uid"].clone();
    for (group, plural, name) in [
        ("apps", "statefulsets", "demo"),
        ("", "services", "demo"),
        ("", "services", "demo-headless"),
        ("", "configmaps", "demo-config"),
    ] {
        let obj = ns.get(group, plural, name).await?.with_context(|| format!("{plural}/{name}"))?;
        let owner = &obj["metadata"]["ownerReferences"][0];
        ensure!(owner["uid"] == uid && owner["blockOwnerDeletion"] == true, "{plural}/{name}: {owner}");
    }
    // Its two Secrets are not owned: they outlive the resource, as the volume does.
    for name in ["demo-root", "demo-admin"] {
        let obj = ns.get("", "secrets", name).await?.with_context(|| format!("secrets/{name}"))?;
        ensure!(obj["metadata"]["ownerReferences"].is_null(), "secrets/{name}: {}", obj["metadata"]);
        ensure!(obj["metadata"]["annotations"]["bleepstore.io/retained"].is_string(), "secrets/{name}");
    }
    // The pod runs as the chart and the operator say, in a namespace enforcing the restricted
    // Pod Security Standard.
    let pods = ns.pods().await?;
    let pod = pods.iter().find(|p| p.metadata.name.as_deref() == Some("demo-0")).context("pod demo-0")?;
    let status = pod.status.clone().unwrap_or_default();
    ensure!(status.phase.as_deref() == Some("Running"), "{status:?}");
    let volumes = &store["status"]["volumes"];
    ensure!(volumes[0]["claim"] == "data-demo-0" && volumes[0]["capacity"] == "1Gi", "{volumes}");

    // A PodDisruptionBudget comes and goes with the spec.
    ns.apply_ok(&format!("{STORE}  podDisruptionBudget:\n    maxUnavailable: 1\n"))?;
    let pdb =
        wait_for("the PodDisruptionBudget", || async { ns.get("policy", "poddisruptionbudgets", "demo").await.ok()? })
            .await?;
    ensure!(pdb["spec"]["maxUnavailable"] == 1, "{pdb}");
    // Storage grows on the claim (the default class can expand); the template keeps its size.
    ns.apply_ok(&STORE.replace("1Gi", "2Gi"))?;
    wait_for("the PodDisruptionBudget to go", || async {
        ns.get("policy", "poddisruptionbudgets", "demo").await.ok()?.is_none().then_some(())
    })
    .await?;
    let grown = wait_for("the volume to grow", || async {
        let store = ns.get("bleepstore.io", "bleepstores", "demo").await.ok()??;
        (store["status"]["volumes"][0]["capacity"] == "2Gi").then_some(store)
    })
    .await?;
    ensure!(grown["status"]["volumes"][0]["requested"] == "2Gi", "{}", grown["status"]);
    let sts = ns.get("apps", "statefulsets", "demo").await?.context("the StatefulSet")?;
    let template = &sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"];
    ensure!(template == "1Gi", "the template keeps its size: {template}");
    // The store answers S3 with its root credential, through its Service.
    let root = ns.root_client("demo").await?;
    ensure!(root.list_buckets().send().await?.buckets().is_empty());
    // The leader's Lease is in the release's namespace.
    let system = Ns { name: RELEASE_NS.to_owned(), world: world.clone() };
    let lease = system.get("coordination.k8s.io", "leases", RELEASE).await?.context("the leader Lease")?;
    ensure!(lease["spec"]["holderIdentity"].is_string(), "{lease}");
    Ok(())
}

/// The `fixed` class cannot expand: the API server refuses to grow the claim, the store says so
/// in a condition (with its observedGeneration current), and the size can be set back.
pub(crate) async fn a_volume_that_cannot_grow(world: Arc<World>) -> Result<()> {
    let ns = world.namespace("fixed-volume").await?;
    let store = STORE.replace("    size: 1Gi\n", "    size: 1Gi\n    storageClassName: fixed\n");
    ns.apply_ok(&store)?;
    ns.wait_condition("bleepstores", "demo", "Ready", "True").await?;
    ns.apply_ok(&store.replace("1Gi", "3Gi"))?;
    let refused = ns.wait_condition("bleepstores", "demo", "Degraded", "True").await?;
    ensure!(refused["reason"] == "VolumeResizeRefused", "{refused}");
    // kstatus: stalled, for the same reason (Flux and Argo CD then say so).
    let stalled = ns.wait_condition("bleepstores", "demo", "Stalled", "True").await?;
    ensure!(stalled["reason"] == "VolumeResizeRefused", "{stalled}");
    ns.record_health("bleepstores", "demo", "Degraded").await?;
    let message = refused["message"].as_str().unwrap_or_default();
    ensure!(message.contains("data-demo-0") && message.contains("3Gi") && message.contains("forbidden"), "{message}");
    // Still serving: a refused resize does not take the store down, and an event says why.
    let obj = ns.get("bleepstore.io", "bleepstores", "demo").await?.context("the store")?;
    ensure!(condition(&obj, "Ready").context("Ready")?["status"] == "True", "{}", obj["status"]);
    let events = ns.list("events.k8s.io", "events").await?;
    ensure!(events.iter().any(|e: &Value| e["reason"] == "VolumeResizeRefused"), "an event says why");
    // Back to the size the volume has: accepted, and the condition clears.
    ns.apply_ok(&store)?;
    let resolved = ns.wait_condition("bleepstores", "demo", "Degraded", "False").await?;
    ensure!(resolved["reason"] == "AsExpected", "{resolved}");
    ns.wait_for_conditions("bleepstores", "demo", &[("Stalled", "False"), ("Reconciling", "False")]).await?;
    ns.record_health("bleepstores", "demo", "Healthy").await?;
    // Below what the volume has stays refused, by the CRD's validation.
    let shrink = ns.apply(&store.replace("1Gi", "512Mi"));
    let stderr = String::from_utf8_lossy(&shrink.stderr);
    ensure!(!shrink.status.success() && stderr.contains("may only grow"), "{stderr}");
    Ok(())
}

pub(crate) async fn bucket_deletion_policies(world: Arc<World>) -> Result<()> {
    let ns = with_store(&world, "deletion-policies").await?;
    for (name, policy) in [("kept", "Retain"), ("careful", "DeleteIfEmpty"), ("gone", "Delete")] {
        ns.apply_ok(&bucket(name, policy))?;
        ns.wait_condition("buckets", name, "Ready", "True").await?;
        ns.record_health("buckets", name, "Healthy").await?;
    }
    let root = ns.root_client("demo").await?;
    for name in ["kept", "careful", "gone"] {
        root.put_object().bucket(name).key("object").body(ByteStream::from_static(b"data")).send().await?;
    }
    let gone = |name: &'static str| {
        let ns = &ns;
        async move {
            wait_for(&format!("Bucket {name} to be gone"), || async {
                ns.get("bleepstore.io", "buckets", name).await.ok()?.is_none().then_some(())
            })
            .await
        }
    };

    ns.kubectl_ok(&["delete", "bucket", "kept", "--wait=false"])?;
    gone("kept").await?;
    let kept = root.get_object().bucket("kept").key("object").send().await?;
    ensure!(kept.body.collect().await?.into_bytes().as_ref() == b"data", "Retain keeps the data");

    ns.kubectl_ok(&["delete", "bucket", "careful", "--wait=false"])?;
    let blocked = ns.wait_condition("buckets", "careful", "DeletionBlocked", "True").await?;
    ensure!(blocked["reason"] == "BucketNotEmpty", "{blocked}");
    ns.record_health("buckets", "careful", "Progressing").await?;
    ensure!(blocked["message"].as_str().unwrap_or_default().contains("not empty"), "{blocked}");
    root.delete_object().bucket("careful").key("object").send().await?;
    gone("careful").await?;
    ensure!(code(&root.head_bucket().bucket("careful").send().await.unwrap_err()) == "NotFound");

    ns.kubectl_ok(&["delete", "bucket", "gone", "--wait=false"])?;
    gone("gone").await?;
    ensure!(code(&root.head_bucket().bucket("gone").send().await.unwrap_err()) == "NotFound");
    let events = ns.list("events.k8s.io", "events").await?;
    let explained =
        events.iter().any(|e: &Value| e["reason"] == "DeletionBlocked" && e["regarding"]["name"] == "careful");
    ensure!(explained, "an event says why the deletion waited");
    Ok(())
}

/// Deleting a `BleepStore` keeps its data volume and its two Secrets (encryption key, root and
/// admin credentials), and an AccessKey with `deletionPolicy: Retain` keeps its key and Secret:
/// re-applying the same manifests brings the store back on that volume with every bucket and
/// object, readable with the same root credential and the same app key.
pub(crate) async fn a_re_created_store_keeps_its_data(world: Arc<World>) -> Result<()> {
    let ns = with_store(&world, "recreate").await?;
    ns.apply_ok(&bucket("photos", "Retain"))?;
    ns.wait_condition("buckets", "photos", "Ready", "True").await?;
    let root = ns.root_client("demo").await?;
    for i in 0..20 {
        let body = ByteStream::from(format!("object {i}").into_bytes());
        root.put_object().bucket("photos").key(format!("o{i:02}")).body(body).send().await?;
    }
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    root.put_object().bucket("photos").key("big").body(ByteStream::from(big.clone())).send().await?;
    let root_secret = ns.secret("demo-root").await?.context("the root Secret")?;
    let admin_secret = ns.secret("demo-admin").await?.context("the admin Secret")?;
    let retained_key = format!("{}  deletionPolicy: Retain\n", key("photo-app", "photos", "ReadOnly"));
    ns.apply_ok(&retained_key)?;
    let app_secret = key_secret(&ns, "photo-app").await?;

    // A GitOps tool deleting everything of the store (its Bucket and AccessKey first: the store
    // waits for its dependents).
    ns.kubectl_ok(&["delete", "bucket", "photos"])?;
    ns.kubectl_ok(&["delete", "accesskey", "photo-app"])?;
    ensure!(ns.secret("photo-app").await?.as_ref() == Some(&app_secret), "a retained key's Secret stays");
    ns.kubectl_ok(&["delete", "bleepstore", "demo"])?;
    wait_for("the StatefulSet to be garbage-collected", || async {
        ns.get("apps", "statefulsets", "demo").await.ok()?.is_none().then_some(())
    })
    .await?;
    ensure!(ns.secret("demo-root").await?.as_ref() == Some(&root_secret), "the root Secret stays");
    ensure!(ns.secret("demo-admin").await?.as_ref() == Some(&admin_secret), "the admin Secret stays");
    ensure!(ns.get("", "persistentvolumeclaims", "data-demo-0").await?.is_some(), "the volume stays");

    // The same manifests again.
    ns.apply_ok(STORE)?;
    ns.apply_ok(&bucket("photos", "Retain"))?;
    ns.apply_ok(&retained_key)?;
    ns.wait_condition("bleepstores", "demo", "Ready", "True").await?;
    ns.wait_condition("buckets", "photos", "Ready", "True").await?;
    let app_secret_again = key_secret(&ns, "photo-app").await?;
    ensure!(app_secret_again["AWS_ACCESS_KEY_ID"] == app_secret["AWS_ACCESS_KEY_ID"], "the same key id");
    ensure!(app_secret_again["AWS_SECRET_ACCESS_KEY"] == app_secret["AWS_SECRET_ACCESS_KEY"], "the same secret");
    let app = ns.app_client(&app_secret).await;
    let seen = app.list_objects_v2().bucket("photos").send().await?;
    ensure!(seen.contents().len() == 21, "the app's key reads {} objects", seen.contents().len());
    let events = ns.list("events.k8s.io", "events").await?;
    ensure!(events.iter().any(|e: &Value| e["reason"] == "RetainedKeyAdopted"), "an event says the key was taken back");
    ensure!(ns.secret("demo-admin").await?.as_ref() == Some(&admin_secret), "the same encryption key");
    let root = ns.root_client("demo").await?;
    let listed = root.list_objects_v2().bucket("photos").send().await?;
    ensure!(listed.contents().len() == 21, "{} objects back", listed.contents().len());
    let got = root.get_object().bucket("photos").key("big").send().await?.body.collect().await?;
    ensure!(got.into_bytes().as_ref() == big.as_slice(), "the big object reads back");
    Ok(())
}

/// A bucket's versioning, ACL and tags changed behind the operator's back are put back on the next
/// reconcile (here triggered by an annotation, as a GitOps re-sync does; otherwise within 2
/// minutes), with an event saying what was changed.
pub(crate) async fn bucket_drift_is_put_back(world: Arc<World>) -> Result<()> {
    let ns = with_store(&world, "drift").await?;
    ns.apply_ok(&format!("{}  versioning: Enabled\n  tags:\n    team: data\n", bucket("photos", "Retain")))?;
    ns.wait_condition("buckets", "photos", "Ready", "True").await?;
    let root = ns.root_client("demo").await?;
    let tag_pairs = |out: aws_sdk_s3::operation::get_bucket_tagging::GetBucketTaggingOutput| -> Vec<(String, String)> {
        out.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
    };
    let tags = tag_pairs(root.get_bucket_tagging().bucket("photos").send().await?);
    ensure!(tags == [("team".to_owned(), "data".to_owned())], "the spec's tags are the bucket's: {tags:?}");
    let theirs = aws_sdk_s3::types::Tagging::builder()
        .tag_set(aws_sdk_s3::types::Tag::builder().key("team").value("ops").build()?)
        .build()?;
    root.put_bucket_tagging().bucket("photos").tagging(theirs).send().await?;
    let suspended = aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
        .build();
    root.put_bucket_versioning().bucket("photos").versioning_configuration(suspended).send().await?;
    root.put_bucket_acl().bucket("photos").acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead).send().await?;
    ns.kubectl_ok(&["annotate", "bucket", "photos", "example.com/resync=1"])?;
    // Put back and reported (by the reconcile the annotation brings, or by one that came
    // between the two changes: then in two events).
    wait_for("versioning Enabled and the ACL private again, each reported", || async {
        let versioning = root.get_bucket_versioning().bucket("photos").send().await.ok()?;
        let acl = root.get_bucket_acl().bucket("photos").send().await.ok()?;
        let public =
            acl.grants().iter().any(|g| g.grantee().and_then(|g| g.uri()).is_some_and(|u| u.ends_with("/AllUsers")));
        let tags = tag_pairs(root.get_bucket_tagging().bucket("photos").send().await.ok()?);
        let events = ns.list("events.k8s.io", "events").await.ok()?;
        let said = |what: &str| {
            events.iter().any(|e: &Value| {
                e["reason"] == "DriftCorrected" && e["note"].as_str().is_some_and(|n| n.contains(what))
            })
        };
        (versioning.status() == Some(&aws_sdk_s3::types::BucketVersioningStatus::Enabled)
            && !public
            && tags == [("team".to_owned(), "data".to_owned())]
            && said("versioning was Suspended, set back to Enabled")
            && said("its 1 tag(s) differed, set back to the 1 in the spec")
            && said("the ACL was public-read, set back to private"))
        .then_some(())
    })
    .await?;
    Ok(())
}

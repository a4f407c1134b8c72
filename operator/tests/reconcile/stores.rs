//! `BleepStore` reconciles: finalizer, first creation, an invalid spec, volume growth, deletion.

use std::time::Duration;

use bleepstore_operator::crd::BleepStore;
use bleepstore_operator::error::Error;
use bleepstore_operator::store::reconcile;
use kube::runtime::controller::Action;
use serde_json::json;

use crate::harness::*;

const STS: &str = "/apis/apps/v1/namespaces/team-a/statefulsets/demo";
const PDB: &str = "/apis/policy/v1/namespaces/team-a/poddisruptionbudgets/demo";

#[tokio::test]
async fn a_new_store_first_gets_its_finalizer() {
    let store = store_json(json!({"storage": {"size": "10Gi"}}), false);
    let obj = store.clone();
    let (result, admin) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<BleepStore>(&store), ctx),
        |mut api| async move {
            api.expect_finalizer_added(&store_path("demo"), &obj, "bleepstore.io/store-protection").await;
            api
        },
    )
    .await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert!(admin.is_empty());
}

#[tokio::test]
async fn a_store_is_created_with_generated_secrets_and_applied_objects() {
    let store = store_json(json!({"storage": {"size": "10Gi"}}), true);
    let obj = store.clone();
    let (result, _) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<BleepStore>(&store), ctx),
        |mut api| async move {
            api.expect("GET", &core_path("secrets", "demo-root")).await.not_found();
            api.expect("GET", &core_path("secrets", "demo-admin")).await.not_found();
            api.expect("GET", STS).await.not_found();
            api.expect("GET", PDB).await.not_found();
            let root = api.expect_apply(&core_path("secrets", "demo-root")).await;
            assert_eq!(root["data"].as_object().unwrap().len(), 2);
            let admin = api.expect_apply(&core_path("secrets", "demo-admin")).await;
            assert!(admin["data"]["BLEEPSTORE_ADMIN_TOKEN"].is_string());
            let config = api.expect_apply(&core_path("configmaps", "demo-config")).await;
            assert!(config["data"]["config.yaml"].as_str().unwrap().contains("listen: 0.0.0.0:9000"));
            api.expect_apply(&core_path("services", "demo-headless")).await;
            api.expect_apply(&core_path("services", "demo")).await;
            let sts = api.expect_apply(STS).await;
            assert_eq!(sts["metadata"]["ownerReferences"][0]["uid"], "uid-demo");
            assert_eq!(sts["spec"]["template"]["spec"]["containers"][0]["image"], "bleepstore:test");
            let status = api.expect_status(&store_path("demo"), &obj).await;
            assert_eq!(condition(&status, "Ready")["status"], "False");
            assert_eq!(condition(&status, "Ready")["reason"], "PodsNotReady");
            assert_eq!(condition(&status, "Progressing")["reason"], "RollingOut");
            assert_eq!(condition(&status, "Degraded")["status"], "False");
            assert_eq!(status["endpoint"], "http://demo.team-a.svc:9000");
            assert_eq!(status["observedGeneration"], 1);
            assert!(!status.to_string().contains(root["data"]["BLEEPSTORE_ROOT_SECRET_KEY"].as_str().unwrap()));
            api
        },
    )
    .await;
    assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(15)));
}

#[tokio::test]
async fn a_ready_store_keeps_its_secrets_and_reports_ready() {
    let store = store_json(json!({"storage": {"size": "10Gi"}, "podDisruptionBudget": {"maxUnavailable": 1}}), true);
    let obj = store.clone();
    let (result, _) = run(FakeAdmin::default(), |ctx| reconcile(parse::<BleepStore>(&store), ctx),
        |mut api| async move {
        let root = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "demo-root"}, "data": {
            "BLEEPSTORE_ROOT_ACCESS_KEY": "S0VZ", "BLEEPSTORE_ROOT_SECRET_KEY": "c2VjcmV0c2VjcmV0c2VjcmV0"}});
        api.expect("GET", &core_path("secrets", "demo-root")).await.reply(200, root);
        api.expect("GET", &core_path("secrets", "demo-admin")).await.reply(200, admin_secret());
        let mut existing = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "demo",
            "generation": 3},
            "spec": {"selector": {}, "template": {}, "serviceName": "demo-headless", "volumeClaimTemplates": [
                {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "10Gi"}}}}]}});
        api.expect("GET", STS).await.reply(200, existing.clone());
        let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data-demo-0"},
            "spec": {"resources": {"requests": {"storage": "10Gi"}}}, "status": {"capacity": {"storage": "10Gi"}}});
        api.expect("GET", &core_path("persistentvolumeclaims", "data-demo-0")).await.reply(200, pvc);
        let root = api.expect_apply(&core_path("secrets", "demo-root")).await;
        assert_eq!(root["data"]["BLEEPSTORE_ROOT_ACCESS_KEY"], "S0VZ", "the root key is kept");
        let admin = api.expect_apply(&core_path("secrets", "demo-admin")).await;
        assert_eq!(admin["data"]["BLEEPSTORE_ADMIN_TOKEN"], "YWRtaW4tdG9rZW4=", "the admin token is kept");
        api.expect_apply(&core_path("configmaps", "demo-config")).await;
        api.expect_apply(&core_path("services", "demo-headless")).await;
        api.expect_apply(&core_path("services", "demo")).await;
        let call = api.expect("PATCH", STS).await;
        existing["status"] = json!({"observedGeneration": 3, "replicas": 1, "readyReplicas": 1, "updatedReplicas": 1,
            "currentRevision": "r1", "updateRevision": "r1"});
        call.reply(200, existing);
        let pdb = api.expect_apply(PDB).await;
        assert_eq!(pdb["spec"]["maxUnavailable"], 1);
        let status = api.expect_status(&store_path("demo"), &obj).await;
        assert_eq!(condition(&status, "Ready")["status"], "True");
        assert_eq!(condition(&status, "Progressing")["reason"], "RolledOut");
        assert_eq!(status["readyReplicas"], 1);
        assert_eq!(status["volumes"], json!([{"claim": "data-demo-0", "requested": "10Gi", "capacity": "10Gi"}]));
        api
    })
    .await;
    assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(300)));
}

#[tokio::test]
async fn a_missing_tls_secret_is_a_condition_and_nothing_is_applied() {
    let store = store_json(json!({"storage": {"size": "10Gi"}, "tls": {"secretName": "demo-tls"}}), true);
    let obj = store.clone();
    let (result, _) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<BleepStore>(&store), ctx),
        |mut api| async move {
            api.expect("GET", &core_path("secrets", "demo-root")).await.not_found();
            api.expect("GET", &core_path("secrets", "demo-admin")).await.not_found();
            api.expect("GET", &core_path("secrets", "demo-tls")).await.not_found();
            api.expect("GET", STS).await.not_found();
            api.expect("GET", PDB).await.not_found();
            let status = api.expect_status(&store_path("demo"), &obj).await;
            let ready = condition(&status, "Ready");
            assert_eq!(
                (ready["status"].as_str(), ready["reason"].as_str()),
                (Some("False"), Some("TLSSecretNotFound"))
            );
            assert_eq!(ready["message"], "TLS Secret demo-tls not found in this namespace");
            assert_eq!(condition(&status, "Degraded")["status"], "True");
            let note = api.expect_event(NS, "TLSSecretNotFound").await;
            assert!(note.contains("demo-tls"));
            api
        },
    )
    .await;
    assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(15)));
}

#[tokio::test]
async fn a_tls_secret_of_the_wrong_type_is_refused() {
    let store = store_json(json!({"storage": {"size": "10Gi"}, "tls": {"secretName": "demo-tls"}}), true);
    let obj = store.clone();
    let (result, _) = run(FakeAdmin::default(), |ctx| reconcile(parse::<BleepStore>(&store), ctx),
        |mut api| async move {
        api.expect("GET", &core_path("secrets", "demo-root")).await.not_found();
        api.expect("GET", &core_path("secrets", "demo-admin")).await.not_found();
        let opaque = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "demo-tls"}, "type": "Opaque",
            "data": {"tls.crt": "eA=="}});
        api.expect("GET", &core_path("secrets", "demo-tls")).await.reply(200, opaque);
        api.expect("GET", STS).await.not_found();
        api.expect("GET", PDB).await.not_found();
        let status = api.expect_status(&store_path("demo"), &obj).await;
        assert_eq!(condition(&status, "Ready")["reason"], "TLSSecretInvalid");
        api.expect_event(NS, "TLSSecretInvalid").await;
        api
    })
    .await;
    assert!(result.is_ok());
}

#[tokio::test]
async fn growing_storage_patches_the_claim_and_keeps_the_template() {
    let store = store_json(json!({"storage": {"size": "20Gi"}}), true);
    let obj = store.clone();
    let (result, _) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<BleepStore>(&store), ctx),
        |mut api| async move {
            let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data-demo-0"},
            "spec": {"resources": {"requests": {"storage": "10Gi"}}}, "status": {"capacity": {"storage": "10Gi"}}});
            applied_up_to_the_stateful_set(&mut api, pvc.clone()).await;
            let sts = api.expect_apply(STS).await;
            assert_eq!(
                sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"], "10Gi",
                "templates are immutable"
            );
            let grow = api.expect("PATCH", &core_path("persistentvolumeclaims", "data-demo-0")).await;
            assert_eq!(grow.content_type, "application/merge-patch+json");
            assert_eq!(grow.body, json!({"spec": {"resources": {"requests": {"storage": "20Gi"}}}}));
            let mut grown = pvc;
            grown["spec"]["resources"]["requests"]["storage"] = json!("20Gi");
            grow.reply(200, grown);
            let status = api.expect_status(&store_path("demo"), &obj).await;
            let progressing = condition(&status, "Progressing");
            assert_eq!(
                (progressing["status"].as_str(), progressing["reason"].as_str()),
                (Some("True"), Some("VolumeExpanding"))
            );
            assert_eq!(status["volumes"], json!([{"claim": "data-demo-0", "requested": "20Gi", "capacity": "10Gi"}]));
            api
        },
    )
    .await;
    assert!(result.is_ok());
}

#[tokio::test]
async fn deleting_a_store_that_buckets_use_is_blocked_with_a_condition() {
    let store = deleting(store_json(json!({"storage": {"size": "10Gi"}}), true));
    let obj = store.clone();
    let (result, admin) = run(FakeAdmin::default(), |ctx| reconcile(parse::<BleepStore>(&store), ctx),
        |mut api| async move {
        let buckets = json!({"apiVersion": "bleepstore.io/v1alpha1", "kind": "BucketList", "metadata": {}, "items": [
            {"apiVersion": "bleepstore.io/v1alpha1", "kind": "Bucket", "metadata": {"name": "photos", "namespace": NS},
                "spec": {"store": "demo"}},
            {"apiVersion": "bleepstore.io/v1alpha1", "kind": "Bucket", "metadata": {"name": "other", "namespace": NS},
                "spec": {"store": "elsewhere"}}]});
        api.expect("GET", &format!("/apis/bleepstore.io/v1alpha1/namespaces/{NS}/buckets")).await.reply(200, buckets);
        let keys = json!({"apiVersion": "bleepstore.io/v1alpha1", "kind": "AccessKeyList", "metadata": {},
            "items": []});
        api.expect("GET", &format!("/apis/bleepstore.io/v1alpha1/namespaces/{NS}/accesskeys")).await.reply(200, keys);
        let status = api.expect_status(&store_path("demo"), &obj).await;
        let blocked = condition(&status, "DeletionBlocked");
        assert_eq!((blocked["status"].as_str(), blocked["reason"].as_str()), (Some("True"), Some("DependentsExist")));
        assert!(blocked["message"].as_str().unwrap().starts_with("1 Bucket and 0 AccessKey resources"));
        api.expect_event(NS, "DeletionBlocked").await;
        api
    })
    .await;
    assert!(matches!(result, Err(Error::DeletionBlocked(_))));
    assert!(admin.is_empty());
}

#[tokio::test]
async fn deleting_an_unused_store_releases_its_finalizer() {
    let store = deleting(store_json(json!({"storage": {"size": "10Gi"}}), true));
    let obj = store.clone();
    let (result, _) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<BleepStore>(&store), ctx),
        |mut api| async move {
            let empty =
                |kind: &str| json!({"apiVersion": "bleepstore.io/v1alpha1", "kind": kind, "metadata": {}, "items": []});
            api.expect("GET", &format!("/apis/bleepstore.io/v1alpha1/namespaces/{NS}/buckets"))
                .await
                .reply(200, empty("BucketList"));
            api.expect("GET", &format!("/apis/bleepstore.io/v1alpha1/namespaces/{NS}/accesskeys"))
                .await
                .reply(200, empty("AccessKeyList"));
            api.expect_finalizer_removed(&store_path("demo"), &obj, "bleepstore.io/store-protection").await;
            api
        },
    )
    .await;
    assert_eq!(result.unwrap(), Action::await_change());
}

#[tokio::test]
async fn an_api_error_is_returned_for_backoff() {
    let store = store_json(json!({"storage": {"size": "10Gi"}}), true);
    let (result, _) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<BleepStore>(&store), ctx),
        |mut api| async move {
            api.expect("GET", &core_path("secrets", "demo-root")).await.reply(
                500,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "InternalError",
                "code": 500, "message": "etcd down"}),
            );
            api
        },
    )
    .await;
    let error = result.unwrap_err();
    assert_eq!(error.metric_label(), "kube");
    assert!(error.to_string().contains("etcd down"), "{error}");
}

fn forbidden(message: &str) -> serde_json::Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
        "message": message})
}

/// The GETs and applies of a store whose secrets and StatefulSet exist, up to the StatefulSet.
async fn applied_up_to_the_stateful_set(api: &mut ApiServer, claim: serde_json::Value) {
    api.expect("GET", &core_path("secrets", "demo-root")).await.not_found();
    api.expect("GET", &core_path("secrets", "demo-admin")).await.reply(200, admin_secret());
    let existing = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "demo"},
        "spec": {"selector": {}, "template": {}, "serviceName": "demo-headless", "volumeClaimTemplates": [
            {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "10Gi"}}}}]}});
    api.expect("GET", STS).await.reply(200, existing);
    api.expect("GET", &core_path("persistentvolumeclaims", "data-demo-0")).await.reply(200, claim);
    api.expect("GET", PDB).await.not_found();
    for path in [
        core_path("secrets", "demo-root"),
        core_path("secrets", "demo-admin"),
        core_path("configmaps", "demo-config"),
        core_path("services", "demo-headless"),
        core_path("services", "demo"),
    ] {
        api.expect_apply(&path).await;
    }
}

#[tokio::test]
async fn a_refused_volume_growth_is_a_condition_and_an_event_not_an_error() {
    let store = store_json(json!({"storage": {"size": "20Gi", "storageClassName": "fixed"}}), true);
    let obj = store.clone();
    let (result, _) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<BleepStore>(&store), ctx),
        |mut api| async move {
            let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data-demo-0"},
                "spec": {"resources": {"requests": {"storage": "10Gi"}}}, "status": {"capacity": {"storage": "10Gi"}}});
            applied_up_to_the_stateful_set(&mut api, pvc).await;
            api.expect_apply(STS).await;
            api.expect("PATCH", &core_path("persistentvolumeclaims", "data-demo-0")).await.reply(
                403,
                forbidden("only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"),
            );
            let status = api.expect_status(&store_path("demo"), &obj).await;
            let degraded = condition(&status, "Degraded");
            assert_eq!(degraded["status"], "True");
            assert_eq!(degraded["reason"], "VolumeResizeRefused");
            let message = degraded["message"].as_str().unwrap();
            assert!(message.starts_with("claim data-demo-0 cannot grow to 20Gi: only dynamically"), "{message}");
            assert_ne!(condition(&status, "Progressing")["reason"], "VolumeExpanding", "not forever expanding");
            assert_eq!(status["observedGeneration"], 1, "the status is current");
            assert_eq!(status["volumes"][0]["requested"], "10Gi");
            api.expect_event(NS, "VolumeResizeRefused").await;
            api
        },
    )
    .await;
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn an_object_the_api_server_refuses_is_a_condition_on_the_store() {
    let store = store_json(json!({"storage": {"size": "10Gi"}}), true);
    let obj = store.clone();
    let (result, _) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<BleepStore>(&store), ctx),
        |mut api| async move {
            let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data-demo-0"},
                "spec": {"resources": {"requests": {"storage": "10Gi"}}}});
            applied_up_to_the_stateful_set(&mut api, pvc).await;
            api.expect("PATCH", STS).await.reply(
                403,
                forbidden(
                    "statefulsets.apps \"demo\" is forbidden: User \"system:serviceaccount:ops:op\" cannot patch",
                ),
            );
            let status = api.expect_status(&store_path("demo"), &obj).await;
            let ready = condition(&status, "Ready");
            assert_eq!((ready["status"].as_str(), ready["reason"].as_str()), (Some("False"), Some("ApplyRefused")));
            assert!(ready["message"].as_str().unwrap().contains("cannot patch"));
            assert_eq!(status["observedGeneration"], 1);
            api.expect_event(NS, "ApplyRefused").await;
            api
        },
    )
    .await;
    assert_eq!(result.unwrap_err().metric_label(), "kube");
}

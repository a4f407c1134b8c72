//! `AccessKey` reconciles: a key is generated once, its Secret written before the store is
//! told, grants follow the spec without a new key, and deletion revokes it.

use std::time::Duration;

use base64::Engine;
use bleepstore_operator::access_key::reconcile;
use bleepstore_operator::admin::AdminError;
use bleepstore_operator::crd::AccessKey;
use kube::runtime::controller::Action;
use serde_json::{json, Value};

use crate::harness::*;

fn key_json(spec: Value, status: Option<Value>) -> Value {
    let mut key = json!({
        "apiVersion": "bleepstore.io/v1alpha1", "kind": "AccessKey",
        "metadata": {"name": "app", "namespace": NS, "uid": "uid-app", "generation": 2,
            "finalizers": ["bleepstore.io/access-key"]},
        "spec": spec,
    });
    if let Some(status) = status {
        key["status"] = status;
    }
    key
}

fn ready_bucket(name: &str, bucket_name: &str) -> Value {
    json!({"apiVersion": "bleepstore.io/v1alpha1", "kind": "Bucket", "metadata": {"name": name, "namespace": NS},
        "spec": {"store": "demo"},
        "status": {"bucketName": bucket_name, "conditions": [{"type": "Ready", "status": "True", "reason": "Created",
            "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})
}

fn decode(value: &Value) -> String {
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(value.as_str().unwrap()).unwrap()).unwrap()
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn a_new_key_gets_a_secret_then_a_store_key_then_grants() {
    let key = key_json(json!({"store": "demo", "buckets": [{"bucket": "photos", "access": "ReadWrite"}]}), None);
    let obj = key.clone();
    let (result, calls) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<AccessKey>(&key), ctx),
        |mut api| async move {
            api.expect("GET", &store_path("demo")).await.reply(200, ready_store());
            api.expect("GET", &core_path("secrets", "demo-admin")).await.reply(200, admin_secret());
            api.expect("GET", &bucket_path("photos")).await.reply(200, ready_bucket("photos", "team-photos"));
            api.expect("GET", &core_path("secrets", "app")).await.not_found();
            let secret = api.expect_apply(&core_path("secrets", "app")).await;
            let data = &secret["data"];
            let id = decode(&data["AWS_ACCESS_KEY_ID"]);
            let secret_key = decode(&data["AWS_SECRET_ACCESS_KEY"]);
            assert!(id.starts_with("BS") && id.len() == 20);
            assert_eq!(secret_key.len(), 40);
            assert_eq!(decode(&data["AWS_ENDPOINT_URL"]), "http://demo.team-a.svc:9000");
            assert_eq!(decode(&data["AWS_ENDPOINT_URL_S3"]), "http://demo.team-a.svc:9000");
            assert_eq!(decode(&data["AWS_REGION"]), "us-east-1");
            assert_eq!(decode(&data["BUCKET_NAME"]), "team-photos");
            assert_eq!(secret["metadata"]["ownerReferences"][0]["uid"], "uid-app");
            let status = api.expect_status(&key_path("app"), &obj).await;
            assert_eq!(status["accessKeyId"], id.as_str());
            assert_eq!(status["secretName"], "app");
            assert_eq!(condition(&status, "Ready")["reason"], "Granted");
            assert!(!status.to_string().contains(&secret_key), "the secret never reaches status");
            api
        },
    )
    .await;
    assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(300)));
    assert_eq!(calls.len(), 2);
    assert!(calls[0].starts_with("put_key BS"));
    assert!(calls[1].ends_with("[team-photos:readwrite]"), "{calls:?}");
}

#[tokio::test]
async fn changing_grants_keeps_the_key() {
    let status = json!({"accessKeyId": "BSEXISTING0000000001", "secretName": "app-s3"});
    let key = key_json(
        json!({"store": "demo", "secretName": "app-s3", "buckets": [{"bucket": "photos", "access": "ReadOnly"},
            {"bucket": "logs", "access": "WriteOnly"}]}),
        Some(status),
    );
    let obj = key.clone();
    let (result, calls) = run(FakeAdmin::default(), |ctx| reconcile(parse::<AccessKey>(&key), ctx),
        |mut api| async move {
        api.expect("GET", &store_path("demo")).await.reply(200, ready_store());
        api.expect("GET", &core_path("secrets", "demo-admin")).await.reply(200, admin_secret());
        api.expect("GET", &bucket_path("photos")).await.reply(200, ready_bucket("photos", "team-photos"));
        api.expect("GET", &bucket_path("logs")).await.reply(200, ready_bucket("logs", "team-logs"));
        let existing = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app-s3", "ownerReferences": [
            {"apiVersion": "bleepstore.io/v1alpha1", "kind": "AccessKey", "name": "app", "uid": "uid-app"}]},
            "data": {"AWS_ACCESS_KEY_ID": b64("BSEXISTING0000000001"),
                "AWS_SECRET_ACCESS_KEY": b64("existing-secret-0123456789")}});
        api.expect("GET", &core_path("secrets", "app-s3")).await.reply(200, existing);
        let secret = api.expect_apply(&core_path("secrets", "app-s3")).await;
        assert_eq!(decode(&secret["data"]["AWS_ACCESS_KEY_ID"]), "BSEXISTING0000000001");
        assert_eq!(decode(&secret["data"]["AWS_SECRET_ACCESS_KEY"]), "existing-secret-0123456789");
        assert!(secret["data"].get("BUCKET_NAME").is_none(), "two buckets: no BUCKET_NAME");
        let status = api.expect_status(&key_path("app"), &obj).await;
        assert_eq!(status["accessKeyId"], "BSEXISTING0000000001");
        api
    })
    .await;
    assert!(result.is_ok());
    assert_eq!(
        calls,
        ["put_key BSEXISTING0000000001", "put_grants BSEXISTING0000000001 [team-photos:read,team-logs:write]"]
    );
}

#[tokio::test]
async fn a_missing_bucket_is_a_condition_and_nothing_is_written() {
    let key = key_json(json!({"store": "demo", "buckets": [{"bucket": "ghost", "access": "ReadOnly"}]}), None);
    let obj = key.clone();
    let (result, calls) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<AccessKey>(&key), ctx),
        |mut api| async move {
            api.expect("GET", &store_path("demo")).await.reply(200, ready_store());
            api.expect("GET", &core_path("secrets", "demo-admin")).await.reply(200, admin_secret());
            api.expect("GET", &bucket_path("ghost")).await.not_found();
            let status = api.expect_status(&key_path("app"), &obj).await;
            let ready = condition(&status, "Ready");
            assert_eq!((ready["status"].as_str(), ready["reason"].as_str()), (Some("False"), Some("BucketNotFound")));
            assert_eq!(ready["message"], "Bucket ghost not found in namespace team-a");
            api.expect_event(NS, "BucketNotFound").await;
            api
        },
    )
    .await;
    assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(10)));
    assert!(calls.is_empty());
}

/// The key is refused `SecretConflict` over `existing` (its Secret's current content), and
/// nothing reaches the store.
async fn refused_over(spec: Value, secret_name: &'static str, existing: Value) {
    let key = key_json(spec, None);
    let obj = key.clone();
    let (result, calls) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<AccessKey>(&key), ctx),
        |mut api| async move {
            api.expect("GET", &store_path("demo")).await.reply(200, ready_store());
            api.expect("GET", &core_path("secrets", "demo-admin")).await.reply(200, admin_secret());
            api.expect("GET", &core_path("secrets", secret_name)).await.reply(200, existing);
            let status = api.expect_status(&key_path("app"), &obj).await;
            assert_eq!(condition(&status, "Ready")["reason"], "SecretConflict");
            api.expect_event(NS, "SecretConflict").await;
            api
        },
    )
    .await;
    assert!(result.is_ok());
    assert!(calls.is_empty());
}

#[tokio::test]
async fn a_secret_that_is_not_ours_is_never_overwritten() {
    let foreign = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "precious"},
        "data": {"password": "aHVudGVyMg=="}});
    refused_over(json!({"store": "demo", "secretName": "precious"}), "precious", foreign).await;
}

#[tokio::test]
async fn an_unreachable_store_keeps_the_secret_and_reports() {
    let key = key_json(json!({"store": "demo"}), None);
    let obj = key.clone();
    let admin = FakeAdmin { fail: Some(AdminError::Unreachable("connection refused".into())), ..Default::default() };
    let (result, calls) = run(
        admin,
        |ctx| reconcile(parse::<AccessKey>(&key), ctx),
        |mut api| async move {
            api.expect("GET", &store_path("demo")).await.reply(200, ready_store());
            api.expect("GET", &core_path("secrets", "demo-admin")).await.reply(200, admin_secret());
            api.expect("GET", &core_path("secrets", "app")).await.not_found();
            api.expect_apply(&core_path("secrets", "app")).await;
            let status = api.expect_status(&key_path("app"), &obj).await;
            assert_eq!(condition(&status, "Ready")["reason"], "StoreUnreachable");
            api
        },
    )
    .await;
    assert_eq!(result.unwrap_err().metric_label(), "admin_api");
    assert_eq!(calls.len(), 1);
}

#[tokio::test]
async fn deleting_a_key_revokes_it() {
    let key = deleting(key_json(json!({"store": "demo"}), Some(json!({"accessKeyId": "BSREVOKEME0000000001"}))));
    let obj = key.clone();
    let (result, calls) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<AccessKey>(&key), ctx),
        |mut api| async move {
            api.expect("GET", &store_path("demo")).await.reply(200, ready_store());
            api.expect("GET", &core_path("secrets", "demo-admin")).await.reply(200, admin_secret());
            api.expect_finalizer_removed(&key_path("app"), &obj, "bleepstore.io/access-key").await;
            api
        },
    )
    .await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert_eq!(calls, ["delete_key BSREVOKEME0000000001"]);
}

#[tokio::test]
async fn a_failed_revocation_blocks_deletion() {
    let key = deleting(key_json(json!({"store": "demo"}), Some(json!({"accessKeyId": "BSREVOKEME0000000001"}))));
    let obj = key.clone();
    let admin = FakeAdmin { fail: Some(AdminError::Unreachable("timed out".into())), ..Default::default() };
    let (result, _) = run(
        admin,
        |ctx| reconcile(parse::<AccessKey>(&key), ctx),
        |mut api| async move {
            api.expect("GET", &store_path("demo")).await.reply(200, ready_store());
            api.expect("GET", &core_path("secrets", "demo-admin")).await.reply(200, admin_secret());
            let status = api.expect_status(&key_path("app"), &obj).await;
            assert_eq!(condition(&status, "DeletionBlocked")["reason"], "StoreUnreachable");
            api.expect_event(NS, "DeletionBlocked").await;
            api
        },
    )
    .await;
    assert_eq!(result.unwrap_err().metric_label(), "deletion_blocked");
}

#[tokio::test]
async fn a_key_without_status_is_revoked_by_the_id_in_its_secret() {
    let key = deleting(key_json(json!({"store": "demo"}), None));
    let obj = key.clone();
    let (result, calls) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<AccessKey>(&key), ctx),
        |mut api| async move {
            let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app", "ownerReferences": [
            {"apiVersion": "bleepstore.io/v1alpha1", "kind": "AccessKey", "name": "app", "uid": "uid-app"}]},
            "data": {"AWS_ACCESS_KEY_ID": b64("BSFROMSECRET00000001")}});
            api.expect("GET", &core_path("secrets", "app")).await.reply(200, secret);
            api.expect("GET", &store_path("demo")).await.reply(200, ready_store());
            api.expect("GET", &core_path("secrets", "demo-admin")).await.reply(200, admin_secret());
            api.expect_finalizer_removed(&key_path("app"), &obj, "bleepstore.io/access-key").await;
            api
        },
    )
    .await;
    assert!(result.is_ok());
    assert_eq!(calls, ["delete_key BSFROMSECRET00000001"]);
}

/// A Secret an AccessKey "app" of `store` left with `deletionPolicy: Retain`: no owner, our labels.
fn retained_secret(store: &str, id: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app",
        "labels": {"app.kubernetes.io/managed-by": "bleepstore-operator", "bleepstore.io/access-key": "app",
            "bleepstore.io/store": store},
        "annotations": {"bleepstore.io/retained": "kept"}},
        "data": {"AWS_ACCESS_KEY_ID": b64(id), "AWS_SECRET_ACCESS_KEY": b64("kept-secret-0123456789")}})
}

#[tokio::test]
async fn deleting_a_retained_key_leaves_it_in_the_store() {
    let spec = json!({"store": "demo", "deletionPolicy": "Retain"});
    let key = deleting(key_json(spec, Some(json!({"accessKeyId": "BSKEEPME000000000001"}))));
    let obj = key.clone();
    let (result, calls) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<AccessKey>(&key), ctx),
        |mut api| async move {
            api.expect_finalizer_removed(&key_path("app"), &obj, "bleepstore.io/access-key").await;
            api
        },
    )
    .await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert!(calls.is_empty(), "nothing is revoked: {calls:?}");
}

#[tokio::test]
async fn a_retained_secret_is_taken_back_with_its_key() {
    let key = key_json(json!({"store": "demo", "deletionPolicy": "Retain"}), None);
    let obj = key.clone();
    let (result, calls) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<AccessKey>(&key), ctx),
        |mut api| async move {
            api.expect("GET", &store_path("demo")).await.reply(200, ready_store());
            api.expect("GET", &core_path("secrets", "demo-admin")).await.reply(200, admin_secret());
            // Left by an earlier AccessKey "app" (another uid): no owner, our labels.
            let retained = retained_secret("demo", "BSKEPT00000000000001");
            api.expect("GET", &core_path("secrets", "app")).await.reply(200, retained);
            let secret = api.expect_apply(&core_path("secrets", "app")).await;
            assert_eq!(decode(&secret["data"]["AWS_ACCESS_KEY_ID"]), "BSKEPT00000000000001");
            assert_eq!(decode(&secret["data"]["AWS_SECRET_ACCESS_KEY"]), "kept-secret-0123456789");
            assert!(secret["metadata"]["ownerReferences"].is_null(), "still retained: {}", secret["metadata"]);
            let note = api.expect_event(NS, "RetainedKeyAdopted").await;
            assert!(note.contains("BSKEPT00000000000001"), "{note}");
            let status = api.expect_status(&key_path("app"), &obj).await;
            assert_eq!(status["accessKeyId"], "BSKEPT00000000000001");
            api
        },
    )
    .await;
    assert!(result.is_ok());
    assert_eq!(calls[0], "put_key BSKEPT00000000000001");
}

#[tokio::test]
async fn a_secret_with_our_labels_but_another_store_is_not_taken() {
    let other = retained_secret("other", "BSOTHER0000000000001");
    refused_over(json!({"store": "demo", "deletionPolicy": "Retain"}), "app", other).await;
}

/// The key's Secret as an earlier reconcile left it, owned by the AccessKey, with its record.
fn owned_secret(id: &str, annotations: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app", "annotations": annotations,
        "ownerReferences": [{"apiVersion": "bleepstore.io/v1alpha1", "kind": "AccessKey", "name": "app", "uid": "uid-app"}]},
        "data": {"AWS_ACCESS_KEY_ID": b64(id), "AWS_SECRET_ACCESS_KEY": b64("existing-secret-0123456789")}})
}

#[tokio::test]
async fn a_scheduled_rotation_comes_when_its_period_has_passed() {
    let spec = json!({"store": "demo", "rotation": {"every": "1h", "gracePeriod": "10m"}});
    let key = key_json(spec, Some(json!({"accessKeyId": "BSOLD000000000000001", "rotationGeneration": 0})));
    let obj = key.clone();
    let two_hours_ago = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2)).strftime("%Y-%m-%dT%H:%M:%SZ");
    let record =
        json!({"bleepstore.io/rotation-generation": "0", "bleepstore.io/rotated-at": two_hours_ago.to_string()});
    let (result, calls) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<AccessKey>(&key), ctx),
        |mut api| async move {
            api.expect("GET", &store_path("demo")).await.reply(200, ready_store());
            api.expect("GET", &core_path("secrets", "demo-admin")).await.reply(200, admin_secret());
            api.expect("GET", &core_path("secrets", "app"))
                .await
                .reply(200, owned_secret("BSOLD000000000000001", record));
            // The new key is recorded as pending first, under the old credentials.
            let pending = api.expect_apply(&core_path("secrets", "app")).await;
            assert_eq!(decode(&pending["data"]["AWS_ACCESS_KEY_ID"]), "BSOLD000000000000001");
            assert!(pending["metadata"]["annotations"]["bleepstore.io/pending-access-key-id"].is_string());
            let note = api.expect_event(NS, "KeyRotated").await;
            assert!(note.contains("replaces BSOLD000000000000001"), "{note}");
            let switched = api.expect_apply(&core_path("secrets", "app")).await;
            let new_id = decode(&switched["data"]["AWS_ACCESS_KEY_ID"]);
            assert_ne!(new_id, "BSOLD000000000000001");
            let annotations = &switched["metadata"]["annotations"];
            assert_eq!(annotations["bleepstore.io/previous-access-key-id"], "BSOLD000000000000001");
            let rotated_at: jiff::Timestamp =
                annotations["bleepstore.io/rotated-at"].as_str().unwrap().parse().unwrap();
            assert!(jiff::Timestamp::now().duration_since(rotated_at).as_secs() < 60, "the period starts again");
            let status = api.expect_status(&key_path("app"), &obj).await;
            assert_eq!(status["accessKeyId"], new_id.as_str());
            assert_eq!(status["rotationGeneration"], 0, "a scheduled rotation leaves the generation");
            let next: jiff::Timestamp = status["nextRotationAt"].as_str().unwrap().parse().unwrap();
            let ahead = next.duration_since(jiff::Timestamp::now()).as_secs();
            assert!((3500..=3600).contains(&ahead), "next rotation an hour on: {ahead} s");
            api
        },
    )
    .await;
    // The previous key expires in 10 minutes and the next rotation is an hour away: the regular
    // 300 s re-sync comes first.
    assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(300)));
    assert_eq!(calls.iter().filter(|c| c.starts_with("put_key")).count(), 2);
    assert!(calls.contains(&"put_grants BSOLD000000000000001 []".to_owned()), "{calls:?}");
}

#[tokio::test]
async fn a_schedule_counts_from_when_the_key_is_first_seen_with_it() {
    let spec = json!({"store": "demo", "rotation": {"every": "30d"}});
    let key = key_json(spec, Some(json!({"accessKeyId": "BSOLD000000000000001"})));
    let obj = key.clone();
    let (result, calls) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<AccessKey>(&key), ctx),
        |mut api| async move {
            api.expect("GET", &store_path("demo")).await.reply(200, ready_store());
            api.expect("GET", &core_path("secrets", "demo-admin")).await.reply(200, admin_secret());
            let record = json!({"bleepstore.io/rotation-generation": "0"});
            api.expect("GET", &core_path("secrets", "app"))
                .await
                .reply(200, owned_secret("BSOLD000000000000001", record));
            let secret = api.expect_apply(&core_path("secrets", "app")).await;
            assert_eq!(decode(&secret["data"]["AWS_ACCESS_KEY_ID"]), "BSOLD000000000000001", "no rotation yet");
            assert!(secret["metadata"]["annotations"]["bleepstore.io/rotated-at"].is_string(), "the schedule starts");
            let status = api.expect_status(&key_path("app"), &obj).await;
            let next: jiff::Timestamp = status["nextRotationAt"].as_str().unwrap().parse().unwrap();
            assert!(next.duration_since(jiff::Timestamp::now()).as_hours() >= 719);
            api
        },
    )
    .await;
    assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(300)));
    assert_eq!(calls, ["put_key BSOLD000000000000001", "put_grants BSOLD000000000000001 []"]);
}

//! `Bucket` reconciles: creation through the admin API, a missing store, a name conflict, and
//! each deletion policy.

use std::time::Duration;

use bleepstore_operator::admin::{AdminError, BucketDeleted, BucketInfo, Usage};
use bleepstore_operator::bucket::reconcile;
use bleepstore_operator::crd::Bucket;
use bleepstore_operator::error::Error;
use kube::runtime::controller::Action;
use serde_json::{json, Value};

use crate::harness::*;

fn bucket_json(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "bleepstore.io/v1alpha1", "kind": "Bucket",
        "metadata": {"name": name, "namespace": NS, "uid": format!("uid-{name}"), "generation": 1,
            "creationTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["bleepstore.io/bucket"]},
        "spec": spec,
    })
}

/// A bucket this resource created (its status names it), being deleted.
fn deleting_created(name: &str, spec: Value) -> Value {
    let mut bucket = deleting(bucket_json(name, spec));
    bucket["status"] = json!({"bucketName": name});
    bucket
}

fn list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "bleepstore.io/v1alpha1", "kind": "BucketList", "metadata": {}, "items": items})
}

/// The calls that find a Ready store and its admin token.
async fn store_lookup(api: &mut ApiServer) {
    api.expect("GET", &store_path("demo")).await.reply(200, ready_store());
    api.expect("GET", &core_path("secrets", "demo-admin")).await.reply(200, admin_secret());
}

#[tokio::test]
async fn a_new_bucket_first_gets_its_finalizer() {
    let mut bucket = bucket_json("photos", json!({"store": "demo"}));
    bucket["metadata"].as_object_mut().unwrap().remove("finalizers");
    let obj = bucket.clone();
    let (result, admin) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<Bucket>(&bucket), ctx),
        |mut api| async move {
            api.expect_finalizer_added(&bucket_path("photos"), &obj, "bleepstore.io/bucket").await;
            api
        },
    )
    .await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert!(admin.is_empty());
}

#[tokio::test]
async fn a_bucket_is_created_and_its_usage_reported() {
    let bucket = bucket_json(
        "photos",
        json!({"store": "demo", "bucketName": "team-photos", "acl": "public-read", "versioning": "Enabled"}),
    );
    let obj = bucket.clone();
    let info = BucketInfo {
        usage: Usage { objects: 3, bytes: 4096 },
        versioning: Some("Enabled".into()),
        acl: None,
        tags: None,
    };
    let admin = FakeAdmin { usage: Some(info), ..Default::default() };
    let (result, calls) = run(
        admin,
        |ctx| reconcile(parse::<Bucket>(&bucket), ctx),
        |mut api| async move {
            store_lookup(&mut api).await;
            api.expect("GET", &format!("/apis/bleepstore.io/v1alpha1/namespaces/{NS}/buckets"))
                .await
                .reply(200, list(vec![obj.clone()]));
            let status = api.expect_status(&bucket_path("photos"), &obj).await;
            let ready = condition(&status, "Ready");
            assert_eq!((ready["status"].as_str(), ready["reason"].as_str()), (Some("True"), Some("Created")));
            assert_eq!(status["bucketName"], "team-photos");
            assert_eq!(status["usage"], json!({"objects": 3, "bytes": 4096}));
            assert_eq!(status["versioning"], "Enabled");
            api
        },
    )
    .await;
    assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(120)));
    assert_eq!(
        calls,
        [
            "put_bucket team-photos owner=bleepstore-operator acl=public-read versioning=Enabled",
            "bucket_info team-photos"
        ]
    );
}

#[tokio::test]
async fn a_bucket_whose_store_is_missing_says_so() {
    let bucket = bucket_json("photos", json!({"store": "nowhere"}));
    let obj = bucket.clone();
    let (result, calls) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<Bucket>(&bucket), ctx),
        |mut api| async move {
            api.expect("GET", &store_path("nowhere")).await.not_found();
            let status = api.expect_status(&bucket_path("photos"), &obj).await;
            let ready = condition(&status, "Ready");
            assert_eq!((ready["status"].as_str(), ready["reason"].as_str()), (Some("False"), Some("StoreNotFound")));
            assert_eq!(ready["message"], "BleepStore nowhere not found in namespace team-a");
            api.expect_event(NS, "StoreNotFound").await;
            api
        },
    )
    .await;
    assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(10)));
    assert!(calls.is_empty());
}

#[tokio::test]
async fn a_second_bucket_resource_for_the_same_name_is_refused() {
    let mut older = bucket_json("photos", json!({"store": "demo", "bucketName": "shared"}));
    older["metadata"]["creationTimestamp"] = json!("2025-01-01T00:00:00Z");
    let newer = bucket_json("pictures", json!({"store": "demo", "bucketName": "shared"}));
    let obj = newer.clone();
    let (result, calls) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<Bucket>(&newer), ctx),
        |mut api| async move {
            store_lookup(&mut api).await;
            api.expect("GET", &format!("/apis/bleepstore.io/v1alpha1/namespaces/{NS}/buckets"))
                .await
                .reply(200, list(vec![older, obj.clone()]));
            let status = api.expect_status(&bucket_path("pictures"), &obj).await;
            assert_eq!(condition(&status, "Ready")["reason"], "BucketNameConflict");
            assert_eq!(
                condition(&status, "Ready")["message"],
                "Bucket photos already manages bucket shared in store demo"
            );
            api.expect_event(NS, "BucketNameConflict").await;
            api
        },
    )
    .await;
    assert!(result.is_ok());
    assert!(calls.is_empty(), "nothing is sent to the store: {calls:?}");
}

#[tokio::test]
async fn a_name_the_store_refuses_is_a_condition() {
    let bucket = bucket_json("xn--photos", json!({"store": "demo"}));
    let obj = bucket.clone();
    let admin = FakeAdmin {
        fail: Some(AdminError::Status {
            status: 400,
            code: "BadRequest".into(),
            message: "bucket names must not start with a reserved prefix".into(),
        }),
        ..Default::default()
    };
    let (result, calls) = run(
        admin,
        |ctx| reconcile(parse::<Bucket>(&bucket), ctx),
        |mut api| async move {
            store_lookup(&mut api).await;
            api.expect("GET", &format!("/apis/bleepstore.io/v1alpha1/namespaces/{NS}/buckets"))
                .await
                .reply(200, list(vec![obj.clone()]));
            let status = api.expect_status(&bucket_path("xn--photos"), &obj).await;
            assert_eq!(condition(&status, "Ready")["reason"], "InvalidBucketName");
            assert!(condition(&status, "Ready")["message"].as_str().unwrap().ends_with("reserved prefix"));
            api.expect_event(NS, "InvalidBucketName").await;
            api
        },
    )
    .await;
    assert!(result.is_ok());
    assert_eq!(calls, ["put_bucket xn--photos owner=bleepstore-operator acl=private"]);
}

#[tokio::test]
async fn an_unreachable_store_is_a_condition_and_an_error() {
    let bucket = bucket_json("photos", json!({"store": "demo"}));
    let obj = bucket.clone();
    let admin = FakeAdmin { fail: Some(AdminError::Unreachable("connection refused".into())), ..Default::default() };
    let (result, _) = run(
        admin,
        |ctx| reconcile(parse::<Bucket>(&bucket), ctx),
        |mut api| async move {
            store_lookup(&mut api).await;
            api.expect("GET", &format!("/apis/bleepstore.io/v1alpha1/namespaces/{NS}/buckets"))
                .await
                .reply(200, list(vec![obj.clone()]));
            let status = api.expect_status(&bucket_path("photos"), &obj).await;
            assert_eq!(condition(&status, "Ready")["reason"], "StoreUnreachable");
            api
        },
    )
    .await;
    assert_eq!(result.unwrap_err().metric_label(), "admin_api");
}

#[tokio::test]
async fn retain_keeps_the_bucket_and_releases_the_finalizer() {
    let bucket = deleting_created("photos", json!({"store": "demo"}));
    let obj = bucket.clone();
    let (result, calls) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<Bucket>(&bucket), ctx),
        |mut api| async move {
            api.expect_finalizer_removed(&bucket_path("photos"), &obj, "bleepstore.io/bucket").await;
            api
        },
    )
    .await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert!(calls.is_empty(), "Retain never calls the store: {calls:?}");
}

#[tokio::test]
async fn delete_purges_the_bucket() {
    let bucket = deleting_created("photos", json!({"store": "demo", "deletionPolicy": "Delete"}));
    let obj = bucket.clone();
    let (result, calls) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<Bucket>(&bucket), ctx),
        |mut api| async move {
            store_lookup(&mut api).await;
            api.expect_finalizer_removed(&bucket_path("photos"), &obj, "bleepstore.io/bucket").await;
            api
        },
    )
    .await;
    assert!(result.is_ok());
    assert_eq!(calls, ["delete_bucket photos purge=true"]);
}

#[tokio::test]
async fn delete_if_empty_blocks_on_a_non_empty_bucket() {
    let bucket = deleting_created("photos", json!({"store": "demo", "deletionPolicy": "DeleteIfEmpty"}));
    let obj = bucket.clone();
    let admin = FakeAdmin { delete_bucket: Some(BucketDeleted::NotEmpty), ..Default::default() };
    let (result, calls) = run(
        admin,
        |ctx| reconcile(parse::<Bucket>(&bucket), ctx),
        |mut api| async move {
            store_lookup(&mut api).await;
            let status = api.expect_status(&bucket_path("photos"), &obj).await;
            let blocked = condition(&status, "DeletionBlocked");
            assert_eq!(
                (blocked["status"].as_str(), blocked["reason"].as_str()),
                (Some("True"), Some("BucketNotEmpty"))
            );
            assert!(blocked["message"].as_str().unwrap().contains("set deletionPolicy: Delete"));
            api.expect_event(NS, "DeletionBlocked").await;
            api
        },
    )
    .await;
    assert!(matches!(result, Err(Error::DeletionBlocked(_))));
    assert_eq!(calls, ["delete_bucket photos purge=false"]);
}

#[tokio::test]
async fn delete_if_empty_deletes_an_empty_bucket() {
    let bucket = deleting_created("photos", json!({"store": "demo", "deletionPolicy": "DeleteIfEmpty"}));
    let obj = bucket.clone();
    let (result, calls) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<Bucket>(&bucket), ctx),
        |mut api| async move {
            store_lookup(&mut api).await;
            api.expect_finalizer_removed(&bucket_path("photos"), &obj, "bleepstore.io/bucket").await;
            api
        },
    )
    .await;
    assert!(result.is_ok());
    assert_eq!(calls, ["delete_bucket photos purge=false"]);
}

#[tokio::test]
async fn a_bucket_whose_store_is_gone_is_released() {
    let bucket = deleting_created("photos", json!({"store": "demo", "deletionPolicy": "Delete"}));
    let obj = bucket.clone();
    let (result, calls) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<Bucket>(&bucket), ctx),
        |mut api| async move {
            api.expect("GET", &store_path("demo")).await.not_found();
            api.expect_finalizer_removed(&bucket_path("photos"), &obj, "bleepstore.io/bucket").await;
            api
        },
    )
    .await;
    assert!(result.is_ok());
    assert!(calls.is_empty());
}

#[tokio::test]
async fn a_bucket_resource_that_never_created_its_bucket_deletes_nothing() {
    // Refused (e.g. a name conflict): status has no bucketName, so Delete must not touch the
    // bucket of that name, which another resource manages.
    let bucket =
        deleting(bucket_json("pictures", json!({"store": "demo", "bucketName": "shared", "deletionPolicy": "Delete"})));
    let obj = bucket.clone();
    let (result, calls) = run(
        FakeAdmin::default(),
        |ctx| reconcile(parse::<Bucket>(&bucket), ctx),
        |mut api| async move {
            api.expect_finalizer_removed(&bucket_path("pictures"), &obj, "bleepstore.io/bucket").await;
            api
        },
    )
    .await;
    assert!(result.is_ok());
    assert!(calls.is_empty(), "{calls:?}");
}

#[tokio::test]
async fn an_acl_and_versioning_changed_outside_are_put_back_and_reported() {
    let mut bucket =
        bucket_json("photos", json!({"store": "demo", "bucketName": "team-photos", "versioning": "Enabled"}));
    bucket["status"] = json!({"bucketName": "team-photos"});
    let obj = bucket.clone();
    let info = BucketInfo {
        usage: Usage::default(),
        versioning: Some("Suspended".into()),
        acl: Some(r#"{"grants":[]}"#.into()),
        tags: None,
    };
    let admin = FakeAdmin { usage: Some(info), ..Default::default() };
    let (result, calls) = run(
        admin,
        |ctx| reconcile(parse::<Bucket>(&bucket), ctx),
        |mut api| async move {
            store_lookup(&mut api).await;
            api.expect("GET", &format!("/apis/bleepstore.io/v1alpha1/namespaces/{NS}/buckets"))
                .await
                .reply(200, list(vec![obj.clone()]));
            let note = api.expect_event(NS, "DriftCorrected").await;
            assert_eq!(
                note,
                "bucket team-photos was changed outside this resource: versioning was Suspended, set back to Enabled; \
                 the ACL was a list of grants, set back to private"
            );
            api.expect_status(&bucket_path("photos"), &obj).await;
            api
        },
    )
    .await;
    assert!(result.is_ok());
    assert_eq!(
        calls,
        [
            "bucket_info team-photos",
            "put_bucket team-photos owner=bleepstore-operator acl=private versioning=Enabled",
            "bucket_info team-photos"
        ]
    );
}

#[test]
fn drift_is_only_what_differs() {
    use bleepstore_operator::bucket::drift_message;
    let bucket = parse::<Bucket>(&bucket_json("photos", json!({"store": "demo", "acl": "public-read"})));
    let info = |acl: &str, versioning: Option<&str>| BucketInfo {
        usage: Usage::default(),
        versioning: versioning.map(Into::into),
        acl: Some(acl.into()),
        tags: None,
    };
    assert_eq!(drift_message(&bucket, "b", &info("public-read", None)), None, "versioning unset in the spec: ignored");
    assert_eq!(drift_message(&bucket, "b", &info("public-read", Some("Suspended"))), None);
    assert_eq!(
        drift_message(&bucket, "b", &info("private", None)).as_deref(),
        Some("bucket b was changed outside this resource: the ACL was private, set back to public-read")
    );
    let unknown = BucketInfo { usage: Usage::default(), versioning: None, acl: None, tags: None };
    assert_eq!(drift_message(&bucket, "b", &unknown), None, "a store that does not say its ACL");
    let tagged = parse::<Bucket>(&bucket_json("photos", json!({"store": "demo", "tags": {"team": "data"}})));
    let held = |tags: Option<&[(&str, &str)]>| BucketInfo {
        usage: Usage::default(),
        versioning: None,
        acl: Some("private".into()),
        tags: tags.map(|t| t.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
    };
    assert_eq!(drift_message(&tagged, "b", &held(Some(&[("team", "data")]))), None);
    assert_eq!(
        drift_message(&tagged, "b", &held(Some(&[("team", "ops"), ("x", "y")]))).as_deref(),
        Some("bucket b was changed outside this resource: its 2 tag(s) differed, set back to the 1 in the spec")
    );
    assert!(drift_message(&tagged, "b", &held(None)).is_some(), "tags removed outside");
    let mut untagged_spec = held(Some(&[("any", "thing")]));
    untagged_spec.acl = Some("public-read".into());
    assert_eq!(drift_message(&bucket, "b", &untagged_spec), None, "no tags in the spec: not compared");
}

//! Bucket operations through aws-sdk-s3, both addressing styles, with their error cases.

use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use crate::common::{code, status, TestServer};
use crate::raw::{self, Auth};

#[tokio::test]
async fn create_head_location_delete_in_both_styles() {
    let srv = TestServer::start().await;
    for (c, name) in [(srv.client(), "path-bucket"), (srv.vhost_client(), "vhost-bucket")] {
        c.create_bucket().bucket(name).send().await.unwrap();
        let head = c.head_bucket().bucket(name).send().await.unwrap();
        assert_eq!(head.bucket_region(), Some("us-east-1"));
        let loc = c.get_bucket_location().bucket(name).send().await.unwrap();
        // us-east-1 is the empty LocationConstraint element.
        assert!(loc.location_constraint().is_none_or(|l| l.as_str().is_empty()), "{loc:?}");
        c.put_object().bucket(name).key("k").body(b"x".to_vec().into()).send().await.unwrap();
        let err = c.delete_bucket().bucket(name).send().await.unwrap_err();
        assert_eq!(code(&err), "BucketNotEmpty");
        assert_eq!(status(&err), 409);
        c.delete_object().bucket(name).key("k").send().await.unwrap();
        c.delete_bucket().bucket(name).send().await.unwrap();
        let err = c.head_bucket().bucket(name).send().await.unwrap_err();
        assert_eq!(status(&err), 404);
        let err = c.delete_bucket().bucket(name).send().await.unwrap_err();
        assert_eq!(code(&err), "NoSuchBucket");
    }
}

#[tokio::test]
async fn create_twice_is_200_in_us_east_1_and_409_for_another_owner() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("mine").send().await.unwrap();
    c.create_bucket().bucket("mine").send().await.unwrap();
    srv.add_key("ALICEKEY", "alice-secret-key", "alice").await;
    let alice = srv.client_as("ALICEKEY", "alice-secret-key");
    let err = alice.create_bucket().bucket("mine").send().await.unwrap_err();
    assert_eq!(code(&err), "BucketAlreadyExists");
    assert_eq!(status(&err), 409);
    // Alice cannot see or touch the root's bucket, and lists only her own.
    let err = alice.head_bucket().bucket("mine").send().await.unwrap_err();
    assert_eq!(status(&err), 403);
    let err = alice.list_objects_v2().bucket("mine").send().await.unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    alice.create_bucket().bucket("alices").send().await.unwrap();
    let names: Vec<String> = alice
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(String::from))
        .collect();
    assert_eq!(names, ["alices"]);
    let all = c.list_buckets().send().await.unwrap();
    assert_eq!(all.buckets().len(), 2);
}

#[tokio::test]
async fn create_twice_outside_us_east_1_is_already_owned() {
    let srv = TestServer::start_with(|c| c.region = "eu-west-1".into()).await;
    let c = crate::common::client(&srv.endpoint(), crate::common::ACCESS_KEY, crate::common::SECRET_KEY, true);
    let c = aws_sdk_s3::Client::from_conf(
        c.config().to_builder().region(aws_sdk_s3::config::Region::new("eu-west-1")).build(),
    );
    let cfg = CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::EuWest1).build();
    c.create_bucket().bucket("eu-bucket").create_bucket_configuration(cfg.clone()).send().await.unwrap();
    let err = c.create_bucket().bucket("eu-bucket").create_bucket_configuration(cfg).send().await.unwrap_err();
    assert_eq!(code(&err), "BucketAlreadyOwnedByYou");
    let loc = c.get_bucket_location().bucket("eu-bucket").send().await.unwrap();
    assert_eq!(loc.location_constraint().map(|l| l.as_str()), Some("eu-west-1"));
    let head = c.head_bucket().bucket("eu-bucket").send().await.unwrap();
    assert_eq!(head.bucket_region(), Some("eu-west-1"));
    // A client signing for another region is told which one to use.
    let wrong = srv.client();
    let err = wrong.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&err), "AuthorizationHeaderMalformed");
}

#[tokio::test]
async fn location_constraint_and_malformed_configuration() {
    let srv = TestServer::start().await;
    let c = srv.client();
    let cfg = CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::ApSouth1).build();
    let err = c.create_bucket().bucket("wrong-region").create_bucket_configuration(cfg).send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidLocationConstraint");
    let body = b"<CreateBucketConfiguration><LocationConstraint>".to_vec();
    let sha = bleepstore::auth::sigv4::sha256_hex(&body);
    let r = raw::send(
        srv.addr,
        "PUT",
        "/badxml",
        &[],
        body,
        Auth::Sign {
            access_key: crate::common::ACCESS_KEY,
            secret: crate::common::SECRET_KEY,
            payload_hash: &sha,
            at: time::OffsetDateTime::now_utc(),
        },
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "MalformedXML"));
    assert!(c.head_bucket().bucket("badxml").send().await.is_err(), "nothing was created");
}

#[tokio::test]
async fn invalid_names_are_rejected() {
    let srv = TestServer::start().await;
    let c = srv.client();
    for name in ["ab", "Upper-Case", "under_score", "192.168.1.1", "xn--punycode", "double..dot", "ends-s3alias"] {
        let r = raw::send(
            srv.addr,
            "PUT",
            &format!("/{name}"),
            &[],
            vec![],
            Auth::root(bleepstore::auth::sigv4::EMPTY_SHA256),
        )
        .await;
        assert_eq!((r.status, r.code()), (400, "InvalidBucketName"), "{name}");
    }
    assert!(c.list_buckets().send().await.unwrap().buckets().is_empty());
}

#[tokio::test]
async fn list_buckets_pages_filters_and_owner() {
    let srv = TestServer::start().await;
    let c = srv.client();
    for i in 0..7 {
        c.create_bucket().bucket(format!("bucket-{i}")).send().await.unwrap();
    }
    c.create_bucket().bucket("other").send().await.unwrap();
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page =
            c.list_buckets().max_buckets(3).prefix("bucket-").set_continuation_token(token).send().await.unwrap();
        assert!(page.buckets().len() <= 3);
        assert_eq!(page.prefix(), Some("bucket-"));
        names.extend(page.buckets().iter().map(|b| b.name().unwrap().to_owned()));
        assert!(page.buckets().iter().all(|b| b.bucket_region() == Some("us-east-1")));
        token = page.continuation_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, (0..7).map(|i| format!("bucket-{i}")).collect::<Vec<_>>());
    let all = c.list_buckets().send().await.unwrap();
    assert_eq!(all.buckets().len(), 8);
    assert!(all.owner().and_then(|o| o.id()).is_some());
    let none = c.list_buckets().bucket_region("eu-west-1").send().await.unwrap();
    assert!(none.buckets().is_empty());
    let r =
        raw::send(srv.addr, "GET", "/?max-buckets=0", &[], vec![], Auth::root(bleepstore::auth::sigv4::EMPTY_SHA256))
            .await;
    assert_eq!((r.status, r.code()), (400, "InvalidArgument"));
    let r = raw::send(
        srv.addr,
        "GET",
        "/?continuation-token=%21%21",
        &[],
        vec![],
        Auth::root(bleepstore::auth::sigv4::EMPTY_SHA256),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "InvalidArgument"));
}

#[tokio::test]
async fn canned_acl_on_create_is_validated_and_enforced() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("public").acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead).send().await.unwrap();
    c.create_bucket().bucket("private").send().await.unwrap();
    let r = raw::send(srv.addr, "GET", "/public?list-type=2", &[], vec![], Auth::Anonymous).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = raw::send(srv.addr, "GET", "/private?list-type=2", &[], vec![], Auth::Anonymous).await;
    assert_eq!((r.status, r.code()), (403, "AccessDenied"));
    let r = raw::send(
        srv.addr,
        "PUT",
        "/bad-acl",
        &[("x-amz-acl", "everyone")],
        vec![],
        Auth::root(bleepstore::auth::sigv4::EMPTY_SHA256),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "InvalidArgument"));
    let r = raw::send(srv.addr, "GET", "/", &[], vec![], Auth::Anonymous).await;
    assert_eq!((r.status, r.code()), (403, "AccessDenied"));
}

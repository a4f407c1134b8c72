//! ACL operations (canned, header grants, AccessControlPolicy bodies) and per-key grants, all
//! enforced on the requests that follow.

use aws_sdk_s3::types::{
    AccessControlPolicy, BucketCannedAcl, Grant, Grantee, ObjectCannedAcl, Owner, Permission, Type,
};

use crate::common::{body_bytes, code, TestServer, ACCESS_KEY};
use crate::raw::{self, Auth};

const EMPTY: &str = bleepstore::auth::sigv4::EMPTY_SHA256;

#[tokio::test]
async fn bucket_acls_canned_headers_and_policy() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("acl").send().await.unwrap();
    let acl = c.get_bucket_acl().bucket("acl").send().await.unwrap();
    assert_eq!(acl.owner().and_then(|o| o.id()), Some(ACCESS_KEY));
    assert_eq!(acl.grants().len(), 1);
    assert_eq!(acl.grants()[0].permission(), Some(&Permission::FullControl));
    let anon_list = || raw::send(srv.addr, "GET", "/acl?list-type=2", &[], vec![], Auth::Anonymous);
    assert_eq!(anon_list().await.status, 403);

    c.put_bucket_acl().bucket("acl").acl(BucketCannedAcl::PublicRead).send().await.unwrap();
    assert_eq!(anon_list().await.status, 200);
    let acl = c.get_bucket_acl().bucket("acl").send().await.unwrap();
    assert!(acl
        .grants()
        .iter()
        .any(|g| g.grantee().and_then(|e| e.uri()) == Some("http://acs.amazonaws.com/groups/global/AllUsers")));

    c.put_bucket_acl().bucket("acl").acl(BucketCannedAcl::Private).send().await.unwrap();
    assert_eq!(anon_list().await.status, 403);
    c.put_bucket_acl()
        .bucket("acl")
        .grant_read("uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"")
        .send()
        .await
        .unwrap();
    assert_eq!(anon_list().await.status, 200);

    // An AccessControlPolicy body granting bob WRITE: bob can now put objects.
    srv.add_key("BOBKEY", "bob-secret-key", "bob").await;
    let bob = srv.client_as("BOBKEY", "bob-secret-key");
    assert_eq!(
        code(&bob.put_object().bucket("acl").key("b").body(b"x".to_vec().into()).send().await.unwrap_err()),
        "AccessDenied"
    );
    let policy = AccessControlPolicy::builder()
        .owner(Owner::builder().id(ACCESS_KEY).build())
        .grants(
            Grant::builder()
                .grantee(Grantee::builder().r#type(Type::CanonicalUser).id("bob").build().unwrap())
                .permission(Permission::Write)
                .build(),
        )
        .build();
    c.put_bucket_acl().bucket("acl").access_control_policy(policy).send().await.unwrap();
    bob.put_object().bucket("acl").key("b").body(b"x".to_vec().into()).send().await.unwrap();
    assert_eq!(anon_list().await.status, 403, "the policy replaced the earlier grants");

    let both = raw::send(
        srv.addr,
        "PUT",
        "/acl?acl",
        &[("x-amz-acl", "private"), ("x-amz-grant-read", "id=\"x\"")],
        vec![],
        Auth::root(EMPTY),
    )
    .await;
    assert_eq!((both.status, both.code()), (400, "InvalidRequest"));
    let bad = b"<AccessControlPolicy><Owner><ID>TESTROOTKEY</ID></Owner><AccessControlList><Grant><Grantee><ID>x</ID></Grantee><Permission>EVERYTHING</Permission></Grant></AccessControlList></AccessControlPolicy>".to_vec();
    let sha = bleepstore::auth::sigv4::sha256_hex(&bad);
    let r = raw::send(
        srv.addr,
        "PUT",
        "/acl?acl",
        &[],
        bad,
        Auth::Sign {
            access_key: ACCESS_KEY,
            secret: crate::common::SECRET_KEY,
            payload_hash: &sha,
            at: time::OffsetDateTime::now_utc(),
        },
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "MalformedACLError"));
    let r = raw::send(srv.addr, "PUT", "/acl?acl", &[("x-amz-acl", "public-read")], vec![], Auth::Anonymous).await;
    assert_eq!((r.status, r.code()), (403, "AccessDenied"));
}

#[tokio::test]
async fn object_acls_are_enforced() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("oacl").send().await.unwrap();
    c.put_object().bucket("oacl").key("doc").body(b"doc".to_vec().into()).send().await.unwrap();
    let anon_get = || raw::send(srv.addr, "GET", "/oacl/doc", &[], vec![], Auth::Anonymous);
    assert_eq!(anon_get().await.status, 403);
    c.put_object_acl().bucket("oacl").key("doc").acl(ObjectCannedAcl::PublicRead).send().await.unwrap();
    let r = anon_get().await;
    assert_eq!((r.status, r.body.as_str()), (200, "doc"));
    let acl = c.get_object_acl().bucket("oacl").key("doc").send().await.unwrap();
    assert!(acl.grants().iter().any(|g| g.permission() == Some(&Permission::Read)));
    c.put_object_acl().bucket("oacl").key("doc").acl(ObjectCannedAcl::Private).send().await.unwrap();
    assert_eq!(anon_get().await.status, 403);
    // x-amz-grant-* at PUT time.
    c.put_object()
        .bucket("oacl")
        .key("granted")
        .grant_read("uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"")
        .body(b"g".to_vec().into())
        .send()
        .await
        .unwrap();
    assert_eq!(raw::send(srv.addr, "GET", "/oacl/granted", &[], vec![], Auth::Anonymous).await.status, 200);
    let err = c.get_object_acl().bucket("oacl").key("missing").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");
    let r = raw::send(srv.addr, "GET", "/oacl/missing?acl", &[], vec![], Auth::Anonymous).await;
    assert_eq!((r.status, r.code()), (403, "AccessDenied"));
}

#[tokio::test]
async fn key_grants_read_write_owner() {
    let srv = TestServer::start().await;
    let c = srv.client();
    for b in ["granted", "other"] {
        c.create_bucket().bucket(b).send().await.unwrap();
    }
    c.put_object().bucket("granted").key("existing").body(b"e".to_vec().into()).send().await.unwrap();
    srv.add_key("APPKEY", "app-secret-key", "app").await;
    let app = srv.client_as("APPKEY", "app-secret-key");
    let db = &srv.state.db;

    // Read only: lists and reads; a write is refused and stores nothing.
    db.set_grant("APPKEY", "granted", bleepstore::meta::GRANT_READ).await.unwrap();
    assert_eq!(app.list_objects_v2().bucket("granted").send().await.unwrap().contents().len(), 1);
    assert_eq!(body_bytes(app.get_object().bucket("granted").key("existing").send().await.unwrap()).await, b"e");
    let err = app.put_object().bucket("granted").key("new").body(b"n".to_vec().into()).send().await.unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    assert!(c.head_object().bucket("granted").key("new").send().await.is_err());
    assert_eq!(code(&app.delete_object().bucket("granted").key("existing").send().await.unwrap_err()), "AccessDenied");
    let names: Vec<String> =
        app.list_buckets().send().await.unwrap().buckets().iter().map(|b| b.name().unwrap().to_owned()).collect();
    assert_eq!(names, ["granted"], "a key lists the buckets it is granted");
    assert_eq!(code(&app.list_objects_v2().bucket("other").send().await.unwrap_err()), "AccessDenied");

    // Write only: writes, but cannot list or read.
    db.set_grant("APPKEY", "granted", bleepstore::meta::GRANT_WRITE).await.unwrap();
    app.put_object().bucket("granted").key("new").body(b"n".to_vec().into()).send().await.unwrap();
    assert_eq!(code(&app.list_objects_v2().bucket("granted").send().await.unwrap_err()), "AccessDenied");
    assert_eq!(code(&app.get_object().bucket("granted").key("existing").send().await.unwrap_err()), "AccessDenied");
    // …except its own objects, which their writer may always read.
    app.get_object().bucket("granted").key("new").send().await.unwrap();

    // Owner: everything, including the bucket itself; revoked: nothing, at once.
    db.set_grant("APPKEY", "granted", bleepstore::meta::GRANT_OWNER).await.unwrap();
    app.get_bucket_acl().bucket("granted").send().await.unwrap();
    db.set_grant("APPKEY", "granted", 0).await.unwrap();
    assert_eq!(code(&app.list_objects_v2().bucket("granted").send().await.unwrap_err()), "AccessDenied");
}

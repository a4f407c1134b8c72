//! CopyObject (directives, conditions, self-copy, encoded sources) and DeleteObjects.

use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{Delete, MetadataDirective, ObjectIdentifier};

use crate::common::{body_bytes, code, data, status, TestServer};
use crate::raw::{self, Auth};

#[tokio::test]
async fn copy_with_copy_and_replace_directives() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("src").send().await.unwrap();
    c.create_bucket().bucket("dst").send().await.unwrap();
    let body = data(70_000, 9);
    let key = "dir/with space+plus/€";
    c.put_object()
        .bucket("src")
        .key(key)
        .body(body.clone().into())
        .content_type("text/x-src")
        .metadata("a", "1")
        .send()
        .await
        .unwrap();
    let source = format!("src/{}", urlencoding(key));
    let out = c.copy_object().bucket("dst").key("copy").copy_source(&source).send().await.unwrap();
    assert!(out.copy_object_result().unwrap().e_tag().is_some());
    let head = c.head_object().bucket("dst").key("copy").send().await.unwrap();
    assert_eq!(head.content_type(), Some("text/x-src"));
    assert_eq!(head.metadata().unwrap()["a"], "1");
    assert_eq!(body_bytes(c.get_object().bucket("dst").key("copy").send().await.unwrap()).await, body);
    c.copy_object()
        .bucket("dst")
        .key("replaced")
        .copy_source(format!("{source}?versionId=null"))
        .metadata_directive(MetadataDirective::Replace)
        .content_type("text/x-new")
        .metadata("b", "2")
        .send()
        .await
        .unwrap();
    let head = c.head_object().bucket("dst").key("replaced").send().await.unwrap();
    assert_eq!(head.content_type(), Some("text/x-new"));
    assert_eq!(head.metadata().unwrap().get("a"), None);
    assert_eq!(head.metadata().unwrap()["b"], "2");
}

fn urlencoding(s: &str) -> String {
    bleepstore::auth::sigv4::uri_encode(s.as_bytes(), true)
}

#[tokio::test]
async fn copy_onto_itself_needs_replace() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("self").send().await.unwrap();
    c.put_object().bucket("self").key("k").body(b"abc".to_vec().into()).metadata("v", "1").send().await.unwrap();
    let err = c.copy_object().bucket("self").key("k").copy_source("self/k").send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidRequest");
    c.copy_object()
        .bucket("self")
        .key("k")
        .copy_source("self/k")
        .metadata_directive(MetadataDirective::Replace)
        .metadata("v", "2")
        .send()
        .await
        .unwrap();
    let head = c.head_object().bucket("self").key("k").send().await.unwrap();
    assert_eq!(head.metadata().unwrap()["v"], "2");
    assert_eq!(body_bytes(c.get_object().bucket("self").key("k").send().await.unwrap()).await, b"abc");
}

#[tokio::test]
async fn copy_source_conditions_and_errors() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("ccc").send().await.unwrap();
    let etag = c
        .put_object()
        .bucket("ccc")
        .key("src")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_owned();
    let modified = c.head_object().bucket("ccc").key("src").send().await.unwrap().last_modified().unwrap().secs();
    let (before, after) = (DateTime::from_secs(modified - 60), DateTime::from_secs(modified + 60));
    c.copy_object().bucket("ccc").key("a").copy_source("ccc/src").copy_source_if_match(&etag).send().await.unwrap();
    c.copy_object()
        .bucket("ccc")
        .key("a")
        .copy_source("ccc/src")
        .copy_source_if_modified_since(before)
        .send()
        .await
        .unwrap();
    c.copy_object()
        .bucket("ccc")
        .key("a")
        .copy_source("ccc/src")
        .copy_source_if_unmodified_since(after)
        .send()
        .await
        .unwrap();
    c.copy_object()
        .bucket("ccc")
        .key("a")
        .copy_source("ccc/src")
        .copy_source_if_none_match("\"other\"")
        .send()
        .await
        .unwrap();
    let failing = [
        c.copy_object()
            .bucket("ccc")
            .key("b")
            .copy_source("ccc/src")
            .copy_source_if_match("\"other\"")
            .send()
            .await
            .unwrap_err(),
        c.copy_object()
            .bucket("ccc")
            .key("b")
            .copy_source("ccc/src")
            .copy_source_if_none_match(&etag)
            .send()
            .await
            .unwrap_err(),
        c.copy_object()
            .bucket("ccc")
            .key("b")
            .copy_source("ccc/src")
            .copy_source_if_modified_since(after)
            .send()
            .await
            .unwrap_err(),
        c.copy_object()
            .bucket("ccc")
            .key("b")
            .copy_source("ccc/src")
            .copy_source_if_unmodified_since(before)
            .send()
            .await
            .unwrap_err(),
    ];
    for err in &failing {
        assert_eq!((status(err), code(err).as_str()), (412, "PreconditionFailed"));
    }
    assert!(c.head_object().bucket("ccc").key("b").send().await.is_err(), "failed copies wrote nothing");
    let err = c.copy_object().bucket("ccc").key("b").copy_source("ccc/missing").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");
    let err = c.copy_object().bucket("ccc").key("b").copy_source("nobucket/src").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");
    let err = c
        .copy_object()
        .bucket("ccc")
        .key("b")
        .copy_source("ccc/src")
        .metadata_directive(MetadataDirective::from("MOVE"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");
    let r = raw::send(
        srv.addr,
        "PUT",
        "/ccc/b",
        &[("x-amz-copy-source", "justabucket")],
        vec![],
        Auth::root(bleepstore::auth::sigv4::EMPTY_SHA256),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "InvalidArgument"));
}

#[tokio::test]
async fn delete_objects_quiet_verbose_and_limits() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("del").send().await.unwrap();
    for i in 0..10 {
        c.put_object().bucket("del").key(format!("k{i}")).body(b"x".to_vec().into()).send().await.unwrap();
    }
    let ids = |range: std::ops::Range<i32>| -> Vec<ObjectIdentifier> {
        range.map(|i| ObjectIdentifier::builder().key(format!("k{i}")).build().unwrap()).collect()
    };
    let out = c
        .delete_objects()
        .bucket("del")
        .delete(Delete::builder().set_objects(Some(ids(0..5))).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 5);
    assert!(out.errors().is_empty());
    // Quiet mode reports only errors; missing keys count as deleted.
    let out = c
        .delete_objects()
        .bucket("del")
        .delete(Delete::builder().set_objects(Some(ids(3..10))).quiet(true).build().unwrap())
        .send()
        .await
        .unwrap();
    assert!(out.deleted().is_empty() && out.errors().is_empty());
    assert!(c.list_objects_v2().bucket("del").send().await.unwrap().contents().is_empty());
    let too_many: Vec<ObjectIdentifier> =
        (0..1001).map(|i| ObjectIdentifier::builder().key(format!("x{i}")).build().unwrap()).collect();
    let err = c
        .delete_objects()
        .bucket("del")
        .delete(Delete::builder().set_objects(Some(too_many)).build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "MalformedXML");
    let body = b"<Delete><Object><Key>a</Key></Object></Delete>".to_vec();
    let r = raw::send(srv.addr, "POST", "/del?delete", &[], body.clone(), Auth::root("UNSIGNED-PAYLOAD")).await;
    assert_eq!((r.status, r.code()), (400, "InvalidRequest"), "an integrity header is required");
    let r = raw::send(
        srv.addr,
        "POST",
        "/del?delete",
        &[("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")],
        body,
        Auth::root("UNSIGNED-PAYLOAD"),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "BadDigest"));
    let bad = b"<Delete><Object><Key>a</Key></Delete>".to_vec();
    let md5 = {
        use base64::Engine;
        use md5::Digest;
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&bad))
    };
    let r =
        raw::send(srv.addr, "POST", "/del?delete", &[("content-md5", &md5)], bad, Auth::root("UNSIGNED-PAYLOAD")).await;
    assert_eq!((r.status, r.code()), (400, "MalformedXML"));
    let long_key = "k".repeat(1025);
    let body =
        format!("<Delete><Object><Key>{long_key}</Key></Object><Object><Key>ok</Key></Object></Delete>").into_bytes();
    let md5 = {
        use base64::Engine;
        use md5::Digest;
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&body))
    };
    let r = raw::send(srv.addr, "POST", "/del?delete", &[("content-md5", &md5)], body, Auth::root("UNSIGNED-PAYLOAD"))
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("<Code>KeyTooLongError</Code>") && r.body.contains("<Deleted><Key>ok</Key></Deleted>"),
        "{}",
        r.body
    );
}

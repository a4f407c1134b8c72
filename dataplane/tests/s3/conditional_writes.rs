//! Conditional writes and deletes: If-Match / If-None-Match on PutObject, CopyObject and
//! CompleteMultipartUpload; If-Match, x-amz-if-match-last-modified-time and
//! x-amz-if-match-size on DeleteObject, and the same per entry of DeleteObjects.

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};

use crate::common::{code, status, TestServer};
use crate::raw::{self, Auth};

const EMPTY: &str = bleepstore::auth::sigv4::EMPTY_SHA256;

#[tokio::test]
async fn put_if_match_and_if_none_match() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("cond").send().await.unwrap();
    let put = || c.put_object().bucket("cond").key("k");

    let err = put().if_match("\"anything\"").body(b"v0".to_vec().into()).send().await.unwrap_err();
    assert_eq!((status(&err), code(&err)), (404, "NoSuchKey".to_owned()), "If-Match on an absent key");
    let v1 = put().if_none_match("*").body(b"v1".to_vec().into()).send().await.unwrap();
    let e1 = v1.e_tag().unwrap().to_owned();
    let err = put().if_none_match("*").body(b"v2".to_vec().into()).send().await.unwrap_err();
    assert_eq!((status(&err), code(&err)), (412, "PreconditionFailed".to_owned()));
    // If-None-Match with an ETag: refused while it matches, accepted once it does not.
    let err = put().if_none_match(&e1).body(b"v2".to_vec().into()).send().await.unwrap_err();
    assert_eq!(status(&err), 412);
    let err = put().if_match("\"0123\"").body(b"v2".to_vec().into()).send().await.unwrap_err();
    assert_eq!(status(&err), 412);
    let v2 = put().if_match(&e1).body(b"v2".to_vec().into()).send().await.unwrap();
    put().if_none_match(&e1).body(b"v3".to_vec().into()).send().await.unwrap();
    assert_ne!(v2.e_tag(), Some(e1.as_str()));
    let got = c.get_object().bucket("cond").key("k").send().await.unwrap();
    assert_eq!(crate::common::body_bytes(got).await, b"v3");

    // CopyObject's destination takes the same conditions.
    let err = c
        .copy_object()
        .bucket("cond")
        .key("k")
        .copy_source("cond/k")
        .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
        .if_none_match("*")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 412);
}

/// Concurrent creators with If-None-Match: * — exactly one wins.
#[tokio::test]
async fn if_none_match_is_atomic() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("race").send().await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.put_object().bucket("race").key("lock").if_none_match("*").body(vec![i; 8].into()).send().await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(e) => assert_eq!(status(&e), 412),
        }
    }
    assert_eq!(won, 1);
}

#[tokio::test]
async fn complete_multipart_upload_conditions() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("mpc").send().await.unwrap();
    let upload = || async {
        let id = c.create_multipart_upload().bucket("mpc").key("k").send().await.unwrap().upload_id.unwrap();
        let part = c
            .upload_part()
            .bucket("mpc")
            .key("k")
            .upload_id(&id)
            .part_number(1)
            .body(b"part".to_vec().into())
            .send()
            .await
            .unwrap();
        let done = CompletedMultipartUpload::builder()
            .parts(CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build())
            .build();
        (id, done)
    };
    let (id, done) = upload().await;
    let complete = |id: String, done: CompletedMultipartUpload| {
        c.complete_multipart_upload().bucket("mpc").key("k").upload_id(id).multipart_upload(done)
    };
    let err = complete(id.clone(), done.clone()).if_match("\"x\"").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");
    let first = complete(id, done).if_none_match("*").send().await.unwrap();
    let (id, done) = upload().await;
    let err = complete(id.clone(), done.clone()).if_none_match("*").send().await.unwrap_err();
    assert_eq!(status(&err), 412);
    let err = complete(id.clone(), done.clone()).if_match("\"nope\"").send().await.unwrap_err();
    assert_eq!(status(&err), 412);
    // A refused completion leaves the upload in place: it completes when the condition holds.
    complete(id, done).if_match(first.e_tag().unwrap()).send().await.unwrap();
}

#[tokio::test]
async fn conditional_deletes() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("del").send().await.unwrap();
    let put = c.put_object().bucket("del").key("k").body(b"seven b".to_vec().into()).send().await.unwrap();
    let etag = put.e_tag().unwrap().to_owned();
    let head = c.head_object().bucket("del").key("k").send().await.unwrap();
    let modified = head.last_modified().unwrap().fmt(aws_smithy_types::date_time::Format::HttpDate).unwrap();

    let err = c.delete_object().bucket("del").key("k").if_match("\"wrong\"").send().await.unwrap_err();
    assert_eq!((status(&err), code(&err)), (412, "PreconditionFailed".to_owned()));
    for (name, value) in
        [("x-amz-if-match-size", "8"), ("x-amz-if-match-last-modified-time", "Mon, 12 Oct 2009 17:50:30 GMT")]
    {
        let r = raw::send(srv.addr, "DELETE", "/del/k", &[(name, value)], vec![], Auth::root(EMPTY)).await;
        assert_eq!((r.status, r.code()), (412, "PreconditionFailed"), "{name}");
    }
    let r = raw::send(srv.addr, "DELETE", "/del/k", &[("x-amz-if-match-size", "big")], vec![], Auth::root(EMPTY)).await;
    assert_eq!((r.status, r.code()), (400, "InvalidArgument"));
    c.head_object().bucket("del").key("k").send().await.expect("no refused delete deleted");

    let r = raw::send(
        srv.addr,
        "DELETE",
        "/del/k",
        &[("if-match", &etag), ("x-amz-if-match-size", "7"), ("x-amz-if-match-last-modified-time", &modified)],
        vec![],
        Auth::root(EMPTY),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(c.head_object().bucket("del").key("k").send().await.is_err());
    // With nothing there: If-Match is 404, the size and time conditions delete nothing (204).
    let err = c.delete_object().bucket("del").key("k").if_match("*").send().await.unwrap_err();
    assert_eq!((status(&err), code(&err)), (404, "NoSuchKey".to_owned()));
    let r = raw::send(srv.addr, "DELETE", "/del/k", &[("x-amz-if-match-size", "7")], vec![], Auth::root(EMPTY)).await;
    assert_eq!(r.status, 204);
}

#[tokio::test]
async fn delete_objects_entry_conditions() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("many").send().await.unwrap();
    let mut etags = Vec::new();
    for k in ["a", "b", "c", "d"] {
        let out = c.put_object().bucket("many").key(k).body(k.as_bytes().to_vec().into()).send().await.unwrap();
        etags.push(out.e_tag().unwrap().to_owned());
    }
    let id = |k: &str| ObjectIdentifier::builder().key(k);
    let delete = Delete::builder()
        .objects(id("a").e_tag(&etags[0]).build().unwrap())
        .objects(id("b").e_tag("\"wrong\"").build().unwrap())
        .objects(id("c").size(1).build().unwrap())
        .objects(id("d").size(5).build().unwrap())
        .objects(id("missing").e_tag("\"x\"").build().unwrap())
        .build()
        .unwrap();
    let out = c.delete_objects().bucket("many").delete(delete).send().await.unwrap();
    let deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted, ["a", "c"]);
    let mut errors: Vec<(&str, &str)> = out.errors().iter().map(|e| (e.key().unwrap(), e.code().unwrap())).collect();
    errors.sort();
    assert_eq!(errors, [("b", "PreconditionFailed"), ("d", "PreconditionFailed"), ("missing", "NoSuchKey")]);
    for (k, present) in [("a", false), ("b", true), ("c", false), ("d", true)] {
        assert_eq!(c.head_object().bucket("many").key(k).send().await.is_ok(), present, "{k}");
    }
}

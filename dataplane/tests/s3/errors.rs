//! The error contract: the XML document, the request-id headers on every answer, auth
//! failures, unsupported operations, and malformed requests — each storing nothing.

use std::time::Duration;

use time::OffsetDateTime;

use crate::common::{code, TestServer, ACCESS_KEY, SECRET_KEY};
use crate::raw::{self, Auth};

const EMPTY: &str = bleepstore::auth::sigv4::EMPTY_SHA256;

#[tokio::test]
async fn every_answer_has_request_ids_and_errors_are_s3_documents() {
    let srv = TestServer::start().await;
    let ok = raw::send(srv.addr, "GET", "/", &[], vec![], Auth::root(EMPTY)).await;
    assert_eq!(ok.status, 200);
    let err = raw::send(srv.addr, "GET", "/no-such-bucket/key", &[], vec![], Auth::root(EMPTY)).await;
    for r in [&ok, &err] {
        assert_eq!(r.headers["x-amz-request-id"].len(), 16);
        assert!(!r.headers["x-amz-id-2"].is_empty());
    }
    assert_eq!(err.status, 404);
    assert!(
        err.body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code><Message>"),
        "{}",
        err.body
    );
    assert!(err.body.contains("<Resource>/no-such-bucket/key</Resource>"));
    let id = err.headers["x-amz-request-id"].to_str().unwrap();
    assert!(err.body.contains(&format!("<RequestId>{id}</RequestId>")));
    let head = raw::send(srv.addr, "HEAD", "/no-such-bucket", &[], vec![], Auth::root(EMPTY)).await;
    assert_eq!((head.status, head.body.as_str()), (404, ""));
}

#[tokio::test]
async fn unsupported_and_malformed_requests() {
    let srv = TestServer::start().await;
    srv.client().create_bucket().bucket("b1b").send().await.unwrap();
    let cases: [(&str, &str, u16, &str); 6] = [
        ("GET", "/b1b?policy", 501, "NotImplemented"),
        ("PUT", "/b1b?lifecycle", 501, "NotImplemented"),
        ("GET", "/b1b/k?torrent", 501, "NotImplemented"),
        ("POST", "/", 405, "MethodNotAllowed"),
        ("GET", "/b1b/%FF%FE", 400, "InvalidURI"),
        ("GET", "/b1b/k?versionId=3HL4kqtJlcpXroDTDmJ", 400, "InvalidArgument"),
    ];
    for (method, path, status, want) in cases {
        let r = raw::send(srv.addr, method, path, &[], vec![], Auth::root(EMPTY)).await;
        assert_eq!((r.status, r.code()), (status, want), "{method} {path}: {}", r.body);
    }
    let long = format!("/b1b/{}", "k".repeat(1025));
    let r = raw::send(srv.addr, "PUT", &long, &[], vec![], Auth::root(EMPTY)).await;
    assert_eq!((r.status, r.code()), (400, "KeyTooLongError"));
    // Versioning is reported as never enabled.
    let r = raw::send(srv.addr, "GET", "/b1b?versioning", &[], vec![], Auth::root(EMPTY)).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<VersioningConfiguration"));
    assert!(srv.client().list_objects_v2().bucket("b1b").send().await.unwrap().contents().is_empty());
}

#[tokio::test]
async fn authentication_failures() {
    let srv = TestServer::start().await;
    srv.client().create_bucket().bucket("auth").send().await.unwrap();
    srv.client().put_object().bucket("auth").key("private").body(b"secret".to_vec().into()).send().await.unwrap();
    let wrong_secret = srv.client_as(ACCESS_KEY, "not-the-secret");
    let err = wrong_secret.put_object().bucket("auth").key("x").body(b"x".to_vec().into()).send().await.unwrap_err();
    assert_eq!(code(&err), "SignatureDoesNotMatch");
    let unknown = srv.client_as("NOSUCHKEY", "whatever-secret");
    let err = unknown.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidAccessKeyId");
    srv.state.db.put_credential("DISABLEDKEY", "disabled-secret", "someone", false).await.unwrap();
    let err = srv.client_as("DISABLEDKEY", "disabled-secret").list_buckets().send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidAccessKeyId");
    let skewed = OffsetDateTime::now_utc() - Duration::from_secs(20 * 60);
    let r = raw::send(
        srv.addr,
        "GET",
        "/",
        &[],
        vec![],
        Auth::Sign { access_key: ACCESS_KEY, secret: SECRET_KEY, payload_hash: EMPTY, at: skewed },
    )
    .await;
    assert_eq!((r.status, r.code()), (403, "RequestTimeTooSkewed"));
    let r = raw::send(srv.addr, "GET", "/auth/private", &[], vec![], Auth::Anonymous).await;
    assert_eq!((r.status, r.code()), (403, "AccessDenied"));
    // Whether a key exists is not revealed to callers who may not list the bucket.
    let r = raw::send(srv.addr, "GET", "/auth/missing", &[], vec![], Auth::Anonymous).await;
    assert_eq!((r.status, r.code()), (403, "AccessDenied"));
    let r = raw::send(srv.addr, "PUT", "/auth/anon", &[], b"x".to_vec(), Auth::Anonymous).await;
    assert_eq!((r.status, r.code()), (403, "AccessDenied"));
    let r = raw::send(
        srv.addr,
        "GET",
        "/",
        &[("authorization", "AWS AKID:c2ln"), ("date", &httpdate::fmt_http_date(std::time::SystemTime::now()))],
        vec![],
        Auth::Anonymous,
    )
    .await;
    assert_eq!((r.status, r.code()), (403, "InvalidAccessKeyId"));
    let r = raw::send(srv.addr, "GET", "/", &[("authorization", "Bearer abc")], vec![], Auth::Anonymous).await;
    assert_eq!((r.status, r.code()), (400, "InvalidRequest"));
    let r =
        raw::send(srv.addr, "GET", "/", &[("authorization", "AWS4-HMAC-SHA256 Credential=x")], vec![], Auth::Anonymous)
            .await;
    assert_eq!((r.status, r.code()), (400, "AuthorizationHeaderMalformed"));
    let r =
        raw::send(srv.addr, "GET", "/auth/private?X-Amz-Algorithm=AWS4-HMAC-SHA256", &[], vec![], Auth::root(EMPTY))
            .await;
    assert_eq!((r.status, r.code()), (400, "InvalidArgument"), "header and query auth together");
    let listed = srv.client().list_objects_v2().bucket("auth").send().await.unwrap();
    assert_eq!(listed.contents().len(), 1, "no failed request stored anything");
}

#[tokio::test]
async fn presigned_urls_work_and_expire() {
    use aws_sdk_s3::presigning::PresigningConfig;
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("pre").send().await.unwrap();
    let cfg = PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let put = c.put_object().bucket("pre").key("a b+c").presigned(cfg.clone()).await.unwrap();
    let http = reqwest::Client::new();
    let mut req = http.put(put.uri()).body("presigned body");
    for (n, v) in put.headers() {
        req = req.header(n, v);
    }
    assert_eq!(req.send().await.unwrap().status(), 200);
    let get = c.get_object().bucket("pre").key("a b+c").presigned(cfg).await.unwrap();
    let resp = http.get(get.uri()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "presigned body");
    let tampered = get.uri().replace("a%20b", "a%20c");
    assert_eq!(http.get(&tampered).send().await.unwrap().status(), 403);
    let past = PresigningConfig::builder()
        .start_time(std::time::SystemTime::now() - Duration::from_secs(3600))
        .expires_in(Duration::from_secs(60))
        .build()
        .unwrap();
    let expired = c.get_object().bucket("pre").key("a b+c").presigned(past).await.unwrap();
    let resp = http.get(expired.uri()).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("Request has expired"));
}

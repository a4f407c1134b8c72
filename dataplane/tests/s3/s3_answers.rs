//! Answers exactly as S3 writes them, for features clients compare byte for byte: ACL grant
//! lists, user metadata beyond ASCII, Content-Encoding, the expected bucket owner, plain chunked
//! uploads, and virtual-hosted addressing under `localhost` with no configuration.

use aws_sdk_s3::types::{BucketCannedAcl, ObjectCannedAcl, Permission};
use bleepstore::config::Config;

use crate::common::{body_bytes, code, status, TestServer, ACCESS_KEY, SECRET_KEY};
use crate::raw::{self, Auth};

const EMPTY: &str = bleepstore::auth::sigv4::EMPTY_SHA256;
const UNSIGNED: &str = "UNSIGNED-PAYLOAD";

/// (grantee id or group URI, permission) of every grant, in order.
fn grants(list: &[aws_sdk_s3::types::Grant]) -> Vec<(String, String)> {
    list.iter()
        .map(|g| {
            let who = g.grantee().map(|e| {
                let id = e.id().map(|id| {
                    assert_eq!(e.display_name(), Some(id), "every user grant names its DisplayName");
                    id.to_owned()
                });
                id.or_else(|| e.uri().map(str::to_owned)).unwrap_or_default()
            });
            (who.unwrap_or_default(), g.permission().map(|p| p.as_str().to_owned()).unwrap_or_default())
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

#[tokio::test]
async fn acl_answers_as_s3_writes_them() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("acls").acl(BucketCannedAcl::PublicReadWrite).send().await.unwrap();
    let acl = c.get_bucket_acl().bucket("acls").send().await.unwrap();
    assert_eq!(grants(acl.grants()), pairs(&[(ACCESS_KEY, "FULL_CONTROL"), (ALL_USERS, "READ"), (ALL_USERS, "WRITE")]));
    // bob writes into alice's (root's) bucket with bucket-owner-full-control: both are named.
    srv.add_key("BOBKEY", "bob-secret-key", "bob").await;
    let bob = srv.client_as("BOBKEY", "bob-secret-key");
    for (canned, bucket_owner) in
        [(ObjectCannedAcl::BucketOwnerFullControl, "FULL_CONTROL"), (ObjectCannedAcl::BucketOwnerRead, "READ")]
    {
        let key = canned.as_str();
        bob.put_object().bucket("acls").key(key).acl(canned.clone()).body(b"x".to_vec().into()).send().await.unwrap();
        let acl = bob.get_object_acl().bucket("acls").key(key).send().await.unwrap();
        assert_eq!(acl.owner().and_then(|o| o.id()), Some("bob"));
        assert_eq!(grants(acl.grants()), pairs(&[("bob", "FULL_CONTROL"), (ACCESS_KEY, bucket_owner)]), "{key}");
    }
    // Grant headers: exactly one grant per grantee and permission, no implied owner grant.
    c.put_object_acl()
        .bucket("acls")
        .key("bucket-owner-read")
        .grant_read("id=\"bob\", id=\"bob\"")
        .grant_full_control(format!("id=\"{ACCESS_KEY}\""))
        .send()
        .await
        .unwrap();
    let acl = c.get_object_acl().bucket("acls").key("bucket-owner-read").send().await.unwrap();
    assert_eq!(grants(acl.grants()), pairs(&[("bob", "READ"), (ACCESS_KEY, "FULL_CONTROL")]));
    // A grant to a canonical id that does not exist is refused, on every path that takes one.
    let err = c.put_bucket_acl().bucket("acls").grant_read("id=\"nobody-at-all\"").send().await.unwrap_err();
    assert_eq!((status(&err), code(&err)), (400, "InvalidArgument".to_owned()));
    let err = c
        .put_object()
        .bucket("acls")
        .key("g")
        .grant_read("id=\"nobody-at-all\"")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");
    assert!(c.head_object().bucket("acls").key("g").send().await.is_err(), "nothing stored");
    // Revoking every grant leaves an empty list; the owner still controls the bucket.
    let empty = format!(
        "<AccessControlPolicy><Owner><ID>{ACCESS_KEY}</ID></Owner>\
         <AccessControlList></AccessControlList></AccessControlPolicy>"
    );
    let r = raw::send(srv.addr, "PUT", "/acls?acl", &[], empty.into_bytes(), Auth::root(UNSIGNED)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let acl = c.get_bucket_acl().bucket("acls").send().await.unwrap();
    assert!(acl.grants().is_empty(), "{:?}", acl.grants());
    c.put_bucket_acl().bucket("acls").acl(BucketCannedAcl::Private).send().await.unwrap();
    let acl = c.get_bucket_acl().bucket("acls").send().await.unwrap();
    assert_eq!(acl.grants().len(), 1);
    assert_eq!(acl.grants()[0].permission(), Some(&Permission::FullControl));
}

/// Metadata values go back byte for byte: UTF-8 as most clients send it, and Latin-1 as
/// Python's `http.client` sends it (botocore signs such a value as the text it stands for).
#[tokio::test]
async fn metadata_and_content_encoding_round_trip() {
    let srv = TestServer::start().await;
    srv.client().create_bucket().bucket("meta").send().await.unwrap();
    let http = reqwest::Client::new();
    let signed = |path: &str, method: &str, extra: &[(&str, &str)]| {
        let mut all: Vec<(String, String)> = extra.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
        let hash = if method == "PUT" { UNSIGNED } else { EMPTY };
        raw::sign(srv.addr, method, path, &mut all, (ACCESS_KEY, SECRET_KEY), hash, time::OffsetDateTime::now_utc());
        all
    };
    let all = signed(
        "/meta/k",
        "PUT",
        &[("content-encoding", "deflate, gzip"), ("x-amz-meta-utf8", "café – ☃"), ("x-amz-meta-latin1", "café")],
    );
    let mut req = http.put(format!("http://{}/meta/k", srv.addr)).body("x");
    for (n, v) in &all {
        let bytes: Vec<u8> = if n == "x-amz-meta-latin1" {
            v.chars().map(|c| u8::try_from(u32::from(c)).unwrap()).collect()
        } else {
            v.as_bytes().to_vec()
        };
        req = req.header(n.as_str(), reqwest::header::HeaderValue::from_bytes(&bytes).unwrap());
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let r = raw::send_raw(srv.addr, "HEAD", "/meta/k", &signed("/meta/k", "HEAD", &[]), vec![]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["x-amz-meta-utf8"].as_bytes(), "café – ☃".as_bytes());
    assert_eq!(r.headers["x-amz-meta-latin1"].as_bytes(), b"caf\xe9");
    assert_eq!(r.headers["content-encoding"], "deflate, gzip", "stored exactly as sent");
}

#[tokio::test]
async fn expected_bucket_owner() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("owned").send().await.unwrap();
    c.create_bucket().bucket("dest").send().await.unwrap();
    c.put_object().bucket("owned").key("k").body(b"x".to_vec().into()).send().await.unwrap();
    c.head_bucket().bucket("owned").expected_bucket_owner(ACCESS_KEY).send().await.unwrap();
    c.get_object().bucket("owned").key("k").expected_bucket_owner(ACCESS_KEY).send().await.unwrap();
    let err = c.head_bucket().bucket("owned").expected_bucket_owner("111122223333").send().await.unwrap_err();
    assert_eq!(status(&err), 403);
    let err = c.get_object().bucket("owned").key("k").expected_bucket_owner("111122223333").send().await.unwrap_err();
    assert_eq!((status(&err), code(&err)), (403, "AccessDenied".to_owned()));
    let err = c
        .put_object()
        .bucket("owned")
        .key("k2")
        .expected_bucket_owner("111122223333")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    let err = c.list_objects_v2().bucket("owned").expected_bucket_owner("other").send().await.unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    // A copy checks the source's owner with its own header.
    let err = c
        .copy_object()
        .bucket("dest")
        .key("k")
        .copy_source("owned/k")
        .expected_source_bucket_owner("111122223333")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    c.copy_object()
        .bucket("dest")
        .key("k")
        .copy_source("owned/k")
        .expected_source_bucket_owner(ACCESS_KEY)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn plain_chunked_uploads_stream() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("chunk").send().await.unwrap();
    // reqwest sends a streamed body with Transfer-Encoding: chunked and no Content-Length.
    for (key, len) in [("small", 100usize), ("large", 3 << 20)] {
        let body = crate::common::data(len, len as u64);
        let path = format!("/chunk/{key}");
        let mut all = Vec::new();
        raw::sign(
            srv.addr,
            "PUT",
            &path,
            &mut all,
            (ACCESS_KEY, SECRET_KEY),
            UNSIGNED,
            time::OffsetDateTime::now_utc(),
        );
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
        let mut req = reqwest::Client::new()
            .put(format!("http://{}{path}", srv.addr))
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)));
        for (n, v) in &all {
            req = req.header(n.as_str(), v.as_str());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200, "{key}: {}", resp.text().await.unwrap());
        let got = c.get_object().bucket("chunk").key(key).send().await.unwrap();
        assert_eq!(body_bytes(got).await, body, "{key}");
    }
}

#[tokio::test]
async fn virtual_hosted_style_under_localhost_by_default() {
    let srv = TestServer::start_with(|c| c.virtual_host_domains = Config::default().virtual_host_domains).await;
    let vhost = crate::common::client(&format!("http://localhost:{}", srv.addr.port()), ACCESS_KEY, SECRET_KEY, false);
    vhost.create_bucket().bucket("vhost").send().await.unwrap();
    vhost.put_object().bucket("vhost").key("a/b").body(b"hosted".to_vec().into()).send().await.unwrap();
    let got = srv.client().get_object().bucket("vhost").key("a/b").send().await.unwrap();
    assert_eq!(body_bytes(got).await, b"hosted");
    let listed = vhost.list_objects_v2().bucket("vhost").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(1));
}

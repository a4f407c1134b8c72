//! Limits that protect the server: object size, missing length, stalled bodies, slow headers.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{code, TestServer};
use crate::raw::{self, Auth};

#[tokio::test]
async fn oversize_bodies_are_refused_while_streaming() {
    let srv = TestServer::start_with(|c| c.limits.max_object_size = 1000).await;
    let c = srv.client();
    c.create_bucket().bucket("lim").send().await.unwrap();
    let err = c.put_object().bucket("lim").key("big").body(vec![0u8; 1001].into()).send().await.unwrap_err();
    assert_eq!(code(&err), "EntityTooLarge");
    c.put_object().bucket("lim").key("ok").body(vec![0u8; 1000].into()).send().await.unwrap();
    // Without a declared length (HTTP chunked transfer), the limit is enforced as bytes arrive.
    let r = raw::send(
        srv.addr,
        "PUT",
        "/lim/chunked",
        &[("transfer-encoding", "chunked")],
        vec![1u8; 5000],
        Auth::root("UNSIGNED-PAYLOAD"),
    )
    .await;
    assert_eq!((r.status, r.code()), (411, "MissingContentLength"));
    assert_eq!(srv.temp_files(), 0);
    assert!(c.head_object().bucket("lim").key("big").send().await.is_err());
}

async fn raw_tcp(addr: std::net::SocketAddr, request: &[u8]) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    s
}

#[tokio::test]
async fn stalled_body_gets_request_timeout_and_frees_its_temp_file() {
    let srv = TestServer::start_with(|c| c.limits.body_idle_timeout_secs = 1).await;
    let c = srv.client();
    c.create_bucket().bucket("slow").acl(aws_sdk_s3::types::BucketCannedAcl::PublicReadWrite).send().await.unwrap();
    let mut s =
        raw_tcp(srv.addr, b"PUT /slow/stall HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b").await;
    let mut answer = Vec::new();
    // The server answers and closes on its own; the read ends when it does.
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut answer)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("<Code>RequestTimeout</Code>"), "{text}");
    assert_eq!(srv.temp_files(), 0);
    assert!(c.head_object().bucket("slow").key("stall").send().await.is_err());
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    let srv = TestServer::start_with(|c| c.limits.header_read_timeout_secs = 1).await;
    let mut s = raw_tcp(srv.addr, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
    let mut answer = Vec::new();
    // The server closes the connection on its own: the read ends (EOF or reset) well before 30 s.
    let closed = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut answer)).await;
    assert!(closed.is_ok(), "the server kept a connection with unfinished headers open");
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"));
}

#[tokio::test]
async fn silent_connections_are_cut_off_too() {
    let srv = TestServer::start_with(|c| c.limits.header_read_timeout_secs = 1).await;
    let mut s = raw_tcp(srv.addr, b"").await;
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut answer)).await;
    assert!(closed.is_ok(), "a connection that never sends a byte must not hold a slot forever");
}

#[tokio::test]
async fn connections_beyond_the_bound_wait_instead_of_failing() {
    let srv = TestServer::start_with(|c| c.limits.max_connections = 1).await;
    // One idle keep-alive connection holds the only slot.
    let hog = raw_tcp(srv.addr, b"").await;
    let c = srv.client();
    let mut waiting = tokio::spawn(async move { c.list_buckets().send().await.map(|_| ()) });
    // While the slot is held the request waits in the listen backlog (a bounded negative check);
    // once the hog goes away it is served normally.
    assert!(tokio::time::timeout(Duration::from_millis(300), &mut waiting).await.is_err());
    drop(hog);
    waiting.await.unwrap().unwrap();
}

#[tokio::test]
async fn public_read_write_bucket_takes_anonymous_writes_and_reads() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("open").acl(aws_sdk_s3::types::BucketCannedAcl::PublicReadWrite).send().await.unwrap();
    let r = raw::send(srv.addr, "PUT", "/open/anon", &[("x-amz-acl", "public-read")], b"hi".to_vec(), Auth::Anonymous)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = raw::send(srv.addr, "GET", "/open/anon", &[], vec![], Auth::Anonymous).await;
    assert_eq!((r.status, r.body.as_str()), (200, "hi"));
    c.put_object().bucket("open").key("private").body(b"p".to_vec().into()).send().await.unwrap();
    let r = raw::send(srv.addr, "GET", "/open/private", &[], vec![], Auth::Anonymous).await;
    assert_eq!((r.status, r.code()), (403, "AccessDenied"));
    // The bucket is listable, so a missing key is an honest 404.
    let r = raw::send(srv.addr, "GET", "/open/missing", &[], vec![], Auth::Anonymous).await;
    assert_eq!((r.status, r.code()), (404, "NoSuchKey"));
    let r =
        raw::send(srv.addr, "GET", "/open/anon?response-content-type=text%2Fhtml", &[], vec![], Auth::Anonymous).await;
    assert_eq!((r.status, r.code()), (400, "InvalidRequest"));
    // Another signed user reads public objects too (AllUsers includes them), but not private ones.
    srv.add_key("BOBKEY", "bob-secret-key", "bob").await;
    let bob = srv.client_as("BOBKEY", "bob-secret-key");
    let got = bob.get_object().bucket("open").key("anon").send().await.unwrap();
    assert_eq!(crate::common::body_bytes(got).await, b"hi");
    let err = bob.get_object().bucket("open").key("private").send().await.unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    c.put_object()
        .bucket("open")
        .key("authread")
        .acl(aws_sdk_s3::types::ObjectCannedAcl::AuthenticatedRead)
        .body(b"a".to_vec().into())
        .send()
        .await
        .unwrap();
    bob.get_object().bucket("open").key("authread").send().await.unwrap();
    let r = raw::send(srv.addr, "GET", "/open/authread", &[], vec![], Auth::Anonymous).await;
    assert_eq!((r.status, r.code()), (403, "AccessDenied"));
}

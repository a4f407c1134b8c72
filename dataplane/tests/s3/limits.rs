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
    // Without a declared length (plain HTTP chunked transfer), the limit holds as bytes arrive.
    let r = raw::send(
        srv.addr,
        "PUT",
        "/lim/chunked",
        &[("transfer-encoding", "chunked")],
        vec![1u8; 5000],
        Auth::root("UNSIGNED-PAYLOAD"),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "EntityTooLarge"));
    assert_eq!(srv.temp_files(), 0);
    assert!(c.head_object().bucket("lim").key("chunked").send().await.is_err());
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

/// Reads what the server sends until it closes the connection (bounded: it must close).
async fn answer_of(mut s: tokio::net::TcpStream) -> String {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server did not close the connection");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn oversized_and_too_many_headers_get_431() {
    let srv = TestServer::start().await;
    // One header past hyper's ~400 KiB head buffer.
    let big = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(500 << 10));
    let answer = answer_of(raw_tcp(srv.addr, big.as_bytes()).await).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // More than 100 header fields.
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let req = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    let answer = answer_of(raw_tcp(srv.addr, req.as_bytes()).await).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    srv.client().list_buckets().send().await.unwrap();
}

#[tokio::test]
async fn an_xml_body_past_its_limit_is_refused() {
    let srv = TestServer::start_with(|c| c.limits.max_xml_body = 4096).await;
    let c = srv.client();
    c.create_bucket().bucket("xml").send().await.unwrap();
    let keys: String = (0..200).map(|i| format!("<Object><Key>key-{i:04}</Key></Object>")).collect();
    let body = format!("<Delete>{keys}</Delete>").into_bytes();
    let md5 =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, <md5::Md5 as md5::Digest>::digest(&body));
    let r = raw::send(srv.addr, "POST", "/xml?delete", &[("content-md5", &md5)], body, Auth::root("UNSIGNED-PAYLOAD"))
        .await;
    assert_eq!((r.status, r.code()), (400, "EntityTooLarge"));
    c.put_object().bucket("xml").key("still").body(b"fine".to_vec().into()).send().await.unwrap();
}

/// Slow-loris: connections that never finish their headers cannot pin every slot, and an upload
/// that stalls mid-body holds no lock: writes to the same key, and every other write, go on
/// while it waits, and it ends with RequestTimeout.
#[tokio::test]
async fn slow_clients_pin_no_slot_and_no_lock() {
    let srv = TestServer::start_with(|c| {
        c.limits.max_connections = 4;
        c.limits.header_read_timeout_secs = 1;
        c.limits.body_idle_timeout_secs = 3;
    })
    .await;
    let c = srv.client();
    c.create_bucket().bucket("loris").acl(aws_sdk_s3::types::BucketCannedAcl::PublicReadWrite).send().await.unwrap();
    // Four connections that trickle half a header take every slot; the header timeout frees
    // them, so a real client waiting behind them is served.
    let mut lorises = Vec::new();
    for _ in 0..4 {
        lorises.push(raw_tcp(srv.addr, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ").await);
    }
    tokio::time::timeout(Duration::from_secs(30), c.list_buckets().send())
        .await
        .expect("slow headers held the connection slots")
        .unwrap();
    drop(lorises);
    // An upload stalls after 10 of 100 bytes.
    let stalled = raw_tcp(srv.addr, b"PUT /loris/k HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b").await;
    c.put_object().bucket("loris").key("k").body(b"first".to_vec().into()).send().await.unwrap();
    c.put_object().bucket("loris").key("other").body(vec![1u8; 100_000].into()).send().await.unwrap();
    c.delete_object().bucket("loris").key("other").send().await.unwrap();
    c.create_bucket().bucket("loris2").send().await.unwrap();
    // All of that was answered while the stalled upload still waits for its body.
    let mut probe = [0u8; 1];
    assert!(
        matches!(stalled.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the stalled upload was answered before the other writes"
    );
    let answer = answer_of(stalled).await;
    assert!(answer.contains("<Code>RequestTimeout</Code>"), "{answer}");
    assert_eq!(srv.temp_files(), 0);
    let got = c.get_object().bucket("loris").key("k").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"first");
}

/// A flood of bad signatures (unknown keys, wrong secrets, skewed clocks) from
/// many connections: each gets its own 403 code, and a valid client working through the flood
/// is never refused. The signing-key cache only holds keys of existing credentials for the
/// server's own region and the dates the clock allows, so the flood cannot evict or poison it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bad_signature_flood_refuses_only_the_flood() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("flood").send().await.unwrap();
    let addr = srv.addr;
    let mut flood = Vec::new();
    for t in 0..16u32 {
        flood.push(tokio::spawn(async move {
            let mut codes = std::collections::BTreeMap::<String, usize>::new();
            for i in 0..60u32 {
                let now = time::OffsetDateTime::now_utc();
                let (key, secret, at) = match (t + i) % 3 {
                    0 => (format!("NOSUCHKEY{t}X{i}"), "whatever-secret-000000", now),
                    1 => (crate::common::ACCESS_KEY.to_owned(), "not-the-right-secret-00", now),
                    _ => (
                        crate::common::ACCESS_KEY.to_owned(),
                        crate::common::SECRET_KEY,
                        now - time::Duration::hours(2),
                    ),
                };
                let auth = Auth::Sign { access_key: &key, secret, payload_hash: "UNSIGNED-PAYLOAD", at };
                let r = raw::send(addr, "GET", "/flood/x", &[], Vec::new(), auth).await;
                assert_eq!(r.status, 403);
                *codes.entry(r.code().to_owned()).or_default() += 1;
            }
            codes
        }));
    }
    let body = vec![5u8; 4096];
    for i in 0..100 {
        c.put_object().bucket("flood").key(format!("v{i}")).body(body.clone().into()).send().await.unwrap();
        let got = c.get_object().bucket("flood").key(format!("v{i}")).send().await.unwrap();
        assert_eq!(got.body.collect().await.unwrap().into_bytes().len(), 4096);
    }
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for f in flood {
        for (code, n) in f.await.unwrap() {
            *codes.entry(code).or_default() += n;
        }
    }
    assert_eq!(
        codes.keys().map(String::as_str).collect::<Vec<_>>(),
        ["InvalidAccessKeyId", "RequestTimeTooSkewed", "SignatureDoesNotMatch"]
    );
    assert_eq!(codes.values().sum::<usize>(), 16 * 60);
    c.list_objects_v2().bucket("flood").send().await.unwrap();
}

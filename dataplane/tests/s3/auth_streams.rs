//! Hand-built aws-chunked bodies: correct ones store exactly the decoded bytes; a tampered
//! chunk, a tampered trailer checksum, a bad trailer signature or broken framing each get
//! their documented error and store nothing.

use crate::common::{body_bytes, TestServer, ACCESS_KEY, SECRET_KEY};
use crate::raw::{self, RawResponse};

async fn put_chunked(
    srv: &TestServer,
    key: &str,
    mode: &str,
    extra: &[(&str, &str)],
    decoded_len: usize,
    build: impl FnOnce(&raw::Signed) -> Vec<u8>,
) -> RawResponse {
    let path = format!("/streams/{key}");
    let mut headers: Vec<(String, String)> = vec![
        ("content-encoding".into(), "aws-chunked".into()),
        ("x-amz-decoded-content-length".into(), decoded_len.to_string()),
    ];
    headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    let signed = raw::sign(
        srv.addr,
        "PUT",
        &path,
        &mut headers,
        (ACCESS_KEY, SECRET_KEY),
        mode,
        time::OffsetDateTime::now_utc(),
    );
    let body = build(&signed);
    raw::send_raw(srv.addr, "PUT", &path, &headers, body).await
}

#[tokio::test]
async fn signed_chunks_and_trailers() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("streams").send().await.unwrap();
    let (a, b) = (vec![b'a'; 70_000], vec![b'b'; 1234]);
    let whole = [a.clone(), b.clone()].concat();

    let r = put_chunked(&srv, "ok", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", &[], whole.len(), |s| {
        s.chunked_body(&[&a, &b], None)
    })
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(body_bytes(c.get_object().bucket("streams").key("ok").send().await.unwrap()).await, whole);

    // One flipped byte in the data breaks that chunk's signature.
    let r = put_chunked(&srv, "tampered", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", &[], whole.len(), |s| {
        let mut body = s.chunked_body(&[&a, &b], None);
        body[500] ^= 1;
        body
    })
    .await;
    assert_eq!((r.status, r.code()), (403, "SignatureDoesNotMatch"));

    // A signed trailer carrying the checksum.
    let crc = {
        let mut h = bleepstore::checksum::ChecksumHasher::new(bleepstore::checksum::ChecksumAlgorithm::Crc32);
        h.update(&whole);
        h.finish()
    };
    let trailer = format!("x-amz-checksum-crc32:{crc}");
    let extra = [("x-amz-trailer", "x-amz-checksum-crc32")];
    let r = put_chunked(&srv, "trailer-ok", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", &extra, whole.len(), |s| {
        s.chunked_body(&[&a, &b], Some(&trailer))
    })
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let got = c
        .get_object()
        .bucket("streams")
        .key("trailer-ok")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(got.checksum_crc32(), Some(crc.as_str()));
    // The trailer signature covers the trailer: changing the checksum after signing fails.
    let r = put_chunked(&srv, "trailer-sig", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", &extra, whole.len(), |s| {
        let body = s.chunked_body(&[&a, &b], Some(&trailer));
        String::from_utf8_lossy(&body).replace(&crc, "AAAAAA==").into_bytes()
    })
    .await;
    assert_eq!((r.status, r.code()), (403, "SignatureDoesNotMatch"));
    // A correctly signed trailer with the wrong checksum is a bad digest.
    let wrong = "x-amz-checksum-crc32:AAAAAA==".to_owned();
    let r = put_chunked(&srv, "trailer-crc", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", &extra, whole.len(), |s| {
        s.chunked_body(&[&a, &b], Some(&wrong))
    })
    .await;
    assert_eq!((r.status, r.code()), (400, "BadDigest"));
    let listed: Vec<String> = c
        .list_objects_v2()
        .bucket("streams")
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .map(|o| o.key().unwrap().to_owned())
        .collect();
    assert_eq!(listed, ["ok", "trailer-ok"], "failed uploads stored nothing");
    assert_eq!(srv.temp_files(), 0);
}

#[tokio::test]
async fn unsigned_trailers_and_broken_framing() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("streams").send().await.unwrap();
    let extra = [("x-amz-trailer", "x-amz-checksum-crc32")];
    let mode = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
    let r = put_chunked(&srv, "u-ok", mode, &extra, 11, |_| {
        b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n".to_vec()
    })
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(body_bytes(c.get_object().bucket("streams").key("u-ok").send().await.unwrap()).await, b"hello world");
    let cases: [(&str, &[u8], u16, &str); 5] = [
        ("u-crc", b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", 400, "BadDigest"),
        ("u-framing", b"5\r\nhelloXX6\r\n world\r\n0\r\n\r\n", 400, "InvalidRequest"),
        ("u-size", b"zz\r\nhello\r\n0\r\n\r\n", 400, "InvalidRequest"),
        ("u-short", b"5\r\nhello\r\n6\r\n wor", 400, "IncompleteBody"),
        ("u-notrailer", b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 400, "InvalidRequest"),
    ];
    for (key, body, status, code) in cases {
        let r = put_chunked(&srv, key, mode, &extra, 11, |_| body.to_vec()).await;
        assert_eq!((r.status, r.code()), (status, code), "{key}: {}", r.body);
    }
    // Declared length and framing disagree.
    let r = put_chunked(&srv, "u-len", mode, &extra, 12, |_| {
        b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n".to_vec()
    })
    .await;
    assert_eq!((r.status, r.code()), (400, "IncompleteBody"));
    let listed = c.list_objects_v2().bucket("streams").send().await.unwrap();
    assert_eq!(listed.contents().len(), 1, "only the good upload is stored");
    assert_eq!(srv.temp_files(), 0);
}

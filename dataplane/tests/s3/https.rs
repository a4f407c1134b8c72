//! The same SDK over HTTPS, where current SDKs send aws-chunked bodies with trailing checksums:
//! uploads from streams and from bytes read back byte-identical, checksums included, and
//! presigned URLs work through a plain HTTP client.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumMode;
use futures_util::StreamExt;

use crate::common::{body_bytes, data, TestServer};

fn streaming_body(bytes: &[u8]) -> ByteStream {
    // A body of unknown-to-the-SDK chunks: the SDK frames it as aws-chunked.
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> =
        bytes.chunks(100_000).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect();
    let stream = futures_util::stream::iter(chunks).map(|r| r.map(http_body::Frame::data));
    ByteStream::new(aws_smithy_types::body::SdkBody::from_body_1_x(http_body_util::StreamBody::new(stream)))
}

#[tokio::test]
async fn sdk_uploads_over_https_read_back_identical() {
    let srv = TestServer::start_tls().await;
    let c = srv.client();
    c.create_bucket().bucket("tls").send().await.unwrap();
    for (i, size) in [0usize, 1, 65_536, 1_000_003, 9_000_000].into_iter().enumerate() {
        let body = data(size, i as u64);
        let from_bytes = format!("bytes-{size}");
        let put = c.put_object().bucket("tls").key(&from_bytes).body(body.clone().into()).send().await.unwrap();
        let from_stream = format!("stream-{size}");
        c.put_object()
            .bucket("tls")
            .key(&from_stream)
            .content_length(size as i64)
            .body(streaming_body(&body))
            .send()
            .await
            .unwrap();
        for key in [&from_bytes, &from_stream] {
            let got = c.get_object().bucket("tls").key(key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
            if key == &from_bytes {
                assert_eq!(
                    got.checksum_crc32().or(got.checksum_crc64_nvme()),
                    put.checksum_crc32().or(put.checksum_crc64_nvme())
                );
            }
            assert_eq!(body_bytes(got).await, body, "{key}");
        }
    }
    // Virtual-hosted style over TLS, with a wildcard certificate.
    let v = srv.vhost_client();
    v.put_object().bucket("tls").key("vhost").body(b"via vhost".to_vec().into()).send().await.unwrap();
    assert_eq!(body_bytes(v.get_object().bucket("tls").key("vhost").send().await.unwrap()).await, b"via vhost");
    assert_eq!(srv.temp_files(), 0);
}

#[tokio::test]
async fn presigned_get_and_put_over_https() {
    let srv = TestServer::start_tls().await;
    let c = srv.client();
    c.create_bucket().bucket("tlspre").send().await.unwrap();
    let cfg = PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let put = c.put_object().bucket("tlspre").key("p").presigned(cfg.clone()).await.unwrap();
    let http = srv.http();
    let mut req = http.put(put.uri()).body(data(50_000, 9));
    for (n, v) in put.headers() {
        req = req.header(n, v);
    }
    assert_eq!(req.send().await.unwrap().status(), 200);
    let get = c.get_object().bucket("tlspre").key("p").presigned(cfg).await.unwrap();
    let resp = http.get(get.uri()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().to_vec(), data(50_000, 9));
}

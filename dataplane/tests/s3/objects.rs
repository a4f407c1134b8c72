//! Object reads and writes through aws-sdk-s3 (default checksum settings), in both addressing
//! styles, with awkward keys, ranges, conditions and every error they can provoke.

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::ChecksumMode;

use crate::common::{body_bytes, code, data, md5_hex, status, TestServer};
use crate::raw::{self, Auth};

pub(crate) const AWKWARD_KEYS: [&str; 10] = [
    "plain",
    "dir/sub/file.txt",
    "with space",
    "plus+sign",
    "percent%20literal",
    "unicode/€uro/日本語/\u{1F600}",
    "trailing/",
    "/leading-slash",
    "odd!$&'()*,;=:@chars",
    "tilde~and?question#hash",
];

#[tokio::test]
async fn put_get_head_delete_awkward_keys_both_styles() {
    let srv = TestServer::start().await;
    srv.client().create_bucket().bucket("keys").send().await.unwrap();
    for (style, c) in [("path", srv.client()), ("vhost", srv.vhost_client())] {
        for (i, key) in AWKWARD_KEYS.iter().enumerate() {
            let body = data(1000 + i, i as u64);
            let put = c.put_object().bucket("keys").key(*key).body(body.clone().into()).send().await.unwrap();
            assert_eq!(put.e_tag(), Some(format!("\"{}\"", md5_hex(&body)).as_str()), "{style} {key}");
            let got = c.get_object().bucket("keys").key(*key).send().await.unwrap();
            assert_eq!(got.content_length(), Some(body.len() as i64));
            assert_eq!(body_bytes(got).await, body, "{style} {key}");
            let head = c.head_object().bucket("keys").key(*key).send().await.unwrap();
            assert_eq!(head.content_length(), Some(body.len() as i64));
        }
        let listed = c.list_objects_v2().bucket("keys").send().await.unwrap();
        let mut keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
        keys.sort();
        let mut want = AWKWARD_KEYS.to_vec();
        want.sort();
        assert_eq!(keys, want, "{style}");
        for key in AWKWARD_KEYS {
            c.delete_object().bucket("keys").key(key).send().await.unwrap();
            let err = c.get_object().bucket("keys").key(key).send().await.unwrap_err();
            assert_eq!(code(&err), "NoSuchKey", "{style} {key}");
        }
    }
    assert_eq!(srv.temp_files(), 0);
}

#[tokio::test]
async fn stored_headers_metadata_and_response_overrides() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("meta").send().await.unwrap();
    c.put_object()
        .bucket("meta")
        .key("doc")
        .body(b"hello".to_vec().into())
        .content_type("text/plain")
        .cache_control("max-age=60")
        .content_disposition("attachment")
        .content_language("en")
        .metadata("color", "blue")
        .metadata("shape", "round")
        .send()
        .await
        .unwrap();
    let head = c.head_object().bucket("meta").key("doc").send().await.unwrap();
    assert_eq!(head.content_type(), Some("text/plain"));
    assert_eq!(head.cache_control(), Some("max-age=60"));
    assert_eq!(head.content_disposition(), Some("attachment"));
    assert_eq!(head.content_language(), Some("en"));
    let meta = head.metadata().unwrap();
    assert_eq!((meta["color"].as_str(), meta["shape"].as_str()), ("blue", "round"));
    assert!(head.last_modified().is_some());
    let got = c
        .get_object()
        .bucket("meta")
        .key("doc")
        .response_content_type("application/x-override")
        .response_cache_control("no-cache")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("application/x-override"));
    assert_eq!(got.cache_control(), Some("no-cache"));
    // A PUT without Content-Type reads back as binary/octet-stream, as S3 answers.
    let r = raw::send(srv.addr, "PUT", "/meta/untyped", &[], b"x".to_vec(), Auth::root("UNSIGNED-PAYLOAD")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Features this server does not have are refused, never silently dropped.
    for (header, value, code) in [
        ("x-amz-server-side-encryption", "AES256", "NotImplemented"),
        ("x-amz-server-side-encryption-customer-algorithm", "AES256", "NotImplemented"),
        ("x-amz-object-lock-mode", "GOVERNANCE", "NotImplemented"),
        ("x-amz-website-redirect-location", "/elsewhere", "NotImplemented"),
        ("x-amz-storage-class", "GLACIER", "InvalidStorageClass"),
    ] {
        let r = raw::send(
            srv.addr,
            "PUT",
            "/meta/refused",
            &[(header, value)],
            b"x".to_vec(),
            Auth::root("UNSIGNED-PAYLOAD"),
        )
        .await;
        assert_eq!(r.code(), code, "{header}: {}", r.body);
    }
    let r = raw::send(
        srv.addr,
        "PUT",
        "/meta/std",
        &[("x-amz-storage-class", "STANDARD")],
        b"x".to_vec(),
        Auth::root("UNSIGNED-PAYLOAD"),
    )
    .await;
    assert_eq!(r.status, 200);
    let defaulted = c.head_object().bucket("meta").key("untyped").send().await.unwrap();
    assert_eq!(defaulted.content_type(), Some("binary/octet-stream"));
    let big = "v".repeat(2100);
    let err = c
        .put_object()
        .bucket("meta")
        .key("big")
        .metadata("k", big)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "MetadataTooLarge");
    assert_eq!(srv.temp_files(), 0);
}

#[tokio::test]
async fn overwrite_replaces_and_old_blob_is_deleted() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("owo").send().await.unwrap();
    // Larger than the inline limit: each version is a blob.
    for round in 0..5u64 {
        let body = data(40_000, round);
        c.put_object().bucket("owo").key("k").body(body.clone().into()).send().await.unwrap();
        assert_eq!(body_bytes(c.get_object().bucket("owo").key("k").send().await.unwrap()).await, body);
    }
    bleepstore::deleter::drain_once(&srv.state).await.unwrap();
    assert_eq!(srv.state.blobs.list_ids().await.unwrap().len(), 1, "only the live blob remains");
    c.delete_object().bucket("owo").key("k").send().await.unwrap();
    // Deleting a missing key is a 204 as well.
    c.delete_object().bucket("owo").key("k").send().await.unwrap();
    bleepstore::deleter::drain_once(&srv.state).await.unwrap();
    assert!(srv.state.blobs.list_ids().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_reader_streaming_old_bytes_is_not_disturbed_by_overwrite_or_delete() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("stream").send().await.unwrap();
    let old = data(8 << 20, 1);
    c.put_object().bucket("stream").key("k").body(old.clone().into()).send().await.unwrap();
    let got = c.get_object().bucket("stream").key("k").send().await.unwrap();
    let mut body = got.body;
    let mut read = body.next().await.unwrap().unwrap().to_vec();
    // Overwrite, then delete, and run the deleter, mid-stream: the reader's pin keeps the old
    // blob (and only it) until the reader is done.
    c.put_object().bucket("stream").key("k").body(data(100, 2).into()).send().await.unwrap();
    c.delete_object().bucket("stream").key("k").send().await.unwrap();
    bleepstore::deleter::drain_once(&srv.state).await.unwrap();
    assert_eq!(srv.state.blobs.list_ids().await.unwrap().len(), 1);
    while let Some(chunk) = body.next().await {
        read.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(read.len(), old.len());
    assert!(read == old, "the reader saw the old object's bytes to the end");
    drop(body);
    bleepstore::deleter::drain_once(&srv.state).await.unwrap();
    assert!(srv.state.blobs.list_ids().await.unwrap().is_empty(), "released once the reader let go");
}

#[tokio::test]
async fn ranges_single_suffix_open_and_unsatisfiable() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("rng").send().await.unwrap();
    let body = data(1000, 7);
    c.put_object().bucket("rng").key("k").body(body.clone().into()).send().await.unwrap();
    for (range, span) in
        [("bytes=0-9", 0..10), ("bytes=990-", 990..1000), ("bytes=-5", 995..1000), ("bytes=500-5000", 500..1000)]
    {
        let got = c.get_object().bucket("rng").key("k").range(range).send().await.unwrap();
        assert_eq!(
            got.content_range(),
            Some(format!("bytes {}-{}/1000", span.start, span.end - 1).as_str()),
            "{range}"
        );
        assert_eq!(body_bytes(got).await, body[span].to_vec(), "{range}");
    }
    let r = raw::send(
        srv.addr,
        "GET",
        "/rng/k",
        &[("range", "bytes=0-1")],
        vec![],
        Auth::root(bleepstore::auth::sigv4::EMPTY_SHA256),
    )
    .await;
    assert_eq!(r.status, 206);
    let err = c.get_object().bucket("rng").key("k").range("bytes=1000-").send().await.unwrap_err();
    assert_eq!((status(&err), code(&err).as_str()), (416, "InvalidRange"));
    let r = raw::send(
        srv.addr,
        "GET",
        "/rng/k",
        &[("range", "bytes=2000-")],
        vec![],
        Auth::root(bleepstore::auth::sigv4::EMPTY_SHA256),
    )
    .await;
    assert_eq!(r.headers["content-range"], "bytes */1000");
    // Several ranges are not served: the whole object comes back.
    let got = c.get_object().bucket("rng").key("k").range("bytes=0-1,5-6").send().await.unwrap();
    assert_eq!(body_bytes(got).await.len(), 1000);
    let part = c.get_object().bucket("rng").key("k").part_number(1).send().await.unwrap();
    assert_eq!(body_bytes(part).await, body);
    let err = c.get_object().bucket("rng").key("k").part_number(2).send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidPartNumber");
    let err = c.get_object().bucket("rng").key("k").part_number(1).range("bytes=0-1").send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidRequest");
}

#[tokio::test]
async fn conditional_get_and_head() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("cond").send().await.unwrap();
    let put = c.put_object().bucket("cond").key("k").body(b"v1".to_vec().into()).send().await.unwrap();
    let etag = put.e_tag().unwrap().to_owned();
    let head = c.head_object().bucket("cond").key("k").send().await.unwrap();
    let modified = head.last_modified().unwrap().secs();
    let before = DateTime::from_secs(modified - 60);
    let after = DateTime::from_secs(modified + 60);

    c.get_object().bucket("cond").key("k").if_match(&etag).send().await.unwrap();
    let err = c.get_object().bucket("cond").key("k").if_match("\"nope\"").send().await.unwrap_err();
    assert_eq!((status(&err), code(&err).as_str()), (412, "PreconditionFailed"));
    let err = c.get_object().bucket("cond").key("k").if_none_match(&etag).send().await.unwrap_err();
    assert_eq!(status(&err), 304);
    let err = c.head_object().bucket("cond").key("k").if_none_match(&etag).send().await.unwrap_err();
    assert_eq!(status(&err), 304);
    let err = c.get_object().bucket("cond").key("k").if_modified_since(after).send().await.unwrap_err();
    assert_eq!(status(&err), 304);
    c.get_object().bucket("cond").key("k").if_modified_since(before).send().await.unwrap();
    let err = c.get_object().bucket("cond").key("k").if_unmodified_since(before).send().await.unwrap_err();
    assert_eq!(status(&err), 412);
    c.get_object().bucket("cond").key("k").if_unmodified_since(after).send().await.unwrap();
    // RFC 9110 order: a matching If-Match wins over a failing If-Unmodified-Since.
    c.get_object().bucket("cond").key("k").if_match(&etag).if_unmodified_since(before).send().await.unwrap();
    // A non-matching If-None-Match wins over a failing If-Modified-Since.
    c.get_object().bucket("cond").key("k").if_none_match("\"other\"").if_modified_since(after).send().await.unwrap();
}

#[tokio::test]
async fn conditional_put_is_atomic() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("cput").send().await.unwrap();
    // Many writers race to create the same key: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..16u64 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.put_object()
                .bucket("cput")
                .key("once")
                .if_none_match("*")
                // Larger than the inline limit, so that refused writes have blobs to remove.
                .body(data(40_000, i).into())
                .send()
                .await
                .map(|_| i)
                .map_err(|e| code(&e))
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(i) => winners.push(i),
            Err(code) => assert_eq!(code, "PreconditionFailed"),
        }
    }
    assert_eq!(winners.len(), 1);
    let stored = body_bytes(c.get_object().bucket("cput").key("once").send().await.unwrap()).await;
    assert_eq!(stored, data(40_000, winners[0]));
    let etag = c.head_object().bucket("cput").key("once").send().await.unwrap().e_tag().unwrap().to_owned();
    let err = c
        .put_object()
        .bucket("cput")
        .key("once")
        .if_match("\"stale\"")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "PreconditionFailed");
    c.put_object().bucket("cput").key("once").if_match(&etag).body(b"new".to_vec().into()).send().await.unwrap();
    let err = c
        .put_object()
        .bucket("cput")
        .key("absent")
        .if_match(&etag)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");
    bleepstore::deleter::drain_once(&srv.state).await.unwrap();
    // The last version is small (inline): every refused upload and the replaced winner left no blob.
    assert_eq!(srv.state.blobs.list_ids().await.unwrap().len(), 0, "refused uploads left no blob");
    assert_eq!(srv.temp_files(), 0);
}

#[tokio::test]
async fn digests_and_checksums() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("dig").send().await.unwrap();
    // The SDK's default CRC checksum is verified, stored and returned with checksum mode.
    let body = data(300_000, 3);
    let put = c.put_object().bucket("dig").key("crc").body(ByteStream::from(body.clone())).send().await.unwrap();
    let crc = put.checksum_crc32().map(String::from);
    let got = c.get_object().bucket("dig").key("crc").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(got.checksum_crc32().map(String::from), crc);
    assert_eq!(body_bytes(got).await, body);
    for algo in [
        aws_sdk_s3::types::ChecksumAlgorithm::Crc32C,
        aws_sdk_s3::types::ChecksumAlgorithm::Crc64Nvme,
        aws_sdk_s3::types::ChecksumAlgorithm::Sha1,
        aws_sdk_s3::types::ChecksumAlgorithm::Sha256,
    ] {
        let key = format!("algo-{}", algo.as_str());
        c.put_object()
            .bucket("dig")
            .key(&key)
            .checksum_algorithm(algo.clone())
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
        let head = c.head_object().bucket("dig").key(&key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        let value =
            head.checksum_crc32_c().or(head.checksum_crc64_nvme()).or(head.checksum_sha1()).or(head.checksum_sha256());
        assert!(value.is_some(), "{key}: {head:?}");
    }
    let root = || Auth::root("UNSIGNED-PAYLOAD");
    let r = raw::send(
        srv.addr,
        "PUT",
        "/dig/md5",
        &[("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")],
        b"not empty".to_vec(),
        root(),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "BadDigest"));
    let r = raw::send(srv.addr, "PUT", "/dig/md5", &[("content-md5", "short")], b"x".to_vec(), root()).await;
    assert_eq!((r.status, r.code()), (400, "InvalidDigest"));
    let r = raw::send(
        srv.addr,
        "PUT",
        "/dig/md5",
        &[("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg=="), ("content-length", "0")],
        vec![],
        root(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Neither Content-Length nor Transfer-Encoding: the body is empty (RFC 9112 §6.3).
    let r = raw::send(srv.addr, "PUT", "/dig/nolen", &[], vec![], root()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = raw::send(
        srv.addr,
        "PUT",
        "/dig/crc",
        &[("x-amz-checksum-crc32", "AAAAAA==")],
        b"hello world".to_vec(),
        root(),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "BadDigest"));
    let r = raw::send(
        srv.addr,
        "PUT",
        "/dig/crc",
        &[("x-amz-checksum-crc32", "DUoRhQ==")],
        b"hello world".to_vec(),
        root(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = raw::send(
        srv.addr,
        "PUT",
        "/dig/sha",
        &[],
        b"payload".to_vec(),
        Auth::root("0000000000000000000000000000000000000000000000000000000000000000"),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "XAmzContentSHA256Mismatch"));
    let sha = bleepstore::auth::sigv4::sha256_hex(b"payload");
    let r = raw::send(
        srv.addr,
        "PUT",
        "/dig/sha",
        &[],
        b"payload".to_vec(),
        Auth::Sign {
            access_key: crate::common::ACCESS_KEY,
            secret: crate::common::SECRET_KEY,
            payload_hash: &sha,
            at: time::OffsetDateTime::now_utc(),
        },
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Failed uploads stored nothing.
    assert!(c.head_object().bucket("dig").key("sha").send().await.is_ok());
    assert_eq!(srv.temp_files(), 0);
}

/// Small objects are kept in the metadata (no blob, no temp file); at the limit they still
/// are, one byte over they are blobs. Reads, ranges, copies and overwrites work across both.
#[tokio::test]
async fn small_objects_are_stored_inline() {
    let srv = TestServer::start().await;
    let c = srv.client();
    let max = bleepstore::config::StorageConfig::default().inline_max_size as usize;
    c.create_bucket().bucket("inl").send().await.unwrap();
    for (key, len) in [("empty", 0), ("one", 1), ("at-limit", max), ("over", max + 1)] {
        let body = data(len, len as u64);
        let put = c.put_object().bucket("inl").key(key).body(body.clone().into()).send().await.unwrap();
        assert_eq!(put.e_tag().unwrap(), format!("\"{}\"", md5_hex(&body)));
        let got = c.get_object().bucket("inl").key(key).send().await.unwrap();
        assert_eq!(got.content_length(), Some(len as i64));
        assert_eq!(body_bytes(got).await, body, "{key}");
        if len > 10 {
            let part = c.get_object().bucket("inl").key(key).range("bytes=3-9").send().await.unwrap();
            assert_eq!(body_bytes(part).await, &body[3..10]);
            let tail = c.get_object().bucket("inl").key(key).range("bytes=-4").send().await.unwrap();
            assert_eq!(body_bytes(tail).await, &body[len - 4..]);
        }
    }
    assert_eq!(srv.state.blobs.list_ids().await.unwrap().len(), 1, "only the object over the limit has a blob");
    // Copies of either kind land by size, not by their source's kind.
    c.copy_object().bucket("inl").key("copy-small").copy_source("inl/one").send().await.unwrap();
    c.copy_object().bucket("inl").key("copy-big").copy_source("inl/over").send().await.unwrap();
    assert_eq!(body_bytes(c.get_object().bucket("inl").key("copy-small").send().await.unwrap()).await, data(1, 1));
    assert_eq!(
        body_bytes(c.get_object().bucket("inl").key("copy-big").send().await.unwrap()).await,
        data(max + 1, max as u64 + 1)
    );
    assert_eq!(srv.state.blobs.list_ids().await.unwrap().len(), 2);
    // Overwrite a blob with a small object and delete everything: no blob and no inline row left.
    c.put_object().bucket("inl").key("over").body(b"now small".to_vec().into()).send().await.unwrap();
    for key in ["empty", "one", "at-limit", "over", "copy-small", "copy-big"] {
        c.delete_object().bucket("inl").key(key).send().await.unwrap();
    }
    bleepstore::deleter::drain_once(&srv.state).await.unwrap();
    assert!(srv.state.blobs.list_ids().await.unwrap().is_empty());
    assert_eq!(srv.temp_files(), 0);
    let rows = srv
        .state
        .db
        .read(|conn| Ok(conn.query_row("SELECT count(*) FROM inline_data", [], |r| r.get::<_, i64>(0))?))
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

/// `storage.inline_max_size: 0` stores every object as a blob.
#[tokio::test]
async fn inline_storage_can_be_turned_off() {
    let srv = TestServer::start_with(|c| c.storage.inline_max_size = 0).await;
    let c = srv.client();
    c.create_bucket().bucket("noinl").send().await.unwrap();
    c.put_object().bucket("noinl").key("k").body(b"tiny".to_vec().into()).send().await.unwrap();
    assert_eq!(srv.state.blobs.list_ids().await.unwrap().len(), 1);
    assert_eq!(body_bytes(c.get_object().bucket("noinl").key("k").send().await.unwrap()).await, b"tiny");
}

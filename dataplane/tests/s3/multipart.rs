//! Multipart uploads through aws-sdk-s3: the 5 MiB + 5 MiB + 1 byte layout, part overwrite,
//! UploadPartCopy ranges, range reads across part boundaries, listings, and every error.

use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;

use crate::common::{body_bytes, code, data, status, TestServer};

const MIB: usize = 1024 * 1024;

async fn upload_part(c: &Client, bucket: &str, key: &str, id: &str, n: i32, body: Vec<u8>) -> CompletedPart {
    let out =
        c.upload_part().bucket(bucket).key(key).upload_id(id).part_number(n).body(body.into()).send().await.unwrap();
    CompletedPart::builder().part_number(n).e_tag(out.e_tag().unwrap()).build()
}

fn completed(parts: Vec<CompletedPart>) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder().set_parts(Some(parts)).build()
}

fn composite_etag(parts: &[&[u8]]) -> String {
    use md5::Digest;
    let mut all = Vec::new();
    for p in parts {
        all.extend_from_slice(&md5::Md5::digest(p));
    }
    format!("\"{}-{}\"", hex::encode(md5::Md5::digest(&all)), parts.len())
}

#[tokio::test]
async fn three_parts_five_five_one_with_boundary_ranges() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("mpu").send().await.unwrap();
    let create = c
        .create_multipart_upload()
        .bucket("mpu")
        .key("big")
        .content_type("video/x-test")
        .metadata("m", "1")
        .send()
        .await
        .unwrap();
    let id = create.upload_id().unwrap();
    let (p1, p2, p3) = (data(5 * MIB, 1), data(5 * MIB, 2), data(1, 3));
    let parts = vec![
        upload_part(&c, "mpu", "big", id, 1, p1.clone()).await,
        upload_part(&c, "mpu", "big", id, 2, p2.clone()).await,
        upload_part(&c, "mpu", "big", id, 3, p3.clone()).await,
    ];
    let listed = c.list_parts().bucket("mpu").key("big").upload_id(id).send().await.unwrap();
    assert_eq!(
        listed.parts().iter().map(|p| p.size().unwrap()).collect::<Vec<_>>(),
        [5 * MIB as i64, 5 * MIB as i64, 1]
    );
    let done = c
        .complete_multipart_upload()
        .bucket("mpu")
        .key("big")
        .upload_id(id)
        .multipart_upload(completed(parts.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(done.e_tag(), Some(composite_etag(&[&p1, &p2, &p3]).as_str()));
    let whole: Vec<u8> = [p1.clone(), p2.clone(), p3.clone()].concat();
    let got = c.get_object().bucket("mpu").key("big").send().await.unwrap();
    assert_eq!(got.content_type(), Some("video/x-test"));
    assert_eq!(got.metadata().unwrap()["m"], "1");
    assert_eq!(body_bytes(got).await, whole);
    let b1 = 5 * MIB;
    for (start, end) in [(b1 - 10, b1 + 10), (0, 2 * b1), (2 * b1 - 1, 2 * b1), (b1 - 1, 2 * b1), (3, 3)] {
        let got = c.get_object().bucket("mpu").key("big").range(format!("bytes={start}-{end}")).send().await.unwrap();
        assert_eq!(body_bytes(got).await, whole[start..=end].to_vec(), "{start}-{end}");
    }
    let tail = c.get_object().bucket("mpu").key("big").range("bytes=-5").send().await.unwrap();
    assert_eq!(body_bytes(tail).await, whole[whole.len() - 5..].to_vec());
    let part2 = c.get_object().bucket("mpu").key("big").part_number(2).send().await.unwrap();
    assert_eq!(part2.parts_count(), Some(3));
    assert_eq!(part2.content_range(), Some(format!("bytes {}-{}/{}", b1, 2 * b1 - 1, whole.len()).as_str()));
    assert_eq!(body_bytes(part2).await, p2);
    let err = c.get_object().bucket("mpu").key("big").part_number(4).send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidPartNumber");
    // A retried completion is answered as the first one was.
    let again = c
        .complete_multipart_upload()
        .bucket("mpu")
        .key("big")
        .upload_id(id)
        .multipart_upload(completed(parts))
        .send()
        .await
        .unwrap();
    assert_eq!(again.e_tag(), done.e_tag());
    // Completion queued nothing: every part blob is in use by the object.
    bleepstore::deleter::drain_once(&srv.state).await.unwrap();
    assert_eq!(srv.state.blobs.list_ids().await.unwrap().len(), 3);
    // Overwriting the object releases all its parts (a small object is kept inline: no blob).
    c.put_object().bucket("mpu").key("big").body(b"small".to_vec().into()).send().await.unwrap();
    bleepstore::deleter::drain_once(&srv.state).await.unwrap();
    assert_eq!(srv.state.blobs.list_ids().await.unwrap().len(), 0);
}

#[tokio::test]
async fn part_overwrite_unlisted_parts_and_checksums() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("ovr").send().await.unwrap();
    let id = c
        .create_multipart_upload()
        .bucket("ovr")
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let _first = upload_part(&c, "ovr", "k", &id, 1, data(5 * MIB, 10)).await;
    let out = c
        .upload_part()
        .bucket("ovr")
        .key("k")
        .upload_id(&id)
        .part_number(1)
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(data(5 * MIB, 11).into())
        .send()
        .await
        .unwrap();
    let second = CompletedPart::builder()
        .part_number(1)
        .e_tag(out.e_tag().unwrap())
        .set_checksum_crc32(out.checksum_crc32().map(String::from))
        .build();
    let last_out = c
        .upload_part()
        .bucket("ovr")
        .key("k")
        .upload_id(&id)
        .part_number(2)
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(b"end".to_vec().into())
        .send()
        .await
        .unwrap();
    let last = CompletedPart::builder()
        .part_number(2)
        .e_tag(last_out.e_tag().unwrap())
        .set_checksum_crc32(last_out.checksum_crc32().map(String::from))
        .build();
    // An uploaded part left out of the list is released at completion.
    upload_part(&c, "ovr", "k", &id, 7, b"extra".to_vec()).await;
    let done = c
        .complete_multipart_upload()
        .bucket("ovr")
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(vec![second, last]))
        .send()
        .await
        .unwrap();
    assert!(done.checksum_crc32().is_some_and(|c| c.ends_with("-2")), "{done:?}");
    let got = body_bytes(c.get_object().bucket("ovr").key("k").send().await.unwrap()).await;
    assert_eq!(got, [data(5 * MIB, 11), b"end".to_vec()].concat());
    bleepstore::deleter::drain_once(&srv.state).await.unwrap();
    assert_eq!(
        srv.state.blobs.list_ids().await.unwrap().len(),
        2,
        "the overwritten part and the unlisted part are gone"
    );
}

#[tokio::test]
async fn upload_part_copy_with_ranges() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("upc").send().await.unwrap();
    let src = data(7 * MIB, 5);
    c.put_object().bucket("upc").key("src").body(src.clone().into()).send().await.unwrap();
    let id = c.create_multipart_upload().bucket("upc").key("dst").send().await.unwrap().upload_id().unwrap().to_owned();
    let a = c
        .upload_part_copy()
        .bucket("upc")
        .key("dst")
        .upload_id(&id)
        .part_number(1)
        .copy_source("upc/src")
        .copy_source_range(format!("bytes=0-{}", 5 * MIB - 1))
        .send()
        .await
        .unwrap();
    let b = c
        .upload_part_copy()
        .bucket("upc")
        .key("dst")
        .upload_id(&id)
        .part_number(2)
        .copy_source("upc/src")
        .copy_source_range(format!("bytes={}-{}", 6 * MIB, 7 * MIB - 1))
        .send()
        .await
        .unwrap();
    let parts = vec![
        CompletedPart::builder().part_number(1).e_tag(a.copy_part_result().unwrap().e_tag().unwrap()).build(),
        CompletedPart::builder().part_number(2).e_tag(b.copy_part_result().unwrap().e_tag().unwrap()).build(),
    ];
    c.complete_multipart_upload()
        .bucket("upc")
        .key("dst")
        .upload_id(&id)
        .multipart_upload(completed(parts))
        .send()
        .await
        .unwrap();
    let got = body_bytes(c.get_object().bucket("upc").key("dst").send().await.unwrap()).await;
    assert_eq!(got, [&src[..5 * MIB], &src[6 * MIB..]].concat());
    // A copy of the multipart object reads across its parts.
    c.copy_object().bucket("upc").key("copy").copy_source("upc/dst").send().await.unwrap();
    assert_eq!(body_bytes(c.get_object().bucket("upc").key("copy").send().await.unwrap()).await, got);
    let err = c
        .upload_part_copy()
        .bucket("upc")
        .key("dst2")
        .upload_id(&id)
        .part_number(1)
        .copy_source("upc/src")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchUpload");
    let id2 =
        c.create_multipart_upload().bucket("upc").key("dst2").send().await.unwrap().upload_id().unwrap().to_owned();
    let err = c
        .upload_part_copy()
        .bucket("upc")
        .key("dst2")
        .upload_id(&id2)
        .part_number(1)
        .copy_source("upc/src")
        .copy_source_range(format!("bytes=0-{}", 7 * MIB))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidRange");
    let err = c
        .upload_part_copy()
        .bucket("upc")
        .key("dst2")
        .upload_id(&id2)
        .part_number(1)
        .copy_source("upc/src")
        .copy_source_range("bytes=9-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");
    let err = c
        .upload_part_copy()
        .bucket("upc")
        .key("dst2")
        .upload_id(&id2)
        .part_number(1)
        .copy_source("upc/src")
        .copy_source_if_match("\"nope\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "PreconditionFailed");
}

#[tokio::test]
async fn completion_errors() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("cerr").send().await.unwrap();
    let id = c.create_multipart_upload().bucket("cerr").key("k").send().await.unwrap().upload_id().unwrap().to_owned();
    let p1 = upload_part(&c, "cerr", "k", &id, 1, data(5 * MIB, 1)).await;
    let small = upload_part(&c, "cerr", "k", &id, 2, data(100, 2)).await;
    let p3 = upload_part(&c, "cerr", "k", &id, 3, data(100, 3)).await;
    let complete = |parts: Vec<CompletedPart>| {
        c.complete_multipart_upload().bucket("cerr").key("k").upload_id(&id).multipart_upload(completed(parts)).send()
    };
    let err = complete(vec![small.clone(), p1.clone()]).await.unwrap_err();
    assert_eq!(code(&err), "InvalidPartOrder");
    let err = complete(vec![p1.clone(), p1.clone()]).await.unwrap_err();
    assert_eq!(code(&err), "InvalidPartOrder");
    let wrong = CompletedPart::builder().part_number(2).e_tag("\"0123456789abcdef0123456789abcdef\"").build();
    let err = complete(vec![p1.clone(), wrong]).await.unwrap_err();
    assert_eq!(code(&err), "InvalidPart");
    let missing = CompletedPart::builder().part_number(9).e_tag(p1.e_tag().unwrap()).build();
    let err = complete(vec![p1.clone(), missing]).await.unwrap_err();
    assert_eq!(code(&err), "InvalidPart");
    let err = complete(vec![p1.clone(), small.clone(), p3.clone()]).await.unwrap_err();
    assert_eq!(code(&err), "EntityTooSmall");
    let err = complete(vec![]).await.unwrap_err();
    assert_eq!(code(&err), "MalformedXML");
    // Unquoted ETags are accepted; a refused completion left the upload intact.
    let unquoted = CompletedPart::builder().part_number(3).e_tag(p3.e_tag().unwrap().trim_matches('"')).build();
    complete(vec![p1, unquoted]).await.unwrap();
    assert_eq!(body_bytes(c.get_object().bucket("cerr").key("k").send().await.unwrap()).await.len(), 5 * MIB + 100);
    let err = c
        .upload_part()
        .bucket("cerr")
        .key("k")
        .upload_id("nosuchupload")
        .part_number(1)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&err), code(&err).as_str()), (404, "NoSuchUpload"));
    let err = c
        .complete_multipart_upload()
        .bucket("cerr")
        .key("k")
        .upload_id("nosuchupload")
        .multipart_upload(completed(vec![small]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchUpload");
    let err = c.list_parts().bucket("cerr").key("k").upload_id("nosuchupload").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchUpload");
    let err = c
        .upload_part()
        .bucket("cerr")
        .key("k")
        .upload_id(&id)
        .part_number(10001)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");
}

#[tokio::test]
async fn abort_reap_and_bucket_deletion() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("abt").send().await.unwrap();
    let id = c.create_multipart_upload().bucket("abt").key("k").send().await.unwrap().upload_id().unwrap().to_owned();
    upload_part(&c, "abt", "k", &id, 1, data(1000, 1)).await;
    let err = c.delete_bucket().bucket("abt").send().await.unwrap_err();
    assert_eq!(code(&err), "BucketNotEmpty", "an in-progress upload keeps the bucket");
    c.abort_multipart_upload().bucket("abt").key("k").upload_id(&id).send().await.unwrap();
    let err = c.abort_multipart_upload().bucket("abt").key("k").upload_id(&id).send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchUpload");
    let err = c
        .upload_part()
        .bucket("abt")
        .key("k")
        .upload_id(&id)
        .part_number(2)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchUpload");
    bleepstore::deleter::drain_once(&srv.state).await.unwrap();
    assert!(srv.state.blobs.list_ids().await.unwrap().is_empty());
    c.delete_bucket().bucket("abt").send().await.unwrap();

    // The reaper aborts old uploads and never touches a completed object's parts.
    c.create_bucket().bucket("reap").send().await.unwrap();
    let done_id =
        c.create_multipart_upload().bucket("reap").key("done").send().await.unwrap().upload_id().unwrap().to_owned();
    let part = upload_part(&c, "reap", "done", &done_id, 1, data(2000, 4)).await;
    c.complete_multipart_upload()
        .bucket("reap")
        .key("done")
        .upload_id(&done_id)
        .multipart_upload(completed(vec![part]))
        .send()
        .await
        .unwrap();
    let stale =
        c.create_multipart_upload().bucket("reap").key("stale").send().await.unwrap().upload_id().unwrap().to_owned();
    upload_part(&c, "reap", "stale", &stale, 1, data(3000, 5)).await;
    let reaped = srv.state.db.reap_uploads(bleepstore::meta::now_ms() + 1).await.unwrap();
    assert_eq!(reaped, 1);
    bleepstore::deleter::drain_once(&srv.state).await.unwrap();
    assert_eq!(srv.state.blobs.list_ids().await.unwrap().len(), 1);
    assert_eq!(body_bytes(c.get_object().bucket("reap").key("done").send().await.unwrap()).await, data(2000, 4));
    let err = c.list_parts().bucket("reap").key("stale").upload_id(&stale).send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchUpload");
}

#[tokio::test]
async fn list_uploads_and_parts_paginate() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("lst").send().await.unwrap();
    let mut ids = Vec::new();
    for key in ["a/1", "a/2", "b", "b", "c"] {
        ids.push((
            key,
            c.create_multipart_upload().bucket("lst").key(key).send().await.unwrap().upload_id().unwrap().to_owned(),
        ));
    }
    let mut seen = Vec::new();
    let (mut key_marker, mut id_marker) = (None, None);
    loop {
        let page = c
            .list_multipart_uploads()
            .bucket("lst")
            .max_uploads(2)
            .set_key_marker(key_marker)
            .set_upload_id_marker(id_marker)
            .send()
            .await
            .unwrap();
        seen.extend(page.uploads().iter().map(|u| (u.key().unwrap().to_owned(), u.upload_id().unwrap().to_owned())));
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(String::from);
        id_marker = page.next_upload_id_marker().map(String::from);
    }
    let mut want: Vec<(String, String)> = ids.iter().map(|(k, i)| (k.to_string(), i.clone())).collect();
    want.sort();
    assert_eq!(seen, want);
    let rolled = c.list_multipart_uploads().bucket("lst").delimiter("/").send().await.unwrap();
    assert_eq!(rolled.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect::<Vec<_>>(), ["a/"]);
    assert_eq!(rolled.uploads().len(), 3);
    let prefixed = c.list_multipart_uploads().bucket("lst").prefix("b").send().await.unwrap();
    assert_eq!(prefixed.uploads().len(), 2);

    let (key, id) = &ids[4];
    for n in 1..=5 {
        upload_part(&c, "lst", key, id, n, data(10, n as u64)).await;
    }
    let mut parts = Vec::new();
    let mut marker = None;
    loop {
        let page = c
            .list_parts()
            .bucket("lst")
            .key(*key)
            .upload_id(id)
            .max_parts(2)
            .set_part_number_marker(marker)
            .send()
            .await
            .unwrap();
        parts.extend(page.parts().iter().map(|p| p.part_number().unwrap()));
        if page.is_truncated() != Some(true) {
            break;
        }
        marker = page.next_part_number_marker().map(String::from);
    }
    assert_eq!(parts, [1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn review_fixes_pagination_checksum_mismatch_positions_conditions() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("fix").send().await.unwrap();
    for key in ["a/1", "a/2", "b"] {
        c.create_multipart_upload().bucket("fix").key(key).send().await.unwrap();
    }
    // Paging one item at a time with a delimiter ends: the prefix page is not repeated.
    let mut items = Vec::new();
    let (mut km, mut um) = (None, None);
    for _ in 0..10 {
        let page = c
            .list_multipart_uploads()
            .bucket("fix")
            .delimiter("/")
            .max_uploads(1)
            .set_key_marker(km)
            .set_upload_id_marker(um)
            .send()
            .await
            .unwrap();
        items.extend(page.common_prefixes().iter().map(|p| p.prefix().unwrap().to_owned()));
        items.extend(page.uploads().iter().map(|u| u.key().unwrap().to_owned()));
        if page.is_truncated() != Some(true) {
            break;
        }
        km = page.next_key_marker().map(String::from);
        um = page.next_upload_id_marker().filter(|s| !s.is_empty()).map(String::from);
    }
    assert_eq!(items, ["a/", "b"]);

    // A part whose checksum algorithm differs from the upload's is refused.
    let id = c
        .create_multipart_upload()
        .bucket("fix")
        .key("sum")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let err = c
        .upload_part()
        .bucket("fix")
        .key("sum")
        .upload_id(&id)
        .part_number(1)
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidRequest");

    // partNumber counts parts by position: parts 1 and 3 are parts 1 and 2 of the object.
    let id = c.create_multipart_upload().bucket("fix").key("pos").send().await.unwrap().upload_id().unwrap().to_owned();
    let p1 = upload_part(&c, "fix", "pos", &id, 1, data(5 * MIB, 1)).await;
    let p3 = upload_part(&c, "fix", "pos", &id, 3, b"third".to_vec()).await;
    c.complete_multipart_upload()
        .bucket("fix")
        .key("pos")
        .upload_id(&id)
        .multipart_upload(completed(vec![p1, p3]))
        .send()
        .await
        .unwrap();
    let second = c.get_object().bucket("fix").key("pos").part_number(2).send().await.unwrap();
    assert_eq!(second.parts_count(), Some(2));
    assert_eq!(body_bytes(second).await, b"third");

    // If-Match on a key that does not exist is NoSuchKey, as for PutObject.
    let id =
        c.create_multipart_upload().bucket("fix").key("absent").send().await.unwrap().upload_id().unwrap().to_owned();
    let part = upload_part(&c, "fix", "absent", &id, 1, b"x".to_vec()).await;
    let err = c
        .complete_multipart_upload()
        .bucket("fix")
        .key("absent")
        .upload_id(&id)
        .if_match("\"abc\"")
        .multipart_upload(completed(vec![part.clone()]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");
    let done = c
        .complete_multipart_upload()
        .bucket("fix")
        .key("absent")
        .upload_id(&id)
        .if_none_match("*")
        .multipart_upload(completed(vec![part]))
        .send()
        .await
        .unwrap();
    assert!(
        done.location().unwrap().starts_with("http://") && done.location().unwrap().ends_with("/fix/absent"),
        "{done:?}"
    );
}

#[tokio::test]
async fn writers_read_their_own_objects_and_copy_does_not_leak_keys() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("shared").acl(aws_sdk_s3::types::BucketCannedAcl::PublicReadWrite).send().await.unwrap();
    c.create_bucket().bucket("private-src").send().await.unwrap();
    srv.add_key("CAROLKEY", "carol-secret-key", "carol").await;
    let carol = srv.client_as("CAROLKEY", "carol-secret-key");
    carol.put_object().bucket("shared").key("mine").body(b"carol's".to_vec().into()).send().await.unwrap();
    assert_eq!(body_bytes(carol.get_object().bucket("shared").key("mine").send().await.unwrap()).await, b"carol's");
    let err =
        carol.copy_object().bucket("shared").key("probe").copy_source("private-src/maybe").send().await.unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
}

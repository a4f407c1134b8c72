//! GetObjectAttributes, and multipart checksums of both types (FULL_OBJECT: the parts' CRCs
//! combined into the whole object's; COMPOSITE: a checksum of the part checksums), as the SDK
//! asks for and checks them.

use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart, ObjectAttributes,
};
use bleepstore::checksum::{ChecksumAlgorithm as Algorithm, ChecksumHasher};

use crate::common::{code, data, status, TestServer};
use crate::raw::{self, Auth};

const EMPTY: &str = bleepstore::auth::sigv4::EMPTY_SHA256;
const MIB: usize = 1024 * 1024;

fn checksum(algorithm: Algorithm, bytes: &[u8]) -> String {
    let mut h = ChecksumHasher::new(algorithm);
    h.update(bytes);
    h.finish()
}

/// Uploads `parts` to a new upload of `bucket/key` created with `algorithm` and `kind`;
/// returns the upload id and the completed-part list (with each part's checksum).
async fn upload(
    c: &aws_sdk_s3::Client,
    key: &str,
    algorithm: ChecksumAlgorithm,
    kind: Option<ChecksumType>,
    parts: &[&[u8]],
) -> (String, CompletedMultipartUpload) {
    let created = c
        .create_multipart_upload()
        .bucket("attr")
        .key(key)
        .checksum_algorithm(algorithm.clone())
        .set_checksum_type(kind.clone())
        .send()
        .await
        .unwrap();
    let want = kind.unwrap_or(if algorithm == ChecksumAlgorithm::Crc64Nvme {
        ChecksumType::FullObject
    } else {
        ChecksumType::Composite
    });
    assert_eq!(created.checksum_type(), Some(&want), "the type (or its default) is echoed");
    let id = created.upload_id.unwrap();
    let mut done = CompletedMultipartUpload::builder();
    for (i, bytes) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let out = c
            .upload_part()
            .bucket("attr")
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .checksum_algorithm(algorithm.clone())
            .body(bytes.to_vec().into())
            .send()
            .await
            .unwrap();
        done = done.parts(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .set_checksum_crc32(out.checksum_crc32().map(str::to_owned))
                .set_checksum_crc32_c(out.checksum_crc32_c().map(str::to_owned))
                .set_checksum_crc64_nvme(out.checksum_crc64_nvme().map(str::to_owned))
                .set_checksum_sha256(out.checksum_sha256().map(str::to_owned))
                .build(),
        );
    }
    (id, done.build())
}

#[tokio::test]
async fn full_object_multipart_checksums_combine_the_parts() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("attr").send().await.unwrap();
    let body = data(5 * MIB + 1234, 3);
    let (first, second) = body.split_at(5 * MIB);
    for (algorithm, ours) in [
        (ChecksumAlgorithm::Crc32, Algorithm::Crc32),
        (ChecksumAlgorithm::Crc32C, Algorithm::Crc32c),
        (ChecksumAlgorithm::Crc64Nvme, Algorithm::Crc64Nvme),
    ] {
        let key = format!("full-{}", ours.name());
        let (id, done) = upload(&c, &key, algorithm.clone(), Some(ChecksumType::FullObject), &[first, second]).await;
        let whole = checksum(ours, &body);
        let complete = || {
            c.complete_multipart_upload()
                .bucket("attr")
                .key(&key)
                .upload_id(&id)
                .multipart_upload(done.clone())
                .checksum_type(ChecksumType::FullObject)
        };
        // A wrong whole-object value, a wrong size or the other type: refused, the upload stays.
        let wrong = checksum(ours, b"something else");
        let with =
            |b: aws_sdk_s3::operation::complete_multipart_upload::builders::CompleteMultipartUploadFluentBuilder,
             v: &str| match ours {
                Algorithm::Crc32 => b.checksum_crc32(v),
                Algorithm::Crc32c => b.checksum_crc32_c(v),
                _ => b.checksum_crc64_nvme(v),
            };
        let err = with(complete(), &wrong).send().await.unwrap_err();
        assert_eq!(code(&err), "BadDigest", "{key}");
        let err = with(complete(), &whole).mpu_object_size(body.len() as i64 + 1).send().await.unwrap_err();
        assert_eq!(code(&err), "InvalidRequest", "{key}");
        let err = with(complete(), &whole).checksum_type(ChecksumType::Composite).send().await.unwrap_err();
        assert_eq!(code(&err), "BadDigest", "{key}");
        let out = with(complete(), &whole).mpu_object_size(body.len() as i64).send().await.unwrap();
        assert_eq!(out.checksum_type(), Some(&ChecksumType::FullObject));
        let head = c.head_object().bucket("attr").key(&key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        let got = head.checksum_crc32().or(head.checksum_crc32_c()).or(head.checksum_crc64_nvme());
        assert_eq!(got, Some(whole.as_str()), "{key}: the whole object's CRC, no -N suffix");
        assert_eq!(head.checksum_type(), Some(&ChecksumType::FullObject));
    }
}

#[tokio::test]
async fn checksum_type_refusals() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("attr").send().await.unwrap();
    let create = |a: ChecksumAlgorithm, t: ChecksumType| {
        c.create_multipart_upload().bucket("attr").key("k").checksum_algorithm(a).checksum_type(t).send()
    };
    let err = create(ChecksumAlgorithm::Sha256, ChecksumType::FullObject).await.unwrap_err();
    assert_eq!(code(&err), "InvalidRequest");
    let err = create(ChecksumAlgorithm::Crc64Nvme, ChecksumType::Composite).await.unwrap_err();
    assert_eq!(code(&err), "InvalidRequest");
    for headers in [
        &[("x-amz-checksum-type", "FULL_OBJECT")][..],
        &[("x-amz-checksum-algorithm", "CRC32"), ("x-amz-checksum-type", "WHOLE")],
    ] {
        let r = raw::send(srv.addr, "POST", "/attr/k?uploads", headers, vec![], Auth::root(EMPTY)).await;
        assert_eq!((r.status, r.code()), (400, "InvalidRequest"), "{headers:?}");
    }
    // A PutObject checksum header that does not match the body is BadDigest.
    let err = c
        .put_object()
        .bucket("attr")
        .key("p")
        .checksum_crc32(checksum(Algorithm::Crc32, b"other"))
        .body(b"body".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "BadDigest");
}

#[tokio::test]
async fn get_object_attributes() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("attr").send().await.unwrap();
    let body = data(5 * MIB + 10, 9);
    let (a, b) = body.split_at(5 * MIB);
    let (id, done) = upload(&c, "composite", ChecksumAlgorithm::Sha256, None, &[a, b]).await;
    let completed =
        c.complete_multipart_upload().bucket("attr").key("composite").upload_id(id).multipart_upload(done.clone());
    let completed = completed.send().await.unwrap();
    assert_eq!(completed.checksum_type(), Some(&ChecksumType::Composite));
    assert!(completed.checksum_sha256().unwrap().ends_with("-2"));

    let all = [
        ObjectAttributes::Etag,
        ObjectAttributes::Checksum,
        ObjectAttributes::ObjectParts,
        ObjectAttributes::StorageClass,
        ObjectAttributes::ObjectSize,
    ];
    let out = c.get_object_attributes().bucket("attr").key("composite").set_object_attributes(Some(all.to_vec()));
    let out = out.send().await.unwrap();
    let etag = completed.e_tag().unwrap().trim_matches('"');
    assert_eq!(out.e_tag(), Some(etag), "unquoted, with its -N");
    assert_eq!(out.object_size(), Some(body.len() as i64));
    assert_eq!(out.storage_class().map(|s| s.as_str()), Some("STANDARD"));
    assert!(out.last_modified().is_some());
    let sum = out.checksum().unwrap();
    assert_eq!(sum.checksum_type(), Some(&ChecksumType::Composite));
    assert_eq!(sum.checksum_sha256(), completed.checksum_sha256().unwrap().split('-').next());
    let parts = out.object_parts().unwrap();
    assert_eq!(parts.total_parts_count(), Some(2));
    let listed: Vec<(Option<i32>, Option<i64>)> = parts.parts().iter().map(|p| (p.part_number(), p.size())).collect();
    assert_eq!(listed, [(Some(1), Some(5 * MIB as i64)), (Some(2), Some(10))]);
    assert_eq!(parts.parts()[1].checksum_sha256(), Some(checksum(Algorithm::Sha256, b).as_str()));
    // Paged: one part after part 1.
    let page = c
        .get_object_attributes()
        .bucket("attr")
        .key("composite")
        .object_attributes(ObjectAttributes::ObjectParts)
        .max_parts(1)
        .part_number_marker("1")
        .send()
        .await
        .unwrap();
    let parts = page.object_parts().unwrap();
    assert_eq!(parts.parts().len(), 1);
    assert_eq!(parts.parts()[0].part_number(), Some(2));
    assert_eq!(parts.is_truncated(), Some(false));
    assert!(page.e_tag().is_none() && page.object_size().is_none(), "only what was asked for");

    // A plain object: no parts; no checksum when it has none.
    c.put_object().bucket("attr").key("plain").body(b"plain".to_vec().into()).send().await.unwrap();
    let out = c
        .get_object_attributes()
        .bucket("attr")
        .key("plain")
        .object_attributes(ObjectAttributes::ObjectParts)
        .object_attributes(ObjectAttributes::ObjectSize)
        .send()
        .await
        .unwrap();
    assert!(out.object_parts().is_none());
    assert_eq!(out.object_size(), Some(5));

    // Refusals: no attributes, an unknown one, a missing key.
    let r = raw::send(srv.addr, "GET", "/attr/plain?attributes", &[], vec![], Auth::root(EMPTY)).await;
    assert_eq!((r.status, r.code()), (400, "InvalidRequest"));
    let r = raw::send(
        srv.addr,
        "GET",
        "/attr/plain?attributes",
        &[("x-amz-object-attributes", "ETag,Colour")],
        vec![],
        Auth::root(EMPTY),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "InvalidArgument"));
    let err = c
        .get_object_attributes()
        .bucket("attr")
        .key("absent")
        .object_attributes(ObjectAttributes::Etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&err), code(&err)), (404, "NoSuchKey".to_owned()));
}

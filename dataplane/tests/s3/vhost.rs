//! Every operation once more in virtual-hosted style (`<bucket>.s3.local`), so that style is
//! not just covered by the basic object calls.

use aws_sdk_s3::types::{
    BucketCannedAcl, CompletedMultipartUpload, CompletedPart, Delete, MetadataDirective, ObjectIdentifier,
};

use crate::common::{body_bytes, code, data, TestServer};

#[tokio::test]
async fn every_operation_in_virtual_hosted_style() {
    let srv = TestServer::start().await;
    let v = srv.vhost_client();
    // No dots: SDKs fall back to path-style for dotted names (TLS wildcards cannot cover them).
    let b = "vhbucket";
    v.create_bucket().bucket(b).send().await.unwrap();
    v.create_bucket().bucket(b).send().await.unwrap(); // us-east-1: repeated create by its owner is 200
    v.head_bucket().bucket(b).send().await.unwrap();
    v.get_bucket_location().bucket(b).send().await.unwrap();
    assert!(v.list_buckets().send().await.unwrap().buckets().iter().any(|x| x.name() == Some(b)));
    let body = data(300_000, 1);
    v.put_object().bucket(b).key("dir/k 1").body(body.clone().into()).content_type("text/x").send().await.unwrap();
    assert_eq!(v.head_object().bucket(b).key("dir/k 1").send().await.unwrap().content_type(), Some("text/x"));
    let got = v.get_object().bucket(b).key("dir/k 1").range("bytes=10-19").send().await.unwrap();
    assert_eq!(body_bytes(got).await, body[10..20].to_vec());
    v.copy_object()
        .bucket(b)
        .key("copy")
        .copy_source(format!("{b}/dir/k%201"))
        .metadata_directive(MetadataDirective::Copy)
        .send()
        .await
        .unwrap();
    let v2 = v.list_objects_v2().bucket(b).delimiter("/").send().await.unwrap();
    assert_eq!(v2.common_prefixes().len(), 1);
    let v1 = v.list_objects().bucket(b).send().await.unwrap();
    assert_eq!(v1.contents().len(), 2);
    v.put_bucket_acl().bucket(b).acl(BucketCannedAcl::Private).send().await.unwrap();
    v.get_bucket_acl().bucket(b).send().await.unwrap();
    v.get_object_acl().bucket(b).key("copy").send().await.unwrap();
    let id = v.create_multipart_upload().bucket(b).key("mp").send().await.unwrap().upload_id().unwrap().to_owned();
    let part = v
        .upload_part()
        .bucket(b)
        .key("mp")
        .upload_id(&id)
        .part_number(1)
        .body(b"part".to_vec().into())
        .send()
        .await
        .unwrap();
    v.upload_part_copy()
        .bucket(b)
        .key("mp")
        .upload_id(&id)
        .part_number(2)
        .copy_source(format!("{b}/copy"))
        .copy_source_range("bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(v.list_parts().bucket(b).key("mp").upload_id(&id).send().await.unwrap().parts().len(), 2);
    assert_eq!(v.list_multipart_uploads().bucket(b).send().await.unwrap().uploads().len(), 1);
    let done = CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build())
        .build();
    let out =
        v.complete_multipart_upload().bucket(b).key("mp").upload_id(&id).multipart_upload(done).send().await.unwrap();
    assert!(out.location().unwrap().contains("vhbucket.s3.local"), "{out:?}");
    let id2 = v.create_multipart_upload().bucket(b).key("mp2").send().await.unwrap().upload_id().unwrap().to_owned();
    v.abort_multipart_upload().bucket(b).key("mp2").upload_id(&id2).send().await.unwrap();
    let objects =
        ["dir/k 1", "copy", "mp"].iter().map(|k| ObjectIdentifier::builder().key(*k).build().unwrap()).collect();
    let deleted = v
        .delete_objects()
        .bucket(b)
        .delete(Delete::builder().set_objects(Some(objects)).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.deleted().len(), 3);
    v.delete_object().bucket(b).key("gone").send().await.unwrap();
    v.delete_bucket().bucket(b).send().await.unwrap();
    assert_eq!(code(&v.list_objects_v2().bucket(b).send().await.unwrap_err()), "NoSuchBucket");
}

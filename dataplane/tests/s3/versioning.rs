//! Versioning through the SDK: bucket states, version ids on every answer that names one, reads
//! and deletes of versions, delete markers, ListObjectVersions, DeleteObjects with version ids,
//! copies of versions, and each refusal.

use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier, ObjectVersion,
    VersioningConfiguration,
};
use aws_sdk_s3::Client;

use crate::common::{body_bytes, code, status, TestServer};
use crate::raw::{self, Auth};

const UNSIGNED: &str = "UNSIGNED-PAYLOAD";
const EMPTY: &str = bleepstore::auth::sigv4::EMPTY_SHA256;

async fn set(c: &Client, bucket: &str, state: BucketVersioningStatus) {
    let cfg = VersioningConfiguration::builder().status(state).build();
    c.put_bucket_versioning().bucket(bucket).versioning_configuration(cfg).send().await.unwrap();
}

async fn put(c: &Client, bucket: &str, key: &str, body: &str) -> Option<String> {
    c.put_object().bucket(bucket).key(key).body(body.as_bytes().to_vec().into()).send().await.unwrap().version_id
}

async fn read(c: &Client, bucket: &str, key: &str, version: Option<&str>) -> Vec<u8> {
    body_bytes(c.get_object().bucket(bucket).key(key).set_version_id(version.map(str::to_owned)).send().await.unwrap())
        .await
}

fn ids(versions: &[ObjectVersion]) -> Vec<&str> {
    versions.iter().filter_map(|v| v.version_id()).collect()
}

#[tokio::test]
async fn bucket_states_and_version_ids() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("ver").send().await.unwrap();
    let got = c.get_bucket_versioning().bucket("ver").send().await.unwrap();
    assert_eq!(got.status(), None, "never enabled: an empty configuration");
    assert_eq!(put(&c, "ver", "k", "null one").await, None, "an unversioned bucket names no versions");
    set(&c, "ver", BucketVersioningStatus::Enabled).await;
    assert_eq!(
        c.get_bucket_versioning().bucket("ver").send().await.unwrap().status(),
        Some(&BucketVersioningStatus::Enabled)
    );
    let v1 = put(&c, "ver", "k", "one").await.unwrap();
    let v2 = put(&c, "ver", "k", "two").await.unwrap();
    assert_ne!(v1, v2);
    assert!(v1.bytes().all(|b| b.is_ascii_alphanumeric()), "URL-safe: {v1}");
    // Reads: the current version, or any version by id, each naming itself.
    let current = c.get_object().bucket("ver").key("k").send().await.unwrap();
    assert_eq!(current.version_id(), Some(v2.as_str()));
    assert_eq!(read(&c, "ver", "k", Some(&v1)).await, b"one");
    assert_eq!(read(&c, "ver", "k", Some("null")).await, b"null one", "the version from before is kept as null");
    let head = c.head_object().bucket("ver").key("k").version_id(&v1).send().await.unwrap();
    assert_eq!((head.version_id(), head.content_length()), (Some(v1.as_str()), Some(3)));
    // Conditions and ranges apply to the version read.
    let ranged = c.get_object().bucket("ver").key("k").version_id(&v1).range("bytes=1-2").send().await.unwrap();
    assert_eq!(body_bytes(ranged).await, b"ne");
    let err = c.get_object().bucket("ver").key("k").version_id(&v1).if_match("\"nope\"").send().await.unwrap_err();
    assert_eq!(status(&err), 412);
    // Refusals: a well-formed id naming nothing, a malformed id, MFA delete.
    let missing = bleepstore::meta::new_version_id();
    let err = c.get_object().bucket("ver").key("k").version_id(&missing).send().await.unwrap_err();
    assert_eq!((status(&err), code(&err)), (404, "NoSuchVersion".to_owned()));
    let r = raw::send(srv.addr, "GET", "/ver/k?versionId=not-a-version", &[], vec![], Auth::root(EMPTY)).await;
    assert_eq!((r.status, r.code()), (400, "InvalidArgument"));
    let mfa =
        b"<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>";
    let r = raw::send(srv.addr, "PUT", "/ver?versioning", &[], mfa.to_vec(), Auth::root(UNSIGNED)).await;
    assert_eq!((r.status, r.code()), (501, "NotImplemented"));
    let r = raw::send(srv.addr, "PUT", "/ver?versioning", &[], b"<Versioning".to_vec(), Auth::root(UNSIGNED)).await;
    assert_eq!((r.status, r.code()), (400, "MalformedXML"));
    // Suspended: writes replace the null version; other versions stay.
    set(&c, "ver", BucketVersioningStatus::Suspended).await;
    assert_eq!(put(&c, "ver", "k", "suspended").await.as_deref(), Some("null"));
    let listed = c.list_object_versions().bucket("ver").send().await.unwrap();
    assert_eq!(ids(listed.versions()), ["null", v2.as_str(), v1.as_str()]);
    assert_eq!(read(&c, "ver", "k", Some("null")).await, b"suspended");
    // Deleting a bucket that holds versions is refused.
    c.delete_object().bucket("ver").key("k").version_id("null").send().await.unwrap();
    let err = c.delete_bucket().bucket("ver").send().await.unwrap_err();
    assert_eq!(code(&err), "BucketNotEmpty");
}

#[tokio::test]
async fn delete_markers() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("mark").send().await.unwrap();
    set(&c, "mark", BucketVersioningStatus::Enabled).await;
    let v1 = put(&c, "mark", "k", "kept").await.unwrap();
    let deleted = c.delete_object().bucket("mark").key("k").send().await.unwrap();
    assert_eq!(deleted.delete_marker(), Some(true));
    let marker = deleted.version_id().unwrap().to_owned();
    // The key reads as absent, saying why.
    let r = raw::send(srv.addr, "GET", "/mark/k", &[], vec![], Auth::root(EMPTY)).await;
    assert_eq!((r.status, r.code()), (404, "NoSuchKey"));
    assert_eq!(r.headers["x-amz-delete-marker"], "true");
    assert_eq!(r.headers["x-amz-version-id"], marker.as_str());
    assert!(c.list_objects_v2().bucket("mark").send().await.unwrap().contents().is_empty());
    // The marker itself cannot be read (405); the version under it can.
    let r = raw::send(srv.addr, "GET", &format!("/mark/k?versionId={marker}"), &[], vec![], Auth::root(EMPTY)).await;
    assert_eq!((r.status, r.code()), (405, "MethodNotAllowed"));
    assert_eq!(r.headers["x-amz-delete-marker"], "true");
    let err = c.head_object().bucket("mark").key("k").version_id(&marker).send().await.unwrap_err();
    assert_eq!(status(&err), 405);
    assert_eq!(read(&c, "mark", "k", Some(&v1)).await, b"kept");
    let listed = c.list_object_versions().bucket("mark").send().await.unwrap();
    let m = &listed.delete_markers()[0];
    assert_eq!((m.version_id(), m.is_latest()), (Some(marker.as_str()), Some(true)));
    assert_eq!(listed.versions()[0].is_latest(), Some(false));
    // Deleting the marker by id restores the version.
    let gone = c.delete_object().bucket("mark").key("k").version_id(&marker).send().await.unwrap();
    assert_eq!((gone.delete_marker(), gone.version_id()), (Some(true), Some(marker.as_str())));
    assert_eq!(read(&c, "mark", "k", None).await, b"kept");
    // A copy may not name a marker as its source.
    let m2 = c.delete_object().bucket("mark").key("k").send().await.unwrap().version_id.unwrap();
    let err = c
        .copy_object()
        .bucket("mark")
        .key("copy")
        .copy_source(format!("mark/k?versionId={m2}"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidRequest");
    let err = c.copy_object().bucket("mark").key("copy").copy_source("mark/k").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");
}

#[tokio::test]
async fn copies_acls_attributes_and_multipart_of_versions() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("vops").send().await.unwrap();
    set(&c, "vops", BucketVersioningStatus::Enabled).await;
    let v1 = put(&c, "vops", "src", "first").await.unwrap();
    put(&c, "vops", "src", "second").await.unwrap();
    let copied = c.copy_object().bucket("vops").key("dst").copy_source(format!("vops/src?versionId={v1}")).send().await;
    let copied = copied.unwrap();
    assert_eq!(copied.copy_source_version_id(), Some(v1.as_str()));
    assert!(copied.version_id().is_some());
    assert_eq!(read(&c, "vops", "dst", None).await, b"first");
    // ACLs and attributes of one version.
    c.put_object_acl()
        .bucket("vops")
        .key("src")
        .version_id(&v1)
        .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let anon = |v: &str| reqwest::get(format!("http://{}/vops/src?versionId={v}", srv.addr));
    assert_eq!(anon(&v1).await.unwrap().status(), 200, "the public version reads anonymously");
    let current = c.head_object().bucket("vops").key("src").send().await.unwrap().version_id.unwrap();
    assert_eq!(anon(&current).await.unwrap().status(), 403, "the other stays private");
    let acl = c.get_object_acl().bucket("vops").key("src").version_id(&v1).send().await.unwrap();
    assert_eq!(acl.grants().len(), 2);
    let attrs = c
        .get_object_attributes()
        .bucket("vops")
        .key("src")
        .version_id(&v1)
        .object_attributes(aws_sdk_s3::types::ObjectAttributes::ObjectSize)
        .send()
        .await
        .unwrap();
    assert_eq!((attrs.object_size(), attrs.version_id()), (Some(5), Some(v1.as_str())));
    // CompleteMultipartUpload makes a version too.
    let id = c.create_multipart_upload().bucket("vops").key("mp").send().await.unwrap().upload_id.unwrap();
    let part = c.upload_part().bucket("vops").key("mp").upload_id(&id).part_number(1).body(b"p".to_vec().into()).send();
    let etag = part.await.unwrap().e_tag.unwrap();
    let done = CompletedMultipartUpload::builder().parts(CompletedPart::builder().part_number(1).e_tag(etag).build());
    let out = c.complete_multipart_upload().bucket("vops").key("mp").upload_id(id).multipart_upload(done.build());
    assert!(out.send().await.unwrap().version_id().is_some());
}

#[tokio::test]
async fn listing_versions_and_deleting_them_in_batches() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("batch").send().await.unwrap();
    // An unversioned bucket lists each object once, as its null version.
    put(&c, "batch", "plain", "p").await;
    let listed = c.list_object_versions().bucket("batch").send().await.unwrap();
    assert_eq!(ids(listed.versions()), ["null"]);
    assert_eq!(listed.versions()[0].is_latest(), Some(true));
    set(&c, "batch", BucketVersioningStatus::Enabled).await;
    for key in ["a/1", "a/2", "b"] {
        for n in 0..3 {
            put(&c, "batch", key, &format!("{key}{n}")).await;
        }
    }
    c.delete_object().bucket("batch").key("b").send().await.unwrap();
    // Paged by the markers: every version and delete marker once.
    let (mut versions, mut markers) = (0, 0);
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = c
            .list_object_versions()
            .bucket("batch")
            .max_keys(2)
            .set_key_marker(key_marker)
            .set_version_id_marker(version_marker)
            .send()
            .await
            .unwrap();
        versions += page.versions().len();
        markers += page.delete_markers().len();
        if page.is_truncated() != Some(true) {
            break;
        }
        (key_marker, version_marker) = (page.next_key_marker, page.next_version_id_marker);
    }
    assert_eq!((versions, markers), (10, 1));
    // A delimiter rolls a prefix up; url encoding applies to keys.
    let rolled = c.list_object_versions().bucket("batch").delimiter("/").send().await.unwrap();
    let prefixes: Vec<&str> = rolled.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["a/"]);
    assert_eq!(rolled.versions().len(), 4, "b's three versions and plain's null one");
    // DeleteObjects with version ids, and one without (a marker).
    let all = c.list_object_versions().bucket("batch").prefix("a/").send().await.unwrap();
    let mut delete = Delete::builder();
    for v in all.versions() {
        let id = ObjectIdentifier::builder().key(v.key().unwrap()).version_id(v.version_id().unwrap());
        delete = delete.objects(id.build().unwrap());
    }
    delete = delete.objects(ObjectIdentifier::builder().key("plain").build().unwrap());
    let out = c.delete_objects().bucket("batch").delete(delete.build().unwrap()).send().await.unwrap();
    assert_eq!(out.deleted().len(), 7);
    let plain = out.deleted().iter().find(|d| d.key() == Some("plain")).unwrap();
    assert_eq!(plain.delete_marker(), Some(true));
    assert!(plain.delete_marker_version_id().is_some());
    let left = c.list_object_versions().bucket("batch").prefix("a/").send().await.unwrap();
    assert!(left.versions().is_empty());
}

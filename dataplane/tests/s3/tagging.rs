//! Tagging through the SDK: tags at write time (PutObject, CreateMultipartUpload, CopyObject with
//! its tagging directive), Put/Get/DeleteObjectTagging on current and older versions,
//! `x-amz-tagging-count`, bucket tagging, and every refusal with its S3 code.

use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, MetadataDirective, Tag, Tagging, TaggingDirective,
    VersioningConfiguration,
};
use aws_sdk_s3::Client;

use crate::common::{code, status, TestServer};
use crate::raw::{self, Auth};

const EMPTY: &str = bleepstore::auth::sigv4::EMPTY_SHA256;
const UNSIGNED: &str = "UNSIGNED-PAYLOAD";

fn tagging(pairs: &[(&str, &str)]) -> Tagging {
    let tags = pairs.iter().map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap()).collect();
    Tagging::builder().set_tag_set(Some(tags)).build().unwrap()
}

async fn tags_of(c: &Client, bucket: &str, key: &str, version: Option<&str>) -> Vec<(String, String)> {
    let out =
        c.get_object_tagging().bucket(bucket).key(key).set_version_id(version.map(str::to_owned)).send().await.unwrap();
    out.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

async fn tag_count(c: &Client, bucket: &str, key: &str) -> Option<i32> {
    c.get_object().bucket(bucket).key(key).send().await.unwrap().tag_count()
}

#[tokio::test]
async fn object_tags_at_write_time_and_after() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("tags").send().await.unwrap();
    c.put_object()
        .bucket("tags")
        .key("k")
        .tagging("project=blue%20sky&team=data+eng&empty=")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(&c, "tags", "k", None).await,
        pairs(&[("project", "blue sky"), ("team", "data eng"), ("empty", "")])
    );
    assert_eq!(tag_count(&c, "tags", "k").await, Some(3));
    let head = c.head_object().bucket("tags").key("k").send().await.unwrap();
    assert_eq!(head.tag_count(), Some(3));
    let r = raw::send(srv.addr, "HEAD", "/tags/k", &[], vec![], Auth::root(EMPTY)).await;
    assert_eq!(r.headers["x-amz-tagging-count"], "3");

    // Replaced as a whole, then removed.
    let replaced = c
        .put_object_tagging()
        .bucket("tags")
        .key("k")
        .tagging(tagging(&[("Projet Été", "a+b-c=d.e_f:g/h@i 9")]))
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.version_id(), None, "an unversioned bucket names no versions");
    assert_eq!(tags_of(&c, "tags", "k", None).await, pairs(&[("Projet Été", "a+b-c=d.e_f:g/h@i 9")]));
    c.delete_object_tagging().bucket("tags").key("k").send().await.unwrap();
    assert!(tags_of(&c, "tags", "k", None).await.is_empty());
    assert_eq!(tag_count(&c, "tags", "k").await, None, "no header without tags");
    let r = raw::send(srv.addr, "DELETE", "/tags/k?tagging", &[], vec![], Auth::root(EMPTY)).await;
    assert_eq!(r.status, 204);

    // Overwriting an object drops its tags with it; the bytes and other headers stay on retag.
    c.put_object()
        .bucket("tags")
        .key("k")
        .tagging("a=1")
        .content_type("text/plain")
        .body(b"y".to_vec().into())
        .send()
        .await
        .unwrap();
    c.put_object_tagging().bucket("tags").key("k").tagging(tagging(&[("b", "2")])).send().await.unwrap();
    let got = c.get_object().bucket("tags").key("k").send().await.unwrap();
    assert_eq!((got.content_type(), got.tag_count()), (Some("text/plain"), Some(1)));
    c.put_object().bucket("tags").key("k").body(b"z".to_vec().into()).send().await.unwrap();
    assert!(tags_of(&c, "tags", "k", None).await.is_empty());

    // Multipart: the tags given at creation are the object's.
    let up = c.create_multipart_upload().bucket("tags").key("mp").tagging("stage=raw").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let part = c
        .upload_part()
        .bucket("tags")
        .key("mp")
        .upload_id(id)
        .part_number(1)
        .body(b"part".to_vec().into())
        .send()
        .await
        .unwrap();
    let done = CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build())
        .build();
    c.complete_multipart_upload().bucket("tags").key("mp").upload_id(id).multipart_upload(done).send().await.unwrap();
    assert_eq!(tags_of(&c, "tags", "mp", None).await, pairs(&[("stage", "raw")]));
}

#[tokio::test]
async fn copies_keep_or_replace_tags() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("copies").send().await.unwrap();
    c.put_object().bucket("copies").key("src").tagging("a=1&b=2").body(b"s".to_vec().into()).send().await.unwrap();
    c.copy_object().bucket("copies").key("copy").copy_source("copies/src").send().await.unwrap();
    assert_eq!(tags_of(&c, "copies", "copy", None).await, pairs(&[("a", "1"), ("b", "2")]), "COPY is the default");
    c.copy_object()
        .bucket("copies")
        .key("meta-replaced")
        .copy_source("copies/src")
        .metadata_directive(MetadataDirective::Replace)
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, "copies", "meta-replaced", None).await.len(), 2, "the metadata directive leaves tags alone");
    c.copy_object()
        .bucket("copies")
        .key("replaced")
        .copy_source("copies/src")
        .tagging_directive(TaggingDirective::Replace)
        .tagging("c=3")
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, "copies", "replaced", None).await, pairs(&[("c", "3")]));
    c.copy_object()
        .bucket("copies")
        .key("bare")
        .copy_source("copies/src")
        .tagging_directive(TaggingDirective::Replace)
        .send()
        .await
        .unwrap();
    assert!(tags_of(&c, "copies", "bare", None).await.is_empty(), "REPLACE without tags: none");
    let r = raw::send(
        srv.addr,
        "PUT",
        "/copies/x",
        &[("x-amz-copy-source", "/copies/src"), ("x-amz-tagging-directive", "MERGE")],
        vec![],
        Auth::root(EMPTY),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "InvalidArgument"));
    let r = raw::send(
        srv.addr,
        "PUT",
        "/copies/x",
        &[("x-amz-copy-source", "/copies/src"), ("x-amz-tagging-directive", "REPLACE"), ("x-amz-tagging", "a=1&a=2")],
        vec![],
        Auth::root(EMPTY),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "InvalidArgument"));
    assert!(c.head_object().bucket("copies").key("x").send().await.is_err(), "a refused copy writes nothing");
}

#[tokio::test]
async fn versions_carry_their_own_tags() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("ver-tags").send().await.unwrap();
    let on = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    c.put_bucket_versioning().bucket("ver-tags").versioning_configuration(on).send().await.unwrap();
    let v1 = c.put_object().bucket("ver-tags").key("k").tagging("v=1").body(b"1".to_vec().into()).send().await.unwrap();
    let v1 = v1.version_id().unwrap().to_owned();
    let v2 = c.put_object().bucket("ver-tags").key("k").body(b"2".to_vec().into()).send().await.unwrap();
    let v2 = v2.version_id().unwrap().to_owned();
    assert!(tags_of(&c, "ver-tags", "k", None).await.is_empty());
    assert_eq!(tags_of(&c, "ver-tags", "k", Some(&v1)).await, pairs(&[("v", "1")]));
    let out = c
        .put_object_tagging()
        .bucket("ver-tags")
        .key("k")
        .version_id(&v1)
        .tagging(tagging(&[("old", "yes")]))
        .send()
        .await
        .unwrap();
    assert_eq!(out.version_id(), Some(v1.as_str()));
    let got = c.get_object_tagging().bucket("ver-tags").key("k").version_id(&v1).send().await.unwrap();
    assert_eq!(got.version_id(), Some(v1.as_str()));
    assert!(tags_of(&c, "ver-tags", "k", Some(&v2)).await.is_empty(), "the current version is untouched");

    // A delete marker has no tags: 404 as the current version, 405 by its id.
    let marker = c.delete_object().bucket("ver-tags").key("k").send().await.unwrap().version_id.unwrap();
    let err = c.get_object_tagging().bucket("ver-tags").key("k").send().await.unwrap_err();
    assert_eq!((status(&err), code(&err)), (404, "NoSuchKey".to_owned()));
    let err = c.get_object_tagging().bucket("ver-tags").key("k").version_id(&marker).send().await.unwrap_err();
    assert_eq!(status(&err), 405);
    let err = c.put_object_tagging().bucket("ver-tags").key("k").tagging(tagging(&[])).send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");
    let missing = bleepstore::meta::new_version_id();
    let err = c.get_object_tagging().bucket("ver-tags").key("k").version_id(missing).send().await.unwrap_err();
    assert_eq!((status(&err), code(&err)), (404, "NoSuchVersion".to_owned()));
    assert_eq!(tags_of(&c, "ver-tags", "k", Some(&v1)).await, pairs(&[("old", "yes")]));
}

#[tokio::test]
async fn bad_tags_are_refused_with_s3s_codes() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("bad").send().await.unwrap();
    c.put_object().bucket("bad").key("k").tagging("keep=me").body(b"x".to_vec().into()).send().await.unwrap();
    let eleven: Vec<(String, String)> = (0..11).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let eleven_refs: Vec<(&str, &str)> = eleven.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let long_key = "k".repeat(129);
    let long_value = "v".repeat(257);
    let cases: Vec<(Tagging, u16, &str)> = vec![
        (tagging(&eleven_refs), 400, "BadRequest"),
        (tagging(&[(&long_key, "v")]), 400, "InvalidTag"),
        (tagging(&[("k", &long_value)]), 400, "InvalidTag"),
        (tagging(&[("k", "1"), ("k", "2")]), 400, "InvalidTag"),
        (tagging(&[("aws:owner", "me")]), 400, "InvalidTag"),
        (tagging(&[("semi;colon", "v")]), 400, "InvalidTag"),
    ];
    for (set, want_status, want_code) in cases {
        let err = c.put_object_tagging().bucket("bad").key("k").tagging(set).send().await.unwrap_err();
        assert_eq!((status(&err), code(&err)), (want_status, want_code.to_owned()));
    }
    let ten: Vec<(&str, &str)> = eleven_refs[..10].to_vec();
    c.put_object_tagging().bucket("bad").key("k").tagging(tagging(&ten)).send().await.unwrap();
    assert_eq!(tags_of(&c, "bad", "k", None).await.len(), 10, "ten is the limit, and allowed");

    let r =
        raw::send(srv.addr, "PUT", "/bad/k?tagging", &[], b"<Tagging><TagSet>".to_vec(), Auth::root(UNSIGNED)).await;
    assert_eq!((r.status, r.code()), (400, "MalformedXML"));
    let err = c.put_object_tagging().bucket("bad").key("nope").tagging(tagging(&[])).send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");

    // At write time: the header's own errors, and nothing written.
    let header_cases = [
        ("a=1&a=2", 400, "InvalidArgument"),
        ("a=%FF", 400, "InvalidArgument"),
        ("k0=&k1=&k2=&k3=&k4=&k5=&k6=&k7=&k8=&k9=&k10=", 400, "BadRequest"),
        ("aws%3Ax=1", 400, "InvalidTag"),
    ];
    for (header, want_status, want_code) in header_cases {
        let r =
            raw::send(srv.addr, "PUT", "/bad/new", &[("x-amz-tagging", header)], b"x".to_vec(), Auth::root(UNSIGNED))
                .await;
        assert_eq!((r.status, r.code()), (want_status, want_code), "{header}");
        let r =
            raw::send(srv.addr, "POST", "/bad/new?uploads", &[("x-amz-tagging", header)], vec![], Auth::root(EMPTY))
                .await;
        assert_eq!((r.status, r.code()), (want_status, want_code), "multipart {header}");
    }
    assert!(c.head_object().bucket("bad").key("new").send().await.is_err(), "refused writes store nothing");
    assert_eq!(tags_of(&c, "bad", "k", None).await.len(), 10);
}

#[tokio::test]
async fn bucket_tags() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.create_bucket().bucket("bucket-tags").send().await.unwrap();
    let err = c.get_bucket_tagging().bucket("bucket-tags").send().await.unwrap_err();
    assert_eq!((status(&err), code(&err)), (404, "NoSuchTagSet".to_owned()));
    let fifty: Vec<(String, String)> = (0..50).map(|i| (format!("cost-center-{i}"), format!("{i}"))).collect();
    let refs: Vec<(&str, &str)> = fifty.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    c.put_bucket_tagging().bucket("bucket-tags").tagging(tagging(&refs)).send().await.unwrap();
    let got = c.get_bucket_tagging().bucket("bucket-tags").send().await.unwrap();
    let got: Vec<(String, String)> = got.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
    assert_eq!(got, fifty, "fifty is the limit, kept in order");
    let mut more = refs.clone();
    more.push(("one-more", "x"));
    let err = c.put_bucket_tagging().bucket("bucket-tags").tagging(tagging(&more)).send().await.unwrap_err();
    assert_eq!((status(&err), code(&err)), (400, "BadRequest".to_owned()));
    let err = c
        .put_bucket_tagging()
        .bucket("bucket-tags")
        .tagging(tagging(&[("k", "1"), ("k", "2")]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidTag");
    assert_eq!(
        c.get_bucket_tagging().bucket("bucket-tags").send().await.unwrap().tag_set().len(),
        50,
        "a refused put changes nothing"
    );

    // Only the owner: anonymous callers are refused.
    let r = raw::send(srv.addr, "GET", "/bucket-tags?tagging", &[], vec![], Auth::Anonymous).await;
    assert_eq!((r.status, r.code()), (403, "AccessDenied"));

    let r = raw::send(srv.addr, "DELETE", "/bucket-tags?tagging", &[], vec![], Auth::root(EMPTY)).await;
    assert_eq!(r.status, 204);
    let err = c.get_bucket_tagging().bucket("bucket-tags").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchTagSet");
    let err = c.get_bucket_tagging().bucket("no-such-bucket").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");

    // Tags go with their bucket.
    c.put_bucket_tagging().bucket("bucket-tags").tagging(tagging(&[("a", "1")])).send().await.unwrap();
    c.delete_bucket().bucket("bucket-tags").send().await.unwrap();
    c.create_bucket().bucket("bucket-tags").send().await.unwrap();
    assert_eq!(code(&c.get_bucket_tagging().bucket("bucket-tags").send().await.unwrap_err()), "NoSuchTagSet");
}

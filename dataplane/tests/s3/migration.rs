//! A store written by the release before versioning (schema 4: `tests/fixtures/store-v4`, made
//! by that release's binary through boto3: an inline object, a blob, a one-part multipart
//! object, a public-read object, an unfinished upload) opens with today's code: the schema is
//! migrated in place at start-up and everything reads back, as null versions.

use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};

use crate::common::{body_bytes, TestServer};

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[tokio::test]
async fn a_store_from_before_versioning_migrates_in_place() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    copy_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v4"), &data);
    let srv = TestServer::start_with(|c| {
        c.data_dir = data.clone();
        // The fixture's blobs are files on the local volume.
        c.backend = bleepstore::config::BackendConfig::default();
    })
    .await;
    let c = srv.client();
    let listed = c.list_objects_v2().bucket("legacy").send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["dir/blob.bin", "inline.txt", "multi.bin", "public.txt"]);
    let inline = c.get_object().bucket("legacy").key("inline.txt").send().await.unwrap();
    assert_eq!(inline.metadata().unwrap()["kept"], "yes");
    assert_eq!(body_bytes(inline).await, b"small and inline");
    let blob = c.get_object().bucket("legacy").key("dir/blob.bin").send().await.unwrap();
    let expected: Vec<u8> = (0..160).flat_map(|_| 0..=255u8).collect();
    assert_eq!(body_bytes(blob).await, expected);
    let multi = c.get_object().bucket("legacy").key("multi.bin").send().await.unwrap();
    assert!(multi.e_tag().unwrap().ends_with("-1\""));
    assert_eq!(body_bytes(multi).await, b"one part only");
    let anonymous = reqwest::get(format!("http://{}/legacy/public.txt", srv.addr)).await.unwrap();
    assert_eq!(anonymous.status(), 200, "ACLs survive");
    let uploads = c.list_multipart_uploads().bucket("legacy").send().await.unwrap();
    assert_eq!(uploads.uploads().len(), 1, "the unfinished upload is still there");
    // Every object is a null version; versioning can be turned on and keeps them.
    let versions = c.list_object_versions().bucket("legacy").send().await.unwrap();
    assert!(versions.versions().iter().all(|v| v.version_id() == Some("null") && v.is_latest() == Some(true)));
    let enabled = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    c.put_bucket_versioning().bucket("legacy").versioning_configuration(enabled).send().await.unwrap();
    let new = c.put_object().bucket("legacy").key("inline.txt").body(b"v2".to_vec().into()).send().await.unwrap();
    assert!(new.version_id().is_some_and(|v| v != "null"));
    let old = c.get_object().bucket("legacy").key("inline.txt").version_id("null").send().await.unwrap();
    assert_eq!(body_bytes(old).await, b"small and inline");
    let version: i64 =
        srv.state.db.write_blocking(|conn| Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)).unwrap();
    assert_eq!(version, 7, "migrated to the current schema");
    // A migrated bucket takes tags (the table migration 7 adds).
    let tags = aws_sdk_s3::types::Tagging::builder()
        .tag_set(aws_sdk_s3::types::Tag::builder().key("migrated").value("yes").build().unwrap())
        .build()
        .unwrap();
    c.put_bucket_tagging().bucket("legacy").tagging(tags).send().await.unwrap();
    assert_eq!(c.get_bucket_tagging().bucket("legacy").send().await.unwrap().tag_set().len(), 1);
}

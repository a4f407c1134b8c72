//! ListObjects v1 and v2: a 2,500-key walk with a delimiter through many pages, markers,
//! URL encoding, and the parameters' error cases.

use std::collections::BTreeSet;

use aws_sdk_s3::types::{Delete, EncodingType, ObjectIdentifier};

use crate::common::{code, TestServer};
use crate::raw::{self, Auth};

/// 2,500 keys: 50 "directories" of 45 files, 250 top-level files, and a few nested deeper.
fn keys() -> Vec<String> {
    let mut keys = Vec::new();
    for d in 0..50 {
        for f in 0..45 {
            keys.push(format!("dir{d:02}/file{f:03}"));
        }
    }
    for f in 0..245 {
        keys.push(format!("top{f:03}"));
    }
    for f in 0..5 {
        keys.push(format!("dir00/deep/x{f}"));
    }
    keys
}

async fn fill(srv: &TestServer, bucket: &str, keys: &[String]) {
    let c = srv.client();
    c.create_bucket().bucket(bucket).send().await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in keys.chunks(100) {
        let c = c.clone();
        let (bucket, chunk) = (bucket.to_owned(), chunk.to_vec());
        tasks.spawn(async move {
            for k in chunk {
                c.put_object().bucket(&bucket).key(&k).body(k.as_bytes().to_vec().into()).send().await.unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
}

#[tokio::test]
async fn v2_walk_with_delimiter_sees_every_key_and_prefix_once() {
    let srv = TestServer::start().await;
    let all = keys();
    assert_eq!(all.len(), 2500);
    fill(&srv, "walk", &all).await;
    let c = srv.client();
    for max in [7, 100, 1000] {
        let (mut seen_keys, mut seen_prefixes) = (Vec::new(), Vec::new());
        let mut token = None;
        let mut pages = 0;
        loop {
            let page = c
                .list_objects_v2()
                .bucket("walk")
                .delimiter("/")
                .max_keys(max)
                .set_continuation_token(token)
                .send()
                .await
                .unwrap();
            pages += 1;
            let n = page.contents().len() + page.common_prefixes().len();
            assert!(n <= max as usize);
            assert_eq!(page.key_count(), Some(n as i32));
            seen_keys.extend(page.contents().iter().map(|o| o.key().unwrap().to_owned()));
            seen_prefixes.extend(page.common_prefixes().iter().map(|p| p.prefix().unwrap().to_owned()));
            if page.is_truncated() != Some(true) {
                assert!(page.next_continuation_token().is_none());
                break;
            }
            token = page.next_continuation_token().map(String::from);
        }
        let want_keys: Vec<String> = all.iter().filter(|k| !k.contains('/')).cloned().collect();
        let want_prefixes: Vec<String> = (0..50).map(|d| format!("dir{d:02}/")).collect();
        assert_eq!(seen_keys, want_keys, "max {max}");
        assert_eq!(seen_prefixes, want_prefixes, "max {max}");
        assert!(pages > 1 || max == 1000);
    }
    // Without a delimiter every key comes back exactly once, in order.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = c.list_objects_v2().bucket("walk").max_keys(333).set_continuation_token(token).send().await.unwrap();
        seen.extend(page.contents().iter().map(|o| o.key().unwrap().to_owned()));
        token = page.next_continuation_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 2500);
    // Under a prefix, the nested directory rolls up.
    let page = c.list_objects_v2().bucket("walk").prefix("dir00/").delimiter("/").send().await.unwrap();
    assert_eq!(page.contents().len(), 45);
    assert_eq!(page.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect::<Vec<_>>(), ["dir00/deep/"]);
}

#[tokio::test]
async fn v1_markers_and_next_marker() {
    let srv = TestServer::start().await;
    let all: Vec<String> =
        ["asdf", "boo/bar", "boo/baz/xyzzy", "cquux/thud", "cquux/bla"].iter().map(|s| s.to_string()).collect();
    fill(&srv, "v1v", &all).await;
    let c = srv.client();
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page =
            c.list_objects().bucket("v1v").delimiter("/").max_keys(1).set_marker(marker.clone()).send().await.unwrap();
        assert_eq!(page.marker().unwrap_or(""), marker.as_deref().unwrap_or(""));
        names.extend(page.contents().iter().map(|o| o.key().unwrap().to_owned()));
        names.extend(page.common_prefixes().iter().map(|p| p.prefix().unwrap().to_owned()));
        if page.is_truncated() != Some(true) {
            break;
        }
        marker = page.next_marker().map(String::from);
        assert!(marker.is_some(), "NextMarker is returned with a delimiter");
    }
    assert_eq!(names, ["asdf", "boo/", "cquux/"]);
    // Without a delimiter there is no NextMarker; the last key is the marker.
    let page = c.list_objects().bucket("v1v").max_keys(2).send().await.unwrap();
    assert_eq!(page.is_truncated(), Some(true));
    assert!(page.next_marker().is_none());
    let last = page.contents().last().unwrap().key().unwrap().to_owned();
    let page = c.list_objects().bucket("v1v").marker(&last).send().await.unwrap();
    assert_eq!(page.contents().len(), 3);
    assert!(page.contents()[0].owner().is_some(), "v1 always returns Owner");
    let page = c.list_objects_v2().bucket("v1v").start_after("boo/bar").send().await.unwrap();
    assert_eq!(page.contents().first().and_then(|o| o.key()), Some("boo/baz/xyzzy"));
    assert_eq!(page.start_after(), Some("boo/bar"));
    assert!(page.contents()[0].owner().is_none(), "v2 returns Owner only with fetch-owner");
    let page = c.list_objects_v2().bucket("v1v").fetch_owner(true).send().await.unwrap();
    assert!(page.contents()[0].owner().is_some());
    let page = c.list_objects_v2().bucket("v1v").max_keys(0).send().await.unwrap();
    assert!(page.contents().is_empty());
    assert_eq!(page.is_truncated(), Some(false));
}

#[tokio::test]
async fn url_encoding_type_and_argument_errors() {
    let srv = TestServer::start().await;
    let keys: Vec<String> = ["a b/c+d", "e&f<g>", "ü/x"].iter().map(|s| s.to_string()).collect();
    fill(&srv, "enc", &keys).await;
    let r = raw::send(
        srv.addr,
        "GET",
        "/enc?list-type=2&encoding-type=url&delimiter=%2F",
        &[],
        vec![],
        Auth::root(bleepstore::auth::sigv4::EMPTY_SHA256),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<Prefix>a%20b/</Prefix>"), "{}", r.body);
    assert!(r.body.contains("<Key>e%26f%3Cg%3E</Key>"), "{}", r.body);
    assert!(r.body.contains("<Prefix>%C3%BC/</Prefix>"), "{}", r.body);
    assert!(r.body.contains("<EncodingType>url</EncodingType>"));
    let c = srv.client();
    let page = c.list_objects_v2().bucket("enc").encoding_type(EncodingType::Url).send().await.unwrap();
    assert_eq!(page.contents().len(), 3);
    for (query, what) in [
        ("list-type=2&max-keys=-1", "max-keys"),
        ("list-type=2&max-keys=ten", "max-keys"),
        ("list-type=2&encoding-type=base64", "encoding-type"),
        ("list-type=2&continuation-token=%25%25%25", "continuation-token"),
        ("list-type=3", "list-type"),
        ("list-type=2&prefix=a&prefix=b", "prefix"),
    ] {
        let r = raw::send(
            srv.addr,
            "GET",
            &format!("/enc?{query}"),
            &[],
            vec![],
            Auth::root(bleepstore::auth::sigv4::EMPTY_SHA256),
        )
        .await;
        assert_eq!((r.status, r.code()), (400, "InvalidArgument"), "{query}");
        assert!(r.body.contains(&format!("<ArgumentName>{what}</ArgumentName>")), "{query}: {}", r.body);
    }
    let err = c.list_objects_v2().bucket("missing-bucket").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");
    // An emptied bucket lists nothing.
    let objects: Vec<ObjectIdentifier> =
        keys.iter().map(|k| ObjectIdentifier::builder().key(k).build().unwrap()).collect();
    c.delete_objects()
        .bucket("enc")
        .delete(Delete::builder().set_objects(Some(objects)).build().unwrap())
        .send()
        .await
        .unwrap();
    assert!(c.list_objects_v2().bucket("enc").send().await.unwrap().contents().is_empty());
}

//! Versions as S3 defines them per bucket state, checked on the metadata alone: which rows are
//! current, which noncurrent, what each write frees (and queues for deletion), and listing.

use super::*;
use crate::meta::objects::tests::{bucket, obj};
use crate::meta::test_support::db;
use crate::meta::{ListQuery, ListStart, VersionItem, VersionsQuery};

async fn put(db: &Db, key: &str, blob: &str) -> (PutOutcome, ObjectRow) {
    db.put_object(obj(key, blob, &format!("e-{blob}")), None, PutCondition::none()).await.unwrap()
}

async fn put_version_id(db: &Db, key: &str, blob: &str) -> String {
    match put(db, key, blob).await {
        (PutOutcome::Stored(w), row) => {
            assert_eq!(w.version_id, row.version_id);
            w.version_id
        }
        (other, _) => panic!("not stored: {other:?}"),
    }
}

async fn delete(db: &Db, key: &str, version: Option<&str>) -> Deleted {
    match db.delete_object("b", key, version.map(str::to_owned), DeleteCondition::default(), "o").await.unwrap() {
        DeleteOutcome::Deleted(d) => d,
        other => panic!("not deleted: {other:?}"),
    }
}

async fn versions(db: &Db, key: &str) -> Vec<(String, bool, bool)> {
    let q = VersionsQuery { prefix: key.into(), delimiter: None, key_marker: None, version_id_marker: None, max: 1000 };
    db.list_object_versions("b", q)
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|i| match i {
            VersionItem::Version(v) if v.key == key => Some((v.version_id, v.is_latest, v.delete_marker)),
            _ => None,
        })
        .collect()
}

async fn queued(db: &Db) -> Vec<String> {
    db.pending_deletions(100).await.unwrap().into_iter().map(|(id, _)| id).collect()
}

#[tokio::test]
async fn unversioned_writes_replace_and_free() {
    let (db, _dir) = db();
    assert_eq!(put(&db, "k", "b1").await.0, PutOutcome::NoSuchBucket);
    bucket(&db).await;
    let (out, row) = put(&db, "k", "b1").await;
    assert_eq!(out, PutOutcome::Stored(Written { version_id: NULL_VERSION.into(), versioned: false, released: 0 }));
    assert_eq!(db.get_object("b", "k", None).await.unwrap().unwrap(), row);
    let (out, _) = put(&db, "k", "b2").await;
    assert_eq!(out, PutOutcome::Stored(Written { version_id: NULL_VERSION.into(), versioned: false, released: 1 }));
    assert_eq!(queued(&db).await, ["b1"]);
    assert_eq!(delete(&db, "k", None).await, Deleted { version_id: None, delete_marker: false, released: 1 });
    assert_eq!(delete(&db, "k", None).await.released, 0, "deleting nothing is no error");
    assert_eq!(queued(&db).await.len(), 2);
    assert_eq!(versions(&db, "k").await, vec![]);
}

#[tokio::test]
async fn conditional_puts_see_the_current_object() {
    let (db, _dir) = db();
    bucket(&db).await;
    let cond = |m: Option<&str>, n: Option<&str>| PutCondition {
        if_match: m.map(str::to_owned),
        if_none_match: n.map(str::to_owned),
    };
    let put_if = |c: PutCondition, blob: &'static str| {
        let db = db.clone();
        async move { db.put_object(obj("k", blob, &format!("e-{blob}")), None, c).await.unwrap().0 }
    };
    assert_eq!(put_if(cond(Some("x"), None), "b1").await, PutOutcome::NoSuchKey);
    assert!(matches!(put_if(cond(None, Some("*")), "b1").await, PutOutcome::Stored(_)));
    assert_eq!(put_if(cond(None, Some("*")), "b2").await, PutOutcome::PreconditionFailed);
    assert_eq!(put_if(cond(Some("\"zz\""), None), "b2").await, PutOutcome::PreconditionFailed);
    assert!(matches!(put_if(cond(Some("\"e-b1\""), None), "b2").await, PutOutcome::Stored(_)));
    assert!(db.blob_in_use("b2").await.unwrap());
    assert!(!db.blob_in_use("b1").await.unwrap());
    // A delete marker is no object to the conditions.
    db.set_versioning("b", Versioning::Enabled).await.unwrap();
    delete(&db, "k", None).await;
    assert!(matches!(put_if(cond(None, Some("*")), "b3").await, PutOutcome::Stored(_)));
}

async fn inline_left(db: &Db) -> i64 {
    db.read(|conn| Ok(conn.query_row("SELECT count(*) FROM inline_data", [], |r| r.get::<_, i64>(0))?)).await.unwrap()
}

#[tokio::test]
async fn inline_bytes_live_and_die_with_their_version() {
    let (db, _dir) = db();
    bucket(&db).await;
    let inline = |id: &str| ObjectRow { inline: true, ..obj("k", id, "e") };
    let bytes = bytes::Bytes::from_static(b"abc");
    // A row marked inline needs its bytes, and bytes need a row marked inline.
    assert!(db.put_object(inline("i0"), None, PutCondition::none()).await.is_err());
    assert!(db.put_object(obj("k", "b0", "e"), Some(bytes.clone()), PutCondition::none()).await.is_err());
    db.put_object(inline("i1"), Some(bytes.clone()), PutCondition::none()).await.unwrap();
    let (row, layout) = db.get_object_layout("b", "k", None).await.unwrap().unwrap();
    assert!(row.inline);
    assert_eq!(layout, crate::meta::Layout::Inline(bytes.clone()));
    // Inline replaced by inline, then by a blob: the old bytes go at once, nothing is queued.
    db.put_object(inline("i2"), Some(bytes::Bytes::from_static(b"xyz")), PutCondition::none()).await.unwrap();
    db.put_object(obj("k", "b1", "e"), None, PutCondition::none()).await.unwrap();
    assert!(queued(&db).await.is_empty());
    assert_eq!(inline_left(&db).await, 0);
    // In a versioned bucket an inline version keeps its bytes while it is noncurrent.
    db.set_versioning("b", Versioning::Enabled).await.unwrap();
    let (_, v) = db.put_object(inline("i3"), Some(bytes.clone()), PutCondition::none()).await.unwrap();
    put(&db, "k", "b2").await;
    assert_eq!(inline_left(&db).await, 1);
    assert_eq!(
        db.get_object_layout("b", "k", Some(&v.version_id)).await.unwrap().unwrap().1,
        crate::meta::Layout::Inline(bytes)
    );
    delete(&db, "k", Some(&v.version_id)).await;
    assert_eq!(inline_left(&db).await, 0);
}

#[tokio::test]
async fn enabled_buckets_keep_every_version_and_markers_hide_them() {
    let (db, _dir) = db();
    bucket(&db).await;
    db.set_versioning("b", Versioning::Enabled).await.unwrap();
    let v1 = put_version_id(&db, "k", "b1").await;
    let v2 = put_version_id(&db, "k", "b2").await;
    assert!(is_version_id(&v1) && v1 != v2 && v1 < v2, "ids are unique and sort by time: {v1} {v2}");
    assert!(queued(&db).await.is_empty(), "no version was freed");
    assert_eq!(versions(&db, "k").await, vec![(v2.clone(), true, false), (v1.clone(), false, false)]);
    assert_eq!(db.get_object("b", "k", Some(&v1)).await.unwrap().unwrap().blob_id, "b1");
    // A delete without a version adds a marker: the key reads as absent, its versions stay.
    let d = delete(&db, "k", None).await;
    let marker = d.version_id.clone().unwrap();
    assert!(d.delete_marker && d.released == 0);
    assert!(db.get_object("b", "k", None).await.unwrap().unwrap().delete_marker);
    let listed = db
        .list_objects("b", ListQuery { prefix: String::new(), delimiter: None, start: ListStart::Beginning, max: 10 });
    assert!(listed.await.unwrap().items.is_empty(), "a key behind a marker is not listed");
    assert_eq!(
        versions(&db, "k").await,
        vec![(marker.clone(), true, true), (v2.clone(), false, false), (v1.clone(), false, false)]
    );
    // Deleting the marker by id restores the previous version.
    let d = delete(&db, "k", Some(&marker)).await;
    assert!(d.delete_marker && d.released == 0);
    assert_eq!(db.get_object("b", "k", None).await.unwrap().unwrap().version_id, v2);
    // Deleting the current version by id promotes the one before; its blob is freed.
    assert_eq!(delete(&db, "k", Some(&v2)).await.released, 1);
    assert_eq!(queued(&db).await, ["b2"]);
    assert_eq!(versions(&db, "k").await, vec![(v1.clone(), true, false)]);
    // A version that does not exist deletes nothing.
    assert_eq!(delete(&db, "k", Some(&new_version_id())).await.released, 0);
    assert_eq!(delete(&db, "k", Some(&v1)).await.released, 1);
    assert!(db.get_object("b", "k", None).await.unwrap().is_none());
    assert!(matches!(db.delete_bucket("b").await.unwrap(), crate::meta::DeleteBucketOutcome::Deleted));
}

#[tokio::test]
async fn suspended_buckets_replace_the_null_version_only() {
    let (db, _dir) = db();
    bucket(&db).await;
    put(&db, "k", "b0").await; // the null version from before versioning
    db.set_versioning("b", Versioning::Enabled).await.unwrap();
    let v1 = put_version_id(&db, "k", "b1").await;
    assert_eq!(versions(&db, "k").await, vec![(v1.clone(), true, false), (NULL_VERSION.into(), false, false)]);
    db.set_versioning("b", Versioning::Suspended).await.unwrap();
    // A write makes a new null version: the old (noncurrent) null one is freed, v1 is kept.
    let (out, _) = put(&db, "k", "b2").await;
    assert_eq!(out, PutOutcome::Stored(Written { version_id: NULL_VERSION.into(), versioned: true, released: 1 }));
    assert_eq!(queued(&db).await, ["b0"]);
    // Another write replaces the current null version.
    assert!(matches!(put(&db, "k", "b3").await.0, PutOutcome::Stored(Written { released: 1, .. })));
    assert_eq!(versions(&db, "k").await, vec![(NULL_VERSION.into(), true, false), (v1.clone(), false, false)]);
    // A delete makes a null delete marker, freeing the null version.
    let d = delete(&db, "k", None).await;
    assert_eq!(d, Deleted { version_id: Some(NULL_VERSION.into()), delete_marker: true, released: 1 });
    assert_eq!(versions(&db, "k").await, vec![(NULL_VERSION.into(), true, true), (v1, false, false)]);
    assert_eq!(queued(&db).await, ["b0", "b2", "b3"]);
}

#[tokio::test]
async fn listing_versions_pages_and_rolls_up() {
    let (db, _dir) = db();
    bucket(&db).await;
    db.set_versioning("b", Versioning::Enabled).await.unwrap();
    let mut expected = Vec::new();
    for key in ["a", "d/1", "d/2", "z"] {
        let mut ids = Vec::new();
        for n in 0..3 {
            ids.push(put_version_id(&db, key, &format!("{key}-{n}")).await);
        }
        ids.reverse();
        expected.extend(ids.into_iter().map(|id| (key.to_owned(), id)));
    }
    // Page through two entries at a time: every version once, newest first within a key.
    let mut seen = Vec::new();
    let (mut key_marker, mut version_id_marker) = (None, None);
    loop {
        let q = VersionsQuery { prefix: String::new(), delimiter: None, key_marker, version_id_marker, max: 2 };
        let page = db.list_object_versions("b", q).await.unwrap();
        for item in &page.items {
            let VersionItem::Version(v) = item else { panic!("no delimiter, no prefixes") };
            seen.push((v.key.clone(), v.version_id.clone()));
        }
        if !page.truncated {
            break;
        }
        (key_marker, version_id_marker) = (page.next_key_marker, page.next_version_id_marker);
    }
    assert_eq!(seen, expected);
    // With a delimiter, `d/` is one entry and the scan jumps past its six versions.
    let q = VersionsQuery {
        prefix: String::new(),
        delimiter: Some("/".into()),
        key_marker: None,
        version_id_marker: None,
        max: 4,
    };
    let page = db.list_object_versions("b", q).await.unwrap();
    assert_eq!(page.items.len(), 4);
    assert_eq!(page.items[3], VersionItem::Prefix("d/".into()));
    assert!(page.truncated);
    let q = VersionsQuery {
        prefix: String::new(),
        delimiter: Some("/".into()),
        key_marker: page.next_key_marker,
        version_id_marker: page.next_version_id_marker,
        max: 10,
    };
    let rest = db.list_object_versions("b", q).await.unwrap();
    assert!(rest.items.iter().all(|i| matches!(i, VersionItem::Version(v) if v.key == "z")), "{:?}", rest.items);
    assert_eq!(rest.items.len(), 3);
    // A page's version marker deleted before the next page is asked for (the "empty a bucket"
    // loop does that): the next page starts at the key's newest remaining version.
    let q = VersionsQuery { prefix: "z".into(), delimiter: None, key_marker: None, version_id_marker: None, max: 1 };
    let first = db.list_object_versions("b", q).await.unwrap();
    let gone = first.next_version_id_marker.clone().unwrap();
    delete(&db, "z", Some(&gone)).await;
    let q = VersionsQuery {
        prefix: "z".into(),
        delimiter: None,
        key_marker: first.next_key_marker,
        version_id_marker: Some(gone),
        max: 10,
    };
    assert_eq!(db.list_object_versions("b", q).await.unwrap().items.len(), 2, "nothing skipped");
    // The admin purge frees every version.
    assert_eq!(db.purge_bucket("b").await.unwrap(), 11);
    assert_eq!(queued(&db).await.len(), 12);
}

#[test]
fn version_ids_strictly_increase_even_within_a_millisecond() {
    let ids: Vec<String> = (0..2000).map(|_| new_version_id()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "every id sorts after the one before");
    assert!(ids.iter().all(|id| is_version_id(id)));
}

//! Listing a bucket in key order with prefix and delimiter, as index range seeks: a common
//! prefix is emitted once and the scan jumps past all keys under it, so a page costs
//! O(page size) seeks whatever the bucket holds.

use rusqlite::{params, Connection};

use super::{Db, MetaResult};

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListStart {
    Beginning,
    /// Strictly after this key (a marker, `start-after`, or the last key of a page).
    After(Vec<u8>),
    /// At or after this key (the first key past a common prefix).
    From(Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub start: ListStart,
    pub max: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListItem {
    Object { key: String, size: u64, etag: String, last_modified_ms: i64, owner: String },
    Prefix(String),
}

impl ListItem {
    pub fn name(&self) -> &str {
        match self {
            Self::Object { key, .. } => key,
            Self::Prefix(p) => p,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ListPage {
    pub items: Vec<ListItem>,
    pub truncated: bool,
    /// Where the next page starts when `truncated`.
    pub next: ListStart,
}

/// The smallest byte string greater than every string starting with `bytes`.
pub(super) fn successor(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = bytes.to_vec();
    while let Some(last) = out.pop() {
        if last < 0xff {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

/// The common prefix `key` rolls up into, if any.
pub(super) fn common_prefix<'a>(key: &'a str, prefix: &str, delimiter: Option<&str>) -> Option<&'a str> {
    let delimiter = delimiter?;
    let rest = key.strip_prefix(prefix)?;
    rest.find(delimiter).map(|pos| &key[..prefix.len() + pos + delimiter.len()])
}

impl ListQuery {
    /// The start position for a v1 `marker` / v2 `start-after`: a marker that is itself a
    /// common prefix skips every key under it, as the marker S3 returned for it means.
    pub fn start_after(marker: &str, prefix: &str, delimiter: Option<&str>) -> ListStart {
        match common_prefix(marker, prefix, delimiter) {
            Some(cp) if cp == marker => successor(marker.as_bytes()).map_or(ListStart::Beginning, ListStart::From),
            _ => ListStart::After(marker.as_bytes().to_vec()),
        }
    }
}

fn fetch(
    conn: &Connection,
    bucket: &str,
    lower: &[u8],
    inclusive: bool,
    upper: Option<&[u8]>,
    limit: usize,
) -> MetaResult<Vec<ListItem>> {
    let op = if inclusive { ">=" } else { ">" };
    let upper_clause = if upper.is_some() { "AND key < ?3" } else { "AND ?3 IS NULL" };
    let sql = format!(
        "SELECT key, size, etag, last_modified, owner FROM objects
         WHERE bucket = ?1 AND key {op} ?2 {upper_clause} AND delete_marker = 0 ORDER BY key LIMIT ?4"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![bucket, lower, upper, limit as i64], |r| {
        Ok(ListItem::Object {
            key: super::key_column(r, 0)?,
            size: r.get::<_, i64>(1)? as u64,
            etag: r.get(2)?,
            last_modified_ms: r.get(3)?,
            owner: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn list(conn: &Connection, bucket: &str, q: &ListQuery) -> MetaResult<ListPage> {
    let mut items = Vec::new();
    let upper = if q.prefix.is_empty() { None } else { successor(q.prefix.as_bytes()) };
    let (mut lower, mut inclusive) = match &q.start {
        ListStart::Beginning => (Vec::new(), true),
        ListStart::After(k) => (k.clone(), false),
        ListStart::From(k) => (k.clone(), true),
    };
    if lower.as_slice() < q.prefix.as_bytes() {
        (lower, inclusive) = (q.prefix.as_bytes().to_vec(), true);
    }
    let mut next = q.start.clone();
    if q.max == 0 {
        return Ok(ListPage { items, truncated: false, next });
    }
    'scan: loop {
        let want = q.max - items.len() + 1;
        let rows = fetch(conn, bucket, &lower, inclusive, upper.as_deref(), want)?;
        let exhausted = rows.len() < want;
        for row in rows {
            if items.len() == q.max {
                return Ok(ListPage { items, truncated: true, next });
            }
            if let Some(cp) = common_prefix(row.name(), &q.prefix, q.delimiter.as_deref()) {
                let cp = cp.to_owned();
                match successor(cp.as_bytes()) {
                    Some(s) => {
                        (lower, inclusive) = (s.clone(), true);
                        next = ListStart::From(s);
                        items.push(ListItem::Prefix(cp));
                        continue 'scan;
                    }
                    None => {
                        items.push(ListItem::Prefix(cp));
                        break 'scan;
                    }
                }
            }
            (lower, inclusive) = (row.name().as_bytes().to_vec(), false);
            next = ListStart::After(lower.clone());
            items.push(row);
        }
        if exhausted {
            break;
        }
    }
    Ok(ListPage { items, truncated: false, next })
}

impl Db {
    pub async fn list_objects(&self, bucket: &str, query: ListQuery) -> MetaResult<ListPage> {
        let bucket = bucket.to_owned();
        self.read(move |conn| list(conn, &bucket, &query)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::test_support::db;
    use crate::meta::{BucketRow, ObjectMeta, ObjectRow, PutCondition};

    async fn fill(keys: &[&str]) -> (Db, tempfile::TempDir) {
        let (db, dir) = db();
        db.create_bucket(BucketRow {
            name: "b".into(),
            region: "r".into(),
            owner: "o".into(),
            acl: "private".into(),
            created_ms: 0,
            versioning: crate::meta::Versioning::Unversioned,
        })
        .await
        .unwrap();
        for (i, k) in keys.iter().enumerate() {
            let row = ObjectRow {
                bucket: "b".into(),
                key: (*k).into(),
                blob_id: format!("blob{i}"),
                size: 1,
                etag: "e".into(),
                last_modified_ms: 0,
                meta: ObjectMeta::default(),
                owner: "o".into(),
                acl: "private".into(),
                parts_count: 0,
                inline: false,
                version_id: crate::meta::NULL_VERSION.into(),
                seq: 0,
                delete_marker: false,
            };
            db.put_object(row, None, PutCondition::none()).await.unwrap();
        }
        (db, dir)
    }

    fn names(page: &ListPage) -> Vec<&str> {
        page.items.iter().map(ListItem::name).collect()
    }

    async fn walk(db: &Db, prefix: &str, delimiter: Option<&str>, max: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut start = ListStart::Beginning;
        loop {
            let q = ListQuery { prefix: prefix.into(), delimiter: delimiter.map(Into::into), start, max };
            let page = db.list_objects("b", q).await.unwrap();
            out.extend(names(&page).into_iter().map(String::from));
            if !page.truncated {
                return out;
            }
            start = page.next;
        }
    }

    #[tokio::test]
    async fn delimiter_rolls_up_and_pages() {
        let keys = ["asdf", "boo/bar", "boo/baz/xyzzy", "cquux/bla", "cquux/thud", "z"];
        let (db, _dir) = fill(&keys).await;
        for max in 1..=7 {
            assert_eq!(walk(&db, "", Some("/"), max).await, ["asdf", "boo/", "cquux/", "z"], "max {max}");
            assert_eq!(walk(&db, "", None, max).await, keys, "max {max}");
            assert_eq!(walk(&db, "boo/", Some("/"), max).await, ["boo/bar", "boo/baz/"], "max {max}");
        }
        let q = ListQuery { prefix: String::new(), delimiter: Some("/".into()), start: ListStart::Beginning, max: 0 };
        let page = db.list_objects("b", q).await.unwrap();
        assert!(page.items.is_empty() && !page.truncated);
    }

    #[tokio::test]
    async fn marker_that_is_a_common_prefix_skips_it() {
        let (db, _dir) = fill(&["asdf", "boo/bar", "boo/baz/xyzzy", "cquux/bla"]).await;
        let start = ListQuery::start_after("boo/", "", Some("/"));
        let q = ListQuery { prefix: String::new(), delimiter: Some("/".into()), start, max: 10 };
        assert_eq!(names(&db.list_objects("b", q).await.unwrap()), ["cquux/"]);
        let start = ListQuery::start_after("boo/bar", "", None);
        let q = ListQuery { prefix: String::new(), delimiter: None, start, max: 10 };
        assert_eq!(names(&db.list_objects("b", q).await.unwrap()), ["boo/baz/xyzzy", "cquux/bla"]);
    }

    #[test]
    fn successor_bytes() {
        assert_eq!(successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(successor(&[0x61, 0xff]), Some(vec![0x62]));
        assert_eq!(successor(&[0xff]), None);
    }
}

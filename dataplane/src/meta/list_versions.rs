//! ListObjectVersions: every version and delete marker in key order, newest first within a
//! key, as bounded index scans of `objects` (the current versions) and `object_versions`
//! merged; a common prefix is emitted once and the scan jumps past every version under it.

use rusqlite::{params, Connection};

use super::list::{common_prefix, successor};
use super::{key_column, Db, MetaResult};

/// One entry of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionItem {
    Version(VersionEntry),
    Prefix(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionEntry {
    pub key: String,
    pub version_id: String,
    pub is_latest: bool,
    pub delete_marker: bool,
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: i64,
    pub owner: String,
    seq: i64,
}

#[derive(Debug, Clone)]
pub struct VersionsQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub version_id_marker: Option<String>,
    pub max: usize,
}

#[derive(Debug, Clone, Default)]
pub struct VersionsPage {
    pub items: Vec<VersionItem>,
    pub truncated: bool,
    /// Where the next page starts when `truncated`: the last key (or common prefix) of this
    /// page, and the last version id when the page ended inside a key.
    pub next_key_marker: Option<String>,
    pub next_version_id_marker: Option<String>,
}

/// A scan position: entries with `key` > `.0`, or equal to it with a sequence below `.1`.
type Position = (Vec<u8>, i64);

const FROM: i64 = i64::MAX;
const AFTER: i64 = i64::MIN;

fn fetch(
    conn: &Connection,
    bucket: &str,
    from: &Position,
    upper: Option<&[u8]>,
    limit: usize,
) -> MetaResult<Vec<VersionEntry>> {
    let columns = "key, version_id, seq, delete_marker, size, etag, last_modified, owner";
    let range = "bucket = ?1 AND key >= ?2 AND NOT (key = ?2 AND seq >= ?3) AND (?4 IS NULL OR key < ?4)";
    let sql = format!(
        "SELECT * FROM (SELECT {columns}, 1 AS latest FROM objects WHERE {range} ORDER BY key LIMIT ?5)
         UNION ALL
         SELECT * FROM (SELECT {columns}, 0 AS latest FROM object_versions WHERE {range} ORDER BY key, seq DESC LIMIT ?5)
         ORDER BY key, seq DESC LIMIT ?5"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![bucket, from.0, from.1, upper, limit as i64], |r| {
        Ok(VersionEntry {
            key: key_column(r, 0)?,
            version_id: r.get(1)?,
            seq: r.get(2)?,
            delete_marker: r.get(3)?,
            size: r.get::<_, i64>(4)? as u64,
            etag: r.get(5)?,
            last_modified_ms: r.get(6)?,
            owner: r.get(7)?,
            is_latest: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The sequence of `version_id` of `key`, if that version exists.
fn seq_of(conn: &Connection, bucket: &str, key: &str, version_id: &str) -> MetaResult<Option<i64>> {
    for table in ["objects", "object_versions"] {
        let mut stmt = conn
            .prepare_cached(&format!("SELECT seq FROM {table} WHERE bucket = ?1 AND key = ?2 AND version_id = ?3"))?;
        let mut rows = stmt.query_map(params![bucket, key.as_bytes(), version_id], |r| r.get::<_, i64>(0))?;
        if let Some(seq) = rows.next() {
            return Ok(Some(seq?));
        }
    }
    Ok(None)
}

/// Where the page after (`key_marker`, `version_id_marker`) starts: after that version of the
/// key; after every version of it without a version marker; after everything under it when the
/// key marker is itself a common prefix. A version marker that names no version any more (the
/// "empty a bucket" loop deletes each page before asking for the next) starts at the key's
/// newest remaining version, so nothing is skipped.
fn start(conn: &Connection, bucket: &str, q: &VersionsQuery) -> MetaResult<Position> {
    let Some(marker) = &q.key_marker else { return Ok((Vec::new(), FROM)) };
    if let Some(cp) = common_prefix(marker, &q.prefix, q.delimiter.as_deref()).filter(|cp| cp == marker) {
        return Ok(successor(cp.as_bytes()).map_or((marker.as_bytes().to_vec(), AFTER), |s| (s, FROM)));
    }
    let seq = match &q.version_id_marker {
        Some(v) => seq_of(conn, bucket, marker, v)?.unwrap_or(FROM),
        None => AFTER,
    };
    Ok((marker.as_bytes().to_vec(), seq))
}

pub(super) fn list_versions(conn: &Connection, bucket: &str, q: &VersionsQuery) -> MetaResult<VersionsPage> {
    let mut page = VersionsPage::default();
    if q.max == 0 {
        return Ok(page);
    }
    let upper = if q.prefix.is_empty() { None } else { successor(q.prefix.as_bytes()) };
    let tx = conn.unchecked_transaction()?;
    let mut from = start(&tx, bucket, q)?;
    if from.0.as_slice() < q.prefix.as_bytes() {
        from = (q.prefix.as_bytes().to_vec(), FROM);
    }
    'scan: loop {
        let want = q.max - page.items.len() + 1;
        let rows = fetch(&tx, bucket, &from, upper.as_deref(), want)?;
        let exhausted = rows.len() < want;
        for row in rows {
            if page.items.len() == q.max {
                page.truncated = true;
                break 'scan;
            }
            if let Some(cp) = common_prefix(&row.key, &q.prefix, q.delimiter.as_deref()) {
                let cp = cp.to_owned();
                page.next_key_marker = Some(cp.clone());
                page.next_version_id_marker = None;
                page.items.push(VersionItem::Prefix(cp.clone()));
                match successor(cp.as_bytes()) {
                    Some(s) => {
                        from = (s, FROM);
                        continue 'scan;
                    }
                    None => break 'scan,
                }
            }
            from = (row.key.as_bytes().to_vec(), row.seq);
            page.next_key_marker = Some(row.key.clone());
            page.next_version_id_marker = Some(row.version_id.clone());
            page.items.push(VersionItem::Version(row));
        }
        if exhausted {
            break;
        }
    }
    tx.finish()?;
    if !page.truncated {
        page.next_key_marker = None;
        page.next_version_id_marker = None;
    }
    Ok(page)
}

impl Db {
    pub async fn list_object_versions(&self, bucket: &str, query: VersionsQuery) -> MetaResult<VersionsPage> {
        let bucket = bucket.to_owned();
        self.read(move |conn| list_versions(conn, &bucket, &query)).await
    }
}

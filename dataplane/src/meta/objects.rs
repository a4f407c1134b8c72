//! The `objects` table: one row per visible object, pointing at its blob (or, for a small
//! object, at its bytes in `inline_data`). Writes that replace or remove a row enqueue the old
//! blob for deletion in the same transaction, so no blob leaks and no reader of the old bytes
//! is disturbed before the deleter runs; inline bytes go with their row.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde::{Deserialize, Serialize};

use super::conditions::{DeleteCondition, PutCondition, Refusal};
use super::{buckets, deletions, Db, MetaError, MetaResult};

/// Headers stored with an object and returned on GET/HEAD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_disposition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cache_control: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expires: Option<String>,
    /// `x-amz-meta-*` pairs, names lowercased, without the prefix.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub user: Vec<(String, String)>,
    /// Names of `user` entries whose values arrived as bytes that are not UTF-8: stored one
    /// character per byte, and sent back as those bytes.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub latin1: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub checksum: Option<Checksum>,
}

/// A full-object checksum: algorithm name as in the header (`crc32`, …) and base64 value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    pub algorithm: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRow {
    pub bucket: String,
    pub key: String,
    pub blob_id: String,
    pub size: u64,
    /// Hex MD5 (or `md5-N` for multipart), unquoted.
    pub etag: String,
    pub last_modified_ms: i64,
    pub meta: ObjectMeta,
    pub owner: String,
    pub acl: String,
    /// 0 for an object stored as one blob; N for a multipart object whose `blob_id` is the id
    /// of a manifest of N part blobs.
    pub parts_count: u32,
    /// The bytes are in the metadata (`inline_data`, under `blob_id`), not in a blob.
    pub inline: bool,
}

/// Where an object's bytes are, as read in the same snapshot as its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// One blob, `blob_id`.
    Blob,
    /// The part blobs of a multipart object, in order.
    Parts(Vec<ManifestPart>),
    /// The bytes themselves (small objects).
    Inline(bytes::Bytes),
}

/// One part of a multipart object's manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestPart {
    pub part_number: u32,
    pub blob_id: String,
    pub size: u64,
    pub etag: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// Stored; `replaced` is the previous blob, now queued for deletion.
    Stored {
        replaced: Option<String>,
    },
    NoSuchBucket,
    /// `If-Match` given but there is no object.
    NoSuchKey,
    PreconditionFailed,
}

const COLUMNS: &str = "bucket, key, blob_id, size, etag, last_modified, meta, owner, acl, parts_count, inline";

pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<(ObjectRow, String)> {
    let meta: String = row.get(6)?;
    Ok((
        ObjectRow {
            bucket: row.get(0)?,
            key: super::key_column(row, 1)?,
            blob_id: row.get(2)?,
            size: row.get::<_, i64>(3)? as u64,
            etag: row.get(4)?,
            last_modified_ms: row.get(5)?,
            meta: ObjectMeta::default(),
            owner: row.get(7)?,
            acl: row.get(8)?,
            parts_count: row.get(9)?,
            inline: row.get(10)?,
        },
        meta,
    ))
}

/// Finishes decoding a row: the JSON meta column.
pub(super) fn decode((mut row, meta): (ObjectRow, String)) -> MetaResult<ObjectRow> {
    row.meta = serde_json::from_str(&meta).map_err(|e| MetaError::Corrupt(format!("object meta: {e}")))?;
    Ok(row)
}

pub(super) fn get(conn: &Connection, bucket: &str, key: &str) -> MetaResult<Option<ObjectRow>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2"))?;
    stmt.query_row(params![bucket, key.as_bytes()], from_row).optional()?.map(decode).transpose()
}

/// Inserts or replaces a row (with its bytes when `inline`), releasing what the replaced row
/// used. Caller checked the bucket.
pub(super) fn upsert(tx: &Transaction<'_>, row: &ObjectRow, inline: Option<&[u8]>) -> MetaResult<Option<String>> {
    if row.inline != inline.is_some() {
        return Err(MetaError::Corrupt(format!(
            "object {} marked inline={} without matching bytes",
            row.key, row.inline
        )));
    }
    let old: Option<Stored> = tx
        .prepare_cached("SELECT blob_id, parts_count, inline FROM objects WHERE bucket = ?1 AND key = ?2")?
        .query_row(params![row.bucket, row.key.as_bytes()], stored)
        .optional()?;
    if let Some(data) = inline {
        tx.prepare_cached("INSERT INTO inline_data (id, data) VALUES (?1, ?2)")?.execute(params![row.blob_id, data])?;
    }
    let meta = serde_json::to_string(&row.meta).map_err(|e| MetaError::Corrupt(e.to_string()))?;
    tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO objects ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?
    .execute(params![
        row.bucket,
        row.key.as_bytes(),
        row.blob_id,
        row.size as i64,
        row.etag,
        row.last_modified_ms,
        meta,
        row.owner,
        row.acl,
        row.parts_count,
        row.inline
    ])?;
    match old {
        Some(old) if old.id != row.blob_id => {
            release(tx, &old)?;
            Ok(Some(old.id))
        }
        _ => Ok(None),
    }
}

/// What a row points at: its blob, manifest or inline id, and which of those it is.
struct Stored {
    id: String,
    parts_count: u32,
    inline: bool,
}

fn stored(r: &Row<'_>) -> rusqlite::Result<Stored> {
    Ok(Stored { id: r.get(0)?, parts_count: r.get(1)?, inline: r.get(2)? })
}

/// Removes a row, releasing its blobs; returns the blob or manifest id when there was a row.
pub(super) fn remove(tx: &Transaction<'_>, bucket: &str, key: &str) -> MetaResult<Option<String>> {
    let old: Option<Stored> = tx
        .prepare_cached("DELETE FROM objects WHERE bucket = ?1 AND key = ?2 RETURNING blob_id, parts_count, inline")?
        .query_row(params![bucket, key.as_bytes()], stored)
        .optional()?;
    if let Some(old) = &old {
        release(tx, old)?;
    }
    Ok(old.map(|o| o.id))
}

/// Frees what an object no row references any more used: its inline bytes at once, or queues
/// its single blob, or every part of its manifest (and the manifest itself goes). Readers pin
/// by `id`.
fn release(tx: &Transaction<'_>, old: &Stored) -> MetaResult<()> {
    let Stored { id, parts_count, inline } = old;
    if *inline {
        tx.prepare_cached("DELETE FROM inline_data WHERE id = ?1")?.execute([id])?;
        return Ok(());
    }
    if *parts_count == 0 {
        return deletions::enqueue(tx, id, Some(id));
    }
    let blobs: Vec<String> = tx
        .prepare_cached("DELETE FROM object_parts WHERE manifest_id = ?1 RETURNING blob_id")?
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for blob in blobs {
        deletions::enqueue(tx, &blob, Some(id))?;
    }
    Ok(())
}

/// Manifests of up to this many parts are read on the request's thread (`Db::read_now`);
/// longer ones on the blocking pool.
const READ_NOW_MAX_PARTS: u32 = 64;

/// What a read of an object with its layout found.
pub(super) enum LayoutRead {
    Found(Box<(ObjectRow, Layout)>),
    Missing,
    /// The manifest has more parts than the reader was to read here.
    LongManifest,
}

/// An object row and where its bytes are (its manifest, its inline bytes), in one snapshot;
/// a manifest of more than `max_parts` parts is not read.
pub(super) fn get_with_layout(conn: &Connection, bucket: &str, key: &str, max_parts: u32) -> MetaResult<LayoutRead> {
    let tx = conn.unchecked_transaction()?;
    let Some(row) = get(&tx, bucket, key)? else { return Ok(LayoutRead::Missing) };
    let layout = if row.inline {
        let data: Vec<u8> = tx
            .prepare_cached("SELECT data FROM inline_data WHERE id = ?1")?
            .query_row([&row.blob_id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| MetaError::Corrupt(format!("inline bytes of {}/{} are missing", row.bucket, row.key)))?;
        Layout::Inline(data.into())
    } else if row.parts_count == 0 {
        Layout::Blob
    } else if row.parts_count > max_parts {
        return Ok(LayoutRead::LongManifest);
    } else {
        Layout::Parts(
            tx.prepare_cached(
                "SELECT part_number, blob_id, size, etag FROM object_parts WHERE manifest_id = ?1 ORDER BY part_number",
            )?
            .query_map([&row.blob_id], |r| {
                Ok(ManifestPart {
                    part_number: r.get(0)?,
                    blob_id: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                    etag: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?,
        )
    };
    tx.finish()?;
    Ok(LayoutRead::Found(Box::new((row, layout))))
}

impl Db {
    /// The object and where its bytes are, consistently. Read on the calling thread unless
    /// its manifest is long (the row, inline bytes up to `storage.inline_max_size` and short
    /// manifests take microseconds; see `read_now`).
    pub async fn get_object_layout(&self, bucket: &str, key: &str) -> MetaResult<Option<(ObjectRow, Layout)>> {
        let read = match self.read_now(|conn| get_with_layout(conn, bucket, key, READ_NOW_MAX_PARTS))? {
            LayoutRead::LongManifest => {
                let (bucket, key) = (bucket.to_owned(), key.to_owned());
                self.read(move |conn| get_with_layout(conn, &bucket, &key, u32::MAX)).await?
            }
            read => read,
        };
        Ok(match read {
            LayoutRead::Found(found) => Some(*found),
            LayoutRead::Missing | LayoutRead::LongManifest => None,
        })
    }

    /// The object's row and one page of its parts (GetObjectAttributes).
    pub async fn get_object_parts(
        &self,
        bucket: &str,
        key: &str,
        marker: u32,
        limit: usize,
    ) -> MetaResult<Option<(ObjectRow, Vec<ObjectPart>, bool)>> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.read(move |conn| get_with_parts(conn, &bucket, &key, marker, limit)).await
    }

    /// The object's row alone: one indexed lookup, on the calling thread (`read_now`).
    pub async fn get_object(&self, bucket: &str, key: &str) -> MetaResult<Option<ObjectRow>> {
        self.read_now(|conn| get(conn, bucket, key))
    }

    /// Makes `row` the visible version of its key if `condition` holds; `inline` carries the
    /// bytes of a row marked inline.
    pub async fn put_object(
        &self,
        row: ObjectRow,
        inline: Option<bytes::Bytes>,
        condition: PutCondition,
    ) -> MetaResult<PutOutcome> {
        self.write(move |tx| {
            if !buckets::exists(tx, &row.bucket)? {
                return Ok(PutOutcome::NoSuchBucket);
            }
            if condition != PutCondition::none() {
                match condition.check(current_etag(tx, &row.bucket, &row.key)?.as_deref()) {
                    Ok(()) => {}
                    Err(Refusal::NoSuchKey) => return Ok(PutOutcome::NoSuchKey),
                    Err(Refusal::PreconditionFailed) => return Ok(PutOutcome::PreconditionFailed),
                }
            }
            Ok(PutOutcome::Stored { replaced: upsert(tx, &row, inline.as_deref())? })
        })
        .await
    }

    /// Deletes a key if `condition` holds; `Deleted(None)` when there was nothing to delete
    /// (not an error in S3).
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        condition: DeleteCondition,
    ) -> MetaResult<DeleteOutcome> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.write(move |tx| delete_one(tx, &bucket, &key, &condition)).await
    }

    /// Deletes many keys in one transaction, each if its condition holds.
    pub async fn delete_objects(
        &self,
        bucket: &str,
        entries: Vec<(String, DeleteCondition)>,
    ) -> MetaResult<Vec<DeleteOutcome>> {
        let bucket = bucket.to_owned();
        self.write(move |tx| entries.iter().map(|(key, condition)| delete_one(tx, &bucket, key, condition)).collect())
            .await
    }

    /// Sets an object's ACL (stored form); `false` when there is no such object.
    /// Only the version `blob_id` whose permissions were checked is changed: `false` when it
    /// was replaced or deleted meanwhile.
    pub async fn set_object_acl(&self, bucket: &str, key: &str, blob_id: &str, acl: String) -> MetaResult<bool> {
        let (bucket, key, blob_id) = (bucket.to_owned(), key.to_owned(), blob_id.to_owned());
        self.write(move |tx| {
            Ok(tx.execute(
                "UPDATE objects SET acl = ?4 WHERE bucket = ?1 AND key = ?2 AND blob_id = ?3",
                params![bucket, key.as_bytes(), blob_id, acl],
            )? == 1)
        })
        .await
    }

    /// True when some row or part still references `blob_id`.
    pub async fn blob_in_use(&self, blob_id: &str) -> MetaResult<bool> {
        let id = blob_id.to_owned();
        self.read(move |conn| blob_referenced(conn, &id)).await
    }

    pub async fn count_objects(&self) -> MetaResult<u64> {
        self.read(|conn| Ok(conn.query_row("SELECT count(*) FROM objects", [], |r| r.get::<_, i64>(0))? as u64)).await
    }
}

/// A part of a multipart object as GetObjectAttributes lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPart {
    pub part_number: u32,
    pub size: u64,
    pub checksum: Option<String>,
}

/// An object's row and one page of its parts (after part number `marker`, at most `limit`)
/// with whether more follow, in one snapshot.
pub(super) fn get_with_parts(
    conn: &Connection,
    bucket: &str,
    key: &str,
    marker: u32,
    limit: usize,
) -> MetaResult<Option<(ObjectRow, Vec<ObjectPart>, bool)>> {
    let tx = conn.unchecked_transaction()?;
    let Some(row) = get(&tx, bucket, key)? else { return Ok(None) };
    let mut parts: Vec<ObjectPart> = if row.parts_count == 0 {
        Vec::new()
    } else {
        tx.prepare_cached(
            "SELECT part_number, size, checksum FROM object_parts
             WHERE manifest_id = ?1 AND part_number > ?2 ORDER BY part_number LIMIT ?3",
        )?
        .query_map(params![row.blob_id, marker, limit as i64 + 1], |r| {
            Ok(ObjectPart { part_number: r.get(0)?, size: r.get::<_, i64>(1)? as u64, checksum: r.get(2)? })
        })?
        .collect::<Result<_, _>>()?
    };
    tx.finish()?;
    let truncated = parts.len() > limit;
    parts.truncate(limit);
    Ok(Some((row, parts, truncated)))
}

/// What a delete came to.
#[derive(Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// Gone; the id of what the removed row used, `None` when there was no object.
    Deleted(Option<String>),
    Refused(Refusal),
}

fn delete_one(tx: &Transaction<'_>, bucket: &str, key: &str, condition: &DeleteCondition) -> MetaResult<DeleteOutcome> {
    if !condition.is_empty() {
        if let Err(refusal) = condition.check(get(tx, bucket, key)?.as_ref()) {
            return Ok(DeleteOutcome::Refused(refusal));
        }
    }
    Ok(DeleteOutcome::Deleted(remove(tx, bucket, key)?))
}

/// The ETag of the key's current object.
pub(super) fn current_etag(tx: &Transaction<'_>, bucket: &str, key: &str) -> MetaResult<Option<String>> {
    Ok(tx
        .prepare_cached("SELECT etag FROM objects WHERE bucket = ?1 AND key = ?2")?
        .query_row(params![bucket, key.as_bytes()], |r| r.get(0))
        .optional()?)
}

pub(super) fn blob_referenced(conn: &Connection, id: &str) -> MetaResult<bool> {
    Ok(conn.prepare_cached("SELECT 1 FROM objects WHERE blob_id = ?1 AND parts_count = 0")?.exists([id])?
        || conn.prepare_cached("SELECT 1 FROM multipart_parts WHERE blob_id = ?1")?.exists([id])?
        || conn.prepare_cached("SELECT 1 FROM object_parts WHERE blob_id = ?1")?.exists([id])?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::test_support::db;
    use crate::meta::BucketRow;

    pub(crate) fn obj(key: &str, blob: &str, etag: &str) -> ObjectRow {
        ObjectRow {
            bucket: "b".into(),
            key: key.into(),
            blob_id: blob.into(),
            size: 3,
            etag: etag.into(),
            last_modified_ms: 5,
            meta: ObjectMeta {
                content_type: Some("text/plain".into()),
                user: vec![("a".into(), "1".into())],
                ..Default::default()
            },
            owner: "o".into(),
            acl: "private".into(),
            parts_count: 0,
            inline: false,
        }
    }

    async fn bucket(db: &Db) {
        db.create_bucket(BucketRow {
            name: "b".into(),
            region: "r".into(),
            owner: "o".into(),
            acl: "private".into(),
            created_ms: 0,
        })
        .await
        .unwrap();
    }

    /// Short manifests are read on the calling thread, long ones on the blocking pool: both
    /// come back whole and in part order.
    #[tokio::test]
    async fn short_and_long_manifests_read_whole() {
        let (db, _dir) = db();
        bucket(&db).await;
        for (key, parts) in [("short", 3u32), ("long", READ_NOW_MAX_PARTS + 7)] {
            let mut row = obj(key, &format!("manifest-{key}"), &format!("e-{parts}"));
            row.parts_count = parts;
            db.put_object(row.clone(), None, PutCondition::none()).await.unwrap();
            let manifest = row.blob_id.clone();
            db.write(move |tx| {
                for n in (1..=parts).rev() {
                    tx.execute(
                        "INSERT INTO object_parts (manifest_id, part_number, blob_id, size, etag) VALUES (?1, ?2, ?3, \
                            5, 'e')",
                        params![manifest, n, format!("{manifest}-{n}")],
                    )?;
                }
                Ok(())
            })
            .await
            .unwrap();
            let here = db.read_now(|c| get_with_layout(c, "b", key, READ_NOW_MAX_PARTS)).unwrap();
            let deferred = matches!(here, LayoutRead::LongManifest);
            assert_eq!(deferred, parts > READ_NOW_MAX_PARTS, "{key}: deferred only when long");
            let (got, layout) = db.get_object_layout("b", key).await.unwrap().unwrap();
            assert_eq!(got, row);
            let Layout::Parts(list) = layout else { panic!("{key}: not a manifest") };
            assert_eq!(list.iter().map(|p| p.part_number).collect::<Vec<_>>(), (1..=parts).collect::<Vec<_>>());
        }
    }

    #[tokio::test]
    async fn put_replace_delete_enqueue_old_blobs() {
        let (db, _dir) = db();
        assert_eq!(
            db.put_object(obj("k", "b1", "e1"), None, PutCondition::none()).await.unwrap(),
            PutOutcome::NoSuchBucket
        );
        bucket(&db).await;
        assert_eq!(
            db.put_object(obj("k", "b1", "e1"), None, PutCondition::none()).await.unwrap(),
            PutOutcome::Stored { replaced: None }
        );
        assert_eq!(db.get_object("b", "k").await.unwrap().unwrap(), obj("k", "b1", "e1"));
        let out = db.put_object(obj("k", "b2", "e2"), None, PutCondition::none()).await.unwrap();
        assert_eq!(out, PutOutcome::Stored { replaced: Some("b1".into()) });
        assert_eq!(db.pending_deletions(10).await.unwrap(), vec![("b1".to_string(), Some("b1".to_string()))]);
        let any = DeleteCondition::default;
        assert_eq!(db.delete_object("b", "k", any()).await.unwrap(), DeleteOutcome::Deleted(Some("b2".into())));
        assert_eq!(db.delete_object("b", "k", any()).await.unwrap(), DeleteOutcome::Deleted(None));
        assert_eq!(db.pending_deletions(10).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn conditional_puts() {
        let (db, _dir) = db();
        bucket(&db).await;
        assert_eq!(
            db.put_object(
                obj("k", "b1", "e1"),
                None,
                PutCondition { if_match: Some("e1".into()), ..PutCondition::none() }
            )
            .await
            .unwrap(),
            PutOutcome::NoSuchKey
        );
        assert!(matches!(
            db.put_object(
                obj("k", "b1", "e1"),
                None,
                PutCondition { if_none_match: Some("*".into()), ..PutCondition::none() }
            )
            .await
            .unwrap(),
            PutOutcome::Stored { .. }
        ));
        assert_eq!(
            db.put_object(
                obj("k", "b2", "e2"),
                None,
                PutCondition { if_none_match: Some("*".into()), ..PutCondition::none() }
            )
            .await
            .unwrap(),
            PutOutcome::PreconditionFailed
        );
        assert_eq!(
            db.put_object(
                obj("k", "b2", "e2"),
                None,
                PutCondition { if_match: Some("\"zz\"".into()), ..PutCondition::none() }
            )
            .await
            .unwrap(),
            PutOutcome::PreconditionFailed
        );
        assert!(matches!(
            db.put_object(
                obj("k", "b2", "e2"),
                None,
                PutCondition { if_match: Some("\"e1\"".into()), ..PutCondition::none() }
            )
            .await
            .unwrap(),
            PutOutcome::Stored { .. }
        ));
        assert!(db.blob_in_use("b2").await.unwrap());
        assert!(!db.blob_in_use("b1").await.unwrap());
    }

    async fn left(db: &Db) -> MetaResult<i64> {
        db.read(|conn| Ok(conn.query_row("SELECT count(*) FROM inline_data", [], |r| r.get::<_, i64>(0))?)).await
    }

    #[tokio::test]
    async fn inline_bytes_live_and_die_with_their_row() {
        let (db, _dir) = db();
        bucket(&db).await;
        let inline = |id: &str| ObjectRow { inline: true, ..obj("k", id, "e") };
        let bytes = bytes::Bytes::from_static(b"abc");
        // A row marked inline needs its bytes, and bytes need a row marked inline.
        assert!(db.put_object(inline("i0"), None, PutCondition::none()).await.is_err());
        assert!(db.put_object(obj("k", "b0", "e"), Some(bytes.clone()), PutCondition::none()).await.is_err());

        db.put_object(inline("i1"), Some(bytes.clone()), PutCondition::none()).await.unwrap();
        let (row, layout) = db.get_object_layout("b", "k").await.unwrap().unwrap();
        assert!(row.inline);
        assert_eq!(layout, Layout::Inline(bytes.clone()));
        // Inline replaced by inline, then by a blob: the old bytes go at once, nothing is queued.
        db.put_object(inline("i2"), Some(bytes::Bytes::from_static(b"xyz")), PutCondition::none()).await.unwrap();
        db.put_object(obj("k", "b1", "e"), None, PutCondition::none()).await.unwrap();
        assert_eq!(db.get_object_layout("b", "k").await.unwrap().unwrap().1, Layout::Blob);
        assert!(db.pending_deletions(10).await.unwrap().is_empty());
        assert_eq!(left(&db).await.unwrap(), 0);
        // A blob replaced by inline bytes is queued; deleting the inline row removes its bytes.
        db.put_object(inline("i3"), Some(bytes), PutCondition::none()).await.unwrap();
        assert_eq!(db.pending_deletions(10).await.unwrap(), vec![("b1".to_string(), Some("b1".to_string()))]);
        assert_eq!(left(&db).await.unwrap(), 1);
        assert_eq!(
            db.delete_object("b", "k", DeleteCondition::default()).await.unwrap(),
            DeleteOutcome::Deleted(Some("i3".into()))
        );
        assert_eq!(left(&db).await.unwrap(), 0);
        assert_eq!(db.pending_deletions(10).await.unwrap().len(), 1);
    }
}

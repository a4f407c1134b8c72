//! Object rows and how they are read: `objects` holds the current version of each key (an
//! object or a delete marker), `object_versions` the noncurrent ones (`versions` writes both).
//! A row points at its blob, its manifest of part blobs, or its bytes in `inline_data`.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use super::{Db, MetaError, MetaResult};

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
    /// The object's tags (key, value), in the order given; at most 10 (s3::tagging checks).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tags: Vec<(String, String)>,
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
    /// The version id clients see; `null` for a version written while the bucket was
    /// unversioned or suspended. Set when the row is committed.
    pub version_id: String,
    /// Orders the versions of a key: higher is newer. Set when the row is committed.
    pub seq: i64,
    /// A delete marker: no bytes, the key reads as absent while it is the current version.
    pub delete_marker: bool,
}

/// The version id of versions written while a bucket is unversioned or suspended.
pub const NULL_VERSION: &str = "null";

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
    Stored(super::versions::Written),
    NoSuchBucket,
    /// `If-Match` given but there is no object.
    NoSuchKey,
    PreconditionFailed,
}

/// The columns of `objects` and `object_versions` alike, in `from_row`'s order.
pub(super) const COLUMNS: &str =
    "bucket, key, blob_id, size, etag, last_modified, meta, owner, acl, parts_count, inline, version_id, seq, delete_marker";

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
            version_id: row.get(11)?,
            seq: row.get(12)?,
            delete_marker: row.get(13)?,
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

/// The version `version_id` of a key: its current row, or a noncurrent one.
pub(super) fn get_version(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> MetaResult<Option<ObjectRow>> {
    if let Some(row) = get(conn, bucket, key)?.filter(|r| r.version_id == version_id) {
        return Ok(Some(row));
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM object_versions WHERE bucket = ?1 AND key = ?2 AND version_id = ?3"
    ))?;
    stmt.query_row(params![bucket, key.as_bytes(), version_id], from_row).optional()?.map(decode).transpose()
}

/// The current version of a key, or the version `version` names.
pub(super) fn get_selected(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> MetaResult<Option<ObjectRow>> {
    match version {
        None => get(conn, bucket, key),
        Some(v) => get_version(conn, bucket, key, v),
    }
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
pub(super) fn get_with_layout(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version: Option<&str>,
    max_parts: u32,
) -> MetaResult<LayoutRead> {
    let tx = conn.unchecked_transaction()?;
    let Some(row) = get_selected(&tx, bucket, key, version)? else { return Ok(LayoutRead::Missing) };
    let layout = if row.delete_marker {
        Layout::Inline(bytes::Bytes::new())
    } else if row.inline {
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
    /// The object (the current version, or `version`) and where its bytes are, consistently;
    /// a delete marker comes back as what it is. Read on the calling thread unless its manifest
    /// is long (the row, inline bytes up to `storage.inline_max_size` and short manifests take
    /// microseconds; see `read_now`).
    pub async fn get_object_layout(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> MetaResult<Option<(ObjectRow, Layout)>> {
        let read = match self.read_now(|conn| get_with_layout(conn, bucket, key, version, READ_NOW_MAX_PARTS))? {
            LayoutRead::LongManifest => {
                let (bucket, key, version) = (bucket.to_owned(), key.to_owned(), version.map(str::to_owned));
                self.read(move |conn| get_with_layout(conn, &bucket, &key, version.as_deref(), u32::MAX)).await?
            }
            read => read,
        };
        Ok(match read {
            LayoutRead::Found(found) => Some(*found),
            LayoutRead::Missing | LayoutRead::LongManifest => None,
        })
    }

    /// The object's row (the current version, or `version`) and one page of its parts
    /// (GetObjectAttributes).
    pub async fn get_object_parts(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        marker: u32,
        limit: usize,
    ) -> MetaResult<Option<(ObjectRow, Vec<ObjectPart>, bool)>> {
        let (bucket, key, version) = (bucket.to_owned(), key.to_owned(), version.map(str::to_owned));
        self.read(move |conn| get_with_parts(conn, &bucket, &key, version.as_deref(), marker, limit)).await
    }

    /// The object's row (the current version, or `version`) alone: one or two indexed lookups,
    /// on the calling thread (`read_now`).
    pub async fn get_object(&self, bucket: &str, key: &str, version: Option<&str>) -> MetaResult<Option<ObjectRow>> {
        self.read_now(|conn| get_selected(conn, bucket, key, version))
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
    version: Option<&str>,
    marker: u32,
    limit: usize,
) -> MetaResult<Option<(ObjectRow, Vec<ObjectPart>, bool)>> {
    let tx = conn.unchecked_transaction()?;
    let Some(row) = get_selected(&tx, bucket, key, version)? else { return Ok(None) };
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

#[cfg(test)]
pub(crate) mod tests {
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
            version_id: NULL_VERSION.into(),
            seq: 0,
            delete_marker: false,
        }
    }

    pub(crate) async fn bucket(db: &Db) {
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
            let (_, row) = db.put_object(row, None, crate::meta::PutCondition::none()).await.unwrap();
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
            let here = db.read_now(|c| get_with_layout(c, "b", key, None, READ_NOW_MAX_PARTS)).unwrap();
            let deferred = matches!(here, LayoutRead::LongManifest);
            assert_eq!(deferred, parts > READ_NOW_MAX_PARTS, "{key}: deferred only when long");
            let (got, layout) = db.get_object_layout("b", key, None).await.unwrap().unwrap();
            assert_eq!(got, row);
            let Layout::Parts(list) = layout else { panic!("{key}: not a manifest") };
            assert_eq!(list.iter().map(|p| p.part_number).collect::<Vec<_>>(), (1..=parts).collect::<Vec<_>>());
        }
    }
}

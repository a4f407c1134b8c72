//! Writing versions, as S3 defines them per bucket state: an unversioned bucket keeps one (null)
//! version per key and a write replaces it; an enabled bucket keeps every version, a write adds
//! one and a delete adds a delete marker; a suspended bucket keeps earlier versions but writes
//! (and delete markers) replace the null version.
//!
//! `objects` holds each key's current version, `object_versions` the noncurrent ones; a write
//! moves the current row to `object_versions` ("archive") or frees what it used ("release":
//! inline bytes at once, blobs through the deletion queue, in the same transaction), and
//! deleting the current version by id promotes the newest noncurrent one. Every function runs
//! inside the caller's write transaction, so a crash leaves either all of a change or none.

use rand::RngExt;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::buckets::{self, Versioning};
use super::conditions::{DeleteCondition, PutCondition, Refusal};
use super::objects::{decode, from_row, get, get_version, ObjectMeta, ObjectRow, PutOutcome, COLUMNS, NULL_VERSION};
use super::{deletions, Db, MetaError, MetaResult};

/// What a committed write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The new version's id (`null` unless the bucket is versioning-enabled).
    pub version_id: String,
    /// Whether the bucket has versioning configured (enabled or suspended): S3 then names the
    /// version in its answers.
    pub versioned: bool,
    /// Object versions (not delete markers) whose bytes this write freed.
    pub released: u64,
}

/// What a delete did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// The version removed, or the delete marker added; `None` for an unversioned bucket.
    pub version_id: Option<String>,
    /// A delete marker was added, or the version removed was one.
    pub delete_marker: bool,
    /// Object versions (not delete markers) whose bytes this delete freed.
    pub released: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted(Deleted),
    Refused(Refusal),
    NoSuchBucket,
}

/// A new, unique, URL-safe version id that sorts by creation time: 48 bits of milliseconds
/// and 80 random bits, base32hex (`0-9a-v`), 26 characters. Within a process ids strictly
/// increase (as ULIDs do): one made in the same millisecond as the last, with a smaller random
/// part, is the last plus one.
pub fn new_version_id() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    static LAST: std::sync::Mutex<u128> = std::sync::Mutex::new(0);
    let ms = u128::try_from(super::now_ms()).unwrap_or_default() & ((1 << 48) - 1);
    let random: u128 = rand::rng().random::<u128>() & ((1 << 80) - 1);
    let candidate = (ms << 80) | random;
    let mut n = {
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        *last = if candidate > *last { candidate } else { last.saturating_add(1) };
        *last
    };
    let mut out = [0u8; 26];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n & 31) as usize];
        n >>= 5;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Is `id` a version id this store could have issued (`null`, or 26 base32hex characters)?
pub fn is_version_id(id: &str) -> bool {
    id == NULL_VERSION || (id.len() == 26 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b)))
}

fn insert(tx: &Transaction<'_>, table: &str, row: &ObjectRow) -> MetaResult<()> {
    let meta = serde_json::to_string(&row.meta).map_err(|e| MetaError::Corrupt(e.to_string()))?;
    tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO {table} ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
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
        row.inline,
        row.version_id,
        row.seq,
        row.delete_marker
    ])?;
    Ok(())
}

/// Frees what a version no row references any more used: nothing for a delete marker, its
/// inline bytes at once, or its blob (or every part of its manifest, and the manifest) through
/// the deletion queue, pinned by its id for readers. Returns 1 for an object version, 0 for a
/// marker.
fn release(tx: &Transaction<'_>, old: &ObjectRow) -> MetaResult<u64> {
    if old.delete_marker {
        return Ok(0);
    }
    let id = &old.blob_id;
    if old.inline {
        tx.prepare_cached("DELETE FROM inline_data WHERE id = ?1")?.execute([id])?;
    } else if old.parts_count == 0 {
        deletions::enqueue(tx, id, Some(id))?;
    } else {
        let blobs: Vec<String> = tx
            .prepare_cached("DELETE FROM object_parts WHERE manifest_id = ?1 RETURNING blob_id")?
            .query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for blob in blobs {
            deletions::enqueue(tx, &blob, Some(id))?;
        }
    }
    Ok(1)
}

/// Removes the noncurrent null version of a key, if any, freeing it.
fn drop_noncurrent_null(tx: &Transaction<'_>, bucket: &str, key: &str) -> MetaResult<u64> {
    let old = tx
        .prepare_cached(&format!(
            "DELETE FROM object_versions WHERE bucket = ?1 AND key = ?2 AND version_id = ?3 RETURNING {COLUMNS}"
        ))?
        .query_row(params![bucket, key.as_bytes(), NULL_VERSION], from_row)
        .optional()?
        .map(decode)
        .transpose()?;
    old.map_or(Ok(0), |old| release(tx, &old))
}

/// Makes `row` the current version of its key as the bucket's `versioning` says: the previous
/// current version is kept as noncurrent, or (its null version, or any version of an
/// unversioned bucket) freed. Sets the row's version id and sequence; `inline` carries the
/// bytes of a row marked inline.
pub(super) fn put_version(
    tx: &Transaction<'_>,
    versioning: Versioning,
    row: &mut ObjectRow,
    inline: Option<&[u8]>,
) -> MetaResult<Written> {
    if row.inline != inline.is_some() {
        return Err(MetaError::Corrupt(format!(
            "object {} marked inline={} without matching bytes",
            row.key, row.inline
        )));
    }
    let current = get(tx, &row.bucket, &row.key)?;
    row.seq = current.as_ref().map_or(1, |c| c.seq + 1);
    row.version_id = match versioning {
        Versioning::Enabled => new_version_id(),
        Versioning::Unversioned | Versioning::Suspended => NULL_VERSION.to_owned(),
    };
    let mut released = 0;
    if let Some(current) = &current {
        let keep = versioning == Versioning::Enabled
            || (versioning == Versioning::Suspended && current.version_id != NULL_VERSION);
        if keep {
            insert(tx, "object_versions", current)?;
        } else {
            released += release(tx, current)?;
        }
    }
    if versioning == Versioning::Suspended {
        released += drop_noncurrent_null(tx, &row.bucket, &row.key)?;
    }
    if let Some(data) = inline {
        tx.prepare_cached("INSERT INTO inline_data (id, data) VALUES (?1, ?2)")?.execute(params![row.blob_id, data])?;
    }
    insert(tx, "objects", row)?;
    Ok(Written { version_id: row.version_id.clone(), versioned: versioning != Versioning::Unversioned, released })
}

/// Makes the newest noncurrent version of a key (if any) its current one.
fn promote(tx: &Transaction<'_>, bucket: &str, key: &str) -> MetaResult<()> {
    let newest = tx
        .prepare_cached(&format!(
            "DELETE FROM object_versions WHERE bucket = ?1 AND key = ?2
             AND seq = (SELECT max(seq) FROM object_versions WHERE bucket = ?1 AND key = ?2) RETURNING {COLUMNS}"
        ))?
        .query_row(params![bucket, key.as_bytes()], from_row)
        .optional()?
        .map(decode)
        .transpose()?;
    if let Some(newest) = newest {
        insert(tx, "objects", &newest)?;
    }
    Ok(())
}

/// Removes version `version_id` of a key for good, promoting the newest noncurrent version
/// when it was the current one. `None` when there is no such version.
fn remove_version(tx: &Transaction<'_>, bucket: &str, key: &str, version_id: &str) -> MetaResult<Option<Deleted>> {
    let Some(old) = get_version(tx, bucket, key, version_id)? else { return Ok(None) };
    let current = get(tx, bucket, key)?.is_some_and(|c| c.version_id == version_id);
    if current {
        tx.prepare_cached("DELETE FROM objects WHERE bucket = ?1 AND key = ?2")?
            .execute(params![bucket, key.as_bytes()])?;
        promote(tx, bucket, key)?;
    } else {
        tx.prepare_cached("DELETE FROM object_versions WHERE bucket = ?1 AND key = ?2 AND version_id = ?3")?
            .execute(params![bucket, key.as_bytes(), version_id])?;
    }
    let released = release(tx, &old)?;
    Ok(Some(Deleted { version_id: Some(old.version_id.clone()), delete_marker: old.delete_marker, released }))
}

/// A delete marker for `key`, owned by `owner`, to become its current version.
fn marker(bucket: &str, key: &str, owner: &str) -> ObjectRow {
    ObjectRow {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        blob_id: String::new(),
        size: 0,
        etag: String::new(),
        last_modified_ms: super::now_ms(),
        meta: ObjectMeta::default(),
        owner: owner.to_owned(),
        acl: "private".to_owned(),
        parts_count: 0,
        inline: false,
        version_id: String::new(),
        seq: 0,
        delete_marker: true,
    }
}

/// One delete: of `version` for good, or (no version) of the key as the bucket's versioning
/// says — removed when unversioned, hidden behind a new delete marker otherwise.
fn delete_one(
    tx: &Transaction<'_>,
    bucket: &str,
    key: &str,
    version: Option<&str>,
    condition: &DeleteCondition,
    owner: &str,
) -> MetaResult<DeleteOutcome> {
    let Some(versioning) = buckets::versioning(tx, bucket)? else { return Ok(DeleteOutcome::NoSuchBucket) };
    if !condition.is_empty() {
        let target = match version {
            Some(v) => get_version(tx, bucket, key, v)?,
            None => get(tx, bucket, key)?,
        };
        if let Err(refusal) = condition.check(target.as_ref().filter(|r| !r.delete_marker)) {
            return Ok(DeleteOutcome::Refused(refusal));
        }
    }
    let deleted = match (version, versioning) {
        (Some(v), _) => remove_version(tx, bucket, key, v)?.unwrap_or(Deleted {
            version_id: Some(v.to_owned()),
            delete_marker: false,
            released: 0,
        }),
        (None, Versioning::Unversioned) => match get(tx, bucket, key)? {
            Some(current) => {
                tx.prepare_cached("DELETE FROM objects WHERE bucket = ?1 AND key = ?2")?
                    .execute(params![bucket, key.as_bytes()])?;
                Deleted { version_id: None, delete_marker: false, released: release(tx, &current)? }
            }
            None => Deleted { version_id: None, delete_marker: false, released: 0 },
        },
        (None, Versioning::Enabled | Versioning::Suspended) => {
            let mut m = marker(bucket, key, owner);
            let written = put_version(tx, versioning, &mut m, None)?;
            Deleted { version_id: Some(written.version_id), delete_marker: true, released: written.released }
        }
    };
    Ok(DeleteOutcome::Deleted(deleted))
}

/// The ETag of the key's current object (`None` when absent or a delete marker).
pub(super) fn current_etag(tx: &Transaction<'_>, bucket: &str, key: &str) -> MetaResult<Option<String>> {
    Ok(tx
        .prepare_cached("SELECT etag FROM objects WHERE bucket = ?1 AND key = ?2 AND delete_marker = 0")?
        .query_row(params![bucket, key.as_bytes()], |r| r.get(0))
        .optional()?)
}

/// Frees every version of every key of a bucket (admin purge); returns how many object
/// versions went.
pub(super) fn purge_versions(tx: &Transaction<'_>, bucket: &str) -> MetaResult<u64> {
    let mut released = 0;
    for table in ["objects", "object_versions"] {
        let rows: Vec<ObjectRow> = tx
            .prepare(&format!("DELETE FROM {table} WHERE bucket = ?1 RETURNING {COLUMNS}"))?
            .query_map([bucket], from_row)?
            .map(|r| r.map_err(MetaError::from).and_then(decode))
            .collect::<MetaResult<_>>()?;
        for row in &rows {
            released += release(tx, row)?;
        }
    }
    Ok(released)
}

pub(super) fn blob_referenced(conn: &Connection, id: &str) -> MetaResult<bool> {
    Ok(conn.prepare_cached("SELECT 1 FROM objects WHERE blob_id = ?1 AND parts_count = 0")?.exists([id])?
        || conn.prepare_cached("SELECT 1 FROM object_versions WHERE blob_id = ?1 AND parts_count = 0")?.exists([id])?
        || conn.prepare_cached("SELECT 1 FROM multipart_parts WHERE blob_id = ?1")?.exists([id])?
        || conn.prepare_cached("SELECT 1 FROM object_parts WHERE blob_id = ?1")?.exists([id])?)
}

impl Db {
    /// Makes `row` the current version of its key if `condition` holds (against the current
    /// object, a delete marker counting as none); `inline` carries the bytes of a row marked
    /// inline. Returns the row as committed (version id and sequence set).
    pub async fn put_object(
        &self,
        mut row: ObjectRow,
        inline: Option<bytes::Bytes>,
        condition: PutCondition,
    ) -> MetaResult<(PutOutcome, ObjectRow)> {
        self.write(move |tx| {
            let Some(versioning) = buckets::versioning(tx, &row.bucket)? else {
                return Ok((PutOutcome::NoSuchBucket, row));
            };
            if condition != PutCondition::none() {
                match condition.check(current_etag(tx, &row.bucket, &row.key)?.as_deref()) {
                    Ok(()) => {}
                    Err(Refusal::NoSuchKey) => return Ok((PutOutcome::NoSuchKey, row)),
                    Err(Refusal::PreconditionFailed) => return Ok((PutOutcome::PreconditionFailed, row)),
                }
            }
            let written = put_version(tx, versioning, &mut row, inline.as_deref())?;
            Ok((PutOutcome::Stored(written), row))
        })
        .await
    }

    /// Deletes a key (or one version of it) if `condition` holds. Deleting what is not there
    /// is not an error in S3: `Deleted` with nothing released.
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version: Option<String>,
        condition: DeleteCondition,
        owner: &str,
    ) -> MetaResult<DeleteOutcome> {
        let (bucket, key, owner) = (bucket.to_owned(), key.to_owned(), owner.to_owned());
        self.write(move |tx| delete_one(tx, &bucket, &key, version.as_deref(), &condition, &owner)).await
    }

    /// Deletes many keys or versions in one transaction, each if its condition holds.
    pub async fn delete_objects(
        &self,
        bucket: &str,
        entries: Vec<(String, Option<String>, DeleteCondition)>,
        owner: &str,
    ) -> MetaResult<Vec<DeleteOutcome>> {
        let (bucket, owner) = (bucket.to_owned(), owner.to_owned());
        self.write(move |tx| {
            entries
                .iter()
                .map(|(key, version, condition)| delete_one(tx, &bucket, key, version.as_deref(), condition, &owner))
                .collect()
        })
        .await
    }

    /// Sets the ACL (stored form) of the version `checked` of an object, identified by its
    /// version id and blob: `false` when that version is gone since it was checked (deleted, or
    /// replaced: an unversioned bucket's next null version is another blob).
    pub async fn set_object_acl(&self, checked: &ObjectRow, acl: String) -> MetaResult<bool> {
        self.set_version_column(checked, "acl", acl).await
    }

    /// Replaces the tags of the object version `checked` (its other stored headers unchanged):
    /// on that version or nowhere, as `set_object_acl`.
    pub async fn set_object_tags(&self, checked: &ObjectRow, tags: Vec<(String, String)>) -> MetaResult<bool> {
        let meta = ObjectMeta { tags, ..checked.meta.clone() };
        let meta = serde_json::to_string(&meta).map_err(|e| MetaError::Corrupt(e.to_string()))?;
        self.set_version_column(checked, "meta", meta).await
    }

    /// Sets `column` of the row of the version `checked` (the same blob: not a version written
    /// since, nor a delete marker), wherever it is; `false` when it is gone.
    async fn set_version_column(&self, checked: &ObjectRow, column: &'static str, value: String) -> MetaResult<bool> {
        let (bucket, key, version_id, blob_id) =
            (checked.bucket.clone(), checked.key.clone(), checked.version_id.clone(), checked.blob_id.clone());
        self.write(move |tx| {
            let mut changed = 0;
            for table in ["objects", "object_versions"] {
                changed += tx.execute(
                    &format!(
                        "UPDATE {table} SET {column} = ?5 WHERE bucket = ?1 AND key = ?2 AND version_id = ?3 \
                         AND blob_id = ?4 AND delete_marker = 0"
                    ),
                    params![bucket, key.as_bytes(), version_id, blob_id, value],
                )?;
            }
            Ok(changed == 1)
        })
        .await
    }

    /// True when some row or part still references `blob_id`.
    pub async fn blob_in_use(&self, blob_id: &str) -> MetaResult<bool> {
        let id = blob_id.to_owned();
        self.read(move |conn| blob_referenced(conn, &id)).await
    }

    /// Object versions stored (current and noncurrent, not delete markers).
    pub async fn count_objects(&self) -> MetaResult<u64> {
        self.read(|conn| {
            let count = |table: &str| {
                conn.query_row(&format!("SELECT count(*) FROM {table} WHERE delete_marker = 0"), [], |r| {
                    r.get::<_, i64>(0)
                })
            };
            Ok((count("objects")? + count("object_versions")?) as u64)
        })
        .await
    }
}

#[cfg(test)]
mod tests;

//! Multipart uploads and their parts. Completion is one transaction that turns the chosen part
//! rows into the object's manifest (no bytes move), queues the parts left out, and replaces the
//! object row; an abort or a reap queues every part blob. Nothing here removes a blob a
//! completed object still uses: only released blobs enter the deletion queue.

use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::conditions::{PutCondition, Refusal};
use super::objects::{decode, from_row, ObjectMeta, ObjectRow, COLUMNS};
use super::versions::{current_etag, put_version, Written};
use super::{buckets, deletions, Db, MetaError, MetaResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub initiated_ms: i64,
    pub owner: String,
    pub meta: ObjectMeta,
    pub acl: String,
    pub checksum_algorithm: Option<String>,
    /// `FULL_OBJECT` or `COMPOSITE`, with `checksum_algorithm`.
    pub checksum_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRow {
    pub part_number: u32,
    pub blob_id: String,
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: i64,
    /// Base64 value of the upload's checksum algorithm over this part.
    pub checksum: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum PartOutcome {
    Stored { replaced: Option<String> },
    NoSuchUpload,
}

/// What a completion came to; `E` is the caller's refusal (bad part list, too small, …).
#[derive(Debug)]
pub enum CompleteOutcome<E> {
    /// The object as committed, and what the write did.
    Completed {
        row: ObjectRow,
        written: Written,
    },
    /// The upload is gone but an object completed from it is in place: a retried request.
    AlreadyCompleted {
        row: ObjectRow,
    },
    NoSuchUpload,
    /// `If-Match` was given but there is no object.
    NoSuchKey,
    PreconditionFailed,
    Refused(E),
}

/// One page of ListMultipartUploads.
#[derive(Debug, Default)]
pub struct UploadsPage {
    pub uploads: Vec<UploadRow>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
}

const UPLOAD_COLUMNS: &str = "upload_id, bucket, key, initiated, owner, meta, acl, checksum_algorithm, checksum_type";
const PART_COLUMNS: &str = "part_number, blob_id, size, etag, last_modified, checksum";

fn upload_from_row(r: &Row<'_>) -> rusqlite::Result<(UploadRow, String)> {
    Ok((
        UploadRow {
            upload_id: r.get(0)?,
            bucket: r.get(1)?,
            key: super::key_column(r, 2)?,
            initiated_ms: r.get(3)?,
            owner: r.get(4)?,
            meta: ObjectMeta::default(),
            acl: r.get(6)?,
            checksum_algorithm: r.get(7)?,
            checksum_type: r.get(8)?,
        },
        r.get(5)?,
    ))
}

fn decode_upload((mut row, meta): (UploadRow, String)) -> MetaResult<UploadRow> {
    row.meta = serde_json::from_str(&meta).map_err(|e| MetaError::Corrupt(format!("upload meta: {e}")))?;
    Ok(row)
}

fn part_from_row(r: &Row<'_>) -> rusqlite::Result<PartRow> {
    Ok(PartRow {
        part_number: r.get(0)?,
        blob_id: r.get(1)?,
        size: r.get::<_, i64>(2)? as u64,
        etag: r.get(3)?,
        last_modified_ms: r.get(4)?,
        checksum: r.get(5)?,
    })
}

fn upload_exists(tx: &Transaction<'_>, bucket: &str, key: &str, upload_id: &str) -> MetaResult<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM multipart_uploads WHERE upload_id = ?1 AND bucket = ?2 AND key = ?3")?
        .exists(params![upload_id, bucket, key.as_bytes()])?)
}

/// The version of `bucket/key` completed from `upload_id` (its manifest id), current or not.
fn completed_from(tx: &Transaction<'_>, bucket: &str, key: &str, upload_id: &str) -> MetaResult<Option<ObjectRow>> {
    for table in ["objects", "object_versions"] {
        let found = tx
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM {table} WHERE blob_id = ?1 AND bucket = ?2 AND key = ?3 AND parts_count > 0"
            ))?
            .query_row(params![upload_id, bucket, key.as_bytes()], from_row)
            .optional()?;
        if let Some(found) = found {
            return decode(found).map(Some);
        }
    }
    Ok(None)
}

/// Queues every part blob of an upload and removes the upload.
pub(super) fn drop_upload(tx: &Transaction<'_>, upload_id: &str) -> MetaResult<()> {
    let blobs: Vec<String> = tx
        .prepare_cached("DELETE FROM multipart_parts WHERE upload_id = ?1 RETURNING blob_id")?
        .query_map([upload_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for blob in blobs {
        deletions::enqueue(tx, &blob, None)?;
    }
    tx.prepare_cached("DELETE FROM multipart_uploads WHERE upload_id = ?1")?.execute([upload_id])?;
    Ok(())
}

impl Db {
    /// Records a new upload; `false` when the bucket does not exist.
    pub async fn create_upload(&self, row: UploadRow) -> MetaResult<bool> {
        self.write(move |tx| {
            if !buckets::exists(tx, &row.bucket)? {
                return Ok(false);
            }
            let meta = serde_json::to_string(&row.meta).map_err(|e| MetaError::Corrupt(e.to_string()))?;
            tx.prepare_cached(&format!(
                "INSERT INTO multipart_uploads ({UPLOAD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))?
            .execute(params![
                row.upload_id,
                row.bucket,
                row.key.as_bytes(),
                row.initiated_ms,
                row.owner,
                meta,
                row.acl,
                row.checksum_algorithm,
                row.checksum_type
            ])?;
            Ok(true)
        })
        .await
    }

    pub async fn get_upload(&self, bucket: &str, key: &str, upload_id: &str) -> MetaResult<Option<UploadRow>> {
        let (bucket, key, id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {UPLOAD_COLUMNS} FROM multipart_uploads WHERE upload_id = ?1 AND bucket = ?2 AND key = ?3"
            ))?
            .query_row(params![id, bucket, key.as_bytes()], upload_from_row)
            .optional()?
            .map(decode_upload)
            .transpose()
        })
        .await
    }

    /// Stores (or replaces) a part whose blob is already durable.
    pub async fn put_part(&self, bucket: &str, key: &str, upload_id: &str, part: PartRow) -> MetaResult<PartOutcome> {
        let (bucket, key, id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.write(move |tx| {
            if !upload_exists(tx, &bucket, &key, &id)? {
                return Ok(PartOutcome::NoSuchUpload);
            }
            let old: Option<String> = tx
                .prepare_cached("SELECT blob_id FROM multipart_parts WHERE upload_id = ?1 AND part_number = ?2")?
                .query_row(params![id, part.part_number], |r| r.get(0))
                .optional()?;
            tx.prepare_cached(&format!(
                "INSERT OR REPLACE INTO multipart_parts (upload_id, {PART_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))?
            .execute(params![
                id,
                part.part_number,
                part.blob_id,
                part.size as i64,
                part.etag,
                part.last_modified_ms,
                part.checksum
            ])?;
            if let Some(old) = &old {
                deletions::enqueue(tx, old, None)?;
            }
            Ok(PartOutcome::Stored { replaced: old })
        })
        .await
    }

    /// Parts after `after` in part-number order, at most `limit`.
    pub async fn list_parts(&self, upload_id: &str, after: u32, limit: usize) -> MetaResult<Vec<PartRow>> {
        let id = upload_id.to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {PART_COLUMNS} FROM multipart_parts WHERE upload_id = ?1 AND part_number > ?2 ORDER BY \
                    part_number LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![id, after, limit as i64], part_from_row)?.collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Completes an upload in one transaction. `build` sees every stored part and returns the
    /// object row (its `blob_id` must be the upload id) and the part numbers it uses, or a refusal.
    pub async fn complete_upload<E, F>(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        condition: PutCondition,
        build: F,
    ) -> MetaResult<CompleteOutcome<E>>
    where
        E: Send + 'static,
        F: FnOnce(&[PartRow]) -> Result<(ObjectRow, Vec<u32>), E> + Send + 'static,
    {
        let (bucket, key, id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.write(move |tx| {
            if !upload_exists(tx, &bucket, &key, &id)? {
                // A completed upload's id lives on as the object's manifest id (current or not).
                let done = completed_from(tx, &bucket, &key, &id)?;
                return Ok(match done {
                    Some(row) => CompleteOutcome::AlreadyCompleted { row },
                    None => CompleteOutcome::NoSuchUpload,
                });
            }
            match condition.check(current_etag(tx, &bucket, &key)?.as_deref()) {
                Ok(()) => {}
                Err(Refusal::NoSuchKey) => return Ok(CompleteOutcome::NoSuchKey),
                Err(Refusal::PreconditionFailed) => return Ok(CompleteOutcome::PreconditionFailed),
            }
            let parts: Vec<PartRow> = tx
                .prepare_cached(&format!(
                    "SELECT {PART_COLUMNS} FROM multipart_parts WHERE upload_id = ?1 ORDER BY part_number"
                ))?
                .query_map([&id], part_from_row)?
                .collect::<Result<_, _>>()?;
            let Some(versioning) = buckets::versioning(tx, &bucket)? else { return Ok(CompleteOutcome::NoSuchUpload) };
            let (mut row, chosen) = match build(&parts) {
                Ok(v) => v,
                Err(e) => return Ok(CompleteOutcome::Refused(e)),
            };
            let mut insert = tx.prepare_cached(
                "INSERT INTO object_parts (manifest_id, part_number, blob_id, size, etag, checksum)
                 SELECT upload_id, part_number, blob_id, size, etag, checksum FROM multipart_parts
                 WHERE upload_id = ?1 AND part_number = ?2",
            )?;
            let mut remove =
                tx.prepare_cached("DELETE FROM multipart_parts WHERE upload_id = ?1 AND part_number = ?2")?;
            for n in &chosen {
                insert.execute(params![id, n])?;
                remove.execute(params![id, n])?;
            }
            // Parts uploaded but not listed are released with the upload.
            drop_upload(tx, &id)?;
            let written = put_version(tx, versioning, &mut row, None)?;
            Ok(CompleteOutcome::Completed { row, written })
        })
        .await
    }

    /// Aborts an upload, queueing its part blobs; `false` when there was no such upload.
    pub async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> MetaResult<bool> {
        let (bucket, key, id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.write(move |tx| {
            if !upload_exists(tx, &bucket, &key, &id)? {
                return Ok(false);
            }
            drop_upload(tx, &id)?;
            Ok(true)
        })
        .await
    }

    /// Aborts every upload initiated before `before_ms`; returns how many.
    pub async fn reap_uploads(&self, before_ms: i64) -> MetaResult<usize> {
        self.write(move |tx| {
            let ids: Vec<String> = tx
                .prepare_cached("SELECT upload_id FROM multipart_uploads WHERE initiated < ?1")?
                .query_map([before_ms], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for id in &ids {
                drop_upload(tx, id)?;
            }
            Ok(ids.len())
        })
        .await
    }

    /// Uploads in (key, upload id) order after the markers, rolled up by `delimiter`.
    pub async fn list_uploads(
        &self,
        bucket: &str,
        prefix: String,
        delimiter: Option<String>,
        key_marker: Option<String>,
        upload_id_marker: Option<String>,
        max: usize,
    ) -> MetaResult<UploadsPage> {
        let bucket = bucket.to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {UPLOAD_COLUMNS} FROM multipart_uploads WHERE bucket = ?1
                 AND (key > ?2 OR (key = ?2 AND upload_id > ?3)) ORDER BY key, upload_id"
            ))?;
            let (start_key, start_id) = match (&key_marker, &upload_id_marker) {
                (Some(k), Some(u)) => (k.as_bytes().to_vec(), u.clone()),
                // A key marker alone skips every upload of that key.
                (Some(k), None) => (k.as_bytes().to_vec(), "\u{10FFFF}".to_owned()),
                _ => (Vec::new(), String::new()),
            };
            // A key marker that is itself a common prefix (as NextKeyMarker is when a page ended
            // on one) skips every upload under it.
            let skip_under = key_marker
                .as_deref()
                .filter(|m| super::list::common_prefix(m, &prefix, delimiter.as_deref()) == Some(*m))
                .map(str::to_owned);
            let mut page = UploadsPage::default();
            let mut rows = stmt.query(params![bucket, start_key, start_id])?;
            while let Some(r) = rows.next()? {
                let upload = decode_upload(upload_from_row(r)?)?;
                if !upload.key.starts_with(&prefix) || skip_under.as_deref().is_some_and(|s| upload.key.starts_with(s))
                {
                    continue;
                }
                let cp = super::list::common_prefix(&upload.key, &prefix, delimiter.as_deref()).map(str::to_owned);
                if let Some(cp) = &cp {
                    if page.prefixes.last() == Some(cp) {
                        continue;
                    }
                }
                if page.uploads.len() + page.prefixes.len() == max {
                    page.truncated = true;
                    break;
                }
                match cp {
                    Some(cp) => page.prefixes.push(cp),
                    None => page.uploads.push(upload),
                }
            }
            Ok(page)
        })
        .await
    }
}

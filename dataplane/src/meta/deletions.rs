//! The durable queue of blobs to delete. A blob id enters it in the same transaction that drops
//! the last reference to it, and leaves only after the bytes are gone, so a crash between the
//! two just means the deleter tries again after the next start.

use rusqlite::{params, Transaction};

use super::{now_ms, versions, Db, MetaResult};

/// Queues `blob_id`; `pin_id` is the object (blob or manifest id) readers pin it by.
pub(super) fn enqueue(tx: &Transaction<'_>, blob_id: &str, pin_id: Option<&str>) -> MetaResult<()> {
    tx.prepare_cached("INSERT OR IGNORE INTO blob_deletions (blob_id, enqueued_at, pin_id) VALUES (?1, ?2, ?3)")?
        .execute(params![blob_id, now_ms(), pin_id])?;
    Ok(())
}

impl Db {
    /// Up to `limit` queued (blob id, pin id), oldest first, skipping the first `skip`.
    pub async fn pending_deletions_from(&self, skip: usize, limit: usize) -> MetaResult<Vec<(String, Option<String>)>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT blob_id, pin_id FROM blob_deletions ORDER BY enqueued_at, blob_id LIMIT ?1 OFFSET ?2",
            )?;
            let rows = stmt.query_map([limit as i64, skip as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Up to `limit` queued (blob id, pin id), oldest first.
    pub async fn pending_deletions(&self, limit: usize) -> MetaResult<Vec<(String, Option<String>)>> {
        self.pending_deletions_from(0, limit).await
    }

    /// Removes ids from the queue once their bytes are gone.
    pub async fn deletions_done(&self, ids: Vec<String>) -> MetaResult<()> {
        self.write(move |tx| {
            let mut stmt = tx.prepare_cached("DELETE FROM blob_deletions WHERE blob_id = ?1")?;
            for id in &ids {
                stmt.execute([id])?;
            }
            Ok(())
        })
        .await
    }

    /// True when `blob_id` is referenced by a row or waiting in the deletion queue: in both
    /// cases the orphan sweep must leave it alone.
    pub async fn blob_known(&self, blob_id: &str) -> MetaResult<bool> {
        let id = blob_id.to_owned();
        self.read(move |conn| {
            Ok(versions::blob_referenced(conn, &id)?
                || conn.prepare_cached("SELECT 1 FROM blob_deletions WHERE blob_id = ?1")?.exists([&id])?)
        })
        .await
    }
}

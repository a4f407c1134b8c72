//! Start-up is recovery: unfinished writes are removed, blobs that no row references (a crash
//! between blob commit and metadata commit) are swept, expired multipart uploads are reaped,
//! and the deletion queue is drained — all before the first request is accepted, so nothing
//! here races a live write. The reaper then keeps running periodically.

use crate::deleter;
use crate::state::AppState;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub temp_files: usize,
    pub orphan_blobs: usize,
    pub queued_deletions: usize,
    pub expired_uploads: usize,
}

pub async fn recover(state: &AppState) -> Result<RecoveryReport, String> {
    let temp_files = state.blobs.clean_temp().await.map_err(|e| e.to_string())?;
    let mut orphan_blobs = 0;
    for id in state.blobs.list_ids().await.map_err(|e| e.to_string())? {
        if !state.db.blob_known(&id).await.map_err(|e| e.to_string())? {
            state.blobs.delete(&id).await.map_err(|e| e.to_string())?;
            orphan_blobs += 1;
        }
    }
    let expired_uploads = reap_expired_uploads(state).await?;
    let queued_deletions = deleter::drain_once(state).await?;
    Ok(RecoveryReport { temp_files, orphan_blobs, queued_deletions, expired_uploads })
}

/// Aborts multipart uploads older than the configured expiry; their parts go to the deleter.
pub async fn reap_expired_uploads(state: &AppState) -> Result<usize, String> {
    let expiry_ms = i64::try_from(state.config.multipart.expiry_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let n = state.db.reap_uploads(crate::meta::now_ms().saturating_sub(expiry_ms)).await.map_err(|e| e.to_string())?;
    if n > 0 {
        tracing::info!(uploads = n, "reaped expired multipart uploads");
        state.deleter.notify_one();
    }
    Ok(n)
}

/// Runs the upload reaper every `reap_interval_secs`, forever.
pub async fn run_reaper(state: std::sync::Arc<AppState>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(state.config.multipart.reap_interval_secs));
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = reap_expired_uploads(&state).await {
            tracing::warn!(error = %e, "multipart reaper failed; will retry");
        }
    }
}

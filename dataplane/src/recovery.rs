//! Start-up is recovery: unfinished writes are removed, blobs that no row references (a crash
//! between blob commit and metadata commit) are swept, and the deletion queue is drained —
//! all before the first request is accepted, so nothing here races a live write.

use crate::deleter;
use crate::state::AppState;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub temp_files: usize,
    pub orphan_blobs: usize,
    pub queued_deletions: usize,
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
    let queued_deletions = deleter::drain_once(state).await?;
    Ok(RecoveryReport { temp_files, orphan_blobs, queued_deletions })
}

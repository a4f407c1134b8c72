//! The blob deleter: drains the durable deletion queue in the background. A blob leaves the
//! queue only after its bytes are gone, and a blob some row still uses is never deleted.

use std::sync::Arc;
use std::time::Duration;

use crate::state::AppState;

const BATCH: usize = 256;
const IDLE_POLL: Duration = Duration::from_secs(30);

/// Deletes every queued blob whose object no reader pins; returns how many were removed.
/// Pinned entries stay queued for a later pass.
pub async fn drain_once(state: &AppState) -> Result<usize, String> {
    let mut removed = 0;
    let mut skipped = 0;
    loop {
        let ids = state.db.pending_deletions_from(skipped, BATCH).await.map_err(|e| e.to_string())?;
        if ids.is_empty() {
            return Ok(removed);
        }
        let mut done = Vec::with_capacity(ids.len());
        for (id, pin) in ids {
            if pin.as_deref().is_some_and(|p| state.pins.is_pinned(p)) {
                skipped += 1;
                continue;
            }
            // A row may have come to use this blob again; then only the queue entry goes.
            if !state.db.blob_in_use(&id).await.map_err(|e| e.to_string())? {
                state.blobs.delete(&id).await.map_err(|e| e.to_string())?;
                removed += 1;
            }
            done.push(id);
        }
        state.db.deletions_done(done).await.map_err(|e| e.to_string())?;
    }
}

/// Runs forever: drains on every notification (a write released blobs, a reader let go of a
/// pin) and every `IDLE_POLL`.
pub async fn run(state: Arc<AppState>) {
    loop {
        if let Err(e) = drain_once(&state).await {
            tracing::warn!(error = %e, "blob deletion failed; will retry");
        }
        let _ = tokio::time::timeout(IDLE_POLL, state.deleter.notified()).await;
    }
}

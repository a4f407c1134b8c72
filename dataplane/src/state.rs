//! What every request handler shares: config, metadata, blobs, the authenticator, the deleter.

use std::sync::Arc;

use tokio::sync::{Notify, Semaphore};

use crate::auth::Authenticator;
use crate::blob::BlobStore;
use crate::config::Config;
use crate::meta::Db;
use crate::pins::Pins;

pub struct AppState {
    pub config: Config,
    pub db: Db,
    pub blobs: Arc<dyn BlobStore>,
    pub auth: Authenticator,
    /// Wakes the blob deleter after a transaction queued blobs.
    pub deleter: Arc<Notify>,
    /// Bounds requests handled at once; waiting requests are backpressure, not errors.
    pub inflight: Semaphore,
    /// Objects being streamed to readers; their blobs are not deleted meanwhile.
    pub pins: Arc<Pins>,
}

impl AppState {
    pub fn new(config: Config, db: Db, blobs: Arc<dyn BlobStore>) -> Arc<Self> {
        let auth = Authenticator::new(db.clone(), config.region.clone());
        let inflight = Semaphore::new(config.limits.max_inflight_requests);
        let deleter = Arc::new(Notify::new());
        let pins = Arc::new(Pins::new(deleter.clone()));
        Arc::new(Self { config, db, blobs, auth, deleter, inflight, pins })
    }
}

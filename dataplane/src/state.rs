//! What every request handler shares: config, metadata, blobs, the authenticator, the deleter.

use std::sync::atomic::AtomicU8;
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
    pub metrics: Arc<crate::metrics::Metrics>,
    /// A `Phase`, for readiness.
    pub phase: AtomicU8,
}

/// Where the process is in its life; only `Ready` is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Starting = 0,
    Ready = 1,
    Draining = 2,
}

impl From<u8> for Phase {
    fn from(v: u8) -> Self {
        match v {
            1 => Self::Ready,
            2 => Self::Draining,
            _ => Self::Starting,
        }
    }
}

impl AppState {
    pub fn new(config: Config, db: Db, blobs: Arc<dyn BlobStore>) -> Arc<Self> {
        let auth = Authenticator::new(db.clone(), config.region.clone());
        let inflight = Semaphore::new(config.limits.max_inflight_requests);
        let deleter = Arc::new(Notify::new());
        let pins = Arc::new(Pins::new(deleter.clone()));
        let metrics = Arc::new(crate::metrics::Metrics::new().expect("metric names are valid and registered once"));
        Arc::new(Self {
            config,
            db,
            blobs,
            auth,
            deleter,
            inflight,
            pins,
            metrics,
            phase: AtomicU8::new(Phase::Starting as u8),
        })
    }
}

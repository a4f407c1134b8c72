//! Serving: the router, the accept loop with its connection bound and header timeout, and the
//! start-up sequence (open, migrate, seed, recover) that must finish before the first accept.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::blob::azure::AzureBlobStore;
use crate::blob::local::LocalBlobStore;
use crate::blob::s3::S3BlobStore;
use crate::blob::BlobStore;
use crate::config::{BackendKind, Config};
use crate::meta::Db;
use crate::recovery::{self, RecoveryReport};
use crate::root::{self, RootCredential};
use crate::state::{AppState, Phase};
use std::sync::atomic::Ordering;

/// The S3 router; tests drive it without a socket.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new().fallback(crate::s3::handle).with_state(state)
}

/// A store opened and recovered, ready to serve.
pub struct Prepared {
    pub state: Arc<AppState>,
    /// Present when the config asks for HTTPS.
    pub tls: Option<TlsAcceptor>,
    pub root: RootCredential,
    pub recovery: RecoveryReport,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error("metadata database: {0}")]
    Meta(#[from] crate::meta::MetaError),
    #[error("root credential: {0}")]
    Root(std::io::Error),
    #[error("encryption key: {0}")]
    EncryptionKey(std::io::Error),
    #[error("start-up recovery: {0}")]
    Recovery(String),
    #[error("blob store: {0}")]
    Backend(String),
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
}

/// A store opened (database migrated, root credential seeded) but not yet recovered.
pub struct Opened {
    pub state: Arc<AppState>,
    pub tls: Option<TlsAcceptor>,
    pub root: RootCredential,
}

/// Opens the data directory. The management port may serve from here on (not ready yet).
pub async fn open(config: Config) -> Result<Opened, StartError> {
    let tls = config.tls.as_ref().map(crate::tls::acceptor).transpose()?;
    let data_dir = config.data_dir.clone();
    let dir_err = |e| StartError::DataDir(data_dir.display().to_string(), e);
    std::fs::create_dir_all(&data_dir).map_err(dir_err)?;
    let key = crate::encryption::resolve(&data_dir, |k| std::env::var(k).ok()).map_err(StartError::EncryptionKey)?;
    if let crate::encryption::KeySource::File(path) = &key.source {
        tracing::warn!(
            path = %path.display(),
            "secrets at rest are sealed with a key kept on the data volume; set {} to keep it elsewhere",
            crate::encryption::ENV_KEY
        );
    }
    let db = Db::open(&data_dir.join("meta.db"), key.sealer, key.replaced.as_ref())?;
    if key.replaced.is_some() {
        crate::encryption::forget_replaced(&data_dir).map_err(StartError::EncryptionKey)?;
        tracing::info!("secrets at rest re-sealed with the key from {}", crate::encryption::ENV_KEY);
    }
    let root = root::resolve(&config, |k| std::env::var(k).ok()).map_err(StartError::Root)?;
    db.seed_root(&root.access_key, &root.secret_key).await?;
    let blobs: Arc<dyn BlobStore> = match (&config.backend.kind, &config.backend.s3) {
        (BackendKind::S3, Some(s3)) => Arc::new(S3BlobStore::connect(s3).await),
        (BackendKind::Azure, _) => match &config.backend.azure {
            Some(azure) => Arc::new(AzureBlobStore::connect(azure).map_err(|e| StartError::Backend(e.to_string()))?),
            None => return Err(StartError::Backend("backend.azure is required when backend.type is azure".into())),
        },
        _ => Arc::new(LocalBlobStore::open(&data_dir).map_err(dir_err)?),
    };
    let state = AppState::new(config, db, blobs);
    Ok(Opened { state, tls, root })
}

/// Runs start-up recovery, then marks the store ready. Nothing is served on S3 before this.
pub async fn recover(opened: Opened) -> Result<Prepared, StartError> {
    let Opened { state, tls, root } = opened;
    let recovery = recovery::recover(&state).await.map_err(StartError::Recovery)?;
    seed_gauges(&state).await?;
    state.phase.store(Phase::Ready as u8, Ordering::SeqCst);
    Ok(Prepared { state, tls, root, recovery })
}

/// `open` then `recover`.
pub async fn prepare(config: Config) -> Result<Prepared, StartError> {
    recover(open(config).await?).await
}

/// The objects and buckets gauges start from what SQLite holds.
async fn seed_gauges(state: &AppState) -> Result<(), StartError> {
    let (buckets, objects, _) = state.db.totals().await?;
    state.metrics.buckets.set(buckets as i64);
    state.metrics.objects.set(objects as i64);
    Ok(())
}

/// Serves the management port (probes, metrics, admin API) until `shutdown` resolves.
pub async fn serve_management(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, crate::mgmt::app(state)).with_graceful_shutdown(shutdown).await
}

/// Accepts connections (HTTPS when `tls` is given) until `shutdown` resolves, then drains for a
/// bounded time.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let limits = state.config.limits.clone();
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    // HTTP/1.1 only: S3 clients speak it, and hyper's header timeout then also covers a
    // connection that never sends a byte (protocol sniffing would wait on it unbounded).
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout());
    let service = TowerToHyperService::new(app(state.clone()));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::spawn(crate::recovery::run_reaper(state.clone()));
    tokio::spawn(crate::deleter::run(state));
    tokio::pin!(shutdown);
    loop {
        // Take a connection slot first: past the bound, clients wait in the listen backlog.
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => p.map_err(std::io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Headers and small bodies must not wait for Nagle + delayed ACK.
        let _ = stream.set_nodelay(true);
        match &tls {
            None => {
                let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service.clone()));
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    drop(permit);
                });
            }
            Some(acceptor) => {
                let (acceptor, builder, service) = (acceptor.clone(), builder.clone(), service.clone());
                let watcher = graceful.watcher();
                let handshake_timeout = limits.header_read_timeout();
                tokio::spawn(async move {
                    // The handshake is bounded like headers are: a silent client loses its slot.
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls_stream)) => {
                            let conn = watcher.watch(builder.serve_connection(TokioIo::new(tls_stream), service));
                            if let Err(e) = conn.await {
                                tracing::debug!(%peer, error = %e, "connection ended with an error");
                            }
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                    drop(permit);
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(limits.drain(), graceful.shutdown()).await.is_err() {
        tracing::warn!("drain period ended with requests still in flight");
    }
    Ok(())
}

/// Binds the configured address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

//! Metadata in SQLite (WAL): one writer connection, a pool of readers, every call on the
//! blocking pool. Submodules own one table family each; this module owns the connections.
//!
//! Must not: touch blob bytes or know about HTTP.

mod buckets;
mod credentials;
mod deletions;
mod list;
mod multipart;
mod objects;
mod schema;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use buckets::{BucketRow, CreateBucketOutcome, DeleteBucketOutcome};
pub use credentials::{Credential, GRANT_OWNER, GRANT_READ, GRANT_WRITE};
pub use list::{ListItem, ListPage, ListQuery, ListStart};
pub use multipart::{CompleteOutcome, PartOutcome, PartRow, UploadRow, UploadsPage};
pub use objects::{Checksum, ManifestPart, ObjectMeta, ObjectRow, PutCondition, PutOutcome};

/// A metadata failure. Domain outcomes (no such bucket, not empty, …) are values, not errors.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
    #[error("metadata worker failed: {0}")]
    Worker(String),
}

impl MetaError {
    /// True when the database file cannot grow (disk full).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, Self::Sqlite(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DiskFull)
    }
    /// True when SQLite gave up waiting for a lock.
    pub fn is_busy(&self) -> bool {
        matches!(self, Self::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
    }
}

pub type MetaResult<T> = Result<T, MetaError>;

const READER_POOL_MAX: usize = 16;

/// Handle to the metadata database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<DbInner>,
}

struct DbInner {
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    path: std::path::PathBuf,
}

impl Db {
    /// Opens (creating if needed) and migrates the database. Blocking: call before serving.
    pub fn open(path: &Path) -> MetaResult<Self> {
        let mut writer = open_connection(path, false)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        schema::migrate(&mut writer)?;
        Ok(Self {
            inner: Arc::new(DbInner {
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                path: path.to_owned(),
            }),
        })
    }

    /// Runs `f` on a reader connection, off the async reactor.
    pub async fn read<T, F>(&self, f: F) -> MetaResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> MetaResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || {
            let conn = match inner.readers.lock().map_err(poisoned)?.pop() {
                Some(conn) => conn,
                None => open_connection(&inner.path, true)?,
            };
            let result = f(&conn);
            let mut pool = inner.readers.lock().map_err(poisoned)?;
            if pool.len() < READER_POOL_MAX {
                pool.push(conn);
            }
            result
        })
        .await
    }

    /// Runs `f` in one IMMEDIATE write transaction, committed when `f` returns `Ok`.
    pub async fn write<T, F>(&self, f: F) -> MetaResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> MetaResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || {
            let mut conn = inner.writer.lock().map_err(poisoned)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })
        .await
    }

    /// Readiness: a fresh connection to the database file answers a query. In WAL mode a
    /// reader is never blocked by a writer, so a long write transaction does not flap the
    /// probe; a missing, unreadable or corrupt database does show.
    pub async fn probe(&self) -> MetaResult<()> {
        let path = self.inner.path.clone();
        run_blocking(move || {
            let conn = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.busy_timeout(std::time::Duration::from_millis(500))?;
            conn.query_row("SELECT count(*) FROM buckets", [], |r| r.get::<_, i64>(0))?;
            Ok(())
        })
        .await
    }

    /// Runs `f` with the writer connection outside a transaction (start-up work).
    pub fn write_blocking<T>(&self, f: impl FnOnce(&mut Connection) -> MetaResult<T>) -> MetaResult<T> {
        let mut conn = self.inner.writer.lock().map_err(poisoned)?;
        f(&mut conn)
    }
}

fn poisoned<E>(_: E) -> MetaError {
    MetaError::Worker("a metadata connection lock was poisoned by a panic".into())
}

async fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> MetaResult<T> + Send + 'static) -> MetaResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| MetaError::Worker(e.to_string()))?
}

fn open_connection(path: &Path, read_only: bool) -> MetaResult<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // FULL: a commit is on disk before the client hears 200, power loss included.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Milliseconds since the Unix epoch, the unit of every timestamp column.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// A fresh database in a temp dir that lives as long as the returned guard.
    pub fn db() -> (Db, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("meta.db")).unwrap();
        (db, dir)
    }
}

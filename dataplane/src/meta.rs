//! Metadata in SQLite (WAL): one writer connection, a pool of readers, every call on the
//! blocking pool except the short object lookups of GET and HEAD (`read_now`). Submodules own
//! one table family each; this module owns the connections.
//!
//! Must not: touch blob bytes or know about HTTP.

mod bucket_config;
mod buckets;
mod cache;
mod conditions;
mod credentials;
mod deletions;
mod list;
mod list_versions;
mod multipart;
mod objects;
mod schema;
pub mod sealing;
mod versions;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use bucket_config::ConfigKind;
pub use buckets::{BucketRow, CreateBucketOutcome, DeleteBucketOutcome, SetVersioningOutcome, Versioning};
pub use conditions::{DeleteCondition, PutCondition, Refusal};
pub use credentials::{Credential, GRANT_OWNER, GRANT_READ, GRANT_WRITE};
pub use list::{ListItem, ListPage, ListQuery, ListStart};
pub use list_versions::{VersionEntry, VersionItem, VersionsPage, VersionsQuery};
pub use multipart::{CompleteOutcome, PartOutcome, PartRow, UploadRow, UploadsPage};
pub use objects::{Checksum, Layout, ManifestPart, ObjectMeta, ObjectPart, ObjectRow, PutOutcome, NULL_VERSION};
pub use versions::{is_version_id, new_version_id, DeleteOutcome, Deleted, Written};

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
    /// The same failure again, for each request of a group commit that failed as a whole.
    fn duplicate(&self) -> MetaError {
        match self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, message)) => {
                Self::Sqlite(rusqlite::Error::SqliteFailure(*e, message.clone()))
            }
            other => Self::Worker(other.to_string()),
        }
    }
    /// True when the volume under the database failed: it is read-only, or an I/O call on
    /// the database files failed (SQLITE_READONLY, SQLITE_IOERR).
    pub fn is_volume_failure(&self) -> bool {
        matches!(self, Self::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            if matches!(e.code, rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::SystemIoFailure))
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

/// Delivers one write request's result once its group's commit outcome is known.
type Finish = Box<dyn FnOnce(Option<&MetaError>) + Send>;
/// One queued write request: runs in the group's transaction (or sees why it could not start)
/// and returns its delivery, and whether it left the transaction unusable.
type Job = Box<dyn FnOnce(Result<&Transaction<'_>, &MetaError>) -> (Finish, bool) + Send>;

struct DbInner {
    writer: Mutex<Connection>,
    /// Write requests waiting for the next group commit.
    queue: Mutex<Vec<Job>>,
    readers: Mutex<Vec<Connection>>,
    path: std::path::PathBuf,
    /// Credentials, buckets and grants, as last read (see `cache`).
    cache: cache::ConfigCache,
    /// Seals and opens the secrets of the `credentials` table.
    sealer: sealing::Sealer,
}

impl Db {
    /// Opens (creating if needed) and migrates the database, and seals any secret still in
    /// plain text with `sealer` (refusing a key the stored secrets were not sealed with).
    /// Blocking: call before serving.
    /// `previous` is a key being replaced: secrets sealed with it are re-sealed with `sealer`.
    pub fn open(path: &Path, sealer: sealing::Sealer, previous: Option<&sealing::Sealer>) -> MetaResult<Self> {
        let mut writer = open_connection(path, false)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        schema::migrate(&mut writer)?;
        sealing::seal_plaintext_rows(&mut writer, &sealer, previous)?;
        Ok(Self {
            inner: Arc::new(DbInner {
                writer: Mutex::new(writer),
                queue: Mutex::new(Vec::new()),
                readers: Mutex::new(Vec::new()),
                path: path.to_owned(),
                cache: cache::ConfigCache::default(),
                sealer,
            }),
        })
    }

    /// Runs `f` on a reader connection, off the async reactor.
    pub async fn read<T, F>(&self, f: F) -> MetaResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> MetaResult<T> + Send + 'static,
    {
        let db = self.clone();
        run_blocking(move || db.with_reader(f)).await
    }

    /// As [`read`](Self::read), but on the calling thread: for lookups of a row or a few, which
    /// take microseconds from the page cache, a hand-off to the blocking pool and back (two
    /// thread wake-ups) costs more than the read itself. WAL readers do not wait for the
    /// writer. Not for scans.
    pub fn read_now<T>(&self, f: impl FnOnce(&Connection) -> MetaResult<T>) -> MetaResult<T> {
        self.with_reader(f)
    }

    /// Runs `f` on a pooled reader connection (a new one when the pool is empty); the pool's
    /// lock is held only to take and to return a connection.
    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> MetaResult<T>) -> MetaResult<T> {
        let pooled = self.inner.readers.lock().map_err(poisoned)?.pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => open_connection(&self.inner.path, true)?,
        };
        let result = f(&conn);
        let mut pool = self.inner.readers.lock().map_err(poisoned)?;
        if pool.len() < READER_POOL_MAX {
            pool.push(conn);
        }
        result
    }

    /// Runs `f` atomically (in a savepoint) and durably: its changes are committed when `f`
    /// returns `Ok`, and discarded when it returns `Err`.
    ///
    /// Group commit: requests that arrive while the writer is busy queue up, and the next
    /// writer runs all of them in one IMMEDIATE transaction, each in its own savepoint, with a
    /// single commit (one WAL fsync) for the group. A failed commit fails every request of the
    /// group, so none is reported done unless it is on disk.
    pub async fn write<T, F>(&self, f: F) -> MetaResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> MetaResult<T> + Send + 'static,
    {
        let (send, receive) = tokio::sync::oneshot::channel::<MetaResult<T>>();
        let job: Job = Box::new(move |tx| {
            let (result, broken) = match tx {
                Ok(tx) => in_savepoint(tx, f),
                Err(begin) => (Err(begin.duplicate()), false),
            };
            let finish: Finish = Box::new(move |commit_error| {
                let _ = send.send(match (result, commit_error) {
                    (Ok(value), None) => Ok(value),
                    (Ok(_), Some(error)) => Err(error.duplicate()),
                    (Err(error), _) => Err(error),
                });
            });
            (finish, broken)
        });
        self.inner.queue.lock().map_err(poisoned)?.push(job);
        let inner = self.inner.clone();
        run_blocking(move || inner.commit_group()).await?;
        receive.await.map_err(|_| MetaError::Worker("the metadata writer dropped a request".into()))?
    }
    /// `write` for the tables the config cache holds (credentials, buckets, grants): the cache
    /// is cleared once the outcome is known, so no reader sees the old rows after the commit.
    pub(crate) async fn write_config<T, F>(&self, f: F) -> MetaResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> MetaResult<T> + Send + 'static,
    {
        let result = self.write(f).await;
        self.inner.cache.clear();
        result
    }

    /// Readiness: a fresh connection to the database file answers a query and can take the
    /// write lock within 0.5 s (then lets it go without writing). A missing, unreadable,
    /// corrupt or read-only database shows, and so does a write lock held for longer than the
    /// probe waits (SQLITE_BUSY); group commits hold it for milliseconds.
    pub async fn probe(&self) -> MetaResult<()> {
        let path = self.inner.path.clone();
        run_blocking(move || {
            let conn = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.busy_timeout(std::time::Duration::from_millis(500))?;
            conn.query_row("SELECT count(*) FROM buckets", [], |r| r.get::<_, i64>(0))?;
            conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")?;
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

impl DbInner {
    /// Runs every queued request in one transaction and commits once. A request queued while
    /// another group was committing is run by the next caller to get the writer (possibly an
    /// earlier one's own call finds the queue empty: its request already ran).
    fn commit_group(&self) -> MetaResult<()> {
        let mut conn = self.writer.lock().map_err(poisoned)?;
        let jobs = std::mem::take(&mut *self.queue.lock().map_err(poisoned)?);
        if jobs.is_empty() {
            return Ok(());
        }
        let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                let error = MetaError::from(e);
                for job in jobs {
                    let (finish, _) = job(Err(&error));
                    finish(Some(&error));
                }
                return Ok(());
            }
        };
        let mut finishes = Vec::with_capacity(jobs.len());
        let mut broken = false;
        for job in jobs {
            let (finish, job_broke) = job(Ok(&tx));
            broken |= job_broke;
            finishes.push(finish);
        }
        let outcome = if broken {
            drop(tx);
            Err(MetaError::Worker("a savepoint could not be rolled back; the group was discarded".into()))
        } else {
            tx.commit().map_err(MetaError::from)
        };
        let error = outcome.err();
        for finish in finishes {
            finish(error.as_ref());
        }
        Ok(())
    }
}

/// Runs `f` in a savepoint of `tx`: kept when it succeeds, rolled back when it fails. The flag
/// says the rollback itself failed, which leaves the whole transaction unusable.
fn in_savepoint<T>(tx: &Transaction<'_>, f: impl FnOnce(&Transaction<'_>) -> MetaResult<T>) -> (MetaResult<T>, bool) {
    if let Err(e) = tx.execute_batch("SAVEPOINT request") {
        return (Err(e.into()), false);
    }
    match f(tx) {
        Ok(value) => match tx.execute_batch("RELEASE request") {
            Ok(()) => (Ok(value), false),
            Err(e) => (Err(e.into()), true),
        },
        Err(error) => {
            let undone = tx.execute_batch("ROLLBACK TO request; RELEASE request").is_ok();
            (Err(error), !undone)
        }
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
    if read_only {
        // Up to READER_POOL_MAX readers: 1 MiB of page cache each (SQLite's default is 2 MiB)
        // keeps their sum small; misses are served by the kernel's page cache.
        conn.pragma_update(None, "cache_size", -1024)?;
    }
    Ok(conn)
}

/// An object key column (stored as a BLOB for byte ordering) as text. Keys are written from
/// UTF-8 strings, so anything else is a corrupt row, reported as such, never an empty key.
pub(crate) fn key_column(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<String> {
    let bytes: Vec<u8> = row.get(index)?;
    String::from_utf8(bytes).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Blob, Box::new(e.utf8_error()))
    })
}

/// Milliseconds since the Unix epoch, the unit of every timestamp column.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// A fresh database in a temp dir that lives as long as the returned guard.
    pub(crate) fn db() -> (Db, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let sealer = sealing::Sealer::from_base64(&sealing::Sealer::generate_key()).unwrap();
        let db = Db::open(&dir.path().join("meta.db"), sealer, None).unwrap();
        (db, dir)
    }
}

#[cfg(test)]
mod group_commit_tests {
    use super::test_support::db;
    use super::*;

    /// Concurrent writers: every successful request is committed, every failed one leaves no
    /// trace, whichever group it shared with others.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn failed_requests_roll_back_alone_and_the_rest_commit() {
        let (db, _dir) = db();
        db.write(|tx| Ok(tx.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY)")?)).await.unwrap();
        let mut tasks = Vec::new();
        for n in 0..200i64 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.write(move |tx| {
                    tx.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                    if n % 7 == 0 {
                        return Err(MetaError::Corrupt(format!("request {n} fails after writing")));
                    }
                    Ok(n)
                })
                .await
            }));
        }
        let mut ok = Vec::new();
        for (n, task) in tasks.into_iter().enumerate() {
            match task.await.unwrap() {
                Ok(v) => ok.push(v),
                Err(MetaError::Corrupt(m)) => assert!(m.contains(&format!("request {n} "))),
                Err(other) => panic!("unexpected {other}"),
            }
        }
        let stored: Vec<i64> = db
            .read(|conn| {
                let mut stmt = conn.prepare("SELECT n FROM t ORDER BY n")?;
                let rows = stmt.query_map([], |r| r.get(0))?.collect::<Result<Vec<i64>, _>>()?;
                Ok(rows)
            })
            .await
            .unwrap();
        assert_eq!(stored, ok);
        assert_eq!(stored.len(), 200 - 29, "every n % 7 == 0 request was rolled back");
    }

    #[tokio::test]
    async fn a_failed_begin_fails_the_request() {
        let (db, dir) = db();
        db.write(|tx| Ok(tx.execute_batch("CREATE TABLE t (n INTEGER)")?)).await.unwrap();
        // Another connection holds the write lock past the writer's busy timeout.
        let other = Connection::open(dir.path().join("meta.db")).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let error = db.write(|tx| Ok(tx.execute("INSERT INTO t VALUES (1)", [])?)).await.unwrap_err();
        assert!(error.is_busy(), "{error}");
        other.execute_batch("ROLLBACK").unwrap();
        db.write(|tx| Ok(tx.execute("INSERT INTO t VALUES (2)", [])?)).await.unwrap();
    }
}

//! Object bytes, addressed by blob id. A blob is written once, made durable by `commit`, read
//! any number of times, and deleted only through the metadata deletion queue.
//!
//! Must not: know about buckets, keys or HTTP.

pub mod azure;
pub mod azure_sas;
pub mod local;
pub mod s3;

use std::io;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;

/// A blob-store failure.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {0} not found")]
    NotFound(String),
    #[error("blob store I/O: {0}")]
    Io(#[from] io::Error),
    /// The remote blob store did not answer, or answered 5xx / 429: worth retrying.
    #[error("remote blob store unavailable: {0}")]
    Unavailable(String),
    /// The remote blob store refused the request.
    #[error("remote blob store: {0}")]
    Remote(String),
}

impl BlobError {
    /// The volume has no space (ENOSPC) or quota (EDQUOT) left.
    pub fn is_no_space(&self) -> bool {
        matches!(self, Self::Io(e) if matches!(e.raw_os_error(), Some(28) | Some(122)))
    }
    /// The volume refuses writes: remounted read-only (EROFS, as after I/O errors), or its
    /// files made immutable or unwritable (EPERM, EACCES).
    pub fn refuses_writes(&self) -> bool {
        matches!(self, Self::Io(e) if matches!(e.kind(),
            io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied))
    }
}

pub type BlobResult<T> = Result<T, BlobError>;

/// A stream of a blob's bytes.
pub type BlobStream = BoxStream<'static, io::Result<Bytes>>;

/// Receives a new blob's bytes. Dropping it without `commit` discards everything written.
#[async_trait]
pub trait BlobWriter: Send {
    async fn write(&mut self, data: Bytes) -> BlobResult<()>;
    /// Makes the blob durable and visible under its id; returns the id.
    async fn commit(self: Box<Self>) -> BlobResult<String>;
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Starts a new blob.
    async fn create(&self) -> BlobResult<Box<dyn BlobWriter>>;
    /// Streams `range` of a blob (the whole blob when `None`).
    async fn open(&self, id: &str, range: Option<Range<u64>>) -> BlobResult<BlobStream>;
    /// Deletes a blob; deleting a missing blob succeeds.
    async fn delete(&self, id: &str) -> BlobResult<()>;
    /// Start-up recovery: removes unfinished writes left by a previous process.
    async fn clean_temp(&self) -> BlobResult<usize>;
    /// Every committed blob id (for the orphan sweep at start-up).
    async fn list_ids(&self) -> BlobResult<Vec<String>>;
    /// Readiness: the store accepts a durable write right now.
    async fn probe(&self) -> BlobResult<()>;
}

/// A fresh random blob id: 32 lowercase hex digits.
pub fn new_blob_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// True for strings `new_blob_id` could have produced (guards paths built from ids).
pub fn is_blob_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

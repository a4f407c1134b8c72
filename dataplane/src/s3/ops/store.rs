//! Receiving object bytes into a new blob (or, for small objects, into memory to be stored
//! with the metadata row): hashing (MD5 for the ETag, plus the requested checksum) while
//! streaming, checking the client's digests, then committing the blob and the metadata row
//! together in a task that a dropped connection cannot cancel halfway.

use std::sync::Arc;

use base64::Engine;
use bytes::{Bytes, BytesMut};
use md5::{Digest, Md5};

use super::{blob_error, meta_error};
use crate::blob::{new_blob_id, BlobStore, BlobWriter};
use crate::checksum::{ChecksumAlgorithm, ChecksumHasher};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::{now_ms, Checksum, ObjectMeta, ObjectRow, PutCondition, PutOutcome, Written, NULL_VERSION};
use crate::s3::body::BodyReader;
use crate::s3::headers::{content_md5, requested_checksum, trailer_value, RequestedChecksum};
use crate::state::AppState;

/// Bodies at least this large are hashed on their own thread, beside the request task that
/// decodes (and SHA-256-verifies) the body and the blocking thread that writes it: MD5 alone
/// runs at well under the speed of the page cache, so one thread would be the bottleneck.
const OFFLOAD_HASHING_FROM: u64 = 1024 * 1024;
/// Chunks in flight to the hashing thread (refcounted `Bytes` of up to hyper's read buffer,
/// ~400 KiB each): a small bound, as it multiplies with the requests in flight.
const HASH_QUEUE: usize = 4;

/// MD5 for the ETag, plus the checksum the client asked for.
struct Hashers {
    md5: Md5,
    checksum: Option<(ChecksumAlgorithm, ChecksumHasher)>,
}

impl Hashers {
    fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        if let Some((_, h)) = &mut self.checksum {
            h.update(data);
        }
    }
}

enum Hashing {
    Here(Box<Hashers>),
    Offloaded { queue: tokio::sync::mpsc::Sender<Bytes>, done: tokio::task::JoinHandle<Hashers> },
}

impl Hashing {
    fn new(hashers: Hashers, expected: Option<u64>) -> Self {
        if expected.is_none_or(|n| n < OFFLOAD_HASHING_FROM) {
            return Self::Here(Box::new(hashers));
        }
        let (queue, mut chunks) = tokio::sync::mpsc::channel::<Bytes>(HASH_QUEUE);
        let done = tokio::task::spawn_blocking(move || {
            let mut hashers = hashers;
            while let Some(chunk) = chunks.blocking_recv() {
                hashers.update(&chunk);
            }
            hashers
        });
        Self::Offloaded { queue, done }
    }

    async fn update(&mut self, data: &Bytes) -> S3Result<()> {
        match self {
            Self::Here(h) => {
                h.update(data);
                Ok(())
            }
            Self::Offloaded { queue, .. } => {
                queue.send(data.clone()).await.map_err(|_| S3Error::internal("the hashing thread stopped"))
            }
        }
    }

    async fn finish(self) -> S3Result<Hashers> {
        match self {
            Self::Here(h) => Ok(*h),
            Self::Offloaded { queue, done } => {
                drop(queue);
                done.await.map_err(S3Error::internal)
            }
        }
    }
}

/// Whether a refused write left a blob to remove: every write but an inline one does (a failed
/// metadata call does too, unless the row was inline).
fn inline_or_blob_is_blob(committed: &crate::meta::MetaResult<(PutOutcome, ObjectRow)>) -> bool {
    committed.as_ref().map_or(true, |(_, row)| !row.inline)
}

/// What a request says its body must be: `Content-MD5`, and a checksum in a header or a trailer.
pub(super) struct Digests {
    md5: Option<[u8; 16]>,
    checksum: RequestedChecksum,
}

impl Digests {
    pub(super) fn from_headers(headers: &http::HeaderMap) -> S3Result<Self> {
        Ok(Self { md5: content_md5(headers)?, checksum: requested_checksum(headers)? })
    }

    /// The checksum the request asks to be computed.
    pub(super) fn algorithm(&self) -> Option<ChecksumAlgorithm> {
        self.checksum.algorithm
    }

    /// Does the request carry a value to verify (not only an algorithm to compute)?
    pub(super) fn has_value(&self) -> bool {
        self.md5.is_some() || self.checksum.header_value.is_some() || self.checksum.in_trailer
    }

    /// The checksum value to compare with, from its header or (once the body ended) its trailer.
    fn expected_checksum(&self, trailers: &[(String, String)]) -> S3Result<Option<String>> {
        match (self.checksum.in_trailer, self.checksum.algorithm) {
            (true, Some(a)) => Ok(Some(trailer_value(trailers, a)?)),
            _ => Ok(self.checksum.header_value.clone()),
        }
    }

    /// Verifies a body read whole (small documents): MD5 and checksum.
    pub(super) fn verify_buffered(&self, body: &[u8], trailers: &[(String, String)]) -> S3Result<()> {
        if let Some(expected) = self.md5 {
            let actual: [u8; 16] = Md5::digest(body).into();
            if actual != expected {
                return Err(S3ErrorCode::BadDigest.into());
            }
        }
        if let (Some(algorithm), Some(expected)) = (self.checksum.algorithm, self.expected_checksum(trailers)?) {
            let mut h = ChecksumHasher::new(algorithm);
            h.update(body);
            check_checksum(algorithm.name(), &h.finish(), &expected)?;
        }
        Ok(())
    }
}

fn check_checksum(algorithm: &str, actual: &str, expected: &str) -> S3Result<()> {
    if actual == expected {
        return Ok(());
    }
    Err(S3Error::new(S3ErrorCode::BadDigest)
        .with_message(format!("The {} you specified did not match the calculated checksum.", algorithm.to_uppercase())))
}

/// Streams `reader` into `sink`, then checks what arrived against `digests`: the body's own
/// checks (framing, declared length, payload hash, signatures) end the stream, then
/// `Content-MD5` (`BadDigest`), then the checksum (`BadDigest`). Nothing is committed here.
pub(super) async fn receive(mut reader: BodyReader, mut sink: Sink, digests: &Digests) -> S3Result<Received> {
    while let Some(data) = reader.next().await? {
        sink.write(data).await?;
    }
    let received = sink.finish().await?;
    received.check_content_md5(digests.md5.as_ref())?;
    if let (Some(expected), Some(actual)) = (digests.expected_checksum(reader.trailers())?, &received.checksum) {
        check_checksum(&actual.algorithm, &actual.value, &expected)?;
    }
    Ok(received)
}

/// Where received bytes go: a new blob, or (small objects) memory, to be stored in the
/// metadata row's transaction.
enum Dest {
    Blob(Box<dyn BlobWriter>),
    Inline(BytesMut),
}

/// Hashes bytes on their way into a blob (or into an inline buffer).
pub(super) struct Sink {
    dest: Dest,
    hashing: Hashing,
    size: u64,
    inline_max: u64,
    blobs: Arc<dyn BlobStore>,
}

/// A body fully received (not yet committed) and what was computed over it.
pub(super) struct Received {
    dest: Dest,
    /// Set by UploadPart: which part these bytes are.
    pub part_number: u32,
    pub size: u64,
    pub md5: [u8; 16],
    pub checksum: Option<Checksum>,
}

impl Sink {
    /// A sink for a whole object of `expected` bytes (when known): kept inline in the metadata
    /// when it fits `storage.inline_max_size`, written to a new blob otherwise. A body of
    /// unknown length (plain chunked transfer) starts inline and moves to a blob once it
    /// outgrows the limit.
    pub(super) async fn for_object(
        state: &AppState,
        checksum: Option<ChecksumAlgorithm>,
        expected: Option<u64>,
    ) -> S3Result<Self> {
        let inline_max = state.config.storage.inline_max_size;
        let dest = match expected {
            Some(n) if inline_max > 0 && n <= inline_max => Dest::Inline(BytesMut::with_capacity(n as usize)),
            None if inline_max > 0 => Dest::Inline(BytesMut::new()),
            _ => Dest::Blob(state.blobs.create().await.map_err(blob_error)?),
        };
        Ok(Self::with(state, dest, checksum, expected, inline_max))
    }

    /// A sink that always writes a blob (multipart parts, which completion links by blob id).
    pub(super) async fn for_blob(
        state: &AppState,
        checksum: Option<ChecksumAlgorithm>,
        expected: Option<u64>,
    ) -> S3Result<Self> {
        let dest = Dest::Blob(state.blobs.create().await.map_err(blob_error)?);
        Ok(Self::with(state, dest, checksum, expected, 0))
    }

    fn with(
        state: &AppState,
        dest: Dest,
        checksum: Option<ChecksumAlgorithm>,
        expected: Option<u64>,
        inline_max: u64,
    ) -> Self {
        let hashers = Hashers { md5: Md5::new(), checksum: checksum.map(|a| (a, ChecksumHasher::new(a))) };
        let hashing = Hashing::new(hashers, expected);
        Self { dest, hashing, size: 0, inline_max, blobs: state.blobs.clone() }
    }

    pub(super) async fn write(&mut self, data: Bytes) -> S3Result<()> {
        self.hashing.update(&data).await?;
        self.size += data.len() as u64;
        if let Dest::Inline(buf) = &mut self.dest {
            if self.size <= self.inline_max {
                buf.extend_from_slice(&data);
                return Ok(());
            }
            // More than the sender announced (an unframed copy source, say): move what is
            // buffered into a blob and go on there.
            let buffered = buf.split().freeze();
            let mut writer = self.blobs.create().await.map_err(blob_error)?;
            if !buffered.is_empty() {
                writer.write(buffered).await.map_err(blob_error)?;
            }
            self.dest = Dest::Blob(writer);
        }
        match &mut self.dest {
            Dest::Blob(writer) => writer.write(data).await.map_err(blob_error),
            Dest::Inline(_) => Ok(()),
        }
    }

    pub(super) async fn finish(self) -> S3Result<Received> {
        let hashers = self.hashing.finish().await?;
        let checksum = hashers.checksum.map(|(a, h)| Checksum { algorithm: a.name().to_owned(), value: h.finish() });
        Ok(Received { dest: self.dest, part_number: 0, size: self.size, md5: hashers.md5.finalize().into(), checksum })
    }
}

impl Received {
    pub(super) fn md5_hex(&self) -> String {
        hex::encode(self.md5)
    }

    /// Compares the client's `Content-MD5` (base64) with what was received.
    pub(super) fn check_content_md5(&self, content_md5: Option<&[u8; 16]>) -> S3Result<()> {
        match content_md5 {
            Some(expected) if *expected != self.md5 => Err(S3Error::new(S3ErrorCode::BadDigest)
                .with_field("ExpectedDigest", base64::engine::general_purpose::STANDARD.encode(expected))
                .with_field("CalculatedDigest", base64::engine::general_purpose::STANDARD.encode(self.md5))),
            _ => Ok(()),
        }
    }

    /// The row of a new object (one blob, or inline) made of these bytes: not yet committed.
    pub(super) fn object_row(
        &self,
        bucket: &str,
        key: &str,
        mut meta: ObjectMeta,
        owner: &str,
        acl: String,
    ) -> ObjectRow {
        meta.checksum = self.checksum.clone();
        ObjectRow {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            blob_id: String::new(),
            size: self.size,
            etag: self.md5_hex(),
            last_modified_ms: now_ms(),
            meta,
            owner: owner.to_owned(),
            acl,
            parts_count: 0,
            inline: false,
            version_id: NULL_VERSION.to_owned(),
            seq: 0,
            delete_marker: false,
        }
    }

    /// Commits the blob alone (the caller records it); returns its id.
    pub(super) async fn into_blob(self) -> S3Result<String> {
        match self.dest {
            Dest::Blob(writer) => writer.commit().await.map_err(blob_error),
            Dest::Inline(_) => Err(S3Error::internal("a multipart part was received inline")),
        }
    }

    /// Commits the blob, then the row; a refused row removes the blob again. Runs to the end
    /// even if the client goes away, so the two never disagree.
    pub(super) async fn commit(
        self,
        state: &Arc<AppState>,
        mut row: ObjectRow,
        condition: PutCondition,
    ) -> S3Result<(ObjectRow, Written)> {
        let state = state.clone();
        let task = tokio::spawn(async move {
            let (blob_id, inline) = match self.dest {
                Dest::Blob(writer) => (writer.commit().await.map_err(blob_error)?, None),
                // An inline object's id names its row in the metadata, never a blob.
                Dest::Inline(buf) => (new_blob_id(), Some(buf.freeze())),
            };
            row.blob_id = blob_id.clone();
            row.inline = inline.is_some();
            let committed = state.db.put_object(row, inline, condition).await;
            let stored = matches!(committed, Ok((PutOutcome::Stored(_), _)));
            if !stored && inline_or_blob_is_blob(&committed) {
                if let Err(e) = state.blobs.delete(&blob_id).await {
                    tracing::warn!(blob_id, error = %e, "could not remove a refused write's blob; the start-up sweep will");
                }
            }
            let (outcome, row) = committed.map_err(meta_error)?;
            match outcome {
                PutOutcome::Stored(written) => {
                    super::account_write(&state, &written);
                    Ok((row, written))
                }
                PutOutcome::NoSuchBucket => {
                    Err(S3Error::new(S3ErrorCode::NoSuchBucket).with_field("BucketName", row.bucket))
                }
                PutOutcome::NoSuchKey => Err(S3Error::new(S3ErrorCode::NoSuchKey).with_field("Key", row.key)),
                PutOutcome::PreconditionFailed => {
                    Err(S3Error::new(S3ErrorCode::PreconditionFailed)
                        .with_field("Condition", "If-Match / If-None-Match"))
                }
            }
        });
        task.await.map_err(S3Error::internal)?
    }
}

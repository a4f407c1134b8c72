//! Receiving object bytes into a new blob: hashing (MD5 for the ETag, plus the requested
//! checksum) while streaming, checking the client's digests, then committing the blob and the
//! metadata row together in a task that a dropped connection cannot cancel halfway.

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use md5::{Digest, Md5};

use super::{blob_error, meta_error};
use crate::blob::BlobWriter;
use crate::checksum::{ChecksumAlgorithm, ChecksumHasher};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::{Checksum, ObjectRow, PutCondition, PutOutcome};
use crate::state::AppState;

/// Hashes bytes on their way into a blob.
pub struct Sink {
    writer: Box<dyn BlobWriter>,
    md5: Md5,
    checksum: Option<(ChecksumAlgorithm, ChecksumHasher)>,
    size: u64,
}

/// A blob fully written (not yet committed) and what was computed over it.
pub struct Received {
    writer: Box<dyn BlobWriter>,
    /// Set by UploadPart: which part these bytes are.
    pub part_number: u32,
    pub size: u64,
    pub md5: [u8; 16],
    pub checksum: Option<Checksum>,
}

impl Sink {
    pub async fn new(state: &AppState, checksum: Option<ChecksumAlgorithm>) -> S3Result<Self> {
        let writer = state.blobs.create().await.map_err(blob_error)?;
        Ok(Self { writer, md5: Md5::new(), checksum: checksum.map(|a| (a, ChecksumHasher::new(a))), size: 0 })
    }

    pub async fn write(&mut self, data: Bytes) -> S3Result<()> {
        self.md5.update(&data);
        if let Some((_, h)) = &mut self.checksum {
            h.update(&data);
        }
        self.size += data.len() as u64;
        self.writer.write(data).await.map_err(blob_error)
    }

    pub fn finish(self) -> Received {
        let checksum = self.checksum.map(|(a, h)| Checksum { algorithm: a.name().to_owned(), value: h.finish() });
        Received { writer: self.writer, part_number: 0, size: self.size, md5: self.md5.finalize().into(), checksum }
    }
}

impl Received {
    pub fn md5_hex(&self) -> String {
        hex::encode(self.md5)
    }

    /// Compares the client's `Content-MD5` (base64) with what was received.
    pub fn check_content_md5(&self, content_md5: Option<&[u8; 16]>) -> S3Result<()> {
        match content_md5 {
            Some(expected) if *expected != self.md5 => Err(S3Error::new(S3ErrorCode::BadDigest)
                .with_field("ExpectedDigest", base64::engine::general_purpose::STANDARD.encode(expected))
                .with_field("CalculatedDigest", base64::engine::general_purpose::STANDARD.encode(self.md5))),
            _ => Ok(()),
        }
    }

    /// Compares the client's `x-amz-checksum-*` value with what was received.
    pub fn check_checksum(&self, expected: Option<&str>) -> S3Result<()> {
        let (Some(expected), Some(actual)) = (expected, &self.checksum) else { return Ok(()) };
        if expected != actual.value {
            return Err(S3Error::new(S3ErrorCode::BadDigest).with_message(format!(
                "The {} you specified did not match the calculated checksum.",
                actual.algorithm.to_uppercase()
            )));
        }
        Ok(())
    }

    /// Commits the blob alone (the caller records it); returns its id.
    pub async fn into_blob(self) -> S3Result<String> {
        self.writer.commit().await.map_err(blob_error)
    }

    /// Commits the blob, then the row; a refused row removes the blob again. Runs to the end
    /// even if the client goes away, so the two never disagree.
    pub async fn commit(
        self,
        state: &Arc<AppState>,
        mut row: ObjectRow,
        condition: PutCondition,
    ) -> S3Result<ObjectRow> {
        let state = state.clone();
        let task = tokio::spawn(async move {
            let blob_id = self.writer.commit().await.map_err(blob_error)?;
            row.blob_id = blob_id.clone();
            let outcome = state.db.put_object(row.clone(), condition).await;
            let stored = matches!(outcome, Ok(PutOutcome::Stored { .. }));
            if !stored {
                if let Err(e) = state.blobs.delete(&blob_id).await {
                    tracing::warn!(blob_id, error = %e, "could not remove the blob of a refused write; the start-up sweep will");
                }
            }
            match outcome.map_err(meta_error)? {
                PutOutcome::Stored { replaced } => {
                    match replaced {
                        Some(_) => state.deleter.notify_one(),
                        None => state.metrics.objects.inc(),
                    }
                    Ok(row)
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

//! Reading an object's bytes: the row and manifest resolved and pinned (so the deleter leaves
//! them alone while we stream), then one blob or a sequence of part blobs opened lazily, each
//! cut to the requested range.

use std::ops::Range;

use futures_util::{StreamExt, TryStreamExt};

use super::{blob_error, meta_error};
use crate::blob::BlobStream;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::{Layout, ObjectRow};
use crate::pins::PinGuard;
use crate::state::AppState;

/// An object resolved for reading, pinned until this value (or the stream made from it) drops.
pub(crate) struct Pinned {
    pub row: ObjectRow,
    pub layout: Layout,
    guard: Option<PinGuard>,
}

/// The answer for a version that cannot be read: absent (`NoSuchKey`, or `NoSuchVersion` when
/// one was named), or a delete marker — the current version (404 `NoSuchKey`) or one named by
/// id (405 `MethodNotAllowed`), both saying `x-amz-delete-marker: true` as S3 does.
pub(crate) fn unreadable(key: &str, version: Option<&str>, marker: Option<&ObjectRow>) -> S3Error {
    match (marker, version) {
        (None, None) => S3Error::new(S3ErrorCode::NoSuchKey).with_field("Key", key),
        (None, Some(v)) => S3Error::new(S3ErrorCode::NoSuchVersion).with_field("Key", key).with_field("VersionId", v),
        (Some(m), None) => S3Error::new(S3ErrorCode::NoSuchKey)
            .with_field("Key", key)
            .with_header("x-amz-delete-marker", "true")
            .with_header("x-amz-version-id", m.version_id.clone()),
        (Some(m), Some(_)) => S3Error::new(S3ErrorCode::MethodNotAllowed)
            .with_message("The specified method is not allowed against this resource: the version is a delete marker.")
            .with_header("x-amz-delete-marker", "true")
            .with_header("x-amz-version-id", m.version_id.clone())
            .with_header("last-modified", crate::s3::headers::http_date(m.last_modified_ms))
            .with_header("allow", "DELETE"),
    }
}

/// Loads and pins `bucket/key` (its current version, or `version`). A pin taken after the row
/// was read only protects bytes whose deletion was not queued in between, so the row is read
/// again after pinning: if it still names the same blob or manifest, no deletion of it can have
/// been queued before the pin took hold. Inline bytes arrive with the row and need no pin.
pub(crate) async fn load(state: &AppState, bucket: &str, key: &str, version: Option<&str>) -> S3Result<Pinned> {
    for _ in 0..3 {
        let (row, layout) = state
            .db
            .get_object_layout(bucket, key, version)
            .await
            .map_err(meta_error)?
            .ok_or_else(|| unreadable(key, version, None))?;
        if row.delete_marker {
            return Err(unreadable(key, version, Some(&row)));
        }
        if let Layout::Inline(_) = layout {
            return Ok(Pinned { row, layout, guard: None });
        }
        let guard = state.pins.pin(&row.blob_id);
        let now = state.db.get_object(bucket, key, version).await.map_err(meta_error)?;
        if now.is_some_and(|n| n.blob_id == row.blob_id && n.version_id == row.version_id) {
            return Ok(Pinned { row, layout, guard: Some(guard) });
        }
    }
    Err(S3Error::new(S3ErrorCode::ServiceUnavailable)
        .with_message("The object changed repeatedly while being read; try again."))
}

impl Pinned {
    /// The byte span of part `n` (1-based) of this object.
    pub(crate) fn part_span(&self, n: u32) -> Option<Range<u64>> {
        let Layout::Parts(parts) = &self.layout else { return (n == 1).then_some(0..self.row.size) };
        // `partNumber` counts the object's parts 1..=x-amz-mp-parts-count in order, whatever
        // numbers they had during the upload.
        let index = usize::try_from(n).ok()?.checked_sub(1)?;
        let offset: u64 = parts.iter().take(index).map(|p| p.size).sum();
        parts.get(index).map(|p| offset..offset + p.size)
    }

    /// Streams `span` (the whole object when `None`); the pin lives as long as the stream.
    pub(crate) async fn open(self, state: &AppState, span: Option<Range<u64>>) -> S3Result<BlobStream> {
        let Pinned { row, layout, guard } = self;
        let span = span.unwrap_or(0..row.size);
        let parts = match layout {
            Layout::Inline(data) => {
                let (start, end) = (span.start as usize, span.end as usize);
                if end > data.len() || start > end {
                    return Err(S3Error::internal(format!(
                        "inline object {}/{} has {} bytes, its row says {}",
                        row.bucket,
                        row.key,
                        data.len(),
                        row.size
                    )));
                }
                let piece = data.slice(start..end);
                return Ok(futures_util::stream::iter((!piece.is_empty()).then_some(Ok(piece))).boxed());
            }
            Layout::Blob => Vec::new(),
            Layout::Parts(parts) => parts,
        };
        if row.parts_count == 0 {
            let whole = span.start == 0 && span.end == row.size;
            let stream = state.blobs.open(&row.blob_id, (!whole).then_some(span)).await.map_err(blob_error)?;
            return Ok(stream
                .map(move |chunk| {
                    let _held = &guard;
                    chunk
                })
                .boxed());
        }
        let mut pieces = Vec::new();
        let mut offset = 0;
        for p in parts {
            let part = offset..offset + p.size;
            offset += p.size;
            let (start, end) = (span.start.max(part.start), span.end.min(part.end));
            if start < end {
                pieces.push((p.blob_id, (start - part.start)..(end - part.start)));
            }
        }
        let blobs = state.blobs.clone();
        let stream = futures_util::stream::iter(pieces)
            .then(move |(id, range)| {
                let blobs = blobs.clone();
                async move { blobs.open(&id, Some(range)).await.map_err(|e| std::io::Error::other(e.to_string())) }
            })
            .try_flatten()
            .map(move |chunk| {
                let _held = &guard;
                chunk
            });
        Ok(stream.boxed())
    }
}

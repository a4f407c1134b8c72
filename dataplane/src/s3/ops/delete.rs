//! DeleteObject (204 whether or not the key existed) and DeleteObjects (≤ 1000 keys, an
//! integrity header required, quiet mode), each optionally conditional on the object's ETag,
//! Last-Modified time and size.

use std::sync::Arc;

use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;

use super::store::Digests;
use super::{meta_error, Req};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::{BucketRow, DeleteCondition, DeleteOutcome, Deleted, Refusal};
use crate::s3::body::BodyReader;
use crate::s3::headers::{get, http_date_secs};
use crate::s3::names::{ObjectKey, MAX_KEY_BYTES};
use crate::s3::response;
use crate::s3::xml::{self, XmlWriter};
use crate::state::AppState;

const MAX_DELETE_KEYS: usize = 1000;

/// `If-Match`, `x-amz-if-match-last-modified-time` (an HTTP date) and `x-amz-if-match-size`.
fn delete_condition(headers: &http::HeaderMap) -> S3Result<DeleteCondition> {
    let last_modified_secs = match get(headers, "x-amz-if-match-last-modified-time") {
        None => None,
        Some(v) => Some(http_date_secs(v).ok_or_else(|| {
            S3Error::invalid_argument("x-amz-if-match-last-modified-time", v, "The value is not a valid HTTP date.")
        })?),
    };
    let size = match get(headers, "x-amz-if-match-size") {
        None => None,
        Some(v) => Some(
            v.trim()
                .parse::<u64>()
                .map_err(|_| S3Error::invalid_argument("x-amz-if-match-size", v, "The value is not a valid size."))?,
        ),
    };
    Ok(DeleteCondition { if_match: get(headers, "if-match").map(str::to_owned), last_modified_secs, size })
}

fn refusal_error(refusal: Refusal, key: &str) -> S3Error {
    match refusal {
        Refusal::NoSuchKey => S3Error::new(S3ErrorCode::NoSuchKey).with_field("Key", key),
        Refusal::PreconditionFailed => S3Error::new(S3ErrorCode::PreconditionFailed)
            .with_field("Condition", "If-Match / x-amz-if-match-last-modified-time / x-amz-if-match-size"),
    }
}

/// Keeps the objects gauge and the deleter up to date after a delete.
fn account_delete(state: &AppState, deleted: &Deleted) {
    if deleted.released > 0 {
        state.metrics.objects.sub(deleted.released as i64);
        state.deleter.notify_one();
    }
}

pub(crate) async fn delete_object(
    state: &Arc<AppState>,
    bucket: &BucketRow,
    key: ObjectKey,
    version: Option<String>,
    req: Req,
) -> S3Result<Response> {
    let condition = delete_condition(&req.headers)?;
    let owner = req.principal.owner_id();
    let deleted = match state.db.delete_object(&bucket.name, key.as_str(), version, condition, owner).await {
        Ok(DeleteOutcome::Deleted(deleted)) => deleted,
        Ok(DeleteOutcome::Refused(refusal)) => return Err(refusal_error(refusal, key.as_str())),
        Ok(DeleteOutcome::NoSuchBucket) => {
            return Err(S3Error::new(S3ErrorCode::NoSuchBucket).with_field("BucketName", bucket.name.as_str()))
        }
        Err(e) => return Err(meta_error(e)),
    };
    account_delete(state, &deleted);
    let mut resp = response::empty(StatusCode::NO_CONTENT);
    if let Some(v) = &deleted.version_id {
        response::set(&mut resp, "x-amz-version-id", v);
    }
    if deleted.delete_marker {
        response::set(&mut resp, "x-amz-delete-marker", "true");
    }
    Ok(resp)
}

#[derive(Deserialize)]
pub(crate) struct Delete {
    #[serde(rename = "Quiet", default)]
    quiet: bool,
    #[serde(rename = "Object", default)]
    objects: Vec<DeleteEntry>,
}

#[derive(Deserialize)]
struct DeleteEntry {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "VersionId", default)]
    version_id: Option<String>,
    #[serde(rename = "ETag", default)]
    etag: Option<String>,
    /// ISO 8601, as S3 writes `LastModified` in listings.
    #[serde(rename = "LastModifiedTime", default)]
    last_modified_time: Option<String>,
    #[serde(rename = "Size", default)]
    size: Option<u64>,
}

impl DeleteEntry {
    fn condition(&self) -> Result<DeleteCondition, &'static str> {
        let last_modified_secs = match &self.last_modified_time {
            None => None,
            Some(t) => Some(parse_iso8601_secs(t).ok_or("LastModifiedTime is not a valid timestamp.")?),
        };
        Ok(DeleteCondition { if_match: self.etag.clone(), last_modified_secs, size: self.size })
    }
}

/// `2009-10-12T17:50:30.000Z` (fractions optional) as Unix seconds.
fn parse_iso8601_secs(value: &str) -> Option<i64> {
    time::OffsetDateTime::parse(value.trim(), &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}

pub(crate) async fn delete_objects(state: &Arc<AppState>, bucket: &BucketRow, req: Req) -> S3Result<Response> {
    let digests = Digests::from_headers(&req.headers)?;
    if !digests.has_value() {
        return Err(S3Error::new(S3ErrorCode::InvalidRequest)
            .with_message("Missing required header for this request: Content-MD5 or x-amz-checksum-*"));
    }
    let limits = &state.config.limits;
    let mut reader =
        BodyReader::new(req.body, req.payload, &req.headers, limits.max_xml_body as u64, limits.body_idle_timeout())?;
    let body = reader.read_all(limits.max_xml_body, S3ErrorCode::MalformedXML).await?;
    digests.verify_buffered(&body, reader.trailers())?;
    let request: Delete = xml::parse(&body)?;
    if request.objects.is_empty() || request.objects.len() > MAX_DELETE_KEYS {
        return Err(S3Error::new(S3ErrorCode::MalformedXML)
            .with_message(format!("A Delete request must name between 1 and {MAX_DELETE_KEYS} objects.")));
    }

    let mut w = XmlWriter::new();
    w.root("DeleteResult");
    let mut to_delete = Vec::new();
    let mut errors = Vec::new();
    for entry in request.objects {
        let problem = if entry.key.is_empty() {
            Some((S3ErrorCode::InvalidArgument, "Object keys must not be empty."))
        } else if entry.key.len() > MAX_KEY_BYTES {
            Some((S3ErrorCode::KeyTooLongError, "Your key is too long"))
        } else if entry.version_id.as_deref().is_some_and(|v| !crate::meta::is_version_id(v)) {
            Some((S3ErrorCode::InvalidArgument, "Invalid version id specified"))
        } else {
            None
        };
        match (problem, entry.condition()) {
            (Some((code, msg)), _) => errors.push((entry.key, code, msg)),
            (None, Err(msg)) => errors.push((entry.key, S3ErrorCode::InvalidArgument, msg)),
            (None, Ok(condition)) => to_delete.push((entry.key, entry.version_id, condition)),
        }
    }
    let outcomes =
        state.db.delete_objects(&bucket.name, to_delete.clone(), req.principal.owner_id()).await.map_err(meta_error)?;
    for ((key, asked_version, _), outcome) in to_delete.into_iter().zip(outcomes) {
        match outcome {
            DeleteOutcome::Deleted(deleted) => {
                account_delete(state, &deleted);
                if !request.quiet {
                    w.open("Deleted");
                    w.elem("Key", &key);
                    // A version named in the request is echoed; a delete marker made or removed
                    // is reported as such (S3's DeleteMarker / DeleteMarkerVersionId).
                    match (&asked_version, &deleted.version_id) {
                        (Some(v), _) => w.elem("VersionId", v),
                        (None, Some(marker)) if deleted.delete_marker => {
                            w.elem("DeleteMarker", "true");
                            w.elem("DeleteMarkerVersionId", marker);
                        }
                        (None, _) => {}
                    }
                    if asked_version.is_some() && deleted.delete_marker {
                        w.elem("DeleteMarker", "true");
                        w.elem("DeleteMarkerVersionId", deleted.version_id.as_deref().unwrap_or_default());
                    }
                    w.close("Deleted");
                }
            }
            DeleteOutcome::NoSuchBucket => {
                errors.push((key, S3ErrorCode::NoSuchBucket, "The specified bucket does not exist"));
            }
            DeleteOutcome::Refused(Refusal::NoSuchKey) => {
                errors.push((key, S3ErrorCode::NoSuchKey, "The specified key does not exist."));
            }
            DeleteOutcome::Refused(Refusal::PreconditionFailed) => errors.push((
                key,
                S3ErrorCode::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            )),
        }
    }
    for (key, code, message) in errors {
        w.open("Error");
        w.elem("Key", &key);
        w.elem("Code", code.as_str());
        w.elem("Message", message);
        w.close("Error");
    }
    w.close("DeleteResult");
    Ok(response::xml(StatusCode::OK, w.finish()))
}

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
use crate::meta::{BucketRow, DeleteCondition, DeleteOutcome, Refusal};
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

pub(crate) async fn delete_object(
    state: &Arc<AppState>,
    bucket: &BucketRow,
    key: ObjectKey,
    req: Req,
) -> S3Result<Response> {
    let condition = delete_condition(&req.headers)?;
    match state.db.delete_object(&bucket.name, key.as_str(), condition).await.map_err(meta_error)? {
        DeleteOutcome::Deleted(Some(_)) => {
            state.metrics.objects.dec();
            state.deleter.notify_one();
        }
        DeleteOutcome::Deleted(None) => {}
        DeleteOutcome::Refused(refusal) => return Err(refusal_error(refusal, key.as_str())),
    }
    Ok(response::empty(StatusCode::NO_CONTENT))
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
        } else if entry.version_id.as_deref().is_some_and(|v| v != "null") {
            Some((S3ErrorCode::InvalidArgument, "Invalid version id specified"))
        } else {
            None
        };
        match (problem, entry.condition()) {
            (Some((code, msg)), _) => errors.push((entry.key, code, msg)),
            (None, Err(msg)) => errors.push((entry.key, S3ErrorCode::InvalidArgument, msg)),
            (None, Ok(condition)) => to_delete.push((entry.key, condition)),
        }
    }
    let outcomes = state.db.delete_objects(&bucket.name, to_delete.clone()).await.map_err(meta_error)?;
    let mut removed = 0;
    for ((key, _), outcome) in to_delete.into_iter().zip(outcomes) {
        match outcome {
            DeleteOutcome::Deleted(existed) => {
                removed += i64::from(existed.is_some());
                if !request.quiet {
                    w.open("Deleted");
                    w.elem("Key", &key);
                    w.close("Deleted");
                }
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
    state.metrics.objects.sub(removed);
    state.deleter.notify_one();
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

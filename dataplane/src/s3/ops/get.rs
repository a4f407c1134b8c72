//! GetObject and HeadObject: conditions, one byte range or `partNumber`, stored headers and
//! `response-*` overrides, and the bytes streamed straight from the blob.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;

use super::{quoted, read, Req};
use crate::auth::Principal;
use crate::blob::BlobStream;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::{BucketRow, ObjectRow, Versioning};
use crate::s3::acl::Permission;
use crate::s3::authorize::{object_allows, Decision};
use crate::s3::conditional::{self, Outcome};
use crate::s3::endpoint::ReadParams;
use crate::s3::headers::{get, http_date, write_object_headers};
use crate::s3::names::ObjectKey;
use crate::s3::range;
use crate::s3::response;
use crate::state::AppState;

fn validators(resp: &mut Response, row: &ObjectRow) {
    response::set(resp, "etag", &quoted(&row.etag));
    response::set(resp, "last-modified", &http_date(row.last_modified_ms));
}

pub(crate) async fn get_object(
    state: &Arc<AppState>,
    bucket: &BucketRow,
    key: ObjectKey,
    read: ReadParams,
    decision: Decision,
    req: Req,
    head: bool,
) -> S3Result<Response> {
    let h = &req.headers;
    let range_header = get(h, "range");
    if read.part_number.is_some() && range_header.is_some() {
        return Err(S3Error::new(S3ErrorCode::InvalidRequest)
            .with_message("Cannot specify both Range header and partNumber query parameter."));
    }
    let checksum_mode = get(h, "x-amz-checksum-mode").is_some_and(|v| v.eq_ignore_ascii_case("enabled"));
    let restricted = matches!(decision, Decision::IfObjectGrants { .. });
    if restricted && !read.overrides.is_empty() && req.principal == Principal::Anonymous {
        return Err(S3Error::new(S3ErrorCode::InvalidRequest)
            .with_message("Request specific response headers cannot be used for anonymous GET requests."));
    }
    let object = match read::load(state, &bucket.name, key.as_str(), read.version.as_deref()).await {
        // A caller who may not list the bucket must not learn which keys exist (S3 says 403).
        Err(e) if e.status().is_client_error() && decision == (Decision::IfObjectGrants { listable: false }) => {
            return Err(S3ErrorCode::AccessDenied.into())
        }
        other => other?,
    };
    let row = object.row.clone();
    if restricted && !object_allows(&row.acl, &row.owner, &req.principal, Permission::Read) {
        return Err(S3ErrorCode::AccessDenied.into());
    }
    match conditional::evaluate(h, &row.etag, row.last_modified_ms) {
        Outcome::Proceed => {}
        Outcome::NotModified => {
            let mut resp = response::empty(StatusCode::NOT_MODIFIED);
            validators(&mut resp, &row);
            return Ok(resp);
        }
        Outcome::PreconditionFailed => {
            return Err(
                S3Error::new(S3ErrorCode::PreconditionFailed).with_field("Condition", "If-Match / If-Unmodified-Since")
            )
        }
    }
    let span = match (read.part_number, range_header.and_then(range::parse)) {
        // A zero-byte object's only part is empty: it is served whole, without a range.
        (Some(n), _) => Some(object.part_span(n).ok_or(S3ErrorCode::InvalidPartNumber)?).filter(|_| row.size > 0),
        (None, Some(r)) => Some(r.resolve(row.size)?),
        (None, None) => None,
    };
    let stream = if head || row.size == 0 { None } else { Some(object.open(state, span.clone()).await?) };
    let mut resp = build(&row, span, stream, &read, checksum_mode);
    if read.part_number.is_some() && row.parts_count > 0 {
        response::set(&mut resp, "x-amz-mp-parts-count", &row.parts_count.to_string());
    }
    super::set_version_header(&mut resp, bucket.versioning != Versioning::Unversioned, &row.version_id);
    Ok(resp)
}

fn build(
    row: &ObjectRow,
    span: Option<std::ops::Range<u64>>,
    stream: Option<BlobStream>,
    read: &ReadParams,
    checksum_mode: bool,
) -> Response {
    let partial = span.is_some();
    let len = span.as_ref().map_or(row.size, |r| r.end - r.start);
    let body = stream.map_or_else(Body::empty, Body::from_stream);
    let mut resp = Response::new(body);
    *resp.status_mut() = if partial { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    // A checksum describes the whole object; a range does not carry it.
    write_object_headers(resp.headers_mut(), &row.meta, &read.overrides, checksum_mode && !partial);
    validators(&mut resp, row);
    response::set(&mut resp, "content-length", &len.to_string());
    response::set(&mut resp, "accept-ranges", "bytes");
    if let Some(r) = span {
        let end = if r.end == 0 { 0 } else { r.end - 1 };
        response::set(&mut resp, "content-range", &format!("bytes {}-{}/{}", r.start, end, row.size));
    }
    resp
}

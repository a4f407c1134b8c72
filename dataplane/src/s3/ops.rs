//! The S3 operations, one file per family. Each gets the resolved bucket row and the
//! authenticated request; none parses URLs or checks signatures.

pub mod bucket;
pub mod copy;
pub mod delete;
pub mod get;
pub mod list;
pub mod multipart;
pub mod multipart_list;
pub mod put;
pub mod read;
mod store;

use axum::body::Body;
use http::HeaderMap;

use crate::auth::{Payload, Principal};
use crate::blob::BlobError;
use crate::error::{S3Error, S3ErrorCode};
use crate::meta::MetaError;

/// An authenticated request as the operations see it.
pub struct Req {
    pub principal: Principal,
    pub payload: Payload,
    pub headers: HeaderMap,
    pub body: Body,
}

/// Metadata failures on the wire: a full disk is 507, a busy database 503, the rest 500.
pub fn meta_error(e: MetaError) -> S3Error {
    if e.is_disk_full() {
        S3Error::new(S3ErrorCode::InsufficientStorage).with_source(e)
    } else if e.is_busy() {
        S3Error::new(S3ErrorCode::ServiceUnavailable).with_source(e)
    } else {
        S3Error::internal(e)
    }
}

/// Blob-store failures on the wire: no space is 507, the rest 500.
pub fn blob_error(e: BlobError) -> S3Error {
    if e.is_no_space() {
        S3Error::new(S3ErrorCode::InsufficientStorage).with_source(e)
    } else {
        S3Error::internal(e)
    }
}

/// An ETag as it appears in headers and XML: quoted.
pub fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// Canned ACLs S3 accepts in `x-amz-acl`.
const CANNED_ACLS: [&str; 7] = [
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
];

/// The canned ACL a request asks for (`private` when none). Explicit grants are not served.
pub fn canned_acl(headers: &HeaderMap) -> Result<String, S3Error> {
    const GRANTS: [&str; 5] = [
        "x-amz-grant-read",
        "x-amz-grant-write",
        "x-amz-grant-read-acp",
        "x-amz-grant-write-acp",
        "x-amz-grant-full-control",
    ];
    if let Some(g) = GRANTS.iter().find(|g| headers.contains_key(**g)) {
        return Err(S3Error::new(S3ErrorCode::NotImplemented)
            .with_message(format!("The {g} header is not implemented; use x-amz-acl.")));
    }
    match crate::s3::headers::get(headers, "x-amz-acl") {
        None => Ok("private".to_owned()),
        Some(acl) if CANNED_ACLS.contains(&acl) => Ok(acl.to_owned()),
        Some(other) => Err(S3Error::invalid_argument("x-amz-acl", other, "The canned ACL is not valid.")),
    }
}

//! The S3 operations, one file per family. Each gets the resolved bucket row and the
//! authenticated request; none parses URLs or checks signatures.

pub(super) mod acl;
pub(super) mod attributes;
pub(super) mod bucket;
pub(super) mod copy;
pub(super) mod delete;
pub(super) mod get;
pub(super) mod list;
pub(super) mod multipart;
pub(super) mod multipart_list;
pub(super) mod put;
pub(super) mod read;
mod store;
pub(super) mod tagging;
pub(super) mod versioning;
pub(super) mod versions_list;

use axum::body::Body;
use http::HeaderMap;

use crate::auth::{Payload, Principal};
use crate::blob::BlobError;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::MetaError;
use crate::s3::acl::Acl;
use crate::s3::body::BodyReader;
use crate::s3::response;
use bytes::Bytes;

/// An authenticated request as the operations see it.
pub(super) struct Req {
    pub principal: Principal,
    pub payload: Payload,
    pub headers: HeaderMap,
    pub body: Body,
}

/// Metadata failures on the wire: a full disk is 507; a busy database, or a volume that is
/// read-only or fails I/O, 503; the rest 500.
pub(super) fn meta_error(e: MetaError) -> S3Error {
    if e.is_disk_full() {
        S3Error::new(S3ErrorCode::InsufficientStorage).with_source(e)
    } else if e.is_busy() {
        S3Error::new(S3ErrorCode::ServiceUnavailable).with_source(e)
    } else if e.is_volume_failure() {
        S3Error::new(S3ErrorCode::ServiceUnavailable).with_message(VOLUME_FAILED).with_source(e)
    } else {
        S3Error::internal(e)
    }
}

const VOLUME_FAILED: &str = "The data volume refuses writes or failed an I/O operation; try again later.";

/// Blob-store failures on the wire: no space is 507; a volume that refuses writes, or an
/// unavailable remote, 503; the rest 500.
pub(super) fn blob_error(e: BlobError) -> S3Error {
    if e.is_no_space() {
        S3Error::new(S3ErrorCode::InsufficientStorage).with_source(e)
    } else if e.refuses_writes() {
        S3Error::new(S3ErrorCode::ServiceUnavailable).with_message(VOLUME_FAILED).with_source(e)
    } else if let BlobError::Unavailable(_) = e {
        S3Error::new(S3ErrorCode::ServiceUnavailable)
            .with_message("The blob store behind this server is unavailable; try again.")
            .with_source(e)
    } else {
        S3Error::internal(e)
    }
}

/// Keeps the objects gauge and the deleter up to date after a committed write: one version
/// more, less those it freed (whose blobs wait in the deletion queue).
pub(super) fn account_write(state: &crate::state::AppState, written: &crate::meta::Written) {
    state.metrics.objects.add(1 - written.released as i64);
    if written.released > 0 {
        state.deleter.notify_one();
    }
}

/// `x-amz-version-id` on an answer about a version of an object in a bucket that has (or had)
/// versioning configured; unversioned buckets name no versions, as S3 does.
pub(super) fn set_version_header(resp: &mut axum::response::Response, versioned: bool, version_id: &str) {
    if versioned {
        response::set(resp, "x-amz-version-id", version_id);
    }
}

/// An ETag as it appears in headers and XML: quoted.
pub(super) fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// Refuses request headers that ask for features this server does not have, so a client never
/// believes its object is encrypted, locked or tiered when it is not.
pub(super) fn reject_unsupported(headers: &HeaderMap) -> Result<(), S3Error> {
    const NOT_IMPLEMENTED: [(&str, &str); 8] = [
        ("x-amz-server-side-encryption", "Server-side encryption"),
        ("x-amz-server-side-encryption-customer-algorithm", "Server-side encryption with customer keys"),
        ("x-amz-server-side-encryption-aws-kms-key-id", "Server-side encryption with KMS"),
        ("x-amz-copy-source-server-side-encryption-customer-algorithm", "Server-side encryption with customer keys"),
        ("x-amz-object-lock-mode", "Object lock"),
        ("x-amz-object-lock-retain-until-date", "Object lock"),
        ("x-amz-object-lock-legal-hold", "Object lock"),
        ("x-amz-website-redirect-location", "Website redirects"),
    ];
    if let Some((header, what)) = NOT_IMPLEMENTED.iter().find(|(h, _)| headers.contains_key(*h)) {
        return Err(S3Error::new(S3ErrorCode::NotImplemented)
            .with_message(format!("{what} ({header}) is not implemented by this server.")));
    }
    if crate::s3::headers::get(headers, "x-amz-bucket-object-lock-enabled")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return Err(
            S3Error::new(S3ErrorCode::NotImplemented).with_message("Object lock is not implemented by this server.")
        );
    }
    match crate::s3::headers::get(headers, "x-amz-storage-class") {
        None | Some("STANDARD") => Ok(()),
        Some(other) => Err(S3Error::new(S3ErrorCode::InvalidStorageClass)
            .with_message("This server stores every object in the STANDARD storage class.")
            .with_field("StorageClassRequested", other)),
    }
}

/// Reads a request's small XML body (at most `limits.max_xml_body`, else `MalformedXML`).
pub(super) async fn read_xml(
    state: &crate::state::AppState,
    body: Body,
    payload: Payload,
    headers: &HeaderMap,
) -> S3Result<Bytes> {
    let limits = &state.config.limits;
    BodyReader::new(body, payload, headers, limits.max_xml_body as u64, limits.body_idle_timeout())?
        .read_all(limits.max_xml_body, S3ErrorCode::MalformedXML)
        .await
}

/// The ACL a request asks for with `x-amz-acl` or `x-amz-grant-*`, its grantees checked;
/// `private` when it names none.
pub(super) async fn request_acl(state: &crate::state::AppState, headers: &HeaderMap) -> Result<Acl, S3Error> {
    let acl = Acl::from_headers(headers)?.unwrap_or(Acl::PRIVATE);
    check_grantees(state, &acl).await?;
    Ok(acl)
}

/// Every canonical user an ACL grants to must exist: 400 `InvalidArgument` "Invalid id".
pub(super) async fn check_grantees(state: &crate::state::AppState, acl: &Acl) -> Result<(), S3Error> {
    for id in acl.user_ids() {
        if !state.db.owner_known(id).await.map_err(meta_error)? {
            return Err(S3Error::invalid_argument("id", id, "Invalid id"));
        }
    }
    Ok(())
}

/// The caller's grant flags on `bucket`: looked up only for keys that neither are root nor
/// own the bucket.
pub(super) async fn grant_for(
    state: &crate::state::AppState,
    principal: &Principal,
    bucket: &crate::meta::BucketRow,
) -> Result<u8, S3Error> {
    match principal {
        Principal::Key { access_key, owner_id, is_root: false } if *owner_id != bucket.owner => {
            state.db.grant(access_key, &bucket.name).await.map_err(meta_error)
        }
        _ => Ok(0),
    }
}

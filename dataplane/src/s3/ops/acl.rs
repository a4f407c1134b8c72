//! GetBucketAcl, PutBucketAcl, GetObjectAcl, PutObjectAcl: canned ACLs, header grants or an
//! `AccessControlPolicy` body (one of them; two is an error).

use std::sync::Arc;

use axum::response::Response;
use http::StatusCode;

use super::{meta_error, Req};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::{BucketRow, ObjectRow, Versioning};
use crate::s3::acl::Acl;
use crate::s3::response;
use crate::state::AppState;

/// The ACL a Put*Acl request carries, checked against the resource owner; its grantees must
/// exist.
async fn requested_acl(state: &AppState, req: Req, owner: &str) -> S3Result<Acl> {
    let acl = acl_from_request(state, req, owner).await?;
    super::check_grantees(state, &acl).await?;
    Ok(acl)
}

async fn acl_from_request(state: &AppState, req: Req, owner: &str) -> S3Result<Acl> {
    let from_headers = Acl::from_headers(&req.headers)?;
    let body = super::read_xml(state, req.body, req.payload, &req.headers).await?;
    let has_body = !body.iter().all(u8::is_ascii_whitespace);
    match (from_headers, has_body) {
        (Some(_), true) => Err(S3Error::new(S3ErrorCode::InvalidRequest)
            .with_message("Specify an ACL in headers or in the request body, not both.")),
        (Some(acl), false) => Ok(acl),
        (None, true) => {
            let (doc_owner, acl) = Acl::from_xml(&body)?;
            if doc_owner != owner {
                return Err(S3Error::new(S3ErrorCode::AccessDenied)
                    .with_message("The Owner in the AccessControlPolicy must be the resource's owner."));
            }
            Ok(acl)
        }
        (None, false) => Err(S3Error::new(S3ErrorCode::MalformedACLError)
            .with_message("Give a canned ACL, x-amz-grant-* headers or an AccessControlPolicy body.")),
    }
}

pub(crate) fn get_bucket_acl(bucket: &BucketRow) -> Response {
    response::xml(StatusCode::OK, Acl::from_stored(&bucket.acl).to_xml(&bucket.owner, &bucket.owner))
}

pub(crate) async fn put_bucket_acl(state: &Arc<AppState>, bucket: &BucketRow, req: Req) -> S3Result<Response> {
    let acl = requested_acl(state, req, &bucket.owner).await?.for_bucket();
    if !state.db.set_bucket_acl(&bucket.name, &bucket.owner, acl.to_stored()).await.map_err(meta_error)? {
        return Err(S3Error::new(S3ErrorCode::NoSuchBucket).with_field("BucketName", bucket.name.as_str()));
    }
    Ok(response::empty(StatusCode::OK))
}

/// The ACL of the object version `object` (whose permissions were checked).
pub(crate) fn get_object_acl(bucket: &BucketRow, object: &ObjectRow) -> Response {
    let mut resp = response::xml(StatusCode::OK, Acl::from_stored(&object.acl).to_xml(&object.owner, &bucket.owner));
    super::set_version_header(&mut resp, bucket.versioning != Versioning::Unversioned, &object.version_id);
    resp
}

/// Replaces the ACL of the object version `object`, whose permissions were checked: the ACL
/// lands on that version or nowhere (a concurrent overwrite or delete wins: `NoSuchKey`).
pub(crate) async fn put_object_acl(
    state: &Arc<AppState>,
    bucket: &BucketRow,
    object: &ObjectRow,
    req: Req,
) -> S3Result<Response> {
    let acl = requested_acl(state, req, &object.owner).await?;
    if !state.db.set_object_acl(object, acl.to_stored()).await.map_err(meta_error)? {
        return Err(S3Error::new(S3ErrorCode::NoSuchKey).with_field("Key", object.key.as_str()));
    }
    let mut resp = response::empty(StatusCode::OK);
    super::set_version_header(&mut resp, bucket.versioning != Versioning::Unversioned, &object.version_id);
    Ok(resp)
}

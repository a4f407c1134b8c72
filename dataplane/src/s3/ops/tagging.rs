//! Object tagging (Get/Put/DeleteObjectTagging, on a version with `versionId`) and bucket
//! tagging (Get/Put/DeleteBucketTagging). Tags given at write time (`x-amz-tagging`) are read
//! with the other stored headers (`s3::headers`); the rules are `s3::tagging`'s.

use std::sync::Arc;

use axum::response::Response;
use http::StatusCode;

use super::{meta_error, read_xml, Req};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::{BucketRow, ConfigKind, ObjectRow, Versioning};
use crate::s3::response;
use crate::s3::tagging::{self, TagScope, Tags};
use crate::state::AppState;

fn versioned(bucket: &BucketRow) -> bool {
    bucket.versioning != Versioning::Unversioned
}

/// The tags of the object version `object` (whose permissions were checked).
pub(crate) fn get_object_tagging(bucket: &BucketRow, object: &ObjectRow) -> Response {
    let mut resp = response::xml(StatusCode::OK, tagging::to_xml(&object.meta.tags));
    super::set_version_header(&mut resp, versioned(bucket), &object.version_id);
    resp
}

pub(crate) async fn put_object_tagging(
    state: &Arc<AppState>,
    bucket: &BucketRow,
    object: &ObjectRow,
    req: Req,
) -> S3Result<Response> {
    let body = read_xml(state, req.body, req.payload, &req.headers).await?;
    let tags = tagging::from_xml(&body, TagScope::Object)?;
    set_object_tags(state, bucket, object, tags, StatusCode::OK).await
}

pub(crate) async fn delete_object_tagging(
    state: &Arc<AppState>,
    bucket: &BucketRow,
    object: &ObjectRow,
) -> S3Result<Response> {
    set_object_tags(state, bucket, object, Tags::new(), StatusCode::NO_CONTENT).await
}

/// The tags land on the version checked or nowhere (a concurrent overwrite or delete wins).
async fn set_object_tags(
    state: &AppState,
    bucket: &BucketRow,
    object: &ObjectRow,
    tags: Tags,
    status: StatusCode,
) -> S3Result<Response> {
    if !state.db.set_object_tags(object, tags).await.map_err(meta_error)? {
        return Err(S3Error::new(S3ErrorCode::NoSuchKey).with_field("Key", object.key.as_str()));
    }
    let mut resp = response::empty(status);
    super::set_version_header(&mut resp, versioned(bucket), &object.version_id);
    Ok(resp)
}

pub(crate) async fn get_bucket_tagging(state: &AppState, bucket: &BucketRow) -> S3Result<Response> {
    let doc = state.db.bucket_config(&bucket.name, ConfigKind::Tagging).await.map_err(meta_error)?;
    let no_tags = || S3Error::new(S3ErrorCode::NoSuchTagSet).with_field("BucketName", bucket.name.as_str());
    let tags = tagging::from_stored(&doc.ok_or_else(no_tags)?)?;
    Ok(response::xml(StatusCode::OK, tagging::to_xml(&tags)))
}

pub(crate) async fn put_bucket_tagging(state: &Arc<AppState>, bucket: &BucketRow, req: Req) -> S3Result<Response> {
    let body = read_xml(state, req.body, req.payload, &req.headers).await?;
    let tags = tagging::from_xml(&body, TagScope::Bucket)?;
    set_bucket_tags(state, bucket, Some(tagging::to_stored(&tags))).await
}

pub(crate) async fn delete_bucket_tagging(state: &AppState, bucket: &BucketRow) -> S3Result<Response> {
    set_bucket_tags(state, bucket, None).await
}

async fn set_bucket_tags(state: &AppState, bucket: &BucketRow, doc: Option<String>) -> S3Result<Response> {
    if !state.db.set_bucket_config(&bucket.name, ConfigKind::Tagging, doc).await.map_err(meta_error)? {
        return Err(S3Error::new(S3ErrorCode::NoSuchBucket).with_field("BucketName", bucket.name.as_str()));
    }
    Ok(response::empty(StatusCode::NO_CONTENT))
}

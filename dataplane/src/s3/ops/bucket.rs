//! Bucket operations: ListBuckets, CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation,
//! GetBucketVersioning.

use std::sync::Arc;

use axum::response::Response;
use base64::Engine;
use http::StatusCode;
use serde::Deserialize;

use super::{meta_error, request_acl, Req};
use crate::auth::Principal;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::{now_ms, BucketRow, CreateBucketOutcome, DeleteBucketOutcome};
use crate::s3::endpoint::ListBucketsParams;
use crate::s3::headers::iso8601;
use crate::s3::names::BucketName;
use crate::s3::response;
use crate::s3::xml::{self, XmlWriter};
use crate::state::AppState;

const DEFAULT_MAX_BUCKETS: usize = 10_000;

fn token_encode(name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(name)
}

fn token_decode(token: &str) -> S3Result<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .ok_or_else(|| {
            S3Error::invalid_argument("continuation-token", token, "The continuation token provided is incorrect")
        })
}

pub(crate) async fn list_buckets(
    state: &Arc<AppState>,
    principal: &Principal,
    params: ListBucketsParams,
) -> S3Result<Response> {
    let owner = match principal {
        Principal::Key { is_root: true, .. } => None,
        Principal::Key { access_key, owner_id, .. } => Some((owner_id.clone(), access_key.clone())),
        Principal::Anonymous => return Err(crate::error::S3ErrorCode::AccessDenied.into()),
    };
    let after = params.continuation_token.as_deref().map(token_decode).transpose()?;
    let limit = params.max_buckets.unwrap_or(DEFAULT_MAX_BUCKETS);
    let mut rows = state
        .db
        .list_buckets(owner, params.prefix.clone(), params.bucket_region.clone(), after, limit + 1)
        .await
        .map_err(meta_error)?;
    let truncated = rows.len() > limit;
    rows.truncate(limit);

    let mut w = XmlWriter::new();
    w.root("ListAllMyBucketsResult");
    w.open("Owner");
    w.elem("ID", principal.owner_id());
    w.elem("DisplayName", principal.owner_id());
    w.close("Owner");
    w.open("Buckets");
    for b in &rows {
        w.open("Bucket");
        w.elem("Name", &b.name);
        w.elem("CreationDate", &iso8601(b.created_ms));
        w.elem("BucketRegion", &b.region);
        w.close("Bucket");
    }
    w.close("Buckets");
    if truncated {
        if let Some(last) = rows.last() {
            w.elem("ContinuationToken", &token_encode(&last.name));
        }
    }
    if let Some(prefix) = &params.prefix {
        w.elem("Prefix", prefix);
    }
    w.close("ListAllMyBucketsResult");
    Ok(response::xml(StatusCode::OK, w.finish()))
}

#[derive(Deserialize, Default)]
pub(crate) struct CreateBucketConfiguration {
    #[serde(rename = "LocationConstraint", default)]
    location_constraint: Option<String>,
}

pub(crate) async fn create_bucket(state: &Arc<AppState>, req: Req, name: BucketName) -> S3Result<Response> {
    let acl = request_acl(state, &req.headers).await?.for_bucket().to_stored();
    super::reject_unsupported(&req.headers)?;
    let region = &state.config.region;
    let body = super::read_xml(state, req.body, req.payload, &req.headers).await?;
    if !body.iter().all(u8::is_ascii_whitespace) {
        let config: CreateBucketConfiguration = xml::parse(&body)?;
        match config.location_constraint.as_deref().map(str::trim) {
            None | Some("") => {}
            Some(c) if c == region => {}
            Some(c) => {
                return Err(S3Error::new(S3ErrorCode::InvalidLocationConstraint)
                    .with_message(format!(
                        "The specified location-constraint is not valid; this store serves region {region}."
                    ))
                    .with_field("LocationConstraint", c))
            }
        }
    }
    let row = BucketRow {
        name: name.as_str().to_owned(),
        region: region.clone(),
        owner: req.principal.owner_id().to_owned(),
        acl,
        created_ms: now_ms(),
        versioning: crate::meta::Versioning::Unversioned,
    };
    match state.db.create_bucket(row).await.map_err(meta_error)? {
        CreateBucketOutcome::Created => state.metrics.buckets.inc(),
        // us-east-1 answers a repeated CreateBucket by the owner with 200 (legacy behaviour).
        CreateBucketOutcome::AlreadyOwned if region == "us-east-1" => {}
        CreateBucketOutcome::AlreadyOwned => {
            return Err(S3Error::new(S3ErrorCode::BucketAlreadyOwnedByYou).with_field("BucketName", name.as_str()))
        }
        CreateBucketOutcome::AlreadyExists => {
            return Err(S3Error::new(S3ErrorCode::BucketAlreadyExists).with_field("BucketName", name.as_str()))
        }
    }
    let mut resp = response::empty(StatusCode::OK);
    response::set(&mut resp, "location", &format!("/{name}"));
    Ok(resp)
}

pub(crate) async fn delete_bucket(state: &Arc<AppState>, bucket: &BucketRow) -> S3Result<Response> {
    let name = &bucket.name;
    match state.db.delete_bucket(name).await.map_err(meta_error)? {
        DeleteBucketOutcome::Deleted => {
            state.metrics.buckets.dec();
            Ok(response::empty(StatusCode::NO_CONTENT))
        }
        DeleteBucketOutcome::NoSuchBucket => {
            Err(S3Error::new(S3ErrorCode::NoSuchBucket).with_field("BucketName", name))
        }
        DeleteBucketOutcome::NotEmpty => Err(S3Error::new(S3ErrorCode::BucketNotEmpty).with_field("BucketName", name)),
    }
}

pub(crate) fn head_bucket(bucket: &BucketRow) -> Response {
    let mut resp = response::empty(StatusCode::OK);
    response::set(&mut resp, "x-amz-bucket-region", &bucket.region);
    response::set(&mut resp, "x-amz-access-point-alias", "false");
    resp
}

pub(crate) fn get_bucket_location(bucket: &BucketRow) -> Response {
    let mut w = XmlWriter::new();
    // us-east-1 is the empty element, as S3 answers it.
    if bucket.region == "us-east-1" {
        w.raw(&format!("<LocationConstraint xmlns=\"{}\"/>", xml::S3_NS));
    } else {
        w.root("LocationConstraint");
        w.raw(&quick_xml::escape::escape(bucket.region.as_str()));
        w.close("LocationConstraint");
    }
    response::xml(StatusCode::OK, w.finish())
}

//! The request path, each step once: request id → S3Path → Endpoint → authenticate → bucket
//! lookup + authorize (`resolve`) → one `match` calling the operation → response or error
//! document.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine;
use http::{HeaderValue, Method};
use rand::RngExt;

use super::acl::Permission;
use super::authorize::{self, Access, Decision};
use super::endpoint::{BucketOp, Endpoint};
use super::ops::{self, Req};
use super::path::{virtual_host_bucket, S3Path};
use super::query::Query;
use super::response;
use crate::auth::{AuthRequest, Payload, Principal};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::{BucketRow, ObjectRow};
use crate::metrics::{method_label, CountingBody, Direction};
use crate::percent::decode;
use crate::s3::body::BodyReader;
use crate::state::AppState;

/// The axum handler for every S3 request.
pub async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let started = Instant::now();
    let request_id = new_request_id();
    let head = req.method() == Method::HEAD;
    let method = req.method().clone();
    let resource = req.uri().path_and_query().map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned());
    // For the log line only: the first path segment (path-style) or the virtual host's bucket.
    let bucket = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| virtual_host_bucket(h, &state.config.virtual_host_domains))
        .or_else(|| {
            req.uri().path().trim_start_matches('/').split('/').next().filter(|s| !s.is_empty()).map(str::to_owned)
        });
    let _permit = state.inflight.acquire().await;
    let metrics = state.metrics.clone();
    let req = req.map(|b| Body::new(CountingBody::new(b, metrics.clone(), Direction::Received)));
    let mut operation = "Unknown";
    let result = route(&state, req, &mut operation).await;
    let mut resp = match result {
        Ok(resp) => resp,
        Err(err) => {
            let level_error = err.status().is_server_error();
            if level_error {
                tracing::error!(request_id = %request_id, operation, error = %err, "request failed");
            } else {
                tracing::debug!(request_id = %request_id, operation, error = %err, "request refused");
            }
            response::error(&err, resource.split('?').next().unwrap_or("/"), &request_id, head)
        }
    };
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::try_from(request_id.as_str()) {
        headers.insert("x-amz-request-id", v);
    }
    if let Ok(v) = HeaderValue::try_from(new_host_id()) {
        headers.insert("x-amz-id-2", v);
    }
    headers.insert(http::header::SERVER, HeaderValue::from_static("BleepStore"));
    let status = resp.status().as_u16();
    let method_label = method_label(&method);
    let status_label = status.to_string();
    metrics.http_requests.with_label_values(&[method_label, operation, &status_label]).inc();
    metrics.s3_operations.with_label_values(&[operation, &status_label]).inc();
    metrics.http_duration.with_label_values(&[method_label, operation]).observe(started.elapsed().as_secs_f64());
    tracing::info!(
        request_id = %request_id,
        method = %method,
        operation,
        bucket = bucket.as_deref().unwrap_or(""),
        status,
        response_bytes = resp.headers().get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).unwrap_or("0"),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "s3 request"
    );
    resp.map(|b| Body::new(CountingBody::new(b, metrics, Direction::Sent)))
}

fn new_request_id() -> String {
    let bytes: [u8; 8] = rand::rng().random();
    hex::encode_upper(bytes)
}

fn new_host_id() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn route(state: &Arc<AppState>, req: Request, operation: &mut &'static str) -> S3Result<Response> {
    let (parts, body) = req.into_parts();
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()));
    let path = S3Path::parse(host, parts.uri.path(), &state.config.virtual_host_domains)?;
    let query = Query::parse(parts.uri.query())?;
    let endpoint = Endpoint::parse(&parts.method, path, &query, parts.headers.contains_key("x-amz-copy-source"))?;
    *operation = endpoint.name();

    let decoded_path = decode(parts.uri.path())?;
    let vhost_bucket = host.and_then(|h| virtual_host_bucket(h, &state.config.virtual_host_domains));
    let auth_req = AuthRequest {
        method: &parts.method,
        decoded_path: &decoded_path,
        raw_path: parts.uri.path(),
        vhost_bucket: vhost_bucket.as_deref(),
        raw_query: parts.uri.query(),
        headers: &parts.headers,
        host,
        body_empty: http_body::Body::size_hint(&body).exact() == Some(0),
    };
    let auth = state.auth.authenticate(&auth_req, time::OffsetDateTime::now_utc()).await?;
    let (payload, body) = match auth.payload {
        // A signature over an undeclared body hash: an upload checks it when its body ends,
        // before anything is committed; every other operation reads its (small) body and
        // checks it before acting at all.
        Payload::Deferred(_) if !endpoint.streams_body() => {
            let limits = &state.config.limits;
            let bytes = BodyReader::new(
                body,
                auth.payload,
                &parts.headers,
                limits.max_xml_body as u64,
                limits.body_idle_timeout(),
            )?
            .read_all(limits.max_xml_body, S3ErrorCode::MaxMessageLengthExceeded)
            .await?;
            (Payload::Unsigned, Body::from(bytes))
        }
        payload => (payload, body),
    };
    let req = Req { principal: auth.principal, payload, headers: parts.headers, body };
    dispatch(state, endpoint, req).await
}

/// The bucket a request operates on, loaded and authorized once, before the operation.
pub(super) struct BucketContext {
    pub row: BucketRow,
    pub decision: Decision,
}

/// Loads the bucket; checks the owner the caller expects (`x-amz-expected-bucket-owner`) and
/// the caller's access to it.
async fn resolve(
    state: &AppState,
    principal: &Principal,
    headers: &http::HeaderMap,
    bucket: &str,
    access: Access,
) -> S3Result<BucketContext> {
    let row = state
        .db
        .get_bucket(bucket)
        .await
        .map_err(ops::meta_error)?
        .ok_or_else(|| S3Error::new(S3ErrorCode::NoSuchBucket).with_field("BucketName", bucket))?;
    authorize::expected_owner(headers, "x-amz-expected-bucket-owner", &row)?;
    let grant = ops::grant_for(state, principal, &row).await?;
    let decision = authorize::bucket_access(principal, &row, access, grant)?;
    Ok(BucketContext { row, decision })
}

/// For object ACL operations the bucket check may defer to the object: its owner, or its ACL
/// granting `permission`. Returns the object version whose permissions were checked.
async fn object_acl_check(
    state: &AppState,
    ctx: &BucketContext,
    key: &crate::s3::names::ObjectKey,
    version: Option<&str>,
    principal: &Principal,
    permission: Permission,
) -> S3Result<ObjectRow> {
    let row = state.db.get_object(&ctx.row.name, key.as_str(), version).await.map_err(ops::meta_error)?;
    let listable = matches!(ctx.decision, Decision::Allow | Decision::IfObjectGrants { listable: true });
    match (row, &ctx.decision) {
        (Some(row), _) if row.delete_marker && listable => {
            Err(ops::read::unreadable(key.as_str(), version, Some(&row)))
        }
        (Some(row), Decision::Allow) => Ok(row),
        (Some(row), Decision::IfObjectGrants { .. })
            if !row.delete_marker && authorize::object_allows(&row.acl, &row.owner, principal, permission) =>
        {
            Ok(row)
        }
        (None, _) if listable => Err(ops::read::unreadable(key.as_str(), version, None)),
        _ => Err(S3ErrorCode::AccessDenied.into()),
    }
}

async fn dispatch(state: &Arc<AppState>, endpoint: Endpoint, req: Req) -> S3Result<Response> {
    match endpoint {
        Endpoint::ListBuckets(params) => {
            authorize::require_signed(&req.principal)?;
            ops::bucket::list_buckets(state, &req.principal, params).await
        }
        Endpoint::CreateBucket { bucket } => {
            authorize::require_signed(&req.principal)?;
            ops::bucket::create_bucket(state, req, bucket).await
        }
        Endpoint::Bucket { bucket, op } => {
            let ctx = resolve(state, &req.principal, &req.headers, bucket.as_str(), op.access()).await?;
            bucket_op(state, ctx, op, req).await
        }
    }
}

/// The one `match` that runs an operation on its resolved bucket.
async fn bucket_op(state: &Arc<AppState>, ctx: BucketContext, op: BucketOp, req: Req) -> S3Result<Response> {
    use ops::{
        acl, attributes, bucket, copy, delete, get, list, multipart, multipart_list, put, tagging, versioning,
        versions_list,
    };
    let row = &ctx.row;
    match op {
        BucketOp::DeleteBucket => bucket::delete_bucket(state, row).await,
        BucketOp::HeadBucket => Ok(bucket::head_bucket(row)),
        BucketOp::GetBucketLocation => Ok(bucket::get_bucket_location(row)),
        BucketOp::GetBucketVersioning => Ok(versioning::get_bucket_versioning(row)),
        BucketOp::PutBucketVersioning => versioning::put_bucket_versioning(state, row, req).await,
        BucketOp::ListObjectVersions(params) => versions_list::list_object_versions(state, row, params).await,
        BucketOp::GetBucketAcl => Ok(acl::get_bucket_acl(row)),
        BucketOp::PutBucketAcl => acl::put_bucket_acl(state, row, req).await,
        BucketOp::GetObjectAcl { key, version } => {
            let object =
                object_acl_check(state, &ctx, &key, version.as_deref(), &req.principal, Permission::ReadAcp).await?;
            Ok(acl::get_object_acl(row, &object))
        }
        BucketOp::PutObjectAcl { key, version } => {
            let object =
                object_acl_check(state, &ctx, &key, version.as_deref(), &req.principal, Permission::WriteAcp).await?;
            acl::put_object_acl(state, row, &object, req).await
        }
        BucketOp::GetBucketTagging => tagging::get_bucket_tagging(state, row).await,
        BucketOp::PutBucketTagging => tagging::put_bucket_tagging(state, row, req).await,
        BucketOp::DeleteBucketTagging => tagging::delete_bucket_tagging(state, row).await,
        BucketOp::GetObjectTagging { key, version } => {
            let object =
                object_acl_check(state, &ctx, &key, version.as_deref(), &req.principal, Permission::Read).await?;
            Ok(tagging::get_object_tagging(row, &object))
        }
        BucketOp::PutObjectTagging { key, version } => {
            let object =
                object_acl_check(state, &ctx, &key, version.as_deref(), &req.principal, Permission::Write).await?;
            tagging::put_object_tagging(state, row, &object, req).await
        }
        BucketOp::DeleteObjectTagging { key, version } => {
            let object =
                object_acl_check(state, &ctx, &key, version.as_deref(), &req.principal, Permission::Write).await?;
            tagging::delete_object_tagging(state, row, &object).await
        }
        BucketOp::ListObjects(params) => list::list_objects(state, row, params).await,
        BucketOp::DeleteObjects => delete::delete_objects(state, row, req).await,
        BucketOp::PutObject { key } => put::put_object(state, row, key, req).await,
        BucketOp::CopyObject { key } => copy::copy_object(state, row, key, req).await,
        BucketOp::GetObject { key, read } => get::get_object(state, row, key, read, ctx.decision, req, false).await,
        BucketOp::HeadObject { key, read } => get::get_object(state, row, key, read, ctx.decision, req, true).await,
        BucketOp::GetObjectAttributes { key, version } => {
            attributes::get_object_attributes(state, row, key, version, ctx.decision, req).await
        }
        BucketOp::DeleteObject { key, version } => delete::delete_object(state, row, key, version, req).await,
        BucketOp::CreateMultipartUpload { key } => multipart::create(state, row, key, req).await,
        BucketOp::UploadPart { key, part_number, upload_id } => {
            multipart::upload_part(state, row, key, part_number, upload_id, req).await
        }
        BucketOp::UploadPartCopy { key, part_number, upload_id } => {
            multipart::upload_part_copy(state, row, key, part_number, upload_id, req).await
        }
        BucketOp::CompleteMultipartUpload { key, upload_id } => {
            multipart::complete(state, row, key, upload_id, req).await
        }
        BucketOp::AbortMultipartUpload { key, upload_id } => multipart::abort(state, row, key, upload_id).await,
        BucketOp::ListMultipartUploads(params) => multipart_list::list_uploads(state, row, params).await,
        BucketOp::ListParts { key, params } => multipart_list::list_parts(state, row, key, params).await,
    }
}

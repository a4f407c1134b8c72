//! CopyObject: the source resolved and authorized, its conditions checked, its bytes streamed
//! into a new blob under the destination key, with COPY or REPLACE metadata.

use std::sync::Arc;

use axum::response::Response;
use futures_util::StreamExt;
use http::{HeaderMap, StatusCode};

use super::store::Sink;
use super::{blob_error, meta_error, quoted, read, reject_unsupported, request_acl, Req};
use crate::auth::Principal;
use crate::checksum::ChecksumAlgorithm;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::{BucketRow, Versioning};
use crate::percent::decode;
use crate::s3::acl::Permission;
use crate::s3::authorize::{self, object_allows, Access, Decision};
use crate::s3::conditional::{self, Outcome};
use crate::s3::headers::{get, iso8601, object_meta_from, write_condition};
use crate::s3::names::{BucketName, ObjectKey};
use crate::s3::response;
use crate::s3::xml::XmlWriter;
use crate::state::AppState;

/// The object a copy reads.
#[derive(Debug)]
pub(crate) struct CopySource {
    pub(crate) bucket: BucketName,
    pub(crate) key: ObjectKey,
    /// `?versionId=`: that version rather than the current one.
    pub(crate) version: Option<String>,
}

/// `x-amz-copy-source`: `[/]bucket/key[?versionId=…]`, URL-encoded.
pub(crate) fn parse_copy_source(value: &str) -> S3Result<CopySource> {
    let invalid = || {
        S3Error::invalid_argument(
            "x-amz-copy-source",
            value,
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey.",
        )
    };
    let (path, version) = match value.split_once('?') {
        Some((p, q)) => (p, Some(q.strip_prefix("versionId=").ok_or_else(invalid)?)),
        None => (value, None),
    };
    let version = version.map(decode).transpose()?;
    if let Some(v) = version.as_deref().filter(|v| !crate::meta::is_version_id(v)) {
        return Err(S3Error::invalid_argument("x-amz-copy-source", v, "Invalid version id specified"));
    }
    let decoded = decode(path)?;
    let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
    let (bucket, key) = decoded.split_once('/').ok_or_else(invalid)?;
    if key.is_empty() {
        return Err(invalid());
    }
    Ok(CopySource { bucket: BucketName::parse(bucket)?, key: ObjectKey::parse(key.to_owned())?, version })
}

#[derive(PartialEq, Eq)]
enum Directive {
    Copy,
    Replace,
}

fn directive(headers: &HeaderMap) -> S3Result<Directive> {
    directive_of(headers, "x-amz-metadata-directive", "Unknown metadata directive.")
}

/// `x-amz-tagging-directive`: the source's tags (COPY, the default) or the request's
/// `x-amz-tagging` (REPLACE; none without it).
fn tagging_directive(headers: &HeaderMap) -> S3Result<Directive> {
    directive_of(headers, "x-amz-tagging-directive", "Unknown tagging directive.")
}

fn directive_of(headers: &HeaderMap, name: &'static str, unknown: &'static str) -> S3Result<Directive> {
    match get(headers, name) {
        None => Ok(Directive::Copy),
        Some(v) if v.eq_ignore_ascii_case("COPY") => Ok(Directive::Copy),
        Some(v) if v.eq_ignore_ascii_case("REPLACE") => Ok(Directive::Replace),
        Some(v) => Err(S3Error::invalid_argument(name, v, unknown)),
    }
}

/// A copy's source: loaded and pinned, and whether its bucket has versioning configured.
pub(crate) struct Source {
    pub(crate) pinned: read::Pinned,
    pub(crate) versioned: bool,
}

/// Resolves, authorizes, loads and pins the source object, checking its conditions.
pub(crate) async fn load_source(state: &AppState, principal: &Principal, headers: &HeaderMap) -> S3Result<Source> {
    let source = get(headers, "x-amz-copy-source").unwrap_or_default();
    let CopySource { bucket: src_bucket, key: src_key, version } = parse_copy_source(source)?;
    let bucket = state
        .db
        .get_bucket(src_bucket.as_str())
        .await
        .map_err(meta_error)?
        .ok_or_else(|| S3Error::new(S3ErrorCode::NoSuchBucket).with_field("BucketName", src_bucket.as_str()))?;
    authorize::expected_owner(headers, "x-amz-source-expected-bucket-owner", &bucket)?;
    let grant = super::grant_for(state, principal, &bucket).await?;
    let decision = authorize::bucket_access(principal, &bucket, Access::ObjectRead, grant)?;
    let source = match read::load(state, src_bucket.as_str(), src_key.as_str(), version.as_deref()).await {
        // As for GET: a caller who may not list the source bucket does not learn what is in it.
        Err(e) if e.status().is_client_error() && decision == (Decision::IfObjectGrants { listable: false }) => {
            return Err(S3ErrorCode::AccessDenied.into())
        }
        Err(e) if e.code == S3ErrorCode::MethodNotAllowed => {
            return Err(S3Error::new(S3ErrorCode::InvalidRequest).with_message(
                "The source of a copy request may not specifically refer to a delete marker by version id.",
            ))
        }
        other => other?,
    };
    let row = &source.row;
    if matches!(decision, Decision::IfObjectGrants { .. })
        && !object_allows(&row.acl, &row.owner, principal, Permission::Read)
    {
        return Err(S3ErrorCode::AccessDenied.into());
    }
    if conditional::evaluate_copy_source(headers, &row.etag, row.last_modified_ms) != Outcome::Proceed {
        return Err(S3Error::new(S3ErrorCode::PreconditionFailed).with_field("Condition", "x-amz-copy-source-If-*"));
    }
    Ok(Source { pinned: source, versioned: bucket.versioning != Versioning::Unversioned })
}

pub(crate) async fn copy_object(
    state: &Arc<AppState>,
    bucket: &BucketRow,
    key: ObjectKey,
    req: Req,
) -> S3Result<Response> {
    reject_unsupported(&req.headers)?;
    let directive = directive(&req.headers)?;
    let acl = request_acl(state, &req.headers).await?.to_stored();
    let Source { pinned, versioned: source_versioned } = load_source(state, &req.principal, &req.headers).await?;
    let source = pinned.row.clone();
    if source.bucket == bucket.name && source.key == key.as_str() && directive == Directive::Copy {
        return Err(S3Error::new(S3ErrorCode::InvalidRequest).with_message(
            "This copy request is illegal because it is trying to copy an object to itself without changing the \
                object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    let mut meta = match directive {
        Directive::Copy => source.meta.clone(),
        Directive::Replace => object_meta_from(&req.headers)?,
    };
    meta.tags = match tagging_directive(&req.headers)? {
        Directive::Copy => source.meta.tags.clone(),
        Directive::Replace => match get(&req.headers, "x-amz-tagging") {
            Some(value) => crate::s3::tagging::from_header(value)?,
            None => Vec::new(),
        },
    };
    let algorithm = match get(&req.headers, "x-amz-checksum-algorithm") {
        Some(a) => Some(ChecksumAlgorithm::parse(a).ok_or_else(|| {
            S3Error::invalid_argument("x-amz-checksum-algorithm", a, "Unsupported checksum algorithm.")
        })?),
        None => source.meta.checksum.as_ref().and_then(|c| ChecksumAlgorithm::parse(&c.algorithm)),
    };

    let mut sink = Sink::for_object(state, algorithm, Some(source.size)).await?;
    if source.size > 0 {
        let mut stream = pinned.open(state, None).await?;
        while let Some(chunk) = stream.next().await {
            sink.write(chunk.map_err(|e| blob_error(e.into()))?).await?;
        }
    }
    let received = sink.finish().await?;
    if received.size != source.size {
        return Err(S3Error::internal(format!(
            "source blob {} is {} bytes, its row says {}",
            source.blob_id, received.size, source.size
        )));
    }
    let row = received.object_row(&bucket.name, key.as_str(), meta, req.principal.owner_id(), acl);
    let (row, written) = received.commit(state, row, write_condition(&req.headers)).await?;

    let mut w = XmlWriter::new();
    w.root("CopyObjectResult");
    w.elem("LastModified", &iso8601(row.last_modified_ms));
    w.elem("ETag", &quoted(&row.etag));
    if let Some(c) = &row.meta.checksum {
        w.elem("ChecksumType", "FULL_OBJECT");
        let name = format!("Checksum{}", c.algorithm.to_uppercase());
        w.elem(&name, &c.value);
    }
    w.close("CopyObjectResult");
    let mut resp = response::xml(StatusCode::OK, w.finish());
    super::set_version_header(&mut resp, written.versioned, &written.version_id);
    if source_versioned {
        response::set(&mut resp, "x-amz-copy-source-version-id", &source.version_id);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_forms() {
        let s = parse_copy_source("src-bucket/a%20b/c%2Bd.txt").unwrap();
        assert_eq!((s.bucket.as_str(), s.key.as_str(), s.version), ("src-bucket", "a b/c+d.txt", None));
        let s = parse_copy_source("/src-bucket/key?versionId=null").unwrap();
        assert_eq!((s.bucket.as_str(), s.key.as_str(), s.version.as_deref()), ("src-bucket", "key", Some("null")));
        let id = crate::meta::new_version_id();
        let s = parse_copy_source(&format!("bkt/k?versionId={id}")).unwrap();
        assert_eq!(s.version, Some(id));
        for bad in ["nobucket", "bkt/", "/", "bkt/k?x=1", "bkt/k?versionId=3HL4kqtJlcpXroDTDmJ"] {
            assert!(parse_copy_source(bad).is_err(), "{bad}");
        }
    }
}

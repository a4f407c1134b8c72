//! Multipart uploads: create, upload a part (from a body or a copy source range), complete into
//! a manifest of the part blobs (no bytes copied), abort.

use std::sync::Arc;

use axum::response::Response;
use base64::Engine;
use http::StatusCode;
use md5::{Digest, Md5};
use serde::Deserialize;

use super::store::{receive, Digests, Sink};
use super::{blob_error, meta_error, quoted, reject_unsupported, request_acl, Req};
use crate::checksum::{ChecksumAlgorithm, ChecksumHasher, ChecksumType};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::{
    now_ms, BucketRow, Checksum, CompleteOutcome, ObjectRow, PartOutcome, PartRow, UploadRow, Versioning,
};
use crate::s3::body::BodyReader;
use crate::s3::headers::{get, iso8601, object_meta_from};
use crate::s3::names::ObjectKey;
use crate::s3::response;
use crate::s3::xml::{self, XmlWriter};
use crate::state::AppState;

/// Every part but the last must be at least this large.
pub(crate) const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// The largest part S3 accepts.
pub(crate) const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;

fn no_such_upload(upload_id: &str) -> S3Error {
    S3Error::new(S3ErrorCode::NoSuchUpload).with_field("UploadId", upload_id)
}

/// `x-amz-checksum-algorithm` and `x-amz-checksum-type` of CreateMultipartUpload: the type
/// defaults per algorithm, and must suit it (full-object checksums need a CRC).
fn upload_checksum(headers: &http::HeaderMap) -> S3Result<Option<(ChecksumAlgorithm, ChecksumType)>> {
    let algorithm = match get(headers, "x-amz-checksum-algorithm") {
        None => None,
        Some(a) => Some(ChecksumAlgorithm::parse(a).ok_or_else(|| {
            S3Error::invalid_argument("x-amz-checksum-algorithm", a, "Checksum algorithm provided is unsupported.")
        })?),
    };
    let requested = match get(headers, "x-amz-checksum-type") {
        None => None,
        Some(t) => Some(ChecksumType::parse(t).ok_or_else(|| {
            S3Error::new(S3ErrorCode::InvalidRequest).with_message("Value for x-amz-checksum-type header is invalid.")
        })?),
    };
    match (algorithm, requested) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(S3Error::new(S3ErrorCode::InvalidRequest)
            .with_message("The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")),
        (Some(a), t) => {
            let t = t.unwrap_or_else(|| a.default_type());
            if !a.allows(t) {
                return Err(S3Error::new(S3ErrorCode::InvalidRequest).with_message(format!(
                    "The {} checksum type cannot be used with the {} checksum algorithm.",
                    t.as_str(),
                    a.name()
                )));
            }
            Ok(Some((a, t)))
        }
    }
}

pub(crate) async fn create(state: &Arc<AppState>, bucket: &BucketRow, key: ObjectKey, req: Req) -> S3Result<Response> {
    reject_unsupported(&req.headers)?;
    let meta = object_meta_from(&req.headers)?;
    let acl = request_acl(state, &req.headers).await?.to_stored();
    let checksum = upload_checksum(&req.headers)?;
    let upload_id = crate::blob::new_blob_id();
    let row = UploadRow {
        upload_id: upload_id.clone(),
        bucket: bucket.name.clone(),
        key: key.as_str().to_owned(),
        initiated_ms: now_ms(),
        owner: req.principal.owner_id().to_owned(),
        meta,
        acl,
        checksum_algorithm: checksum.map(|(a, _)| a.name().to_owned()),
        checksum_type: checksum.map(|(_, t)| t.as_str().to_owned()),
    };
    if !state.db.create_upload(row).await.map_err(meta_error)? {
        return Err(S3Error::new(S3ErrorCode::NoSuchBucket).with_field("BucketName", bucket.name.as_str()));
    }
    let mut w = XmlWriter::new();
    w.root("InitiateMultipartUploadResult");
    w.elem("Bucket", &bucket.name);
    w.elem("Key", key.as_str());
    w.elem("UploadId", &upload_id);
    w.close("InitiateMultipartUploadResult");
    let mut resp = response::xml(StatusCode::OK, w.finish());
    if let Some((a, t)) = checksum {
        response::set(&mut resp, "x-amz-checksum-algorithm", &a.name().to_uppercase());
        response::set(&mut resp, "x-amz-checksum-type", t.as_str());
    }
    Ok(resp)
}

async fn upload_for(state: &AppState, bucket: &BucketRow, key: &ObjectKey, upload_id: &str) -> S3Result<UploadRow> {
    state
        .db
        .get_upload(&bucket.name, key.as_str(), upload_id)
        .await
        .map_err(meta_error)?
        .ok_or_else(|| no_such_upload(upload_id))
}

/// Commits a part's blob, then its row; a vanished upload removes the blob again.
async fn store_part(
    state: &Arc<AppState>,
    bucket: &BucketRow,
    key: &ObjectKey,
    upload_id: &str,
    received: super::store::Received,
    checksum: Option<String>,
) -> S3Result<PartRow> {
    let (state, bucket_name, key, upload_id) =
        (state.clone(), bucket.name.clone(), key.as_str().to_owned(), upload_id.to_owned());
    let part_number = received.part_number;
    let task = tokio::spawn(async move {
        let size = received.size;
        let etag = received.md5_hex();
        let blob_id = received.into_blob().await?;
        let part = PartRow { part_number, blob_id: blob_id.clone(), size, etag, last_modified_ms: now_ms(), checksum };
        match state.db.put_part(&bucket_name, &key, &upload_id, part.clone()).await {
            Ok(PartOutcome::Stored { replaced }) => {
                if replaced.is_some() {
                    state.deleter.notify_one();
                }
                Ok(part)
            }
            other => {
                if let Err(e) = state.blobs.delete(&blob_id).await {
                    tracing::warn!(blob_id, error = %e,
                        "could not remove the blob of a refused part; the start-up sweep will");
                }
                match other {
                    Ok(_) => Err(no_such_upload(&upload_id)),
                    Err(e) => Err(meta_error(e)),
                }
            }
        }
    });
    task.await.map_err(S3Error::internal)?
}

fn part_response(part: &PartRow, algorithm: Option<ChecksumAlgorithm>) -> Response {
    let mut resp = response::empty(StatusCode::OK);
    response::set(&mut resp, "etag", &quoted(&part.etag));
    if let (Some(a), Some(c)) = (algorithm, &part.checksum) {
        response::set(&mut resp, a.header(), c);
    }
    resp
}

pub(crate) async fn upload_part(
    state: &Arc<AppState>,
    bucket: &BucketRow,
    key: ObjectKey,
    part_number: u32,
    upload_id: String,
    req: Req,
) -> S3Result<Response> {
    let upload = upload_for(state, bucket, &key, &upload_id).await?;
    let h = &req.headers;
    reject_unsupported(h)?;
    let digests = Digests::from_headers(h)?;
    let upload_algorithm = upload.checksum_algorithm.as_deref().and_then(ChecksumAlgorithm::parse);
    if let (Some(asked), Some(declared)) = (digests.algorithm(), upload_algorithm) {
        if asked != declared {
            return Err(S3Error::new(S3ErrorCode::InvalidRequest).with_message(format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                declared.name(),
                asked.name()
            )));
        }
    }
    let algorithm = digests.algorithm().or(upload_algorithm);
    let limits = &state.config.limits;
    let reader = BodyReader::new(req.body, req.payload, h, MAX_PART_SIZE, limits.body_idle_timeout())?;
    let sink = Sink::for_blob(state, algorithm, reader.declared_len()).await?;
    let mut received = receive(reader, sink, &digests).await?;
    received.part_number = part_number;
    let checksum = received.checksum.as_ref().map(|c| c.value.clone());
    let part = store_part(state, bucket, &key, &upload_id, received, checksum).await?;
    Ok(part_response(&part, algorithm))
}

pub(crate) async fn upload_part_copy(
    state: &Arc<AppState>,
    bucket: &BucketRow,
    key: ObjectKey,
    part_number: u32,
    upload_id: String,
    req: Req,
) -> S3Result<Response> {
    reject_unsupported(&req.headers)?;
    let upload = upload_for(state, bucket, &key, &upload_id).await?;
    let super::copy::Source { pinned: source, versioned: source_versioned } =
        super::copy::load_source(state, &req.principal, &req.headers).await?;
    let source_version = source.row.version_id.clone();
    let size = source.row.size;
    let span = match get(&req.headers, "x-amz-copy-source-range") {
        None => 0..size,
        Some(v) => {
            let bad =
                || {
                    S3Error::invalid_argument("x-amz-copy-source-range", v,
                    "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are \
                        the zero-based offsets of the first and last bytes to copy")
                };
            let (first, last) = v.trim().strip_prefix("bytes=").and_then(|r| r.split_once('-')).ok_or_else(bad)?;
            let (first, last) = (first.parse::<u64>().map_err(|_| bad())?, last.parse::<u64>().map_err(|_| bad())?);
            if first > last {
                return Err(bad());
            }
            if last >= size {
                return Err(
                    S3Error::new(S3ErrorCode::InvalidRange).with_header("content-range", format!("bytes */{size}"))
                );
            }
            first..last + 1
        }
    };
    if span.end - span.start > MAX_PART_SIZE {
        return Err(S3ErrorCode::EntityTooLarge.into());
    }
    let algorithm = upload.checksum_algorithm.as_deref().and_then(ChecksumAlgorithm::parse);
    let mut sink = Sink::for_blob(state, algorithm, Some(span.end - span.start)).await?;
    if span.start < span.end {
        let mut stream = source.open(state, Some(span)).await?;
        while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
            sink.write(chunk.map_err(|e| blob_error(e.into()))?).await?;
        }
    }
    let mut received = sink.finish().await?;
    received.part_number = part_number;
    let checksum = received.checksum.as_ref().map(|c| c.value.clone());
    let part = store_part(state, bucket, &key, &upload_id, received, checksum).await?;
    let mut w = XmlWriter::new();
    w.root("CopyPartResult");
    w.elem("LastModified", &iso8601(part.last_modified_ms));
    w.elem("ETag", &quoted(&part.etag));
    w.close("CopyPartResult");
    let mut resp = response::xml(StatusCode::OK, w.finish());
    if source_versioned {
        response::set(&mut resp, "x-amz-copy-source-version-id", &source_version);
    }
    Ok(resp)
}

#[derive(Deserialize)]
pub(crate) struct CompleteRequest {
    #[serde(rename = "Part", default)]
    parts: Vec<CompletedPart>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CompletedPart {
    part_number: u32,
    #[serde(rename = "ETag")]
    etag: String,
    #[serde(rename = "ChecksumCRC32", default)]
    crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C", default)]
    crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME", default)]
    crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1", default)]
    sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256", default)]
    sha256: Option<String>,
}

impl CompletedPart {
    fn checksum(&self) -> Option<&str> {
        [&self.crc32, &self.crc32c, &self.crc64nvme, &self.sha1, &self.sha256].into_iter().find_map(|c| c.as_deref())
    }
}

/// What CompleteMultipartUpload's headers say the whole object must be: its checksum
/// (`x-amz-checksum-<algorithm>`), the checksum type, and its size (`x-amz-mp-object-size`).
#[derive(Default)]
pub(crate) struct Expected {
    checksum: Option<(ChecksumAlgorithm, String)>,
    checksum_type: Option<ChecksumType>,
    size: Option<u64>,
}

impl Expected {
    fn from_headers(headers: &http::HeaderMap) -> S3Result<Self> {
        let checksum =
            ChecksumAlgorithm::ALL.into_iter().find_map(|a| get(headers, a.header()).map(|v| (a, v.to_owned())));
        let checksum_type = match get(headers, "x-amz-checksum-type") {
            None => None,
            Some(t) => Some(ChecksumType::parse(t).ok_or_else(|| {
                S3Error::new(S3ErrorCode::InvalidRequest)
                    .with_message("Value for x-amz-checksum-type header is invalid.")
            })?),
        };
        let size = match get(headers, "x-amz-mp-object-size") {
            None => None,
            Some(v) => Some(v.trim().parse::<u64>().map_err(|_| {
                S3Error::invalid_argument("x-amz-mp-object-size", v, "The value must be a non-negative integer.")
            })?),
        };
        Ok(Self { checksum, checksum_type, size })
    }
}

/// The object checksum of an upload with `algorithm` and `kind` from the stored parts in use
/// (their raw checksums and sizes), or why the parts cannot give one.
fn object_checksum(algorithm: ChecksumAlgorithm, kind: ChecksumType, parts: &[&PartRow]) -> S3Result<String> {
    let missing = |p: &PartRow| {
        S3Error::new(S3ErrorCode::InvalidRequest)
            .with_message(format!("Part {} was uploaded without the upload's checksum.", p.part_number))
    };
    match kind {
        ChecksumType::FullObject => {
            let values: Vec<(&str, u64)> = parts
                .iter()
                .map(|p| p.checksum.as_deref().map(|c| (c, p.size)).ok_or_else(|| missing(p)))
                .collect::<S3Result<_>>()?;
            algorithm.combine_parts(values).ok_or_else(|| S3Error::internal("a stored part checksum is malformed"))
        }
        ChecksumType::Composite => {
            let mut h = ChecksumHasher::new(algorithm);
            for p in parts {
                let raw = p
                    .checksum
                    .as_deref()
                    .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
                    .ok_or_else(|| missing(p))?;
                h.update(&raw);
            }
            Ok(format!("{}-{}", h.finish(), parts.len()))
        }
    }
}

/// Validates the client's part list (and what its headers expect of the whole object) against
/// the stored parts and builds the object row.
fn assemble(
    upload: &UploadRow,
    given: &[CompletedPart],
    expected: &Expected,
    stored: &[PartRow],
) -> S3Result<(ObjectRow, Vec<u32>)> {
    if given.windows(2).any(|w| w[0].part_number >= w[1].part_number) {
        return Err(S3ErrorCode::InvalidPartOrder.into());
    }
    let algorithm = upload.checksum_algorithm.as_deref().and_then(ChecksumAlgorithm::parse);
    // Uploads from before checksum types were recorded are composite.
    let kind = upload.checksum_type.as_deref().and_then(ChecksumType::parse).unwrap_or(ChecksumType::Composite);
    let mut etag_md5 = Md5::new();
    let mut used = Vec::with_capacity(given.len());
    for (i, g) in given.iter().enumerate() {
        let invalid = || {
            S3Error::new(S3ErrorCode::InvalidPart)
                .with_field("PartNumber", g.part_number.to_string())
                .with_field("ETag", g.etag.clone())
        };
        let part = stored.iter().find(|p| p.part_number == g.part_number).ok_or_else(invalid)?;
        if g.etag.trim().trim_matches('"') != part.etag {
            return Err(invalid());
        }
        if let Some(c) = g.checksum() {
            if part.checksum.as_deref() != Some(c) {
                return Err(invalid().with_message("The checksum of a part does not match the checksum given for it."));
            }
        }
        if i + 1 < given.len() && part.size < MIN_PART_SIZE {
            return Err(S3Error::new(S3ErrorCode::EntityTooSmall)
                .with_field("ProposedSize", part.size.to_string())
                .with_field("MinSizeAllowed", MIN_PART_SIZE.to_string())
                .with_field("PartNumber", part.part_number.to_string())
                .with_field("ETag", quoted(&part.etag)));
        }
        etag_md5.update(hex::decode(&part.etag).map_err(S3Error::internal)?);
        used.push(part);
    }
    let n = given.len();
    let size: u64 = used.iter().map(|p| p.size).sum();
    if expected.size.is_some_and(|s| s != size) {
        return Err(S3Error::new(S3ErrorCode::InvalidRequest).with_message(format!(
            "The provided 'x-amz-mp-object-size' header value {} does not match what was computed: {size}",
            expected.size.unwrap_or_default()
        )));
    }
    if expected.checksum_type.is_some_and(|t| Some(t) != algorithm.map(|_| kind)) {
        return Err(S3Error::new(S3ErrorCode::BadDigest)
            .with_message("The x-amz-checksum-type does not match the checksum type of the upload."));
    }
    let mut meta = upload.meta.clone();
    meta.checksum = match algorithm {
        Some(a) => Some(Checksum { algorithm: a.name().to_owned(), value: object_checksum(a, kind, &used)? }),
        None => None,
    };
    if let Some((a, value)) = &expected.checksum {
        let computed = meta.checksum.as_ref().filter(|c| c.algorithm == a.name());
        // A composite value may be given with or without its `-<parts>` suffix.
        let matches = computed.is_some_and(|c| c.value == *value || c.value.split('-').next() == Some(value.as_str()));
        if !matches {
            return Err(S3Error::new(S3ErrorCode::BadDigest)
                .with_message(format!("The {} you specified did not match the calculated checksum.", a.name())));
        }
    }
    let row = ObjectRow {
        version_id: crate::meta::NULL_VERSION.to_owned(),
        seq: 0,
        delete_marker: false,
        bucket: upload.bucket.clone(),
        key: upload.key.clone(),
        blob_id: upload.upload_id.clone(),
        size,
        etag: format!("{}-{n}", hex::encode(etag_md5.finalize())),
        last_modified_ms: now_ms(),
        meta,
        owner: upload.owner.clone(),
        acl: upload.acl.clone(),
        parts_count: n as u32,
        inline: false,
    };
    Ok((row, given.iter().map(|g| g.part_number).collect()))
}

pub(crate) async fn complete(
    state: &Arc<AppState>,
    bucket: &BucketRow,
    key: ObjectKey,
    upload_id: String,
    req: Req,
) -> S3Result<Response> {
    let condition = crate::s3::headers::write_condition(&req.headers);
    let expected = Expected::from_headers(&req.headers)?;
    let host = get(&req.headers, "host").unwrap_or("localhost").to_owned();
    let body = super::read_xml(state, req.body, req.payload, &req.headers).await?;
    let request: CompleteRequest = xml::parse(&body)?;
    if request.parts.is_empty() {
        return Err(S3Error::new(S3ErrorCode::MalformedXML).with_message("You must specify at least one part"));
    }
    let upload = state.db.get_upload(&bucket.name, key.as_str(), &upload_id).await.map_err(meta_error)?;
    let outcome = match upload {
        Some(upload) => {
            let given = request.parts;
            state
                .db
                .complete_upload(&bucket.name, key.as_str(), &upload_id, condition, move |stored| {
                    assemble(&upload, &given, &expected, stored)
                })
                .await
                .map_err(meta_error)?
        }
        // Gone: maybe a retry of a completion that already succeeded.
        None => state
            .db
            .complete_upload::<S3Error, _>(&bucket.name, key.as_str(), &upload_id, condition, |_| {
                Err(no_such_upload(""))
            })
            .await
            .map_err(meta_error)?,
    };
    let row = match outcome {
        CompleteOutcome::Completed { row, written } => {
            super::account_write(state, &written);
            // Parts uploaded but not listed went into the deletion queue with the upload.
            state.deleter.notify_one();
            row
        }
        CompleteOutcome::AlreadyCompleted { row } => row,
        CompleteOutcome::NoSuchUpload => return Err(no_such_upload(&upload_id)),
        CompleteOutcome::NoSuchKey => return Err(S3Error::new(S3ErrorCode::NoSuchKey).with_field("Key", key.as_str())),
        CompleteOutcome::PreconditionFailed => {
            return Err(
                S3Error::new(S3ErrorCode::PreconditionFailed).with_field("Condition", "If-Match / If-None-Match")
            )
        }
        CompleteOutcome::Refused(e) => return Err(e),
    };
    let mut w = XmlWriter::new();
    w.root("CompleteMultipartUploadResult");
    let scheme = if state.config.tls.is_some() { "https" } else { "http" };
    let encoded_key = crate::auth::sigv4::uri_encode(key.as_str().as_bytes(), true);
    let location = if host.starts_with(&format!("{}.", bucket.name)) {
        format!("{scheme}://{host}/{encoded_key}")
    } else {
        format!("{scheme}://{host}/{}/{encoded_key}", bucket.name)
    };
    w.elem("Location", &location);
    w.elem("Bucket", &bucket.name);
    w.elem("Key", key.as_str());
    w.elem("ETag", &quoted(&row.etag));
    if let Some(c) = &row.meta.checksum {
        w.elem(&format!("Checksum{}", c.algorithm.to_uppercase()), &c.value);
        w.elem("ChecksumType", ChecksumType::of_value(&c.value).as_str());
    }
    w.close("CompleteMultipartUploadResult");
    let mut resp = response::xml(StatusCode::OK, w.finish());
    super::set_version_header(&mut resp, bucket.versioning != Versioning::Unversioned, &row.version_id);
    Ok(resp)
}

pub(crate) async fn abort(
    state: &Arc<AppState>,
    bucket: &BucketRow,
    key: ObjectKey,
    upload_id: String,
) -> S3Result<Response> {
    if !state.db.abort_upload(&bucket.name, key.as_str(), &upload_id).await.map_err(meta_error)? {
        return Err(no_such_upload(&upload_id));
    }
    state.deleter.notify_one();
    Ok(response::empty(StatusCode::NO_CONTENT))
}

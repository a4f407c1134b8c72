//! PutObject: headers and digests checked up front, the body streamed into a new blob, the row
//! made visible only once the blob is durable and every digest matched.

use std::sync::Arc;

use axum::response::Response;
use base64::Engine;
use http::{HeaderMap, StatusCode};

use super::store::Sink;
use super::{quoted, reject_unsupported, request_acl, Req};
use crate::checksum::ChecksumAlgorithm;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::{now_ms, BucketRow, ObjectRow, PutCondition};
use crate::s3::body::BodyReader;
use crate::s3::headers::{self, get};
use crate::s3::names::ObjectKey;
use crate::s3::response;
use crate::state::AppState;

/// `Content-MD5` decoded; a value that is not 16 bytes of base64 is `InvalidDigest`.
pub fn content_md5(headers: &HeaderMap) -> S3Result<Option<[u8; 16]>> {
    let Some(value) = get(headers, "content-md5") else { return Ok(None) };
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()
        .and_then(|raw| <[u8; 16]>::try_from(raw).ok())
        .map(Some)
        .ok_or_else(|| S3Error::new(S3ErrorCode::InvalidDigest).with_field("Content-MD5", value))
}

/// The checksum a request carries or announces: the algorithm and, when sent as a header, the
/// value. A value in a trailer is read after the body.
pub struct RequestedChecksum {
    pub algorithm: Option<ChecksumAlgorithm>,
    pub header_value: Option<String>,
    pub in_trailer: bool,
}

pub fn requested_checksum(headers: &HeaderMap) -> S3Result<RequestedChecksum> {
    let mut sent: Vec<(ChecksumAlgorithm, &str)> =
        ChecksumAlgorithm::ALL.into_iter().filter_map(|a| get(headers, a.header()).map(|v| (a, v))).collect();
    if sent.len() > 1 {
        return Err(S3Error::new(S3ErrorCode::InvalidRequest)
            .with_message("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."));
    }
    let trailer = get(headers, "x-amz-trailer").map(str::trim);
    let trailer_algorithm = match trailer {
        None => None,
        Some(t) => Some(ChecksumAlgorithm::from_header(t).ok_or_else(|| {
            S3Error::new(S3ErrorCode::InvalidRequest)
                .with_message(format!("The value specified in the x-amz-trailer header is not supported: {t}"))
        })?),
    };
    let sdk_algorithm = match get(headers, "x-amz-sdk-checksum-algorithm").or_else(|| get(headers, "x-amz-checksum-algorithm")) {
        None => None,
        Some(a) => Some(ChecksumAlgorithm::parse(a).ok_or_else(|| S3Error::invalid_argument("x-amz-sdk-checksum-algorithm", a, "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]"))?),
    };
    if let Some((algorithm, value)) = sent.pop() {
        if !algorithm.valid_value(value) {
            return Err(S3Error::new(S3ErrorCode::InvalidRequest)
                .with_message(format!("Value for {} header is invalid.", algorithm.header())));
        }
        if sdk_algorithm.is_some_and(|a| a != algorithm) || trailer_algorithm.is_some() {
            return Err(S3Error::new(S3ErrorCode::InvalidRequest)
                .with_message("The checksum headers of this request disagree."));
        }
        return Ok(RequestedChecksum {
            algorithm: Some(algorithm),
            header_value: Some(value.to_owned()),
            in_trailer: false,
        });
    }
    if let (Some(t), Some(s)) = (trailer_algorithm, sdk_algorithm) {
        if t != s {
            return Err(S3Error::new(S3ErrorCode::InvalidRequest)
                .with_message("The checksum headers of this request disagree."));
        }
    }
    Ok(RequestedChecksum {
        algorithm: trailer_algorithm.or(sdk_algorithm),
        header_value: None,
        in_trailer: trailer_algorithm.is_some(),
    })
}

/// The trailer value for the announced checksum, required once a trailer was announced.
pub fn trailer_value(reader: &BodyReader, algorithm: ChecksumAlgorithm) -> S3Result<String> {
    let value = reader
        .trailers()
        .iter()
        .find(|(name, _)| name == algorithm.header())
        .map(|(_, v)| v.clone())
        .ok_or_else(|| {
            S3Error::new(S3ErrorCode::InvalidRequest)
                .with_message(format!("The {} trailer announced in x-amz-trailer was not sent.", algorithm.header()))
        })?;
    if !algorithm.valid_value(&value) {
        return Err(S3Error::new(S3ErrorCode::InvalidRequest)
            .with_message(format!("Value for {} trailing header is invalid.", algorithm.header())));
    }
    Ok(value)
}

/// `If-Match` / `If-None-Match` on a write: each an ETag list or `*`, checked atomically
/// against the key's current object when the row is committed.
pub fn put_condition(headers: &HeaderMap) -> PutCondition {
    PutCondition {
        if_match: get(headers, "if-match").map(str::to_owned),
        if_none_match: get(headers, "if-none-match").map(str::to_owned),
    }
}

pub async fn put_object(state: &Arc<AppState>, bucket: &BucketRow, key: ObjectKey, req: Req) -> S3Result<Response> {
    let h = &req.headers;
    reject_unsupported(h)?;
    let md5 = content_md5(h)?;
    let checksum = requested_checksum(h)?;
    let condition = put_condition(h);
    let mut meta = headers::object_meta_from(h)?;
    let acl = request_acl(state, h).await?.to_stored();
    let limits = &state.config.limits;

    let mut reader = BodyReader::new(req.body, req.payload, h, limits.max_object_size, limits.body_idle_timeout())?;
    let mut sink = Sink::for_object(state, checksum.algorithm, reader.declared_len()).await?;
    while let Some(data) = reader.next().await? {
        sink.write(data).await?;
    }
    let received = sink.finish().await?;
    received.check_content_md5(md5.as_ref())?;
    let expected = match (checksum.in_trailer, checksum.algorithm) {
        (true, Some(a)) => Some(trailer_value(&reader, a)?),
        _ => checksum.header_value.clone(),
    };
    received.check_checksum(expected.as_deref())?;
    meta.checksum = received.checksum.clone();

    let row = ObjectRow {
        bucket: bucket.name.clone(),
        key: key.as_str().to_owned(),
        blob_id: String::new(),
        size: received.size,
        etag: received.md5_hex(),
        last_modified_ms: now_ms(),
        meta,
        owner: req.principal.owner_id().to_owned(),
        acl,
        parts_count: 0,
        inline: false,
    };
    let row = received.commit(state, row, condition).await?;
    let mut resp = response::empty(StatusCode::OK);
    response::set(&mut resp, "etag", &quoted(&row.etag));
    if let Some(c) = &row.meta.checksum {
        if let Some(a) = ChecksumAlgorithm::parse(&c.algorithm) {
            response::set(&mut resp, a.header(), &c.value);
            response::set(&mut resp, "x-amz-checksum-type", "FULL_OBJECT");
        }
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (n, v) in pairs {
            m.insert(*n, v.parse().unwrap());
        }
        m
    }

    #[test]
    fn content_md5_shapes() {
        assert_eq!(content_md5(&h(&[])).unwrap(), None);
        assert!(content_md5(&h(&[("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")])).unwrap().is_some());
        assert_eq!(content_md5(&h(&[("content-md5", "abc")])).unwrap_err().code, S3ErrorCode::InvalidDigest);
    }

    #[test]
    fn checksum_requests() {
        let r = requested_checksum(&h(&[("x-amz-checksum-crc32", "DUoRhQ==")])).unwrap();
        assert_eq!(
            (r.algorithm, r.header_value.as_deref(), r.in_trailer),
            (Some(ChecksumAlgorithm::Crc32), Some("DUoRhQ=="), false)
        );
        let r = requested_checksum(&h(&[
            ("x-amz-trailer", "x-amz-checksum-crc64nvme"),
            ("x-amz-sdk-checksum-algorithm", "CRC64NVME"),
        ]))
        .unwrap();
        assert_eq!((r.algorithm, r.in_trailer), (Some(ChecksumAlgorithm::Crc64Nvme), true));
        let r = requested_checksum(&h(&[("x-amz-sdk-checksum-algorithm", "SHA256")])).unwrap();
        assert_eq!((r.algorithm, r.in_trailer), (Some(ChecksumAlgorithm::Sha256), false));
        for bad in [
            &[("x-amz-checksum-crc32", "DUoRhQ=="), ("x-amz-checksum-sha1", "x")][..],
            &[("x-amz-checksum-crc32", "nope")],
            &[("x-amz-trailer", "x-amz-checksum-md5")],
            &[("x-amz-checksum-crc32", "DUoRhQ=="), ("x-amz-sdk-checksum-algorithm", "SHA1")],
        ] {
            assert_eq!(requested_checksum(&h(bad)).err().unwrap().code, S3ErrorCode::InvalidRequest, "{bad:?}");
        }
        assert_eq!(
            requested_checksum(&h(&[("x-amz-sdk-checksum-algorithm", "MD5")])).err().unwrap().code,
            S3ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn put_conditions() {
        let c = put_condition(&h(&[("if-none-match", "*"), ("if-match", "\"e\"")]));
        assert_eq!((c.if_match.as_deref(), c.if_none_match.as_deref()), (Some("\"e\""), Some("*")));
        assert_eq!(put_condition(&h(&[])), PutCondition::none());
    }
}

//! Request headers with meaning, parsed once: what a PUT stores (Content-Type, caching headers,
//! `x-amz-meta-*` within the 2 KB limit) and how GET/HEAD return them (`response-*` overrides
//! included); the digests a body must match (`Content-MD5`, `x-amz-checksum-*`); the conditions
//! of a write.

use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::checksum::ChecksumAlgorithm;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::{ObjectMeta, PutCondition};

/// User metadata may total 2 KB (UTF-8 bytes of names and values).
pub const MAX_USER_METADATA: usize = 2048;

pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The stored headers a PUT / CopyObject(REPLACE) / CreateMultipartUpload carries, and the
/// tags of its `x-amz-tagging`.
///
/// User metadata values are kept byte for byte: UTF-8 as text, and values that are not UTF-8
/// (Python's `http.client` sends Latin-1) as one character per byte, named in `meta.latin1` so
/// that GET sends the same bytes back.
pub fn object_meta_from(headers: &HeaderMap) -> S3Result<ObjectMeta> {
    let text = |name: &str| get(headers, name).map(str::to_owned);
    // A repeated header is one entry with its values comma-joined, as HTTP combines them.
    let mut raw: Vec<(&str, Vec<u8>)> = Vec::new();
    for (name, value) in headers {
        let Some(suffix) = name.as_str().strip_prefix("x-amz-meta-") else { continue };
        match raw.iter_mut().find(|(n, _)| *n == suffix) {
            Some((_, existing)) => {
                existing.push(b',');
                existing.extend_from_slice(value.as_bytes());
            }
            None => raw.push((suffix, value.as_bytes().to_vec())),
        }
    }
    let size: usize = raw.iter().map(|(n, v)| n.len() + v.len()).sum();
    if size > MAX_USER_METADATA {
        return Err(S3Error::new(S3ErrorCode::MetadataTooLarge)
            .with_field("Size", size.to_string())
            .with_field("MaxSizeAllowed", MAX_USER_METADATA.to_string()));
    }
    let mut user = Vec::with_capacity(raw.len());
    let mut latin1 = Vec::new();
    for (name, bytes) in raw {
        let value = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                latin1.push(name.to_owned());
                e.into_bytes().into_iter().map(char::from).collect()
            }
        };
        user.push((name.to_owned(), value));
    }
    let content_encoding = get(headers, "content-encoding").and_then(stored_content_encoding);
    Ok(ObjectMeta {
        content_type: text("content-type"),
        content_encoding,
        content_disposition: text("content-disposition"),
        content_language: text("content-language"),
        cache_control: text("cache-control"),
        expires: text("expires"),
        user,
        latin1,
        checksum: None,
        tags: match get(headers, "x-amz-tagging") {
            Some(value) => crate::s3::tagging::from_header(value)?,
            None => Vec::new(),
        },
    })
}

/// `Content-Encoding` as stored: exactly as sent, less the `aws-chunked` token, which is transfer
/// framing (nothing at all when it was the only one, as S3 does since 2024).
fn stored_content_encoding(value: &str) -> Option<String> {
    let kept: Vec<&str> = value.split(',').filter(|e| !e.trim().eq_ignore_ascii_case("aws-chunked")).collect();
    let joined = kept.join(",");
    let trimmed = joined.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// Writes an object's stored headers onto a response, then the `response-*` overrides.
pub fn write_object_headers(
    out: &mut HeaderMap,
    meta: &ObjectMeta,
    overrides: &[(&'static str, String)],
    checksum_mode: bool,
) {
    let mut set = |name: &str, value: &[u8]| {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::from_bytes(value)) {
            out.insert(n, v);
        }
    };
    set("content-type", meta.content_type.as_deref().unwrap_or("binary/octet-stream").as_bytes());
    for (name, value) in [
        ("content-encoding", &meta.content_encoding),
        ("content-disposition", &meta.content_disposition),
        ("content-language", &meta.content_language),
        ("cache-control", &meta.cache_control),
        ("expires", &meta.expires),
    ] {
        if let Some(v) = value {
            set(name, v.as_bytes());
        }
    }
    for (name, value) in &meta.user {
        let bytes: Vec<u8> = if meta.latin1.contains(name) {
            value.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect()
        } else {
            value.as_bytes().to_vec()
        };
        set(&format!("x-amz-meta-{name}"), &bytes);
    }
    if !meta.tags.is_empty() {
        set("x-amz-tagging-count", meta.tags.len().to_string().as_bytes());
    }
    if checksum_mode {
        if let Some(c) = &meta.checksum {
            set(&format!("x-amz-checksum-{}", c.algorithm), c.value.as_bytes());
            set("x-amz-checksum-type", crate::checksum::ChecksumType::of_value(&c.value).as_str().as_bytes());
        }
    }
    for (name, value) in overrides {
        set(name, value.as_bytes());
    }
}

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
#[derive(Debug)]
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
    let sdk_algorithm =
        match get(headers, "x-amz-sdk-checksum-algorithm").or_else(|| get(headers, "x-amz-checksum-algorithm")) {
            None => None,
            Some(a) => Some(ChecksumAlgorithm::parse(a).ok_or_else(|| {
                S3Error::invalid_argument(
                    "x-amz-sdk-checksum-algorithm",
                    a,
                    "Checksum algorithm provided is unsupported. \
                     Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
                )
            })?),
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
pub fn trailer_value(trailers: &[(String, String)], algorithm: ChecksumAlgorithm) -> S3Result<String> {
    let value =
        trailers.iter().find(|(name, _)| name == algorithm.header()).map(|(_, v)| v.clone()).ok_or_else(|| {
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
pub fn write_condition(headers: &HeaderMap) -> PutCondition {
    PutCondition {
        if_match: get(headers, "if-match").map(str::to_owned),
        if_none_match: get(headers, "if-none-match").map(str::to_owned),
    }
}

/// Parses an HTTP date (`If-Modified-Since`, …) into Unix seconds; malformed dates are ignored.
pub fn http_date_secs(value: &str) -> Option<i64> {
    httpdate::parse_http_date(value)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
}

/// Formats Unix milliseconds as an HTTP date (`Last-Modified`).
pub fn http_date(ms: i64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64))
}

/// Formats Unix milliseconds as ISO 8601 with milliseconds (`2009-10-12T17:50:30.000Z`).
pub fn iso8601(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.format(&fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_headers_and_user_metadata() {
        let mut h = HeaderMap::new();
        h.insert("content-type", "text/plain".parse().unwrap());
        h.insert("content-encoding", "aws-chunked,gzip".parse().unwrap());
        h.insert("x-amz-meta-color", "blue".parse().unwrap());
        let m = object_meta_from(&h).unwrap();
        assert_eq!(m.content_type.as_deref(), Some("text/plain"));
        assert_eq!(m.content_encoding.as_deref(), Some("gzip"));
        assert_eq!(m.user, vec![("color".to_string(), "blue".to_string())]);
        let mut out = HeaderMap::new();
        write_object_headers(&mut out, &m, &[("content-type", "x/y".into())], false);
        assert_eq!(out["content-type"], "x/y");
        assert_eq!(out["x-amz-meta-color"], "blue");
    }

    #[test]
    fn content_encoding_is_stored_as_sent_without_aws_chunked() {
        for (sent, stored) in [
            ("deflate, gzip", Some("deflate, gzip")),
            ("aws-chunked", None),
            ("aws-chunked,gzip", Some("gzip")),
            ("aws-chunked, deflate, gzip", Some("deflate, gzip")),
            ("gzip, AWS-CHUNKED", Some("gzip")),
        ] {
            assert_eq!(stored_content_encoding(sent).as_deref(), stored, "{sent}");
        }
    }

    #[test]
    fn non_ascii_metadata_round_trips_byte_for_byte() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-meta-utf8", HeaderValue::from_bytes("café €".as_bytes()).unwrap());
        h.insert("x-amz-meta-latin1", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        let m = object_meta_from(&h).unwrap();
        assert_eq!(m.latin1, vec!["latin1".to_string()]);
        let mut out = HeaderMap::new();
        write_object_headers(&mut out, &m, &[], false);
        assert_eq!(out["x-amz-meta-utf8"].as_bytes(), "café €".as_bytes());
        assert_eq!(out["x-amz-meta-latin1"].as_bytes(), b"caf\xe9");
    }

    #[test]
    fn user_metadata_over_2kb_is_rejected() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-meta-big", "v".repeat(2046).parse().unwrap());
        assert_eq!(object_meta_from(&h).unwrap_err().code, S3ErrorCode::MetadataTooLarge);
        let mut h = HeaderMap::new();
        h.insert("x-amz-meta-ok", "v".repeat(2046).parse().unwrap());
        assert!(object_meta_from(&h).is_ok());
    }

    #[test]
    fn date_formats() {
        assert_eq!(iso8601(1_255_369_830_123), "2009-10-12T17:50:30.123Z");
        assert_eq!(http_date(1_255_369_830_999), "Mon, 12 Oct 2009 17:50:30 GMT");
        assert_eq!(http_date_secs("Mon, 12 Oct 2009 17:50:30 GMT"), Some(1_255_369_830));
        assert_eq!(http_date_secs("yesterday"), None);
    }

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
    fn write_conditions() {
        let c = write_condition(&h(&[("if-none-match", "*"), ("if-match", "\"e\"")]));
        assert_eq!((c.if_match.as_deref(), c.if_none_match.as_deref()), (Some("\"e\""), Some("*")));
        assert_eq!(write_condition(&h(&[])), PutCondition::none());
    }
}

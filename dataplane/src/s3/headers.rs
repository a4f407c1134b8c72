//! Object headers in and out: what a PUT stores (Content-Type, caching headers, `x-amz-meta-*`
//! within the 2 KB limit) and how GET/HEAD return them, `response-*` overrides included.

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::ObjectMeta;

/// User metadata may total 2 KB (UTF-8 bytes of names and values).
pub const MAX_USER_METADATA: usize = 2048;

pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The stored headers a PUT / CopyObject(REPLACE) / CreateMultipartUpload carries.
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
}

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
pub fn object_meta_from(headers: &HeaderMap) -> S3Result<ObjectMeta> {
    let text = |name: &str| get(headers, name).map(str::to_owned);
    let mut user = Vec::new();
    let mut size = 0;
    for (name, value) in headers {
        let Some(suffix) = name.as_str().strip_prefix("x-amz-meta-") else { continue };
        let value = String::from_utf8(value.as_bytes().to_vec())
            .map_err(|_| S3Error::invalid_argument(name.as_str(), "", "User metadata values must be UTF-8."))?;
        size += value.len();
        // A repeated header is one entry with its values comma-joined, as HTTP combines them.
        match user.iter_mut().find(|(n, _): &&mut (String, String)| n == suffix) {
            Some((_, existing)) => {
                existing.push(',');
                existing.push_str(&value);
                size += 1;
            }
            None => {
                size += suffix.len();
                user.push((suffix.to_owned(), value));
            }
        }
    }
    if size > MAX_USER_METADATA {
        return Err(S3Error::new(S3ErrorCode::MetadataTooLarge)
            .with_field("Size", size.to_string())
            .with_field("MaxSizeAllowed", MAX_USER_METADATA.to_string()));
    }
    // aws-chunked is transfer framing, never part of the stored encoding.
    let content_encoding = get(headers, "content-encoding").and_then(|v| {
        let kept: Vec<&str> =
            v.split(',').map(str::trim).filter(|e| !e.eq_ignore_ascii_case("aws-chunked") && !e.is_empty()).collect();
        (!kept.is_empty()).then(|| kept.join(","))
    });
    Ok(ObjectMeta {
        content_type: text("content-type"),
        content_encoding,
        content_disposition: text("content-disposition"),
        content_language: text("content-language"),
        cache_control: text("cache-control"),
        expires: text("expires"),
        user,
        checksum: None,
    })
}

/// Writes an object's stored headers onto a response, then the `response-*` overrides.
pub fn write_object_headers(
    out: &mut HeaderMap,
    meta: &ObjectMeta,
    overrides: &[(&'static str, String)],
    checksum_mode: bool,
) {
    let mut set = |name: &str, value: &str| {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            out.insert(n, v);
        }
    };
    set("content-type", meta.content_type.as_deref().unwrap_or("binary/octet-stream"));
    for (name, value) in [
        ("content-encoding", &meta.content_encoding),
        ("content-disposition", &meta.content_disposition),
        ("content-language", &meta.content_language),
        ("cache-control", &meta.cache_control),
        ("expires", &meta.expires),
    ] {
        if let Some(v) = value {
            set(name, v);
        }
    }
    for (name, value) in &meta.user {
        set(&format!("x-amz-meta-{name}"), value);
    }
    if checksum_mode {
        if let Some(c) = &meta.checksum {
            set(&format!("x-amz-checksum-{}", c.algorithm), &c.value);
            set("x-amz-checksum-type", "FULL_OBJECT");
        }
    }
    for (name, value) in overrides {
        set(name, value);
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

//! ListObjects (v1) and ListObjectsV2: markers, continuation tokens, delimiter roll-up and URL
//! encoding, with IsTruncated / NextMarker / NextContinuationToken as S3 returns them.

use std::sync::Arc;

use axum::response::Response;
use base64::Engine;
use http::StatusCode;

use super::{meta_error, quoted};
use crate::auth::sigv4::uri_encode;
use crate::error::{S3Error, S3Result};
use crate::meta::{BucketRow, ListItem, ListQuery, ListStart};
use crate::s3::endpoint::{ListObjectsParams, ListVersion};
use crate::s3::headers::iso8601;
use crate::s3::response;
use crate::s3::xml::XmlWriter;
use crate::state::AppState;

/// Continuation tokens: base64url of a tag byte (0 = after, 1 = from) and the key bytes.
fn encode_token(start: &ListStart) -> String {
    let mut raw = Vec::new();
    match start {
        ListStart::Beginning => {}
        ListStart::After(k) => {
            raw.push(0);
            raw.extend_from_slice(k);
        }
        ListStart::From(k) => {
            raw.push(1);
            raw.extend_from_slice(k);
        }
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_token(token: &str) -> S3Result<ListStart> {
    let bad = || S3Error::invalid_argument("continuation-token", token, "The continuation token provided is incorrect");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    match raw.split_first() {
        None => Ok(ListStart::Beginning),
        Some((0, k)) => Ok(ListStart::After(k.to_vec())),
        Some((1, k)) => Ok(ListStart::From(k.to_vec())),
        Some(_) => Err(bad()),
    }
}

pub(crate) async fn list_objects(
    state: &Arc<AppState>,
    bucket: &BucketRow,
    p: ListObjectsParams,
) -> S3Result<Response> {
    let delimiter = p.delimiter.as_deref();
    let start = match (p.version, &p.continuation_token, &p.start_after, &p.marker) {
        (ListVersion::V2, Some(token), _, _) => decode_token(token)?,
        (ListVersion::V2, None, Some(after), _) => ListQuery::start_after(after, &p.prefix, delimiter),
        (ListVersion::V1, _, _, Some(marker)) => ListQuery::start_after(marker, &p.prefix, delimiter),
        _ => ListStart::Beginning,
    };
    let query = ListQuery { prefix: p.prefix.clone(), delimiter: p.delimiter.clone(), start, max: p.max_keys };
    let page = state.db.list_objects(&bucket.name, query).await.map_err(meta_error)?;

    let enc = |s: &str| if p.url_encode { uri_encode(s.as_bytes(), true) } else { s.to_owned() };
    let mut w = XmlWriter::new();
    w.root("ListBucketResult");
    w.elem("Name", &bucket.name);
    w.elem("Prefix", &enc(&p.prefix));
    match p.version {
        ListVersion::V1 => w.elem("Marker", &enc(p.marker.as_deref().unwrap_or(""))),
        ListVersion::V2 => {
            if let Some(after) = &p.start_after {
                w.elem("StartAfter", &enc(after));
            }
            if let Some(token) = &p.continuation_token {
                w.elem("ContinuationToken", token);
            }
            w.elem("KeyCount", &page.items.len().to_string());
        }
    }
    w.elem("MaxKeys", &p.max_keys.to_string());
    if let Some(d) = delimiter {
        w.elem("Delimiter", &enc(d));
    }
    if p.url_encode {
        w.elem("EncodingType", "url");
    }
    w.elem("IsTruncated", if page.truncated { "true" } else { "false" });
    if page.truncated {
        match p.version {
            // S3 returns NextMarker only when a delimiter was given; clients use the last key otherwise.
            ListVersion::V1 if delimiter.is_some() => {
                if let Some(last) = page.items.last() {
                    w.elem("NextMarker", &enc(last.name()));
                }
            }
            ListVersion::V1 => {}
            ListVersion::V2 => w.elem("NextContinuationToken", &encode_token(&page.next)),
        }
    }
    let with_owner = p.version == ListVersion::V1 || p.fetch_owner;
    for item in &page.items {
        if let ListItem::Object { key, size, etag, last_modified_ms, owner } = item {
            w.open("Contents");
            w.elem("Key", &enc(key));
            w.elem("LastModified", &iso8601(*last_modified_ms));
            w.elem("ETag", &quoted(etag));
            w.elem("Size", &size.to_string());
            if with_owner {
                w.open("Owner");
                w.elem("ID", owner);
                w.elem("DisplayName", owner);
                w.close("Owner");
            }
            w.elem("StorageClass", "STANDARD");
            w.close("Contents");
        }
    }
    for item in &page.items {
        if let ListItem::Prefix(prefix) = item {
            w.open("CommonPrefixes");
            w.elem("Prefix", &enc(prefix));
            w.close("CommonPrefixes");
        }
    }
    w.close("ListBucketResult");
    Ok(response::xml(StatusCode::OK, w.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        for start in [ListStart::After(b"a/b".to_vec()), ListStart::From(b"a0".to_vec()), ListStart::Beginning] {
            assert_eq!(decode_token(&encode_token(&start)).unwrap(), start);
        }
        assert!(decode_token("!!!").is_err());
        assert!(decode_token(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8, b'x'])).is_err());
    }
}

//! ListObjectVersions: every version and delete marker, key order and newest first within a
//! key, with `IsLatest`, paged by `key-marker` / `version-id-marker`, rolled up by delimiter.
//! An unversioned bucket lists each object once, as its `null` version.

use std::sync::Arc;

use axum::response::Response;
use http::StatusCode;

use super::{meta_error, quoted};
use crate::auth::sigv4::uri_encode;
use crate::error::S3Result;
use crate::meta::{BucketRow, VersionItem, VersionsQuery};
use crate::s3::endpoint::ListVersionsParams;
use crate::s3::headers::iso8601;
use crate::s3::response;
use crate::s3::xml::XmlWriter;
use crate::state::AppState;

pub(crate) async fn list_object_versions(
    state: &Arc<AppState>,
    bucket: &BucketRow,
    p: ListVersionsParams,
) -> S3Result<Response> {
    let query = VersionsQuery {
        prefix: p.prefix.clone(),
        delimiter: p.delimiter.clone(),
        key_marker: p.key_marker.clone(),
        version_id_marker: p.version_id_marker.clone(),
        max: p.max_keys,
    };
    let page = state.db.list_object_versions(&bucket.name, query).await.map_err(meta_error)?;
    let enc = |s: &str| if p.url_encode { uri_encode(s.as_bytes(), true) } else { s.to_owned() };
    let mut w = XmlWriter::new();
    w.root("ListVersionsResult");
    w.elem("Name", &bucket.name);
    w.elem("Prefix", &enc(&p.prefix));
    w.elem("KeyMarker", &enc(p.key_marker.as_deref().unwrap_or("")));
    w.elem("VersionIdMarker", p.version_id_marker.as_deref().unwrap_or(""));
    if let Some(next) = &page.next_key_marker {
        w.elem("NextKeyMarker", &enc(next));
    }
    if let Some(next) = &page.next_version_id_marker {
        w.elem("NextVersionIdMarker", next);
    }
    w.elem("MaxKeys", &p.max_keys.to_string());
    if let Some(d) = &p.delimiter {
        w.elem("Delimiter", &enc(d));
    }
    if p.url_encode {
        w.elem("EncodingType", "url");
    }
    w.elem("IsTruncated", if page.truncated { "true" } else { "false" });
    for item in &page.items {
        let VersionItem::Version(v) = item else { continue };
        let element = if v.delete_marker { "DeleteMarker" } else { "Version" };
        w.open(element);
        w.elem("Key", &enc(&v.key));
        w.elem("VersionId", &v.version_id);
        w.elem("IsLatest", if v.is_latest { "true" } else { "false" });
        w.elem("LastModified", &iso8601(v.last_modified_ms));
        if !v.delete_marker {
            w.elem("ETag", &quoted(&v.etag));
            w.elem("Size", &v.size.to_string());
        }
        w.open("Owner");
        w.elem("ID", &v.owner);
        w.elem("DisplayName", &v.owner);
        w.close("Owner");
        if !v.delete_marker {
            w.elem("StorageClass", "STANDARD");
        }
        w.close(element);
    }
    for item in &page.items {
        if let VersionItem::Prefix(prefix) = item {
            w.open("CommonPrefixes");
            w.elem("Prefix", &enc(prefix));
            w.close("CommonPrefixes");
        }
    }
    w.close("ListVersionsResult");
    Ok(response::xml(StatusCode::OK, w.finish()))
}

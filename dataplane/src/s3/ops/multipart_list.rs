//! ListMultipartUploads and ListParts, with their pagination markers.

use std::sync::Arc;

use axum::response::Response;
use http::StatusCode;

use super::{meta_error, quoted};
use crate::auth::sigv4::uri_encode;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::BucketRow;
use crate::s3::endpoint::{ListPartsParams, ListUploadsParams};
use crate::s3::headers::iso8601;
use crate::s3::names::ObjectKey;
use crate::s3::response;
use crate::s3::xml::XmlWriter;
use crate::state::AppState;

fn owner(w: &mut XmlWriter, tag: &str, id: &str) {
    w.open(tag);
    w.elem("ID", id);
    w.elem("DisplayName", id);
    w.close(tag);
}

pub(crate) async fn list_uploads(
    state: &Arc<AppState>,
    bucket: &BucketRow,
    p: ListUploadsParams,
) -> S3Result<Response> {
    let page = state
        .db
        .list_uploads(
            &bucket.name,
            p.prefix.clone(),
            p.delimiter.clone(),
            p.key_marker.clone(),
            p.upload_id_marker.clone(),
            p.max_uploads,
        )
        .await
        .map_err(meta_error)?;
    let enc = |s: &str| if p.url_encode { uri_encode(s.as_bytes(), true) } else { s.to_owned() };
    let mut w = XmlWriter::new();
    w.root("ListMultipartUploadsResult");
    w.elem("Bucket", &bucket.name);
    w.elem("KeyMarker", &enc(p.key_marker.as_deref().unwrap_or("")));
    w.elem("UploadIdMarker", p.upload_id_marker.as_deref().unwrap_or(""));
    // The next markers are the last upload listed (a common prefix ends the page at its key).
    let last_upload = page.uploads.last();
    let last_prefix = page.prefixes.last();
    let (next_key, next_id) = match (last_upload, last_prefix) {
        (Some(u), Some(cp)) if cp.as_str() > u.key.as_str() => (cp.clone(), String::new()),
        (Some(u), _) => (u.key.clone(), u.upload_id.clone()),
        (None, Some(cp)) => (cp.clone(), String::new()),
        (None, None) => (String::new(), String::new()),
    };
    w.elem("NextKeyMarker", &enc(&next_key));
    w.elem("NextUploadIdMarker", &next_id);
    if let Some(d) = &p.delimiter {
        w.elem("Delimiter", &enc(d));
    }
    w.elem("Prefix", &enc(&p.prefix));
    w.elem("MaxUploads", &p.max_uploads.to_string());
    if p.url_encode {
        w.elem("EncodingType", "url");
    }
    w.elem("IsTruncated", if page.truncated { "true" } else { "false" });
    for u in &page.uploads {
        w.open("Upload");
        w.elem("Key", &enc(&u.key));
        w.elem("UploadId", &u.upload_id);
        owner(&mut w, "Initiator", &u.owner);
        owner(&mut w, "Owner", &u.owner);
        w.elem("StorageClass", "STANDARD");
        w.elem("Initiated", &iso8601(u.initiated_ms));
        if let Some(a) = &u.checksum_algorithm {
            w.elem("ChecksumAlgorithm", &a.to_uppercase());
            w.elem("ChecksumType", u.checksum_type.as_deref().unwrap_or("COMPOSITE"));
        }
        w.close("Upload");
    }
    for cp in &page.prefixes {
        w.open("CommonPrefixes");
        w.elem("Prefix", &enc(cp));
        w.close("CommonPrefixes");
    }
    w.close("ListMultipartUploadsResult");
    Ok(response::xml(StatusCode::OK, w.finish()))
}

pub(crate) async fn list_parts(
    state: &Arc<AppState>,
    bucket: &BucketRow,
    key: ObjectKey,
    p: ListPartsParams,
) -> S3Result<Response> {
    let upload = state
        .db
        .get_upload(&bucket.name, key.as_str(), &p.upload_id)
        .await
        .map_err(meta_error)?
        .ok_or_else(|| S3Error::new(S3ErrorCode::NoSuchUpload).with_field("UploadId", &p.upload_id))?;
    let mut parts =
        state.db.list_parts(&p.upload_id, p.part_number_marker, p.max_parts + 1).await.map_err(meta_error)?;
    let truncated = parts.len() > p.max_parts;
    parts.truncate(p.max_parts);
    let mut w = XmlWriter::new();
    w.root("ListPartsResult");
    w.elem("Bucket", &bucket.name);
    w.elem("Key", key.as_str());
    w.elem("UploadId", &p.upload_id);
    owner(&mut w, "Initiator", &upload.owner);
    owner(&mut w, "Owner", &upload.owner);
    w.elem("StorageClass", "STANDARD");
    w.elem("PartNumberMarker", &p.part_number_marker.to_string());
    if let Some(last) = parts.last() {
        w.elem("NextPartNumberMarker", &last.part_number.to_string());
    }
    w.elem("MaxParts", &p.max_parts.to_string());
    w.elem("IsTruncated", if truncated { "true" } else { "false" });
    let algorithm = upload.checksum_algorithm.as_deref().map(str::to_uppercase);
    if let Some(a) = &algorithm {
        w.elem("ChecksumAlgorithm", a);
        w.elem("ChecksumType", upload.checksum_type.as_deref().unwrap_or("COMPOSITE"));
    }
    for part in &parts {
        w.open("Part");
        w.elem("PartNumber", &part.part_number.to_string());
        w.elem("LastModified", &iso8601(part.last_modified_ms));
        w.elem("ETag", &quoted(&part.etag));
        w.elem("Size", &part.size.to_string());
        if let (Some(a), Some(c)) = (&algorithm, &part.checksum) {
            w.elem(&format!("Checksum{a}"), c);
        }
        w.close("Part");
    }
    w.close("ListPartsResult");
    Ok(response::xml(StatusCode::OK, w.finish()))
}

//! GetObjectAttributes: the attributes `x-amz-object-attributes` names (ETag, Checksum,
//! ObjectParts, StorageClass, ObjectSize), with the parts of a multipart object paged by
//! `x-amz-max-parts` / `x-amz-part-number-marker`.

use std::sync::Arc;

use axum::response::Response;
use http::{HeaderMap, StatusCode};

use super::read::unreadable;
use super::{meta_error, Req};
use crate::checksum::ChecksumType;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::{BucketRow, Versioning};
use crate::s3::acl::Permission;
use crate::s3::authorize::{object_allows, Decision};
use crate::s3::headers::{get, http_date};
use crate::s3::names::ObjectKey;
use crate::s3::response;
use crate::s3::xml::XmlWriter;
use crate::state::AppState;

/// The attributes a request asks for, in the order S3 writes them.
#[derive(Debug, Default, PartialEq, Eq)]
struct Wanted {
    etag: bool,
    checksum: bool,
    parts: bool,
    storage_class: bool,
    size: bool,
}

/// Every `x-amz-object-attributes` line, each a comma-separated list (SDKs send either form).
fn wanted(headers: &HeaderMap) -> S3Result<Wanted> {
    let mut w = Wanted::default();
    let mut any = false;
    for value in headers.get_all("x-amz-object-attributes") {
        let text = value.to_str().unwrap_or("\u{0}");
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            any = true;
            match name {
                "ETag" => w.etag = true,
                "Checksum" => w.checksum = true,
                "ObjectParts" => w.parts = true,
                "StorageClass" => w.storage_class = true,
                "ObjectSize" => w.size = true,
                other => {
                    return Err(S3Error::invalid_argument(
                        "x-amz-object-attributes",
                        other,
                        "Invalid attribute name specified.",
                    ))
                }
            }
        }
    }
    if !any {
        return Err(S3Error::new(S3ErrorCode::InvalidRequest).with_message(
            "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty",
        ));
    }
    Ok(w)
}

/// `x-amz-max-parts` (1..=1000, default 1000) and `x-amz-part-number-marker`; values that are
/// not numbers are ignored, as S3 does.
fn paging(headers: &HeaderMap) -> (usize, u32) {
    let max =
        get(headers, "x-amz-max-parts").and_then(|v| v.trim().parse::<usize>().ok()).map_or(1000, |m| m.clamp(1, 1000));
    let marker = get(headers, "x-amz-part-number-marker").and_then(|v| v.trim().parse::<u32>().ok()).unwrap_or(0);
    (max, marker)
}

pub(crate) async fn get_object_attributes(
    state: &Arc<AppState>,
    bucket: &BucketRow,
    key: ObjectKey,
    version: Option<String>,
    decision: Decision,
    req: Req,
) -> S3Result<Response> {
    let wanted = wanted(&req.headers)?;
    let (max_parts, marker) = paging(&req.headers);
    let version = version.as_deref();
    let found =
        state.db.get_object_parts(&bucket.name, key.as_str(), version, marker, max_parts).await.map_err(meta_error)?;
    let hidden = decision == Decision::IfObjectGrants { listable: false };
    let (row, parts, truncated) = match found {
        Some((row, ..)) if row.delete_marker => {
            return Err(if hidden {
                S3ErrorCode::AccessDenied.into()
            } else {
                unreadable(key.as_str(), version, Some(&row))
            })
        }
        Some(found) => found,
        None if hidden => return Err(S3ErrorCode::AccessDenied.into()),
        None => return Err(unreadable(key.as_str(), version, None)),
    };
    if matches!(decision, Decision::IfObjectGrants { .. })
        && !object_allows(&row.acl, &row.owner, &req.principal, Permission::Read)
    {
        return Err(S3ErrorCode::AccessDenied.into());
    }
    let checksum = row.meta.checksum.as_ref();
    let mut w = XmlWriter::new();
    w.root("GetObjectAttributesResponse");
    if wanted.etag {
        w.elem("ETag", &row.etag);
    }
    if let (true, Some(c)) = (wanted.checksum, checksum) {
        let kind = ChecksumType::of_value(&c.value);
        w.open("Checksum");
        // The value alone: a composite checksum's `-<parts>` suffix is not part of it here.
        w.elem(&format!("Checksum{}", c.algorithm.to_uppercase()), c.value.split('-').next().unwrap_or(""));
        w.elem("ChecksumType", kind.as_str());
        w.close("Checksum");
    }
    if wanted.parts && row.parts_count > 0 {
        w.open("ObjectParts");
        w.elem("PartsCount", &row.parts_count.to_string());
        // Parts are listed when they carry checksums the object's checksum is made of.
        let composite = checksum.is_some_and(|c| ChecksumType::of_value(&c.value) == ChecksumType::Composite);
        if composite {
            w.elem("PartNumberMarker", &marker.to_string());
            if let Some(last) = parts.last() {
                w.elem("NextPartNumberMarker", &last.part_number.to_string());
            }
            w.elem("MaxParts", &max_parts.to_string());
            w.elem("IsTruncated", if truncated { "true" } else { "false" });
            let name = checksum.map(|c| format!("Checksum{}", c.algorithm.to_uppercase())).unwrap_or_default();
            for p in &parts {
                w.open("Part");
                w.elem("PartNumber", &p.part_number.to_string());
                w.elem("Size", &p.size.to_string());
                if let Some(v) = &p.checksum {
                    w.elem(&name, v);
                }
                w.close("Part");
            }
        }
        w.close("ObjectParts");
    }
    if wanted.storage_class {
        w.elem("StorageClass", "STANDARD");
    }
    if wanted.size {
        w.elem("ObjectSize", &row.size.to_string());
    }
    w.close("GetObjectAttributesResponse");
    let mut resp = response::xml(StatusCode::OK, w.finish());
    response::set(&mut resp, "last-modified", &http_date(row.last_modified_ms));
    super::set_version_header(&mut resp, bucket.versioning != Versioning::Unversioned, &row.version_id);
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(values: &[&'static str]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for v in values {
            m.append("x-amz-object-attributes", v.parse().unwrap());
        }
        m
    }

    #[test]
    fn attribute_lists() {
        let w = wanted(&h(&["ETag,ObjectSize", "Checksum"])).unwrap();
        assert_eq!(w, Wanted { etag: true, checksum: true, size: true, ..Wanted::default() });
        assert_eq!(wanted(&h(&[])).unwrap_err().code, S3ErrorCode::InvalidRequest);
        assert_eq!(wanted(&h(&[" , "])).unwrap_err().code, S3ErrorCode::InvalidRequest);
        assert_eq!(wanted(&h(&["ETags"])).unwrap_err().code, S3ErrorCode::InvalidArgument);
    }

    #[test]
    fn part_paging() {
        let mut m = HeaderMap::new();
        assert_eq!(paging(&m), (1000, 0));
        m.insert("x-amz-max-parts", "2".parse().unwrap());
        m.insert("x-amz-part-number-marker", "3".parse().unwrap());
        assert_eq!(paging(&m), (2, 3));
        m.insert("x-amz-max-parts", "lots".parse().unwrap());
        assert_eq!(paging(&m).0, 1000);
    }
}

//! DeleteObject (204 whether or not the key existed) and DeleteObjects (≤ 1000 keys, an
//! integrity header required, quiet mode).

use std::sync::Arc;

use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;

use super::put::{content_md5, requested_checksum, trailer_value};
use super::{meta_error, Req};
use crate::checksum::ChecksumHasher;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::BucketRow;
use crate::s3::body::BodyReader;
use crate::s3::names::{ObjectKey, MAX_KEY_BYTES};
use crate::s3::response;
use crate::s3::xml::{self, XmlWriter};
use crate::state::AppState;

const MAX_DELETE_KEYS: usize = 1000;

pub async fn delete_object(state: &Arc<AppState>, bucket: &BucketRow, key: ObjectKey) -> S3Result<Response> {
    if state.db.delete_object(&bucket.name, key.as_str()).await.map_err(meta_error)?.is_some() {
        state.metrics.objects.dec();
        state.deleter.notify_one();
    }
    Ok(response::empty(StatusCode::NO_CONTENT))
}

#[derive(Deserialize)]
pub(crate) struct Delete {
    #[serde(rename = "Quiet", default)]
    quiet: bool,
    #[serde(rename = "Object", default)]
    objects: Vec<DeleteEntry>,
}

#[derive(Deserialize)]
struct DeleteEntry {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "VersionId", default)]
    version_id: Option<String>,
}

pub async fn delete_objects(state: &Arc<AppState>, bucket: &BucketRow, req: Req) -> S3Result<Response> {
    let md5 = content_md5(&req.headers)?;
    let checksum = requested_checksum(&req.headers)?;
    if md5.is_none() && checksum.header_value.is_none() && !checksum.in_trailer {
        return Err(S3Error::new(S3ErrorCode::InvalidRequest)
            .with_message("Missing required header for this request: Content-MD5 or x-amz-checksum-*"));
    }
    let limits = &state.config.limits;
    let mut reader =
        BodyReader::new(req.body, req.payload, &req.headers, limits.max_xml_body as u64, limits.body_idle_timeout())?;
    let mut body = Vec::new();
    while let Some(data) = reader.next().await? {
        body.extend_from_slice(&data);
    }
    if let Some(expected) = md5 {
        if <[u8; 16]>::from(md5::Md5::digest(&body)) != expected {
            return Err(S3ErrorCode::BadDigest.into());
        }
    }
    if let (Some(algorithm), true) = (checksum.algorithm, checksum.in_trailer || checksum.header_value.is_some()) {
        let expected = if checksum.in_trailer {
            trailer_value(&reader, algorithm)?
        } else {
            checksum.header_value.clone().unwrap_or_default()
        };
        let mut h = ChecksumHasher::new(algorithm);
        h.update(&body);
        if h.finish() != expected {
            return Err(S3Error::new(S3ErrorCode::BadDigest).with_message(format!(
                "The {} you specified did not match the calculated checksum.",
                algorithm.name().to_uppercase()
            )));
        }
    }
    let request: Delete = xml::parse(&body)?;
    if request.objects.is_empty() || request.objects.len() > MAX_DELETE_KEYS {
        return Err(S3Error::new(S3ErrorCode::MalformedXML)
            .with_message(format!("A Delete request must name between 1 and {MAX_DELETE_KEYS} objects.")));
    }

    let mut w = XmlWriter::new();
    w.root("DeleteResult");
    let mut to_delete = Vec::new();
    let mut errors = Vec::new();
    for entry in request.objects {
        let problem = if entry.key.is_empty() {
            Some((S3ErrorCode::InvalidArgument, "Object keys must not be empty."))
        } else if entry.key.len() > MAX_KEY_BYTES {
            Some((S3ErrorCode::KeyTooLongError, "Your key is too long"))
        } else if entry.version_id.as_deref().is_some_and(|v| v != "null") {
            Some((S3ErrorCode::InvalidArgument, "Invalid version id specified"))
        } else {
            None
        };
        match problem {
            Some((code, msg)) => errors.push((entry.key, code, msg)),
            None => to_delete.push(entry.key),
        }
    }
    let removed = state.db.delete_objects(&bucket.name, to_delete.clone()).await.map_err(meta_error)?;
    state.metrics.objects.sub(removed as i64);
    state.deleter.notify_one();
    if !request.quiet {
        for key in &to_delete {
            w.open("Deleted");
            w.elem("Key", key);
            w.close("Deleted");
        }
    }
    for (key, code, message) in errors {
        w.open("Error");
        w.elem("Key", &key);
        w.elem("Code", code.as_str());
        w.elem("Message", message);
        w.close("Error");
    }
    w.close("DeleteResult");
    Ok(response::xml(StatusCode::OK, w.finish()))
}

use md5::Digest as _;

//! GetBucketVersioning and PutBucketVersioning: a bucket is unversioned until versioning is
//! enabled, then `Enabled` or `Suspended`, never unversioned again. MFA delete is not
//! implemented: a configuration asking for it is refused as such.

use std::sync::Arc;

use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;

use super::{meta_error, read_xml, Req};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::{BucketRow, SetVersioningOutcome, Versioning};
use crate::s3::response;
use crate::s3::xml::{self, XmlWriter};
use crate::state::AppState;

/// `<VersioningConfiguration>`; an unversioned bucket's is empty.
pub(crate) fn get_bucket_versioning(bucket: &BucketRow) -> Response {
    let mut w = XmlWriter::new();
    w.root("VersioningConfiguration");
    if let Some(status) = bucket.versioning.status() {
        w.elem("Status", status);
    }
    w.close("VersioningConfiguration");
    response::xml(StatusCode::OK, w.finish())
}

#[derive(Deserialize)]
pub(crate) struct VersioningConfiguration {
    #[serde(rename = "Status", default)]
    status: Option<String>,
    #[serde(rename = "MfaDelete", default)]
    mfa_delete: Option<String>,
}

impl VersioningConfiguration {
    /// The state asked for; `None` when the document names none (nothing changes).
    pub(crate) fn parse(body: &[u8]) -> S3Result<Option<Versioning>> {
        let doc: Self = xml::parse(body)?;
        match doc.mfa_delete.as_deref().map(str::trim) {
            None | Some("Disabled") => {}
            Some("Enabled") => {
                return Err(S3Error::new(S3ErrorCode::NotImplemented)
                    .with_message("MFA delete is not implemented by this server."))
            }
            Some(other) => {
                return Err(S3Error::new(S3ErrorCode::MalformedXML)
                    .with_message(format!("MfaDelete must be Enabled or Disabled, not {other}.")))
            }
        }
        match doc.status.as_deref().map(str::trim) {
            None => Ok(None),
            Some("Enabled") => Ok(Some(Versioning::Enabled)),
            Some("Suspended") => Ok(Some(Versioning::Suspended)),
            Some(other) => Err(S3Error::new(S3ErrorCode::MalformedXML)
                .with_message(format!("Status must be Enabled or Suspended, not {other}."))),
        }
    }
}

pub(crate) async fn put_bucket_versioning(state: &Arc<AppState>, bucket: &BucketRow, req: Req) -> S3Result<Response> {
    let body = read_xml(state, req.body, req.payload, &req.headers).await?;
    let Some(versioning) = VersioningConfiguration::parse(&body)? else {
        return Ok(response::empty(StatusCode::OK));
    };
    match state.db.set_versioning(&bucket.name, versioning).await.map_err(meta_error)? {
        SetVersioningOutcome::Set => Ok(response::empty(StatusCode::OK)),
        SetVersioningOutcome::NoSuchBucket => {
            Err(S3Error::new(S3ErrorCode::NoSuchBucket).with_field("BucketName", bucket.name.as_str()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations() {
        let parse = |s: &str| VersioningConfiguration::parse(s.as_bytes());
        assert_eq!(
            parse("<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>").unwrap(),
            Some(Versioning::Enabled)
        );
        assert_eq!(
            parse("<VersioningConfiguration><Status>Suspended</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>").unwrap(),
            Some(Versioning::Suspended)
        );
        assert_eq!(parse("<VersioningConfiguration/>").unwrap(), None);
        assert_eq!(
            parse("<VersioningConfiguration><Status>On</Status></VersioningConfiguration>").unwrap_err().code,
            S3ErrorCode::MalformedXML
        );
        assert_eq!(
            parse("<VersioningConfiguration><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>")
                .unwrap_err()
                .code,
            S3ErrorCode::NotImplemented
        );
        assert_eq!(parse("<VersioningConfiguration>").unwrap_err().code, S3ErrorCode::MalformedXML);
    }
}

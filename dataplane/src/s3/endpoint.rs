//! One typed value per S3 operation, parsed once from method + path + query + the one header that
//! selects an operation (`x-amz-copy-source`). Handlers never look at the raw query.

use http::Method;

use crate::error::{S3Error, S3ErrorCode};
use crate::s3::authorize::Access;
use crate::s3::names::{BucketName, ObjectKey};
use crate::s3::path::S3Path;
use crate::s3::query::Query;

/// An S3 request: an operation on the service, or an operation on one bucket (whose row is
/// loaded, and the caller's access to it decided, once, before the operation runs).
#[derive(Debug)]
pub enum Endpoint {
    ListBuckets(ListBucketsParams),
    CreateBucket { bucket: BucketName },
    Bucket { bucket: BucketName, op: BucketOp },
}

/// An operation on an existing bucket (or on an object in it), with its typed parameters.
#[derive(Debug)]
pub enum BucketOp {
    DeleteBucket,
    HeadBucket,
    GetBucketLocation,
    GetBucketVersioning,
    PutBucketVersioning,
    ListObjectVersions(ListVersionsParams),
    GetBucketAcl,
    PutBucketAcl,
    GetBucketTagging,
    PutBucketTagging,
    DeleteBucketTagging,
    ListObjects(ListObjectsParams),
    DeleteObjects,
    ListMultipartUploads(ListUploadsParams),
    GetObjectAcl { key: ObjectKey, version: Option<String> },
    PutObjectAcl { key: ObjectKey, version: Option<String> },
    GetObjectTagging { key: ObjectKey, version: Option<String> },
    PutObjectTagging { key: ObjectKey, version: Option<String> },
    DeleteObjectTagging { key: ObjectKey, version: Option<String> },
    PutObject { key: ObjectKey },
    CopyObject { key: ObjectKey },
    GetObject { key: ObjectKey, read: ReadParams },
    GetObjectAttributes { key: ObjectKey, version: Option<String> },
    HeadObject { key: ObjectKey, read: ReadParams },
    DeleteObject { key: ObjectKey, version: Option<String> },
    CreateMultipartUpload { key: ObjectKey },
    UploadPart { key: ObjectKey, part_number: u32, upload_id: String },
    UploadPartCopy { key: ObjectKey, part_number: u32, upload_id: String },
    CompleteMultipartUpload { key: ObjectKey, upload_id: String },
    AbortMultipartUpload { key: ObjectKey, upload_id: String },
    ListParts { key: ObjectKey, params: ListPartsParams },
}

#[derive(Debug)]
pub struct ListUploadsParams {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub upload_id_marker: Option<String>,
    pub max_uploads: usize,
    pub url_encode: bool,
}

#[derive(Debug)]
pub struct ListPartsParams {
    pub upload_id: String,
    pub max_parts: usize,
    pub part_number_marker: u32,
}

#[derive(Debug, Default)]
pub struct ListBucketsParams {
    pub max_buckets: Option<usize>,
    pub continuation_token: Option<String>,
    pub prefix: Option<String>,
    pub bucket_region: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListVersion {
    V1,
    V2,
}

/// ListObjects (v1) and ListObjectsV2 parameters; the position fields apply to their version.
#[derive(Debug)]
pub struct ListObjectsParams {
    pub version: ListVersion,
    pub prefix: String,
    pub delimiter: Option<String>,
    pub max_keys: usize,
    pub url_encode: bool,
    pub fetch_owner: bool,
    /// v1 `marker`.
    pub marker: Option<String>,
    /// v2 `start-after`.
    pub start_after: Option<String>,
    /// v2 `continuation-token`.
    pub continuation_token: Option<String>,
}

/// GetObject / HeadObject parameters carried in the query.
#[derive(Debug, Default)]
pub struct ReadParams {
    /// `versionId`: read this version rather than the current one.
    pub version: Option<String>,
    pub part_number: Option<u32>,
    /// `response-*` overrides: (response header name, value).
    pub overrides: Vec<(&'static str, String)>,
}

/// Every sub-resource S3 defines. A request names at most one (two are 400); which ones are
/// served is decided by the `match` in `parse_bucket` / `parse_object`, the rest are
/// `NotImplemented`, never a silent fall-through to another operation.
const SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "attributes",
    "cors",
    "delete",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "location",
    "logging",
    "metadataConfiguration",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "partNumber",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "session",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versioning",
    "versions",
    "website",
];

const RESPONSE_OVERRIDES: [(&str, &str); 6] = [
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
    ("response-content-language", "content-language"),
    ("response-content-type", "content-type"),
    ("response-expires", "expires"),
];

impl Endpoint {
    /// Parses the operation; `copy_source` tells whether `x-amz-copy-source` was sent.
    pub fn parse(method: &Method, path: S3Path, query: &Query, copy_source: bool) -> Result<Self, S3Error> {
        check_version_id(query)?;
        match path {
            S3Path::Root => match *method {
                Method::GET => Ok(Self::ListBuckets(ListBucketsParams::parse(query)?)),
                _ => Err(S3ErrorCode::MethodNotAllowed.into()),
            },
            S3Path::Bucket { bucket } => {
                let sub = subresource(query, false)?;
                match (method.clone(), sub) {
                    (Method::PUT, None) => Ok(Self::CreateBucket { bucket }),
                    _ => Ok(Self::Bucket { op: BucketOp::parse_bucket(method, sub, query)?, bucket }),
                }
            }
            S3Path::Object { bucket, key } => {
                // On GET/HEAD, partNumber selects a part of the object rather than a sub-resource.
                let read = *method == Method::GET || *method == Method::HEAD;
                let sub = subresource(query, read)?;
                Ok(Self::Bucket { op: BucketOp::parse_object(method, key, sub, query, copy_source)?, bucket })
            }
        }
    }

    /// The operation's name as AWS spells it: a fixed set, safe as a metric label.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ListBuckets(_) => "ListBuckets",
            Self::CreateBucket { .. } => "CreateBucket",
            Self::Bucket { op, .. } => op.name(),
        }
    }

    /// Operations that stream a body of object bytes into storage (and check its signature,
    /// hash and digests before committing anything).
    pub fn streams_body(&self) -> bool {
        matches!(self, Self::Bucket { op: BucketOp::PutObject { .. } | BucketOp::UploadPart { .. }, .. })
    }
}

impl BucketOp {
    fn parse_bucket(method: &Method, sub: Option<&'static str>, query: &Query) -> Result<Self, S3Error> {
        match (method.clone(), sub) {
            (Method::GET, Some("location")) => Ok(Self::GetBucketLocation),
            (Method::GET, Some("versioning")) => Ok(Self::GetBucketVersioning),
            (Method::PUT, Some("versioning")) => Ok(Self::PutBucketVersioning),
            (Method::GET, Some("versions")) => Ok(Self::ListObjectVersions(ListVersionsParams::parse(query)?)),
            (Method::GET, Some("acl")) => Ok(Self::GetBucketAcl),
            (Method::PUT, Some("acl")) => Ok(Self::PutBucketAcl),
            (Method::GET, Some("tagging")) => Ok(Self::GetBucketTagging),
            (Method::PUT, Some("tagging")) => Ok(Self::PutBucketTagging),
            (Method::DELETE, Some("tagging")) => Ok(Self::DeleteBucketTagging),
            (Method::GET, Some("uploads")) => Ok(Self::ListMultipartUploads(ListUploadsParams::parse(query)?)),
            (Method::GET, None) => Ok(Self::ListObjects(ListObjectsParams::parse(query)?)),
            (Method::DELETE, None) => Ok(Self::DeleteBucket),
            (Method::HEAD, None) => Ok(Self::HeadBucket),
            (Method::POST, Some("delete")) => Ok(Self::DeleteObjects),
            (Method::GET | Method::PUT | Method::DELETE | Method::HEAD | Method::POST, Some(sub)) => {
                Err(not_implemented(sub))
            }
            _ => Err(S3ErrorCode::MethodNotAllowed.into()),
        }
    }

    fn parse_object(
        method: &Method,
        key: ObjectKey,
        sub: Option<&'static str>,
        query: &Query,
        copy: bool,
    ) -> Result<Self, S3Error> {
        match (method.clone(), sub) {
            (Method::GET, None) => Ok(Self::GetObject { key, read: ReadParams::parse(query)? }),
            (Method::HEAD, None) => Ok(Self::HeadObject { key, read: ReadParams::parse(query)? }),
            (Method::PUT, None) if copy => Ok(Self::CopyObject { key }),
            (Method::PUT, None) => Ok(Self::PutObject { key }),
            (Method::DELETE, None) => Ok(Self::DeleteObject { key, version: version_id(query) }),
            (Method::POST, Some("uploads")) => Ok(Self::CreateMultipartUpload { key }),
            (Method::GET, Some("acl")) => Ok(Self::GetObjectAcl { key, version: version_id(query) }),
            (Method::PUT, Some("acl")) => Ok(Self::PutObjectAcl { key, version: version_id(query) }),
            (Method::GET, Some("tagging")) => Ok(Self::GetObjectTagging { key, version: version_id(query) }),
            (Method::PUT, Some("tagging")) => Ok(Self::PutObjectTagging { key, version: version_id(query) }),
            (Method::DELETE, Some("tagging")) => Ok(Self::DeleteObjectTagging { key, version: version_id(query) }),
            (Method::GET, Some("attributes")) => Ok(Self::GetObjectAttributes { key, version: version_id(query) }),
            (Method::PUT, Some("uploadId")) => {
                let upload_id = upload_id(query)?;
                let part_number = query.int("partNumber", 1..=10_000)?.ok_or_else(|| {
                    S3Error::invalid_argument("partNumber", "", "UploadPart needs a partNumber between 1 and 10000")
                })? as u32;
                Ok(if copy {
                    Self::UploadPartCopy { key, part_number, upload_id }
                } else {
                    Self::UploadPart { key, part_number, upload_id }
                })
            }
            (Method::PUT, Some("partNumber")) => {
                Err(S3Error::invalid_argument("uploadId", "", "A partNumber needs an uploadId"))
            }
            (Method::POST, Some("uploadId")) => Ok(Self::CompleteMultipartUpload { key, upload_id: upload_id(query)? }),
            (Method::DELETE, Some("uploadId")) => Ok(Self::AbortMultipartUpload { key, upload_id: upload_id(query)? }),
            (Method::GET, Some("uploadId")) => Ok(Self::ListParts { key, params: ListPartsParams::parse(query)? }),
            (Method::GET | Method::PUT | Method::DELETE | Method::HEAD | Method::POST, Some(sub)) => {
                Err(not_implemented(sub))
            }
            _ => Err(S3ErrorCode::MethodNotAllowed.into()),
        }
    }

    /// What the caller must be allowed to do in the bucket (the object's own ACL may still
    /// decide reads and ACL operations: `authorize`).
    pub fn access(&self) -> Access {
        match self {
            Self::DeleteBucket
            | Self::GetBucketLocation
            | Self::PutBucketVersioning
            | Self::GetBucketTagging
            | Self::PutBucketTagging
            | Self::DeleteBucketTagging => Access::Admin,
            Self::HeadBucket
            | Self::GetBucketVersioning
            | Self::ListObjects(_)
            | Self::ListObjectVersions(_)
            | Self::ListMultipartUploads(_)
            | Self::ListParts { .. } => Access::BucketRead,
            Self::GetBucketAcl => Access::AclRead,
            Self::PutBucketAcl => Access::AclWrite,
            Self::GetObjectAcl { .. } | Self::PutObjectAcl { .. } => Access::ObjectAcl,
            Self::GetObject { .. }
            | Self::HeadObject { .. }
            | Self::GetObjectAttributes { .. }
            | Self::GetObjectTagging { .. } => Access::ObjectRead,
            Self::DeleteObjects
            | Self::PutObject { .. }
            | Self::PutObjectTagging { .. }
            | Self::DeleteObjectTagging { .. }
            | Self::CopyObject { .. }
            | Self::DeleteObject { .. }
            | Self::CreateMultipartUpload { .. }
            | Self::UploadPart { .. }
            | Self::UploadPartCopy { .. }
            | Self::CompleteMultipartUpload { .. }
            | Self::AbortMultipartUpload { .. } => Access::Write,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::DeleteBucket => "DeleteBucket",
            Self::HeadBucket => "HeadBucket",
            Self::GetBucketLocation => "GetBucketLocation",
            Self::GetBucketVersioning => "GetBucketVersioning",
            Self::PutBucketVersioning => "PutBucketVersioning",
            Self::ListObjectVersions(_) => "ListObjectVersions",
            Self::GetBucketAcl => "GetBucketAcl",
            Self::PutBucketAcl => "PutBucketAcl",
            Self::GetBucketTagging => "GetBucketTagging",
            Self::PutBucketTagging => "PutBucketTagging",
            Self::DeleteBucketTagging => "DeleteBucketTagging",
            Self::ListObjects(params) if params.version == ListVersion::V2 => "ListObjectsV2",
            Self::ListObjects(_) => "ListObjects",
            Self::DeleteObjects => "DeleteObjects",
            Self::ListMultipartUploads(_) => "ListMultipartUploads",
            Self::GetObjectAcl { .. } => "GetObjectAcl",
            Self::PutObjectAcl { .. } => "PutObjectAcl",
            Self::GetObjectTagging { .. } => "GetObjectTagging",
            Self::PutObjectTagging { .. } => "PutObjectTagging",
            Self::DeleteObjectTagging { .. } => "DeleteObjectTagging",
            Self::PutObject { .. } => "PutObject",
            Self::CopyObject { .. } => "CopyObject",
            Self::GetObject { .. } => "GetObject",
            Self::GetObjectAttributes { .. } => "GetObjectAttributes",
            Self::HeadObject { .. } => "HeadObject",
            Self::DeleteObject { .. } => "DeleteObject",
            Self::CreateMultipartUpload { .. } => "CreateMultipartUpload",
            Self::UploadPart { .. } => "UploadPart",
            Self::UploadPartCopy { .. } => "UploadPartCopy",
            Self::CompleteMultipartUpload { .. } => "CompleteMultipartUpload",
            Self::AbortMultipartUpload { .. } => "AbortMultipartUpload",
            Self::ListParts { .. } => "ListParts",
        }
    }
}

/// The one sub-resource the query names, if any; two are 400 `InvalidRequest`. `partNumber` is
/// not one on a read of an object (it picks a part) nor beside `uploadId` (it numbers the part).
fn subresource(query: &Query, object_read: bool) -> Result<Option<&'static str>, S3Error> {
    let mut named = SUBRESOURCES
        .iter()
        .copied()
        .filter(|s| query.has(s))
        .filter(|s| *s != "partNumber" || !(object_read || query.has("uploadId")));
    let first = named.next();
    if let Some(second) = named.next() {
        return Err(S3Error::new(S3ErrorCode::InvalidRequest).with_message(format!(
            "A request may name one sub-resource; this one names {} and {second}.",
            first.unwrap_or_default()
        )));
    }
    Ok(first)
}

/// `encoding-type`: absent, or `url` (the only encoding S3 defines).
fn url_encoding(query: &Query) -> Result<bool, S3Error> {
    match query.get("encoding-type") {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("url") => Ok(true),
        Some(other) => {
            Err(S3Error::invalid_argument("encoding-type", other, "Invalid Encoding Method specified in Request"))
        }
    }
}

fn upload_id(query: &Query) -> Result<String, S3Error> {
    match query.get("uploadId") {
        Some(id) if !id.is_empty() => Ok(id.to_owned()),
        _ => Err(S3Error::invalid_argument("uploadId", "", "The uploadId must not be empty")),
    }
}

impl ListUploadsParams {
    fn parse(query: &Query) -> Result<Self, S3Error> {
        let url_encode = url_encoding(query)?;
        Ok(Self {
            prefix: query.get("prefix").unwrap_or("").to_owned(),
            delimiter: query.get("delimiter").filter(|d| !d.is_empty()).map(str::to_owned),
            key_marker: query.get("key-marker").filter(|m| !m.is_empty()).map(str::to_owned),
            upload_id_marker: query.get("upload-id-marker").filter(|m| !m.is_empty()).map(str::to_owned),
            max_uploads: query.int("max-uploads", 0..=i64::from(i32::MAX))?.map_or(1000, |v| v.clamp(1, 1000) as usize),
            url_encode,
        })
    }
}

impl ListPartsParams {
    fn parse(query: &Query) -> Result<Self, S3Error> {
        Ok(Self {
            upload_id: upload_id(query)?,
            max_parts: query.int("max-parts", 0..=i64::from(i32::MAX))?.map_or(1000, |v| v.clamp(1, 1000) as usize),
            part_number_marker: query.int("part-number-marker", 0..=10_000)?.unwrap_or(0) as u32,
        })
    }
}

fn not_implemented(sub: &str) -> S3Error {
    S3Error::new(S3ErrorCode::NotImplemented)
        .with_message(format!("The `{sub}` sub-resource is not implemented by this server."))
}

/// `versionId`, when given, must be `null` or an id this store issues; anything else is 400
/// (a well-formed id that names no version is `NoSuchVersion`, later).
fn check_version_id(query: &Query) -> Result<(), S3Error> {
    match query.get("versionId") {
        Some(v) if !crate::meta::is_version_id(v) => {
            Err(S3Error::invalid_argument("versionId", v, "Invalid version id specified"))
        }
        _ => Ok(()),
    }
}

fn version_id(query: &Query) -> Option<String> {
    query.get("versionId").map(str::to_owned)
}

/// ListObjectVersions parameters.
#[derive(Debug)]
pub struct ListVersionsParams {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub version_id_marker: Option<String>,
    pub max_keys: usize,
    pub url_encode: bool,
}

impl ListVersionsParams {
    fn parse(query: &Query) -> Result<Self, S3Error> {
        let version_id_marker = query.get("version-id-marker").filter(|m| !m.is_empty()).map(str::to_owned);
        if let Some(v) = version_id_marker.as_deref().filter(|v| !crate::meta::is_version_id(v)) {
            return Err(S3Error::invalid_argument("version-id-marker", v, "Invalid version id specified"));
        }
        let key_marker = query.get("key-marker").filter(|m| !m.is_empty()).map(str::to_owned);
        if version_id_marker.is_some() && key_marker.is_none() {
            return Err(S3Error::invalid_argument(
                "version-id-marker",
                version_id_marker.as_deref().unwrap_or_default(),
                "A version-id marker cannot be specified without a key marker.",
            ));
        }
        Ok(Self {
            prefix: query.get("prefix").unwrap_or("").to_owned(),
            delimiter: query.get("delimiter").filter(|d| !d.is_empty()).map(str::to_owned),
            key_marker,
            version_id_marker,
            max_keys: query.int("max-keys", 0..=i64::from(i32::MAX))?.map_or(1000, |v| v.min(1000) as usize),
            url_encode: url_encoding(query)?,
        })
    }
}

impl ListBucketsParams {
    fn parse(query: &Query) -> Result<Self, S3Error> {
        Ok(Self {
            max_buckets: query.int("max-buckets", 1..=10_000)?.map(|v| v as usize),
            continuation_token: query.get("continuation-token").map(str::to_owned),
            prefix: query.get("prefix").filter(|p| !p.is_empty()).map(str::to_owned),
            bucket_region: query.get("bucket-region").filter(|p| !p.is_empty()).map(str::to_owned),
        })
    }
}

impl ListObjectsParams {
    fn parse(query: &Query) -> Result<Self, S3Error> {
        let version = match query.get("list-type") {
            None => ListVersion::V1,
            Some("2") => ListVersion::V2,
            Some(other) => return Err(S3Error::invalid_argument("list-type", other, "Invalid list type")),
        };
        let url_encode = url_encoding(query)?;
        // S3 accepts any non-negative max-keys and caps it at 1000.
        let max_keys = query.int("max-keys", 0..=i64::from(i32::MAX))?.map_or(1000, |v| v.min(1000) as usize);
        let fetch_owner = match query.get("fetch-owner") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(other) => return Err(S3Error::invalid_argument("fetch-owner", other, "Invalid fetch-owner value")),
        };
        Ok(Self {
            version,
            prefix: query.get("prefix").unwrap_or("").to_owned(),
            delimiter: query.get("delimiter").filter(|d| !d.is_empty()).map(str::to_owned),
            max_keys,
            url_encode,
            fetch_owner,
            marker: query.get("marker").filter(|m| !m.is_empty()).map(str::to_owned),
            start_after: query.get("start-after").filter(|m| !m.is_empty()).map(str::to_owned),
            continuation_token: query.get("continuation-token").map(str::to_owned),
        })
    }
}

impl ReadParams {
    fn parse(query: &Query) -> Result<Self, S3Error> {
        let part_number = query.int("partNumber", 1..=10_000)?.map(|v| v as u32);
        let overrides = RESPONSE_OVERRIDES
            .iter()
            .filter_map(|(param, header)| query.get(param).map(|v| (*header, v.to_owned())))
            .collect();
        Ok(Self { version: version_id(query), part_number, overrides })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::needless_pass_by_value)] // a table of cases reads better with values
    fn parse(method: Method, path: &str, query: &str) -> Result<Endpoint, S3Error> {
        let p = S3Path::parse(None, path, &[]).unwrap();
        Endpoint::parse(&method, p, &Query::parse(Some(query)).unwrap(), false)
    }

    #[test]
    fn dispatch_table() {
        let cases = [
            (Method::GET, "/", "", "ListBuckets"),
            (Method::PUT, "/b1b", "", "CreateBucket"),
            (Method::DELETE, "/b1b", "", "DeleteBucket"),
            (Method::HEAD, "/b1b", "", "HeadBucket"),
            (Method::GET, "/b1b", "location", "GetBucketLocation"),
            (Method::GET, "/b1b", "versioning", "GetBucketVersioning"),
            (Method::PUT, "/b1b", "versioning", "PutBucketVersioning"),
            (Method::GET, "/b1b", "versions&prefix=a", "ListObjectVersions"),
            (Method::DELETE, "/b1b/k", "versionId=null", "DeleteObject"),
            (Method::GET, "/b1b", "", "ListObjects"),
            (Method::GET, "/b1b", "list-type=2&x-id=ListObjectsV2", "ListObjectsV2"),
            (Method::POST, "/b1b", "delete", "DeleteObjects"),
            (Method::PUT, "/b1b/k", "x-id=PutObject", "PutObject"),
            (Method::GET, "/b1b/k", "", "GetObject"),
            (Method::GET, "/b1b/k", "partNumber=1", "GetObject"),
            (Method::GET, "/b1b/k", "attributes", "GetObjectAttributes"),
            (Method::HEAD, "/b1b/k", "versionId=null", "HeadObject"),
            (Method::DELETE, "/b1b/k", "", "DeleteObject"),
            (Method::POST, "/b1b/k", "uploads", "CreateMultipartUpload"),
            (Method::PUT, "/b1b/k", "partNumber=3&uploadId=u", "UploadPart"),
            (Method::POST, "/b1b/k", "uploadId=u", "CompleteMultipartUpload"),
            (Method::DELETE, "/b1b/k", "uploadId=u", "AbortMultipartUpload"),
            (Method::GET, "/b1b/k", "uploadId=u&max-parts=5", "ListParts"),
            (Method::GET, "/b1b", "uploads&max-uploads=2", "ListMultipartUploads"),
        ];
        for (method, path, query, name) in cases {
            assert_eq!(parse(method.clone(), path, query).unwrap().name(), name, "{method} {path}?{query}");
        }
    }

    #[test]
    fn unknown_subresource_is_not_implemented() {
        for (m, p, q) in [
            (Method::GET, "/b1b", "policy"),
            (Method::PUT, "/b1b/k", "retention"),
            (Method::GET, "/b1b", "cors"),
            (Method::GET, "/b1b/k", "partNumber=1&legal-hold"),
            (Method::HEAD, "/b1b", "tagging"),
            (Method::HEAD, "/b1b/k", "partNumber=1&torrent"),
            (Method::HEAD, "/b1b/k", "acl"),
            (Method::POST, "/b1b", "partNumber=2"),
        ] {
            assert_eq!(parse(m, p, q).unwrap_err().code, S3ErrorCode::NotImplemented);
        }
    }

    #[test]
    fn two_subresources_are_refused() {
        for (m, p, q) in [
            (Method::GET, "/b1b", "acl&uploads"),
            (Method::PUT, "/b1b/k", "uploadId=x&partNumber=1&acl"),
            (Method::DELETE, "/b1b/k", "uploadId=x&acl"),
            (Method::GET, "/b1b/k", "attributes&tagging"),
        ] {
            assert_eq!(parse(m, p, q).unwrap_err().code, S3ErrorCode::InvalidRequest, "{q}");
        }
        // Parameters that come with a sub-resource are not sub-resources themselves.
        assert_eq!(parse(Method::PUT, "/b1b/k", "partNumber=3&uploadId=u").unwrap().name(), "UploadPart");
        assert_eq!(parse(Method::GET, "/b1b/k", "partNumber=1&uploadId=u").unwrap().name(), "ListParts");
        assert_eq!(parse(Method::GET, "/b1b/k", "acl&versionId=null").unwrap().name(), "GetObjectAcl");
        for (m, p, name) in [
            (Method::GET, "/b1b/k", "GetObjectTagging"),
            (Method::PUT, "/b1b/k", "PutObjectTagging"),
            (Method::DELETE, "/b1b/k", "DeleteObjectTagging"),
            (Method::GET, "/b1b", "GetBucketTagging"),
            (Method::PUT, "/b1b", "PutBucketTagging"),
            (Method::DELETE, "/b1b", "DeleteBucketTagging"),
        ] {
            assert_eq!(parse(m, p, "tagging").unwrap().name(), name);
        }
    }

    #[test]
    fn access_needed() {
        let access = |m, p, q| match parse(m, p, q).unwrap() {
            Endpoint::Bucket { op, .. } => op.access(),
            other => panic!("{other:?} names no bucket"),
        };
        assert_eq!(access(Method::DELETE, "/b1b", ""), Access::Admin);
        assert_eq!(access(Method::GET, "/b1b", "list-type=2"), Access::BucketRead);
        assert_eq!(access(Method::GET, "/b1b/k", "attributes"), Access::ObjectRead);
        assert_eq!(access(Method::GET, "/b1b/k", "tagging&versionId=null"), Access::ObjectRead);
        assert_eq!(access(Method::PUT, "/b1b/k", "tagging"), Access::Write);
        assert_eq!(access(Method::DELETE, "/b1b/k", "tagging"), Access::Write);
        for m in [Method::GET, Method::PUT, Method::DELETE] {
            assert_eq!(access(m, "/b1b", "tagging"), Access::Admin, "bucket tags are the owner's");
        }
        assert_eq!(access(Method::PUT, "/b1b/k", "acl"), Access::ObjectAcl);
        assert_eq!(access(Method::POST, "/b1b", "delete"), Access::Write);
        assert!(matches!(parse(Method::PUT, "/b1b", "").unwrap(), Endpoint::CreateBucket { .. }));
    }

    #[test]
    fn bad_methods_and_arguments() {
        assert_eq!(parse(Method::POST, "/", "").unwrap_err().code, S3ErrorCode::MethodNotAllowed);
        assert_eq!(parse(Method::PATCH, "/b1b/k", "").unwrap_err().code, S3ErrorCode::MethodNotAllowed);
        assert_eq!(parse(Method::GET, "/b1b", "list-type=3").unwrap_err().code, S3ErrorCode::InvalidArgument);
        assert_eq!(parse(Method::GET, "/b1b", "encoding-type=base64").unwrap_err().code, S3ErrorCode::InvalidArgument);
        assert_eq!(parse(Method::GET, "/b1b", "max-keys=x").unwrap_err().code, S3ErrorCode::InvalidArgument);
        assert_eq!(parse(Method::GET, "/b1b/k", "versionId=abc").unwrap_err().code, S3ErrorCode::InvalidArgument);
        assert_eq!(
            parse(Method::GET, "/b1b", "versions&version-id-marker=null").unwrap_err().code,
            S3ErrorCode::InvalidArgument,
            "a version-id marker needs a key marker"
        );
        assert_eq!(parse(Method::GET, "/b1b/k", "partNumber=0").unwrap_err().code, S3ErrorCode::InvalidArgument);
        assert_eq!(parse(Method::GET, "/", "max-buckets=0").unwrap_err().code, S3ErrorCode::InvalidArgument);
        for q in [
            "partNumber=0&uploadId=u",
            "partNumber=10001&uploadId=u",
            "uploadId=u",
            "partNumber=1",
            "partNumber=1&uploadId=",
        ] {
            assert_eq!(parse(Method::PUT, "/b1b/k", q).unwrap_err().code, S3ErrorCode::InvalidArgument, "{q}");
        }
    }

    #[test]
    fn list_params() {
        let Endpoint::Bucket { op: BucketOp::ListObjects(params), .. } = parse(
            Method::GET,
            "/b1b",
            "list-type=2&max-keys=5000&prefix=a%2F&delimiter=%2F&encoding-type=url&fetch-owner=true",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(params.max_keys, 1000);
        assert_eq!(params.prefix, "a/");
        assert_eq!(params.delimiter.as_deref(), Some("/"));
        assert!(params.url_encode && params.fetch_owner);
    }
}

//! Where a request points: the service root, a bucket, or an object, from path-style or
//! virtual-hosted-style addressing.

use crate::error::S3Error;
use crate::percent::decode;
use crate::s3::names::{BucketName, ObjectKey};

/// The resource a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Path {
    Root,
    Bucket { bucket: BucketName },
    Object { bucket: BucketName, key: ObjectKey },
}

impl S3Path {
    /// Resolves the bucket and key from the `Host` header and the raw (percent-encoded) path.
    ///
    /// A host of the form `<bucket>.<domain>` for one of `domains` selects virtual-hosted style,
    /// where the whole path is the key; anything else is path-style, `/<bucket>/<key>`.
    pub fn parse(host: Option<&str>, raw_path: &str, domains: &[String]) -> Result<Self, S3Error> {
        let path = decode(raw_path)?;
        let path = path.strip_prefix('/').unwrap_or(&path);
        if let Some(bucket) = host.and_then(|h| virtual_host_bucket(h, domains)) {
            let bucket = BucketName::parse(&bucket)?;
            return Ok(if path.is_empty() {
                Self::Bucket { bucket }
            } else {
                Self::Object { bucket, key: ObjectKey::parse(path.to_owned())? }
            });
        }
        if path.is_empty() {
            return Ok(Self::Root);
        }
        match path.split_once('/') {
            None => Ok(Self::Bucket { bucket: BucketName::parse(path)? }),
            Some((bucket, "")) => Ok(Self::Bucket { bucket: BucketName::parse(bucket)? }),
            Some((bucket, key)) => {
                Ok(Self::Object { bucket: BucketName::parse(bucket)?, key: ObjectKey::parse(key.to_owned())? })
            }
        }
    }

    pub fn bucket(&self) -> Option<&BucketName> {
        match self {
            Self::Root => None,
            Self::Bucket { bucket } | Self::Object { bucket, .. } => Some(bucket),
        }
    }

    pub fn key(&self) -> Option<&ObjectKey> {
        match self {
            Self::Object { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// The bucket named by `host` under one of `domains`, for virtual-hosted-style requests.
pub fn virtual_host_bucket(host: &str, domains: &[String]) -> Option<String> {
    let host = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
    domains.iter().find_map(|domain| {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let bucket = host.strip_suffix(domain.as_str())?.strip_suffix('.')?;
        (!bucket.is_empty()).then(|| bucket.to_owned())
    })
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // IPv6 literal: never a virtual host, but strip the port all the same.
        return host.rsplit_once("]:").map_or(host, |(h, _)| h);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::S3ErrorCode;

    fn domains() -> Vec<String> {
        vec!["s3.local".into(), "store.ns.svc".into()]
    }

    fn parse(host: &str, path: &str) -> S3Path {
        S3Path::parse(Some(host), path, &domains()).unwrap()
    }

    #[test]
    fn path_style() {
        assert_eq!(parse("127.0.0.1:9000", "/"), S3Path::Root);
        assert_eq!(parse("localhost", "/bkt").bucket().unwrap().as_str(), "bkt");
        assert_eq!(parse("localhost", "/bkt/").key(), None);
        let p = parse("localhost", "/bkt/a/b%20c%2Bd/%E2%82%AC");
        assert_eq!(p.bucket().unwrap().as_str(), "bkt");
        assert_eq!(p.key().unwrap().as_str(), "a/b c+d/€");
        assert_eq!(parse("localhost", "/bkt/dir/").key().unwrap().as_str(), "dir/");
        assert_eq!(parse("s3.local:9000", "/bkt/k").key().unwrap().as_str(), "k");
    }

    #[test]
    fn virtual_hosted_style() {
        let p = parse("my.bucket.s3.local:9000", "/");
        assert_eq!(p, S3Path::Bucket { bucket: BucketName::parse("my.bucket").unwrap() });
        let p = parse("bkt.store.ns.svc", "/a/b");
        assert_eq!(p.bucket().unwrap().as_str(), "bkt");
        assert_eq!(p.key().unwrap().as_str(), "a/b");
        let p = parse("BKT.S3.LOCAL", "/x");
        assert_eq!(p.bucket().unwrap().as_str(), "bkt");
    }

    #[test]
    fn bad_paths() {
        let err = S3Path::parse(None, "/bkt/%FF", &[]).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidURI);
        let err = S3Path::parse(None, "/Bad_Bucket/k", &[]).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidBucketName);
        let long = format!("/bkt/{}", "k".repeat(1025));
        assert_eq!(S3Path::parse(None, &long, &[]).unwrap_err().code, S3ErrorCode::KeyTooLongError);
    }
}

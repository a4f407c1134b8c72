//! Validated identifiers: bucket names (every S3 naming rule) and object keys (≤ 1024 bytes).

use std::fmt;

use crate::error::{S3Error, S3ErrorCode};

/// A bucket name that satisfies the S3 general-purpose bucket naming rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BucketName(String);

impl BucketName {
    /// Validates `name` against the rules of "Bucket naming rules" in the S3 user guide.
    pub fn parse(name: &str) -> Result<Self, S3Error> {
        match bucket_name_problem(name) {
            None => Ok(Self(name.to_owned())),
            Some(why) => Err(S3Error::new(S3ErrorCode::InvalidBucketName)
                .with_message(format!("The specified bucket is not valid: {why}."))
                .with_field("BucketName", name)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why `name` is not a valid bucket name, or `None` when it is.
pub fn bucket_name_problem(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return Some("bucket names must be between 3 and 63 characters long");
    }
    if !bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-') {
        return Some("bucket names can consist only of lowercase letters, numbers, dots and hyphens");
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Some("bucket names must begin and end with a letter or number");
    }
    if name.contains("..") {
        return Some("bucket names must not contain two adjacent periods");
    }
    if name.contains(".-") || name.contains("-.") {
        return Some("bucket name labels must not begin or end with a hyphen");
    }
    if looks_like_ipv4(name) {
        return Some("bucket names must not be formatted as an IP address");
    }
    const PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
    if PREFIXES.iter().any(|p| name.starts_with(p)) {
        return Some("bucket names must not start with a reserved prefix");
    }
    const SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    if SUFFIXES.iter().any(|s| name.ends_with(s)) {
        return Some("bucket names must not end with a reserved suffix");
    }
    None
}

fn looks_like_ipv4(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() == 4 && parts.iter().all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The longest object key S3 accepts, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// An object key: non-empty UTF-8 of at most 1024 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    pub fn parse(key: String) -> Result<Self, S3Error> {
        if key.is_empty() {
            return Err(S3Error::new(S3ErrorCode::InvalidArgument).with_message("Object keys must not be empty."));
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(S3Error::new(S3ErrorCode::KeyTooLongError)
                .with_field("MaxSizeAllowed", MAX_KEY_BYTES.to_string())
                .with_field("Size", key.len().to_string()));
        }
        Ok(Self(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_bucket_names() {
        for name in
            ["abc", "my-bucket", "my.bucket.name", "a1b2c3", "0bucket9", &"a".repeat(63), "1.2.3.4.5", "bucket-s3alia"]
        {
            assert!(BucketName::parse(name).is_ok(), "{name} should be valid");
        }
    }

    #[test]
    fn invalid_bucket_names() {
        let long = "a".repeat(64);
        for name in [
            "ab",
            &long,
            "My-Bucket",
            "my_bucket",
            "-bucket",
            "bucket-",
            ".bucket",
            "bucket.",
            "my..bucket",
            "my-.bucket",
            "my.-bucket",
            "192.168.5.4",
            "xn--bucket",
            "sthree-bucket",
            "amzn-s3-demo-bucket",
            "bucket-s3alias",
            "bucket--ol-s3",
            "bucket.mrap",
            "bucket--x-s3",
            "bucket--table-s3",
            "buck et",
            "bücket",
        ] {
            let err = BucketName::parse(name).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidBucketName, "{name}");
        }
    }

    #[test]
    fn keys_up_to_1024_bytes() {
        assert!(ObjectKey::parse("é".repeat(512)).is_ok()); // 1024 bytes
        let err = ObjectKey::parse(format!("{}a", "é".repeat(512))).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::KeyTooLongError);
        assert!(ObjectKey::parse("a b+c%d/€/\u{1F600}".into()).is_ok());
    }
}

//! A SigV4 header signature over a body whose hash the request did not declare: generic
//! signers (botocore's plain `SigV4Auth`, requests-aws4auth, aws4) sign the SHA-256 of the body
//! without sending `x-amz-content-sha256`. The canonical request is complete but for its last
//! line, so the signature can only be checked once the body has been read; the body reader
//! hashes what arrives and calls [`PendingSignature::verify`] before anything is committed.

use std::fmt;

use super::sigv4;
use crate::error::{S3Error, S3ErrorCode};

pub struct PendingSignature {
    key: [u8; 32],
    timestamp: String,
    scope: String,
    /// The canonical request up to (and including) the newline before the payload hash.
    canonical_prefix: String,
    given: String,
    access_key: String,
}

impl PendingSignature {
    pub(super) fn new(
        key: [u8; 32],
        timestamp: String,
        scope: String,
        canonical_prefix: String,
        given: String,
        access_key: String,
    ) -> Self {
        Self { key, timestamp, scope, canonical_prefix, given, access_key }
    }

    /// Checks the signature now that the body's hex SHA-256 is known.
    pub fn verify(&self, body_sha256_hex: &str) -> Result<(), S3Error> {
        let creq = format!("{}{body_sha256_hex}", self.canonical_prefix);
        let sts = sigv4::string_to_sign(&self.timestamp, &self.scope, &creq);
        if sigv4::signatures_equal(&sigv4::signature(&self.key, &sts), &self.given) {
            return Ok(());
        }
        Err(S3Error::new(S3ErrorCode::SignatureDoesNotMatch)
            .with_field("AWSAccessKeyId", &self.access_key)
            .with_field("StringToSign", sts)
            .with_field("CanonicalRequest", creq))
    }
}

/// Never prints the signing key.
impl fmt::Debug for PendingSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingSignature").field("access_key", &self.access_key).finish_non_exhaustive()
    }
}

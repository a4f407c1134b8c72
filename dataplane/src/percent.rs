//! Percent-decoding of request URI components (path, query names and values) into UTF-8, for
//! the S3 layer and SigV4's canonical request alike.

use percent_encoding::percent_decode;

use crate::error::{S3Error, S3ErrorCode};

/// Percent-decodes a path or query component into UTF-8; anything else is `InvalidURI`.
pub fn decode(raw: &str) -> Result<String, S3Error> {
    percent_decode(raw.as_bytes())
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| S3Error::new(S3ErrorCode::InvalidURI).with_message("The URI is not valid UTF-8 after decoding."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf8_and_refuses_the_rest() {
        assert_eq!(decode("a%20b%2B%E2%82%AC+").unwrap(), "a b+€+");
        assert_eq!(decode("%ff").unwrap_err().code, S3ErrorCode::InvalidURI);
    }
}

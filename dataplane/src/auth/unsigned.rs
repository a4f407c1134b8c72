//! The signed-header rule of SigV4: every `x-amz-*` header a request carries must be covered by
//! its signature, or an unsigned header could change what a signed request does (a presigned
//! PUT turned into a public copy of a private object, say). AWS refuses such requests with 403
//! `AccessDenied` and a `HeadersNotSigned` element; so do we.
//!
//! Exempt are only the headers whose values the signature binds another way:
//! - `x-amz-date`: the request time is a line of the string to sign;
//! - `x-amz-content-sha256`: in the header form its value is the payload line of the canonical
//!   request; a presigned URL's canonical request says `UNSIGNED-PAYLOAD` whatever it says, and
//!   the body is then never checked against it.
//!
//! A presigned request may also carry an `x-amz-*` value in its (signed) query string under the
//! same name, as SDKs that "hoist" headers into presigned URLs do.

use std::collections::BTreeMap;

use http::HeaderMap;

use crate::error::{S3Error, S3ErrorCode};

const EXEMPT: [&str; 2] = ["x-amz-date", "x-amz-content-sha256"];

/// The `x-amz-*` headers present in `headers` that the signature does not cover, sorted.
pub(super) fn unsigned_amz_headers(
    headers: &HeaderMap,
    signed: &[String],
    presigned_query: Option<&BTreeMap<String, String>>,
) -> Vec<String> {
    let mut out: Vec<String> = headers
        .keys()
        .map(http::HeaderName::as_str)
        .filter(|name| name.starts_with("x-amz-") && !EXEMPT.contains(name))
        .filter(|name| !signed.iter().any(|s| s == name))
        .filter(|name| !presigned_query.is_some_and(|q| q.keys().any(|k| k.eq_ignore_ascii_case(name))))
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Refuses a request whose signature leaves `x-amz-*` headers uncovered.
pub(super) fn require_signed(
    headers: &HeaderMap,
    signed: &[String],
    presigned_query: Option<&BTreeMap<String, String>>,
) -> Result<(), S3Error> {
    let unsigned = unsigned_amz_headers(headers, signed, presigned_query);
    if unsigned.is_empty() {
        return Ok(());
    }
    Err(S3Error::new(S3ErrorCode::AccessDenied)
        .with_message("There were headers present in the request which were not signed")
        .with_field("HeadersNotSigned", unsigned.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&'static str]) -> HeaderMap {
        names.iter().map(|n| (http::HeaderName::from_static(n), http::HeaderValue::from_static("v"))).collect()
    }

    fn signed(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn every_amz_header_must_be_signed() {
        let h = headers(&["x-amz-date", "x-amz-content-sha256", "x-amz-acl", "x-amz-copy-source", "content-type"]);
        assert_eq!(unsigned_amz_headers(&h, &signed(&["host"]), None), ["x-amz-acl", "x-amz-copy-source"]);
        assert!(unsigned_amz_headers(&h, &signed(&["host", "x-amz-acl", "x-amz-copy-source"]), None).is_empty());
        let err = require_signed(&h, &signed(&["host", "x-amz-acl"]), None).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::AccessDenied);
        assert_eq!(err.fields, vec![("HeadersNotSigned", "x-amz-copy-source".to_owned())]);
    }

    #[test]
    fn presigned_values_may_travel_in_the_signed_query() {
        let h = headers(&["x-amz-acl", "x-amz-tagging"]);
        let query: BTreeMap<String, String> = [("X-Amz-Acl".to_owned(), "private".to_owned())].into();
        assert_eq!(unsigned_amz_headers(&h, &signed(&["host"]), Some(&query)), ["x-amz-tagging"]);
        // The header form has no such allowance.
        assert_eq!(unsigned_amz_headers(&h, &signed(&["host"]), None), ["x-amz-acl", "x-amz-tagging"]);
    }

    #[test]
    fn other_headers_are_not_the_rule_s_concern() {
        let h = headers(&["x-amzn-trace-id", "user-agent", "content-md5", "x-amz-content-sha256"]);
        assert!(require_signed(&h, &signed(&["host"]), None).is_ok());
    }
}

//! Conditional requests (RFC 9110 §13.2.2 order): If-Match, If-Unmodified-Since, If-None-Match,
//! If-Modified-Since, and the `x-amz-copy-source-if-*` forms. 304 and 412 are outcomes here,
//! turned into responses by the caller.

use http::HeaderMap;

use crate::etag::{list_matches as etag_list_matches, list_matches_weak as etag_list_matches_weak};
use crate::s3::headers::{get, http_date_secs};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Proceed,
    NotModified,
    PreconditionFailed,
}

struct Names {
    if_match: &'static str,
    if_unmodified_since: &'static str,
    if_none_match: &'static str,
    if_modified_since: &'static str,
}

const PLAIN: Names = Names {
    if_match: "if-match",
    if_unmodified_since: "if-unmodified-since",
    if_none_match: "if-none-match",
    if_modified_since: "if-modified-since",
};

const COPY_SOURCE: Names = Names {
    if_match: "x-amz-copy-source-if-match",
    if_unmodified_since: "x-amz-copy-source-if-unmodified-since",
    if_none_match: "x-amz-copy-source-if-none-match",
    if_modified_since: "x-amz-copy-source-if-modified-since",
};

fn evaluate_with(names: &Names, headers: &HeaderMap, etag: &str, last_modified_ms: i64) -> Outcome {
    let modified_secs = last_modified_ms.div_euclid(1000);
    if let Some(v) = get(headers, names.if_match) {
        if !etag_list_matches(v, etag) {
            return Outcome::PreconditionFailed;
        }
    } else if let Some(since) = get(headers, names.if_unmodified_since).and_then(http_date_secs) {
        if modified_secs > since {
            return Outcome::PreconditionFailed;
        }
    }
    if let Some(v) = get(headers, names.if_none_match) {
        if etag_list_matches_weak(v, etag) {
            return Outcome::NotModified;
        }
    } else if let Some(since) = get(headers, names.if_modified_since).and_then(http_date_secs) {
        if modified_secs <= since {
            return Outcome::NotModified;
        }
    }
    Outcome::Proceed
}

/// GET/HEAD conditions; a failed If-None-Match / If-Modified-Since is 304.
pub fn evaluate(headers: &HeaderMap, etag: &str, last_modified_ms: i64) -> Outcome {
    evaluate_with(&PLAIN, headers, etag, last_modified_ms)
}

/// CopyObject / UploadPartCopy source conditions: every failure is 412.
pub fn evaluate_copy_source(headers: &HeaderMap, etag: &str, last_modified_ms: i64) -> Outcome {
    match evaluate_with(&COPY_SOURCE, headers, etag, last_modified_ms) {
        Outcome::NotModified => Outcome::PreconditionFailed,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_700_000_000_000; // Tue, 14 Nov 2023 22:13:20 GMT
    const BEFORE: &str = "Tue, 14 Nov 2023 22:13:19 GMT";
    const SAME: &str = "Tue, 14 Nov 2023 22:13:20 GMT";

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (n, v) in pairs {
            m.insert(*n, v.parse().unwrap());
        }
        m
    }

    #[test]
    fn rfc_9110_order() {
        let cases: [(&[(&'static str, &str)], Outcome); 11] = [
            (&[], Outcome::Proceed),
            (&[("if-match", "\"abc\"")], Outcome::Proceed),
            (&[("if-match", "\"zzz\"")], Outcome::PreconditionFailed),
            (&[("if-match", "*")], Outcome::Proceed),
            (&[("if-match", "W/\"abc\"")], Outcome::PreconditionFailed),
            // If-Match true wins over a failing If-Unmodified-Since (as S3 documents).
            (&[("if-match", "\"abc\""), ("if-unmodified-since", BEFORE)], Outcome::Proceed),
            (&[("if-unmodified-since", BEFORE)], Outcome::PreconditionFailed),
            (&[("if-none-match", "\"abc\"")], Outcome::NotModified),
            (&[("if-modified-since", SAME)], Outcome::NotModified),
            (&[("if-modified-since", BEFORE)], Outcome::Proceed),
            // If-None-Match false wins over a failing If-Modified-Since.
            (&[("if-none-match", "\"zzz\""), ("if-modified-since", SAME)], Outcome::Proceed),
        ];
        for (headers, want) in cases {
            assert_eq!(evaluate(&h(headers), "abc", T), want, "{headers:?}");
        }
    }

    #[test]
    fn copy_source_failures_are_412() {
        let m = h(&[("x-amz-copy-source-if-none-match", "\"abc\"")]);
        assert_eq!(evaluate_copy_source(&m, "abc", T), Outcome::PreconditionFailed);
        let m = h(&[("x-amz-copy-source-if-modified-since", SAME)]);
        assert_eq!(evaluate_copy_source(&m, "abc", T), Outcome::PreconditionFailed);
        let m = h(&[("x-amz-copy-source-if-match", "abc")]);
        assert_eq!(evaluate_copy_source(&m, "abc", T), Outcome::Proceed);
    }
}

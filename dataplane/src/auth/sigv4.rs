//! The pure SigV4 functions: S3's URI encoding, the canonical request, the string to sign,
//! the signing key and signatures. No I/O, no clock: the request path and the tests call these
//! same functions.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Hex SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

pub fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac(signing_key, string_to_sign.as_bytes()))
}

pub fn string_to_sign(timestamp: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{timestamp}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// Percent-encodes every byte but the unreserved set `A-Za-z0-9-._~` (and `/` when
/// `keep_slash`), as S3 canonicalisation requires.
pub fn uri_encode(input: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len() * 3 / 2);
    for &b in input {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The canonical URI: the decoded path encoded once (S3 does not double-encode or normalise).
pub fn canonical_uri(decoded_path: &str) -> String {
    if decoded_path.is_empty() {
        return "/".to_owned();
    }
    uri_encode(decoded_path.as_bytes(), true)
}

/// The canonical query string from decoded (name, value) pairs, sorted by encoded name then
/// value; `skip` names a parameter left out (`X-Amz-Signature` for presigned URLs).
pub fn canonical_query<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>, skip: Option<&str>) -> String {
    let mut encoded: Vec<(String, String)> = pairs
        .filter(|(name, _)| Some(*name) != skip)
        .map(|(n, v)| (uri_encode(n.as_bytes(), false), uri_encode(v.as_bytes(), false)))
        .collect();
    encoded.sort();
    let parts: Vec<String> = encoded.into_iter().map(|(n, v)| format!("{n}={v}")).collect();
    parts.join("&")
}

/// Header value canonical form: trimmed, inner runs of spaces collapsed to one.
pub fn canonical_header_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical request; `headers` are (lowercase name, canonical value) in signed order.
pub fn canonical_request(
    method: &str,
    uri: &str,
    query: &str,
    headers: &[(String, String)],
    signed_headers: &str,
    payload_hash: &str,
) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(method);
    out.push('\n');
    out.push_str(uri);
    out.push('\n');
    out.push_str(query);
    out.push('\n');
    for (name, value) in headers {
        out.push_str(name);
        out.push(':');
        out.push_str(value);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(signed_headers);
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// String to sign for one chunk of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` body.
pub fn chunk_string_to_sign(timestamp: &str, scope: &str, previous_signature: &str, chunk_sha256_hex: &str) -> String {
    format!("AWS4-HMAC-SHA256-PAYLOAD\n{timestamp}\n{scope}\n{previous_signature}\n{EMPTY_SHA256}\n{chunk_sha256_hex}")
}

/// String to sign for the trailer of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER` body.
pub fn trailer_string_to_sign(
    timestamp: &str,
    scope: &str,
    previous_signature: &str,
    trailer_sha256_hex: &str,
) -> String {
    format!("AWS4-HMAC-SHA256-TRAILER\n{timestamp}\n{scope}\n{previous_signature}\n{trailer_sha256_hex}")
}

/// Compares two signatures in constant time.
pub fn signatures_equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), canonical_header_value(v))).collect()
    }

    /// `get-vanilla` from the AWS SigV4 test suite.
    #[test]
    fn aws_suite_get_vanilla() {
        let h = headers(&[("host", "example.amazonaws.com"), ("x-amz-date", "20150830T123600Z")]);
        let creq = canonical_request("GET", "/", "", &h, "host;x-amz-date", EMPTY_SHA256);
        assert_eq!(
            creq,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let sts = string_to_sign("20150830T123600Z", "20150830/us-east-1/service/aws4_request", &creq);
        assert_eq!(
            sts,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        let key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "service");
        assert_eq!(signature(&key, &sts), "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    }

    /// `get-vanilla-query-order-key-case` from the AWS SigV4 test suite.
    #[test]
    fn aws_suite_query_order() {
        let q = canonical_query([("Param2", "value2"), ("Param1", "value1")].into_iter(), None);
        assert_eq!(q, "Param1=value1&Param2=value2");
        let h = headers(&[("host", "example.amazonaws.com"), ("x-amz-date", "20150830T123600Z")]);
        let creq = canonical_request("GET", "/", &q, &h, "host;x-amz-date", EMPTY_SHA256);
        let sts = string_to_sign("20150830T123600Z", "20150830/us-east-1/service/aws4_request", &creq);
        let key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "service");
        assert_eq!(signature(&key, &sts), "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    }

    const S3_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    /// "Example: GET Object" from the S3 SigV4 header-auth documentation.
    #[test]
    fn s3_docs_get_object() {
        let h = headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", "20130524T000000Z"),
        ]);
        let creq = canonical_request(
            "GET",
            &canonical_uri("/test.txt"),
            "",
            &h,
            "host;range;x-amz-content-sha256;x-amz-date",
            EMPTY_SHA256,
        );
        let sts = string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", &creq);
        let key = signing_key(S3_SECRET, "20130524", "us-east-1", "s3");
        assert_eq!(signature(&key, &sts), "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    }

    /// "Example: presigned URL" from the S3 query-auth documentation.
    #[test]
    fn s3_docs_presigned_get() {
        let pairs = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"),
            ("X-Amz-Date", "20130524T000000Z"),
            ("X-Amz-Expires", "86400"),
            ("X-Amz-SignedHeaders", "host"),
            ("X-Amz-Signature", "ignored"),
        ];
        let q = canonical_query(pairs.into_iter(), Some("X-Amz-Signature"));
        let h = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
        let creq = canonical_request("GET", "/test.txt", &q, &h, "host", "UNSIGNED-PAYLOAD");
        let sts = string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", &creq);
        let key = signing_key(S3_SECRET, "20130524", "us-east-1", "s3");
        assert_eq!(signature(&key, &sts), "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    }

    /// "Example: PUT Object" with `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` from the S3 docs: the
    /// seed signature and the chained chunk signatures.
    #[test]
    fn s3_docs_chunked_upload_signatures() {
        let h = headers(&[
            ("content-encoding", "aws-chunked"),
            ("content-length", "66824"),
            ("host", "s3.amazonaws.com"),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-decoded-content-length", "66560"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ]);
        let signed = concat!(
            "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;",
            "x-amz-decoded-content-length;x-amz-storage-class"
        );
        let creq = canonical_request(
            "PUT",
            "/examplebucket/chunkObject.txt",
            "",
            &h,
            signed,
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        );
        let scope = "20130524/us-east-1/s3/aws4_request";
        let key = signing_key(S3_SECRET, "20130524", "us-east-1", "s3");
        let seed = signature(&key, &string_to_sign("20130524T000000Z", scope, &creq));
        assert_eq!(seed, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
        let chunk = |prev: &str, data: &[u8]| {
            signature(&key, &chunk_string_to_sign("20130524T000000Z", scope, prev, &sha256_hex(data)))
        };
        let c1 = chunk(&seed, &[b'a'; 65536]);
        assert_eq!(c1, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648");
        let c2 = chunk(&c1, &[b'a'; 1024]);
        assert_eq!(c2, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497");
        assert_eq!(chunk(&c2, b""), "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9");
    }

    #[test]
    fn uri_encoding_rules() {
        assert_eq!(uri_encode(b"a b+c/d~e", true), "a%20b%2Bc/d~e");
        assert_eq!(uri_encode(b"a/b=c", false), "a%2Fb%3Dc");
        assert_eq!(canonical_uri("/bkt/€"), "/bkt/%E2%82%AC");
        assert_eq!(canonical_header_value("  a   b  c "), "a b c");
        assert!(signatures_equal("abc", "abc"));
        assert!(!signatures_equal("abc", "abd"));
        assert!(!signatures_equal("abc", "abcd"));
    }
}

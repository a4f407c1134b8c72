//! Legacy SigV2 (`Authorization: AWS key:sig` and `?AWSAccessKeyId=…&Signature=…&Expires=…`),
//! still what boto3's `generate_presigned_url` produces against custom endpoints by default.
//! Pure functions; the payload is never signed in this scheme.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// Query parameters that are part of the canonical resource (as botocore's HmacV1Auth lists them).
const SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// `/bucket/key?sub=value…`: `path` as sent (still percent-encoded), sub-resources decoded and sorted.
pub fn canonical_resource(path: &str, query: &[(String, String)]) -> String {
    let mut subs: Vec<&(String, String)> = query.iter().filter(|(n, _)| SUBRESOURCES.contains(&n.as_str())).collect();
    subs.sort();
    let mut out = path.to_owned();
    for (i, (name, value)) in subs.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(name);
        if !value.is_empty() {
            out.push('=');
            out.push_str(value);
        }
    }
    out
}

/// The SigV2 string to sign. `amz_headers` are lowercase `x-amz-*` (name, value) pairs.
pub fn string_to_sign(
    method: &str,
    content_md5: &str,
    content_type: &str,
    date: &str,
    amz_headers: &[(String, String)],
    resource: &str,
) -> String {
    let mut sorted: Vec<&(String, String)> = amz_headers.iter().collect();
    sorted.sort();
    let mut out = format!("{method}\n{content_md5}\n{content_type}\n{date}\n");
    for (name, value) in sorted {
        out.push_str(name);
        out.push(':');
        out.push_str(value.trim());
        out.push('\n');
    }
    out.push_str(resource);
    out
}

/// base64(HMAC-SHA1(secret, string_to_sign)).
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "Example Object GET" from the S3 REST authentication (SigV2) documentation.
    #[test]
    fn s3_docs_object_get() {
        let sts = string_to_sign(
            "GET",
            "",
            "",
            "Tue, 27 Mar 2007 19:36:42 +0000",
            &[],
            "/awsexamplebucket1/photos/puppy.jpg",
        );
        assert_eq!(sts, "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg");
        assert_eq!(signature("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", &sts), "qgk2+6Sv9/oM7G3qLEjTH1a1l1g=");
    }

    #[test]
    fn canonical_resource_keeps_only_subresources_sorted() {
        let q = vec![
            ("uploadId".to_string(), "abc".to_string()),
            ("x-id".to_string(), "GetObject".to_string()),
            ("acl".to_string(), String::new()),
        ];
        assert_eq!(canonical_resource("/b/k%20x", &q), "/b/k%20x?acl&uploadId=abc");
    }
}

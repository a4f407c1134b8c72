//! Entry points for hostile-input testing: each feeds arbitrary bytes to the parsers that see
//! untrusted input on the S3 port and must answer with a value or an error, never a panic, a
//! hang or unbounded memory. They are the bodies of the coverage-guided fuzz targets in
//! `dataplane/fuzz/` and of the property tests below (part of the test command).
//!
//! The input is split on `\n` into the fields a request would carry, so a fuzzer can reach
//! each parser with any combination of values.

use std::collections::BTreeMap;

use bytes::BytesMut;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::auth::chunked::{ChunkSigner, ChunkedDecoder};
use crate::auth::parse;
use crate::percent::decode;
use crate::s3::acl::Acl;
use crate::s3::endpoint::Endpoint;
use crate::s3::names::{bucket_name_problem, BucketName, ObjectKey};
use crate::s3::path::S3Path;
use crate::s3::query::Query;
use crate::s3::{conditional, headers, range, xml};

fn fields(data: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(data).split('\n').map(str::to_owned).collect()
}

/// `name: value` lines as a header map (lines that are not valid headers are skipped, as hyper
/// would refuse them before we see them).
fn header_map(lines: &[String]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name.trim()), HeaderValue::try_from(value.trim())) {
            map.append(n, v);
        }
    }
    map
}

/// Method, host, path, query and headers through addressing, query parsing and the endpoint
/// table: `method\nhost\npath\nquery\nheader lines…`.
pub fn request(data: &[u8]) {
    let f = fields(data);
    let get = |i: usize| f.get(i).map(String::as_str).unwrap_or("");
    let Ok(method) = Method::from_bytes(get(0).as_bytes()) else { return };
    let domains = vec!["s3.local".to_owned()];
    let host = Some(get(1)).filter(|h| !h.is_empty());
    let _ = decode(get(2));
    let Ok(query) = Query::parse(Some(get(3))) else { return };
    if let Ok(path) = S3Path::parse(host, get(2), &domains) {
        let headers = header_map(f.get(4..).unwrap_or(&[]));
        let _ = Endpoint::parse(&method, path, &query, headers.contains_key("x-amz-copy-source"));
    }
}

/// SigV4 and SigV2 authentication fields: the `Authorization` value, the query (presigned), the
/// dates, and which form a request uses: `authorization\nquery\nheader lines…`.
pub fn auth(data: &[u8]) {
    let f = fields(data);
    let headers = header_map(f.get(2..).unwrap_or(&[]));
    let _ = parse::header_fields(f.first().map(String::as_str).unwrap_or(""), &headers);
    if let Ok(query) = Query::parse(f.get(1).map(String::as_str)) {
        let map: BTreeMap<String, String> = query.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        let _ = parse::presigned_fields(&map);
        let _ = parse::detect(&headers, &map);
    }
    for line in &f {
        let _ = parse::parse_amz_date(line);
    }
}

/// An aws-chunked body, signed or not, with or without trailers, delivered in pieces whose
/// sizes come from the input's first bytes.
pub fn chunked(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let signer = (mode & 1 == 1).then(|| {
        ChunkSigner::new(
            [7; 32],
            "20260101T000000Z".into(),
            "20260101/us-east-1/s3/aws4_request".into(),
            "0".repeat(64),
        )
    });
    let mut decoder = ChunkedDecoder::new(signer, mode & 2 == 2);
    let step = usize::from(mode >> 2).max(1);
    let mut buf = BytesMut::new();
    let mut decoded = 0usize;
    for piece in rest.chunks(step) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(data)) => decoded += data.len(),
                Ok(None) => break,
                Err(_) => return,
            }
        }
        // The decoder holds at most one partial line plus one frame.
        assert!(buf.len() <= rest.len(), "decoder buffer grew past its input");
    }
    assert!(decoded <= rest.len(), "decoded more bytes than were sent");
    let _ = decoder.finish();
}

/// The XML request bodies: CompleteMultipartUpload, DeleteObjects, CreateBucket, the ACL and
/// tagging documents.
pub fn xml_bodies(data: &[u8]) {
    for scope in [super::tagging::TagScope::Object, super::tagging::TagScope::Bucket] {
        if let Ok(tags) = super::tagging::from_xml(data, scope) {
            assert!(super::tagging::check(&tags, scope).is_ok(), "a parsed tag set obeys the rules");
        }
    }
    let _ = xml::parse::<super::ops::multipart::CompleteRequest>(data);
    let _ = xml::parse::<super::ops::delete::Delete>(data);
    let _ = xml::parse::<super::ops::bucket::CreateBucketConfiguration>(data);
    let _ = Acl::from_xml(data);
}

/// Header values with meaning: `Range`, conditional headers, ACL grant headers, stored object
/// headers, `Content-MD5`, checksums, the copy source: header lines, and an object size.
pub fn request_headers(data: &[u8]) {
    let f = fields(data);
    let headers = header_map(&f);
    for value in headers.get_all("range") {
        if let Some(r) = value.to_str().ok().and_then(range::parse) {
            for size in [0, 1, 1000, u64::MAX] {
                if let Ok(span) = r.resolve(size) {
                    assert!(span.start < span.end && span.end <= size, "{r:?} on {size} gave {span:?}");
                }
            }
        }
    }
    let _ = conditional::evaluate(&headers, "0123456789abcdef0123456789abcdef", 1_700_000_000_000);
    let _ = conditional::evaluate_copy_source(&headers, "0123456789abcdef-3", 0);
    let _ = Acl::from_headers(&headers);
    if let Ok(meta) = headers::object_meta_from(&headers) {
        assert!(meta.tags.len() <= 10, "x-amz-tagging never yields more than 10 tags");
    }
    let _ = headers::content_md5(&headers);
    let _ = headers::requested_checksum(&headers);
    let _ = headers::write_condition(&headers);
    if let Some(source) = headers.get("x-amz-copy-source").and_then(|v| v.to_str().ok()) {
        let _ = super::ops::copy::parse_copy_source(source);
    }
}

/// Bucket names and object keys.
pub fn names(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let bucket = BucketName::parse(&text);
    assert_eq!(bucket.is_ok(), bucket_name_problem(&text).is_none());
    let _ = ObjectKey::parse(text.into_owned());
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Seeds shaped like real input, which the generated cases mutate.
    fn seeded() -> impl Strategy<Value = Vec<u8>> {
        let seeds: Vec<&'static [u8]> = vec![
            b"PUT\nbucket.s3.local\n/key%20name\nuploadId=abc&partNumber=3\nx-amz-copy-source: /b/k?versionId=1",
            b"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, \
                Signature=abcd\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=60\nx-amz-date: 20260101T000000Z",
            b"\x05a;chunk-signature=00\r\nhello world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"e\"</ETag></Part></CompleteMultipartUpload>",
            b"<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object></Delete>",
            b"range: bytes=0-99\nif-match: \"a\", W/\"b\"\nx-amz-grant-read: id=\"x\", \
                uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"\ncontent-md5: 1B2M2Y8AsgTpgAmY7PhCfg==",
        ];
        (proptest::sample::select(seeds), proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8)).prop_map(
            |(seed, edits)| {
                let mut v = seed.to_vec();
                for (at, byte) in edits {
                    if v.is_empty() {
                        v.push(byte);
                    } else {
                        let i = at % (v.len() + 1);
                        match byte % 3 {
                            0 => v.insert(i, byte),
                            1 if i < v.len() => {
                                v.remove(i);
                            }
                            _ if i < v.len() => v[i] = byte,
                            _ => v.push(byte),
                        }
                    }
                }
                v
            },
        )
    }

    fn input() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![seeded(), proptest::collection::vec(any::<u8>(), 0..512)]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn request_parsing_never_panics(data in input()) { request(&data) }

        #[test]
        fn auth_parsing_never_panics(data in input()) { auth(&data) }

        #[test]
        fn chunked_decoding_never_panics(data in input()) { chunked(&data) }

        #[test]
        fn xml_bodies_never_panic(data in input()) { xml_bodies(&data) }

        #[test]
        fn header_parsing_never_panics(data in input()) { request_headers(&data) }

        #[test]
        fn names_never_panic(data in input()) { names(&data) }
    }
}

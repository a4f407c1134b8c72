//! Raw HTTP requests, signed with SigV4 by hand, for what SDKs never send: wrong payload hashes,
//! tampered chunks, malformed framing, anonymous calls.

use bleepstore::auth::sigv4;
use time::OffsetDateTime;

use crate::common::{ACCESS_KEY, SECRET_KEY};

pub(crate) struct RawResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl RawResponse {
    /// The `<Code>` of an error document.
    pub(crate) fn code(&self) -> &str {
        self.body.split("<Code>").nth(1).and_then(|s| s.split("</Code>").next()).unwrap_or("")
    }
}

/// How to authenticate a raw request.
pub(crate) enum Auth<'a> {
    Anonymous,
    /// Sign with (access key, secret), declaring `payload_hash` in x-amz-content-sha256.
    Sign {
        access_key: &'a str,
        secret: &'a str,
        payload_hash: &'a str,
        at: OffsetDateTime,
    },
}

impl Auth<'static> {
    pub(crate) fn root(payload_hash: &'static str) -> Self {
        Auth::Sign { access_key: ACCESS_KEY, secret: SECRET_KEY, payload_hash, at: OffsetDateTime::now_utc() }
    }
}

/// What a header signature produced: the seed for chained chunk signatures.
pub(crate) struct Signed {
    pub seed: String,
    pub key: [u8; 32],
    pub timestamp: String,
    pub scope: String,
}

/// Adds x-amz-date, x-amz-content-sha256 and Authorization to `all` for this request.
pub(crate) fn sign(
    addr: std::net::SocketAddr,
    method: &str,
    path_and_query: &str,
    all: &mut Vec<(String, String)>,
    credentials: (&str, &str),
    payload_hash: &str,
    at: OffsetDateTime,
) -> Signed {
    sign_with(addr, method, path_and_query, all, credentials, payload_hash, at, true)
}

/// As a generic SigV4 signer does (botocore's plain `SigV4Auth`, aws4): `payload_hash` is
/// the body's SHA-256 and signed, but no x-amz-content-sha256 header is sent.
pub(crate) fn sign_generic(
    addr: std::net::SocketAddr,
    method: &str,
    path_and_query: &str,
    all: &mut Vec<(String, String)>,
    payload_hash: &str,
) -> Signed {
    let now = OffsetDateTime::now_utc();
    sign_with(addr, method, path_and_query, all, (ACCESS_KEY, SECRET_KEY), payload_hash, now, false)
}

#[allow(clippy::too_many_arguments)]
fn sign_with(
    addr: std::net::SocketAddr,
    method: &str,
    path_and_query: &str,
    all: &mut Vec<(String, String)>,
    (access_key, secret): (&str, &str),
    payload_hash: &str,
    at: OffsetDateTime,
    hash_header: bool,
) -> Signed {
    let host = addr.to_string();
    let ts = bleepstore::auth::sigv4_timestamp(at);
    let date = ts[..8].to_owned();
    all.push(("x-amz-date".into(), ts.clone()));
    if hash_header {
        all.push(("x-amz-content-sha256".into(), payload_hash.to_string()));
    }
    let mut signed: Vec<(String, String)> = all.clone();
    signed.push(("host".into(), host));
    signed.sort();
    let names: Vec<&str> = signed.iter().map(|(n, _)| n.as_str()).collect();
    let canon_headers: Vec<(String, String)> =
        signed.iter().map(|(n, v)| (n.clone(), sigv4::canonical_header_value(v))).collect();
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let decoded_path = percent_encoding::percent_decode_str(path).decode_utf8_lossy().into_owned();
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            let d = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
            (d(n), d(v))
        })
        .collect();
    let cquery = sigv4::canonical_query(pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())), None);
    let creq = sigv4::canonical_request(
        method,
        &sigv4::canonical_uri(&decoded_path),
        &cquery,
        &canon_headers,
        &names.join(";"),
        payload_hash,
    );
    let scope = format!("{date}/us-east-1/s3/aws4_request");
    let key = sigv4::signing_key(secret, &date, "us-east-1", "s3");
    let sig = sigv4::signature(&key, &sigv4::string_to_sign(&ts, &scope, &creq));
    all.push((
        "authorization".into(),
        format!("AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={}, Signature={sig}", names.join(";")),
    ));
    Signed { seed: sig, key, timestamp: ts, scope }
}

impl Signed {
    /// A `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` body of `chunks`, each chunk signed in
    /// the chain; with `trailer`, a signed trailer follows.
    pub(crate) fn chunked_body(&self, chunks: &[&[u8]], trailer: Option<&str>) -> Vec<u8> {
        let mut prev = self.seed.clone();
        let mut out = Vec::new();
        for chunk in chunks.iter().chain(std::iter::once(&&b""[..])) {
            let sts = sigv4::chunk_string_to_sign(&self.timestamp, &self.scope, &prev, &sigv4::sha256_hex(chunk));
            prev = sigv4::signature(&self.key, &sts);
            out.extend_from_slice(format!("{:x};chunk-signature={prev}\r\n", chunk.len()).as_bytes());
            if !chunk.is_empty() {
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
        }
        match trailer {
            None => out.extend_from_slice(b"\r\n"),
            Some(line) => {
                let canonical = format!("{line}\n");
                let sts = sigv4::trailer_string_to_sign(
                    &self.timestamp,
                    &self.scope,
                    &prev,
                    &sigv4::sha256_hex(canonical.as_bytes()),
                );
                let tsig = sigv4::signature(&self.key, &sts);
                out.extend_from_slice(format!("{line}\r\nx-amz-trailer-signature:{tsig}\r\n\r\n").as_bytes());
            }
        }
        out
    }
}

/// Sends an already-built request (headers include any signature).
pub(crate) async fn send_raw(
    addr: std::net::SocketAddr,
    method: &str,
    path_and_query: &str,
    all: &[(String, String)],
    body: Vec<u8>,
) -> RawResponse {
    let client = reqwest::Client::new();
    let mut req = client.request(method.parse().unwrap(), format!("http://{addr}{path_and_query}")).body(body);
    for (n, v) in all {
        req = req.header(n.as_str(), v.as_str());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.text().await.unwrap();
    RawResponse { status, headers, body }
}

/// Sends `method path_and_query` (already percent-encoded) to `addr` with `headers` and `body`.
pub(crate) async fn send(
    addr: std::net::SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    auth: Auth<'_>,
) -> RawResponse {
    let mut all: Vec<(String, String)> = headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.to_string())).collect();
    if let Auth::Sign { access_key, secret, payload_hash, at } = auth {
        sign(addr, method, path_and_query, &mut all, (access_key, secret), payload_hash, at);
    }
    send_raw(addr, method, path_and_query, &all, body).await
}

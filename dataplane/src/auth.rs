//! Who is asking: SigV4 in the `Authorization` header or in a presigned query, or nobody
//! (anonymous). The result says how the body is signed, for the body reader to verify.
//!
//! Must not: decide what the principal may do (that is `s3::authorize`).

mod cache;
pub mod chunked;
pub mod parse;
mod pending;
pub mod sigv2;
pub mod sigv4;
mod unsigned;

use std::collections::BTreeMap;

use http::{HeaderMap, Method};
use secrecy::ExposeSecret;
use time::OffsetDateTime;

use crate::error::{S3Error, S3ErrorCode};
use crate::meta::Db;
use cache::SigningKeyCache;
pub use chunked::ChunkSigner;
use parse::{AuthForm, SignedFields};
pub use pending::PendingSignature;

/// The `x-amz-date` form of a time (`20130524T000000Z`).
pub fn sigv4_timestamp(t: OffsetDateTime) -> String {
    parse::format_amz_date(t)
}

/// How far a request's clock may be from ours.
const MAX_SKEW_SECS: i64 = 15 * 60;

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    Key { access_key: String, owner_id: String, is_root: bool },
}

impl Principal {
    /// The canonical user id that owns what this caller creates.
    pub fn owner_id(&self) -> &str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Key { owner_id, .. } => owner_id,
        }
    }
}

/// How the request body is protected, as declared by `x-amz-content-sha256`.
#[derive(Debug)]
pub enum Payload {
    /// `UNSIGNED-PAYLOAD`, or anonymous / presigned without a payload hash.
    Unsigned,
    /// The hex SHA-256 the body must have.
    Sha256(String),
    /// `aws-chunked` framing; `signer` verifies chunk and trailer signatures when signed.
    Streaming { signer: Option<ChunkSigner>, trailer: bool },
    /// A header signature over the hash of a body that did not declare it: the principal is
    /// only claimed until the body has been read and the signature checked (`pending`).
    Deferred(Box<PendingSignature>),
}

#[derive(Debug)]
pub struct Authenticated {
    pub principal: Principal,
    pub payload: Payload,
}

/// The parts of a request that SigV4 covers.
pub struct AuthRequest<'a> {
    pub method: &'a Method,
    /// The request path, percent-decoded.
    pub decoded_path: &'a str,
    /// The request path as sent.
    pub raw_path: &'a str,
    /// The bucket named by the Host header (virtual-hosted style), if any.
    pub vhost_bucket: Option<&'a str>,
    /// The raw query string.
    pub raw_query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// `Host` (HTTP/1) or the URI authority (HTTP/2).
    pub host: Option<&'a str>,
    /// The body is known to be empty (`Content-Length: 0`, or no framing at all).
    pub body_empty: bool,
}

/// Verifies requests against the credentials table, caching derived signing keys.
pub struct Authenticator {
    db: Db,
    region: String,
    keys: SigningKeyCache,
}

impl Authenticator {
    pub fn new(db: Db, region: String) -> Self {
        Self { db, region, keys: SigningKeyCache::new(4096) }
    }

    pub async fn authenticate(&self, req: &AuthRequest<'_>, now: OffsetDateTime) -> Result<Authenticated, S3Error> {
        let query = raw_pairs(req.raw_query)?;
        let form = parse::detect(req.headers, &query)?;
        let fields = match form {
            AuthForm::Anonymous => {
                let payload = match req.headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok()) {
                    Some(v) if v.len() == 64 => Payload::Sha256(v.to_ascii_lowercase()),
                    _ => Payload::Unsigned,
                };
                return Ok(Authenticated { principal: Principal::Anonymous, payload });
            }
            AuthForm::Header(value) => parse::header_fields(&value, req.headers)?,
            AuthForm::Presigned => parse::presigned_fields(&query)?,
            AuthForm::V2Header(value) => return self.authenticate_v2(req, &query, Some(&value), now).await,
            AuthForm::V2Query => return self.authenticate_v2(req, &query, None, now).await,
        };
        self.check_scope_and_time(&fields, now)?;
        let cred = self
            .db
            .get_credential(&fields.access_key)
            .await
            .map_err(|e| S3Error::new(S3ErrorCode::ServiceUnavailable).with_source(e))?
            .filter(|c| c.enabled)
            .ok_or_else(|| {
                S3Error::new(S3ErrorCode::InvalidAccessKeyId).with_field("AWSAccessKeyId", &fields.access_key)
            })?;
        let key = self.keys.get(&cred.access_key, cred.secret.expose_secret(), &fields.date, &self.region);
        unsigned::require_signed(req.headers, &fields.signed_headers, fields.presigned.then_some(&query))?;
        let principal = Principal::Key { access_key: cred.access_key, owner_id: cred.owner_id, is_root: cred.is_root };
        let payload_hash = match (&fields.payload_hash, req.body_empty) {
            (Some(hash), _) => hash.as_str(),
            (None, true) => sigv4::EMPTY_SHA256,
            (None, false) => {
                // The canonical request's last line is the body's hash: checked once it is read.
                let prefix = canonical_request(req, &query, &fields, "")?;
                let pending = PendingSignature::new(
                    key,
                    fields.timestamp.clone(),
                    fields.scope(),
                    prefix,
                    fields.signature.clone(),
                    fields.access_key.clone(),
                );
                return Ok(Authenticated { principal, payload: Payload::Deferred(Box::new(pending)) });
            }
        };
        let creq = canonical_request(req, &query, &fields, payload_hash)?;
        let sts = sigv4::string_to_sign(&fields.timestamp, &fields.scope(), &creq);
        let expected = sigv4::signature(&key, &sts);
        if !sigv4::signatures_equal(&expected, &fields.signature) {
            return Err(S3Error::new(S3ErrorCode::SignatureDoesNotMatch)
                .with_field("AWSAccessKeyId", &fields.access_key)
                .with_field("StringToSign", sts)
                .with_field("CanonicalRequest", creq));
        }
        let payload = payload_mode(&fields, payload_hash, key, &expected)?;
        Ok(Authenticated { principal, payload })
    }

    /// SigV2: the header form checks the clock like SigV4; the query form checks `Expires`.
    async fn authenticate_v2(
        &self,
        req: &AuthRequest<'_>,
        query: &BTreeMap<String, String>,
        header: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Authenticated, S3Error> {
        let header_value = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
        let (access_key, given, date_line) = match header {
            Some(h) => {
                let (key, sig) = h["AWS ".len()..].rsplit_once(':').ok_or_else(|| {
                    S3Error::new(S3ErrorCode::InvalidArgument)
                        .with_message("Authorization header is invalid -- one and only one ' ' (space) required")
                })?;
                let date = if header_value("x-amz-date").is_empty() {
                    header_value("date")
                } else {
                    header_value("x-amz-date")
                };
                let at = httpdate::parse_http_date(date).map(OffsetDateTime::from).map_err(|_| {
                    S3Error::new(S3ErrorCode::AccessDenied)
                        .with_message("AWS authentication requires a valid Date or x-amz-date header")
                })?;
                if (now - at).whole_seconds().abs() > MAX_SKEW_SECS {
                    return Err(S3Error::new(S3ErrorCode::RequestTimeTooSkewed)
                        .with_field("MaxAllowedSkewMilliseconds", "900000"));
                }
                // With x-amz-date the Date line is empty; x-amz-date is signed as an amz header.
                let line = if header_value("x-amz-date").is_empty() { date.to_owned() } else { String::new() };
                (key.to_owned(), sig.to_owned(), line)
            }
            None => {
                let get = |n: &str| query.get(n).map(String::as_str).unwrap_or("");
                let expires = get("Expires");
                let at = expires.parse::<i64>().map_err(|_| {
                    S3Error::new(S3ErrorCode::AccessDenied).with_message(
                        "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
                    )
                })?;
                if now.unix_timestamp() > at {
                    return Err(S3Error::new(S3ErrorCode::AccessDenied)
                        .with_message("Request has expired")
                        .with_field("Expires", expires));
                }
                (get("AWSAccessKeyId").to_owned(), get("Signature").to_owned(), expires.to_owned())
            }
        };
        let cred = self
            .db
            .get_credential(&access_key)
            .await
            .map_err(|e| S3Error::new(S3ErrorCode::ServiceUnavailable).with_source(e))?
            .filter(|c| c.enabled)
            .ok_or_else(|| S3Error::new(S3ErrorCode::InvalidAccessKeyId).with_field("AWSAccessKeyId", &access_key))?;
        let mut amz: Vec<(String, String)> = Vec::new();
        for name in req.headers.keys().filter(|n| n.as_str().starts_with("x-amz-")) {
            let values: Vec<String> =
                req.headers.get_all(name).iter().map(|v| header_text(v.as_bytes()).trim().to_owned()).collect();
            amz.push((name.as_str().to_owned(), values.join(",")));
        }
        let path = match req.vhost_bucket {
            Some(bucket) => format!("/{bucket}{}", req.raw_path),
            None => req.raw_path.to_owned(),
        };
        let pairs: Vec<(String, String)> = query.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let resource = sigv2::canonical_resource(&path, &pairs);
        let sts = sigv2::string_to_sign(
            req.method.as_str(),
            header_value("content-md5"),
            header_value("content-type"),
            &date_line,
            &amz,
            &resource,
        );
        if !sigv4::signatures_equal(&sigv2::signature(cred.secret.expose_secret(), &sts), &given) {
            return Err(S3Error::new(S3ErrorCode::SignatureDoesNotMatch)
                .with_field("AWSAccessKeyId", access_key)
                .with_field("StringToSign", sts));
        }
        let payload = match req.headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok()) {
            Some(v) if v.len() == 64 => Payload::Sha256(v.to_ascii_lowercase()),
            _ => Payload::Unsigned,
        };
        let principal = Principal::Key { access_key: cred.access_key, owner_id: cred.owner_id, is_root: cred.is_root };
        Ok(Authenticated { principal, payload })
    }

    fn check_scope_and_time(&self, f: &SignedFields, now: OffsetDateTime) -> Result<(), S3Error> {
        let malformed = |msg: String| {
            let code = if f.presigned {
                S3ErrorCode::AuthorizationQueryParametersError
            } else {
                S3ErrorCode::AuthorizationHeaderMalformed
            };
            S3Error::new(code).with_message(msg)
        };
        if f.region != self.region {
            return Err(malformed(format!(
                "The authorization header is malformed; the region '{}' is wrong; expecting '{}'",
                f.region, self.region
            ))
            .with_field("Region", &self.region));
        }
        if f.service != "s3" {
            return Err(malformed(format!("The credential scope names service '{}'; expecting 's3'", f.service)));
        }
        if !f.timestamp.starts_with(&f.date) {
            return Err(malformed("The credential scope date does not match the request date.".into()));
        }
        let signed_at = parse::parse_amz_date(&f.timestamp)
            .ok_or_else(|| malformed("The request date is not a valid ISO 8601 basic timestamp.".into()))?;
        let skew = (now - signed_at).whole_seconds();
        match f.expires {
            Some(expires) => {
                if skew > expires {
                    return Err(S3Error::new(S3ErrorCode::AccessDenied)
                        .with_message("Request has expired")
                        .with_field("X-Amz-Expires", expires.to_string()));
                }
                if skew < -MAX_SKEW_SECS {
                    return Err(S3Error::new(S3ErrorCode::AccessDenied).with_message("Request is not valid yet"));
                }
            }
            None if skew.abs() > MAX_SKEW_SECS => {
                return Err(S3Error::new(S3ErrorCode::RequestTimeTooSkewed)
                    .with_field("RequestTime", f.timestamp.clone())
                    .with_field("MaxAllowedSkewMilliseconds", "900000"));
            }
            None => {}
        }
        Ok(())
    }
}

/// A header value as the text a client signed: UTF-8 when it is, else Latin-1 (one character
/// per byte), which is what Python's `http.client` puts on the wire for a `str` that botocore
/// signed as text.
fn header_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => std::borrow::Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// Query pairs percent-decoded without form rules (`+` stays `+`), as SigV4 canonicalises them.
fn raw_pairs(raw: Option<&str>) -> Result<BTreeMap<String, String>, S3Error> {
    let mut out = BTreeMap::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(crate::percent::decode(n)?, crate::percent::decode(v)?);
    }
    Ok(out)
}

fn canonical_request(
    req: &AuthRequest<'_>,
    query: &BTreeMap<String, String>,
    f: &SignedFields,
    payload_hash: &str,
) -> Result<String, S3Error> {
    let mut headers = Vec::with_capacity(f.signed_headers.len());
    for name in &f.signed_headers {
        let value = if name == "host" {
            req.host.map(sigv4::canonical_header_value)
        } else {
            let values: Vec<String> = req
                .headers
                .get_all(name.as_str())
                .iter()
                .map(|v| sigv4::canonical_header_value(&header_text(v.as_bytes())))
                .collect();
            (!values.is_empty()).then(|| values.join(","))
        };
        headers.push((name.clone(), value.unwrap_or_default()));
    }
    let skip = f.presigned.then_some("X-Amz-Signature");
    let cquery = sigv4::canonical_query(query.iter().map(|(k, v)| (k.as_str(), v.as_str())), skip);
    Ok(sigv4::canonical_request(
        req.method.as_str(),
        &sigv4::canonical_uri(req.decoded_path),
        &cquery,
        &headers,
        &f.signed_headers.join(";"),
        payload_hash,
    ))
}

fn payload_mode(f: &SignedFields, payload_hash: &str, key: [u8; 32], seed: &str) -> Result<Payload, S3Error> {
    let signer = || ChunkSigner::new(key, f.timestamp.clone(), f.scope(), seed.to_owned());
    Ok(match payload_hash {
        "UNSIGNED-PAYLOAD" => Payload::Unsigned,
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => Payload::Streaming { signer: None, trailer: true },
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => Payload::Streaming { signer: Some(signer()), trailer: false },
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => Payload::Streaming { signer: Some(signer()), trailer: true },
        h if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => Payload::Sha256(h.to_ascii_lowercase()),
        other if other.starts_with("STREAMING-") => {
            return Err(S3Error::new(S3ErrorCode::NotImplemented).with_message(format!(
                "The payload signing mode {other} is not supported; use SigV4 (AWS4-HMAC-SHA256)."
            )))
        }
        other => {
            return Err(S3Error::new(S3ErrorCode::InvalidArgument)
                .with_message("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-* or a SHA256 value.")
                .with_field("ArgumentName", "x-amz-content-sha256")
                .with_field("ArgumentValue", other))
        }
    })
}

//! Parsing the two SigV4 forms into one set of signed fields; no cryptography here.

use std::collections::BTreeMap;

use http::HeaderMap;
use time::{macros::format_description, OffsetDateTime, PrimitiveDateTime};

use crate::error::{S3Error, S3ErrorCode};

/// Which authentication a request carries.
pub enum AuthForm {
    Anonymous,
    Header(String),
    Presigned,
    /// `Authorization: AWS key:signature`.
    V2Header(String),
    /// `AWSAccessKeyId`, `Signature`, `Expires` in the query.
    V2Query,
}

/// What a SigV4 signature covers, from either form.
#[derive(Debug)]
pub struct SignedFields {
    pub access_key: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
    /// `YYYYMMDD'T'HHMMSS'Z'`.
    pub timestamp: String,
    /// `x-amz-content-sha256`; `None` when a header-signed request omits it (generic SigV4
    /// signers), in which case the signature covers the SHA-256 of the body.
    pub payload_hash: Option<String>,
    pub presigned: bool,
    /// Presigned lifetime in seconds.
    pub expires: Option<i64>,
}

impl SignedFields {
    pub fn scope(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date, self.region, self.service)
    }
}

const MAX_PRESIGNED_EXPIRES: i64 = 604_800;

pub fn detect(headers: &HeaderMap, query: &BTreeMap<String, String>) -> Result<AuthForm, S3Error> {
    let header = headers.get(http::header::AUTHORIZATION).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let presigned = query.contains_key("X-Amz-Algorithm") || query.contains_key("X-Amz-Signature");
    let v2_query = query.contains_key("Signature") && query.contains_key("AWSAccessKeyId");
    match (header, presigned || v2_query) {
        (Some(_), true) => Err(S3Error::new(S3ErrorCode::InvalidArgument)
            .with_message(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string \
                parameter or the Authorization header should be specified",
            )
            .with_field("ArgumentName", "Authorization")),
        (Some(h), false) if h.starts_with("AWS4-HMAC-SHA256 ") => Ok(AuthForm::Header(h)),
        (Some(h), false) if h.starts_with("AWS ") => Ok(AuthForm::V2Header(h)),
        (Some(_), false) => Err(unsupported_mechanism()),
        (None, true) if v2_query && !presigned => Ok(AuthForm::V2Query),
        (None, true) => Ok(AuthForm::Presigned),
        (None, false) => Ok(AuthForm::Anonymous),
    }
}

fn unsupported_mechanism() -> S3Error {
    S3Error::new(S3ErrorCode::InvalidRequest)
        .with_message("The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
}

fn header_malformed(msg: &str) -> S3Error {
    S3Error::new(S3ErrorCode::AuthorizationHeaderMalformed)
        .with_message(format!("The authorization header is malformed; {msg}"))
}

fn query_malformed(msg: &str) -> S3Error {
    S3Error::new(S3ErrorCode::AuthorizationQueryParametersError).with_message(msg.to_owned())
}

/// Splits `AKID/date/region/service/aws4_request`.
fn credential(value: &str, err: fn(&str) -> S3Error) -> Result<(String, String, String, String), S3Error> {
    // The access key id may itself contain '/', so split from the right.
    let mut parts = value.rsplitn(5, '/');
    let (Some(term), Some(service), Some(region), Some(date), Some(key)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(err(
            "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
        ));
    };
    if term != "aws4_request" || key.is_empty() || date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(
            "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
        ));
    }
    Ok((key.to_owned(), date.to_owned(), region.to_owned(), service.to_owned()))
}

fn signed_headers(value: &str, err: fn(&str) -> S3Error) -> Result<Vec<String>, S3Error> {
    let names: Vec<String> = value.split(';').map(|s| s.trim().to_ascii_lowercase()).collect();
    if names.iter().any(String::is_empty) || !names.iter().any(|n| n == "host") {
        return Err(err("SignedHeaders must list 'host' and no empty names."));
    }
    Ok(names)
}

fn is_hex_signature(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn request_timestamp(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get("x-amz-date").and_then(|v| v.to_str().ok()) {
        return Some(v.to_owned());
    }
    let date = headers.get(http::header::DATE)?.to_str().ok()?;
    let t = httpdate::parse_http_date(date).ok()?;
    Some(format_amz_date(OffsetDateTime::from(t)))
}

pub fn format_amz_date(t: OffsetDateTime) -> String {
    let fmt = format_description!("[year][month][day]T[hour][minute][second]Z");
    t.format(&fmt).unwrap_or_default()
}

pub fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    let fmt = format_description!("[year][month][day]T[hour][minute][second]Z");
    PrimitiveDateTime::parse(s, &fmt).ok().map(PrimitiveDateTime::assume_utc)
}

/// `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
pub fn header_fields(value: &str, headers: &HeaderMap) -> Result<SignedFields, S3Error> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256").unwrap_or(value);
    let mut cred = None;
    let mut signed = None;
    let mut sig = None;
    for part in rest.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else { continue };
        match k.trim() {
            "Credential" => cred = Some(v.trim()),
            "SignedHeaders" => signed = Some(v.trim()),
            "Signature" => sig = Some(v.trim()),
            _ => {}
        }
    }
    let (Some(cred), Some(signed), Some(sig)) = (cred, signed, sig) else {
        return Err(header_malformed("it must contain Credential, SignedHeaders and Signature."));
    };
    let (access_key, date, region, service) = credential(cred, header_malformed)?;
    if !is_hex_signature(sig) {
        return Err(header_malformed("the Signature is not 64 hex digits."));
    }
    let timestamp = request_timestamp(headers).ok_or_else(|| {
        S3Error::new(S3ErrorCode::AccessDenied)
            .with_message("AWS authentication requires a valid Date or x-amz-date header")
    })?;
    let payload_hash = headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok()).map(str::to_owned);
    Ok(SignedFields {
        access_key,
        date,
        region,
        service,
        signed_headers: signed_headers(signed, header_malformed)?,
        signature: sig.to_ascii_lowercase(),
        timestamp,
        payload_hash,
        presigned: false,
        expires: None,
    })
}

/// `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`,
/// `X-Amz-Signature` in the query.
pub fn presigned_fields(query: &BTreeMap<String, String>) -> Result<SignedFields, S3Error> {
    let get = |name: &str| query.get(name).map(String::as_str);
    if get("X-Amz-Algorithm") != Some("AWS4-HMAC-SHA256") {
        return Err(query_malformed("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\""));
    }
    let (Some(cred), Some(ts), Some(expires), Some(signed), Some(sig)) = (
        get("X-Amz-Credential"),
        get("X-Amz-Date"),
        get("X-Amz-Expires"),
        get("X-Amz-SignedHeaders"),
        get("X-Amz-Signature"),
    ) else {
        return Err(query_malformed(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, \
                X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        ));
    };
    let expires = match expires.parse::<i64>() {
        Ok(e) if (1..=MAX_PRESIGNED_EXPIRES).contains(&e) => e,
        Ok(e) if e > MAX_PRESIGNED_EXPIRES => {
            return Err(query_malformed("X-Amz-Expires must be less than a week (in seconds) that is 604800"))
        }
        _ => return Err(query_malformed("X-Amz-Expires should be a number between 1 and 604800")),
    };
    let (access_key, date, region, service) = credential(cred, query_malformed)?;
    if !is_hex_signature(sig) {
        return Err(query_malformed("X-Amz-Signature must be 64 hex digits."));
    }
    // A presigned URL never signs the body: S3's canonical request says UNSIGNED-PAYLOAD.
    let payload_hash = Some("UNSIGNED-PAYLOAD".to_owned());
    Ok(SignedFields {
        access_key,
        date,
        region,
        service,
        signed_headers: signed_headers(signed, query_malformed)?,
        signature: sig.to_ascii_lowercase(),
        timestamp: ts.to_owned(),
        payload_hash,
        presigned: true,
        expires: Some(expires),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdrs(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.insert(*n, v.parse().unwrap());
        }
        h
    }

    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, \
        SignedHeaders=host;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";

    #[test]
    fn header_form() {
        let h = hdrs(&[("x-amz-date", "20130524T000000Z"), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]);
        let f = header_fields(AUTH, &h).unwrap();
        assert_eq!((f.access_key.as_str(), f.date.as_str(), f.region.as_str()), ("AKID", "20130524", "us-east-1"));
        assert_eq!(f.signed_headers, ["host", "x-amz-date"]);
        assert_eq!(f.scope(), "20130524/us-east-1/s3/aws4_request");
    }

    #[test]
    fn header_form_errors() {
        let h = hdrs(&[("x-amz-date", "20130524T000000Z"), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]);
        for bad in [
            "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, SignedHeaders=host",
            "AWS4-HMAC-SHA256 Credential=AKID/2013/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/wrong, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, SignedHeaders=x-amz-date, \
                Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
            "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=zz",
        ] {
            assert_eq!(header_fields(bad, &h).unwrap_err().code, S3ErrorCode::AuthorizationHeaderMalformed, "{bad}");
        }
        // Generic signers omit x-amz-content-sha256: the body's hash is then signed.
        let no_sha = hdrs(&[("x-amz-date", "20130524T000000Z")]);
        assert_eq!(header_fields(AUTH, &no_sha).unwrap().payload_hash, None);
    }

    #[test]
    fn detect_forms() {
        let empty = BTreeMap::new();
        let mut presigned = BTreeMap::new();
        presigned.insert("X-Amz-Algorithm".to_string(), "AWS4-HMAC-SHA256".to_string());
        assert!(matches!(detect(&HeaderMap::new(), &empty).unwrap(), AuthForm::Anonymous));
        assert!(matches!(detect(&HeaderMap::new(), &presigned).unwrap(), AuthForm::Presigned));
        let h = hdrs(&[("authorization", AUTH)]);
        assert!(matches!(detect(&h, &empty).unwrap(), AuthForm::Header(_)));
        assert_eq!(detect(&h, &presigned).err().unwrap().code, S3ErrorCode::InvalidArgument);
        let v2 = hdrs(&[("authorization", "AWS AKID:c2lnbmF0dXJl")]);
        assert!(matches!(detect(&v2, &empty).unwrap(), AuthForm::V2Header(_)));
        let other = hdrs(&[("authorization", "Bearer token")]);
        assert_eq!(detect(&other, &empty).err().unwrap().code, S3ErrorCode::InvalidRequest);
    }

    #[test]
    fn presigned_expiry_bounds() {
        let mut q: BTreeMap<String, String> = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", "AKID/20130524/us-east-1/s3/aws4_request"),
            ("X-Amz-Date", "20130524T000000Z"),
            ("X-Amz-Expires", "86400"),
            ("X-Amz-SignedHeaders", "host"),
            ("X-Amz-Signature", "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let f = presigned_fields(&q).unwrap();
        assert_eq!((f.expires, f.payload_hash.as_deref()), (Some(86400), Some("UNSIGNED-PAYLOAD")));
        for bad in ["0", "604801", "-5", "soon"] {
            q.insert("X-Amz-Expires".into(), bad.into());
            assert_eq!(presigned_fields(&q).unwrap_err().code, S3ErrorCode::AuthorizationQueryParametersError, "{bad}");
        }
    }

    #[test]
    fn amz_dates_round_trip() {
        let t = parse_amz_date("20130524T000000Z").unwrap();
        assert_eq!(format_amz_date(t), "20130524T000000Z");
        assert!(parse_amz_date("2013-05-24").is_none());
    }
}

//! The S3 wire error: one code → (status, default message) table; `s3::response` renders it.
//!
//! Lower layers (`meta`, `blob`, `auth`) have their own error enums; the S3 layer maps them here
//! explicitly. Internal causes are kept in `source` for the log line and never sent to clients.

use std::borrow::Cow;
use std::fmt;

use http::StatusCode;

macro_rules! s3_codes {
    ($( $name:ident => $status:expr, $msg:expr; )*) => {
        /// Every S3 error code the server can answer with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum S3ErrorCode { $( $name, )* }

        impl S3ErrorCode {
            /// The code as it appears in `<Code>`.
            pub fn as_str(self) -> &'static str {
                match self { $( Self::$name => stringify!($name), )* }
            }
            /// The HTTP status AWS documents for this code.
            pub fn status(self) -> StatusCode {
                match self { $( Self::$name => $status, )* }
            }
            fn default_message(self) -> &'static str {
                match self { $( Self::$name => $msg, )* }
            }
        }
    };
}

// Status codes and messages follow the "List of error codes" table of the S3 API reference.
s3_codes! {
    AccessDenied => StatusCode::FORBIDDEN, "Access Denied";
    AuthorizationHeaderMalformed => StatusCode::BAD_REQUEST, "The authorization header is malformed.";
    AuthorizationQueryParametersError => StatusCode::BAD_REQUEST, "Error parsing the X-Amz-Credential parameter.";
    BadDigest => StatusCode::BAD_REQUEST, "The Content-MD5 you specified did not match what we received.";
    BucketAlreadyExists => StatusCode::CONFLICT,
        "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please \
            select a different name and try again.";
    BadRequest => StatusCode::BAD_REQUEST, "Bad Request";
    BucketAlreadyOwnedByYou => StatusCode::CONFLICT,
        "Your previous request to create the named bucket succeeded and you already own it.";
    BucketNotEmpty => StatusCode::CONFLICT, "The bucket you tried to delete is not empty.";
    EntityTooLarge => StatusCode::BAD_REQUEST, "Your proposed upload exceeds the maximum allowed object size.";
    EntityTooSmall => StatusCode::BAD_REQUEST, "Your proposed upload is smaller than the minimum allowed object size.";
    IncompleteBody => StatusCode::BAD_REQUEST,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.";
    InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE, "The data volume has no space left for this request.";
    InternalError => StatusCode::INTERNAL_SERVER_ERROR, "We encountered an internal error. Please try again.";
    InvalidAccessKeyId => StatusCode::FORBIDDEN, "The AWS access key Id you provided does not exist in our records.";
    InvalidArgument => StatusCode::BAD_REQUEST, "Invalid Argument";
    InvalidBucketName => StatusCode::BAD_REQUEST, "The specified bucket is not valid.";
    InvalidDigest => StatusCode::BAD_REQUEST, "The Content-MD5 you specified is not valid.";
    InvalidLocationConstraint => StatusCode::BAD_REQUEST, "The specified location constraint is not valid.";
    InvalidPart => StatusCode::BAD_REQUEST, "One or more of the specified parts could not be found.";
    InvalidPartNumber => StatusCode::RANGE_NOT_SATISFIABLE, "The requested partnumber is not satisfiable";
    InvalidPartOrder => StatusCode::BAD_REQUEST, "The list of parts was not in ascending order.";
    InvalidRange => StatusCode::RANGE_NOT_SATISFIABLE, "The requested range is not satisfiable";
    InvalidRequest => StatusCode::BAD_REQUEST, "Invalid Request";
    InvalidStorageClass => StatusCode::BAD_REQUEST, "The storage class you specified is not valid";
    InvalidTag => StatusCode::BAD_REQUEST, "The tag provided was not a valid tag.";
    InvalidURI => StatusCode::BAD_REQUEST, "Couldn't parse the specified URI.";
    KeyTooLongError => StatusCode::BAD_REQUEST, "Your key is too long";
    MalformedACLError => StatusCode::BAD_REQUEST,
        "The XML you provided was not well-formed or did not validate against our published schema.";
    MaxMessageLengthExceeded => StatusCode::BAD_REQUEST, "Your request was too big.";
    MalformedXML => StatusCode::BAD_REQUEST,
        "The XML you provided was not well-formed or did not validate against our published schema.";
    MetadataTooLarge => StatusCode::BAD_REQUEST, "Your metadata headers exceed the maximum allowed metadata size.";
    MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED, "The specified method is not allowed against this resource.";
    MissingContentLength => StatusCode::LENGTH_REQUIRED, "You must provide the Content-Length HTTP header.";
    MissingRequestBodyError => StatusCode::BAD_REQUEST, "Request Body is empty.";
    NoSuchBucket => StatusCode::NOT_FOUND, "The specified bucket does not exist";
    NoSuchKey => StatusCode::NOT_FOUND, "The specified key does not exist.";
    NoSuchVersion => StatusCode::NOT_FOUND,
        "The version ID specified in the request does not match an existing version.";
    NoSuchTagSet => StatusCode::NOT_FOUND, "The TagSet does not exist";
    NoSuchUpload => StatusCode::NOT_FOUND,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or \
            completed.";
    NotImplemented => StatusCode::NOT_IMPLEMENTED,
        "A header or query you provided implies functionality that is not implemented.";
    PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        "At least one of the pre-conditions you specified did not hold";
    RequestTimeTooSkewed => StatusCode::FORBIDDEN,
        "The difference between the request time and the server's time is too large.";
    RequestTimeout => StatusCode::BAD_REQUEST,
        "Your socket connection to the server was not read from or written to within the timeout period.";
    ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE, "Please reduce your request rate.";
    SignatureDoesNotMatch => StatusCode::FORBIDDEN,
        "The request signature we calculated does not match the signature you provided. Check your key and signing \
            method.";
    TooManyBuckets => StatusCode::BAD_REQUEST, "You have attempted to create more buckets than allowed.";
    XAmzContentSHA256Mismatch => StatusCode::BAD_REQUEST,
        "The provided 'x-amz-content-sha256' header does not match what was computed.";
}

/// An S3 error as sent to the client: code, message, and extra XML fields.
pub struct S3Error {
    pub code: S3ErrorCode,
    pub message: Cow<'static, str>,
    /// Extra elements after `<Message>` (e.g. `ArgumentName`, `BucketName`).
    pub fields: Vec<(&'static str, String)>,
    /// Extra response headers (e.g. `x-amz-bucket-region`, `Content-Range` on 416).
    pub headers: Vec<(&'static str, String)>,
    /// The internal cause, for the log line only.
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

pub type S3Result<T> = Result<T, S3Error>;

impl S3Error {
    pub fn new(code: S3ErrorCode) -> Self {
        Self {
            code,
            message: Cow::Borrowed(code.default_message()),
            fields: Vec::new(),
            headers: Vec::new(),
            source: None,
        }
    }

    pub fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.message = message.into();
        self
    }

    pub fn with_field(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.fields.push((name, value.into()));
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn with_source(mut self, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// `InvalidArgument` naming the offending argument, as AWS does.
    pub fn invalid_argument(name: &str, value: &str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(S3ErrorCode::InvalidArgument)
            .with_message(message)
            .with_field("ArgumentName", name)
            .with_field("ArgumentValue", value)
    }

    /// An internal failure: the client sees `InternalError`, the log sees the cause.
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::new(S3ErrorCode::InternalError).with_source(source)
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }
}

impl From<S3ErrorCode> for S3Error {
    fn from(code: S3ErrorCode) -> Self {
        Self::new(code)
    }
}

impl fmt::Debug for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Error")
            .field("code", &self.code.as_str())
            .field("message", &self.message)
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)?;
        if let Some(source) = &self.source {
            write!(f, " ({source})")?;
        }
        Ok(())
    }
}

impl std::error::Error for S3Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table_matches_aws() {
        assert_eq!(S3ErrorCode::NoSuchKey.status(), StatusCode::NOT_FOUND);
        assert_eq!(S3ErrorCode::BucketNotEmpty.status(), StatusCode::CONFLICT);
        assert_eq!(S3ErrorCode::InvalidRange.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(S3ErrorCode::MissingContentLength.status(), StatusCode::LENGTH_REQUIRED);
        assert_eq!(S3ErrorCode::NotImplemented.status(), StatusCode::NOT_IMPLEMENTED);
        assert_eq!(S3ErrorCode::SignatureDoesNotMatch.as_str(), "SignatureDoesNotMatch");
    }
}

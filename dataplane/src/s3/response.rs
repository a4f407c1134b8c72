//! Building responses: XML documents, empty answers, and the error document.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode};

use crate::error::S3Error;
use crate::s3::xml::XmlWriter;

pub(super) fn xml(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    resp
}

pub(super) fn empty(status: StatusCode) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    resp
}

pub(super) fn set(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::try_from(value) {
        resp.headers_mut().insert(name, v);
    }
}

/// The `<Error>` document: code, message, the error's extra fields, `resource` (the request
/// path) and the response's request id.
pub(super) fn error_document(err: &S3Error, resource: &str, request_id: &str) -> String {
    let mut w = XmlWriter::new();
    w.open("Error");
    w.elem("Code", err.code.as_str());
    w.elem("Message", &err.message);
    for (name, value) in &err.fields {
        w.elem(name, value);
    }
    w.elem("Resource", resource);
    w.elem("RequestId", request_id);
    w.close("Error");
    w.finish()
}

/// The error response (no body for HEAD, whose answers never have one).
pub(super) fn error(err: &S3Error, resource: &str, request_id: &str, head: bool) -> Response {
    let mut resp =
        if head { empty(err.status()) } else { xml(err.status(), error_document(err, resource, request_id)) };
    for (name, value) in &err.headers {
        set(&mut resp, name, value);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_document_has_code_message_fields_resource_and_request_id() {
        let err = S3Error::invalid_argument("max-keys", "-1", "bad max-keys");
        assert_eq!(
            error_document(&err, "/b?list-type=2", "REQ1"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidArgument</Code>\
             <Message>bad max-keys</Message><ArgumentName>max-keys</ArgumentName>\
             <ArgumentValue>-1</ArgumentValue><Resource>/b?list-type=2</Resource>\
             <RequestId>REQ1</RequestId></Error>"
        );
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
    }
}

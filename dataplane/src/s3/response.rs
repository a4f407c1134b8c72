//! Building responses: XML documents, empty answers, and the error document.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode};

use crate::error::S3Error;

pub fn xml(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    resp
}

pub fn empty(status: StatusCode) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    resp
}

pub fn set(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::try_from(value) {
        resp.headers_mut().insert(name, v);
    }
}

/// The error document (no body for HEAD, whose answers never have one).
pub fn error(err: &S3Error, resource: &str, request_id: &str, head: bool) -> Response {
    let mut resp = if head { empty(err.status()) } else { xml(err.status(), err.to_xml(resource, request_id)) };
    for (name, value) in &err.headers {
        set(&mut resp, name, value);
    }
    resp
}

//! HTTP: one fallback handler parses the path and dispatches by method; watches stream.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures::StreamExt;
use serde_json::{json, Value};

use super::errors::{ApiError, ApiResult};
use super::path::{self, ResourcePath, Target};
use super::resources::{self, ResourceType};
use super::selectors::Selector;
use super::store::Part;
use super::Shared;

/// One request, as RBAC sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestRecord {
    pub user_agent: String,
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
}

pub(super) fn router(state: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

fn json_response(status: u16, body: &Value) -> Response {
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        serde_json::to_vec(body).unwrap_or_default(),
    )
        .into_response();
    response.headers_mut().insert(axum::http::header::CONTENT_TYPE, "application/json".parse().expect("valid header"));
    response
}

fn error_response(error: &ApiError) -> Response {
    json_response(error.code, &error.status())
}

async fn handle(
    State(state): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = match path::parse(uri.path()) {
        Some(target) => target,
        None => return error_response(&ApiError::not_found("path", uri.path())),
    };
    let store = || state.store.lock().unwrap_or_else(|e| e.into_inner());
    match target {
        Target::Version => json_response(
            200,
            &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-bleepstore-test", "platform": "linux/amd64"}),
        ),
        Target::CoreVersions => json_response(200, &resources::core_versions()),
        Target::Groups => json_response(200, &resources::group_list(&store().types)),
        Target::GroupVersion { group, version } => match resources::resource_list(&store().types, &group, &version) {
            Some(list) => json_response(200, &list),
            None => error_response(&ApiError::not_found("group version", &format!("{group}/{version}"))),
        },
        Target::Resource(path) => {
            let Some(t) = store().find_type(&path.group, &path.version, &path.resource) else {
                return error_response(&ApiError::not_found("resource", &path.resource));
            };
            let watching = query.get("watch").is_some_and(|w| w == "true" || w == "1");
            log(&state, &method, &headers, &path, watching);
            if method == Method::GET && watching {
                return watch(&state, &t, &path, &query).await;
            }
            let content_type =
                headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            match resource(&state, &t, &path, &method, &query, &content_type, &body) {
                Ok((status, value)) => {
                    if method == Method::PATCH && status == 201 {
                        // An apply that created the object is authorized as `create` too.
                        log(&state, &Method::POST, &headers, &path, false);
                    }
                    json_response(status, &value)
                }
                Err(error) => error_response(&error),
            }
        }
    }
}

fn log(state: &Shared, method: &Method, headers: &HeaderMap, path: &ResourcePath, watching: bool) {
    let verb = match (method.as_str(), &path.name, watching) {
        ("GET", _, true) => "watch",
        ("GET", Some(_), _) => "get",
        ("GET", None, _) => "list",
        ("POST", _, _) => "create",
        ("PUT", _, _) => "update",
        ("PATCH", _, _) => "patch",
        ("DELETE", Some(_), _) => "delete",
        ("DELETE", None, _) => "deletecollection",
        (other, _, _) => other,
    };
    let record = RequestRecord {
        user_agent: headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned(),
        verb: verb.to_owned(),
        group: path.group.clone(),
        resource: path.resource.clone(),
        subresource: path.subresource.clone().unwrap_or_default(),
        namespace: path.namespace.clone().unwrap_or_default(),
        name: path.name.clone().unwrap_or_default(),
    };
    state.requests.lock().unwrap_or_else(|e| e.into_inner()).push(record);
}

fn parse_body(body: &Bytes) -> ApiResult<Value> {
    serde_json::from_slice(body)
        .or_else(|_| serde_yaml::from_slice(body))
        .map_err(|e| ApiError::bad_request(format!("the request body is not JSON or YAML: {e}")))
}

fn part(path: &ResourcePath) -> ApiResult<Part> {
    match path.subresource.as_deref() {
        None => Ok(Part::Main),
        Some("status") => Ok(Part::Status),
        Some(other) => Err(ApiError::not_found("subresource", other)),
    }
}

fn resource(
    state: &Shared,
    t: &ResourceType,
    path: &ResourcePath,
    method: &Method,
    query: &HashMap<String, String>,
    content_type: &str,
    body: &Bytes,
) -> ApiResult<(u16, Value)> {
    let mut store = state.store.lock().unwrap_or_else(|e| e.into_inner());
    let ns = if t.namespaced { path.namespace.clone().unwrap_or_default() } else { String::new() };
    if t.namespaced && path.namespace.is_none() && *method != Method::GET {
        return Err(ApiError::bad_request("a namespaced resource needs a namespace in the path"));
    }
    let strict = query.get("fieldValidation").is_some_and(|v| v == "Strict");
    match (method.as_str(), &path.name) {
        ("GET", None) => {
            let selector = Selector::parse(
                query.get("labelSelector").map(String::as_str),
                query.get("fieldSelector").map(String::as_str),
            );
            let items = store.list(t, path.namespace.as_deref(), &selector);
            let list = json!({"apiVersion": t.api_version(), "kind": format!("{}List", t.kind),
                "metadata": {"resourceVersion": store.resource_version().to_string()}, "items": items});
            Ok((200, list))
        }
        ("GET", Some(name)) => {
            let obj = store.get(t, &ns, name)?;
            Ok((200, obj))
        }
        ("POST", None) => {
            let obj = parse_body(body)?;
            Ok((201, store.create(t, &ns, obj, strict)?))
        }
        ("PUT", Some(name)) => {
            let obj = parse_body(body)?;
            Ok((200, store.update(t, &ns, name, obj, part(path)?, strict)?))
        }
        ("PATCH", Some(name)) => {
            let patch = parse_body(body)?;
            let part = part(path)?;
            if content_type.starts_with("application/apply-patch") {
                let manager = query
                    .get("fieldManager")
                    .ok_or_else(|| ApiError::bad_request("fieldManager is required for apply"))?;
                let (object, created) = store.apply(t, (&ns, name), patch, manager, part, strict)?;
                return Ok((if created { 201 } else { 200 }, object));
            }
            let current = store.get(t, &ns, name)?;
            let patched = match content_type {
                // Strategic merge is served as a JSON merge patch: lists are replaced, not merged
                // by key (enough for the Lease updates of leader election).
                c if c.starts_with("application/merge-patch+json")
                    || c.starts_with("application/strategic-merge-patch+json") =>
                {
                    super::patch::merge_patch(&current, &patch)
                }
                c if c.starts_with("application/json-patch+json") => super::patch::json_patch(&current, &patch)?,
                other => {
                    return Err(ApiError::new(
                        415,
                        "UnsupportedMediaType",
                        format!("the patch type {other:?} is not supported"),
                    ))
                }
            };
            Ok((200, store.update(t, &ns, name, patched, part, strict)?))
        }
        ("DELETE", Some(name)) => Ok((200, store.delete(t, &ns, name)?)),
        _ => Err(ApiError::new(405, "MethodNotAllowed", format!("{method} is not supported here"))),
    }
}

async fn watch(state: &Shared, t: &ResourceType, path: &ResourcePath, query: &HashMap<String, String>) -> Response {
    let since = query.get("resourceVersion").and_then(|v| v.parse::<u64>().ok()).filter(|v| *v > 0);
    let selector =
        Selector::parse(query.get("labelSelector").map(String::as_str), query.get("fieldSelector").map(String::as_str));
    let timeout = query.get("timeoutSeconds").and_then(|v| v.parse().ok()).unwrap_or(300u64);
    let (backlog, receiver) = state.store.lock().unwrap_or_else(|e| e.into_inner()).watch(t, since);
    let key = t.key();
    let ns = path.namespace.clone();
    let wanted = move |change: &super::store::Change| {
        change.key == key
            && ns.as_ref().is_none_or(|ns| change.object["metadata"]["namespace"].as_str() == Some(ns))
            && selector.matches(&change.object)
    };
    let wanted_live = wanted.clone();
    let live = tokio_stream::wrappers::BroadcastStream::new(receiver).filter_map(move |change| {
        let keep = change.ok().filter(|c| wanted_live(c));
        futures::future::ready(keep)
    });
    let events = futures::stream::iter(backlog.into_iter().filter(move |c| wanted(c))).chain(live);
    let lines = events
        .map(|change| {
            let mut line =
                serde_json::to_vec(&json!({"type": change.type_, "object": change.object})).unwrap_or_default();
            line.push(b'\n');
            Ok::<_, Infallible>(Bytes::from(line))
        })
        .take_until(tokio::time::sleep(Duration::from_secs(timeout)));
    let mut response = Response::new(Body::from_stream(lines));
    response.headers_mut().insert(axum::http::header::CONTENT_TYPE, "application/json".parse().expect("valid header"));
    response
}

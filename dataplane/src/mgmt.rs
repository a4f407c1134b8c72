//! The management port, apart from S3 so bucket names stay free and a NetworkPolicy can fence
//! it: liveness, readiness, per-component health, Prometheus metrics, the OpenAPI document,
//! an interactive API page served from the binary, and the admin API.

pub mod admin;
mod openapi;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{header, StatusCode};
use serde_json::json;

use crate::state::{AppState, Phase};

pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(|| async { Json(openapi::document()) }))
        .route("/docs", get(|| async { Html(include_str!("mgmt/docs.html")) }))
        .merge(admin::routes(state.clone()))
        .with_state(state)
}

/// Each component's state: `Ok(())` or why it is not ready.
async fn checks(state: &AppState) -> Vec<(&'static str, Result<(), String>)> {
    let phase = match Phase::from(state.phase.load(Ordering::SeqCst)) {
        Phase::Starting => Err("start-up recovery is in progress".to_owned()),
        Phase::Ready => Ok(()),
        Phase::Draining => Err("shutting down: draining in-flight requests".to_owned()),
    };
    let metadata = state.db.probe().await.map_err(|e| format!("metadata database: {e}"));
    let volume = state.blobs.probe().await.map_err(|e| format!("blob store does not accept writes: {e}"));
    vec![("lifecycle", phase), ("metadata", metadata), ("volume", volume)]
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let failures: Vec<String> =
        checks(&state).await.into_iter().filter_map(|(name, r)| r.err().map(|e| format!("{name}: {e}"))).collect();
    if failures.is_empty() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, failures.join("\n")).into_response()
    }
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    let results = checks(&state).await;
    let ok = results.iter().all(|(_, r)| r.is_ok());
    let components: serde_json::Map<String, serde_json::Value> = results
        .into_iter()
        .map(|(name, r)| {
            let v = match r {
                Ok(()) => json!({ "status": "ok" }),
                Err(e) => json!({ "status": "failing", "reason": e }),
            };
            (name.to_owned(), v)
        })
        .collect();
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!({ "status": if ok { "ok" } else { "failing" }, "components": components }))).into_response()
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()).into_response()
}

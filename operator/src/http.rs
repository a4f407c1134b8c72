//! The operator's own HTTP port: `/metrics`, `/healthz` (the process serves) and `/readyz` (the
//! API server was reached and the CRDs are installed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

use crate::metrics::Metrics;

#[derive(Clone)]
pub struct HttpState {
    pub metrics: Metrics,
    pub ready: Arc<AtomicBool>,
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn metrics(State(state): State<HttpState>) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

async fn readyz(State(state): State<HttpState>) -> (StatusCode, &'static str) {
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: the API server has not been reached yet")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http::Request;
    use tower::ServiceExt;

    async fn get(router: Router, path: &str) -> (StatusCode, String) {
        let response = router.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn probes_and_metrics() {
        let state = HttpState { metrics: Metrics::new(), ready: Arc::new(AtomicBool::new(false)) };
        let app = router(state.clone());
        assert_eq!(get(app.clone(), "/healthz").await, (StatusCode::OK, "ok".to_owned()));
        assert_eq!(get(app.clone(), "/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
        state.ready.store(true, Ordering::Relaxed);
        assert_eq!(get(app.clone(), "/readyz").await, (StatusCode::OK, "ready".to_owned()));
        drop(state.metrics.reconcile("Bucket"));
        state.metrics.failure("Bucket", "admin_api");
        let (status, text) = get(app.clone(), "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(text.contains("bleepstore_operator_reconciles_total{kind=\"Bucket\"} 1"), "{text}");
        assert!(text.contains("bleepstore_operator_reconcile_failures_total{error=\"admin_api\",kind=\"Bucket\"} 1"));
        assert!(text.contains("bleepstore_operator_reconcile_duration_seconds_count{kind=\"Bucket\"} 1"));
        assert!(text.contains("bleepstore_operator_reconciles_total{kind=\"AccessKey\"} 0"));
        assert_eq!(get(app, "/nope").await.0, StatusCode::NOT_FOUND);
    }
}

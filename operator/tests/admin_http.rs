//! The HTTP admin client against a stand-in server: paths, bearer token, bodies, and how each
//! documented answer (`specs/management.md` §5) maps to a result.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bleepstore_operator::admin::{
    management_address, AdminApi, AdminError, AdminTarget, BucketDeleted, BucketRequest, Grant, Usage,
};
use bleepstore_operator::crd::BleepStore;
use serde_json::json;

type Log = Arc<Mutex<Vec<String>>>;

async fn handler(State(log): State<Log>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let auth = parts.headers.get("authorization").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert_eq!(auth, "Bearer t0ken");
    let path = parts.uri.path_and_query().unwrap().to_string();
    log.lock().unwrap().push(format!("{} {path} {}", parts.method, String::from_utf8_lossy(&body)));
    let error = |status: StatusCode, code: &str, message: &str| {
        (status, axum::Json(json!({"error": code, "message": message}))).into_response()
    };
    match (parts.method.as_str(), path.as_str()) {
        ("GET", "/admin/v1/buckets/missing") => error(StatusCode::NOT_FOUND, "NoSuchBucket", "no bucket missing"),
        ("GET", _) => axum::Json(
            json!({"name": "b", "owner": "o", "region": "r", "acl": "private", "usage": {"objects": 2, "bytes": 10}}),
        )
        .into_response(),
        ("DELETE", "/admin/v1/buckets/full?purge=false") => {
            error(StatusCode::CONFLICT, "BucketNotEmpty", "bucket full holds 1 objects")
        }
        ("PUT", "/admin/v1/buckets/taken") => {
            error(StatusCode::CONFLICT, "BucketOwnedByAnother", "bucket taken exists with another owner")
        }
        ("PUT", "/admin/v1/buckets/broken") => (StatusCode::BAD_GATEWAY, "upstream trouble").into_response(),
        ("DELETE", _) => StatusCode::NO_CONTENT.into_response(),
        _ => StatusCode::CREATED.into_response(),
    }
}

async fn server() -> (AdminTarget, Log) {
    let log = Log::default();
    let app = axum::Router::new().fallback(handler).with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (AdminTarget { base_url: format!("http://{addr}"), token: "t0ken".into() }, log)
}

#[tokio::test]
async fn requests_and_answers() {
    let (target, log) = server().await;
    let admin = bleepstore_operator::admin::HttpAdmin::new();
    let request =
        BucketRequest { owner: "bleepstore-operator".into(), acl: "private".into(), versioning: None, tags: None };
    admin.put_bucket(&target, "photos", &request).await.unwrap();
    let info = admin.bucket_info(&target, "photos").await.unwrap().unwrap();
    assert_eq!((info.usage, info.versioning), (Usage { objects: 2, bytes: 10 }, None));
    assert_eq!(admin.bucket_info(&target, "missing").await.unwrap(), None);
    assert_eq!(admin.delete_bucket(&target, "full", false).await.unwrap(), BucketDeleted::NotEmpty);
    assert_eq!(admin.delete_bucket(&target, "photos", true).await.unwrap(), BucketDeleted::Deleted);
    admin.put_key(&target, "BSKEY", "0123456789abcdefghij").await.unwrap();
    admin.put_grants(&target, "BSKEY", &[Grant { bucket: "photos".into(), access: "read".into() }]).await.unwrap();
    admin.delete_key(&target, "BS KEY/1").await.unwrap();
    let taken = admin.put_bucket(&target, "taken", &request).await.unwrap_err();
    assert_eq!(taken.code(), Some("BucketOwnedByAnother"));
    assert!(matches!(taken, AdminError::Status { status: 409, .. }));
    let broken = admin.put_bucket(&target, "broken", &request).await.unwrap_err();
    assert_eq!(broken, AdminError::Status { status: 502, code: String::new(), message: "upstream trouble".into() });
    assert_eq!(
        *log.lock().unwrap(),
        [
            r#"PUT /admin/v1/buckets/photos {"owner":"bleepstore-operator","acl":"private"}"#,
            "GET /admin/v1/buckets/photos ",
            "GET /admin/v1/buckets/missing ",
            "DELETE /admin/v1/buckets/full?purge=false ",
            "DELETE /admin/v1/buckets/photos?purge=true ",
            r#"PUT /admin/v1/keys/BSKEY {"secret_key":"0123456789abcdefghij"}"#,
            r#"PUT /admin/v1/keys/BSKEY/grants {"grants":[{"access":"read","bucket":"photos"}]}"#,
            "DELETE /admin/v1/keys/BS%20KEY%2F1 ",
            r#"PUT /admin/v1/buckets/taken {"owner":"bleepstore-operator","acl":"private"}"#,
            r#"PUT /admin/v1/buckets/broken {"owner":"bleepstore-operator","acl":"private"}"#,
        ]
    );
}

#[tokio::test]
async fn an_unreachable_store_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let target = AdminTarget { base_url: format!("http://{addr}"), token: "t0ken".into() };
    let error = bleepstore_operator::admin::HttpAdmin::new().delete_key(&target, "x").await.unwrap_err();
    assert!(matches!(error, AdminError::Unreachable(_)), "{error:?}");
    assert!(!format!("{target:?}").contains("t0ken"), "the token is not in Debug output");
}

#[test]
fn the_admin_api_is_reached_at_the_first_pods_dns_name() {
    let store: BleepStore = serde_json::from_value(json!({
        "apiVersion": "bleepstore.io/v1alpha1", "kind": "BleepStore",
        "metadata": {"name": "demo", "namespace": "team-a"}, "spec": {"storage": {"size": "1Gi"}}
    }))
    .unwrap();
    assert_eq!(management_address(&store), "demo-0.demo-headless.team-a.svc:9001");
}

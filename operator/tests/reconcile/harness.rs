//! The mock API server, the fake admin API, and object fixtures.

use std::future::Future;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bleepstore_operator::admin::{AdminApi, AdminError, AdminTarget, BucketDeleted, BucketInfo, BucketRequest, Grant};
use bleepstore_operator::context::{Context, Settings};
use bleepstore_operator::metrics::Metrics;
use http::{Request, Response};
use kube::client::Body;
use kube::Client;
use serde_json::{json, Value};

pub(crate) type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// One request the reconciler made, waiting for its answer.
pub(crate) struct Call {
    pub body: Value,
    pub content_type: String,
    pub query: String,
    send: tower_test::mock::SendResponse<Response<Body>>,
}

impl Call {
    pub(crate) fn reply(self, status: u16, body: Value) {
        let response = Response::builder().status(status).body(Body::from(serde_json::to_vec(&body).unwrap())).unwrap();
        self.send.send_response(response);
    }

    /// Answers with the request's own body (what an apply or patch returns, near enough).
    pub(crate) fn echo(self) {
        let body = self.body.clone();
        self.reply(200, body);
    }

    pub(crate) fn not_found(self) {
        self.reply(
            404,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
            "code": 404, "message": "not found"}),
        );
    }
}

/// The scripted API server.
pub(crate) struct ApiServer {
    handle: Handle,
}

impl ApiServer {
    /// The next call must be `method path`; returns it to be answered.
    pub(crate) async fn expect(&mut self, method: &str, path: &str) -> Call {
        let (request, send) = self
            .handle
            .next_request()
            .await
            .unwrap_or_else(|| panic!("expected {method} {path}, but no further call was made"));
        let (parts, body) = request.into_parts();
        assert_eq!(
            (parts.method.as_str(), parts.uri.path()),
            (method, path),
            "unexpected call (query {:?})",
            parts.uri.query()
        );
        let bytes = body.collect_bytes().await.unwrap();
        let body =
            if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON request body") };
        let content_type =
            parts.headers.get(http::header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        Call { body, content_type, query: parts.uri.query().unwrap_or_default().to_owned(), send }
    }

    /// A server-side apply of `path` by the operator's field manager; answered with its body.
    pub(crate) async fn expect_apply(&mut self, path: &str) -> Value {
        let call = self.expect("PATCH", path).await;
        assert_eq!(call.content_type, "application/apply-patch+yaml", "{path}");
        assert!(
            call.query.contains("fieldManager=bleepstore-operator") && call.query.contains("force=true"),
            "{}",
            call.query
        );
        let body = call.body.clone();
        call.echo();
        body
    }

    /// A merge patch of `/status`; answered with a minimal object. Returns the new status.
    pub(crate) async fn expect_status(&mut self, path: &str, object: &Value) -> Value {
        let call = self.expect("PATCH", &format!("{path}/status")).await;
        assert_eq!(call.content_type, "application/merge-patch+json");
        let status = call.body["status"].clone();
        let mut answer = object.clone();
        answer["status"] = status.clone();
        call.reply(200, answer);
        status
    }

    /// An event about the object, with the given reason; returns its note.
    pub(crate) async fn expect_event(&mut self, ns: &str, reason: &str) -> String {
        let call = self.expect("POST", &format!("/apis/events.k8s.io/v1/namespaces/{ns}/events")).await;
        assert_eq!(call.body["reason"], reason);
        let note = call.body["note"].as_str().unwrap_or_default().to_owned();
        let body = call.body.clone();
        call.reply(201, body);
        note
    }

    /// The JSON patch that adds `finalizer` to an object without finalizers.
    pub(crate) async fn expect_finalizer_added(&mut self, path: &str, object: &Value, finalizer: &str) {
        let call = self.expect("PATCH", path).await;
        assert_eq!(call.content_type, "application/json-patch+json");
        assert_eq!(
            call.body,
            json!([{"op": "test", "path": "/metadata/finalizers", "value": null}, {"op": "add",
                "path": "/metadata/finalizers", "value": [finalizer]}])
        );
        call.reply(200, object.clone());
    }

    /// The JSON patch that removes the object's first finalizer, `finalizer`.
    pub(crate) async fn expect_finalizer_removed(&mut self, path: &str, object: &Value, finalizer: &str) {
        let call = self.expect("PATCH", path).await;
        assert_eq!(call.content_type, "application/json-patch+json");
        assert_eq!(
            call.body,
            json!([{"op": "test", "path": "/metadata/finalizers/0", "value": finalizer}, {"op": "remove",
                "path": "/metadata/finalizers/0"}])
        );
        call.reply(200, object.clone());
    }
}

/// A recorded admin API call.
pub(crate) type AdminLog = Arc<Mutex<Vec<String>>>;

/// The fake admin API: records every call; answers as configured.
#[derive(Default)]
pub(crate) struct FakeAdmin {
    pub log: AdminLog,
    pub usage: Option<BucketInfo>,
    pub delete_bucket: Option<BucketDeleted>,
    pub fail: Option<AdminError>,
}

impl FakeAdmin {
    fn record(&self, target: &AdminTarget, call: String) -> Result<(), AdminError> {
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&target.token),
            "admin-token",
            "the admin token comes from the store's admin Secret"
        );
        self.log.lock().unwrap().push(call);
        match &self.fail {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl AdminApi for FakeAdmin {
    async fn put_bucket(&self, target: &AdminTarget, name: &str, request: &BucketRequest) -> Result<(), AdminError> {
        let versioning = request.versioning.as_deref().map(|v| format!(" versioning={v}")).unwrap_or_default();
        self.record(target, format!("put_bucket {name} owner={} acl={}{versioning}", request.owner, request.acl))
    }
    async fn bucket_info(&self, target: &AdminTarget, name: &str) -> Result<Option<BucketInfo>, AdminError> {
        self.record(target, format!("bucket_info {name}"))?;
        Ok(self.usage.clone())
    }
    async fn delete_bucket(&self, target: &AdminTarget, name: &str, purge: bool) -> Result<BucketDeleted, AdminError> {
        self.record(target, format!("delete_bucket {name} purge={purge}"))?;
        Ok(self.delete_bucket.unwrap_or(BucketDeleted::Deleted))
    }
    async fn put_key(&self, target: &AdminTarget, access_key: &str, secret_key: &str) -> Result<(), AdminError> {
        assert!(secret_key.len() >= 16);
        self.record(target, format!("put_key {access_key}"))
    }
    async fn put_grants(&self, target: &AdminTarget, access_key: &str, grants: &[Grant]) -> Result<(), AdminError> {
        let grants: Vec<String> = grants.iter().map(|g| format!("{}:{}", g.bucket, g.access)).collect();
        self.record(target, format!("put_grants {access_key} [{}]", grants.join(",")))
    }
    async fn delete_key(&self, target: &AdminTarget, access_key: &str) -> Result<(), AdminError> {
        self.record(target, format!("delete_key {access_key}"))
    }
}

/// Runs `reconcile` against the scripted server; when both are done, checks the reconciler
/// made no call beyond the script. Returns the reconcile's result and the admin calls.
pub(crate) async fn run<R, RF, S, SF>(admin: FakeAdmin, reconcile: R, script: S) -> (RF::Output, Vec<String>)
where
    R: FnOnce(Arc<Context>) -> RF,
    RF: Future + Send + 'static,
    RF::Output: Send + 'static,
    S: FnOnce(ApiServer) -> SF,
    SF: Future<Output = ApiServer> + Send + 'static,
{
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let log = admin.log.clone();
    let settings = Settings { default_image: "bleepstore:test".to_owned() };
    let ctx = Arc::new(Context::new(client, Arc::new(admin), settings, Metrics::new()));
    let server = tokio::spawn(script(ApiServer { handle }));
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(10), reconcile(ctx))
        .await
        .expect("the reconcile finished (a script that answers too few calls hangs it)");
    let mut server = tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("script finished")
        .expect("script passed");
    // The reconcile future owned the only context: with it gone, the channel closes.
    if let Some((request, _)) = server.handle.next_request().await {
        panic!("unexpected extra call {} {}", request.method(), request.uri());
    }
    let calls = log.lock().unwrap().clone();
    (outcome, calls)
}

pub(crate) const NS: &str = "team-a";

pub(crate) fn store_path(name: &str) -> String {
    format!("/apis/bleepstore.io/v1alpha1/namespaces/{NS}/bleepstores/{name}")
}
pub(crate) fn bucket_path(name: &str) -> String {
    format!("/apis/bleepstore.io/v1alpha1/namespaces/{NS}/buckets/{name}")
}
pub(crate) fn key_path(name: &str) -> String {
    format!("/apis/bleepstore.io/v1alpha1/namespaces/{NS}/accesskeys/{name}")
}
pub(crate) fn core_path(resource: &str, name: &str) -> String {
    format!("/api/v1/namespaces/{NS}/{resource}/{name}")
}

/// A store object; `finalized` adds the store finalizer.
pub(crate) fn store_json(spec: Value, finalized: bool) -> Value {
    let mut obj = json!({
        "apiVersion": "bleepstore.io/v1alpha1", "kind": "BleepStore",
        "metadata": {"name": "demo", "namespace": NS, "uid": "uid-demo", "generation": 1, "resourceVersion": "1"},
        "spec": spec,
    });
    if finalized {
        obj["metadata"]["finalizers"] = json!(["bleepstore.io/store-protection"]);
    }
    obj
}

/// A Ready store as Buckets and AccessKeys see it.
pub(crate) fn ready_store() -> Value {
    let mut store = store_json(json!({"storage": {"size": "10Gi"}}), true);
    store["status"] = json!({"conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": "",
        "lastTransitionTime": "2026-01-01T00:00:00Z"}], "readyReplicas": 1});
    store
}

pub(crate) fn admin_secret() -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "demo-admin", "namespace": NS},
        "data": {"BLEEPSTORE_ADMIN_TOKEN": "YWRtaW4tdG9rZW4="}})
}

pub(crate) fn parse<K: serde::de::DeserializeOwned>(value: &Value) -> Arc<K> {
    Arc::new(serde_json::from_value(value.clone()).unwrap())
}

/// The condition of `type_` in a status.
pub(crate) fn condition<'a>(status: &'a Value, type_: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {status}"))
}

/// Sets a deletion timestamp.
pub(crate) fn deleting(mut obj: Value) -> Value {
    obj["metadata"]["deletionTimestamp"] = json!("2026-01-02T00:00:00Z");
    obj
}

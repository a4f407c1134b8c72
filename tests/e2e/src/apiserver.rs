//! A test Kubernetes API server: the REST protocol over plain HTTP on loopback, enough for
//! kube-rs and for `kubectl apply --server-side`, holding everything in memory.
//!
//! It does: discovery (`/api`, `/apis`, group-version resource lists, including the kinds of
//! CRDs once created; `/version`); get, list (label and field selectors), watch (newline-delimited
//! events from any `resourceVersion`, replayed from a full history, so 410 Gone never happens;
//! no bookmarks), create (`generateName` too), update (optimistic concurrency on
//! `resourceVersion`), delete, JSON merge patch, JSON patch and server-side apply (create when
//! absent; the last configuration each field manager applied is merged in, fields it dropped are
//! removed); the `/status` subresource; `metadata.generation` bumped on changes outside
//! `metadata` and `status`; writes that change nothing return the object unchanged, with no new
//! `resourceVersion`; finalizers and `deletionTimestamp`; owner-reference garbage collection
//! (background); and validation of custom resources against the CRD's `openAPIV3Schema`
//! (pruning, defaults, structure, CEL) with a 422 `Invalid` `Status`.
//!
//! It does not: authenticate or authorize (every request is allowed, and logged so tests can
//! derive the RBAC a client needs), validate built-in kinds, default built-in fields, run any
//! controller (the kubelet harness plays the StatefulSet controller), detect apply conflicts
//! between field managers (it behaves as if `force` were always set), merge lists by key under
//! apply (lists are replaced whole), merge strategic merge patches by key (they are applied as JSON
//! merge patches), paginate (`limit` is ignored), serve OpenAPI documents (so kubectl runs with
//! `--validate=false`; the server still validates custom resources), aggregated discovery,
//! protobuf, `deletecollection`, dry runs, or cascading foreground deletion.

mod errors;
mod handler;
mod patch;
mod path;
mod resources;
mod schema;
mod selectors;
mod store;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub use errors::ApiError;
pub use handler::RequestRecord;
pub use store::{Part, Store};

/// A running test API server.
pub struct TestApiServer {
    pub addr: SocketAddr,
    pub state: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

/// What the handlers share.
pub struct Shared {
    pub store: Mutex<Store>,
    pub requests: Mutex<Vec<RequestRecord>>,
}

impl TestApiServer {
    /// Starts a server on `127.0.0.1:0`.
    pub async fn start() -> Self {
        let state = Arc::new(Shared { store: Mutex::new(Store::default()), requests: Mutex::new(Vec::new()) });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the test API server");
        let addr = listener.local_addr().expect("local address");
        let app = handler::router(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig pointing at this server, for kube-rs and kubectl.
    pub fn kubeconfig(&self, namespace: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\ncontexts:\n- name: \
                test\n  context:\n    cluster: test\n    user: test\n    namespace: {namespace}\ncurrent-context: test\nusers:\n- name: test\n  user: {{}}\n",
            self.url()
        )
    }

    /// Every request served so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for TestApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

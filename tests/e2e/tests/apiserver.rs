//! The test API server's own contract, through HTTP as clients see it (and kubectl for apply).

use bleepstore_e2e::apiserver::TestApiServer;
use serde_json::{json, Value};

const CRDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../crds/bleepstore.io.yaml");
const BUCKETS: &str = "/apis/bleepstore.io/v1alpha1/namespaces/ns/buckets";

fn kubectl(server: &TestApiServer, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig("ns")).unwrap();
    std::process::Command::new("kubectl")
        .env("KUBECONFIG", &kubeconfig)
        .env("HOME", dir)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .args(args)
        .output()
        .expect("kubectl must be installed: see https://kubernetes.io/docs/tasks/tools/")
}

async fn call(
    server: &TestApiServer,
    method: &str,
    path: &str,
    content_type: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = client.request(method.parse().unwrap(), format!("{}{path}", server.url()));
    if let Some(body) = body {
        request = request.header("content-type", content_type).body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn server_with_crds() -> (TestApiServer, tempfile::TempDir) {
    let server = TestApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let out = kubectl(&server, dir.path(), &["apply", "--server-side", "--validate=false", "-f", CRDS]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (server, dir)
}

fn bucket(name: &str, extra: &Value) -> Value {
    let mut b = json!({"apiVersion": "bleepstore.io/v1alpha1", "kind": "Bucket", "metadata": {"name": name},
        "spec": {"store": "demo"}});
    json_patch::merge(&mut b, extra);
    b
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_apply_defaults_validates_and_is_idempotent() {
    let (server, dir) = server_with_crds().await;
    let manifest = dir.path().join("bucket.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: bleepstore.io/v1alpha1\nkind: Bucket\nmetadata:\n  name: photos\nspec:\n  store: demo\n",
    )
    .unwrap();
    let apply = || {
        kubectl(&server, dir.path(), &["apply", "--server-side", "--validate=false", "-f", manifest.to_str().unwrap()])
    };
    assert!(apply().status.success());
    let (status, first) = call(&server, "GET", &format!("{BUCKETS}/photos"), "", None).await;
    assert_eq!(status, 200);
    assert_eq!(first["spec"]["deletionPolicy"], "Retain", "schema defaults are applied");
    assert_eq!(first["metadata"]["generation"], 1);
    assert!(apply().status.success());
    let (_, second) = call(&server, "GET", &format!("{BUCKETS}/photos"), "", None).await;
    assert_eq!(
        second["metadata"]["resourceVersion"], first["metadata"]["resourceVersion"],
        "a no-op apply writes nothing"
    );

    std::fs::write(
        &manifest,
        "apiVersion: bleepstore.io/v1alpha1\nkind: Bucket\nmetadata:\n  name: photos\nspec:\n  store: elsewhere\n",
    )
    .unwrap();
    let refused = apply();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("spec.store is immutable"), "CEL transition rules run");
}

#[tokio::test(flavor = "multi_thread")]
async fn generation_status_finalizers_and_garbage_collection() {
    let (server, _dir) = server_with_crds().await;
    let (status, created) = call(
        &server,
        "POST",
        BUCKETS,
        "application/json",
        Some(bucket("bk1", &json!({"metadata": {"finalizers": ["x/y"]}}))),
    )
    .await;
    assert_eq!(status, 201);
    let uid = created["metadata"]["uid"].as_str().unwrap().to_owned();
    let (status, body) = call(&server, "POST", BUCKETS, "application/json", Some(bucket("bk1", &json!({})))).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("AlreadyExists")));
    let (status, body) = call(
        &server,
        "POST",
        BUCKETS,
        "application/json",
        Some(bucket("bk2", &json!({"spec": {"bucketName": "a..b"}}))),
    )
    .await;
    assert_eq!((status, body["reason"].as_str()), (422, Some("Invalid")));

    // A status write does not bump the generation; a spec change does.
    let (_, after_status) = call(
        &server,
        "PATCH",
        &format!("{BUCKETS}/bk1/status"),
        "application/merge-patch+json",
        Some(json!({"status": {"bucketName": "bk1"}})),
    )
    .await;
    assert_eq!(after_status["metadata"]["generation"], 1);
    assert_eq!(after_status["status"]["bucketName"], "bk1");
    let (_, after_spec) = call(
        &server,
        "PATCH",
        &format!("{BUCKETS}/bk1"),
        "application/merge-patch+json",
        Some(json!({"spec": {"deletionPolicy": "Delete"}, "status": {"bucketName": "ignored"}})),
    )
    .await;
    assert_eq!(after_spec["metadata"]["generation"], 2);
    assert_eq!(after_spec["status"]["bucketName"], "bk1", "the main resource cannot write status");

    // An owned ConfigMap goes when its owner goes; the owner waits for its finalizer.
    let owned = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm",
        "ownerReferences": [{"apiVersion": "bleepstore.io/v1alpha1", "kind": "Bucket", "name": "bk1", "uid": uid}]}});
    assert_eq!(call(&server, "POST", "/api/v1/namespaces/ns/configmaps", "application/json", Some(owned)).await.0, 201);
    let rv = after_spec["metadata"]["resourceVersion"].as_str().unwrap().to_owned();
    let (_, deleting) = call(&server, "DELETE", &format!("{BUCKETS}/bk1"), "", None).await;
    assert!(deleting["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(call(&server, "GET", "/api/v1/namespaces/ns/configmaps/cm", "", None).await.0, 200);
    let remove = json!([{"op": "test", "path": "/metadata/finalizers/0", "value": "x/y"}, {"op": "remove",
        "path": "/metadata/finalizers/0"}]);
    assert_eq!(
        call(&server, "PATCH", &format!("{BUCKETS}/bk1"), "application/json-patch+json", Some(remove)).await.0,
        200
    );
    assert_eq!(call(&server, "GET", &format!("{BUCKETS}/bk1"), "", None).await.0, 404);
    assert_eq!(call(&server, "GET", "/api/v1/namespaces/ns/configmaps/cm", "", None).await.0, 404, "garbage collected");

    // A watch from the earlier resourceVersion replays what happened since.
    let text = reqwest::get(format!("{}{BUCKETS}?watch=true&resourceVersion={rv}&timeoutSeconds=1", server.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let types: Vec<String> =
        text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(types, ["MODIFIED", "DELETED"], "deletionTimestamp set, then gone when the last finalizer went");
    let verbs: Vec<String> = server.requests().iter().map(|r| format!("{} {}", r.verb, r.resource)).collect();
    assert!(verbs.contains(&"watch buckets".to_owned()) && verbs.contains(&"create configmaps".to_owned()));
}

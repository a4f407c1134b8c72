//! Schema tests: custom resources checked against the generated `openAPIV3Schema` — the
//! structural rules with `jsonschema`, the CEL rules (`x-kubernetes-validations`, including the
//! transition rules that compare with the old object) with `kube-cel`, as the API server would.

// Object builders take `serde_json::Value`s by value, the way `json!` reads as a table.
#![allow(clippy::needless_pass_by_value)]

use bleepstore_operator::crd;
use serde_json::{json, Value};

/// The schema of the CRD of `kind`.
fn schema(kind: &str) -> Value {
    let crd = crd::all().into_iter().find(|c| c.spec.names.kind == kind).expect("known kind");
    let schema = crd.spec.versions[0].schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap();
    serde_json::to_value(schema).unwrap()
}

/// Every error the API server would report for creating `object` (or updating `old` to it).
fn errors(object: &Value, old: Option<&Value>) -> Vec<String> {
    let kind = object["kind"].as_str().unwrap();
    let schema = schema(kind);
    let validator = jsonschema::validator_for(&schema).expect("the CRD schema compiles");
    let mut out: Vec<String> = validator.iter_errors(object).map(|e| format!("{}: {e}", e.instance_path())).collect();
    if let Err(cel) = kube_cel::Validator::new().validate(&schema, object, old) {
        out.extend(cel.iter().map(|e| e.to_string()));
    }
    unknown_fields(&schema, object, "", &mut out);
    out
}

/// Fields the schema does not declare: the API server's strict field validation (kubectl's
/// default) rejects them as `unknown field`, where plain JSON Schema would allow them.
fn unknown_fields(schema: &Value, object: &Value, path: &str, out: &mut Vec<String>) {
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    match object {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            for (name, value) in map {
                if path.is_empty() && ["apiVersion", "kind", "metadata"].contains(&name.as_str()) {
                    continue;
                }
                let child = format!("{path}.{name}");
                match (properties.and_then(|p| p.get(name)), schema.get("additionalProperties")) {
                    (Some(field), _) => unknown_fields(field, value, &child, out),
                    (None, Some(additional)) if additional.is_object() => {
                        unknown_fields(additional, value, &child, out)
                    }
                    (None, _) => out.push(format!("unknown field \"{}\"", &child[1..])),
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    unknown_fields(item_schema, item, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

fn assert_valid(object: &Value, old: Option<&Value>) {
    let errors = errors(object, old);
    assert!(errors.is_empty(), "expected valid, got {errors:#?}");
}

fn assert_rejected(object: &Value, old: Option<&Value>, needle: &str) {
    let errors = errors(object, old);
    assert!(errors.iter().any(|e| e.contains(needle)), "expected an error containing {needle:?}, got {errors:#?}");
}

fn store(spec: Value) -> Value {
    json!({"apiVersion": "bleepstore.io/v1alpha1", "kind": "BleepStore", "metadata": {"name": "demo",
        "namespace": "ns"}, "spec": spec})
}

fn bucket(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "bleepstore.io/v1alpha1", "kind": "Bucket", "metadata": {"name": name, "namespace": "ns"},
        "spec": spec})
}

fn key(spec: Value) -> Value {
    json!({"apiVersion": "bleepstore.io/v1alpha1", "kind": "AccessKey", "metadata": {"name": "app", "namespace": "ns"},
        "spec": spec})
}

fn fixture(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/fixtures/builders/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::Deserializer::from_str(&text).map(|d| serde::Deserialize::deserialize(d).unwrap()).collect()
}

#[test]
fn every_builder_fixture_is_valid() {
    for name in ["store-minimal.input.yaml", "store-full.input.yaml", "bucket.input.yaml", "access-key.input.yaml"] {
        for object in fixture(name) {
            assert_valid(&object, None);
            assert_valid(&object, Some(&object));
        }
    }
}

#[test]
fn store_fields_are_checked() {
    assert_rejected(&store(json!({})), None, "\"storage\" is a required property");
    assert_rejected(
        &store(json!({"storage": {"size": "10Gi"}, "replicas": 2})),
        None,
        "2 is greater than the maximum of 1",
    );
    assert_rejected(
        &store(json!({"storage": {"size": "10Gi"}, "replicas": 0})),
        None,
        "0 is less than the minimum of 1",
    );
    assert_rejected(&store(json!({"storage": {"size": "ten gigs"}})), None, "storage.size must be a positive quantity");
    assert_rejected(&store(json!({"storage": {"size": "10Gi"}, "logFormat": "xml"})), None, "\"xml\" is not one of");
    assert_rejected(
        &store(json!({"storage": {"size": "10Gi"}, "ports": {"s3": 9000, "management": 9000}})),
        None,
        "must differ",
    );
    assert_rejected(
        &store(json!({"storage": {"size": "10Gi"}, "ports": {"s3": 70000}})),
        None,
        "greater than the maximum",
    );
    assert_rejected(
        &store(json!({"storage": {"size": "10Gi"}, "service": {"type": "ExternalName"}})),
        None,
        "is not one of",
    );
    assert_rejected(
        &store(json!({"storage": {"size": "10Gi"}, "backend": {"type": "S3"}})),
        None,
        "backend.s3 is required",
    );
    assert_rejected(
        &store(json!({"storage": {"size": "10Gi"}, "backend": {"type": "Local", "azure": {"container": "abc",
                "credentialsSecret": {"name": "x"}}}})),
        None,
        "backend.azure is required when backend.type is Azure, and only then",
    );
    assert_rejected(
        &store(json!({"storage": {"size": "10Gi"}, "surprise": true})),
        None,
        "unknown field \"spec.surprise\"",
    );
    assert_rejected(
        &store(json!({"storage": {"size": "10Gi", "sise": "1Gi"}})),
        None,
        "unknown field \"spec.storage.sise\"",
    );
}

#[test]
fn storage_may_only_grow_and_its_class_is_immutable() {
    let old = store(json!({"storage": {"size": "10Gi", "storageClassName": "fast"}}));
    assert_valid(&store(json!({"storage": {"size": "20Gi", "storageClassName": "fast"}})), Some(&old));
    assert_valid(&store(json!({"storage": {"size": "10240Mi", "storageClassName": "fast"}})), Some(&old));
    assert_rejected(
        &store(json!({"storage": {"size": "5Gi", "storageClassName": "fast"}})),
        Some(&old),
        "storage.size may only grow",
    );
    // After a refused resize the size may go back down to what every volume has, not below.
    let mut refused = store(json!({"storage": {"size": "30Gi", "storageClassName": "fast"}}));
    refused["status"] = json!({"volumes": [{"claim": "data-demo-0", "requested": "10Gi", "capacity": "10Gi"}]});
    let mut back = store(json!({"storage": {"size": "10Gi", "storageClassName": "fast"}}));
    back["status"] = refused["status"].clone();
    assert_valid(&back, Some(&refused));
    let mut below = store(json!({"storage": {"size": "8Gi", "storageClassName": "fast"}}));
    below["status"] = refused["status"].clone();
    assert_rejected(&below, Some(&refused), "storage.size may only grow");
    assert_rejected(
        &store(json!({"storage": {"size": "10Gi", "storageClassName": "slow"}})),
        Some(&old),
        "storageClassName is immutable",
    );
    assert_rejected(&store(json!({"storage": {"size": "10Gi"}})), Some(&old), "storageClassName is immutable");
    let local = store(json!({"storage": {"size": "10Gi"}}));
    let s3 = store(json!({"storage": {"size": "10Gi"}, "backend": {"type": "S3", "s3": {"bucket": "remote",
            "credentialsSecret": {"name": "aws"}}}}));
    assert_valid(&s3, None);
    assert_rejected(&s3, Some(&local), "backend.type is immutable");
}

#[test]
fn bucket_names_follow_the_s3_rules() {
    assert_valid(&bucket("photos", json!({"store": "demo"})), None);
    assert_valid(&bucket("x", json!({"store": "demo", "bucketName": "my.bucket-01"})), None);
    assert_rejected(&bucket("x", json!({"store": "demo", "bucketName": "Bad_Name"})), None, "does not match");
    assert_rejected(&bucket("x", json!({"store": "demo", "bucketName": "ab"})), None, "does not match");
    assert_rejected(&bucket("x", json!({"store": "demo", "bucketName": "a..b"})), None, "must not contain '..'");
    assert_rejected(&bucket("x", json!({"store": "demo", "bucketName": "my-.bucket"})), None, "must not contain");
    assert_rejected(
        &bucket("x", json!({"store": "demo", "bucketName": "192.168.1.10"})),
        None,
        "formatted as an IP address",
    );
    assert_rejected(&bucket("ab", json!({"store": "demo"})), None, "metadata.name is not a valid S3 bucket name");
    assert_rejected(&bucket("photos", json!({"store": "demo", "deletionPolicy": "Shred"})), None, "is not one of");
    assert_rejected(&bucket("photos", json!({"store": "demo", "acl": "log-delivery-write"})), None, "is not one of");
    assert_rejected(&bucket("photos", json!({})), None, "\"store\" is a required property");
}

#[test]
fn bucket_store_and_name_are_immutable() {
    let old = bucket("photos", json!({"store": "demo", "bucketName": "team-photos"}));
    assert_valid(
        &bucket("photos", json!({"store": "demo", "bucketName": "team-photos", "deletionPolicy": "Delete"})),
        Some(&old),
    );
    assert_rejected(
        &bucket("photos", json!({"store": "other", "bucketName": "team-photos"})),
        Some(&old),
        "spec.store is immutable",
    );
    assert_rejected(
        &bucket("photos", json!({"store": "demo", "bucketName": "team-pics"})),
        Some(&old),
        "spec.bucketName is immutable",
    );
    assert_rejected(&bucket("photos", json!({"store": "demo"})), Some(&old), "spec.bucketName is immutable");
}

/// Versioning may be enabled, suspended and enabled again, but not removed once Enabled (an S3
/// bucket never returns to unversioned); only the two states exist.
#[test]
fn bucket_versioning_may_not_be_removed_once_enabled() {
    let plain = bucket("photos", json!({"store": "demo"}));
    let enabled = bucket("photos", json!({"store": "demo", "versioning": "Enabled"}));
    let suspended = bucket("photos", json!({"store": "demo", "versioning": "Suspended"}));
    assert_valid(&enabled, Some(&plain));
    assert_valid(&suspended, Some(&enabled));
    assert_valid(&enabled, Some(&suspended));
    assert_rejected(&plain, Some(&enabled), "spec.versioning cannot be removed once Enabled");
    assert_rejected(&bucket("photos", json!({"store": "demo", "versioning": "On"})), None, "versioning");
}

/// Tags: at most 50, values of allowed characters up to 256, keys 1 to 128 characters and
/// never `aws:` (the key characters the store checks, and refuses with a condition).
#[test]
fn bucket_tags_follow_the_s3_rules() {
    let tagged = |tags: Value| bucket("photos", json!({"store": "demo", "tags": tags}));
    assert_valid(&tagged(json!({"team": "data eng", "Projet Été": "a+b-c=d.e_f:g/h@i 9", "empty": ""})), None);
    let fifty: serde_json::Map<String, Value> = (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
    assert_valid(&tagged(Value::Object(fifty.clone())), None);
    let mut fifty_one = fifty;
    fifty_one.insert("k50".into(), json!("v"));
    assert_rejected(&tagged(Value::Object(fifty_one)), None, "spec/tags");
    assert_rejected(&tagged(json!({"k": "v".repeat(257)})), None, "spec/tags/k");
    assert_rejected(&tagged(json!({"k": "semi;colon"})), None, "spec/tags/k");
    assert_rejected(&tagged(json!({"aws:owner": "me"})), None, "may not start with aws:");
    assert_rejected(&tagged(json!({"k".repeat(129): "v"})), None, "tag keys are 1 to 128 characters");
}

#[test]
fn access_key_rules() {
    assert_valid(&key(json!({"store": "demo", "buckets": [{"bucket": "photos", "access": "ReadOnly"}]})), None);
    assert_rejected(
        &key(json!({"store": "demo", "buckets": [{"bucket": "photos", "access": "Admin"}]})),
        None,
        "is not one of",
    );
    assert_rejected(
        &key(json!({"store": "demo", "buckets": [{"bucket": "photos", "access": "ReadOnly"}, {"bucket": "photos",
                "access": "WriteOnly"}]})),
        None,
        "each bucket may be listed once",
    );
    assert_rejected(&key(json!({"store": "demo", "secretName": "Not A Name"})), None, "does not match");
    let old = key(json!({"store": "demo", "secretName": "app-s3"}));
    assert_valid(
        &key(json!({"store": "demo", "secretName": "app-s3", "buckets": [{"bucket": "b", "access": "ReadWrite"}]})),
        Some(&old),
    );
    assert_rejected(&key(json!({"store": "demo", "secretName": "other"})), Some(&old), "spec.secretName is immutable");
    assert_rejected(&key(json!({"store": "elsewhere", "secretName": "app-s3"})), Some(&old), "spec.store is immutable");
    // Rotation: by generation, on a schedule, or both; periods in hours or days.
    for rotation in [json!({"generation": 3}), json!({"every": "720h"}), json!({"generation": 1, "every": "30d"})] {
        assert_valid(&key(json!({"store": "demo", "rotation": rotation})), None);
    }
    for every in ["1w", "30", "h", "-5d"] {
        assert_rejected(&key(json!({"store": "demo", "rotation": {"every": every}})), None, "does not match");
    }
    assert_rejected(&key(json!({"store": "demo", "rotation": {"gracePeriod": "2d"}})), None, "does not match");
    assert_rejected(&key(json!({"store": "demo", "deletionPolicy": "Orphan"})), None, "is not one of");
}

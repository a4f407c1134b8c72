//! Builder tests: a custom resource from a YAML fixture becomes the complete expected manifests
//! (`fixtures/builders/<case>.expected.yaml`). Run with `BLESS=1` to rewrite the expectations
//! after an intended change, then review the diff.

use std::path::PathBuf;

use bleepstore_operator::build::access_key::{grants, is_keys_secret, KeyRecord, ResolvedGrant, SecretTemplate};
use bleepstore_operator::build::{self, BackendCredentials, Credentials, KeptSecrets, StoreInputs};
use bleepstore_operator::crd::{AccessKey, BackendType, BleepStore, Bucket, BucketAccess};
use serde::Deserialize;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/builders").join(name)
}

fn documents<T: for<'de> Deserialize<'de>>(case: &str) -> Vec<T> {
    let text = std::fs::read_to_string(fixture(&format!("{case}.input.yaml"))).unwrap();
    serde_yaml::Deserializer::from_str(&text).map(|doc| T::deserialize(doc).unwrap()).collect()
}

fn yaml_docs(values: Vec<serde_json::Value>) -> String {
    values.into_iter().map(|v| format!("---\n{}", serde_yaml::to_string(&v).unwrap())).collect()
}

fn check(case: &str, actual: &str) {
    let path = fixture(&format!("{case}.expected.yaml"));
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    pretty_assertions::assert_eq!(expected, actual, "{case}: built manifests differ from {}", path.display());
}

fn store_inputs(store: &BleepStore) -> StoreInputs<'_> {
    StoreInputs {
        store,
        image: "ghcr.io/bleepstore/bleepstore:0.1.0".to_owned(),
        secrets: KeptSecrets {
            root: Credentials {
                access_key: "BSROOTKEY000000000001".to_owned(),
                secret_key: "root-secret-0123456789abcdef".into(),
            },
            admin_token: "admin-token-0123456789abcdef".into(),
            encryption_key: "ZW5jcnlwdGlvbi1rZXktZml4dHVyZS0wMTIzNDU2Nzg=".into(),
        },
        // The credentials a reconciler would have read from the user's Secret.
        backend: match store.spec.backend.type_ {
            BackendType::Local => None,
            BackendType::S3 => Some(BackendCredentials::S3(Credentials {
                access_key: "AKIAFIXTURE".to_owned(),
                secret_key: "remote-secret-fixture".into(),
            })),
            BackendType::Azure => Some(BackendCredentials::Azure {
                account: "fixtureaccount".to_owned(),
                key: Some("a2V5LWZpeHR1cmU=".into()),
                sas_token: None,
            }),
        },
        claim_template_size: store.spec.storage.size.clone(),
        tls_certificate: None,
    }
}

fn store_case(case: &str) {
    let store = documents::<BleepStore>(case).remove(0);
    let build::StoreResources {
        config_map,
        root_secret,
        admin_secret,
        headless_service,
        client_service,
        stateful_set,
        pod_disruption_budget,
    } = build::store_resources(&store_inputs(&store));
    let mut docs = vec![
        serde_json::to_value(config_map).unwrap(),
        serde_json::to_value(root_secret).unwrap(),
        serde_json::to_value(admin_secret).unwrap(),
        serde_json::to_value(headless_service).unwrap(),
        serde_json::to_value(client_service).unwrap(),
        serde_json::to_value(stateful_set).unwrap(),
    ];
    docs.extend(pod_disruption_budget.map(|p| serde_json::to_value(p).unwrap()));
    check(case, &yaml_docs(docs));
}

#[test]
fn minimal_store() {
    store_case("store-minimal");
}

#[test]
fn store_with_every_option() {
    store_case("store-full");
}

#[test]
fn store_on_a_remote_s3_backend() {
    store_case("store-s3");
}

#[test]
fn store_on_an_azure_backend() {
    store_case("store-azure");
}

#[test]
fn existing_claim_template_keeps_its_size() {
    let mut store = documents::<BleepStore>("store-minimal").remove(0);
    store.spec.storage.size = "20Gi".to_owned();
    let inputs = StoreInputs { claim_template_size: "10Gi".to_owned(), ..store_inputs(&store) };
    let sts = build::store_resources(&inputs).stateful_set;
    let template = &sts.spec.unwrap().volume_claim_templates.unwrap()[0];
    let requests = template.spec.as_ref().unwrap().resources.as_ref().unwrap().requests.as_ref().unwrap();
    assert_eq!(requests["storage"].0, "10Gi");
}

#[test]
fn config_and_credential_changes_roll_the_pods() {
    let store = documents::<BleepStore>("store-minimal").remove(0);
    let hash = |s: &BleepStore| {
        let sts = build::store_resources(&store_inputs(s)).stateful_set;
        sts.spec.unwrap().template.metadata.unwrap().annotations.unwrap()["bleepstore.io/config-hash"].clone()
    };
    let mut changed = store.clone();
    changed.spec.region = "eu-central-1".to_owned();
    assert_ne!(hash(&store), hash(&changed));
    assert_eq!(hash(&store), hash(&store.clone()));
    let sts = |inputs: &StoreInputs<'_>| build::store_resources(inputs).stateful_set.spec.unwrap().template;
    let mut new_token = store_inputs(&store);
    new_token.secrets.admin_token = "another-admin-token-0123456789".into();
    assert_ne!(sts(&store_inputs(&store)), sts(&new_token), "a regenerated admin token restarts the server");
    let s3 = documents::<BleepStore>("store-s3").remove(0);
    let with_keys = |secret: &str| StoreInputs {
        backend: Some(BackendCredentials::S3(Credentials {
            access_key: "AKIAREMOTE".to_owned(),
            secret_key: secret.into(),
        })),
        ..store_inputs(&s3)
    };
    assert_ne!(sts(&with_keys("one")), sts(&with_keys("two")), "rotated remote keys restart the server");
}

#[test]
fn bucket_admin_request() {
    let bucket = documents::<Bucket>("bucket").remove(0);
    let docs = vec![serde_json::json!({
        "bucketName": build::bucket::bucket_name(&bucket),
        "request": build::bucket::request(&bucket),
    })];
    check("bucket", &yaml_docs(docs));
}

#[test]
fn access_key_secret_and_grants() {
    let store = documents::<BleepStore>("store-minimal").remove(0);
    let keys = documents::<AccessKey>("access-key");
    let credentials =
        Credentials { access_key: "BSKEY000000000000001".to_owned(), secret_key: "key-secret-0123456789abcdef".into() };
    let mut docs = Vec::new();
    // The second key is retained on deletion and belongs to a store with a private CA.
    let ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    for (i, key) in keys.iter().enumerate() {
        let resolved: Vec<ResolvedGrant> = key
            .spec
            .buckets
            .iter()
            .map(|g| ResolvedGrant { bucket_name: format!("team-a-{}", g.bucket), access: g.access })
            .collect();
        let template = SecretTemplate { key, store: &store, grants: &resolved, ca_bundle: (i == 1).then_some(ca) };
        let built = template.secret(&credentials, &KeyRecord::default());
        assert!(is_keys_secret(&built, key), "owned, or retained and recognised by its labels");
        assert_eq!(built.metadata.owner_references.is_none(), i == 1, "only a retained Secret has no owner");
        docs.push(serde_json::to_value(built).unwrap());
        docs.push(serde_json::json!({ "grants": grants(&resolved) }));
    }
    // After a rotation: the record of the previous key, read back the same.
    let record = KeyRecord {
        rotation_generation: 2,
        previous: Some(("BSKEY000000000000000".to_owned(), "2026-12-03T10:00:00Z".parse().unwrap())),
        pending: None,
        rotated_at: Some("2026-12-03T09:00:00Z".parse().unwrap()),
    };
    let rotated =
        SecretTemplate { key: &keys[0], store: &store, grants: &[], ca_bundle: None }.secret(&credentials, &record);
    assert_eq!(KeyRecord::from_secret(Some(&rotated)), record);
    assert!(is_keys_secret(&rotated, &keys[0]), "an owned Secret is its owner's");
    assert!(!is_keys_secret(&rotated, &keys[1]), "and nobody else's");
    docs.push(serde_json::to_value(&rotated).unwrap());
    check("access-key", &yaml_docs(docs));
    assert_eq!(BucketAccess::ReadOnly.admin_name(), "read");
}

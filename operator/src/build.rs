//! Pure builders: a validated `BleepStore` (plus the values dereferenced for it) becomes the
//! complete set of Kubernetes objects that run it. Nothing here touches a client, a clock or a
//! random source, so a builder's output is a function of its input, tested as whole manifests.

pub mod access_key;
pub mod bucket;
mod config;
mod labels;
mod pdb;
mod secrets;
mod services;
mod statefulset;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

pub use config::{render_config, CONFIG_KEY};
pub use labels::{owner_reference, selector_labels, FIELD_MANAGER, MANAGED_BY};
pub use secrets::{
    ADMIN_TOKEN_KEY, AZURE_ACCOUNT, AZURE_KEY, AZURE_SAS_TOKEN, ENCRYPTION_KEY_KEY, ROOT_ACCESS_KEY_KEY,
    ROOT_SECRET_KEY_KEY, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY,
};

use secrecy::{ExposeSecret, SecretString};

use crate::crd::BleepStore;

/// A credential pair; the secret never prints (`secrecy`).
#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: SecretString,
}

/// A remote backend's credentials, read from the user's Secret. The pod reads them from that
/// Secret itself; the operator hashes them into the pod template (so a rotation rolls the pod)
/// and puts the Azure account name, which is not secret, into the config file.
#[derive(Debug, Clone)]
pub enum BackendCredentials {
    S3(Credentials),
    Azure { account: String, key: Option<SecretString>, sas_token: Option<SecretString> },
}

impl BackendCredentials {
    /// Every value, in a fixed order, for the pod-template hash.
    pub fn hashed(&self) -> Vec<&str> {
        match self {
            Self::S3(c) => vec![c.access_key.as_str(), c.secret_key.expose_secret()],
            Self::Azure { account, key, sas_token } => vec![
                account.as_str(),
                key.as_ref().map_or("", ExposeSecret::expose_secret),
                sas_token.as_ref().map_or("", ExposeSecret::expose_secret),
            ],
        }
    }
}

/// The secrets a store generates once and keeps in its Secrets: read back on every later run.
#[derive(Debug, Clone)]
pub struct KeptSecrets {
    /// The root credential, in the root Secret.
    pub root: Credentials,
    /// The admin API bearer token, in the admin Secret.
    pub admin_token: SecretString,
    /// The key sealing the server's secrets at rest, in the admin Secret.
    pub encryption_key: SecretString,
}

/// Everything a store's objects are built from: the resource, and what the reconciler resolved
/// for it (the image, the kept secrets, the backend's credentials, the claim size in use).
#[derive(Debug, Clone)]
pub struct StoreInputs<'a> {
    pub store: &'a BleepStore,
    /// The container image (spec, or the operator's default).
    pub image: String,
    pub secrets: KeptSecrets,
    /// The remote backend's keys, read from the user's Secret (hashed into the pod template
    /// so a rotation rolls the pod; the pod reads them from that Secret).
    pub backend: Option<BackendCredentials>,
    /// The size written in the StatefulSet's claim template: the template cannot change once
    /// created, so an existing StatefulSet keeps its original size and growth goes to the PVCs.
    pub claim_template_size: String,
    /// The TLS certificate's SHA-256 (hashed into the pod template, so a renewed certificate,
    /// e.g. by cert-manager, rolls the pod onto it).
    pub tls_certificate: Option<String>,
}

/// The objects one store needs. `apply` destructures this without `..`, so an object that is
/// built but never applied does not compile.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreResources {
    pub config_map: ConfigMap,
    pub root_secret: Secret,
    pub admin_secret: Secret,
    pub headless_service: Service,
    pub client_service: Service,
    pub stateful_set: StatefulSet,
    pub pod_disruption_budget: Option<PodDisruptionBudget>,
}

/// Builds every object of a store.
pub fn store_resources(inputs: &StoreInputs<'_>) -> StoreResources {
    let config_map = config::config_map(inputs.store, inputs.backend.as_ref());
    let kept = &inputs.secrets;
    let config_hash = config::pod_hash(&config_map, kept, inputs.backend.as_ref(), inputs.tls_certificate.as_deref());
    StoreResources {
        root_secret: secrets::root_secret(inputs.store, &kept.root),
        admin_secret: secrets::admin_secret(inputs.store, kept),
        headless_service: services::headless(inputs.store),
        client_service: services::client(inputs.store),
        stateful_set: statefulset::stateful_set(inputs, &config_hash),
        pod_disruption_budget: pdb::pod_disruption_budget(inputs.store),
        config_map,
    }
}

/// Names of a store's objects, derived from the store's name.
pub mod names {
    use crate::crd::BleepStore;
    use kube::ResourceExt;

    pub fn config_map(store: &BleepStore) -> String {
        format!("{}-config", store.name_any())
    }
    pub fn root_secret(store: &BleepStore) -> String {
        format!("{}-root", store.name_any())
    }
    pub fn admin_secret(store: &BleepStore) -> String {
        format!("{}-admin", store.name_any())
    }
    pub fn headless_service(store: &BleepStore) -> String {
        format!("{}-headless", store.name_any())
    }
    pub fn client_service(store: &BleepStore) -> String {
        store.name_any()
    }
    pub fn stateful_set(store: &BleepStore) -> String {
        store.name_any()
    }
    pub fn pod_disruption_budget(store: &BleepStore) -> String {
        store.name_any()
    }
    /// The claim template's name; PVCs are `data-<store>-<ordinal>`.
    pub const DATA_VOLUME: &str = "data";
    pub fn claim(store: &BleepStore, ordinal: i32) -> String {
        format!("{DATA_VOLUME}-{}-{ordinal}", store.name_any())
    }
    /// The stable DNS name of one pod (through the headless Service).
    pub fn pod_host(store: &BleepStore, ordinal: i32) -> String {
        format!(
            "{}-{ordinal}.{}.{}.svc",
            store.name_any(),
            headless_service(store),
            store.namespace().unwrap_or_default()
        )
    }
    /// The in-cluster S3 endpoint URL (the client Service).
    pub fn endpoint(store: &BleepStore) -> String {
        let scheme = if store.spec.tls.is_some() { "https" } else { "http" };
        format!(
            "{scheme}://{}.{}.svc:{}",
            client_service(store),
            store.namespace().unwrap_or_default(),
            store.spec.ports.s3
        )
    }
}

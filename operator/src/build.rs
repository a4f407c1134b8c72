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

use crate::crd::BleepStore;

/// A credential pair.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("access_key", &self.access_key).finish_non_exhaustive()
    }
}

/// A remote backend's credentials, read from the user's Secret. The pod reads them from that
/// Secret itself; the operator hashes them into the pod template (so a rotation rolls the pod)
/// and puts the Azure account name, which is not secret, into the config file.
#[derive(Clone, PartialEq, Eq)]
pub enum BackendCredentials {
    S3(Credentials),
    Azure { account: String, key: Option<String>, sas_token: Option<String> },
}

impl BackendCredentials {
    /// Every value, in a fixed order, for the pod-template hash.
    pub fn hashed(&self) -> Vec<&str> {
        match self {
            Self::S3(c) => vec![c.access_key.as_str(), c.secret_key.as_str()],
            Self::Azure { account, key, sas_token } => {
                vec![account.as_str(), key.as_deref().unwrap_or(""), sas_token.as_deref().unwrap_or("")]
            }
        }
    }
}

impl std::fmt::Debug for BackendCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::S3(c) => f.debug_tuple("S3").field(c).finish(),
            Self::Azure { account, .. } => f.debug_struct("Azure").field("account", account).finish_non_exhaustive(),
        }
    }
}

/// Everything a store's objects are built from: the resource, and what the reconciler resolved
/// for it (the image, generated secrets kept from earlier runs, the claim size in use).
#[derive(Clone)]
pub struct StoreInputs<'a> {
    pub store: &'a BleepStore,
    /// The container image (spec, or the operator's default).
    pub image: String,
    /// The root credential, generated once and kept in the root Secret.
    pub root: Credentials,
    /// The remote S3 backend's keys, read from the user's Secret (hashed into the pod template
    /// so a rotation rolls the pod; the pod reads them from that Secret).
    pub backend: Option<BackendCredentials>,
    /// The admin API bearer token, generated once and kept in the admin Secret.
    pub admin_token: String,
    /// The key sealing the server's secrets at rest, generated once and kept in the admin Secret.
    pub encryption_key: String,
    /// The size written in the StatefulSet's claim template: the template cannot change once
    /// created, so an existing StatefulSet keeps its original size and growth goes to the PVCs.
    pub claim_template_size: String,
}

impl std::fmt::Debug for StoreInputs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The credentials, token and key are never printed.
        f.debug_struct("StoreInputs")
            .field("image", &self.image)
            .field("root", &self.root)
            .field("backend", &self.backend)
            .field("claim_template_size", &self.claim_template_size)
            .finish_non_exhaustive()
    }
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
    let config_hash = config::pod_hash(&config_map, &inputs.root, inputs.backend.as_ref(), &inputs.admin_token);
    StoreResources {
        root_secret: secrets::root_secret(inputs.store, &inputs.root),
        admin_secret: secrets::admin_secret(inputs.store, &inputs.admin_token, &inputs.encryption_key),
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

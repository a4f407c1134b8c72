//! Labels, owner references and the field manager shared by every built object.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Resource, ResourceExt};

use crate::crd::BleepStore;

/// The one field manager of every server-side apply the operator makes.
pub const FIELD_MANAGER: &str = "bleepstore-operator";

/// Value of `app.kubernetes.io/managed-by` on everything the operator creates.
pub const MANAGED_BY: &str = "bleepstore-operator";

/// The labels that select a store's pods.
pub fn selector_labels(store: &BleepStore) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "bleepstore".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), store.name_any()),
    ])
}

/// The labels on every object of a store.
pub(super) fn labels(store: &BleepStore) -> BTreeMap<String, String> {
    let mut labels = selector_labels(store);
    labels.insert("app.kubernetes.io/managed-by".to_owned(), MANAGED_BY.to_owned());
    labels.insert("app.kubernetes.io/component".to_owned(), "object-store".to_owned());
    labels
}

/// The controller owner reference to `owner`, so deleting it garbage-collects its objects.
pub fn owner_reference<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.name_any(),
        uid: owner.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Object metadata for a store's object named `name`.
pub(super) fn metadata(store: &BleepStore, name: String) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        name: Some(name),
        namespace: store.namespace(),
        labels: Some(labels(store)),
        owner_references: Some(vec![owner_reference(store)]),
        ..Default::default()
    }
}

/// Object metadata for a store's object that must outlive the store: no owner reference, so
/// deleting the `BleepStore` leaves it (with the data volume) for a store re-created under the
/// same name.
pub(super) fn retained_metadata(
    store: &BleepStore,
    name: String,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
    let mut meta = metadata(store, name);
    meta.owner_references = None;
    meta.annotations = Some(BTreeMap::from([(
        "bleepstore.io/retained".to_owned(),
        "kept when the BleepStore is deleted: the store's data volume cannot be opened without it".to_owned(),
    )]));
    meta
}

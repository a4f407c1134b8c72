//! The headless Service (stable pod DNS names, the management port) and the client Service
//! (the S3 endpoint applications use).

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{labels, names};
use crate::crd::BleepStore;

fn port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.to_owned()),
        port,
        target_port: Some(IntOrString::String(name.to_owned())),
        protocol: Some("TCP".to_owned()),
        ..Default::default()
    }
}

/// Headless: every pod gets `<pod>.<store>-headless.<ns>.svc`, ready or not (the operator must
/// reach a pod's admin API while it is still recovering).
pub(super) fn headless(store: &BleepStore) -> Service {
    Service {
        metadata: labels::metadata(store, names::headless_service(store)),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            publish_not_ready_addresses: Some(true),
            selector: Some(labels::selector_labels(store)),
            ports: Some(vec![port("s3", store.spec.ports.s3), port("management", store.spec.ports.management)]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The client Service: the S3 port only, of the type and with the annotations the spec asks.
pub(super) fn client(store: &BleepStore) -> Service {
    let mut metadata = labels::metadata(store, names::client_service(store));
    if !store.spec.service.annotations.is_empty() {
        metadata.annotations = Some(store.spec.service.annotations.clone());
    }
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some(store.spec.service.type_.as_str().to_owned()),
            selector: Some(labels::selector_labels(store)),
            ports: Some(vec![port("s3", store.spec.ports.s3)]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

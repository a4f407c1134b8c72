//! The StatefulSet running a store's server: its pod (security context, probes on the
//! management port, configuration and TLS mounts) and its data volume claim template.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction, Lifecycle,
    LifecycleHandler, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSecurityContext, PodSpec, PodTemplateSpec,
    Probe, SeccompProfile, SecretKeySelector, SecretVolumeSource, SecurityContext, SleepAction, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::config::{CONFIG_KEY, DATA_DIR, TLS_DIR};
use super::secrets::{
    ADMIN_TOKEN_KEY, AZURE_KEY, AZURE_SAS_TOKEN, ENCRYPTION_KEY_KEY, ROOT_ACCESS_KEY_KEY, ROOT_SECRET_KEY_KEY,
    S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY,
};
use super::{labels, names, StoreInputs};
use crate::crd::{BackendType, BleepStore};

/// The non-root user and group the server runs as (distroless `nonroot`).
pub(super) const RUN_AS: i64 = 65532;
/// Annotation on the pod template carrying the configuration's digest.
pub(super) const CONFIG_HASH_ANNOTATION: &str = "bleepstore.io/config-hash";
/// Where the configuration file is mounted.
const CONFIG_DIR: &str = "/etc/bleepstore/config";
/// The server drains for up to 20 s on SIGTERM (`limits.drain_secs`); the pod waits 5 s in
/// preStop first so Services stop routing to it, so the grace period covers both with margin.
const PRE_STOP_SLEEP_SECS: i64 = 5;
const TERMINATION_GRACE_SECS: i64 = 35;

pub(super) fn stateful_set(inputs: &StoreInputs<'_>, config_hash: &str) -> StatefulSet {
    let store = inputs.store;
    let spec = &store.spec;
    let mut pod_labels = labels::labels(store);
    pod_labels.extend(labels::selector_labels(store));
    StatefulSet {
        metadata: labels::metadata(store, names::stateful_set(store)),
        spec: Some(StatefulSetSpec {
            replicas: Some(spec.replicas),
            service_name: Some(names::headless_service(store)),
            selector: LabelSelector { match_labels: Some(labels::selector_labels(store)), ..Default::default() },
            pod_management_policy: Some("OrderedReady".to_owned()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".to_owned()),
                ..Default::default()
            }),
            // Deleting the store or scaling down never deletes data: claims are released by hand.
            persistent_volume_claim_retention_policy: Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: Some("Retain".to_owned()),
                when_scaled: Some("Retain".to_owned()),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(BTreeMap::from([(CONFIG_HASH_ANNOTATION.to_owned(), config_hash.to_owned())])),
                    ..Default::default()
                }),
                spec: Some(pod_spec(inputs)),
            },
            volume_claim_templates: Some(vec![claim_template(store, &inputs.claim_template_size)]),
            ..Default::default()
        }),
        status: None,
    }
}

fn pod_spec(inputs: &StoreInputs<'_>) -> PodSpec {
    let store = inputs.store;
    let spec = &store.spec;
    let mut volumes = vec![Volume {
        name: "config".to_owned(),
        config_map: Some(ConfigMapVolumeSource { name: names::config_map(store), ..Default::default() }),
        ..Default::default()
    }];
    if let Some(tls) = &spec.tls {
        volumes.push(Volume {
            name: "tls".to_owned(),
            secret: Some(SecretVolumeSource { secret_name: Some(tls.secret_name.clone()), ..Default::default() }),
            ..Default::default()
        });
    }
    PodSpec {
        containers: vec![container(inputs)],
        volumes: Some(volumes),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            fs_group: Some(RUN_AS),
            fs_group_change_policy: Some("OnRootMismatch".to_owned()),
            seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".to_owned(), ..Default::default() }),
            ..Default::default()
        }),
        // The server never calls the Kubernetes API.
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(TERMINATION_GRACE_SECS),
        node_selector: (!spec.node_selector.is_empty()).then(|| spec.node_selector.clone()),
        tolerations: (!spec.tolerations.is_empty()).then(|| spec.tolerations.clone()),
        affinity: spec.affinity.clone(),
        priority_class_name: spec.priority_class_name.clone(),
        ..Default::default()
    }
}

fn container(inputs: &StoreInputs<'_>) -> Container {
    let store = inputs.store;
    let spec = &store.spec;
    let mut mounts = vec![
        VolumeMount {
            name: "config".to_owned(),
            mount_path: CONFIG_DIR.to_owned(),
            read_only: Some(true),
            ..Default::default()
        },
        VolumeMount { name: names::DATA_VOLUME.to_owned(), mount_path: DATA_DIR.to_owned(), ..Default::default() },
    ];
    if spec.tls.is_some() {
        mounts.push(VolumeMount {
            name: "tls".to_owned(),
            mount_path: TLS_DIR.to_owned(),
            read_only: Some(true),
            ..Default::default()
        });
    }
    Container {
        name: "bleepstore".to_owned(),
        image: Some(inputs.image.clone()),
        args: Some(vec!["--config".to_owned(), format!("{CONFIG_DIR}/{CONFIG_KEY}")]),
        env: Some(env(store)),
        ports: Some(vec![
            ContainerPort {
                name: Some("s3".to_owned()),
                container_port: spec.ports.s3,
                protocol: Some("TCP".to_owned()),
                ..Default::default()
            },
            ContainerPort {
                name: Some("management".to_owned()),
                container_port: spec.ports.management,
                protocol: Some("TCP".to_owned()),
                ..Default::default()
            },
        ]),
        resources: spec.resources.clone(),
        volume_mounts: Some(mounts),
        // Start-up recovery may take a while on a large volume; liveness waits for the port.
        startup_probe: Some(probe("/healthz", 2, 2, 150)),
        liveness_probe: Some(probe("/healthz", 10, 5, 3)),
        readiness_probe: Some(probe("/readyz", 5, 3, 2)),
        lifecycle: Some(Lifecycle {
            pre_stop: Some(LifecycleHandler {
                sleep: Some(SleepAction { seconds: PRE_STOP_SLEEP_SECS }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            privileged: Some(false),
            capabilities: Some(Capabilities { drop: Some(vec!["ALL".to_owned()]), ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The credentials the server reads from its environment: its own from the store's Secrets,
/// and a remote S3 backend's from the user's Secret.
fn env(store: &BleepStore) -> Vec<EnvVar> {
    let mut env = vec![
        secret_env(ROOT_ACCESS_KEY_KEY, names::root_secret(store)),
        secret_env(ROOT_SECRET_KEY_KEY, names::root_secret(store)),
        secret_env(ADMIN_TOKEN_KEY, names::admin_secret(store)),
        secret_env(ENCRYPTION_KEY_KEY, names::admin_secret(store)),
    ];
    let backend = &store.spec.backend;
    match (backend.type_, &backend.s3, &backend.azure) {
        (BackendType::S3, Some(s3), _) => {
            for key in [S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY] {
                env.push(secret_env(key, s3.credentials_secret.name.clone()));
            }
        }
        (BackendType::Azure, _, Some(az)) => {
            // One of the two is present (validated); the server takes the SAS token first.
            for key in [AZURE_KEY, AZURE_SAS_TOKEN] {
                let mut var = secret_env(key, az.credentials_secret.name.clone());
                if let Some(selector) = var.value_from.as_mut().and_then(|v| v.secret_key_ref.as_mut()) {
                    selector.optional = Some(true);
                }
                env.push(var);
            }
        }
        _ => {}
    }
    env
}

fn secret_env(key: &str, secret: String) -> EnvVar {
    EnvVar {
        name: key.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector { name: secret, key: key.to_owned(), optional: Some(false) }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn probe(path: &str, period: i32, timeout: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("management".to_owned()),
            scheme: Some("HTTP".to_owned()),
            ..Default::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(timeout),
        failure_threshold: Some(failures),
        ..Default::default()
    }
}

fn claim_template(store: &BleepStore, size: &str) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(names::DATA_VOLUME.to_owned()),
            labels: Some(labels::selector_labels(store)),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            storage_class_name: store.spec.storage.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_owned(), Quantity(size.to_owned()))])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: None,
    }
}

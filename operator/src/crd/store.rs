//! `BleepStore`: one S3 store (a StatefulSet with its volume, Services, config and Secrets).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, ResourceRequirements, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of a BleepStore.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "bleepstore.io",
    version = "v1alpha1",
    kind = "BleepStore",
    namespaced,
    status = "BleepStoreStatus",
    shortname = "bls",
    category = "bleepstore-all",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Replicas","type":"integer","jsonPath":".status.readyReplicas"}"#,
    printcolumn = r#"{"name":"Endpoint","type":"string","jsonPath":".status.endpoint"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    // Growing is always allowed; shrinking only back to what every volume already has (after a
    // refused resize): a claim itself never shrinks.
    validation = Rule::new(
        "quantity(self.spec.storage.size).compareTo(quantity(oldSelf.spec.storage.size)) >= 0 || \
         (has(self.status) && has(self.status.volumes) && self.status.volumes.size() > 0 && \
         self.status.volumes.all(v, has(v.capacity) && isQuantity(v.capacity) && \
         quantity(self.spec.storage.size).compareTo(quantity(v.capacity)) >= 0))"
    ).message("storage.size may only grow (or go back down to the capacity its volumes have)")
)]
#[serde(rename_all = "camelCase")]
pub struct BleepStoreSpec {
    /// Container image of the `bleepstore` server. Default: the operator's `--default-image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Number of server pods. Must be 1: a store does not scale out yet.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 1))]
    pub replicas: i32,
    /// The data volume (a PersistentVolumeClaim per replica).
    pub storage: Storage,
    /// Compute resources of the server container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// The region the store reports and signs for.
    #[serde(default = "default_region")]
    #[schemars(length(min = 1, max = 64))]
    pub region: String,
    /// Domains under which buckets are addressed virtual-hosted-style (`<bucket>.<domain>`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_host_domains: Vec<String>,
    /// Ports of the S3 and management listeners.
    #[serde(default)]
    pub ports: Ports,
    /// HTTPS on the S3 port, from a `kubernetes.io/tls` Secret. Absent: plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSpec>,
    /// The client Service.
    #[serde(default)]
    pub service: ServiceSpec,
    /// Node selector for the server pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations of the server pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Affinity of the server pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// PriorityClass of the server pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// A PodDisruptionBudget for the server pods. Absent: none is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_disruption_budget: Option<PodDisruptionBudgetSpec>,
    /// Where object bytes live. Default: the local volume.
    #[serde(default)]
    pub backend: Backend,
    /// Log format of the server.
    #[serde(default)]
    pub log_format: LogFormat,
}

fn one() -> i32 {
    1
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

/// The data volume.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(
    "has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || \
        self.storageClassName == oldSelf.storageClassName)"
).message("storage.storageClassName is immutable"))]
pub struct Storage {
    /// Size of each replica's volume, a Kubernetes quantity (`10Gi`). It may only grow (or go back
    /// to the capacity the volumes have, after a refused resize); growth is applied to the
    /// existing PersistentVolumeClaims (the StorageClass must allow expansion).
    #[x_kube(validation = Rule::new("isQuantity(self) && \
        quantity(self).isGreaterThan(quantity('0'))").message("storage.size must be a positive quantity such as 10Gi"))]
    pub size: String,
    /// StorageClass of the volume. Absent: the cluster's default class. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

/// Listener ports.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.s3 != self.management").message("ports.s3 and ports.management must differ"))]
pub struct Ports {
    /// The S3 API port.
    #[serde(default = "s3_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub s3: i32,
    /// The management port (probes, metrics, admin API).
    #[serde(default = "management_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub management: i32,
}

fn s3_port() -> i32 {
    9000
}

fn management_port() -> i32 {
    9001
}

impl Default for Ports {
    fn default() -> Self {
        Self { s3: s3_port(), management: management_port() }
    }
}

/// HTTPS on the S3 port.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TlsSpec {
    /// A `kubernetes.io/tls` Secret in the store's namespace (`tls.crt`, `tls.key`).
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
}

/// The client Service.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Service type.
    #[serde(default, rename = "type")]
    pub type_: ServiceType,
    /// Annotations put on the client Service (e.g. for a load balancer controller).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Service type of the client Service.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClusterIP => "ClusterIP",
            Self::NodePort => "NodePort",
            Self::LoadBalancer => "LoadBalancer",
        }
    }
}

/// PodDisruptionBudget settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudgetSpec {
    /// Pods that may be unavailable at once during voluntary disruptions.
    #[serde(default = "one")]
    #[schemars(range(min = 0))]
    pub max_unavailable: i32,
}

/// Where object bytes live.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.type == 'S3' ? has(self.s3) : !has(self.s3)").message("backend.s3 is required \
    when backend.type is S3, and only then"))]
#[x_kube(validation = Rule::new("self.type == 'Azure' ? has(self.azure) : !has(self.azure)").message("backend.azure is \
    required when backend.type is Azure, and only then"))]
#[x_kube(validation = Rule::new("self.type == oldSelf.type").message("backend.type is immutable"))]
pub struct Backend {
    /// `Local` (the store's volume), `S3` or `Azure`. Immutable.
    #[serde(default, rename = "type")]
    pub type_: BackendType,
    /// The remote S3 bucket, for `type: S3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Backend>,
    /// The remote Azure Blob container, for `type: Azure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzureBackend>,
}

/// The kind of backend.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BackendType {
    #[default]
    Local,
    S3,
    Azure,
}

/// A remote S3 bucket holding the object bytes.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct S3Backend {
    /// The remote bucket.
    #[schemars(length(min = 3, max = 63))]
    pub bucket: String,
    /// A key prefix inside the remote bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The remote's region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The remote's endpoint URL (for an S3-compatible service other than AWS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Address the remote path-style.
    #[serde(default)]
    pub force_path_style: bool,
    /// A Secret with `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    pub credentials_secret: SecretRef,
}

/// A remote Azure Blob container holding the object bytes.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AzureBackend {
    /// The container.
    #[schemars(length(min = 3, max = 63))]
    pub container: String,
    /// A blob name prefix inside the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The blob endpoint URL (default: `https://<account>.blob.core.windows.net`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// A Secret with `AZURE_STORAGE_ACCOUNT` and `AZURE_STORAGE_KEY` or `AZURE_STORAGE_SAS_TOKEN`.
    pub credentials_secret: SecretRef,
}

/// A Secret in the same namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Log format of the server.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    #[serde(rename = "json")]
    Json,
    #[serde(rename = "text")]
    Text,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Text => "text",
        }
    }
}

/// Observed state of a BleepStore, written only by the operator.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct BleepStoreStatus {
    /// The generation the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Progressing`, `Degraded`, kstatus's `Reconciling` and `Stalled`, and `DeletionBlocked`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Server pods that pass their readiness probe.
    #[serde(default)]
    pub ready_replicas: i32,
    /// The in-cluster S3 endpoint URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The server image the StatefulSet runs (the spec's, or the operator's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The data volumes: requested size and the capacity the cluster reports.
    #[schemars(length(max = 16))]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeStatus>,
}

/// One replica's data volume.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VolumeStatus {
    /// The PersistentVolumeClaim.
    #[schemars(length(max = 253))]
    pub claim: String,
    /// The size asked for.
    #[schemars(length(max = 64))]
    pub requested: String,
    /// The size the cluster reports (`status.capacity.storage`), once bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub capacity: Option<String>,
}

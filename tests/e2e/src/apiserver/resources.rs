//! The resource types the server knows: a fixed set of built-in kinds, plus the kinds of every
//! CustomResourceDefinition created; and the discovery documents that list them.

use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub status_subresource: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// A custom resource's `openAPIV3Schema`.
    pub schema: Option<Value>,
}

impl ResourceType {
    fn builtin(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool, status: bool) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            namespaced,
            status_subresource: status,
            short_names: Vec::new(),
            categories: Vec::new(),
            schema: None,
        }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The `group/version/plural` key objects are stored under.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.group, self.version, self.plural)
    }

    /// The entries of this type in an `APIResourceList`.
    fn discovery(&self) -> Vec<Value> {
        let verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
        let mut out = vec![json!({
            "name": self.plural, "singularName": self.singular, "namespaced": self.namespaced, "kind": self.kind,
            "verbs": verbs, "shortNames": self.short_names, "categories": self.categories,
        })];
        if self.status_subresource {
            out.push(
                json!({"name": format!("{}/status", self.plural), "singularName": "", "namespaced": self.namespaced,
                "kind": self.kind, "verbs": ["get", "patch", "update"]}),
            );
        }
        out
    }
}

/// The built-in kinds: what the operator, the harness and kubectl touch.
pub(super) fn builtins() -> Vec<ResourceType> {
    vec![
        ResourceType::builtin("", "v1", "Namespace", "namespaces", false, true),
        ResourceType::builtin("", "v1", "Secret", "secrets", true, false),
        ResourceType::builtin("", "v1", "ConfigMap", "configmaps", true, false),
        ResourceType::builtin("", "v1", "Service", "services", true, true),
        ResourceType::builtin("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, true),
        ResourceType::builtin("", "v1", "Pod", "pods", true, true),
        ResourceType::builtin("", "v1", "Event", "events", true, false),
        ResourceType::builtin("", "v1", "ServiceAccount", "serviceaccounts", true, false),
        ResourceType::builtin("apps", "v1", "StatefulSet", "statefulsets", true, true),
        ResourceType::builtin("apps", "v1", "Deployment", "deployments", true, true),
        ResourceType::builtin("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, true),
        ResourceType::builtin("coordination.k8s.io", "v1", "Lease", "leases", true, false),
        ResourceType::builtin("events.k8s.io", "v1", "Event", "events", true, false),
        ResourceType::builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
            true,
        ),
    ]
}

/// The types a CRD defines (one per served version).
pub(super) fn from_crd(crd: &Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let strings = |v: &Value| {
        v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
    };
    spec["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["served"].as_bool().unwrap_or(true))
        .map(|v| ResourceType {
            group: spec["group"].as_str().unwrap_or_default().to_owned(),
            version: v["name"].as_str().unwrap_or_default().to_owned(),
            kind: names["kind"].as_str().unwrap_or_default().to_owned(),
            plural: names["plural"].as_str().unwrap_or_default().to_owned(),
            singular: names["singular"].as_str().unwrap_or_default().to_owned(),
            namespaced: spec["scope"] == "Namespaced",
            status_subresource: v["subresources"].get("status").is_some(),
            short_names: strings(&names["shortNames"]),
            categories: strings(&names["categories"]),
            schema: Some(v["schema"]["openAPIV3Schema"].clone()),
        })
        .collect()
}

pub(super) fn core_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
}

pub(super) fn group_list(types: &[ResourceType]) -> Value {
    let mut groups: Vec<(String, String)> =
        types.iter().filter(|t| !t.group.is_empty()).map(|t| (t.group.clone(), t.version.clone())).collect();
    groups.sort();
    groups.dedup();
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(group, version)| {
            let gv = json!({"groupVersion": format!("{group}/{version}"), "version": version});
            json!({"name": group, "versions": [gv], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub(super) fn resource_list(types: &[ResourceType], group: &str, version: &str) -> Option<Value> {
    let resources: Vec<Value> =
        types.iter().filter(|t| t.group == group && t.version == version).flat_map(ResourceType::discovery).collect();
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") };
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}))
}

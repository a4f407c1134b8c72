//! A container's environment, as the kubelet builds it: `envFrom` (Secrets and ConfigMaps, with
//! prefixes), then `env` in order (plain values with `$(VAR)` expansion, `fieldRef`,
//! `secretKeyRef`, `configMapKeyRef`), plus `KUBERNETES_SERVICE_*` and `HOSTNAME`. Service links
//! (`<SVC>_SERVICE_HOST` for every Service) are not made.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use kube::Api;

use crate::sandbox::API_SERVICE_IP;

/// The PATH of our images (distroless).
const IMAGE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Reads a Secret's or ConfigMap's data as strings, or `None` when it does not exist.
pub(crate) struct Sources {
    pub(crate) client: kube::Client,
    pub(crate) namespace: String,
}

impl Sources {
    pub(crate) async fn secret(&self, name: &str) -> Result<Option<BTreeMap<String, String>>> {
        let secret = Api::<Secret>::namespaced(self.client.clone(), &self.namespace).get_opt(name).await?;
        Ok(secret.map(|s| {
            s.data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                .collect()
        }))
    }

    pub(crate) async fn config_map(&self, name: &str) -> Result<Option<BTreeMap<String, String>>> {
        let map = Api::<ConfigMap>::namespaced(self.client.clone(), &self.namespace).get_opt(name).await?;
        Ok(map.map(|m| m.data.unwrap_or_default()))
    }
}

/// `$(NAME)` replaced by an earlier variable's value; `$$(` stays as `$(`; unknown names stay.
pub(crate) fn expand(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some(inner) = tail.strip_prefix("$(") {
            match inner.find(')') {
                Some(end) if vars.contains_key(&inner[..end]) => {
                    out.push_str(&vars[&inner[..end]]);
                    rest = &inner[end + 1..];
                }
                _ => {
                    out.push_str("$(");
                    rest = inner;
                }
            }
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The value of a `fieldRef` path.
pub(crate) fn field(pod: &Pod, pod_ip: &str, path: &str) -> Result<String> {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref().context("the pod has no spec")?;
    let from_map = |map: &Option<BTreeMap<String, String>>, key: &str| {
        map.as_ref().and_then(|m| m.get(key)).cloned().unwrap_or_default()
    };
    Ok(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "spec.nodeName" => spec.node_name.clone().unwrap_or_default(),
        "spec.serviceAccountName" => spec.service_account_name.clone().unwrap_or_default(),
        "status.podIP" | "status.podIPs" => pod_ip.to_owned(),
        "status.hostIP" | "status.hostIPs" => crate::sandbox::NODE_IP.to_string(),
        other => {
            if let Some(key) = other.strip_prefix("metadata.labels['").and_then(|k| k.strip_suffix("']")) {
                from_map(&meta.labels, key)
            } else if let Some(key) = other.strip_prefix("metadata.annotations['").and_then(|k| k.strip_suffix("']")) {
                from_map(&meta.annotations, key)
            } else {
                bail!("fieldRef {other} is not supported by this kubelet")
            }
        }
    })
}

/// The container's environment, or why it cannot be built (the pod then waits with
/// `CreateContainerConfigError`, as a real kubelet's does).
pub(crate) async fn build(
    pod: &Pod,
    container: &Container,
    pod_ip: &str,
    sources: &Sources,
) -> Result<Vec<(String, String)>> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut set = |vars: &mut BTreeMap<String, String>, name: String, value: String| {
        if !vars.contains_key(&name) {
            order.push(name.clone());
        }
        vars.insert(name, value);
    };
    set(&mut vars, "PATH".to_owned(), IMAGE_PATH.to_owned());
    let hostname = pod.spec.as_ref().and_then(|s| s.hostname.clone()).or_else(|| pod.metadata.name.clone());
    set(&mut vars, "HOSTNAME".to_owned(), hostname.unwrap_or_default());
    set(&mut vars, "KUBERNETES_SERVICE_HOST".to_owned(), API_SERVICE_IP.to_string());
    set(&mut vars, "KUBERNETES_SERVICE_PORT".to_owned(), "443".to_owned());
    set(&mut vars, "KUBERNETES_SERVICE_PORT_HTTPS".to_owned(), "443".to_owned());
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        let (data, name, optional, kind) = if let Some(r) = &from.secret_ref {
            (sources.secret(&r.name).await?, r.name.clone(), r.optional.unwrap_or(false), "secret")
        } else if let Some(r) = &from.config_map_ref {
            (sources.config_map(&r.name).await?, r.name.clone(), r.optional.unwrap_or(false), "configmap")
        } else {
            continue;
        };
        match data {
            Some(data) => {
                for (k, v) in data {
                    set(&mut vars, format!("{prefix}{k}"), v);
                }
            }
            None if optional => {}
            None => bail!("{kind} \"{name}\" not found"),
        }
    }
    for var in container.env.iter().flatten() {
        let value = match (&var.value, &var.value_from) {
            (_, Some(from)) => {
                if let Some(f) = &from.field_ref {
                    field(pod, pod_ip, &f.field_path)?
                } else if let Some(r) = &from.secret_key_ref {
                    let optional = r.optional.unwrap_or(false);
                    match sources.secret(&r.name).await? {
                        Some(data) => match data.get(&r.key) {
                            Some(v) => v.clone(),
                            None if optional => continue,
                            None => bail!("couldn't find key {} in Secret {}", r.key, r.name),
                        },
                        None if optional => continue,
                        None => bail!("secret \"{}\" not found", r.name),
                    }
                } else if let Some(r) = &from.config_map_key_ref {
                    let optional = r.optional.unwrap_or(false);
                    match sources.config_map(&r.name).await? {
                        Some(data) => match data.get(&r.key) {
                            Some(v) => v.clone(),
                            None if optional => continue,
                            None => bail!("couldn't find key {} in ConfigMap {}", r.key, r.name),
                        },
                        None if optional => continue,
                        None => bail!("configmap \"{}\" not found", r.name),
                    }
                } else {
                    bail!("env {}: only fieldRef, secretKeyRef and configMapKeyRef are supported", var.name)
                }
            }
            (Some(v), None) => expand(v, &vars),
            (None, None) => String::new(),
        };
        set(&mut vars, var.name.clone(), value);
    }
    Ok(order.into_iter().map(|k| (k.clone(), vars[&k].clone())).collect())
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn expansion_follows_the_kubelet() {
        let vars = [("A".to_owned(), "1".to_owned())].into_iter().collect();
        assert_eq!(expand("x$(A)y", &vars), "x1y");
        assert_eq!(expand("$(B)", &vars), "$(B)");
        assert_eq!(expand("$$(A)", &vars), "$(A)");
        assert_eq!(expand("cost $5", &vars), "cost $5");
        assert_eq!(expand("$(A", &vars), "$(A");
    }
}

//! Storage: two StorageClasses of the provisioner `bleepstore.test/hostpath` (`standard`, the
//! default, can expand; `fixed` cannot), and the external provisioner and resizer that serve
//! them. A claim gets a `hostPath` PersistentVolume, a directory under the work directory, which
//! the controller manager's volume binder binds; a grown request of an expandable claim is
//! granted (the volume's and the claim's capacity); a released volume is deleted with its
//! directory. The API server itself refuses to grow a claim whose class cannot expand.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::json;

pub const PROVISIONER: &str = "bleepstore.test/hostpath";
/// The default class; its claims can grow.
pub const EXPANDABLE_CLASS: &str = "standard";
/// A class whose claims cannot grow.
pub const FIXED_CLASS: &str = "fixed";

/// The provisioner and resizer; dropping it stops them.
pub struct Storage {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Storage {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Bytes in a quantity such as `1Gi`, `512Mi` or `2G` (storage sizes only).
pub fn quantity_bytes(text: &str) -> Option<u128> {
    let units: [(&str, u128); 12] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("Pi", 1 << 50),
        ("Ei", 1 << 60),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
        ("P", 1_000_000_000_000_000),
        ("E", 1_000_000_000_000_000_000),
    ];
    for (suffix, factor) in units {
        if let Some(number) = text.strip_suffix(suffix) {
            return number.parse::<u128>().ok().map(|n| n * factor);
        }
    }
    text.parse().ok()
}

fn request(pvc: &PersistentVolumeClaim) -> Option<String> {
    pvc.spec.as_ref()?.resources.as_ref()?.requests.as_ref()?.get("storage").map(|q| q.0.clone())
}

impl Storage {
    /// Creates the StorageClasses and starts the provisioner and resizer (acting as `client`,
    /// an administrator), with volumes under `dir`.
    pub async fn start(client: kube::Client, dir: PathBuf) -> Result<Self> {
        let classes = Api::<StorageClass>::all(client.clone());
        for (name, expand, default) in [(EXPANDABLE_CLASS, true, true), (FIXED_CLASS, false, false)] {
            let class: StorageClass = serde_json::from_value(json!({
                "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                "metadata": {"name": name, "annotations": {
                    "storageclass.kubernetes.io/is-default-class": default.to_string()}},
                "provisioner": PROVISIONER, "allowVolumeExpansion": expand,
                "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}))?;
            classes.create(&PostParams::default(), &class).await?;
        }
        std::fs::create_dir_all(&dir)?;
        let (claims, claims_task) = crate::cache::reflect(Api::<PersistentVolumeClaim>::all(client.clone()));
        let (volumes, volumes_task) = crate::cache::reflect(Api::<PersistentVolume>::all(client.clone()));
        claims.wait_until_ready().await?;
        volumes.wait_until_ready().await?;
        let sync = tokio::spawn(async move {
            let pvs = Api::<PersistentVolume>::all(client.clone());
            let mut interval = tokio::time::interval(Duration::from_millis(250));
            loop {
                interval.tick().await;
                let all_volumes = volumes.state();
                for pvc in claims.state() {
                    let ns = pvc.metadata.namespace.clone().unwrap_or_default();
                    let name = pvc.metadata.name.clone().unwrap_or_default();
                    let uid = pvc.metadata.uid.clone().unwrap_or_default();
                    let Some(spec) = &pvc.spec else { continue };
                    let class = spec.storage_class_name.clone().unwrap_or_default();
                    if class != EXPANDABLE_CLASS && class != FIXED_CLASS || pvc.metadata.deletion_timestamp.is_some() {
                        continue;
                    }
                    let Some(size) = request(&pvc) else { continue };
                    let pv_name = format!("pvc-{uid}");
                    let existing = all_volumes.iter().find(|v| v.metadata.name.as_deref() == Some(pv_name.as_str()));
                    let Some(pv) = existing else {
                        let path = dir.join(&pv_name);
                        let made = std::fs::create_dir_all(&path)
                            .and_then(|()| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)));
                        if let Err(e) = made {
                            eprintln!("storage: {}: {e}", path.display());
                            continue;
                        }
                        let volume = json!({
                            "apiVersion": "v1", "kind": "PersistentVolume",
                            "metadata": {"name": pv_name, "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
                            "spec": {
                                "capacity": {"storage": size},
                                "accessModes": spec.access_modes.clone().unwrap_or_else(|| vec!["ReadWriteOnce".to_owned()]),
                                "persistentVolumeReclaimPolicy": "Delete",
                                "storageClassName": class,
                                "volumeMode": "Filesystem",
                                "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                    "namespace": ns, "name": name, "uid": uid},
                                "hostPath": {"path": path.to_string_lossy(), "type": "Directory"},
                            }
                        });
                        match serde_json::from_value::<PersistentVolume>(volume) {
                            Ok(v) => {
                                match pvs.create(&PostParams::default(), &v).await {
                                    // Made a moment ago; the cache has not seen it yet.
                                    Ok(_) => {}
                                    Err(kube::Error::Api(status)) if status.code == 409 => {}
                                    Err(e) => eprintln!("storage: create {pv_name}: {e}"),
                                }
                            }
                            Err(e) => eprintln!("storage: {pv_name}: {e}"),
                        }
                        continue;
                    };
                    // The resizer: a bound claim asking for more than its volume has.
                    let bound = pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
                    let capacity = pvc.status.as_ref().and_then(|s| s.capacity.as_ref()).and_then(|c| c.get("storage"));
                    let grows = match (quantity_bytes(&size), capacity.and_then(|c| quantity_bytes(&c.0))) {
                        (Some(want), Some(have)) => want > have,
                        _ => false,
                    };
                    if bound && grows {
                        let pv_capacity =
                            pv.spec.as_ref().and_then(|s| s.capacity.as_ref()).and_then(|c| c.get("storage"));
                        if pv_capacity.map(|q| q.0.as_str()) != Some(size.as_str()) {
                            let patch = json!({"spec": {"capacity": {"storage": size}}});
                            if let Err(e) = pvs.patch(&pv_name, &PatchParams::default(), &Patch::Merge(patch)).await {
                                eprintln!("storage: grow {pv_name}: {e}");
                                continue;
                            }
                        }
                        let claims_api = Api::<PersistentVolumeClaim>::namespaced(client.clone(), &ns);
                        let patch = json!({"status": {"capacity": {"storage": size}, "conditions": null,
                            "allocatedResources": {"storage": size}}});
                        if let Err(e) =
                            claims_api.patch_status(&name, &PatchParams::default(), &Patch::Merge(patch)).await
                        {
                            eprintln!("storage: grow {ns}/{name}: {e}");
                        }
                    }
                }
                // Released volumes of ours are deleted, directory and all.
                for pv in &all_volumes {
                    let ours = pv.metadata.annotations.as_ref().and_then(|a| a.get("pv.kubernetes.io/provisioned-by"))
                        == Some(&PROVISIONER.to_owned());
                    let released = pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Released");
                    if ours && released && pv.metadata.deletion_timestamp.is_none() {
                        let pv_name = pv.metadata.name.clone().unwrap_or_default();
                        let _ = std::fs::remove_dir_all(dir.join(&pv_name));
                        if let Err(e) = pvs.delete(&pv_name, &DeleteParams::default()).await {
                            eprintln!("storage: delete {pv_name}: {e}");
                        }
                    }
                }
            }
        });
        Ok(Self { tasks: vec![claims_task, volumes_task, sync] })
    }
}

#[cfg(test)]
mod tests {
    use super::quantity_bytes;

    #[test]
    fn quantities() {
        assert_eq!(quantity_bytes("1Gi"), Some(1 << 30));
        assert_eq!(quantity_bytes("512Mi"), Some(512 << 20));
        assert_eq!(quantity_bytes("2G"), Some(2_000_000_000));
        assert_eq!(quantity_bytes("1000"), Some(1000));
        assert_eq!(quantity_bytes("x"), None);
    }
}

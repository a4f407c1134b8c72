//! A pod's volumes as directories on this machine: `emptyDir`, `configMap`, `secret`,
//! `downwardAPI`, `projected` (service-account token by TokenRequest, ConfigMap, Secret and
//! downward API sources) and `persistentVolumeClaim` (the bound volume's directory). Contents are
//! written once, when the pod starts; a real kubelet would also refresh them.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{
    DownwardAPIVolumeFile, KeyToPath, PersistentVolume, PersistentVolumeClaim, Pod, ServiceAccount, Volume,
};
use kube::api::PostParams;
use kube::Api;

use super::env::Sources;

fn write_file(dir: &Path, name: &str, content: &[u8], mode: i32, owner: Option<(i64, i64)>) -> Result<()> {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, content).with_context(|| format!("write {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode as u32 & 0o777))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&path, Some(uid as u32), Some(gid as u32))?;
    }
    Ok(())
}

/// The files of `data`, all keys or the `items` asked for.
fn files_of(
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&Vec<KeyToPath>>,
    default_mode: i32,
) -> Result<Vec<(String, Vec<u8>, i32)>> {
    match items {
        None => Ok(data.iter().map(|(k, v)| (k.clone(), v.clone(), default_mode)).collect()),
        Some(items) => items
            .iter()
            .map(|item| {
                let value = data.get(&item.key).with_context(|| format!("key {} not found", item.key))?;
                Ok((item.path.clone(), value.clone(), item.mode.unwrap_or(default_mode)))
            })
            .collect(),
    }
}

fn bytes(map: BTreeMap<String, String>) -> BTreeMap<String, Vec<u8>> {
    map.into_iter().map(|(k, v)| (k, v.into_bytes())).collect()
}

/// Everything a volume needs from the API.
pub(crate) struct Mounter<'a> {
    pub(crate) client: &'a kube::Client,
    pub(crate) sources: &'a Sources,
    pub(crate) pod: &'a Pod,
    pub(crate) pod_ip: &'a str,
    /// The user the pod's containers run as (token files are theirs) and the pod's fsGroup.
    pub(crate) run_as: (i64, i64),
    pub(crate) fs_group: Option<i64>,
}

impl Mounter<'_> {
    fn namespace(&self) -> &str {
        self.pod.metadata.namespace.as_deref().unwrap_or("default")
    }

    fn downward(&self, dir: &Path, items: &[DownwardAPIVolumeFile], mode: i32) -> Result<()> {
        for item in items {
            let field = item.field_ref.as_ref().context("downwardAPI: only fieldRef is supported")?;
            let value = super::env::field(self.pod, self.pod_ip, &field.field_path)?;
            write_file(dir, &item.path, value.as_bytes(), item.mode.unwrap_or(mode), None)?;
        }
        Ok(())
    }

    async fn token(&self, audience: Option<&str>, expiration: Option<i64>) -> Result<String> {
        let spec = self.pod.spec.as_ref().context("the pod has no spec")?;
        let account = spec.service_account_name.clone().unwrap_or_else(|| "default".to_owned());
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: audience.map(|a| vec![a.to_owned()]).unwrap_or_default(),
                expiration_seconds: expiration,
                bound_object_ref: Some(BoundObjectReference {
                    api_version: Some("v1".to_owned()),
                    kind: Some("Pod".to_owned()),
                    name: self.pod.metadata.name.clone(),
                    uid: self.pod.metadata.uid.clone(),
                }),
            },
            ..Default::default()
        };
        let api = Api::<ServiceAccount>::namespaced(self.client.clone(), self.namespace());
        let answer = api.create_token_request(&account, &PostParams::default(), &request).await?;
        Ok(answer.status.context("a TokenRequest without status")?.token)
    }

    /// Prepares `volume` under `dir` (a fresh directory), or says why it cannot yet.
    pub(crate) async fn prepare(&self, volume: &Volume, dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let group_owner = self.fs_group.map(|g| (0, g));
        if volume.empty_dir.is_some() {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777))?;
        } else if let Some(source) = &volume.config_map {
            let mode = source.default_mode.unwrap_or(0o644);
            match self.sources.config_map(&source.name).await? {
                Some(data) => {
                    for (name, content, mode) in files_of(&bytes(data), source.items.as_ref(), mode)? {
                        write_file(dir, &name, &content, mode, group_owner)?;
                    }
                }
                None if source.optional == Some(true) => {}
                None => bail!("configmap \"{}\" not found", source.name),
            }
        } else if let Some(source) = &volume.secret {
            let mode = source.default_mode.unwrap_or(0o644);
            let name = source.secret_name.clone().unwrap_or_default();
            match self.sources.secret(&name).await? {
                Some(data) => {
                    for (file, content, mode) in files_of(&bytes(data), source.items.as_ref(), mode)? {
                        write_file(dir, &file, &content, mode, group_owner)?;
                    }
                }
                None if source.optional == Some(true) => {}
                None => bail!("secret \"{name}\" not found"),
            }
        } else if let Some(source) = &volume.downward_api {
            let mode = source.default_mode.unwrap_or(0o644);
            self.downward(dir, source.items.as_deref().unwrap_or_default(), mode)?;
        } else if let Some(projected) = &volume.projected {
            let mode = projected.default_mode.unwrap_or(0o644);
            for source in projected.sources.iter().flatten() {
                if let Some(token) = &source.service_account_token {
                    let value = self.token(token.audience.as_deref(), token.expiration_seconds).await?;
                    // Readable by the pod's user only, as the kubelet does when runAsUser is set.
                    write_file(dir, &token.path, value.as_bytes(), 0o600, Some(self.run_as))?;
                } else if let Some(cm) = &source.config_map {
                    match self.sources.config_map(&cm.name).await? {
                        Some(data) => {
                            for (name, content, mode) in files_of(&bytes(data), cm.items.as_ref(), mode)? {
                                write_file(dir, &name, &content, mode, group_owner)?;
                            }
                        }
                        None if cm.optional == Some(true) => {}
                        None => bail!("configmap \"{}\" not found", cm.name),
                    }
                } else if let Some(secret) = &source.secret {
                    match self.sources.secret(&secret.name).await? {
                        Some(data) => {
                            for (name, content, mode) in files_of(&bytes(data), secret.items.as_ref(), mode)? {
                                write_file(dir, &name, &content, mode, group_owner)?;
                            }
                        }
                        None if secret.optional == Some(true) => {}
                        None => bail!("secret \"{}\" not found", secret.name),
                    }
                } else if let Some(downward) = &source.downward_api {
                    self.downward(dir, downward.items.as_deref().unwrap_or_default(), mode)?;
                } else {
                    bail!("projected volume {}: unsupported source", volume.name);
                }
            }
        } else if let Some(claim) = &volume.persistent_volume_claim {
            let claims = Api::<PersistentVolumeClaim>::namespaced(self.client.clone(), self.namespace());
            let pvc = claims.get(&claim.claim_name).await?;
            let bound = pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
            let pv_name = pvc.spec.as_ref().and_then(|s| s.volume_name.clone()).filter(|_| bound);
            let pv_name =
                pv_name.with_context(|| format!("persistentvolumeclaim \"{}\" is not bound", claim.claim_name))?;
            let pv = Api::<PersistentVolume>::all(self.client.clone()).get(&pv_name).await?;
            let host_path = pv.spec.and_then(|s| s.host_path).map(|h| h.path);
            let host_path = host_path.with_context(|| format!("volume {pv_name} is not a hostPath volume"))?;
            return Ok(PathBuf::from(host_path));
        } else {
            bail!("volume {}: this kubelet supports emptyDir, configMap, secret, downwardAPI, projected and persistentVolumeClaim", volume.name);
        }
        Ok(dir.to_owned())
    }
}

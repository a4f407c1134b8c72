//! Talking to the API server, the same way for every reconciler: server-side apply with the one
//! field manager, status merge patches written only when something changed, and reading one
//! value of a Secret. Nothing here knows a custom resource's meaning.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::build::FIELD_MANAGER;
use crate::context::Context;
use crate::error::Result;

/// Server-side applies `obj` (create or update), owning every field it sets.
pub async fn apply_object<K>(ctx: &Context, ns: &str, obj: &K) -> Result<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Serialize
        + DeserializeOwned
        + Clone
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), ns);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    Ok(api.patch(&obj.name_any(), &params, &Patch::Apply(obj)).await?)
}

/// Merge-patches `/status` to `new` unless it already is `new`.
pub async fn patch_status<K, S>(ctx: &Context, obj: &K, current: Option<&S>, new: &S) -> Result<()>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    S: Serialize + PartialEq,
{
    if current == Some(new) {
        return Ok(());
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let mut status = serde_json::to_value(new).unwrap_or_default();
    // A merge patch only removes what it sets to null: clear fields the new status leaves out.
    if let (Some(old), Some(fields)) = (current.and_then(|c| serde_json::to_value(c).ok()), status.as_object_mut()) {
        for key in old.as_object().into_iter().flat_map(|o| o.keys()) {
            fields.entry(key.clone()).or_insert(serde_json::Value::Null);
        }
    }
    let patch = serde_json::json!({ "status": status });
    api.patch_status(&obj.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
    Ok(())
}

/// A non-empty UTF-8 value of a Secret.
pub fn secret_value(secret: Option<&Secret>, key: &str) -> Option<String> {
    let bytes = secret?.data.as_ref()?.get(key)?;
    String::from_utf8(bytes.0.clone()).ok().filter(|v| !v.is_empty())
}

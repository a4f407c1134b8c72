//! What Bucket and AccessKey reconcilers share: finding the store they name, reaching its admin
//! API, and writing their status only when it changed.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::admin::AdminTarget;
use crate::build::{names, ADMIN_TOKEN_KEY};
use crate::conditions::{self, READY};
use crate::context::Context;
use crate::crd::BleepStore;
use crate::error::Result;
use crate::store::validate_value;

/// The store a dependent names, as far as it can be used.
pub enum StoreLookup {
    /// No BleepStore of that name in the namespace.
    Missing,
    /// It exists but is not Ready (or its admin token is not there yet).
    NotReady(Box<BleepStore>),
    /// Ready, with its admin API.
    Ready(Box<BleepStore>, AdminTarget),
}

pub async fn lookup_store(ctx: &Context, ns: &str, name: &str) -> Result<StoreLookup> {
    let Some(store) = Api::<BleepStore>::namespaced(ctx.client.clone(), ns).get_opt(name).await? else {
        return Ok(StoreLookup::Missing);
    };
    let ready = store.status.as_ref().is_some_and(|s| conditions::is_true(&s.conditions, READY));
    if !ready {
        return Ok(StoreLookup::NotReady(Box::new(store)));
    }
    match admin_target(ctx, ns, &store).await? {
        Some(target) => Ok(StoreLookup::Ready(Box::new(store), target)),
        None => Ok(StoreLookup::NotReady(Box::new(store))),
    }
}

/// The store's admin API address and token, or `None` while its admin Secret is missing.
pub async fn admin_target(ctx: &Context, ns: &str, store: &BleepStore) -> Result<Option<AdminTarget>> {
    let secret = Api::<Secret>::namespaced(ctx.client.clone(), ns).get_opt(&names::admin_secret(store)).await?;
    Ok(validate_value(&secret, ADMIN_TOKEN_KEY)
        .map(|token| AdminTarget { base_url: format!("http://{}", ctx.settings.addresses.management(store)), token }))
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

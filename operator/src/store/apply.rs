//! Apply: server-side apply of a store's objects with the one field manager, removal of a
//! PodDisruptionBudget the spec no longer asks for, and growth of existing volume claims.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};

use super::validate::claim_request;
use super::StoreRefs;
use crate::api::apply_object;
use crate::build::{StoreResources, MANAGED_BY};
use crate::context::Context;
use crate::crd::BleepStore;
use crate::error::Result;
use crate::quantity;

/// Applies every built object; returns the applied StatefulSet (with its status).
pub(super) async fn apply(ctx: &Context, ns: &str, resources: StoreResources, refs: &StoreRefs) -> Result<StatefulSet> {
    let StoreResources {
        config_map,
        root_secret,
        admin_secret,
        headless_service,
        client_service,
        stateful_set,
        pod_disruption_budget,
    } = resources;
    apply_object::<Secret>(ctx, ns, &root_secret).await?;
    apply_object::<Secret>(ctx, ns, &admin_secret).await?;
    apply_object::<ConfigMap>(ctx, ns, &config_map).await?;
    apply_object::<Service>(ctx, ns, &headless_service).await?;
    apply_object::<Service>(ctx, ns, &client_service).await?;
    let applied = apply_object::<StatefulSet>(ctx, ns, &stateful_set).await?;
    match pod_disruption_budget {
        Some(pdb) => {
            apply_object::<PodDisruptionBudget>(ctx, ns, &pdb).await?;
        }
        None => {
            if let Some(stale) = refs.stale_pdb.as_ref().filter(|p| is_ours(*p)) {
                let api: Api<PodDisruptionBudget> = Api::namespaced(ctx.client.clone(), ns);
                api.delete(&stale.name_any(), &DeleteParams::default()).await?;
            }
        }
    }
    Ok(applied)
}

fn is_ours<K: Resource>(obj: &K) -> bool {
    obj.meta().labels.as_ref().and_then(|l| l.get("app.kubernetes.io/managed-by")).is_some_and(|v| v == MANAGED_BY)
}

/// A claim the API server would not grow (its StorageClass cannot expand, a quota, …).
#[derive(Debug, Clone)]
pub(super) struct ResizeRefused {
    pub(super) claim: String,
    pub(super) message: String,
}

/// Raises each existing claim's request to `storage.size` when it is smaller (the StorageClass
/// must allow expansion; the cluster reports progress in the claim's capacity). Returns the
/// claims as they are now, and those the API server refused to grow: a refusal is reported in
/// the status, not an error, so the rest of the status stays current.
pub(super) async fn grow_volumes(
    ctx: &Context,
    ns: &str,
    store: &BleepStore,
    refs: &StoreRefs,
) -> Result<(Vec<PersistentVolumeClaim>, Vec<ResizeRefused>)> {
    let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), ns);
    let wanted = quantity::bytes(&store.spec.storage.size);
    let mut out = Vec::with_capacity(refs.claims.len());
    let mut refused = Vec::new();
    for claim in &refs.claims {
        let current = claim_request(claim).and_then(|q| quantity::bytes(&q));
        match (wanted, current) {
            (Some(wanted), Some(current)) if wanted > current => {
                let patch =
                    serde_json::json!({"spec": {"resources": {"requests": {"storage": store.spec.storage.size}}}});
                tracing::info!(claim = %claim.name_any(), size = %store.spec.storage.size, "growing a data volume");
                match api.patch(&claim.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await {
                    Ok(grown) => out.push(grown),
                    // Forbidden (admission: the class cannot expand) or Invalid: the request
                    // itself is refused, retrying it as is cannot help.
                    Err(kube::Error::Api(status)) if status.code == 403 || status.code == 422 => {
                        tracing::warn!(claim = %claim.name_any(), reason = %status.message, "volume growth refused");
                        refused.push(ResizeRefused { claim: claim.name_any(), message: status.message.clone() });
                        out.push(claim.clone());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            _ => out.push(claim.clone()),
        }
    }
    Ok((out, refused))
}

//! Dereference: read what a store's build depends on — its generated Secrets (kept from earlier
//! runs), its TLS Secret, its StatefulSet's claim template and its data volume claims.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::Api;

use crate::build::names;
use crate::context::Context;
use crate::crd::BleepStore;
use crate::error::Result;

/// What the cluster holds for a store.
#[derive(Debug, Default, Clone)]
pub struct StoreRefs {
    pub root_secret: Option<Secret>,
    pub admin_secret: Option<Secret>,
    /// The TLS Secret, when the spec names one.
    pub tls_secret: Option<Secret>,
    /// The remote backend's credentials Secret, when the spec names one.
    pub backend_secret: Option<Secret>,
    pub stateful_set: Option<StatefulSet>,
    /// The claims of replicas `0..replicas`, where they exist.
    pub claims: Vec<PersistentVolumeClaim>,
    /// A PodDisruptionBudget left from a spec that asked for one.
    pub stale_pdb: Option<PodDisruptionBudget>,
}

pub(super) async fn dereference(store: &BleepStore, ctx: &Context, ns: &str) -> Result<StoreRefs> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let root_secret = secrets.get_opt(&names::root_secret(store)).await?;
    let admin_secret = secrets.get_opt(&names::admin_secret(store)).await?;
    let tls_secret = match &store.spec.tls {
        Some(tls) => secrets.get_opt(&tls.secret_name).await?,
        None => None,
    };
    let backend_secret = match (&store.spec.backend.s3, &store.spec.backend.azure) {
        (Some(s3), _) => secrets.get_opt(&s3.credentials_secret.name).await?,
        (None, Some(azure)) => secrets.get_opt(&azure.credentials_secret.name).await?,
        (None, None) => None,
    };
    let stateful_set =
        Api::<StatefulSet>::namespaced(ctx.client.clone(), ns).get_opt(&names::stateful_set(store)).await?;
    let mut claims = Vec::new();
    if stateful_set.is_some() {
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), ns);
        for ordinal in 0..store.spec.replicas {
            if let Some(claim) = pvcs.get_opt(&names::claim(store, ordinal)).await? {
                claims.push(claim);
            }
        }
    }
    let stale_pdb = match store.spec.pod_disruption_budget {
        Some(_) => None,
        None => {
            Api::<PodDisruptionBudget>::namespaced(ctx.client.clone(), ns)
                .get_opt(&names::pod_disruption_budget(store))
                .await?
        }
    };
    Ok(StoreRefs { root_secret, admin_secret, tls_secret, backend_secret, stateful_set, claims, stale_pdb })
}

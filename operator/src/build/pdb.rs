//! The PodDisruptionBudget, when the spec asks for one.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{labels, names};
use crate::crd::BleepStore;

pub(super) fn pod_disruption_budget(store: &BleepStore) -> Option<PodDisruptionBudget> {
    let spec = store.spec.pod_disruption_budget.as_ref()?;
    Some(PodDisruptionBudget {
        metadata: labels::metadata(store, names::pod_disruption_budget(store)),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(spec.max_unavailable)),
            selector: Some(LabelSelector { match_labels: Some(labels::selector_labels(store)), ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    })
}

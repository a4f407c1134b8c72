//! `metav1.Condition` bookkeeping: a condition keeps its `lastTransitionTime` while its status
//! does not change, so rewriting an unchanged status is a no-op for the API server and GitOps.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub const READY: &str = "Ready";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";
pub const DELETION_BLOCKED: &str = "DeletionBlocked";

/// A condition to set: type, status, a CamelCase reason and a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub type_: &'static str,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

impl Want {
    pub fn new(type_: &'static str, status: bool, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self { type_, status, reason: reason.into(), message: message.into() }
    }
}

/// The conditions to write: each wanted condition, keeping the previous transition time when
/// its status is unchanged; previous conditions of other types are kept as they are.
pub fn merge(previous: &[Condition], wanted: &[Want], generation: Option<i64>, now: Timestamp) -> Vec<Condition> {
    let mut out: Vec<Condition> =
        previous.iter().filter(|c| !wanted.iter().any(|w| w.type_ == c.type_)).cloned().collect();
    for want in wanted {
        let status = if want.status { "True" } else { "False" }.to_owned();
        let last_transition_time = previous
            .iter()
            .find(|c| c.type_ == want.type_ && c.status == status)
            .map(|c| c.last_transition_time.clone())
            .unwrap_or(Time(now));
        out.push(Condition {
            type_: want.type_.to_owned(),
            status,
            reason: want.reason.clone(),
            message: want.message.clone(),
            observed_generation: generation,
            last_transition_time,
        });
    }
    out.sort_by(|a, b| a.type_.cmp(&b.type_));
    out
}

/// Whether `conditions` hold `type_` with status `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    conditions.iter().any(|c| c.type_ == type_ && c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_status_keeps_its_transition_time() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t1: Timestamp = "2026-01-02T00:00:00Z".parse().unwrap();
        let first = merge(&[], &[Want::new(READY, false, "PodsNotReady", "0 of 1")], Some(1), t0);
        let same = merge(&first, &[Want::new(READY, false, "PodsNotReady", "0 of 1")], Some(1), t1);
        assert_eq!(first, same);
        let flipped = merge(&same, &[Want::new(READY, true, "Ready", "1 of 1")], Some(1), t1);
        assert_eq!(flipped[0].last_transition_time, Time(t1));
        assert_eq!(flipped[0].status, "True");
    }

    #[test]
    fn other_types_are_kept_and_output_is_sorted() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let first = merge(&[], &[Want::new(READY, true, "Ready", "")], Some(1), t0);
        let both = merge(&first, &[Want::new(DELETION_BLOCKED, true, "BucketNotEmpty", "x")], Some(2), t0);
        let types: Vec<_> = both.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, ["DeletionBlocked", "Ready"]);
        assert!(is_true(&both, READY));
        assert_eq!(both[1].observed_generation, Some(1));
    }
}

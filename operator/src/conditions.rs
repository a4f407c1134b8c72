//! `metav1.Condition` bookkeeping: a condition keeps its `lastTransitionTime` while its status
//! does not change, so rewriting an unchanged status is a no-op for the API server and GitOps.
//!
//! Beside `Ready`, every status write that sets `Ready` also sets kstatus's two abnormal-true
//! conditions, which Flux and `kubectl wait`-style tools read: `Reconciling` (the operator is
//! still working towards the spec: pods starting, a volume growing, a store or bucket not there
//! yet) and `Stalled` (it cannot get there without a change by someone: an invalid spec, a
//! refused object or resize, a name someone else holds).

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub const READY: &str = "Ready";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";
pub const DELETION_BLOCKED: &str = "DeletionBlocked";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";

/// `Ready=False` reasons of a Bucket or AccessKey that only a change of a resource ends.
const NEEDS_A_CHANGE: [&str; 6] = [
    "BucketNameConflict",
    "InvalidBucketName",
    "InvalidTags",
    "BucketOwnedByAnother",
    "BucketInOtherStore",
    "SecretConflict",
];

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

/// kstatus's `Reconciling` and `Stalled` for a write that sets `Ready`: stalled on a true
/// `Degraded` or a `Ready=False` that needs a change; otherwise reconciling on any other
/// `Ready=False` or a true `Progressing`; both false when ready and settled. Each true one
/// carries the reason and message of the condition it comes from.
fn kstatus(wanted: &[Want]) -> Option<[Want; 2]> {
    let ready = wanted.iter().find(|w| w.type_ == READY)?;
    let true_one = |type_: &str| wanted.iter().find(|w| w.type_ == type_ && w.status);
    let (stalled, reconciling) = if let Some(degraded) = true_one(DEGRADED) {
        (Some(degraded), None)
    } else if !ready.status && NEEDS_A_CHANGE.contains(&ready.reason.as_str()) {
        (Some(ready), None)
    } else if !ready.status {
        (None, Some(ready))
    } else {
        (None, true_one(PROGRESSING))
    };
    let derive = |type_: &'static str, from: Option<&Want>| match from {
        Some(w) => Want::new(type_, true, w.reason.clone(), w.message.clone()),
        None => Want::new(type_, false, "AsExpected", ""),
    };
    Some([derive(STALLED, stalled), derive(RECONCILING, reconciling)])
}

/// The conditions to write: each wanted condition (plus kstatus's, when `Ready` is among them),
/// keeping the previous transition time when its status is unchanged; previous conditions of
/// other types are kept as they are.
pub fn merge(previous: &[Condition], wanted: &[Want], generation: Option<i64>, now: Timestamp) -> Vec<Condition> {
    let mut wanted = wanted.to_vec();
    if let Some(derived) = kstatus(&wanted) {
        wanted.retain(|w| w.type_ != STALLED && w.type_ != RECONCILING);
        wanted.extend(derived);
    }
    let mut out: Vec<Condition> =
        previous.iter().filter(|c| !wanted.iter().any(|w| w.type_ == c.type_)).cloned().collect();
    for want in &wanted {
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
        assert_eq!(types, ["DeletionBlocked", "Ready", "Reconciling", "Stalled"]);
        assert!(is_true(&both, READY));
        assert_eq!(both[1].observed_generation, Some(1));
    }

    fn status_of(conditions: &[Condition], type_: &str) -> (String, String) {
        let c = conditions.iter().find(|c| c.type_ == type_).expect(type_);
        (c.status.clone(), c.reason.clone())
    }

    #[test]
    fn kstatus_follows_ready_degraded_and_progressing() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let pair = |s: &str, r: &str| (s.to_owned(), r.to_owned());
        // Settled: neither.
        let settled = merge(
            &[],
            &[Want::new(READY, true, "Ready", ""), Want::new(PROGRESSING, false, "RolledOut", "")],
            None,
            t0,
        );
        assert_eq!(status_of(&settled, RECONCILING), pair("False", "AsExpected"));
        assert_eq!(status_of(&settled, STALLED), pair("False", "AsExpected"));
        // Ready but a volume still growing: reconciling.
        let growing = merge(
            &[],
            &[Want::new(READY, true, "Ready", ""), Want::new(PROGRESSING, true, "VolumeExpanding", "m")],
            None,
            t0,
        );
        assert_eq!(status_of(&growing, RECONCILING), pair("True", "VolumeExpanding"));
        // Not ready yet: reconciling, with Ready's reason.
        let waiting = merge(&[], &[Want::new(READY, false, "StoreNotReady", "m")], None, t0);
        assert_eq!(status_of(&waiting, RECONCILING), pair("True", "StoreNotReady"));
        assert_eq!(status_of(&waiting, STALLED).0, "False");
        // A conflict only a change ends: stalled.
        let conflict = merge(&[], &[Want::new(READY, false, "BucketOwnedByAnother", "m")], None, t0);
        assert_eq!(status_of(&conflict, STALLED), pair("True", "BucketOwnedByAnother"));
        assert_eq!(status_of(&conflict, RECONCILING).0, "False");
        // Degraded (an invalid spec, a refused resize) stalls even while Ready.
        let refused = merge(
            &[],
            &[Want::new(READY, true, "Ready", ""), Want::new(DEGRADED, true, "VolumeResizeRefused", "m")],
            None,
            t0,
        );
        assert_eq!(status_of(&refused, STALLED), pair("True", "VolumeResizeRefused"));
        // A write without Ready leaves them as they were.
        let blocked = merge(&conflict, &[Want::new(DELETION_BLOCKED, true, "BucketNotEmpty", "m")], None, t0);
        assert_eq!(status_of(&blocked, STALLED), pair("True", "BucketOwnedByAnother"));
    }
}

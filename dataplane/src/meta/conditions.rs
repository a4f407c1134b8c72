//! Conditions a write or a delete must satisfy against the key's current object, checked inside
//! the write transaction so that they are atomic against concurrent writers.

use super::objects::ObjectRow;

/// `If-Match` / `If-None-Match` on PutObject, CopyObject's destination and
/// CompleteMultipartUpload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutCondition {
    /// Only replace a current object whose ETag is listed (`*`: any current object).
    pub if_match: Option<String>,
    /// Refuse when a current object's ETag is listed (`*`: when any object exists).
    pub if_none_match: Option<String>,
}

/// Why a conditional write or delete did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A condition names an object, and there is none.
    NoSuchKey,
    PreconditionFailed,
}

impl PutCondition {
    pub fn none() -> Self {
        Self::default()
    }

    /// Checks the condition against the current object's ETag.
    pub fn check(&self, current_etag: Option<&str>) -> Result<(), Refusal> {
        match (&self.if_match, current_etag) {
            (Some(_), None) => return Err(Refusal::NoSuchKey),
            (Some(want), Some(etag)) if !crate::etag::list_matches(want, etag) => {
                return Err(Refusal::PreconditionFailed)
            }
            _ => {}
        }
        match (&self.if_none_match, current_etag) {
            (Some(unwanted), Some(etag)) if crate::etag::list_matches_weak(unwanted, etag) => {
                Err(Refusal::PreconditionFailed)
            }
            _ => Ok(()),
        }
    }
}

/// DeleteObject's `If-Match`, `x-amz-if-match-last-modified-time` and `x-amz-if-match-size`,
/// and the same conditions per entry of DeleteObjects. Every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteCondition {
    pub if_match: Option<String>,
    /// Unix seconds the object's Last-Modified must equal.
    pub last_modified_secs: Option<i64>,
    pub size: Option<u64>,
}

impl DeleteCondition {
    pub fn is_empty(&self) -> bool {
        self.if_match.is_none() && self.last_modified_secs.is_none() && self.size.is_none()
    }

    /// Checks the condition against the current object. With no object, `If-Match` is refused
    /// with `NoSuchKey` (as S3 answers), while the time and size conditions let the delete go
    /// on (it deletes nothing: 204).
    pub fn check(&self, current: Option<&ObjectRow>) -> Result<(), Refusal> {
        let Some(row) = current else {
            return if self.if_match.is_some() { Err(Refusal::NoSuchKey) } else { Ok(()) };
        };
        let etag_ok = self.if_match.as_deref().is_none_or(|want| crate::etag::list_matches(want, &row.etag));
        let time_ok = self.last_modified_secs.is_none_or(|t| row.last_modified_ms.div_euclid(1000) == t);
        let size_ok = self.size.is_none_or(|s| s == row.size);
        if etag_ok && time_ok && size_ok {
            Ok(())
        } else {
            Err(Refusal::PreconditionFailed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(if_match: Option<&str>, if_none_match: Option<&str>) -> PutCondition {
        PutCondition { if_match: if_match.map(str::to_owned), if_none_match: if_none_match.map(str::to_owned) }
    }

    #[test]
    fn put_conditions() {
        let cases: [(PutCondition, Option<&str>, Result<(), Refusal>); 10] = [
            (cond(None, None), None, Ok(())),
            (cond(None, None), Some("e"), Ok(())),
            (cond(Some("\"e\""), None), None, Err(Refusal::NoSuchKey)),
            (cond(Some("\"e\""), None), Some("e"), Ok(())),
            (cond(Some("\"x\""), None), Some("e"), Err(Refusal::PreconditionFailed)),
            (cond(None, Some("*")), None, Ok(())),
            (cond(None, Some("*")), Some("e"), Err(Refusal::PreconditionFailed)),
            (cond(None, Some("\"e\"")), Some("e"), Err(Refusal::PreconditionFailed)),
            (cond(None, Some("\"x\"")), Some("e"), Ok(())),
            (cond(Some("*"), Some("\"x\"")), Some("e"), Ok(())),
        ];
        for (c, current, want) in cases {
            assert_eq!(c.check(current), want, "{c:?} against {current:?}");
        }
    }

    #[test]
    fn delete_conditions() {
        let row = ObjectRow {
            bucket: "b".into(),
            key: "k".into(),
            blob_id: "x".into(),
            size: 7,
            etag: "e".into(),
            last_modified_ms: 1_700_000_000_999,
            meta: Default::default(),
            owner: "o".into(),
            acl: "private".into(),
            parts_count: 0,
            inline: false,
            version_id: crate::meta::NULL_VERSION.into(),
            seq: 0,
            delete_marker: false,
        };
        let c = |m: Option<&str>, t: Option<i64>, s: Option<u64>| DeleteCondition {
            if_match: m.map(str::to_owned),
            last_modified_secs: t,
            size: s,
        };
        assert_eq!(c(None, None, None).check(None), Ok(()));
        assert_eq!(c(Some("\"e\""), None, None).check(None), Err(Refusal::NoSuchKey));
        assert_eq!(c(Some("*"), None, None).check(None), Err(Refusal::NoSuchKey));
        assert_eq!(c(None, Some(1_700_000_000), Some(7)).check(None), Ok(()));
        assert_eq!(c(Some("*"), None, None).check(Some(&row)), Ok(()));
        assert_eq!(c(Some("\"e\""), Some(1_700_000_000), Some(7)).check(Some(&row)), Ok(()));
        assert_eq!(c(Some("\"x\""), None, None).check(Some(&row)), Err(Refusal::PreconditionFailed));
        assert_eq!(c(None, Some(1_700_000_001), None).check(Some(&row)), Err(Refusal::PreconditionFailed));
        assert_eq!(c(None, None, Some(8)).check(Some(&row)), Err(Refusal::PreconditionFailed));
    }
}

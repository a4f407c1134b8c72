//! What a principal may do to a bucket, decided once per request before the handler runs.
//! The root key may do everything; a bucket's owner may do everything on it; anonymous callers
//! get what the canned ACLs grant.

use crate::auth::Principal;
use crate::error::{S3Error, S3ErrorCode};
use crate::meta::BucketRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// List or inspect the bucket.
    BucketRead,
    /// Read an object (its own ACL may grant it).
    ObjectRead,
    /// Create, replace or delete objects.
    Write,
    /// Delete the bucket or change its configuration.
    Admin,
}

/// The outcome of the bucket-level check.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Allowed only if the object's own ACL grants anonymous reads.
    IfObjectPublic,
}

pub fn bucket_access(principal: &Principal, bucket: &BucketRow, access: Access) -> Result<Decision, S3Error> {
    match principal {
        Principal::Key { is_root: true, .. } => Ok(Decision::Allow),
        Principal::Key { owner_id, .. } if *owner_id == bucket.owner => Ok(Decision::Allow),
        Principal::Key { .. } => Err(S3ErrorCode::AccessDenied.into()),
        Principal::Anonymous => match (access, bucket.acl.as_str()) {
            (Access::BucketRead, "public-read" | "public-read-write") => Ok(Decision::Allow),
            (Access::Write, "public-read-write") => Ok(Decision::Allow),
            (Access::ObjectRead, _) => Ok(Decision::IfObjectPublic),
            _ => Err(S3ErrorCode::AccessDenied.into()),
        },
    }
}

/// Does an object's canned ACL let anyone read it?
pub fn object_public(acl: &str) -> bool {
    matches!(acl, "public-read" | "public-read-write")
}

/// Anonymous callers may not create buckets or list them.
pub fn require_signed(principal: &Principal) -> Result<(), S3Error> {
    match principal {
        Principal::Anonymous => Err(S3ErrorCode::AccessDenied.into()),
        Principal::Key { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(acl: &str) -> BucketRow {
        BucketRow { name: "b".into(), region: "r".into(), owner: "alice".into(), acl: acl.into(), created_ms: 0 }
    }

    fn key(owner: &str, root: bool) -> Principal {
        Principal::Key { access_key: owner.into(), owner_id: owner.into(), is_root: root }
    }

    #[test]
    fn owners_root_others_and_anonymous() {
        assert_eq!(bucket_access(&key("root", true), &bucket("private"), Access::Admin).unwrap(), Decision::Allow);
        assert_eq!(bucket_access(&key("alice", false), &bucket("private"), Access::Write).unwrap(), Decision::Allow);
        assert!(bucket_access(&key("bob", false), &bucket("public-read"), Access::BucketRead).is_err());
        assert!(bucket_access(&Principal::Anonymous, &bucket("private"), Access::BucketRead).is_err());
        assert_eq!(
            bucket_access(&Principal::Anonymous, &bucket("public-read"), Access::BucketRead).unwrap(),
            Decision::Allow
        );
        assert!(bucket_access(&Principal::Anonymous, &bucket("public-read"), Access::Write).is_err());
        assert_eq!(
            bucket_access(&Principal::Anonymous, &bucket("public-read-write"), Access::Write).unwrap(),
            Decision::Allow
        );
        assert_eq!(
            bucket_access(&Principal::Anonymous, &bucket("private"), Access::ObjectRead).unwrap(),
            Decision::IfObjectPublic
        );
        assert!(bucket_access(&Principal::Anonymous, &bucket("private"), Access::Admin).is_err());
    }
}

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

/// Whether a canned ACL grants reads to this caller: `public-read(-write)` grants everyone
/// (S3's AllUsers), `authenticated-read` every signed caller.
fn acl_grants_read(acl: &str, principal: &Principal) -> bool {
    match acl {
        "public-read" | "public-read-write" => true,
        "authenticated-read" => matches!(principal, Principal::Key { .. }),
        _ => false,
    }
}

pub fn bucket_access(principal: &Principal, bucket: &BucketRow, access: Access) -> Result<Decision, S3Error> {
    match principal {
        Principal::Key { is_root: true, .. } => return Ok(Decision::Allow),
        Principal::Key { owner_id, .. } if *owner_id == bucket.owner => return Ok(Decision::Allow),
        _ => {}
    }
    match access {
        Access::BucketRead if acl_grants_read(&bucket.acl, principal) => Ok(Decision::Allow),
        Access::Write if bucket.acl == "public-read-write" => Ok(Decision::Allow),
        Access::ObjectRead => Ok(Decision::IfObjectPublic),
        _ => Err(S3ErrorCode::AccessDenied.into()),
    }
}

/// May this caller list the bucket (and so learn that a key does not exist)?
pub fn bucket_listable(principal: &Principal, bucket: &BucketRow) -> bool {
    bucket_access(principal, bucket, Access::BucketRead).is_ok()
}

/// May this (non-bucket-owner) caller read an object? Its writer always may; others as the
/// object's canned ACL says.
pub fn object_readable(acl: &str, object_owner: &str, principal: &Principal) -> bool {
    matches!(principal, Principal::Key { owner_id, .. } if owner_id == object_owner) || acl_grants_read(acl, principal)
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
        assert_eq!(
            bucket_access(&key("bob", false), &bucket("public-read"), Access::BucketRead).unwrap(),
            Decision::Allow
        );
        assert!(bucket_access(&key("bob", false), &bucket("private"), Access::BucketRead).is_err());
        assert_eq!(
            bucket_access(&key("bob", false), &bucket("authenticated-read"), Access::BucketRead).unwrap(),
            Decision::Allow
        );
        assert!(bucket_access(&Principal::Anonymous, &bucket("authenticated-read"), Access::BucketRead).is_err());
        assert!(object_readable("authenticated-read", "alice", &key("bob", false)));
        assert!(!object_readable("authenticated-read", "alice", &Principal::Anonymous));
        assert!(object_readable("private", "bob", &key("bob", false)));
        assert!(!object_readable("private", "alice", &key("bob", false)));
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

//! What a principal may do to a bucket, decided once per request before the handler runs.
//! The root key may do everything; a bucket's owner may do everything on it; other keys act
//! through their grants (read / write / owner per bucket, set by the operator); everyone else
//! gets what the bucket's ACL grants (canned, header grants or an AccessControlPolicy).

use crate::auth::Principal;
use crate::error::{S3Error, S3ErrorCode};
use crate::meta::{BucketRow, GRANT_OWNER, GRANT_READ, GRANT_WRITE};
use crate::s3::acl::{Acl, Permission};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// List or inspect the bucket.
    BucketRead,
    /// Read an object (its own ACL may grant it).
    ObjectRead,
    /// Create, replace or delete objects.
    Write,
    /// Read or replace an object's ACL (the object's own ACL may grant it).
    ObjectAcl,
    /// Read the bucket's ACL.
    AclRead,
    /// Replace the bucket's ACL.
    AclWrite,
    /// Delete the bucket or read its configuration.
    Admin,
}

/// The outcome of the bucket-level check.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Decision {
    Allow,
    /// Allowed only if the object's own ACL grants it; `listable` says whether the caller may
    /// learn that a key does not exist (404) or must be told 403.
    IfObjectGrants {
        listable: bool,
    },
}

/// `grant` is the caller's grant flags on this bucket (0 for none or anonymous).
pub(super) fn bucket_access(
    principal: &Principal,
    bucket: &BucketRow,
    access: Access,
    grant: u8,
) -> Result<Decision, S3Error> {
    match principal {
        Principal::Key { is_root: true, .. } => return Ok(Decision::Allow),
        Principal::Key { owner_id, .. } if *owner_id == bucket.owner => return Ok(Decision::Allow),
        _ => {}
    }
    let granted = match access {
        _ if grant & GRANT_OWNER != 0 => true,
        Access::BucketRead | Access::ObjectRead => grant & GRANT_READ != 0,
        Access::Write => grant & GRANT_WRITE != 0,
        Access::ObjectAcl | Access::AclRead | Access::AclWrite | Access::Admin => false,
    };
    if granted {
        return Ok(Decision::Allow);
    }
    let acl = Acl::from_stored(&bucket.acl);
    let allowed = match access {
        Access::BucketRead => acl.allows(&bucket.owner, principal, Permission::Read),
        Access::Write => acl.allows(&bucket.owner, principal, Permission::Write),
        Access::AclRead => acl.allows(&bucket.owner, principal, Permission::ReadAcp),
        Access::AclWrite => acl.allows(&bucket.owner, principal, Permission::WriteAcp),
        Access::ObjectRead | Access::ObjectAcl => {
            let listable = grant & GRANT_READ != 0 || acl.allows(&bucket.owner, principal, Permission::Read);
            return Ok(Decision::IfObjectGrants { listable });
        }
        Access::Admin => false,
    };
    if allowed {
        Ok(Decision::Allow)
    } else {
        Err(S3ErrorCode::AccessDenied.into())
    }
}

/// May this caller (not allowed by the bucket check) do `permission` on an object? Its writer
/// always may; others as the object's ACL says.
pub(super) fn object_allows(acl: &str, object_owner: &str, principal: &Principal, permission: Permission) -> bool {
    Acl::from_stored(acl).allows(object_owner, principal, permission)
}

/// `x-amz-expected-bucket-owner` (or, for a copy source, `x-amz-source-expected-bucket-owner`):
/// when sent, the bucket must belong to that owner, else 403 `AccessDenied`.
pub(super) fn expected_owner(headers: &http::HeaderMap, header: &str, bucket: &BucketRow) -> Result<(), S3Error> {
    match crate::s3::headers::get(headers, header) {
        Some(expected) if expected.trim() != bucket.owner => Err(S3ErrorCode::AccessDenied.into()),
        _ => Ok(()),
    }
}

/// Anonymous callers may not create buckets or list them.
pub(super) fn require_signed(principal: &Principal) -> Result<(), S3Error> {
    match principal {
        Principal::Anonymous => Err(S3ErrorCode::AccessDenied.into()),
        Principal::Key { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(acl: &str) -> BucketRow {
        BucketRow {
            name: "b".into(),
            region: "r".into(),
            owner: "alice".into(),
            acl: acl.into(),
            created_ms: 0,
            versioning: crate::meta::Versioning::Unversioned,
        }
    }

    fn key(owner: &str, root: bool) -> Principal {
        Principal::Key { access_key: owner.into(), owner_id: owner.into(), is_root: root }
    }

    #[test]
    fn owners_root_grants_acls_and_anonymous() {
        let anon = Principal::Anonymous;
        let allow = |p: &Principal, acl: &str, a: Access, g: u8| {
            bucket_access(p, &bucket(acl), a, g).map(|d| d == Decision::Allow).unwrap_or(false)
        };
        assert!(allow(&key("root", true), "private", Access::Admin, 0));
        assert!(allow(&key("alice", false), "private", Access::AclWrite, 0));
        assert!(allow(&key("bob", false), "public-read", Access::BucketRead, 0));
        assert!(!allow(&key("bob", false), "private", Access::BucketRead, 0));
        assert!(allow(&key("bob", false), "authenticated-read", Access::BucketRead, 0));
        assert!(!allow(&anon, "authenticated-read", Access::BucketRead, 0));
        assert!(allow(&anon, "public-read", Access::BucketRead, 0));
        assert!(!allow(&anon, "public-read", Access::Write, 0));
        assert!(allow(&anon, "public-read-write", Access::Write, 0));
        assert!(!allow(&anon, "private", Access::Admin, 0));
        // Grants: read lists and reads, write writes, owner does everything.
        assert!(allow(&key("bob", false), "private", Access::BucketRead, GRANT_READ));
        assert!(!allow(&key("bob", false), "private", Access::Write, GRANT_READ));
        assert!(allow(&key("bob", false), "private", Access::Write, GRANT_WRITE));
        assert!(!allow(&key("bob", false), "private", Access::BucketRead, GRANT_WRITE));
        assert!(allow(&key("bob", false), "private", Access::Admin, GRANT_OWNER));
        assert_eq!(
            bucket_access(&anon, &bucket("private"), Access::ObjectRead, 0).unwrap(),
            Decision::IfObjectGrants { listable: false }
        );
        assert_eq!(
            bucket_access(&anon, &bucket("public-read"), Access::ObjectRead, 0).unwrap(),
            Decision::IfObjectGrants { listable: true }
        );
        assert!(object_allows("authenticated-read", "alice", &key("bob", false), Permission::Read));
        assert!(!object_allows("authenticated-read", "alice", &anon, Permission::Read));
        assert!(object_allows("private", "bob", &key("bob", false), Permission::Read));
        assert!(!object_allows("private", "alice", &key("bob", false), Permission::Read));
    }
}

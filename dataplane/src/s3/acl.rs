//! Access control lists: canned ACLs, `x-amz-grant-*` headers and the `AccessControlPolicy`
//! document, all turned into one list of grants that authorization evaluates. Stored as the
//! canned name when it is one, as JSON otherwise.

use http::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::error::{S3Error, S3ErrorCode};
use crate::s3::headers::get;
use crate::s3::xml::XmlWriter;

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grantee {
    User(String),
    AllUsers,
    AuthenticatedUsers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Permission {
    Read,
    Write,
    ReadAcp,
    WriteAcp,
    FullControl,
}

impl Permission {
    fn as_str(self) -> &'static str {
        match self {
            Self::Read => "READ",
            Self::Write => "WRITE",
            Self::ReadAcp => "READ_ACP",
            Self::WriteAcp => "WRITE_ACP",
            Self::FullControl => "FULL_CONTROL",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Read, Self::Write, Self::ReadAcp, Self::WriteAcp, Self::FullControl]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: Permission,
}

/// The grants on a bucket or object. The resource owner's full control is always implied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    pub grants: Vec<Grant>,
}

fn malformed(msg: &str) -> S3Error {
    S3Error::new(S3ErrorCode::MalformedACLError).with_message(format!(
        "The XML you provided was not well-formed or did not validate against our published schema: {msg}"
    ))
}

impl Acl {
    /// The grants a canned ACL stands for (besides the owner's full control).
    pub fn canned(name: &str) -> Option<Self> {
        let g = |grantee, permission| Grant { grantee, permission };
        let grants = match name {
            "private" | "bucket-owner-full-control" | "bucket-owner-read" | "aws-exec-read" => vec![],
            "public-read" => vec![g(Grantee::AllUsers, Permission::Read)],
            "public-read-write" => {
                vec![g(Grantee::AllUsers, Permission::Read), g(Grantee::AllUsers, Permission::Write)]
            }
            "authenticated-read" => vec![g(Grantee::AuthenticatedUsers, Permission::Read)],
            _ => return None,
        };
        Some(Self { grants })
    }

    /// Reads the stored form: a canned name or JSON.
    pub fn from_stored(stored: &str) -> Self {
        Self::canned(stored).or_else(|| serde_json::from_str(stored).ok()).unwrap_or(Self { grants: vec![] })
    }

    /// The stored form; canned ACLs keep their name.
    pub fn to_stored(&self) -> String {
        for name in ["private", "public-read", "public-read-write", "authenticated-read"] {
            if Self::canned(name).as_ref() == Some(self) {
                return name.to_owned();
            }
        }
        serde_json::to_string(self).unwrap_or_else(|_| "private".to_owned())
    }

    /// Does this ACL (plus `owner`'s implied full control) give `principal` `permission`?
    pub fn allows(&self, owner: &str, principal: &Principal, permission: Permission) -> bool {
        if matches!(principal, Principal::Key { owner_id, .. } if owner_id == owner) {
            return true;
        }
        self.grants.iter().any(|g| {
            let who = match (&g.grantee, principal) {
                (Grantee::AllUsers, _) => true,
                (Grantee::AuthenticatedUsers, Principal::Key { .. }) => true,
                (Grantee::User(id), Principal::Key { owner_id, .. }) => id == owner_id,
                _ => false,
            };
            who && (g.permission == permission || g.permission == Permission::FullControl)
        })
    }

    /// The ACL a request's headers ask for: `x-amz-acl` or `x-amz-grant-*` (not both), or
    /// `None` when it names neither.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, S3Error> {
        const GRANT_HEADERS: [(&str, Permission); 5] = [
            ("x-amz-grant-read", Permission::Read),
            ("x-amz-grant-write", Permission::Write),
            ("x-amz-grant-read-acp", Permission::ReadAcp),
            ("x-amz-grant-write-acp", Permission::WriteAcp),
            ("x-amz-grant-full-control", Permission::FullControl),
        ];
        let canned = get(headers, "x-amz-acl");
        let any_grant = GRANT_HEADERS.iter().any(|(h, _)| headers.contains_key(*h));
        match (canned, any_grant) {
            (Some(_), true) => Err(S3Error::new(S3ErrorCode::InvalidRequest)
                .with_message("Specifying both Canned ACLs and Header Grants is not allowed")),
            (Some(name), false) => Acl::canned(name)
                .map(Some)
                .ok_or_else(|| S3Error::invalid_argument("x-amz-acl", name, "The canned ACL is not valid.")),
            (None, false) => Ok(None),
            (None, true) => {
                let mut grants = Vec::new();
                for (header, permission) in GRANT_HEADERS {
                    let Some(value) = get(headers, header) else { continue };
                    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                        let (kind, who) = part.split_once('=').ok_or_else(|| {
                            S3Error::invalid_argument(
                                header,
                                value,
                                "A grant must be of the form id=\"…\" or uri=\"…\".",
                            )
                        })?;
                        let who = who.trim().trim_matches('"');
                        let grantee = match kind.trim().to_ascii_lowercase().as_str() {
                            "id" => Grantee::User(who.to_owned()),
                            "uri" if who == ALL_USERS => Grantee::AllUsers,
                            "uri" if who == AUTHENTICATED_USERS => Grantee::AuthenticatedUsers,
                            "emailaddress" => {
                                return Err(S3Error::new(S3ErrorCode::NotImplemented)
                                    .with_message("Grants by email address are not supported."))
                            }
                            _ => return Err(S3Error::invalid_argument(header, value, "Unknown grantee.")),
                        };
                        grants.push(Grant { grantee, permission });
                    }
                }
                Ok(Some(Self { grants }))
            }
        }
    }

    /// Parses an `AccessControlPolicy` document; returns its owner id and the grants.
    pub fn from_xml(body: &[u8]) -> Result<(String, Self), S3Error> {
        let text = std::str::from_utf8(body).map_err(|_| malformed("not UTF-8"))?;
        let doc: PolicyDoc = quick_xml::de::from_str(text).map_err(|e| malformed(&e.to_string()))?;
        let owner = doc.owner.and_then(|o| o.id).ok_or_else(|| malformed("Owner/ID is required"))?;
        let mut grants = Vec::new();
        for g in doc.list.map(|l| l.grants).unwrap_or_default() {
            let grantee = match (g.grantee.id, g.grantee.uri, g.grantee.email) {
                (Some(id), None, None) => Grantee::User(id),
                (None, Some(uri), None) if uri == ALL_USERS => Grantee::AllUsers,
                (None, Some(uri), None) if uri == AUTHENTICATED_USERS => Grantee::AuthenticatedUsers,
                (None, None, Some(_)) => {
                    return Err(S3Error::new(S3ErrorCode::NotImplemented)
                        .with_message("Grants by email address are not supported."))
                }
                _ => return Err(malformed("each Grantee needs exactly one of ID or a known group URI")),
            };
            let permission = Permission::parse(&g.permission).ok_or_else(|| malformed("unknown Permission"))?;
            grants.push(Grant { grantee, permission });
        }
        Ok((owner, Self { grants }))
    }

    /// The `AccessControlPolicy` document, the owner's full control first.
    pub fn to_xml(&self, owner: &str) -> String {
        let mut w = XmlWriter::new();
        w.root("AccessControlPolicy");
        w.open("Owner");
        w.elem("ID", owner);
        w.elem("DisplayName", owner);
        w.close("Owner");
        w.open("AccessControlList");
        let owner_grant = Grant { grantee: Grantee::User(owner.to_owned()), permission: Permission::FullControl };
        for g in std::iter::once(&owner_grant).chain(self.grants.iter().filter(|g| **g != owner_grant)) {
            w.open("Grant");
            match &g.grantee {
                Grantee::User(id) => {
                    w.raw(&format!("<Grantee xmlns:xsi=\"{XSI}\" xsi:type=\"CanonicalUser\">"));
                    w.elem("ID", id);
                    w.elem("DisplayName", id);
                }
                Grantee::AllUsers | Grantee::AuthenticatedUsers => {
                    w.raw(&format!("<Grantee xmlns:xsi=\"{XSI}\" xsi:type=\"Group\">"));
                    w.elem("URI", if g.grantee == Grantee::AllUsers { ALL_USERS } else { AUTHENTICATED_USERS });
                }
            }
            w.close("Grantee");
            w.elem("Permission", g.permission.as_str());
            w.close("Grant");
        }
        w.close("AccessControlList");
        w.close("AccessControlPolicy");
        w.finish()
    }
}

#[derive(Deserialize)]
struct PolicyDoc {
    #[serde(rename = "Owner", default)]
    owner: Option<OwnerDoc>,
    #[serde(rename = "AccessControlList", default)]
    list: Option<ListDoc>,
}

#[derive(Deserialize)]
struct OwnerDoc {
    #[serde(rename = "ID", default)]
    id: Option<String>,
}

#[derive(Deserialize)]
struct ListDoc {
    #[serde(rename = "Grant", default)]
    grants: Vec<GrantDoc>,
}

#[derive(Deserialize)]
struct GrantDoc {
    #[serde(rename = "Grantee")]
    grantee: GranteeDoc,
    #[serde(rename = "Permission")]
    permission: String,
}

#[derive(Deserialize)]
struct GranteeDoc {
    #[serde(rename = "ID", default)]
    id: Option<String>,
    #[serde(rename = "URI", default)]
    uri: Option<String>,
    #[serde(rename = "EmailAddress", default)]
    email: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> Principal {
        Principal::Key { access_key: id.into(), owner_id: id.into(), is_root: false }
    }

    #[test]
    fn canned_acls_round_trip_and_grant() {
        let acl = Acl::canned("public-read").unwrap();
        assert_eq!(acl.to_stored(), "public-read");
        assert_eq!(Acl::from_stored("public-read"), acl);
        assert!(acl.allows("alice", &Principal::Anonymous, Permission::Read));
        assert!(!acl.allows("alice", &Principal::Anonymous, Permission::Write));
        assert!(Acl::canned("private").unwrap().allows("alice", &key("alice"), Permission::WriteAcp));
        assert!(!Acl::canned("private").unwrap().allows("alice", &key("bob"), Permission::Read));
        assert!(Acl::canned("authenticated-read").unwrap().allows("alice", &key("bob"), Permission::Read));
        assert!(Acl::canned("nope").is_none());
    }

    #[test]
    fn header_grants() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-grant-read", format!("uri=\"{ALL_USERS}\", id=\"bob\"").parse().unwrap());
        h.insert("x-amz-grant-full-control", "id=\"carol\"".parse().unwrap());
        let acl = Acl::from_headers(&h).unwrap().unwrap();
        assert!(acl.allows("alice", &Principal::Anonymous, Permission::Read));
        assert!(acl.allows("alice", &key("carol"), Permission::WriteAcp));
        assert!(!acl.allows("alice", &key("bob"), Permission::Write));
        let stored = acl.to_stored();
        assert_eq!(Acl::from_stored(&stored), acl);
        h.insert("x-amz-acl", "private".parse().unwrap());
        assert_eq!(Acl::from_headers(&h).unwrap_err().code, S3ErrorCode::InvalidRequest);
        let mut e = HeaderMap::new();
        e.insert("x-amz-grant-read", "emailAddress=\"a@b.c\"".parse().unwrap());
        assert_eq!(Acl::from_headers(&e).unwrap_err().code, S3ErrorCode::NotImplemented);
    }

    #[test]
    fn xml_round_trip_and_errors() {
        let acl = Acl {
            grants: vec![
                Grant { grantee: Grantee::AllUsers, permission: Permission::Read },
                Grant { grantee: Grantee::User("bob".into()), permission: Permission::Write },
            ],
        };
        let xml = acl.to_xml("alice");
        assert!(xml.contains("<Permission>FULL_CONTROL</Permission>"));
        let (owner, parsed) = Acl::from_xml(xml.as_bytes()).unwrap();
        assert_eq!(owner, "alice");
        assert!(parsed.grants.contains(&acl.grants[0]) && parsed.grants.contains(&acl.grants[1]));
        for bad in [
            "<AccessControlPolicy><AccessControlList/></AccessControlPolicy>",
            "<AccessControlPolicy><Owner><ID>a</ID></Owner><AccessControlList><Grant><Grantee><ID>b</ID></Grantee><Permission>ALL</Permission></Grant></AccessControlList></AccessControlPolicy>",
            "<AccessControlPolicy><Owner><ID>a</ID>",
        ] {
            assert_eq!(Acl::from_xml(bad.as_bytes()).unwrap_err().code, S3ErrorCode::MalformedACLError, "{bad}");
        }
    }
}

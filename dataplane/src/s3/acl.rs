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
const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grantee {
    User(String),
    AllUsers,
    AuthenticatedUsers,
    LogDelivery,
}

impl Grantee {
    fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            ALL_USERS => Some(Self::AllUsers),
            AUTHENTICATED_USERS => Some(Self::AuthenticatedUsers),
            LOG_DELIVERY => Some(Self::LogDelivery),
            _ => None,
        }
    }

    fn uri(&self) -> Option<&'static str> {
        match self {
            Self::User(_) => None,
            Self::AllUsers => Some(ALL_USERS),
            Self::AuthenticatedUsers => Some(AUTHENTICATED_USERS),
            Self::LogDelivery => Some(LOG_DELIVERY),
        }
    }
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

/// The canned ACLs S3 defines, each standing for a fixed list of grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canned {
    Private,
    PublicRead,
    PublicReadWrite,
    AuthenticatedRead,
    AwsExecRead,
    BucketOwnerRead,
    BucketOwnerFullControl,
    LogDeliveryWrite,
}

/// The canonical user S3 grants READ under `aws-exec-read` (EC2 reading AMI bundles).
const EC2_BUNDLE_READER: &str = "6aa5a366c34c1cbe25dc49211496e913e0351eb0e8c37aa3477e40942ec6b97c";

impl Canned {
    const ALL: [(Self, &'static str); 8] = [
        (Self::Private, "private"),
        (Self::PublicRead, "public-read"),
        (Self::PublicReadWrite, "public-read-write"),
        (Self::AuthenticatedRead, "authenticated-read"),
        (Self::AwsExecRead, "aws-exec-read"),
        (Self::BucketOwnerRead, "bucket-owner-read"),
        (Self::BucketOwnerFullControl, "bucket-owner-full-control"),
        (Self::LogDeliveryWrite, "log-delivery-write"),
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(c, _)| *c)
    }

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(c, _)| *c == self).map_or("private", |(_, n)| n)
    }

    /// The grants, as S3 lists them: the resource owner's full control first, then (for the
    /// `bucket-owner-*` ACLs of an object) the bucket owner's.
    fn grants(self, owner: &str, bucket_owner: &str) -> Vec<Grant> {
        let g = |grantee, permission| Grant { grantee, permission };
        let user = |id: &str| Grantee::User(id.to_owned());
        let mut out = vec![g(user(owner), Permission::FullControl)];
        match self {
            Self::Private => {}
            Self::PublicRead => out.push(g(Grantee::AllUsers, Permission::Read)),
            Self::PublicReadWrite => {
                out.push(g(Grantee::AllUsers, Permission::Read));
                out.push(g(Grantee::AllUsers, Permission::Write));
            }
            Self::AuthenticatedRead => out.push(g(Grantee::AuthenticatedUsers, Permission::Read)),
            Self::AwsExecRead => out.push(g(user(EC2_BUNDLE_READER), Permission::Read)),
            Self::BucketOwnerRead if bucket_owner != owner => out.push(g(user(bucket_owner), Permission::Read)),
            Self::BucketOwnerFullControl if bucket_owner != owner => {
                out.push(g(user(bucket_owner), Permission::FullControl));
            }
            Self::BucketOwnerRead | Self::BucketOwnerFullControl => {}
            Self::LogDeliveryWrite => {
                out.push(g(Grantee::LogDelivery, Permission::Write));
                out.push(g(Grantee::LogDelivery, Permission::ReadAcp));
            }
        }
        out
    }
}

/// The ACL of a bucket or object: a canned ACL, or an explicit list of grants. Authorization
/// always lets the resource owner do everything, whatever the list says; the list is what
/// Get*Acl shows, exactly (an empty list shows no grant at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acl {
    Canned(Canned),
    Grants(Vec<Grant>),
}

/// The stored form of an explicit grant list.
#[derive(Serialize, Deserialize)]
struct StoredGrants {
    grants: Vec<Grant>,
}

fn malformed(msg: &str) -> S3Error {
    S3Error::new(S3ErrorCode::MalformedACLError).with_message(format!(
        "The XML you provided was not well-formed or did not validate against our published schema: {msg}"
    ))
}

impl Acl {
    pub const PRIVATE: Self = Self::Canned(Canned::Private);

    pub fn canned(name: &str) -> Option<Self> {
        Canned::parse(name).map(Self::Canned)
    }

    /// This ACL as set on a bucket: S3 ignores the object-only `bucket-owner-*` ACLs there.
    pub fn for_bucket(self) -> Self {
        match self {
            Self::Canned(Canned::BucketOwnerRead | Canned::BucketOwnerFullControl) => Self::PRIVATE,
            other => other,
        }
    }

    /// Reads the stored form: a canned name or JSON. An unreadable value is read as private.
    pub fn from_stored(stored: &str) -> Self {
        if let Some(canned) = Canned::parse(stored) {
            return Self::Canned(canned);
        }
        serde_json::from_str::<StoredGrants>(stored).map_or(Self::PRIVATE, |s| Self::Grants(s.grants))
    }

    /// The stored form; canned ACLs keep their name.
    pub fn to_stored(&self) -> String {
        match self {
            Self::Canned(c) => c.name().to_owned(),
            Self::Grants(grants) => {
                serde_json::to_string(&StoredGrants { grants: grants.clone() }).unwrap_or_else(|_| "private".to_owned())
            }
        }
    }

    /// The grants as S3 lists them; `bucket_owner` matters for objects' `bucket-owner-*` ACLs.
    pub fn grants(&self, owner: &str, bucket_owner: &str) -> Vec<Grant> {
        match self {
            Self::Canned(c) => c.grants(owner, bucket_owner),
            Self::Grants(grants) => grants.clone(),
        }
    }

    /// The canonical user ids this ACL grants to (to check they exist).
    pub fn user_ids(&self) -> Vec<&str> {
        match self {
            Self::Canned(_) => Vec::new(),
            Self::Grants(grants) => grants
                .iter()
                .filter_map(|g| match &g.grantee {
                    Grantee::User(id) => Some(id.as_str()),
                    _ => None,
                })
                .collect(),
        }
    }

    /// Does this ACL (plus `owner`'s implied full control) give `principal` `permission`?
    pub fn allows(&self, owner: &str, principal: &Principal, permission: Permission) -> bool {
        if matches!(principal, Principal::Key { owner_id, .. } if owner_id == owner) {
            return true;
        }
        self.grants(owner, owner).iter().any(|g| {
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
    /// `None` when it names neither. Header grants are exactly the list (one grant per grantee
    /// and permission); the owner keeps full control through ownership.
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
                let mut grants: Vec<Grant> = Vec::new();
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
                            "id" if !who.is_empty() => Grantee::User(who.to_owned()),
                            "id" => return Err(S3Error::invalid_argument("id", who, "Invalid id")),
                            "uri" => Grantee::from_uri(who)
                                .ok_or_else(|| S3Error::invalid_argument("uri", who, "Invalid group uri"))?,
                            "emailaddress" => {
                                return Err(S3Error::new(S3ErrorCode::NotImplemented)
                                    .with_message("Grants by email address are not supported."))
                            }
                            _ => return Err(S3Error::invalid_argument(header, value, "Unknown grantee.")),
                        };
                        let grant = Grant { grantee, permission };
                        if !grants.contains(&grant) {
                            grants.push(grant);
                        }
                    }
                }
                Ok(Some(Self::Grants(grants)))
            }
        }
    }

    /// Parses an `AccessControlPolicy` document; returns its owner id and the grants (which
    /// may be none: revoking every grant is allowed).
    pub fn from_xml(body: &[u8]) -> Result<(String, Self), S3Error> {
        let text = std::str::from_utf8(body).map_err(|_| malformed("not UTF-8"))?;
        let doc: PolicyDoc = quick_xml::de::from_str(text).map_err(|e| malformed(&e.to_string()))?;
        let owner = doc.owner.and_then(|o| o.id).ok_or_else(|| malformed("Owner/ID is required"))?;
        let mut grants: Vec<Grant> = Vec::new();
        for g in doc.list.ok_or_else(|| malformed("AccessControlList is required"))?.grants {
            let grantee = match (g.grantee.id, g.grantee.uri, g.grantee.email) {
                (Some(id), None, None) if !id.is_empty() => Grantee::User(id),
                (None, Some(uri), None) => Grantee::from_uri(&uri)
                    .ok_or_else(|| S3Error::invalid_argument("uri", &uri, "Invalid group uri"))?,
                (None, None, Some(_)) => {
                    return Err(S3Error::new(S3ErrorCode::NotImplemented)
                        .with_message("Grants by email address are not supported."))
                }
                _ => return Err(malformed("each Grantee needs exactly one of ID or a known group URI")),
            };
            let permission = Permission::parse(&g.permission).ok_or_else(|| malformed("unknown Permission"))?;
            let grant = Grant { grantee, permission };
            if !grants.contains(&grant) {
                grants.push(grant);
            }
        }
        Ok((owner, Self::Grants(grants)))
    }

    /// The `AccessControlPolicy` document of a resource owned by `owner` in a bucket owned by
    /// `bucket_owner`. Every canonical user carries its ID and DisplayName (the id: this store
    /// has no separate display names).
    pub fn to_xml(&self, owner: &str, bucket_owner: &str) -> String {
        let mut w = XmlWriter::new();
        w.root("AccessControlPolicy");
        w.open("Owner");
        w.elem("ID", owner);
        w.elem("DisplayName", owner);
        w.close("Owner");
        w.open("AccessControlList");
        for g in self.grants(owner, bucket_owner) {
            w.open("Grant");
            match &g.grantee {
                Grantee::User(id) => {
                    w.raw(&format!("<Grantee xmlns:xsi=\"{XSI}\" xsi:type=\"CanonicalUser\">"));
                    w.elem("ID", id);
                    w.elem("DisplayName", id);
                }
                group => {
                    w.raw(&format!("<Grantee xmlns:xsi=\"{XSI}\" xsi:type=\"Group\">"));
                    w.elem("URI", group.uri().unwrap_or_default());
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

    fn user(id: &str, permission: Permission) -> Grant {
        Grant { grantee: Grantee::User(id.into()), permission }
    }

    #[test]
    fn canned_acls_round_trip_and_grant() {
        let acl = Acl::canned("public-read").unwrap();
        assert_eq!(acl.to_stored(), "public-read");
        assert_eq!(Acl::from_stored("public-read"), acl);
        assert!(acl.allows("alice", &Principal::Anonymous, Permission::Read));
        assert!(!acl.allows("alice", &Principal::Anonymous, Permission::Write));
        assert!(Acl::PRIVATE.allows("alice", &key("alice"), Permission::WriteAcp));
        assert!(!Acl::PRIVATE.allows("alice", &key("bob"), Permission::Read));
        assert!(Acl::canned("authenticated-read").unwrap().allows("alice", &key("bob"), Permission::Read));
        assert!(Acl::canned("nope").is_none());
        assert_eq!(Acl::canned("bucket-owner-full-control").unwrap().for_bucket(), Acl::PRIVATE);
    }

    /// Each canned ACL expands to AWS's documented grant list, the owner's full control first.
    #[test]
    fn canned_expansions() {
        let all = |p| Grant { grantee: Grantee::AllUsers, permission: p };
        let cases: [(&str, Vec<Grant>); 7] = [
            ("private", vec![user("o", Permission::FullControl)]),
            ("public-read", vec![user("o", Permission::FullControl), all(Permission::Read)]),
            (
                "public-read-write",
                vec![user("o", Permission::FullControl), all(Permission::Read), all(Permission::Write)],
            ),
            (
                "authenticated-read",
                vec![
                    user("o", Permission::FullControl),
                    Grant { grantee: Grantee::AuthenticatedUsers, permission: Permission::Read },
                ],
            ),
            ("bucket-owner-read", vec![user("o", Permission::FullControl), user("b", Permission::Read)]),
            ("bucket-owner-full-control", vec![user("o", Permission::FullControl), user("b", Permission::FullControl)]),
            (
                "log-delivery-write",
                vec![
                    user("o", Permission::FullControl),
                    Grant { grantee: Grantee::LogDelivery, permission: Permission::Write },
                    Grant { grantee: Grantee::LogDelivery, permission: Permission::ReadAcp },
                ],
            ),
        ];
        for (name, want) in cases {
            assert_eq!(Acl::canned(name).unwrap().grants("o", "b"), want, "{name}");
        }
        // The bucket owner writing its own object: one grant, not two.
        assert_eq!(
            Acl::canned("bucket-owner-full-control").unwrap().grants("o", "o"),
            vec![user("o", Permission::FullControl)]
        );
    }

    #[test]
    fn header_grants() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-grant-read", format!("uri=\"{ALL_USERS}\", id=\"bob\", id=\"bob\"").parse().unwrap());
        h.insert("x-amz-grant-full-control", "id=\"carol\"".parse().unwrap());
        let acl = Acl::from_headers(&h).unwrap().unwrap();
        assert!(acl.allows("alice", &Principal::Anonymous, Permission::Read));
        assert!(acl.allows("alice", &key("carol"), Permission::WriteAcp));
        assert!(!acl.allows("alice", &key("bob"), Permission::Write));
        // Exactly the grants asked for, one per grantee and permission.
        assert_eq!(acl.grants("alice", "alice").len(), 3);
        assert_eq!(acl.user_ids(), ["bob", "carol"]);
        let stored = acl.to_stored();
        assert_eq!(Acl::from_stored(&stored), acl);
        h.insert("x-amz-acl", "private".parse().unwrap());
        assert_eq!(Acl::from_headers(&h).unwrap_err().code, S3ErrorCode::InvalidRequest);
        let mut e = HeaderMap::new();
        e.insert("x-amz-grant-read", "emailAddress=\"a@b.c\"".parse().unwrap());
        assert_eq!(Acl::from_headers(&e).unwrap_err().code, S3ErrorCode::NotImplemented);
        let mut u = HeaderMap::new();
        u.insert("x-amz-grant-read", "uri=\"http://example.com/group\"".parse().unwrap());
        assert_eq!(Acl::from_headers(&u).unwrap_err().code, S3ErrorCode::InvalidArgument);
    }

    #[test]
    fn xml_round_trip_and_errors() {
        let acl = Acl::Grants(vec![
            user("alice", Permission::FullControl),
            Grant { grantee: Grantee::AllUsers, permission: Permission::Read },
            user("bob", Permission::Write),
        ]);
        let xml = acl.to_xml("alice", "alice");
        assert!(xml.contains("<ID>bob</ID><DisplayName>bob</DisplayName>"), "{xml}");
        let (owner, parsed) = Acl::from_xml(xml.as_bytes()).unwrap();
        assert_eq!(owner, "alice");
        assert_eq!(parsed, acl);
        // Revoking every grant leaves an empty list, shown as such.
        let (_, empty) = Acl::from_xml(
            b"<AccessControlPolicy><Owner><ID>alice</ID></Owner><AccessControlList/></AccessControlPolicy>",
        )
        .unwrap();
        assert_eq!(empty, Acl::Grants(vec![]));
        assert!(empty.to_xml("alice", "alice").contains("<AccessControlList></AccessControlList>"));
        assert!(empty.allows("alice", &key("alice"), Permission::Read), "the owner keeps control");
        for bad in [
            "<AccessControlPolicy><AccessControlList/></AccessControlPolicy>",
            "<AccessControlPolicy><Owner><ID>a</ID></Owner></AccessControlPolicy>",
            "<AccessControlPolicy><Owner><ID>a</ID></Owner><AccessControlList><Grant><Grantee><ID>b</ID></Grantee><Permission>ALL</Permission></Grant></AccessControlList></AccessControlPolicy>",
            "<AccessControlPolicy><Owner><ID>a</ID>",
        ] {
            assert_eq!(Acl::from_xml(bad.as_bytes()).unwrap_err().code, S3ErrorCode::MalformedACLError, "{bad}");
        }
    }

    /// Rows written before grant lists were exact still read.
    #[test]
    fn older_stored_forms_read() {
        let old = r#"{"grants":[{"grantee":"AllUsers","permission":"Read"}]}"#;
        assert_eq!(
            Acl::from_stored(old),
            Acl::Grants(vec![Grant { grantee: Grantee::AllUsers, permission: Permission::Read }])
        );
    }
}

//! Request paths: `/api/v1/...` and `/apis/{group}/{version}/...`, namespaced or not, with an
//! optional name and subresource.

/// A parsed resource path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// What a path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/api/v1` or `/apis/{group}/{version}`
    GroupVersion {
        group: String,
        version: String,
    },
    Resource(ResourcePath),
    Version,
}

pub(super) fn parse(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["version"] => return Some(Target::Version),
        ["api"] => return Some(Target::CoreVersions),
        ["apis"] => return Some(Target::Groups),
        ["api", version, rest @ ..] => (String::new(), version.to_string(), rest),
        ["apis", group, version, rest @ ..] => (group.to_string(), version.to_string(), rest),
        _ => return None,
    };
    let owned = |s: &&str| s.to_string();
    let (namespace, rest) = match rest {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some(ns.to_string()), tail),
        _ => (None, rest),
    };
    let (resource, name, subresource) = match rest {
        [] => return Some(Target::GroupVersion { group, version }),
        [resource] => (resource.to_string(), None, None),
        [resource, name] => (resource.to_string(), Some(owned(name)), None),
        [resource, name, sub] => (resource.to_string(), Some(owned(name)), Some(owned(sub))),
        _ => return None,
    };
    Some(Target::Resource(ResourcePath { group, version, namespace, resource, name, subresource }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(parse("/api"), Some(Target::CoreVersions));
        assert_eq!(parse("/apis/apps/v1"), Some(Target::GroupVersion { group: "apps".into(), version: "v1".into() }));
        let Some(Target::Resource(p)) = parse("/apis/bleepstore.io/v1alpha1/namespaces/a/buckets/b/status") else {
            panic!()
        };
        assert_eq!(
            (p.namespace.as_deref(), p.resource.as_str(), p.name.as_deref(), p.subresource.as_deref()),
            (Some("a"), "buckets", Some("b"), Some("status"))
        );
        let Some(Target::Resource(p)) = parse("/api/v1/namespaces/a") else { panic!() };
        assert_eq!((p.namespace, p.resource.as_str(), p.name.as_deref()), (None, "namespaces", Some("a")));
        let Some(Target::Resource(p)) = parse("/apis/apiextensions.k8s.io/v1/customresourcedefinitions") else {
            panic!()
        };
        assert_eq!((p.namespace, p.name), (None, None));
    }
}

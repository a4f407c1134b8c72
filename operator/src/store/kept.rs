//! The secrets a store generates once — its root credential, admin API token and encryption
//! key — read back from its Secrets, or made now for a store that has none yet (the only step of
//! the reconcile that draws random numbers, kept out of the pure validate and build steps).

use super::StoreRefs;
use crate::api::secret_value as value;
use crate::build::{
    Credentials, KeptSecrets, ADMIN_TOKEN_KEY, ENCRYPTION_KEY_KEY, ROOT_ACCESS_KEY_KEY, ROOT_SECRET_KEY_KEY,
};
use crate::generate;

pub(super) fn kept_or_generated(refs: &StoreRefs) -> KeptSecrets {
    let (root, admin) = (refs.root_secret.as_ref(), refs.admin_secret.as_ref());
    let root = match (value(root, ROOT_ACCESS_KEY_KEY), value(root, ROOT_SECRET_KEY_KEY)) {
        (Some(access_key), Some(secret_key)) => Credentials { access_key, secret_key: secret_key.into() },
        _ => Credentials { access_key: generate::access_key_id(), secret_key: generate::secret_key().into() },
    };
    KeptSecrets {
        root,
        admin_token: value(admin, ADMIN_TOKEN_KEY).unwrap_or_else(generate::admin_token).into(),
        encryption_key: value(admin, ENCRYPTION_KEY_KEY).unwrap_or_else(generate::encryption_key).into(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::Secret;
    use k8s_openapi::ByteString;
    use secrecy::ExposeSecret;

    use super::*;

    fn secret(pairs: &[(&str, &str)]) -> Option<Secret> {
        let data: BTreeMap<_, _> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec()))).collect();
        Some(Secret { data: Some(data), ..Default::default() })
    }

    #[test]
    fn kept_secrets_are_read_back_and_missing_ones_made() {
        let refs = StoreRefs {
            root_secret: secret(&[(ROOT_ACCESS_KEY_KEY, "ROOTKEY"), (ROOT_SECRET_KEY_KEY, "root-secret")]),
            admin_secret: secret(&[(ADMIN_TOKEN_KEY, "token")]),
            ..Default::default()
        };
        let kept = kept_or_generated(&refs);
        assert_eq!((kept.root.access_key.as_str(), kept.root.secret_key.expose_secret()), ("ROOTKEY", "root-secret"));
        assert_eq!(kept.admin_token.expose_secret(), "token");
        assert_eq!(kept.encryption_key.expose_secret().len(), 44, "a missing key is generated");
        let fresh = kept_or_generated(&StoreRefs::default());
        assert_ne!(fresh.root.access_key, kept_or_generated(&StoreRefs::default()).root.access_key);
    }
}

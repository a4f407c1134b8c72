//! The Secrets a store's pods read: the root credential, the admin API token and the key for
//! secrets at rest. Their values
//! are generated once by the reconciler and passed in, so rebuilding them changes nothing.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;

use secrecy::ExposeSecret;

use super::{labels, names, Credentials, KeptSecrets};
use crate::crd::BleepStore;

/// Keys of the root Secret, named as the server's environment variables.
pub const ROOT_ACCESS_KEY_KEY: &str = "BLEEPSTORE_ROOT_ACCESS_KEY";
pub const ROOT_SECRET_KEY_KEY: &str = "BLEEPSTORE_ROOT_SECRET_KEY";
/// The keys of a remote S3 backend's credentials Secret (the user's), which are also the
/// environment variables the server's AWS credential chain reads.
pub const S3_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
pub const S3_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// The keys of an Azure backend's credentials Secret: the account name, and its key or a SAS
/// token (the server reads the last two from its environment).
pub const AZURE_ACCOUNT: &str = "AZURE_STORAGE_ACCOUNT";
pub const AZURE_KEY: &str = "AZURE_STORAGE_KEY";
pub const AZURE_SAS_TOKEN: &str = "AZURE_STORAGE_SAS_TOKEN";
/// Keys of the admin Secret, named as the server's environment variables: the admin API token,
/// and the key that seals the server's secrets at rest (generated once: a store whose key
/// changed cannot open its stored secrets and refuses to start).
pub const ADMIN_TOKEN_KEY: &str = "BLEEPSTORE_ADMIN_TOKEN";
pub const ENCRYPTION_KEY_KEY: &str = "BLEEPSTORE_ENCRYPTION_KEY";

pub(super) fn root_secret(store: &BleepStore, root: &Credentials) -> Secret {
    opaque(
        store,
        names::root_secret(store),
        [(ROOT_ACCESS_KEY_KEY, root.access_key.as_str()), (ROOT_SECRET_KEY_KEY, root.secret_key.expose_secret())],
    )
}

pub(super) fn admin_secret(store: &BleepStore, kept: &KeptSecrets) -> Secret {
    opaque(
        store,
        names::admin_secret(store),
        [
            (ADMIN_TOKEN_KEY, kept.admin_token.expose_secret()),
            (ENCRYPTION_KEY_KEY, kept.encryption_key.expose_secret()),
        ],
    )
}

/// The store's own Secrets are retained: the volume's metadata is sealed with the encryption key
/// and its root and app keys are only usable with them, so they must survive the `BleepStore`
/// (deleted and re-created by a GitOps tool, restored from a backup) as the volume does.
fn opaque<const N: usize>(store: &BleepStore, name: String, entries: [(&str, &str); N]) -> Secret {
    Secret {
        metadata: labels::retained_metadata(store, name),
        type_: Some("Opaque".to_owned()),
        data: Some(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), ByteString(v.as_bytes().to_vec())))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Default::default()
    }
}

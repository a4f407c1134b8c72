//! Validate (pure): a store, what was dereferenced for it and its kept secrets become the
//! build's inputs, or an [`Invalid`] with the reason and message its conditions will show.

use super::StoreRefs;
use crate::api::secret_value as value;
use crate::build::{
    BackendCredentials, Credentials, KeptSecrets, StoreInputs, AZURE_ACCOUNT, AZURE_KEY, AZURE_SAS_TOKEN,
    S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY,
};
use crate::crd::{BackendType, BleepStore};
use crate::quantity;

/// Why a store cannot be built as specified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub reason: &'static str,
    pub message: String,
}

fn invalid(reason: &'static str, message: impl Into<String>) -> Invalid {
    Invalid { reason, message: message.into() }
}

pub fn validate<'a>(
    store: &'a BleepStore,
    refs: &StoreRefs,
    secrets: KeptSecrets,
    default_image: &str,
) -> Result<StoreInputs<'a>, Invalid> {
    let spec = &store.spec;
    if spec.replicas != 1 {
        return Err(invalid(
            "UnsupportedReplicas",
            format!("replicas must be 1 (a store does not scale out yet), not {}", spec.replicas),
        ));
    }
    let backend = match (spec.backend.type_, &spec.backend.s3) {
        (BackendType::Local, _) => None,
        (BackendType::Azure, _) => {
            let Some(az) = &spec.backend.azure else {
                return Err(invalid("BackendInvalid", "backend.azure is required when backend.type is Azure"));
            };
            let name = &az.credentials_secret.name;
            if refs.backend_secret.is_none() {
                return Err(invalid(
                    "BackendSecretNotFound",
                    format!("backend credentials Secret {name} not found in this namespace"),
                ));
            }
            let secret = &refs.backend_secret;
            match (
                value(secret.as_ref(), AZURE_ACCOUNT),
                value(secret.as_ref(), AZURE_KEY),
                value(secret.as_ref(), AZURE_SAS_TOKEN),
            ) {
                (Some(account), key, sas_token) if key.is_some() || sas_token.is_some() => {
                    Some(BackendCredentials::Azure {
                        account,
                        key: key.map(Into::into),
                        sas_token: sas_token.map(Into::into),
                    })
                }
                _ => {
                    return Err(invalid(
                        "BackendSecretInvalid",
                        format!("Secret {name} must have {AZURE_ACCOUNT} and {AZURE_KEY} or {AZURE_SAS_TOKEN}"),
                    ))
                }
            }
        }
        (BackendType::S3, None) => {
            return Err(invalid("BackendInvalid", "backend.s3 is required when backend.type is S3"))
        }
        (BackendType::S3, Some(s3)) => {
            let name = &s3.credentials_secret.name;
            if refs.backend_secret.is_none() {
                return Err(invalid(
                    "BackendSecretNotFound",
                    format!("backend credentials Secret {name} not found in this namespace"),
                ));
            }
            let secret = refs.backend_secret.as_ref();
            match (value(secret, S3_ACCESS_KEY_ID), value(secret, S3_SECRET_ACCESS_KEY)) {
                (Some(access_key), Some(secret_key)) => {
                    Some(BackendCredentials::S3(Credentials { access_key, secret_key: secret_key.into() }))
                }
                _ => {
                    return Err(invalid(
                        "BackendSecretInvalid",
                        format!("Secret {name} must have non-empty {S3_ACCESS_KEY_ID} and {S3_SECRET_ACCESS_KEY}"),
                    ))
                }
            }
        }
    };
    if let Some(tls) = &spec.tls {
        let Some(secret) = &refs.tls_secret else {
            return Err(invalid(
                "TLSSecretNotFound",
                format!("TLS Secret {} not found in this namespace", tls.secret_name),
            ));
        };
        let has = |key: &str| secret.data.as_ref().is_some_and(|d| d.get(key).is_some_and(|v| !v.0.is_empty()));
        if secret.type_.as_deref() != Some("kubernetes.io/tls") || !has("tls.crt") || !has("tls.key") {
            return Err(invalid(
                "TLSSecretInvalid",
                format!("Secret {} must be of type kubernetes.io/tls with tls.crt and tls.key", tls.secret_name),
            ));
        }
    }
    let wanted = quantity::bytes(&spec.storage.size).ok_or_else(|| {
        invalid("InvalidStorageSize", format!("storage.size {:?} is not a quantity such as 10Gi", spec.storage.size))
    })?;
    for claim in &refs.claims {
        if let Some(current) = claim_request(claim).and_then(|q| quantity::bytes(&q)) {
            if wanted < current {
                return Err(invalid(
                    "StorageShrinkRefused",
                    format!(
                        "storage.size {} is smaller than the volume's {}; volumes only grow",
                        spec.storage.size,
                        claim_request(claim).unwrap_or_default()
                    ),
                ));
            }
        }
    }
    let claim_template_size = refs
        .stateful_set
        .as_ref()
        .and_then(|sts| sts.spec.as_ref()?.volume_claim_templates.as_ref()?.first().cloned())
        .and_then(|template| claim_request(&template))
        .unwrap_or_else(|| spec.storage.size.clone());
    let tls_certificate = refs.tls_secret.as_ref().filter(|_| spec.tls.is_some()).and_then(|secret| {
        use sha2::Digest;
        let cert = secret.data.as_ref()?.get("tls.crt")?;
        Some(hex::encode(sha2::Sha256::digest(&cert.0)))
    });
    Ok(StoreInputs {
        store,
        image: spec.image.clone().unwrap_or_else(|| default_image.to_owned()),
        secrets,
        backend,
        claim_template_size,
        tls_certificate,
    })
}

/// A claim's requested storage.
pub(super) fn claim_request(claim: &k8s_openapi::api::core::v1::PersistentVolumeClaim) -> Option<String> {
    Some(claim.spec.as_ref()?.resources.as_ref()?.requests.as_ref()?.get("storage")?.0.clone())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::Secret;
    use k8s_openapi::ByteString;
    use secrecy::ExposeSecret;

    use super::*;
    use crate::crd::{AzureBackend, Backend, S3Backend, SecretRef};

    fn store(backend: Backend) -> BleepStore {
        let mut store: BleepStore = serde_json::from_value(serde_json::json!({
            "apiVersion": "bleepstore.io/v1alpha1",
            "kind": "BleepStore",
            "metadata": {"name": "s", "namespace": "ns"},
            "spec": {"storage": {"size": "1Gi"}},
        }))
        .unwrap();
        store.spec.backend = backend;
        store
    }

    fn s3_backend() -> Backend {
        Backend {
            type_: BackendType::S3,
            s3: Some(S3Backend {
                bucket: "remote".into(),
                prefix: None,
                region: None,
                endpoint: None,
                force_path_style: false,
                credentials_secret: SecretRef { name: "remote-keys".into() },
            }),
            azure: None,
        }
    }

    fn kept() -> KeptSecrets {
        super::super::kept::kept_or_generated(&StoreRefs::default())
    }

    fn secret(pairs: &[(&str, &str)]) -> Option<Secret> {
        let data =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec()))).collect::<BTreeMap<_, _>>();
        Some(Secret { data: Some(data), ..Default::default() })
    }

    #[test]
    fn s3_backend_needs_its_credentials_secret() {
        let s = store(s3_backend());
        let missing = validate(&s, &StoreRefs::default(), kept(), "img").unwrap_err();
        assert_eq!(missing.reason, "BackendSecretNotFound");
        assert!(missing.message.contains("remote-keys"));
        let refs = StoreRefs { backend_secret: secret(&[("AWS_ACCESS_KEY_ID", "AK")]), ..Default::default() };
        assert_eq!(validate(&s, &refs, kept(), "img").unwrap_err().reason, "BackendSecretInvalid");
        let refs = StoreRefs {
            backend_secret: secret(&[("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "SK")]),
            ..Default::default()
        };
        let valid = validate(&s, &refs, kept(), "img").unwrap();
        let Some(BackendCredentials::S3(backend)) = valid.backend else { panic!("S3 credentials expected") };
        assert_eq!((backend.access_key.as_str(), backend.secret_key.expose_secret()), ("AK", "SK"));
    }

    #[test]
    fn azure_backend_needs_an_account_and_a_key_or_sas() {
        let azure = store(Backend {
            type_: BackendType::Azure,
            s3: None,
            azure: Some(AzureBackend {
                container: "c".into(),
                prefix: None,
                endpoint: None,
                credentials_secret: SecretRef { name: "az".into() },
            }),
        });
        assert_eq!(validate(&azure, &StoreRefs::default(), kept(), "img").unwrap_err().reason, "BackendSecretNotFound");
        let refs = StoreRefs { backend_secret: secret(&[("AZURE_STORAGE_ACCOUNT", "acct")]), ..Default::default() };
        assert_eq!(validate(&azure, &refs, kept(), "img").unwrap_err().reason, "BackendSecretInvalid");
        let refs = StoreRefs {
            backend_secret: secret(&[("AZURE_STORAGE_ACCOUNT", "acct"), ("AZURE_STORAGE_SAS_TOKEN", "sv=x&sig=y")]),
            ..Default::default()
        };
        match validate(&azure, &refs, kept(), "img").unwrap().backend {
            Some(BackendCredentials::Azure { account, key: None, sas_token: Some(_) }) => assert_eq!(account, "acct"),
            other => panic!("Azure credentials expected, got {other:?}"),
        }
        let plain = store(Backend::default());
        let local = validate(&plain, &StoreRefs::default(), kept(), "img").unwrap();
        assert!(local.backend.is_none());
    }
}

//! HTTPS on the S3 port: a rustls acceptor built from PEM files named in the config. Loaded
//! once at start-up, so a bad certificate is an error before anything is served.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsConfig;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("tls.cert_file {path}: {message}")]
    Cert { path: String, message: String },
    #[error("tls.key_file {path}: {message}")]
    Key { path: String, message: String },
    #[error("tls: the certificate and key do not form a usable server identity: {0}")]
    Config(String),
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |message: String| TlsError::Cert { path: path.display().to_string(), message };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate found".into()));
    }
    Ok(certs)
}

/// Builds the acceptor; only HTTP/1.1 is offered over ALPN, as on the plain port.
pub fn acceptor(tls: &TlsConfig) -> Result<TlsAcceptor, TlsError> {
    let certs = load_certs(&tls.cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&tls.key_file)
        .map_err(|e| TlsError::Key { path: tls.key_file.display().to_string(), message: e.to_string() })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_name_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let missing = TlsConfig { cert_file: dir.path().join("nope.pem"), key_file: dir.path().join("nope.key") };
        assert!(acceptor(&missing).err().unwrap().to_string().starts_with("tls.cert_file"));
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(dir.path().join("c.pem"), cert.cert.pem()).unwrap();
        std::fs::write(dir.path().join("k.pem"), "not a key").unwrap();
        let bad_key = TlsConfig { cert_file: dir.path().join("c.pem"), key_file: dir.path().join("k.pem") };
        assert!(acceptor(&bad_key).err().unwrap().to_string().starts_with("tls.key_file"));
        std::fs::write(dir.path().join("k.pem"), cert.signing_key.serialize_pem()).unwrap();
        assert!(acceptor(&bad_key).is_ok());
    }
}

//! The cluster's keys and certificates: one CA, the API server's serving certificate, the
//! service-account signing key, and static bearer tokens for the components and the suite.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};

use crate::sandbox::{API_SERVICE_IP, NODE_IP};

/// A user of the API server, authenticated by a static token.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub groups: &'static str,
    pub token: String,
}

/// Files written under the work directory, and the tokens.
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca_pem: String,
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    pub service_account_key: PathBuf,
    /// The kubelet's serving certificate and key (PEM), for its log port.
    pub kubelet_cert_pem: String,
    pub kubelet_key_pem: String,
    /// Its public half, which the API server verifies tokens with.
    pub service_account_public: PathBuf,
    pub tokens: PathBuf,
    pub admin: User,
    pub controller_manager: User,
    pub scheduler: User,
    pub kubelet: User,
}

/// 24 random bytes in hex.
fn random_token() -> Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Pki {
    /// Generates everything into `dir`. `node` is the kubelet's node name.
    pub fn generate(dir: &Path, node: &str) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.distinguished_name.push(DnType::CommonName, "bleepstore-e2e-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate()?;
        let ca_key_pem = ca_key.serialize_pem();
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key)?;

        let sans = vec![
            "kubernetes".to_owned(),
            "kubernetes.default".to_owned(),
            "kubernetes.default.svc".to_owned(),
            "kubernetes.default.svc.cluster.local".to_owned(),
            "localhost".to_owned(),
            NODE_IP.to_string(),
            API_SERVICE_IP.to_string(),
            "127.0.0.1".to_owned(),
        ];
        let mut serving = CertificateParams::new(sans)?;
        serving.distinguished_name.push(DnType::CommonName, "kube-apiserver");
        let serving_key = KeyPair::generate()?;
        let serving_cert = serving.signed_by(&serving_key, &ca)?;
        let service_account_key = KeyPair::generate()?;
        let mut kubelet_params = CertificateParams::new(vec![NODE_IP.to_string()])?;
        kubelet_params.distinguished_name.push(DnType::CommonName, format!("system:node:{node}"));
        let kubelet_key = KeyPair::generate()?;
        let kubelet_cert = kubelet_params.signed_by(&kubelet_key, &ca)?;

        let write = |name: &str, text: &str| -> Result<PathBuf> {
            let path = dir.join(name);
            std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
            Ok(path)
        };
        let user =
            |name: &str, groups| -> Result<User> { Ok(User { name: name.to_owned(), groups, token: random_token()? }) };
        let admin = user("e2e-admin", "system:masters")?;
        let controller_manager = user("system:kube-controller-manager", "")?;
        let scheduler = user("system:kube-scheduler", "")?;
        let kubelet = user(&format!("system:node:{node}"), "system:nodes")?;
        let tokens: String = [&admin, &controller_manager, &scheduler, &kubelet]
            .iter()
            .map(|u| format!("{},{},{},\"{}\"\n", u.token, u.name, u.name, u.groups))
            .collect();
        Ok(Self {
            ca_pem: ca.pem(),
            ca_cert: write("ca.crt", &ca.pem())?,
            ca_key: write("ca.key", &ca_key_pem)?,
            serving_cert: write("apiserver.crt", &format!("{}{}", serving_cert.pem(), ca.pem()))?,
            serving_key: write("apiserver.key", &serving_key.serialize_pem())?,
            service_account_key: write("sa.key", &service_account_key.serialize_pem())?,
            service_account_public: write("sa.pub", &service_account_key.public_key_pem())?,
            kubelet_cert_pem: kubelet_cert.pem(),
            kubelet_key_pem: kubelet_key.serialize_pem(),
            tokens: write("tokens.csv", &tokens)?,
            admin,
            controller_manager,
            scheduler,
            kubelet,
        })
    }

    /// A kubeconfig for `user` against `server`.
    pub fn kubeconfig(&self, server: &str, user: &User, namespace: &str) -> String {
        use base64::Engine;
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: e2e\n  cluster:\n    server: {server}\n    \
             certificate-authority-data: {ca}\nusers:\n- name: {name}\n  user:\n    token: {token}\ncontexts:\n\
             - name: e2e\n  context:\n    cluster: e2e\n    user: {name}\n    namespace: {namespace}\n\
             current-context: e2e\n",
            name = user.name,
            token = user.token,
        )
    }
}

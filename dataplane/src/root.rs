//! Where the root credential comes from: the config file, the environment
//! (`BLEEPSTORE_ROOT_ACCESS_KEY` / `BLEEPSTORE_ROOT_SECRET_KEY`), or — on first start with
//! neither — generated and kept in `<data_dir>/root-credentials.yaml` (mode 0600).

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::config::Config;

pub const ENV_ACCESS_KEY: &str = "BLEEPSTORE_ROOT_ACCESS_KEY";
pub const ENV_SECRET_KEY: &str = "BLEEPSTORE_ROOT_SECRET_KEY";
const FILE_NAME: &str = "root-credentials.yaml";

#[derive(Debug, PartialEq, Eq)]
pub enum RootSource {
    Config,
    Env,
    /// Generated now: the only time the secret is shown.
    GeneratedNow(PathBuf),
    /// Generated at an earlier start and read back from this file.
    GeneratedEarlier(PathBuf),
}

#[derive(Serialize, Deserialize)]
struct Stored {
    access_key: String,
    secret_key: String,
}

pub struct RootCredential {
    pub access_key: String,
    pub secret_key: String,
    pub source: RootSource,
}

fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
}

/// Resolves the root credential; writes the generated file only when nothing else supplies one.
pub fn resolve(config: &Config, env: impl Fn(&str) -> Option<String>) -> std::io::Result<RootCredential> {
    if let Some(root) = &config.root_credentials {
        return Ok(RootCredential {
            access_key: root.access_key.clone(),
            secret_key: root.secret_key.clone(),
            source: RootSource::Config,
        });
    }
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    match (set(ENV_ACCESS_KEY), set(ENV_SECRET_KEY)) {
        (Some(access_key), Some(secret_key)) => {
            // The same rules as root_credentials in the config file.
            if !(3..=128).contains(&access_key.len()) {
                return Err(std::io::Error::other(format!("{ENV_ACCESS_KEY} must be 3 to 128 characters")));
            }
            if secret_key.len() < 8 {
                return Err(std::io::Error::other(format!("{ENV_SECRET_KEY} must be at least 8 characters")));
            }
            return Ok(RootCredential { access_key, secret_key, source: RootSource::Env });
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(std::io::Error::other(format!("set both {ENV_ACCESS_KEY} and {ENV_SECRET_KEY}, or neither")));
        }
        (None, None) => {}
    }
    let path = config.data_dir.join(FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let stored: Stored =
                serde_yaml::from_str(&text).map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
            Ok(RootCredential {
                access_key: stored.access_key,
                secret_key: stored.secret_key,
                source: RootSource::GeneratedEarlier(path),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let stored = Stored {
                access_key: format!("BS{}", random_string(18, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")),
                secret_key: random_string(40, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
            };
            write_private(&path, &serde_yaml::to_string(&stored).map_err(std::io::Error::other)?)?;
            Ok(RootCredential {
                access_key: stored.access_key,
                secret_key: stored.secret_key,
                source: RootSource::GeneratedNow(path),
            })
        }
        Err(e) => Err(e),
    }
}

/// Writes `text` to `path` readable by the owner only, atomically and durably.
pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(path.parent().unwrap_or(Path::new(".")))?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generated_once_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
        let first = resolve(&config, |_| None).unwrap();
        assert!(matches!(first.source, RootSource::GeneratedNow(_)));
        let mode = std::fs::metadata(dir.path().join(FILE_NAME)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = resolve(&config, |_| None).unwrap();
        assert!(matches!(second.source, RootSource::GeneratedEarlier(_)));
        assert_eq!((first.access_key, first.secret_key), (second.access_key, second.secret_key));
    }

    #[test]
    fn env_wins_over_file_and_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
        let env = |k: &str| match k {
            ENV_ACCESS_KEY => Some("envkey".to_string()),
            ENV_SECRET_KEY => Some("envsecret123".to_string()),
            _ => None,
        };
        let c = resolve(&config, env).unwrap();
        assert_eq!((c.access_key.as_str(), c.source), ("envkey", RootSource::Env));
        assert!(!dir.path().join(FILE_NAME).exists());
        let half = |k: &str| (k == ENV_ACCESS_KEY).then(|| "xyz".to_string());
        assert!(resolve(&config, half).is_err());
        let empty_secret = |k: &str| Some(if k == ENV_ACCESS_KEY { "xyz".to_string() } else { String::new() });
        assert!(resolve(&config, empty_secret).is_err());
        let short = |k: &str| Some(if k == ENV_ACCESS_KEY { "xyz".to_string() } else { "short".to_string() });
        assert!(resolve(&config, short).is_err());
        assert!(!dir.path().join(FILE_NAME).exists());
    }
}

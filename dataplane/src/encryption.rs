//! Where the key that seals secrets at rest (`meta::sealing`) comes from: the environment
//! (`BLEEPSTORE_ENCRYPTION_KEY`, base64 of 32 bytes; the operator sets it from the store's
//! admin Secret), or — for a store started without one — a key generated once and kept in
//! `<data_dir>/encryption.key` (mode 0600). Only the first keeps a copy of the volume from
//! revealing the secrets; the second is logged as a warning at every start. A store that
//! started with a file key and is later given one in the environment moves to it: the secrets
//! are re-sealed with the new key at start-up, then the file is removed.

use std::path::Path;

use crate::meta::sealing::Sealer;

pub const ENV_KEY: &str = "BLEEPSTORE_ENCRYPTION_KEY";
const FILE_NAME: &str = "encryption.key";

#[derive(Debug, PartialEq, Eq)]
pub enum KeySource {
    Env,
    /// Read from (or generated into) this file on the data volume.
    File(std::path::PathBuf),
}

/// The key to use, where it came from, and a file key it replaces (to re-seal with, then
/// remove with `forget_replaced`).
pub struct Resolved {
    pub sealer: Sealer,
    pub source: KeySource,
    pub replaced: Option<Sealer>,
}

fn invalid(what: &str, e: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{what}: {e}"))
}

/// The sealer for this store, and where its key came from.
pub fn resolve(data_dir: &Path, env: impl Fn(&str) -> Option<String>) -> std::io::Result<Resolved> {
    let path = data_dir.join(FILE_NAME);
    if let Some(key) = env(ENV_KEY).filter(|k| !k.is_empty()) {
        let sealer = Sealer::from_base64(&key).map_err(|e| invalid(ENV_KEY, &e))?;
        let replaced = match std::fs::read_to_string(&path) {
            Ok(old) => Some(Sealer::from_base64(&old).map_err(|e| invalid(&path.display().to_string(), &e))?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        return Ok(Resolved { sealer, source: KeySource::Env, replaced });
    }
    let key = match std::fs::read_to_string(&path) {
        Ok(key) => key,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = Sealer::generate_key();
            crate::root::write_private(&path, &key)?;
            key
        }
        Err(e) => return Err(e),
    };
    let sealer = Sealer::from_base64(&key).map_err(|e| invalid(&path.display().to_string(), &e))?;
    Ok(Resolved { sealer, source: KeySource::File(path), replaced: None })
}

/// Removes the file key once the secrets are re-sealed with the environment's key.
pub fn forget_replaced(data_dir: &Path) -> std::io::Result<()> {
    std::fs::remove_file(data_dir.join(FILE_NAME))?;
    std::fs::File::open(data_dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_first_else_a_file_generated_once() {
        let dir = tempfile::tempdir().unwrap();
        let key = Sealer::generate_key();
        let from_env = resolve(dir.path(), |_| Some(key.clone())).unwrap();
        assert_eq!((from_env.source, from_env.replaced.is_none()), (KeySource::Env, true));
        assert!(!dir.path().join(FILE_NAME).exists(), "a key from the environment is never written");
        let first = resolve(dir.path(), |_| None).unwrap();
        assert_eq!(first.source, KeySource::File(dir.path().join(FILE_NAME)));
        let second = resolve(dir.path(), |_| None).unwrap();
        let sealed = first.sealer.seal("k", "s").unwrap();
        assert_eq!(second.sealer.open("k", &sealed).unwrap(), "s", "the generated key is kept");
        assert!(resolve(dir.path(), |_| Some("bad".into())).err().unwrap().to_string().contains(ENV_KEY));
        // Given a key later, the file key is offered for re-sealing, then removed.
        let moving = resolve(dir.path(), |_| Some(key.clone())).unwrap();
        assert_eq!(moving.replaced.unwrap().open("k", &sealed).unwrap(), "s");
        forget_replaced(dir.path()).unwrap();
        assert!(!dir.path().join(FILE_NAME).exists());
    }
}

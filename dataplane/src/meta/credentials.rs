//! The `credentials` table: access keys, their secrets (sealed at rest: `sealing`), and the
//! root flag.

use rusqlite::{params, OptionalExtension};
use secrecy::SecretString;

use super::{now_ms, Db, MetaResult};

/// Grant bits: read objects and list, write and delete objects, act as the bucket's owner.
pub const GRANT_READ: u8 = 1;
pub const GRANT_WRITE: u8 = 2;
pub const GRANT_OWNER: u8 = 4;

/// An access key as the authenticator uses it; the secret never prints (`secrecy`).
#[derive(Debug, Clone)]
pub struct Credential {
    pub access_key: String,
    pub secret: SecretString,
    pub owner_id: String,
    pub is_root: bool,
    pub enabled: bool,
}

impl Db {
    /// The credential of `access_key` (cached: see `cache`).
    pub async fn get_credential(&self, access_key: &str) -> MetaResult<Option<Credential>> {
        if let Some(hit) = self.inner.cache.credential(access_key) {
            return Ok(Some(hit));
        }
        let ticket = self.inner.cache.ticket();
        let key = access_key.to_owned();
        let stored = self
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT access_key, secret, owner_id, is_root, enabled FROM credentials WHERE access_key = ?1",
                )?;
                Ok(stmt
                    .query_row([key], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })
                    .optional()?)
            })
            .await?;
        let found = match stored {
            Some((access_key, sealed, owner_id, is_root, enabled)) => {
                let secret = self.inner.sealer.open(&access_key, &sealed)?.into();
                Some(Credential { access_key, secret, owner_id, is_root, enabled })
            }
            None => None,
        };
        if let Some(c) = &found {
            self.inner.cache.fill_credential(ticket, c);
        }
        Ok(found)
    }

    /// Is `owner_id` a canonical user of this store (the owner of a key or of a bucket)?
    pub async fn owner_known(&self, owner_id: &str) -> MetaResult<bool> {
        let id = owner_id.to_owned();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT 1 FROM credentials WHERE owner_id = ?1 UNION ALL SELECT 1 FROM buckets WHERE owner = ?1 \
                        LIMIT 1",
                )?
                .exists([id])?)
        })
        .await
    }

    /// Creates or updates a non-root access key owned by `owner_id`.
    pub async fn put_credential(
        &self,
        access_key: &str,
        secret: &str,
        owner_id: &str,
        enabled: bool,
    ) -> MetaResult<()> {
        let sealed = self.inner.sealer.seal(access_key, secret)?;
        let (key, owner) = (access_key.to_owned(), owner_id.to_owned());
        self.write_config(move |tx| {
            tx.execute(
                "INSERT INTO credentials (access_key, secret, owner_id, is_root, enabled, created_at)
                 VALUES (?1, ?2, ?3, 0, ?4, ?5)
                 ON CONFLICT(access_key) DO UPDATE SET secret = excluded.secret, owner_id = excluded.owner_id,
                     enabled = excluded.enabled
                 WHERE is_root = 0",
                params![key, sealed, owner, enabled, now_ms()],
            )?;
            Ok(())
        })
        .await
    }

    /// Sets (flags > 0) or removes (0) a key's grant on a bucket; `GRANT_*` bits.
    pub async fn set_grant(&self, access_key: &str, bucket: &str, flags: u8) -> MetaResult<()> {
        let (key, bucket) = (access_key.to_owned(), bucket.to_owned());
        self.write_config(move |tx| {
            if flags == 0 {
                tx.execute("DELETE FROM grants WHERE access_key = ?1 AND bucket = ?2", params![key, bucket])?;
            } else {
                tx.execute(
                    "INSERT INTO grants (access_key, bucket, permission) VALUES (?1, ?2, ?3)
                     ON CONFLICT(access_key, bucket) DO UPDATE SET permission = excluded.permission",
                    params![key, bucket, flags],
                )?;
            }
            Ok(())
        })
        .await
    }

    /// Replaces all of a key's grants with `grants` (bucket, flags), in one transaction.
    pub async fn replace_grants(&self, access_key: &str, grants: Vec<(String, u8)>) -> MetaResult<()> {
        let key = access_key.to_owned();
        self.write_config(move |tx| {
            tx.execute("DELETE FROM grants WHERE access_key = ?1", [&key])?;
            let mut stmt = tx
                .prepare_cached("INSERT OR REPLACE INTO grants (access_key, bucket, permission) VALUES (?1, ?2, ?3)")?;
            for (bucket, flags) in &grants {
                stmt.execute(params![key, bucket, flags])?;
            }
            Ok(())
        })
        .await
    }

    /// A key's grants, by bucket name.
    pub async fn grants_of(&self, access_key: &str) -> MetaResult<Vec<(String, u8)>> {
        let key = access_key.to_owned();
        self.read(move |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT bucket, permission FROM grants WHERE access_key = ?1 ORDER BY bucket")?;
            let rows = stmt.query_map([key], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Deletes a non-root key and its grants (deleting a missing key succeeds).
    pub async fn delete_credential(&self, access_key: &str) -> MetaResult<()> {
        let key = access_key.to_owned();
        self.write_config(move |tx| {
            tx.execute("DELETE FROM grants WHERE access_key = ?1", [&key])?;
            tx.execute("DELETE FROM credentials WHERE access_key = ?1 AND is_root = 0", [&key])?;
            Ok(())
        })
        .await
    }

    /// A key's grant flags on a bucket (0 when none).
    pub async fn grant(&self, access_key: &str, bucket: &str) -> MetaResult<u8> {
        if let Some(hit) = self.inner.cache.grant(access_key, bucket) {
            return Ok(hit);
        }
        let ticket = self.inner.cache.ticket();
        let (key, name) = (access_key.to_owned(), bucket.to_owned());
        let flags = self
            .read(move |conn| {
                Ok(conn
                    .prepare_cached("SELECT permission FROM grants WHERE access_key = ?1 AND bucket = ?2")?
                    .query_row(params![key, name], |r| r.get::<_, u8>(0))
                    .optional()?
                    .unwrap_or(0))
            })
            .await?;
        self.inner.cache.fill_grant(ticket, access_key, bucket, flags);
        Ok(flags)
    }

    /// Makes `access_key` the one root credential (idempotent); an earlier root key is removed.
    pub async fn seed_root(&self, access_key: &str, secret: &str) -> MetaResult<()> {
        let sealed = self.inner.sealer.seal(access_key, secret)?;
        let key = access_key.to_owned();
        self.write_config(move |tx| {
            tx.execute("DELETE FROM credentials WHERE is_root = 1 AND access_key <> ?1", [&key])?;
            tx.execute(
                "INSERT INTO credentials (access_key, secret, owner_id, is_root, enabled, created_at)
                 VALUES (?1, ?2, ?1, 1, 1, ?3)
                 ON CONFLICT(access_key) DO UPDATE SET secret = excluded.secret, is_root = 1, enabled = 1",
                params![key, sealed, now_ms()],
            )?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use crate::meta::test_support::db;

    #[tokio::test]
    async fn seeding_root_is_idempotent_and_replaces_old_root() {
        let (db, _dir) = db();
        db.seed_root("root1", "secret-one").await.unwrap();
        db.seed_root("root1", "secret-one").await.unwrap();
        let c = db.get_credential("root1").await.unwrap().unwrap();
        assert!(c.is_root && c.enabled);
        assert!(!format!("{c:?}").contains("secret-one"));
        db.seed_root("root2", "secret-two").await.unwrap();
        assert!(db.get_credential("root1").await.unwrap().is_none());
        assert_eq!(db.get_credential("root2").await.unwrap().unwrap().secret.expose_secret(), "secret-two");
    }

    /// Reads are cached; every write is seen by the next read (revocation is immediate).
    #[tokio::test]
    async fn cached_reads_follow_every_write() {
        let (db, _dir) = db();
        db.put_credential("app", "secret-one", "owner", true).await.unwrap();
        assert_eq!(db.get_credential("app").await.unwrap().unwrap().secret.expose_secret(), "secret-one");
        db.put_credential("app", "secret-two", "owner", false).await.unwrap();
        let c = db.get_credential("app").await.unwrap().unwrap();
        assert_eq!((c.secret.expose_secret(), c.enabled), ("secret-two", false));
        assert_eq!(db.grant("app", "b").await.unwrap(), 0);
        db.set_grant("app", "b", super::GRANT_READ).await.unwrap();
        assert_eq!(db.grant("app", "b").await.unwrap(), super::GRANT_READ);
        db.replace_grants("app", vec![("b".into(), super::GRANT_WRITE)]).await.unwrap();
        assert_eq!(db.grant("app", "b").await.unwrap(), super::GRANT_WRITE);
        db.delete_credential("app").await.unwrap();
        assert!(db.get_credential("app").await.unwrap().is_none());
        assert_eq!(db.grant("app", "b").await.unwrap(), 0);
    }
}

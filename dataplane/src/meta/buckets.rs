//! The `buckets` table: create, delete (refusing non-empty), look up, list, versioning state.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use super::{Db, MetaError, MetaResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketRow {
    pub name: String,
    pub region: String,
    pub owner: String,
    pub acl: String,
    pub created_ms: i64,
    pub versioning: Versioning,
}

/// A bucket's versioning state. Once enabled, a bucket is never unversioned again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Versioning {
    #[default]
    Unversioned,
    Enabled,
    Suspended,
}

impl Versioning {
    fn from_column(value: Option<&str>) -> Self {
        match value {
            Some("Enabled") => Self::Enabled,
            Some("Suspended") => Self::Suspended,
            _ => Self::Unversioned,
        }
    }

    /// The stored value and S3's `Status` (`None` for a bucket never versioned).
    pub fn status(self) -> Option<&'static str> {
        match self {
            Self::Unversioned => None,
            Self::Enabled => Some("Enabled"),
            Self::Suspended => Some("Suspended"),
        }
    }
}

/// What setting a bucket's versioning came to.
#[derive(Debug, PartialEq, Eq)]
pub enum SetVersioningOutcome {
    Set,
    NoSuchBucket,
}

#[derive(Debug, PartialEq, Eq)]
pub enum CreateBucketOutcome {
    Created,
    /// The bucket exists and belongs to the caller.
    AlreadyOwned,
    /// The bucket exists and belongs to someone else.
    AlreadyExists,
}

#[derive(Debug, PartialEq, Eq)]
pub enum DeleteBucketOutcome {
    Deleted,
    NoSuchBucket,
    /// Objects or in-progress multipart uploads remain.
    NotEmpty,
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<BucketRow> {
    Ok(BucketRow {
        name: row.get(0)?,
        region: row.get(1)?,
        owner: row.get(2)?,
        acl: row.get(3)?,
        created_ms: row.get(4)?,
        versioning: Versioning::from_column(row.get::<_, Option<String>>(5)?.as_deref()),
    })
}

const COLUMNS: &str = "name, region, owner, acl, created_at, versioning";

pub(super) fn get(conn: &Connection, name: &str) -> MetaResult<Option<BucketRow>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM buckets WHERE name = ?1"))?;
    Ok(stmt.query_row([name], from_row).optional()?)
}

pub(super) fn exists(tx: &Transaction<'_>, name: &str) -> MetaResult<bool> {
    let mut stmt = tx.prepare_cached("SELECT 1 FROM buckets WHERE name = ?1")?;
    Ok(stmt.exists([name])?)
}

/// The bucket's versioning state, read in the writing transaction; `None` without a bucket.
pub(super) fn versioning(tx: &Transaction<'_>, name: &str) -> MetaResult<Option<Versioning>> {
    let mut stmt = tx.prepare_cached("SELECT versioning FROM buckets WHERE name = ?1")?;
    Ok(stmt
        .query_row([name], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .map(|v| Versioning::from_column(v.as_deref())))
}

impl Db {
    pub async fn get_bucket(&self, name: &str) -> MetaResult<Option<BucketRow>> {
        let name = name.to_owned();
        if let Some(hit) = self.inner.cache.bucket(&name) {
            return Ok(Some(hit));
        }
        let ticket = self.inner.cache.ticket();
        let found = self.read(move |conn| get(conn, &name)).await?;
        if let Some(row) = &found {
            self.inner.cache.fill_bucket(ticket, row);
        }
        Ok(found)
    }

    pub async fn create_bucket(&self, row: BucketRow) -> MetaResult<CreateBucketOutcome> {
        self.write_config(move |tx| {
            let mut stmt = tx.prepare_cached("SELECT owner FROM buckets WHERE name = ?1")?;
            if let Some(owner) = stmt.query_row([&row.name], |r| r.get::<_, String>(0)).optional()? {
                return Ok(if owner == row.owner {
                    CreateBucketOutcome::AlreadyOwned
                } else {
                    CreateBucketOutcome::AlreadyExists
                });
            }
            tx.execute(
                &format!("INSERT INTO buckets ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![row.name, row.region, row.owner, row.acl, row.created_ms, row.versioning.status()],
            )?;
            Ok(CreateBucketOutcome::Created)
        })
        .await
    }

    pub async fn delete_bucket(&self, name: &str) -> MetaResult<DeleteBucketOutcome> {
        let name = name.to_owned();
        self.write_config(move |tx| {
            if !exists(tx, &name)? {
                return Ok(DeleteBucketOutcome::NoSuchBucket);
            }
            let has_objects = tx.prepare_cached("SELECT 1 FROM objects WHERE bucket = ?1 LIMIT 1")?.exists([&name])?;
            let has_uploads =
                tx.prepare_cached("SELECT 1 FROM multipart_uploads WHERE bucket = ?1 LIMIT 1")?.exists([&name])?;
            if has_objects || has_uploads {
                return Ok(DeleteBucketOutcome::NotEmpty);
            }
            tx.execute("DELETE FROM bucket_config WHERE bucket = ?1", [&name])?;
            tx.execute("DELETE FROM buckets WHERE name = ?1", [&name])?;
            tx.execute("DELETE FROM grants WHERE bucket = ?1", [&name])?;
            Ok(DeleteBucketOutcome::Deleted)
        })
        .await
    }

    /// Sets a bucket's ACL (stored form); `false` when there is no such bucket.
    /// Only the bucket still owned by `owner` (the one whose permissions were checked) changes.
    pub async fn set_bucket_acl(&self, name: &str, owner: &str, acl: String) -> MetaResult<bool> {
        let (name, owner) = (name.to_owned(), owner.to_owned());
        self.write_config(move |tx| {
            Ok(tx.execute("UPDATE buckets SET acl = ?3 WHERE name = ?1 AND owner = ?2", params![name, owner, acl])?
                == 1)
        })
        .await
    }

    /// Enables or suspends versioning (a bucket never returns to unversioned).
    pub async fn set_versioning(&self, name: &str, versioning: Versioning) -> MetaResult<SetVersioningOutcome> {
        let name = name.to_owned();
        self.write_config(move |tx| {
            let status = versioning
                .status()
                .ok_or_else(|| MetaError::Corrupt("a bucket cannot be made unversioned again".to_owned()))?;
            Ok(if tx.execute("UPDATE buckets SET versioning = ?2 WHERE name = ?1", params![name, status])? == 1 {
                SetVersioningOutcome::Set
            } else {
                SetVersioningOutcome::NoSuchBucket
            })
        })
        .await
    }

    /// Buckets in name order after `after`, optionally filtered by prefix, owner (owned or
    /// granted to `access_key`) and region; at most `limit` rows.
    pub async fn list_buckets(
        &self,
        owner: Option<(String, String)>,
        prefix: Option<String>,
        region: Option<String>,
        after: Option<String>,
        limit: usize,
    ) -> MetaResult<Vec<BucketRow>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM buckets
                 WHERE name > ?1 AND (?2 IS NULL OR owner = ?2
                        OR name IN (SELECT bucket FROM grants WHERE access_key = ?6))
                   AND (?3 IS NULL OR region = ?3)
                   AND (?4 IS NULL OR substr(name, 1, length(?4)) = ?4)
                 ORDER BY name LIMIT ?5"
            ))?;
            let (owner, key) = owner.unzip();
            let rows =
                stmt.query_map(params![after.unwrap_or_default(), owner, region, prefix, limit as i64, key], from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// (object versions, bytes) in a bucket, noncurrent versions included, delete markers not.
    pub async fn bucket_usage(&self, name: &str) -> MetaResult<(u64, u64)> {
        let name = name.to_owned();
        self.read(move |conn| usage(conn, Some(&name))).await
    }

    /// (buckets, object versions, bytes) in the whole store.
    pub async fn totals(&self) -> MetaResult<(u64, u64, u64)> {
        self.read(|conn| {
            let buckets: i64 = conn.query_row("SELECT count(*) FROM buckets", [], |r| r.get(0))?;
            let (objects, bytes) = usage(conn, None)?;
            Ok((buckets as u64, objects, bytes))
        })
        .await
    }

    /// Deletes a bucket with everything in it (every version of every object, and unfinished
    /// uploads), queueing their blobs, in one transaction; returns how many object versions went.
    pub async fn purge_bucket(&self, name: &str) -> MetaResult<u64> {
        let name = name.to_owned();
        self.write_config(move |tx| {
            let removed = super::versions::purge_versions(tx, &name)?;
            let uploads: Vec<String> = tx
                .prepare("SELECT upload_id FROM multipart_uploads WHERE bucket = ?1")?
                .query_map([&name], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for id in &uploads {
                super::multipart::drop_upload(tx, id)?;
            }
            tx.execute("DELETE FROM grants WHERE bucket = ?1", [&name])?;
            tx.execute("DELETE FROM bucket_config WHERE bucket = ?1", [&name])?;
            tx.execute("DELETE FROM buckets WHERE name = ?1", [&name])?;
            Ok(removed)
        })
        .await
    }

    pub async fn count_buckets(&self) -> MetaResult<u64> {
        self.read(|conn| Ok(conn.query_row("SELECT count(*) FROM buckets", [], |r| r.get::<_, i64>(0))? as u64)).await
    }
}

/// (object versions, bytes) of one bucket or of all, delete markers excluded.
fn usage(conn: &Connection, bucket: Option<&str>) -> MetaResult<(u64, u64)> {
    let mut objects = 0;
    let mut bytes = 0;
    for table in ["objects", "object_versions"] {
        let (n, b): (i64, i64) = conn.query_row(
            &format!(
                "SELECT count(*), coalesce(sum(size), 0) FROM {table} \
                 WHERE delete_marker = 0 AND (?1 IS NULL OR bucket = ?1)"
            ),
            [bucket],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        objects += n as u64;
        bytes += b as u64;
    }
    Ok((objects, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::test_support::db;

    fn row(name: &str, owner: &str) -> BucketRow {
        BucketRow {
            name: name.into(),
            region: "us-east-1".into(),
            owner: owner.into(),
            acl: "private".into(),
            created_ms: 1,
            versioning: Versioning::Unversioned,
        }
    }

    #[tokio::test]
    async fn create_twice_and_by_another_owner() {
        let (db, _dir) = db();
        assert_eq!(db.create_bucket(row("b1", "alice")).await.unwrap(), CreateBucketOutcome::Created);
        assert_eq!(db.create_bucket(row("b1", "alice")).await.unwrap(), CreateBucketOutcome::AlreadyOwned);
        assert_eq!(db.create_bucket(row("b1", "bob")).await.unwrap(), CreateBucketOutcome::AlreadyExists);
        assert_eq!(db.get_bucket("b1").await.unwrap().unwrap().owner, "alice");
        assert!(db.set_bucket_acl("b1", "alice", "public-read".into()).await.unwrap());
        assert_eq!(db.get_bucket("b1").await.unwrap().unwrap().acl, "public-read", "the cached row was dropped");
        assert_eq!(db.delete_bucket("b1").await.unwrap(), DeleteBucketOutcome::Deleted);
        assert_eq!(db.get_bucket("b1").await.unwrap(), None);
        assert_eq!(db.delete_bucket("b1").await.unwrap(), DeleteBucketOutcome::NoSuchBucket);
    }

    #[tokio::test]
    async fn in_progress_uploads_keep_a_bucket_from_being_deleted() {
        let (db, _dir) = db();
        db.create_bucket(row("b1", "alice")).await.unwrap();
        db.write(|tx| {
            tx.execute(
                "INSERT INTO multipart_uploads (upload_id, bucket, key, initiated, owner, meta, acl) VALUES ('u', \
                    'b1', x'6b', 0, 'alice', '{}', 'private')",
                [],
            )?;
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(db.delete_bucket("b1").await.unwrap(), DeleteBucketOutcome::NotEmpty);
    }

    #[tokio::test]
    async fn list_pages_and_filters() {
        let (db, _dir) = db();
        for name in ["aa", "ab", "ba", "bb"] {
            db.create_bucket(row(name, if name.starts_with('a') { "alice" } else { "bob" })).await.unwrap();
        }
        let all = db.list_buckets(None, None, None, None, 10).await.unwrap();
        assert_eq!(all.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(), ["aa", "ab", "ba", "bb"]);
        let page = db.list_buckets(None, None, None, Some("ab".into()), 1).await.unwrap();
        assert_eq!(page[0].name, "ba");
        let pre = db.list_buckets(None, Some("b".into()), None, None, 10).await.unwrap();
        assert_eq!(pre.len(), 2);
        let bob = db.list_buckets(Some(("bob".into(), "bobkey".into())), None, None, None, 10).await.unwrap();
        assert_eq!(bob.len(), 2);
        assert!(db.list_buckets(None, None, Some("eu-west-1".into()), None, 10).await.unwrap().is_empty());
    }
}

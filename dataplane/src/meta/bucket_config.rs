//! A bucket's configuration documents (tagging now; CORS, policies and the rest as they come),
//! one row per bucket and kind in `bucket_config`, written in one transaction each and removed
//! with the bucket.

use rusqlite::{params, OptionalExtension};

use super::{Db, MetaResult};

/// The kinds of document a bucket may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    Tagging,
}

impl ConfigKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Tagging => "tagging",
        }
    }
}

impl Db {
    /// The bucket's document of `kind`, if it has one.
    pub async fn bucket_config(&self, bucket: &str, kind: ConfigKind) -> MetaResult<Option<String>> {
        let bucket = bucket.to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached("SELECT doc FROM bucket_config WHERE bucket = ?1 AND kind = ?2")?;
            Ok(stmt.query_row(params![bucket, kind.as_str()], |r| r.get(0)).optional()?)
        })
        .await
    }

    /// Sets (`Some`) or removes (`None`) the bucket's document of `kind`; `false` when the bucket
    /// is gone.
    pub async fn set_bucket_config(&self, bucket: &str, kind: ConfigKind, doc: Option<String>) -> MetaResult<bool> {
        let bucket = bucket.to_owned();
        self.write_config(move |tx| {
            if !super::buckets::exists(tx, &bucket)? {
                return Ok(false);
            }
            match doc {
                Some(doc) => tx.execute(
                    "INSERT INTO bucket_config (bucket, kind, doc) VALUES (?1, ?2, ?3)
                     ON CONFLICT (bucket, kind) DO UPDATE SET doc = excluded.doc",
                    params![bucket, kind.as_str(), doc],
                )?,
                None => tx.execute(
                    "DELETE FROM bucket_config WHERE bucket = ?1 AND kind = ?2",
                    params![bucket, kind.as_str()],
                )?,
            };
            Ok(true)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::test_support::db;
    use crate::meta::{BucketRow, DeleteBucketOutcome, Versioning};

    #[tokio::test]
    async fn documents_are_set_replaced_removed_and_go_with_the_bucket() {
        let (db, _dir) = db();
        let row = BucketRow {
            name: "b".into(),
            region: "us-east-1".into(),
            owner: "alice".into(),
            acl: "private".into(),
            created_ms: 0,
            versioning: Versioning::Unversioned,
        };
        db.create_bucket(row.clone()).await.unwrap();
        assert_eq!(db.bucket_config("b", ConfigKind::Tagging).await.unwrap(), None);
        assert!(db.set_bucket_config("b", ConfigKind::Tagging, Some("[1]".into())).await.unwrap());
        assert!(db.set_bucket_config("b", ConfigKind::Tagging, Some("[2]".into())).await.unwrap());
        assert_eq!(db.bucket_config("b", ConfigKind::Tagging).await.unwrap().as_deref(), Some("[2]"));
        assert!(db.set_bucket_config("b", ConfigKind::Tagging, None).await.unwrap());
        assert_eq!(db.bucket_config("b", ConfigKind::Tagging).await.unwrap(), None);
        assert!(!db.set_bucket_config("nope", ConfigKind::Tagging, Some("[]".into())).await.unwrap());

        db.set_bucket_config("b", ConfigKind::Tagging, Some("[3]".into())).await.unwrap();
        assert_eq!(db.delete_bucket("b").await.unwrap(), DeleteBucketOutcome::Deleted);
        db.create_bucket(row).await.unwrap();
        assert_eq!(db.bucket_config("b", ConfigKind::Tagging).await.unwrap(), None, "a new bucket starts bare");
    }
}

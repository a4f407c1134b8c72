//! Schema migrations keyed on `PRAGMA user_version`; each step runs once, in one transaction.

use rusqlite::Connection;

use super::MetaResult;

/// Migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE buckets (
    name        TEXT PRIMARY KEY,
    region      TEXT NOT NULL,
    owner       TEXT NOT NULL,
    acl         TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- Keys are BLOBs so that ordering and range seeks are plain byte order (S3 lists in UTF-8
-- binary order). Rows point at blob ids, never at paths derived from the key.
CREATE TABLE objects (
    bucket         TEXT NOT NULL REFERENCES buckets(name),
    key            BLOB NOT NULL,
    blob_id        TEXT NOT NULL,
    size           INTEGER NOT NULL,
    etag           TEXT NOT NULL,
    last_modified  INTEGER NOT NULL,
    meta           TEXT NOT NULL,
    owner          TEXT NOT NULL,
    acl            TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE INDEX objects_by_blob ON objects(blob_id);

CREATE TABLE multipart_uploads (
    upload_id   TEXT PRIMARY KEY,
    bucket      TEXT NOT NULL REFERENCES buckets(name),
    key         BLOB NOT NULL,
    initiated   INTEGER NOT NULL,
    owner       TEXT NOT NULL,
    meta        TEXT NOT NULL,
    acl         TEXT NOT NULL
);
CREATE INDEX uploads_by_key ON multipart_uploads(bucket, key, upload_id);

CREATE TABLE multipart_parts (
    upload_id      TEXT NOT NULL REFERENCES multipart_uploads(upload_id) ON DELETE CASCADE,
    part_number    INTEGER NOT NULL,
    blob_id        TEXT NOT NULL,
    size           INTEGER NOT NULL,
    etag           TEXT NOT NULL,
    last_modified  INTEGER NOT NULL,
    checksum       TEXT,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
CREATE INDEX parts_by_blob ON multipart_parts(blob_id);

CREATE TABLE credentials (
    access_key  TEXT PRIMARY KEY,
    secret      TEXT NOT NULL,
    owner_id    TEXT NOT NULL,
    is_root     INTEGER NOT NULL DEFAULT 0,
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- Blobs no row references any more, removed by the deleter; survives crashes.
CREATE TABLE blob_deletions (
    blob_id      TEXT PRIMARY KEY,
    enqueued_at  INTEGER NOT NULL
) WITHOUT ROWID;
"#,
    r#"
-- Multipart objects: `objects.blob_id` holds the manifest id (the upload id) and
-- `parts_count` > 0; the part blobs are listed here in order. Completion moves rows from
-- multipart_parts to object_parts: no bytes are copied.
ALTER TABLE objects ADD COLUMN parts_count INTEGER NOT NULL DEFAULT 0;
CREATE TABLE object_parts (
    manifest_id  TEXT NOT NULL,
    part_number  INTEGER NOT NULL,
    blob_id      TEXT NOT NULL,
    size         INTEGER NOT NULL,
    etag         TEXT NOT NULL,
    checksum     TEXT,
    PRIMARY KEY (manifest_id, part_number)
) WITHOUT ROWID;
CREATE INDEX object_parts_by_blob ON object_parts(blob_id);
-- The object (blob id or manifest id) a queued blob belonged to: readers pin it, and the
-- deleter leaves a pinned object's blobs alone until the reader is done.
ALTER TABLE blob_deletions ADD COLUMN pin_id TEXT;
ALTER TABLE multipart_uploads ADD COLUMN checksum_algorithm TEXT;
"#,
    r#"
-- What a (non-root) access key may do in a bucket it does not own: bit flags
-- 1 = read, 2 = write, 4 = owner. Managed by the operator through the admin API.
CREATE TABLE grants (
    access_key  TEXT NOT NULL REFERENCES credentials(access_key) ON DELETE CASCADE,
    bucket      TEXT NOT NULL,
    permission  INTEGER NOT NULL,
    PRIMARY KEY (access_key, bucket)
) WITHOUT ROWID;
CREATE INDEX grants_by_bucket ON grants(bucket);
"#,
    r#"
-- Small objects kept in the database instead of a blob: `objects.inline` = 1 and
-- `objects.blob_id` names their row here. Written and removed in the object row's
-- transaction, so they need neither the deletion queue nor read pins.
ALTER TABLE objects ADD COLUMN inline INTEGER NOT NULL DEFAULT 0;
CREATE TABLE inline_data (
    id    TEXT PRIMARY KEY,
    data  BLOB NOT NULL
);
"#,
    r#"
-- How a multipart upload's object checksum is made from its parts': FULL_OBJECT or COMPOSITE
-- (NULL for uploads without a checksum algorithm, and for uploads created before this column,
-- which were all COMPOSITE).
ALTER TABLE multipart_uploads ADD COLUMN checksum_type TEXT;
"#,
    r#"
-- Versioning. A bucket is unversioned (NULL), 'Enabled' or 'Suspended'. `objects` keeps the
-- current version of each key — an object or a delete marker — and `object_versions` the
-- noncurrent ones; `seq` orders the versions of a key (higher is newer), `version_id` is the
-- opaque id clients see ('null' for versions written while unversioned or suspended). A key
-- has noncurrent versions only while it has a current one. Rows written before this migration
-- are null versions.
ALTER TABLE buckets ADD COLUMN versioning TEXT;
ALTER TABLE objects ADD COLUMN version_id TEXT NOT NULL DEFAULT 'null';
ALTER TABLE objects ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE objects ADD COLUMN delete_marker INTEGER NOT NULL DEFAULT 0;
CREATE TABLE object_versions (
    bucket         TEXT NOT NULL REFERENCES buckets(name),
    key            BLOB NOT NULL,
    blob_id        TEXT NOT NULL,
    size           INTEGER NOT NULL,
    etag           TEXT NOT NULL,
    last_modified  INTEGER NOT NULL,
    meta           TEXT NOT NULL,
    owner          TEXT NOT NULL,
    acl            TEXT NOT NULL,
    parts_count    INTEGER NOT NULL DEFAULT 0,
    inline         INTEGER NOT NULL DEFAULT 0,
    version_id     TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    delete_marker  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, key, seq DESC)
) WITHOUT ROWID;
CREATE UNIQUE INDEX object_versions_by_id ON object_versions(bucket, key, version_id);
CREATE INDEX object_versions_by_blob ON object_versions(blob_id);
"#,
    r#"
-- A bucket's configuration documents beyond its row, one per kind ('tagging', …), each the
-- JSON the kind's module writes. Removed with the bucket.
CREATE TABLE bucket_config (
    bucket  TEXT NOT NULL REFERENCES buckets(name),
    kind    TEXT NOT NULL,
    doc     TEXT NOT NULL,
    PRIMARY KEY (bucket, kind)
) WITHOUT ROWID;
"#,
];

/// Brings the schema to the newest version.
pub(super) fn migrate(conn: &mut Connection) -> MetaResult<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
    }
}

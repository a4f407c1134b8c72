//! Blobs as files on the data volume: `blobs/<first two hex digits>/<id>`, written to `tmp/`
//! first, then fsync → rename → fsync of the directory, so a blob is either whole and durable
//! under its final name or absent.

use std::io::{self, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};
use tokio_util::io::ReaderStream;

use super::{is_blob_id, new_blob_id, BlobError, BlobResult, BlobStore, BlobStream, BlobWriter};

const WRITE_BUFFER: usize = 256 * 1024;
const READ_CHUNK: usize = 256 * 1024;

pub struct LocalBlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

impl LocalBlobStore {
    /// Prepares the directory layout under `root` (blocking; call at start-up).
    pub fn open(root: &Path) -> io::Result<Self> {
        let blobs = root.join("blobs");
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        for shard in 0..=255u8 {
            let dir = blobs.join(format!("{shard:02x}"));
            if !dir.is_dir() {
                std::fs::create_dir_all(&dir)?;
            }
        }
        sync_dir(&blobs)?;
        sync_dir(root)?;
        Ok(Self { blobs, tmp })
    }

    fn path(&self, id: &str) -> BlobResult<PathBuf> {
        if !is_blob_id(id) {
            return Err(BlobError::NotFound(id.to_owned()));
        }
        Ok(self.blobs.join(&id[..2]).join(id))
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

struct LocalWriter {
    id: String,
    tmp_path: PathBuf,
    final_path: PathBuf,
    file: Option<BufWriter<tokio::fs::File>>,
}

#[async_trait]
impl BlobWriter for LocalWriter {
    async fn write(&mut self, data: Bytes) -> BlobResult<()> {
        let file = self.file.as_mut().ok_or_else(|| BlobError::NotFound(self.id.clone()))?;
        file.write_all(&data).await?;
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> BlobResult<String> {
        let mut file = self.file.take().ok_or_else(|| BlobError::NotFound(self.id.clone()))?;
        file.flush().await?;
        let file = file.into_inner().into_std().await;
        let (tmp, dst) = (self.tmp_path.clone(), self.final_path.clone());
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            file.sync_all()?;
            drop(file);
            std::fs::rename(&tmp, &dst)?;
            sync_dir(dst.parent().unwrap_or(Path::new(".")))
        })
        .await
        .map_err(io::Error::other)??;
        // Committed: nothing left for Drop to clean.
        self.tmp_path = PathBuf::new();
        Ok(std::mem::take(&mut self.id))
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        // An abandoned write (client gone, bad digest, crash of the task) leaves no temp file.
        if !self.tmp_path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn create(&self) -> BlobResult<Box<dyn BlobWriter>> {
        let id = new_blob_id();
        let tmp_path = self.tmp.join(format!("{id}.tmp"));
        let final_path = self.path(&id)?;
        let file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&tmp_path).await?;
        Ok(Box::new(LocalWriter { id, tmp_path, final_path, file: Some(BufWriter::with_capacity(WRITE_BUFFER, file)) }))
    }

    async fn open(&self, id: &str, range: Option<Range<u64>>) -> BlobResult<BlobStream> {
        let path = self.path(id)?;
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(BlobError::NotFound(id.to_owned())),
            Err(e) => return Err(e.into()),
        };
        let stream = match range {
            None => ReaderStream::with_capacity(file, READ_CHUNK).boxed(),
            Some(r) => {
                file.seek(SeekFrom::Start(r.start)).await?;
                let limited = tokio::io::AsyncReadExt::take(file, r.end - r.start);
                ReaderStream::with_capacity(limited, READ_CHUNK).boxed()
            }
        };
        Ok(stream)
    }

    async fn delete(&self, id: &str) -> BlobResult<()> {
        let path = self.path(id)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn clean_temp(&self) -> BlobResult<usize> {
        let tmp = self.tmp.clone();
        let removed = tokio::task::spawn_blocking(move || -> io::Result<usize> {
            let mut n = 0;
            for entry in std::fs::read_dir(&tmp)? {
                let path = entry?.path();
                let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
                match removed {
                    Ok(()) => n += 1,
                    // A readiness probe's own file may vanish between listing and removal.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(n)
        })
        .await
        .map_err(io::Error::other)??;
        Ok(removed)
    }

    async fn probe(&self) -> BlobResult<()> {
        let path = self.tmp.join(format!("probe-{}.tmp", new_blob_id()));
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            let result = (|| {
                let mut f = std::fs::File::create(&path)?;
                io::Write::write_all(&mut f, b"probe")?;
                f.sync_all()
            })();
            let _ = std::fs::remove_file(&path);
            result
        })
        .await
        .map_err(io::Error::other)??;
        Ok(())
    }

    async fn list_ids(&self) -> BlobResult<Vec<String>> {
        let blobs = self.blobs.clone();
        let ids = tokio::task::spawn_blocking(move || -> io::Result<Vec<String>> {
            let mut ids = Vec::new();
            for shard in std::fs::read_dir(&blobs)? {
                let shard = shard?.path();
                if !shard.is_dir() {
                    tracing::warn!(path = %shard.display(), "ignoring a file that is not a blob shard");
                    continue;
                }
                for entry in std::fs::read_dir(&shard)? {
                    let entry = entry?;
                    match entry.file_name().to_str() {
                        Some(name) if is_blob_id(name) => ids.push(name.to_owned()),
                        _ => tracing::warn!(path = %entry.path().display(), "ignoring a file that is not a blob"),
                    }
                }
            }
            Ok(ids)
        })
        .await
        .map_err(io::Error::other)??;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(mut s: BlobStream) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(chunk) = s.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn write_commit_read_range_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).unwrap();
        let mut w = store.create().await.unwrap();
        w.write(Bytes::from_static(b"hello ")).await.unwrap();
        w.write(Bytes::from_static(b"world")).await.unwrap();
        let id = w.commit().await.unwrap();
        assert_eq!(read_all(store.open(&id, None).await.unwrap()).await, b"hello world");
        assert_eq!(read_all(store.open(&id, Some(3..8)).await.unwrap()).await, b"lo wo");
        assert_eq!(store.list_ids().await.unwrap(), vec![id.clone()]);
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        store.delete(&id).await.unwrap();
        store.delete(&id).await.unwrap();
        assert!(matches!(store.open(&id, None).await, Err(BlobError::NotFound(_))));
    }

    #[tokio::test]
    async fn stray_files_do_not_break_recovery() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).unwrap();
        std::fs::write(dir.path().join("blobs/README"), b"x").unwrap();
        std::fs::write(dir.path().join("blobs/00/not-a-blob"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("tmp/leftover-dir")).unwrap();
        std::fs::write(dir.path().join("tmp/leftover-dir/f"), b"x").unwrap();
        assert!(store.list_ids().await.unwrap().is_empty());
        assert_eq!(store.clean_temp().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn dropped_writer_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).unwrap();
        let mut w = store.create().await.unwrap();
        w.write(Bytes::from_static(b"partial")).await.unwrap();
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert!(store.list_ids().await.unwrap().is_empty());
        assert!(matches!(store.open("../../etc/passwd", None).await, Err(BlobError::NotFound(_))));
    }
}

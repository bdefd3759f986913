//! The blob store: whole command outputs, transcripts, packages, exports — bytes too big
//! or too many for the key-value store. Today a local directory; an S3-compatible backend
//! fits the same trait.

use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;

use crate::StoreError;

/// Where blobs live.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Writes `bytes` at `bucket`/`key` (replacing) and returns a URL for it. Durable on return.
    async fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<String, StoreError>;
    /// Reads a blob, or `None`.
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Adds `bytes` at the end of a blob (made if missing), for things written as they
    /// happen (session transcripts). Durable on return.
    async fn append(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<String, StoreError>;
    /// Removes a blob (one that is not there is no error).
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError>;
    /// The URL a blob has (or will have).
    fn url(&self, bucket: &str, key: &str) -> String;
    /// Moves the local file `source` in as `bucket`/`key` (replacing), for blobs too big to
    /// hold in memory (package files). Durable on return; `source` is gone.
    async fn put_file(&self, bucket: &str, key: &str, source: &Path) -> Result<(), StoreError>;
    /// At most `max_len` bytes of a blob from `offset`, with the blob's whole size, or `None`
    /// when there is no such blob. An offset at or past the end reads nothing.
    async fn read_range(
        &self,
        bucket: &str,
        key: &str,
        offset: u64,
        max_len: usize,
    ) -> Result<Option<(Vec<u8>, u64)>, StoreError>;
    /// A blob's size, or `None` when there is no such blob.
    async fn size(&self, bucket: &str, key: &str) -> Result<Option<u64>, StoreError>;
}

/// Blobs as files under a root directory: `ROOT/BUCKET/KEY`.
pub struct LocalBlobs {
    root: PathBuf,
}

impl LocalBlobs {
    /// Blobs under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalBlobs { root: root.into() }
    }

    fn path(&self, bucket: &str, key: &str) -> Result<PathBuf, StoreError> {
        let ok = |s: &str| {
            !s.is_empty()
                && Path::new(s).components().all(|c| matches!(c, Component::Normal(_)))
                && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | ':' | '='))
        };
        if !ok(bucket) || bucket.contains('/') || !ok(key) {
            return Err(StoreError::InvalidBatch(format!("blob name {bucket}/{key} is not allowed")));
        }
        Ok(self.root.join(bucket).join(key))
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

#[async_trait]
impl BlobStore for LocalBlobs {
    async fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<String, StoreError> {
        let path = self.path(bucket, key)?;
        let url = format!("file://{}", path.display());
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let tmp = path.with_extension("partial");
            std::fs::write(&tmp, &bytes).map_err(io)?;
            std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(io)?;
            std::fs::rename(&tmp, &path).map_err(io)
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))??;
        Ok(url)
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(bucket, key)?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    async fn append(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<String, StoreError> {
        use std::io::Write;
        let path = self.path(bucket, key)?;
        let url = format!("file://{}", path.display());
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io)?;
            file.write_all(&bytes).map_err(io)?;
            file.sync_data().map_err(io)
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))??;
        Ok(url)
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path(bucket, key)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        }
    }

    fn url(&self, bucket: &str, key: &str) -> String {
        format!("file://{}", self.root.join(bucket).join(key).display())
    }

    async fn put_file(&self, bucket: &str, key: &str, source: &Path) -> Result<(), StoreError> {
        let path = self.path(bucket, key)?;
        let source = source.to_owned();
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let tmp = path.with_extension("partial");
            // A rename when both are on one file system; a copy otherwise.
            if std::fs::rename(&source, &tmp).is_err() {
                std::fs::copy(&source, &tmp).map_err(io)?;
                let _ = std::fs::remove_file(&source);
            }
            std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(io)?;
            std::fs::rename(&tmp, &path).map_err(io)
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    async fn read_range(
        &self,
        bucket: &str,
        key: &str,
        offset: u64,
        max_len: usize,
    ) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let path = self.path(bucket, key)?;
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let size = file.metadata().await.map_err(io)?.len();
        let wanted = size.saturating_sub(offset).min(max_len as u64) as usize;
        let mut bytes = vec![0u8; wanted];
        if wanted > 0 {
            file.seek(std::io::SeekFrom::Start(offset)).await.map_err(io)?;
            file.read_exact(&mut bytes).await.map_err(io)?;
        }
        Ok(Some((bytes, size)))
    }

    async fn size(&self, bucket: &str, key: &str) -> Result<Option<u64>, StoreError> {
        match tokio::fs::metadata(self.path(bucket, key)?).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_and_refuse_escapes() {
        let root = std::env::temp_dir().join(format!("steward-blobs-{}", uuid::Uuid::new_v4()));
        let blobs = LocalBlobs::new(&root);
        let url = blobs.put("out", "a/b/stdout", b"hello".to_vec()).await.unwrap();
        assert!(url.starts_with("file://") && url.ends_with("out/a/b/stdout"));
        assert_eq!(blobs.get("out", "a/b/stdout").await.unwrap().as_deref(), Some(&b"hello"[..]));
        assert_eq!(blobs.get("out", "missing").await.unwrap(), None);
        blobs.delete("out", "a/b/stdout").await.unwrap();
        blobs.delete("out", "a/b/stdout").await.unwrap();
        assert_eq!(blobs.get("out", "a/b/stdout").await.unwrap(), None);
        for (bucket, key) in [("out", "../x"), ("..", "x"), ("out", "/etc/passwd"), ("a/b", "x"), ("out", "")] {
            assert!(blobs.put(bucket, key, vec![]).await.is_err(), "{bucket}/{key}");
        }
        std::fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn files_move_in_and_read_in_ranges() {
        let root = std::env::temp_dir().join(format!("steward-blobs-{}", uuid::Uuid::new_v4()));
        let blobs = LocalBlobs::new(root.join("blobs"));
        std::fs::create_dir_all(&root).unwrap();
        let source = root.join("upload");
        std::fs::write(&source, b"0123456789").unwrap();
        blobs.put_file("pkg", "files/a", &source).await.unwrap();
        assert!(!source.exists(), "moved, not copied");
        assert_eq!(blobs.size("pkg", "files/a").await.unwrap(), Some(10));
        assert_eq!(blobs.size("pkg", "files/b").await.unwrap(), None);
        assert_eq!(blobs.read_range("pkg", "files/a", 3, 4).await.unwrap(), Some((b"3456".to_vec(), 10)));
        assert_eq!(blobs.read_range("pkg", "files/a", 8, 4).await.unwrap(), Some((b"89".to_vec(), 10)));
        assert_eq!(blobs.read_range("pkg", "files/a", 12, 4).await.unwrap(), Some((Vec::new(), 10)));
        assert_eq!(blobs.read_range("pkg", "files/b", 0, 4).await.unwrap(), None);
        std::fs::remove_dir_all(root).unwrap();
    }
}

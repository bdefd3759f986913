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
}

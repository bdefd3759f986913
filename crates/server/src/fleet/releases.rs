//! Agent releases: `steward-agent` builds an operator publishes (`steward agent publish`,
//! on the server's host) for AWS-UpdateSSMAgent to install. Each is stored once in the blob
//! bucket `steward-agent-releases` under its SHA-256, with a record
//! `agentrelease/<version>/<arch>` holding its size and the release key's signature over
//! version, architecture and hash (`steward_protocol::release_payload`); nodes check both
//! before they run it. Releases are the server's, shared by every account.

use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use steward_api::ApiError;
use steward_store::blob::BlobStore;
use steward_store::{prefix_end, Op, Start, Store};

use crate::base::{decode, encode, store_fault, Env};

/// The blob bucket of agent builds (the server's own: callers cannot name it).
pub const BUCKET: &str = "steward-agent-releases";
/// Architectures a build may be published for (as Rust names them: what the agent reports).
pub const ARCHITECTURES: &[&str] = &["x86_64", "aarch64", "x86", "arm", "riscv64"];

const PREFIX: &str = "agentrelease/";

/// One published build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// Its version (`1.2.0`).
    pub version: String,
    /// Its architecture.
    pub arch: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// The release key's signature (base64).
    pub signature: String,
    /// Epoch ms.
    pub published: i64,
}

fn record_key(version: &str, arch: &str) -> String {
    format!("{PREFIX}{version}/{arch}")
}

/// The blob key of a build.
pub fn blob_key(sha256: &str) -> String {
    sha256.to_owned()
}

fn valid_version(version: &str) -> bool {
    !version.is_empty()
        && version.len() <= 64
        && version.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && version.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
}

/// Every published build.
pub async fn all(store: &dyn Store) -> Result<Vec<Release>, ApiError> {
    let items = store.range(Start::At(PREFIX), &prefix_end(PREFIX), 100_000).await.map_err(store_fault)?;
    items.iter().map(|i| decode(&i.key, &i.value)).collect()
}

/// The builds of `version` (every architecture), or of the newest version when it is empty.
pub async fn find(env: &Env, version: &str) -> Result<Vec<Release>, String> {
    let all = all(env.store.as_ref()).await.map_err(|e| e.message().to_owned())?;
    let wanted = if version.is_empty() {
        let newest = all.iter().map(|r| r.version.as_str()).max_by(|a, b| steward_protocol::compare_versions(a, b));
        newest.ok_or("no agent release is published (steward agent publish)")?.to_owned()
    } else {
        version.to_owned()
    };
    let found: Vec<Release> = all.into_iter().filter(|r| r.version == wanted).collect();
    if found.is_empty() {
        return Err(format!("no agent release {wanted} is published"));
    }
    Ok(found)
}

/// Publishes `binary` as `version` for `arch`: stored under its hash, signed with the
/// store's release key, recorded. A version and architecture are published once.
pub async fn publish(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    master_key: &[u8; 32],
    binary: &Path,
    version: &str,
    arch: &str,
    now: i64,
) -> anyhow::Result<Release> {
    anyhow::ensure!(valid_version(version), "--version {version:?} must start with a digit (e.g. 1.2.0)");
    anyhow::ensure!(ARCHITECTURES.contains(&arch), "--arch must be one of {}", ARCHITECTURES.join(", "));
    let bytes = std::fs::read(binary).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", binary.display()))?;
    anyhow::ensure!(!bytes.is_empty(), "{} is empty", binary.display());
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let key = crate::base::release_key::load_or_create(store, master_key)
        .await
        .map_err(|e| anyhow::anyhow!("the release key: {}", e.message()))?;
    let signature = key.sign(&steward_protocol::release_payload(version, arch, &sha256));
    let release = Release {
        version: version.to_owned(),
        arch: arch.to_owned(),
        sha256: sha256.clone(),
        size: bytes.len() as u64,
        signature: base64::engine::general_purpose::STANDARD.encode(signature),
        published: now,
    };
    blobs.put(BUCKET, &blob_key(&sha256), bytes).await?;
    match store.write(vec![Op::put(record_key(version, arch), encode(&release)).if_absent()]).await {
        Ok(()) => Ok(release),
        Err(steward_store::StoreError::Conflict { .. }) => {
            anyhow::bail!("agent release {version} for {arch} is already published")
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn versions_compare_as_numbers() {
        use steward_protocol::compare_versions;
        assert_eq!(compare_versions("1.10.0", "1.9.2"), Greater);
        assert_eq!(compare_versions("0.1.0", "0.1.0"), Equal);
        assert_eq!(compare_versions("2.0", "10.0"), Less);
        assert!(valid_version("1.2.3-rc1") && !valid_version("v1") && !valid_version("") && !valid_version("1/2"));
    }
}

//! The store's release key: the Ed25519 key agent builds are signed with when they are
//! published (`steward agent publish`). Agents learn its public half on their first
//! connection and install only builds it signed, so a build changed in the blob store — by
//! anyone without the master key — is refused on every node.
//!
//! One key per store, made on first use, sealed by the master key (`release/ed25519`).

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use serde::{Deserialize, Serialize};
use steward_api::ApiError;
use steward_store::{Op, Store};

use super::crypto;
use super::record::{decode, encode, store_fault};

/// Where the sealed key lives.
const KEY: &str = "release/ed25519";
/// Binds the sealed bytes to their purpose.
const AAD: &[u8] = b"steward release key v1";

#[derive(Serialize, Deserialize)]
struct KeyRecord {
    /// The public key (base64), readable without the master key.
    public: String,
    /// The 32-byte secret sealed by the master key (base64).
    sealed: String,
}

/// The key, ready to sign.
pub struct ReleaseKey {
    key: SigningKey,
}

impl ReleaseKey {
    /// The signature of `data`.
    pub fn sign(&self, data: &[u8]) -> [u8; 64] {
        self.key.sign(data).to_bytes()
    }

    /// The public key, base64, as agents keep it.
    pub fn public_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.key.verifying_key().to_bytes())
    }
}

/// The store's release key, made on first use (two makers racing: the loser reads the
/// winner's).
pub async fn load_or_create(store: &dyn Store, master_key: &[u8; 32]) -> Result<ReleaseKey, ApiError> {
    if let Some(found) = load(store, master_key).await? {
        return Ok(found);
    }
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let b64 = base64::engine::general_purpose::STANDARD;
    let record = KeyRecord {
        public: b64.encode(key.verifying_key().to_bytes()),
        sealed: b64.encode(crypto::seal(master_key, AAD, &key.to_bytes())),
    };
    match store.write(vec![Op::put(KEY, encode(&record)).if_absent()]).await {
        Ok(()) => Ok(ReleaseKey { key }),
        Err(steward_store::StoreError::Conflict { .. }) => {
            load(store, master_key).await?.ok_or_else(|| broken("it vanished after a lost race"))
        }
        Err(e) => Err(store_fault(e)),
    }
}

/// The store's release key, if one was made.
pub async fn load(store: &dyn Store, master_key: &[u8; 32]) -> Result<Option<ReleaseKey>, ApiError> {
    let Some(found) = store.get(KEY).await.map_err(store_fault)? else { return Ok(None) };
    let record: KeyRecord = decode(KEY, &found.value)?;
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(&record.sealed)
        .map_err(|_| broken("the record is damaged"))?;
    let secret =
        crypto::open(master_key, AAD, &sealed).ok_or_else(|| broken("it does not unseal with this master key"))?;
    let secret: [u8; 32] = secret.try_into().map_err(|_| broken("it is not an Ed25519 key"))?;
    Ok(Some(ReleaseKey { key: SigningKey::from_bytes(&secret) }))
}

/// The public key agents are told, if a key was made (read without unsealing).
pub async fn public(store: &dyn Store) -> Result<Option<String>, ApiError> {
    let Some(found) = store.get(KEY).await.map_err(store_fault)? else { return Ok(None) };
    Ok(Some(decode::<KeyRecord>(KEY, &found.value)?.public))
}

fn broken(what: &str) -> ApiError {
    tracing::error!(what, "The release key is unusable.");
    ApiError::internal()
}

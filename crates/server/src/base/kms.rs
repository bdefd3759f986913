//! The built-in key service: KMS-style keys whose material is sealed by the master key,
//! and envelope encryption for everything secret (SecureString values, KMS Encrypt).
//!
//! Layers: the master key (a file, never in the store) seals each key's 256-bit material;
//! each encryption draws a fresh data key, seals the data with it, and seals the data key
//! with the key's material. The ciphertext names its key, so decryption needs no hint.
//! Both seals bind the caller's encryption context (for parameters, the parameter ARN).
//!
//! Keys: `kms/key/<account>/<region>/<uuid>`; aliases: `kms/alias/<account>/<region>/alias/<name>`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::Engine;
use serde::{Deserialize, Serialize};
use steward_api::ApiError;
use steward_store::{Op, Store, StoreError};

use crate::base::crypto;
use crate::base::{decode, encode, store_fault};

/// The alias of the key SSM uses when a SecureString names none.
pub const DEFAULT_SSM_ALIAS: &str = "alias/aws/ssm";
const BLOB_MAGIC: &[u8; 3] = b"SK1";
const KEY_ID_LEN: usize = 36;
const SEALED_DATA_KEY_LEN: usize = 32 + crypto::OVERHEAD;
/// How long a cached key record may be trusted before it is read again (other servers may
/// have disabled it).
const RECORD_TTL_MS: i64 = 1000;

/// A stored key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    /// UUID.
    pub key_id: String,
    /// `arn:aws:kms:REGION:ACCOUNT:key/UUID`.
    pub arn: String,
    /// Owner.
    pub account: String,
    /// Description.
    pub description: String,
    /// Enabled, Disabled or PendingDeletion.
    pub state: String,
    /// Epoch ms.
    pub created: i64,
    /// Epoch ms, when pending deletion.
    pub deletion_date: Option<i64>,
    /// AWS (managed, e.g. alias/aws/ssm) or CUSTOMER.
    pub manager: String,
    /// The key material sealed by the master key (base64).
    pub sealed_material: String,
}

/// A stored alias.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AliasRecord {
    /// The key it points to.
    pub target_key_id: String,
    /// Epoch ms.
    pub created: i64,
}

/// A KMS-style error.
pub fn kms_error(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

/// Prefix of the keys of an account in a region.
pub fn keys_prefix(account: &str, region: &str) -> String {
    format!("kms/key/{account}/{region}/")
}

/// Prefix of the aliases of an account in a region.
pub fn aliases_prefix(account: &str, region: &str) -> String {
    format!("kms/alias/{account}/{region}/")
}

/// Store key of a key record.
pub fn key_key(account: &str, region: &str, key_id: &str) -> String {
    format!("kms/key/{account}/{region}/{key_id}")
}

/// Store key of an alias record.
pub fn alias_key(account: &str, region: &str, alias: &str) -> String {
    format!("kms/alias/{account}/{region}/{alias}")
}

pub fn is_uuid(s: &str) -> bool {
    s.len() == KEY_ID_LEN && uuid::Uuid::parse_str(s).is_ok()
}

fn material_aad(arn: &str) -> Vec<u8> {
    format!("kms-key:{arn}").into_bytes()
}

/// The key service.
pub struct Keyring {
    store: Arc<dyn Store>,
    master_key: [u8; 32],
    materials: RwLock<HashMap<String, [u8; 32]>>,
    records: RwLock<HashMap<String, (i64, KeyRecord)>>,
    signing: tokio::sync::OnceCell<Arc<super::signing_key::SigningKey>>,
}

impl Keyring {
    /// A key service over `store`, sealing with `master_key`.
    pub fn new(store: Arc<dyn Store>, master_key: [u8; 32]) -> Self {
        Keyring {
            store,
            master_key,
            materials: RwLock::new(HashMap::new()),
            records: RwLock::new(HashMap::new()),
            signing: tokio::sync::OnceCell::new(),
        }
    }

    /// The server's RSA signing key (SNS messages, audit digests), made on first use.
    pub async fn signing_key(&self) -> Result<Arc<super::signing_key::SigningKey>, ApiError> {
        self.signing
            .get_or_try_init(|| super::signing_key::load_or_create(self.store.as_ref(), &self.master_key))
            .await
            .cloned()
    }

    /// Creates a key.
    pub async fn create_key(
        &self,
        account: &str,
        region: &str,
        description: &str,
        manager: &str,
        now: i64,
    ) -> Result<KeyRecord, ApiError> {
        let key_id = uuid::Uuid::new_v4().to_string();
        let arn = format!("arn:aws:kms:{region}:{account}:key/{key_id}");
        let material = crypto::random_key();
        let sealed = crypto::seal(&self.master_key, &material_aad(&arn), &material);
        let record = KeyRecord {
            key_id: key_id.clone(),
            arn,
            account: account.to_owned(),
            description: description.to_owned(),
            state: "Enabled".into(),
            created: now,
            deletion_date: None,
            manager: manager.to_owned(),
            sealed_material: base64::engine::general_purpose::STANDARD.encode(sealed),
        };
        self.store
            .write(vec![Op::put(key_key(account, region, &key_id), encode(&record)).if_absent()])
            .await
            .map_err(store_fault)?;
        Ok(record)
    }

    /// Writes a changed key record and forgets the cached copy.
    pub async fn save(&self, region: &str, record: &KeyRecord) -> Result<(), ApiError> {
        self.save_with(region, record, Vec::new()).await
    }

    /// Saves a key record together with `extra` writes (a due entry), in one batch.
    pub async fn save_with(&self, region: &str, record: &KeyRecord, extra: Vec<Op>) -> Result<(), ApiError> {
        let key = key_key(&record.account, region, &record.key_id);
        let mut batch = vec![Op::put(&key, encode(record)).expecting(steward_store::Expect::Present)];
        batch.extend(extra);
        self.store.write(batch).await.map_err(store_fault)?;
        self.records.write().expect("records lock").remove(&key);
        Ok(())
    }

    /// Erases a key whose deletion date `due_at` has come, with `claim` (its due entry) in
    /// the same batch: the record and its sealed material, and the aliases naming it. Every
    /// ciphertext under it is unreadable from then on. False when the key is no longer
    /// pending deletion at that date (cancelled, or scheduled again for another).
    pub async fn erase(
        &self,
        account: &str,
        region: &str,
        key_id: &str,
        due_at: i64,
        claim: Op,
    ) -> Result<bool, StoreError> {
        let key = key_key(account, region, key_id);
        let Some(item) = self.store.get(&key).await? else {
            self.store.write(vec![claim]).await?;
            return Ok(false);
        };
        let record: KeyRecord = match serde_json::from_slice(&item.value) {
            Ok(r) => r,
            Err(_) => return Ok(false),
        };
        if record.state != "PendingDeletion" || record.deletion_date != Some(due_at) {
            self.store.write(vec![claim]).await?;
            return Ok(false);
        }
        let mut batch = vec![claim, Op::delete(&key).if_revision(item.revision)];
        let prefix = aliases_prefix(account, region);
        for alias in
            self.store.range(steward_store::Start::At(&prefix), &steward_store::prefix_end(&prefix), 100_000).await?
        {
            let target = serde_json::from_slice::<AliasRecord>(&alias.value).map(|a| a.target_key_id);
            if target.is_ok_and(|t| t == key_id) {
                batch.push(Op::delete(&alias.key).if_revision(alias.revision));
            }
        }
        self.store.write(batch).await?;
        self.records.write().expect("records lock").remove(&key);
        self.materials.write().expect("materials lock").remove(key_id);
        Ok(true)
    }

    async fn load(&self, account: &str, region: &str, key_id: &str, now: i64) -> Result<Option<KeyRecord>, ApiError> {
        let key = key_key(account, region, key_id);
        if let Some((at, record)) = self.records.read().expect("records lock").get(&key) {
            if now - at < RECORD_TTL_MS {
                return Ok(Some(record.clone()));
            }
        }
        let Some(item) = self.store.get(&key).await.map_err(store_fault)? else {
            return Ok(None);
        };
        let record: KeyRecord = decode(&key, &item.value)?;
        let mut cache = self.records.write().expect("records lock");
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(key, (now, record.clone()));
        Ok(Some(record))
    }

    /// The alias record, if any.
    pub async fn alias(&self, account: &str, region: &str, alias: &str) -> Result<Option<AliasRecord>, ApiError> {
        let key = alias_key(account, region, alias);
        match self.store.get(&key).await.map_err(store_fault)? {
            Some(item) => Ok(Some(decode(&key, &item.value)?)),
            None => Ok(None),
        }
    }

    /// Resolves a key id, key ARN, alias name or alias ARN of this account and region.
    /// `alias/aws/ssm` is created on first use.
    pub async fn resolve(&self, account: &str, region: &str, reference: &str, now: i64) -> Result<KeyRecord, ApiError> {
        let arn_prefix = format!("arn:aws:kms:{region}:{account}:");
        let local = match reference.strip_prefix("arn:") {
            Some(_) => reference
                .strip_prefix(&arn_prefix)
                .ok_or_else(|| kms_error("NotFoundException", format!("Invalid arn {region}")))?,
            None => reference,
        };
        let key_id = if local.starts_with("alias/") {
            match self.alias(account, region, local).await? {
                Some(a) => a.target_key_id,
                None if local == DEFAULT_SSM_ALIAS => self.create_default(account, region, now).await?,
                None => {
                    return Err(kms_error("NotFoundException", format!("Alias {arn_prefix}{local} is not found.")));
                }
            }
        } else if let Some(id) = local.strip_prefix("key/").or(Some(local)).filter(|id| is_uuid(id)) {
            id.to_owned()
        } else {
            return Err(kms_error("NotFoundException", format!("Invalid keyId '{reference}'")));
        };
        self.load(account, region, &key_id, now)
            .await?
            .ok_or_else(|| kms_error("NotFoundException", format!("Key '{arn_prefix}key/{key_id}' does not exist")))
    }

    async fn create_default(&self, account: &str, region: &str, now: i64) -> Result<String, ApiError> {
        let record = self
            .create_key(
                account,
                region,
                "Default key that protects my SSM parameters when no other key is defined",
                "AWS",
                now,
            )
            .await?;
        let alias = AliasRecord { target_key_id: record.key_id.clone(), created: now };
        match self
            .store
            .write(vec![Op::put(alias_key(account, region, DEFAULT_SSM_ALIAS), encode(&alias)).if_absent()])
            .await
        {
            Ok(()) => Ok(record.key_id),
            // Another request created it first: use theirs (ours stays unused).
            Err(StoreError::Conflict { .. }) => {
                Ok(self.alias(account, region, DEFAULT_SSM_ALIAS).await?.ok_or_else(ApiError::internal)?.target_key_id)
            }
            Err(e) => Err(store_fault(e)),
        }
    }

    /// Refuses keys that may not be used for cryptography now.
    pub fn check_usable(record: &KeyRecord) -> Result<(), ApiError> {
        match record.state.as_str() {
            "Enabled" => Ok(()),
            "Disabled" => Err(kms_error("DisabledException", format!("{} is disabled.", record.arn))),
            _ => Err(kms_error("KMSInvalidStateException", format!("{} is pending deletion.", record.arn))),
        }
    }

    fn material(&self, record: &KeyRecord) -> Result<[u8; 32], ApiError> {
        if let Some(m) = self.materials.read().expect("materials lock").get(&record.key_id) {
            return Ok(*m);
        }
        let sealed = base64::engine::general_purpose::STANDARD.decode(&record.sealed_material).unwrap_or_default();
        let opened = crypto::open(&self.master_key, &material_aad(&record.arn), &sealed).filter(|m| m.len() == 32);
        let Some(bytes) = opened else {
            tracing::error!(key_id = record.key_id, "Key material does not unseal with this master key.");
            return Err(ApiError::internal());
        };
        let mut material = [0u8; 32];
        material.copy_from_slice(&bytes);
        self.materials.write().expect("materials lock").insert(record.key_id.clone(), material);
        Ok(material)
    }

    /// Envelope-encrypts `plaintext` under `record`, bound to `context`.
    pub fn encrypt(&self, record: &KeyRecord, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, ApiError> {
        Self::check_usable(record)?;
        let material = self.material(record)?;
        let data_key = crypto::random_key();
        let sealed_key = crypto::seal(&material, context, &data_key);
        let sealed_data = crypto::seal(&data_key, context, plaintext);
        let mut blob = Vec::with_capacity(3 + KEY_ID_LEN + sealed_key.len() + sealed_data.len());
        blob.extend_from_slice(BLOB_MAGIC);
        blob.extend_from_slice(record.key_id.as_bytes());
        blob.extend_from_slice(&sealed_key);
        blob.extend_from_slice(&sealed_data);
        Ok(blob)
    }

    /// The key id a ciphertext names, if it is one of ours.
    pub fn key_id_of(blob: &[u8]) -> Option<&str> {
        let rest = blob.strip_prefix(BLOB_MAGIC)?;
        let id = std::str::from_utf8(rest.get(..KEY_ID_LEN)?).ok()?;
        is_uuid(id).then_some(id)
    }

    /// Decrypts a ciphertext of this account and region, bound to `context`.
    pub async fn decrypt(
        &self,
        account: &str,
        region: &str,
        blob: &[u8],
        context: &[u8],
        now: i64,
    ) -> Result<(KeyRecord, Vec<u8>), ApiError> {
        let invalid = || kms_error("InvalidCiphertextException", "");
        let key_id = Self::key_id_of(blob).ok_or_else(invalid)?.to_owned();
        let record = self.load(account, region, &key_id, now).await?.ok_or_else(invalid)?;
        Self::check_usable(&record)?;
        let material = self.material(&record)?;
        let body = &blob[3 + KEY_ID_LEN..];
        if body.len() < SEALED_DATA_KEY_LEN {
            return Err(invalid());
        }
        let (sealed_key, sealed_data) = body.split_at(SEALED_DATA_KEY_LEN);
        let data_key = crypto::open(&material, context, sealed_key).filter(|k| k.len() == 32).ok_or_else(invalid)?;
        let mut dk = [0u8; 32];
        dk.copy_from_slice(&data_key);
        let plaintext = crypto::open(&dk, context, sealed_data).ok_or_else(invalid)?;
        Ok((record, plaintext))
    }
}

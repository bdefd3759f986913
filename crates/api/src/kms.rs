//! Typed shapes of the KMS-compatible key service (`X-Amz-Target: TrentService.*`).

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ssm::Tag;

/// Bytes carried as base64 text, as JSON 1.1 does for `blob` shapes.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Blob(pub Vec<u8>);

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Blobs are key material and plaintext: never print them.
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(text).map(Blob).map_err(serde::de::Error::custom)
    }
}

/// KMS tags use `TagKey`/`TagValue`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KmsTag {
    /// Key.
    pub tag_key: String,
    /// Value.
    pub tag_value: String,
}

impl From<KmsTag> for Tag {
    fn from(t: KmsTag) -> Tag {
        Tag { key: t.tag_key, value: t.tag_value }
    }
}

/// CreateKey input.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateKeyRequest {
    /// Description.
    pub description: Option<String>,
    /// Only ENCRYPT_DECRYPT is supported.
    pub key_usage: Option<String>,
    /// Only SYMMETRIC_DEFAULT is supported.
    pub key_spec: Option<String>,
    /// Deprecated spelling of KeySpec.
    pub customer_master_key_spec: Option<String>,
    /// Tags.
    pub tags: Option<Vec<KmsTag>>,
}

/// A request naming one key (id, ARN, alias name or alias ARN).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyIdRequest {
    /// The key.
    pub key_id: String,
}

/// ScheduleKeyDeletion input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleKeyDeletionRequest {
    /// The key.
    pub key_id: String,
    /// 7–30 days, default 30.
    pub pending_window_in_days: Option<i64>,
}

/// ScheduleKeyDeletion output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleKeyDeletionResponse {
    /// Key ARN.
    pub key_id: String,
    /// Epoch seconds.
    pub deletion_date: f64,
    /// PendingDeletion.
    pub key_state: String,
    /// The window.
    pub pending_window_in_days: i64,
}

/// A key's metadata.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata {
    /// Owning account.
    #[serde(rename = "AWSAccountId")]
    pub aws_account_id: String,
    /// Key id (UUID).
    pub key_id: String,
    /// Key ARN.
    pub arn: String,
    /// Epoch seconds.
    pub creation_date: f64,
    /// Whether usable.
    pub enabled: bool,
    /// Description.
    pub description: String,
    /// ENCRYPT_DECRYPT.
    pub key_usage: String,
    /// Enabled, Disabled, PendingDeletion.
    pub key_state: String,
    /// When deletion happens, if scheduled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<f64>,
    /// AWS_KMS.
    pub origin: String,
    /// AWS or CUSTOMER.
    pub key_manager: String,
    /// SYMMETRIC_DEFAULT.
    pub customer_master_key_spec: String,
    /// SYMMETRIC_DEFAULT.
    pub key_spec: String,
    /// SYMMETRIC_DEFAULT.
    pub encryption_algorithms: Vec<String>,
    /// Always false.
    pub multi_region: bool,
}

/// CreateKey / DescribeKey output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadataResponse {
    /// The key.
    pub key_metadata: KeyMetadata,
}

/// ListKeys / ListAliases paging input.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRequest {
    /// Page size 1–1000, default 100.
    pub limit: Option<i64>,
    /// Continuation.
    pub marker: Option<String>,
    /// ListAliases only: aliases of this key.
    pub key_id: Option<String>,
}

/// ListKeys item.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyListEntry {
    /// Key id.
    pub key_id: String,
    /// Key ARN.
    pub key_arn: String,
}

/// ListKeys output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeysResponse {
    /// Keys.
    pub keys: Vec<KeyListEntry>,
    /// Whether more remain.
    pub truncated: bool,
    /// Continuation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// CreateAlias / UpdateAlias input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAliasRequest {
    /// `alias/NAME`.
    pub alias_name: String,
    /// The key.
    pub target_key_id: String,
}

/// DeleteAlias input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteAliasRequest {
    /// `alias/NAME`.
    pub alias_name: String,
}

/// ListAliases item.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasListEntry {
    /// `alias/NAME`.
    pub alias_name: String,
    /// Alias ARN.
    pub alias_arn: String,
    /// Key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_key_id: Option<String>,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<f64>,
}

/// ListAliases output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesResponse {
    /// Aliases.
    pub aliases: Vec<AliasListEntry>,
    /// Whether more remain.
    pub truncated: bool,
    /// Continuation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// Encrypt input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptRequest {
    /// The key.
    pub key_id: String,
    /// Up to 4096 bytes.
    pub plaintext: Blob,
    /// Additional authenticated data.
    pub encryption_context: Option<BTreeMap<String, String>>,
}

/// Encrypt output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptResponse {
    /// The ciphertext.
    pub ciphertext_blob: Blob,
    /// Key ARN.
    pub key_id: String,
    /// SYMMETRIC_DEFAULT.
    pub encryption_algorithm: String,
}

/// Decrypt input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptRequest {
    /// The ciphertext.
    pub ciphertext_blob: Blob,
    /// Optional: must name the key the ciphertext was made with.
    pub key_id: Option<String>,
    /// Must equal the context given at encryption.
    pub encryption_context: Option<BTreeMap<String, String>>,
}

/// Decrypt output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptResponse {
    /// Key ARN.
    pub key_id: String,
    /// The plaintext.
    pub plaintext: Blob,
    /// SYMMETRIC_DEFAULT.
    pub encryption_algorithm: String,
}

/// GenerateDataKey input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyRequest {
    /// The key.
    pub key_id: String,
    /// AES_256 or AES_128.
    pub key_spec: Option<String>,
    /// 1–1024.
    pub number_of_bytes: Option<i64>,
    /// Additional authenticated data.
    pub encryption_context: Option<BTreeMap<String, String>>,
}

/// GenerateDataKey output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyResponse {
    /// The wrapped data key.
    pub ciphertext_blob: Blob,
    /// The data key.
    pub plaintext: Blob,
    /// Key ARN.
    pub key_id: String,
}

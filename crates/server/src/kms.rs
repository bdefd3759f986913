//! The KMS-compatible operations (`TrentService.*`).

use std::collections::BTreeMap;

use steward_api::kms::*;
use steward_api::ApiError;
use steward_store::{prefix_end, Op, Start, StoreError};

use crate::base::kms::{
    alias_key, aliases_prefix, is_uuid, keys_prefix, kms_error, AliasRecord, KeyRecord, Keyring, DEFAULT_SSM_ALIAS,
};
use crate::base::schedule;
use crate::base::Ctx;
use crate::base::{decode, encode, store_fault};

const MAX_PLAINTEXT: usize = 4096;

/// The canonical bytes of an encryption context (sorted keys), bound into ciphertexts.
pub fn context_bytes(context: &Option<BTreeMap<String, String>>) -> Vec<u8> {
    match context {
        Some(map) if !map.is_empty() => serde_json::to_vec(map).expect("a string map serialises"),
        _ => Vec::new(),
    }
}

fn metadata(record: &KeyRecord) -> KeyMetadata {
    KeyMetadata {
        aws_account_id: record.account.clone(),
        key_id: record.key_id.clone(),
        arn: record.arn.clone(),
        creation_date: record.created as f64 / 1000.0,
        enabled: record.state == "Enabled",
        description: record.description.clone(),
        key_usage: "ENCRYPT_DECRYPT".into(),
        key_state: record.state.clone(),
        deletion_date: record.deletion_date.map(|d| d as f64 / 1000.0),
        origin: "AWS_KMS".into(),
        key_manager: record.manager.clone(),
        customer_master_key_spec: "SYMMETRIC_DEFAULT".into(),
        key_spec: "SYMMETRIC_DEFAULT".into(),
        encryption_algorithms: vec!["SYMMETRIC_DEFAULT".into()],
        multi_region: false,
    }
}

async fn resolve(ctx: &Ctx, reference: &str) -> Result<KeyRecord, ApiError> {
    let p = &ctx.principal;
    ctx.env.kms.resolve(&p.account, &p.region, reference, ctx.env.now()).await
}

/// CreateKey.
pub async fn create_key(ctx: Ctx, req: CreateKeyRequest) -> Result<KeyMetadataResponse, ApiError> {
    if req.key_usage.as_deref().is_some_and(|u| u != "ENCRYPT_DECRYPT") {
        return Err(ApiError::validation("Steward supports only KeyUsage ENCRYPT_DECRYPT."));
    }
    let spec = req.key_spec.as_deref().or(req.customer_master_key_spec.as_deref());
    if spec.is_some_and(|s| s != "SYMMETRIC_DEFAULT") {
        return Err(ApiError::validation("Steward supports only KeySpec SYMMETRIC_DEFAULT."));
    }
    for tag in req.tags.iter().flatten() {
        if tag.tag_key.starts_with("aws:") {
            return Err(kms_error("TagException", "Tags beginning with aws: are reserved"));
        }
    }
    let p = &ctx.principal;
    let record = ctx
        .env
        .kms
        .create_key(&p.account, &p.region, req.description.as_deref().unwrap_or(""), "CUSTOMER", ctx.env.now())
        .await?;
    Ok(KeyMetadataResponse { key_metadata: metadata(&record) })
}

/// DescribeKey.
pub async fn describe_key(ctx: Ctx, req: KeyIdRequest) -> Result<KeyMetadataResponse, ApiError> {
    Ok(KeyMetadataResponse { key_metadata: metadata(&resolve(&ctx, &req.key_id).await?) })
}

/// A key the caller may change: not one AWS manages.
async fn changeable(ctx: &Ctx, reference: &str) -> Result<KeyRecord, ApiError> {
    let record = resolve(ctx, reference).await?;
    if record.manager == "AWS" {
        return Err(kms_error(
            "NotAuthorizedException",
            format!("{} is an AWS managed key and cannot be changed.", record.arn),
        ));
    }
    Ok(record)
}

async fn set_state(
    ctx: &Ctx,
    reference: &str,
    change: impl FnOnce(&mut KeyRecord) -> Result<(), ApiError>,
) -> Result<KeyRecord, ApiError> {
    let mut record = changeable(ctx, reference).await?;
    change(&mut record)?;
    ctx.env.kms.save(&ctx.principal.region, &record).await?;
    Ok(record)
}

fn not_pending(record: &KeyRecord) -> Result<(), ApiError> {
    if record.state == "PendingDeletion" {
        return Err(kms_error("KMSInvalidStateException", format!("{} is pending deletion.", record.arn)));
    }
    Ok(())
}

/// EnableKey.
pub async fn enable_key(ctx: Ctx, req: KeyIdRequest) -> Result<steward_api::ssm::Empty, ApiError> {
    set_state(&ctx, &req.key_id, |r| {
        not_pending(r)?;
        r.state = "Enabled".into();
        Ok(())
    })
    .await?;
    Ok(Default::default())
}

/// DisableKey.
pub async fn disable_key(ctx: Ctx, req: KeyIdRequest) -> Result<steward_api::ssm::Empty, ApiError> {
    set_state(&ctx, &req.key_id, |r| {
        not_pending(r)?;
        r.state = "Disabled".into();
        Ok(())
    })
    .await?;
    Ok(Default::default())
}

/// A key's deletion date; must match the key's `deletion_date`.
pub const KIND_KEY_DELETION: &str = "kmsdelete";

/// Erases the key a due entry names, if it is still pending deletion at that date.
pub async fn on_due(env: &crate::base::Env, due: &schedule::Due) -> anyhow::Result<bool> {
    let erased = env.kms.erase(&due.account, &due.region, &due.id, due.at, schedule::claim(due)).await?;
    if erased {
        tracing::info!(key_id = due.id, account = due.account, "KMS key deleted: its material is erased.");
    }
    Ok(erased)
}

/// ScheduleKeyDeletion. The key is unusable at once and erased at the deletion date.
pub async fn schedule_key_deletion(
    ctx: Ctx,
    req: ScheduleKeyDeletionRequest,
) -> Result<ScheduleKeyDeletionResponse, ApiError> {
    let days = req.pending_window_in_days.unwrap_or(30);
    if !(7..=30).contains(&days) {
        return Err(ApiError::validation(format!("PendingWindowInDays should be between 7 and 30, but it is {days}")));
    }
    let deletion = ctx.env.now() + days * 86_400_000;
    let mut record = changeable(&ctx, &req.key_id).await?;
    not_pending(&record)?;
    record.state = "PendingDeletion".into();
    record.deletion_date = Some(deletion);
    // At the deletion date the scheduler erases it (`on_due`).
    let p = &ctx.principal;
    let due =
        Op::put(schedule::due_key(deletion, KIND_KEY_DELETION, &p.account, &p.region, &record.key_id), b"{}".to_vec());
    ctx.env.kms.save_with(&p.region, &record, vec![due]).await?;
    Ok(ScheduleKeyDeletionResponse {
        key_id: record.arn,
        deletion_date: deletion as f64 / 1000.0,
        key_state: "PendingDeletion".into(),
        pending_window_in_days: days,
    })
}

/// CancelKeyDeletion: the key returns Disabled, as in KMS.
pub async fn cancel_key_deletion(ctx: Ctx, req: KeyIdRequest) -> Result<serde_json::Value, ApiError> {
    let record = set_state(&ctx, &req.key_id, |r| {
        if r.state != "PendingDeletion" {
            return Err(kms_error("KMSInvalidStateException", format!("{} is not pending deletion.", r.arn)));
        }
        r.state = "Disabled".into();
        r.deletion_date = None;
        Ok(())
    })
    .await?;
    Ok(serde_json::json!({ "KeyId": record.arn }))
}

fn page_limit(limit: Option<i64>) -> Result<usize, ApiError> {
    Ok(limit.unwrap_or(100).clamp(1, 1000) as usize)
}

/// ListKeys.
pub async fn list_keys(ctx: Ctx, req: ListRequest) -> Result<ListKeysResponse, ApiError> {
    let p = &ctx.principal;
    let prefix = keys_prefix(&p.account, &p.region);
    let limit = page_limit(req.limit)?;
    let after = match &req.marker {
        Some(m) if is_uuid(m) => format!("{prefix}{m}"),
        Some(_) => return Err(kms_error("InvalidMarkerException", "The marker is not valid.")),
        None => String::new(),
    };
    let start = if after.is_empty() { Start::At(&prefix) } else { Start::After(&after) };
    let items = ctx.env.store.range(start, &prefix_end(&prefix), limit + 1).await.map_err(store_fault)?;
    let truncated = items.len() > limit;
    let mut keys = Vec::new();
    for item in items.iter().take(limit) {
        let record: KeyRecord = decode(&item.key, &item.value)?;
        keys.push(KeyListEntry { key_id: record.key_id, key_arn: record.arn });
    }
    let next_marker = truncated.then(|| keys.last().map(|k| k.key_id.clone())).flatten();
    Ok(ListKeysResponse { keys, truncated, next_marker })
}

fn check_alias_name(name: &str) -> Result<(), ApiError> {
    if !name.starts_with("alias/") {
        return Err(ApiError::validation(
            "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
        ));
    }
    if name.starts_with("alias/aws/") {
        return Err(kms_error(
            "NotAuthorizedException",
            "The alias prefix alias/aws/ is reserved for AWS managed keys.",
        ));
    }
    if name.len() <= "alias/".len() || name.contains(':') {
        return Err(ApiError::validation(format!("{name} contains invalid characters for an alias")));
    }
    Ok(())
}

/// CreateAlias.
pub async fn create_alias(ctx: Ctx, req: CreateAliasRequest) -> Result<steward_api::ssm::Empty, ApiError> {
    check_alias_name(&req.alias_name)?;
    if req.target_key_id.starts_with("alias/") || req.target_key_id.contains(":alias/") {
        return Err(ApiError::validation("TargetKeyId must be a key id or key ARN, not an alias."));
    }
    let record = resolve(&ctx, &req.target_key_id).await?;
    not_pending(&record)?;
    let p = &ctx.principal;
    let alias = AliasRecord { target_key_id: record.key_id, created: ctx.env.now() };
    match ctx
        .env
        .store
        .write(vec![Op::put(alias_key(&p.account, &p.region, &req.alias_name), encode(&alias)).if_absent()])
        .await
    {
        Ok(()) => Ok(Default::default()),
        Err(StoreError::Conflict { .. }) => Err(kms_error(
            "AlreadyExistsException",
            format!("An alias with the name arn:aws:kms:{}:{}:{} already exists", p.region, p.account, req.alias_name),
        )),
        Err(e) => Err(store_fault(e)),
    }
}

/// DeleteAlias.
pub async fn delete_alias(ctx: Ctx, req: DeleteAliasRequest) -> Result<steward_api::ssm::Empty, ApiError> {
    check_alias_name(&req.alias_name)?;
    let p = &ctx.principal;
    let key = alias_key(&p.account, &p.region, &req.alias_name);
    match ctx.env.store.write(vec![Op::delete(key).expecting(steward_store::Expect::Present)]).await {
        Ok(()) => Ok(Default::default()),
        Err(StoreError::Conflict { .. }) => Err(kms_error(
            "NotFoundException",
            format!("Alias arn:aws:kms:{}:{}:{} is not found.", p.region, p.account, req.alias_name),
        )),
        Err(e) => Err(store_fault(e)),
    }
}

/// ListAliases.
pub async fn list_aliases(ctx: Ctx, req: ListRequest) -> Result<ListAliasesResponse, ApiError> {
    let p = &ctx.principal;
    let prefix = aliases_prefix(&p.account, &p.region);
    let limit = page_limit(req.limit)?;
    let filter_key = match &req.key_id {
        Some(k) => Some(resolve(&ctx, k).await?.key_id),
        None => None,
    };
    if req.marker.as_ref().is_some_and(|m| !m.starts_with("alias/")) {
        return Err(kms_error("InvalidMarkerException", "The marker is not valid."));
    }
    let after = req.marker.as_ref().map(|m| format!("{prefix}{m}"));
    let start = after.as_deref().map(Start::After).unwrap_or(Start::At(&prefix));
    let items = ctx.env.store.range(start, &prefix_end(&prefix), 10_000).await.map_err(store_fault)?;
    let mut aliases = Vec::new();
    let mut truncated = false;
    let mut has_default = false;
    for item in &items {
        let name = item.key[prefix.len()..].to_owned();
        has_default |= name == DEFAULT_SSM_ALIAS;
        let record: AliasRecord = decode(&item.key, &item.value)?;
        if filter_key.as_ref().is_some_and(|k| *k != record.target_key_id) {
            continue;
        }
        if aliases.len() == limit {
            truncated = true;
            break;
        }
        aliases.push(AliasListEntry {
            alias_arn: format!("arn:aws:kms:{}:{}:{}", p.region, p.account, name),
            alias_name: name,
            target_key_id: Some(record.target_key_id),
            creation_date: Some(record.created as f64 / 1000.0),
        });
    }
    // Like KMS, the AWS managed alias is listed even before its key exists.
    if !has_default && filter_key.is_none() && req.marker.is_none() && aliases.len() < limit {
        aliases.push(AliasListEntry {
            alias_arn: format!("arn:aws:kms:{}:{}:{}", p.region, p.account, DEFAULT_SSM_ALIAS),
            alias_name: DEFAULT_SSM_ALIAS.into(),
            target_key_id: None,
            creation_date: None,
        });
    }
    let next_marker = truncated.then(|| aliases.last().map(|a| a.alias_name.clone())).flatten();
    Ok(ListAliasesResponse { aliases, truncated, next_marker })
}

/// Encrypt.
pub async fn encrypt(ctx: Ctx, req: EncryptRequest) -> Result<EncryptResponse, ApiError> {
    if req.plaintext.0.is_empty() || req.plaintext.0.len() > MAX_PLAINTEXT {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to {MAX_PLAINTEXT}"
        )));
    }
    let record = resolve(&ctx, &req.key_id).await?;
    let blob = ctx.env.kms.encrypt(&record, &req.plaintext.0, &context_bytes(&req.encryption_context))?;
    Ok(EncryptResponse {
        ciphertext_blob: Blob(blob),
        key_id: record.arn,
        encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
    })
}

/// Decrypt.
pub async fn decrypt(ctx: Ctx, req: DecryptRequest) -> Result<DecryptResponse, ApiError> {
    let p = &ctx.principal;
    if let Some(wanted) = &req.key_id {
        let record = resolve(&ctx, wanted).await?;
        if Keyring::key_id_of(&req.ciphertext_blob.0) != Some(record.key_id.as_str()) {
            return Err(kms_error(
                "IncorrectKeyException",
                "The key ID in the request does not identify a CMK that can perform this operation.",
            ));
        }
    }
    let (record, plaintext) = ctx
        .env
        .kms
        .decrypt(&p.account, &p.region, &req.ciphertext_blob.0, &context_bytes(&req.encryption_context), ctx.env.now())
        .await?;
    Ok(DecryptResponse {
        key_id: record.arn,
        plaintext: Blob(plaintext),
        encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
    })
}

/// GenerateDataKey.
pub async fn generate_data_key(ctx: Ctx, req: GenerateDataKeyRequest) -> Result<GenerateDataKeyResponse, ApiError> {
    let length = match (req.key_spec.as_deref(), req.number_of_bytes) {
        (Some(_), Some(_)) => return Err(ApiError::validation("Please specify either number of bytes or key spec.")),
        (Some("AES_256"), None) => 32,
        (Some("AES_128"), None) => 16,
        (None, Some(n)) => n as usize,
        (None, None) => return Err(ApiError::validation("Please specify either number of bytes or key spec.")),
        (Some(other), None) => return Err(ApiError::validation(format!("KeySpec {other} is not valid."))),
    };
    let record = resolve(&ctx, &req.key_id).await?;
    let mut plaintext = vec![0u8; length];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut plaintext);
    let blob = ctx.env.kms.encrypt(&record, &plaintext, &context_bytes(&req.encryption_context))?;
    Ok(GenerateDataKeyResponse { ciphertext_blob: Blob(blob), plaintext: Blob(plaintext), key_id: record.arn })
}

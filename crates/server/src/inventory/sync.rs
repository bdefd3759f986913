//! Resource data sync (SyncToDestination): each node's inventory, one JSON-lines file per
//! type, written into a bucket of the blob store in SSM's S3 layout
//! (`PREFIX/TYPE/accountid=A/region=R/resourcetype=ManagedInstanceInventory/NODE.json`),
//! so tools that read SSM's exports (Athena tables, Glue crawlers, scripts) read these.
//!
//! Kept current without slowing PutInventory: a change that lands while the account has
//! syncs also writes a pending mark (`invpending/<acct>/<region>/<node>`) in the same
//! batch; [`export_pending`] (a worker, each second) writes the node's files for every
//! sync and removes the mark only if no newer change re-marked it. A new sync marks every
//! node with inventory, which is its first full export. Files of deleted types are
//! removed; a deregistered node's files stay, as SSM keeps them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use steward_api::ssm::inventory::*;
use steward_api::ssm::Empty;
use steward_api::ApiError;
use steward_store::{prefix_end, Op, Start, Store};

use super::records::{self, ItemRecord, NodeTypes};
use crate::base::{decode, encode, store_fault, Ctx, Env};

/// Syncs an account may have in a region, as SSM allows.
pub const MAX_SYNCS: usize = 5;
const TO_DESTINATION: &str = "SyncToDestination";
const FROM_SOURCE: &str = "SyncFromSource";
const PENDING_PREFIX: &str = "invpending/";
/// Nodes exported per worker pass.
pub const EXPORT_PASS: usize = 200;

/// A sync as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncRecord {
    /// The name.
    pub name: String,
    /// Where it writes.
    pub destination: ResourceDataSyncS3Destination,
    /// Epoch ms.
    pub created: i64,
    /// Epoch ms of the last export pass.
    pub last_sync: Option<i64>,
    /// Epoch ms of the last pass that wrote everything it had to.
    pub last_success: Option<i64>,
    /// Successful, Failed or InProgress.
    pub status: String,
    /// Why, for people.
    pub message: Option<String>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new("ResourceDataSyncInvalidConfigurationException", message)
}

fn not_found(name: &str) -> ApiError {
    ApiError::new("ResourceDataSyncNotFoundException", format!("The specified sync name {name} wasn't found."))
}

fn pending_key(account: &str, region: &str, node: &str) -> String {
    format!("{PENDING_PREFIX}{account}/{region}/{node}")
}

/// The syncs of an account and region, by name.
async fn syncs(store: &dyn Store, account: &str, region: &str) -> Result<Vec<(SyncRecord, i64)>, ApiError> {
    let prefix = records::sync_prefix(&records::root(account, region));
    let items = store.range(Start::At(&prefix), &prefix_end(&prefix), MAX_SYNCS * 2).await.map_err(store_fault)?;
    items.iter().map(|i| Ok((decode(&i.key, &i.value)?, i.revision))).collect()
}

/// The mark PutInventory and DeleteInventory add to their batch when a node's inventory
/// changed while the account has syncs (none otherwise: one small range read).
pub async fn pending_mark(store: &dyn Store, account: &str, region: &str, node: &str) -> Result<Option<Op>, ApiError> {
    let prefix = records::sync_prefix(&records::root(account, region));
    let any = store.range(Start::At(&prefix), &prefix_end(&prefix), 1).await.map_err(store_fault)?;
    Ok((!any.is_empty()).then(|| Op::put(pending_key(account, region, node), Vec::new())))
}

/// Bucket names the server keeps its own blobs in are not a sync's to write.
fn check_destination(d: &ResourceDataSyncS3Destination) -> Result<(), ApiError> {
    crate::base::check_user_bucket(&d.bucket_name).map_err(invalid)?;
    if let Some(prefix) = &d.prefix {
        let parts_ok = prefix.split('/').filter(|p| !p.is_empty()).all(|p| p != "." && p != "..");
        let chars_ok = prefix.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=".contains(c));
        if !parts_ok || !chars_ok || prefix.trim_matches('/').is_empty() {
            return Err(invalid(format!(
                "The prefix {prefix:?} is not valid: use letters, digits and - _ . / : = without . or .. parts."
            )));
        }
    }
    if d.aws_kms_key_arn.is_some() {
        return Err(invalid("AWSKMSKeyARN is not supported: the files are written unencrypted to the blob store."));
    }
    if d.destination_data_sharing.as_ref().is_some_and(|v| !v.is_null()) {
        return Err(invalid("DestinationDataSharing needs AWS Organizations, which Steward does not have."));
    }
    Ok(())
}

/// CreateResourceDataSync.
pub async fn create_resource_data_sync(ctx: Ctx, req: CreateResourceDataSyncRequest) -> Result<Empty, ApiError> {
    match req.sync_type.as_deref().unwrap_or(TO_DESTINATION) {
        TO_DESTINATION => {}
        FROM_SOURCE => {
            return Err(invalid(
                "SyncFromSource gathers from other accounts and regions through AWS Organizations, which Steward does not have.",
            ))
        }
        other => return Err(invalid(format!("The sync type {other} is not valid; use SyncToDestination."))),
    }
    if req.sync_source.as_ref().is_some_and(|v| !v.is_null()) {
        return Err(invalid("SyncSource belongs to SyncFromSource syncs."));
    }
    let Some(destination) = req.s3_destination else {
        return Err(invalid("A SyncToDestination sync needs an S3Destination."));
    };
    check_destination(&destination)?;
    let p = &ctx.principal;
    let store = ctx.env.store.as_ref();
    let existing = syncs(store, &p.account, &p.region).await?;
    if existing.iter().any(|(s, _)| s.name == req.sync_name) {
        return Err(ApiError::new(
            "ResourceDataSyncAlreadyExistsException",
            format!("A sync configuration named {} already exists.", req.sync_name),
        ));
    }
    if existing.len() >= MAX_SYNCS {
        return Err(ApiError::new(
            "ResourceDataSyncCountExceededException",
            format!("An account may have {MAX_SYNCS} resource data syncs in a region."),
        ));
    }
    let root = records::root(&p.account, &p.region);
    // The first full export: every node with inventory is pending.
    let nodes_prefix = records::nodes_prefix(&root);
    let nodes =
        store.range(Start::At(&nodes_prefix), &prefix_end(&nodes_prefix), 10_000_000).await.map_err(store_fault)?;
    let marks: Vec<Op> = nodes
        .iter()
        .map(|n| Op::put(pending_key(&p.account, &p.region, &n.key[nodes_prefix.len()..]), Vec::new()))
        .collect();
    let now = ctx.now();
    let nothing_to_do = marks.is_empty();
    let record = SyncRecord {
        name: req.sync_name.clone(),
        destination,
        created: now,
        last_sync: nothing_to_do.then_some(now),
        last_success: nothing_to_do.then_some(now),
        status: if nothing_to_do { "Successful" } else { "InProgress" }.into(),
        message: None,
    };
    let commit = vec![Op::put(records::sync_key(&root, &req.sync_name), encode(&record)).if_absent()];
    match crate::base::write_staged(store, marks, commit).await {
        Err(steward_store::StoreError::Conflict { .. }) => Err(ApiError::new(
            "ResourceDataSyncAlreadyExistsException",
            format!("A sync configuration named {} already exists.", req.sync_name),
        )),
        other => other.map_err(store_fault).map(|_| Empty {}),
    }
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// ListResourceDataSync.
pub async fn list_resource_data_sync(
    ctx: Ctx,
    req: ListResourceDataSyncRequest,
) -> Result<ListResourceDataSyncResponse, ApiError> {
    let p = &ctx.principal;
    let wanted = req.sync_type.as_deref().unwrap_or(TO_DESTINATION);
    let all =
        if wanted == TO_DESTINATION { syncs(ctx.env.store.as_ref(), &p.account, &p.region).await? } else { vec![] };
    let items: Vec<ResourceDataSyncItem> = all
        .into_iter()
        .map(|(s, _)| ResourceDataSyncItem {
            sync_name: s.name,
            sync_type: TO_DESTINATION.into(),
            s3_destination: s.destination,
            last_sync_time: s.last_sync.map(secs),
            last_successful_sync_time: s.last_success.map(secs),
            sync_last_modified_time: secs(s.created),
            last_status: s.status,
            sync_created_time: secs(s.created),
            last_sync_status_message: s.message,
        })
        .collect();
    let (page, next_token) = crate::base::paging::page(items, req.max_results, &req.next_token)?;
    Ok(ListResourceDataSyncResponse { resource_data_sync_items: page, next_token })
}

/// DeleteResourceDataSync: the sync only; the files it wrote stay.
pub async fn delete_resource_data_sync(ctx: Ctx, req: DeleteResourceDataSyncRequest) -> Result<Empty, ApiError> {
    let p = &ctx.principal;
    if req.sync_type.as_deref().is_some_and(|t| t != TO_DESTINATION) {
        return Err(not_found(&req.sync_name));
    }
    let found = syncs(ctx.env.store.as_ref(), &p.account, &p.region).await?;
    let Some((s, revision)) = found.into_iter().find(|(s, _)| s.name == req.sync_name) else {
        return Err(not_found(&req.sync_name));
    };
    let key = records::sync_key(&records::root(&p.account, &p.region), &s.name);
    ctx.env.store.write(vec![Op::delete(key).if_revision(revision)]).await.map_err(store_fault)?;
    Ok(Empty {})
}

/// UpdateResourceDataSync: SSM changes only SyncFromSource syncs, and there are none here.
pub async fn update_resource_data_sync(ctx: Ctx, req: UpdateResourceDataSyncRequest) -> Result<Empty, ApiError> {
    let p = &ctx.principal;
    let found = syncs(ctx.env.store.as_ref(), &p.account, &p.region).await?;
    if !found.iter().any(|(s, _)| s.name == req.sync_name) {
        return Err(not_found(&req.sync_name));
    }
    Err(invalid("Only SyncFromSource syncs can be updated; delete this sync and create it again to change it."))
}

/// The blob key of a node's file of one type.
fn object_key(d: &ResourceDataSyncS3Destination, type_name: &str, account: &str, region: &str, node: &str) -> String {
    let path =
        format!("{type_name}/accountid={account}/region={region}/resourcetype=ManagedInstanceInventory/{node}.json");
    match d.prefix.as_deref().map(|p| p.trim_matches('/')).filter(|p| !p.is_empty()) {
        Some(prefix) => format!("{prefix}/{path}"),
        None => path,
    }
}

/// A type's entries as JSON lines, each with the node, capture time and schema version.
fn json_lines(node: &str, item: &ItemRecord) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in &item.content {
        let mut line: BTreeMap<&str, &str> = entry.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        line.insert("resourceId", node);
        line.insert("captureTime", &item.capture_time);
        line.insert("schemaVersion", &item.schema_version);
        out.extend(serde_json::to_vec(&line).expect("strings serialise"));
        out.push(b'\n');
    }
    out
}

/// Writes one node's files to every sync of its account; returns whether every write
/// succeeded (a failure leaves the node pending for the next pass).
async fn export_node(
    env: &Env,
    account: &str,
    region: &str,
    node: &str,
    to: &[(SyncRecord, i64)],
) -> anyhow::Result<bool> {
    let root = records::root(account, region);
    let node_key = records::node_key(&root, node);
    let types: NodeTypes = match env.store.get(&node_key).await? {
        Some(i) => decode(&node_key, &i.value)?,
        None => NodeTypes::default(),
    };
    let exported_key = records::exported_key(&root, node);
    let before: Vec<String> = match env.store.get(&exported_key).await? {
        Some(i) => decode(&exported_key, &i.value)?,
        None => Vec::new(),
    };
    let mut ok = true;
    for type_name in types.types.keys() {
        let item_key = records::item_key(&root, node, type_name);
        let Some(found) = env.store.get(&item_key).await? else { continue };
        let item: ItemRecord = decode(&item_key, &found.value)?;
        let body = json_lines(node, &item);
        for (sync, _) in to {
            let key = object_key(&sync.destination, type_name, account, region, node);
            if let Err(e) = env.blobs.put(&sync.destination.bucket_name, &key, body.clone()).await {
                tracing::warn!(error = %e, sync = sync.name, node, "Could not write a resource data sync file.");
                ok = false;
            }
        }
    }
    for gone in before.iter().filter(|t| !types.types.contains_key(*t)) {
        for (sync, _) in to {
            let key = object_key(&sync.destination, gone, account, region, node);
            ok &= env.blobs.delete(&sync.destination.bucket_name, &key).await.is_ok();
        }
    }
    let now: Vec<&String> = types.types.keys().collect();
    env.store.write(vec![Op::put(exported_key, encode(&now))]).await?;
    Ok(ok)
}

/// One pass of the exporter: writes the pending nodes' files and records each sync's
/// outcome. Returns how many nodes it exported.
pub async fn export_pending(env: &Arc<Env>) -> anyhow::Result<usize> {
    let marks = env.store.range(Start::At(PENDING_PREFIX), &prefix_end(PENDING_PREFIX), EXPORT_PASS).await?;
    let mut by_scope: HashMap<(String, String), Vec<(String, i64)>> = HashMap::new();
    for m in &marks {
        let parts: Vec<&str> = m.key[PENDING_PREFIX.len()..].splitn(3, '/').collect();
        if let [account, region, node] = parts.as_slice() {
            by_scope.entry((account.to_string(), region.to_string())).or_default().push((node.to_string(), m.revision));
        }
    }
    let mut exported = 0;
    for ((account, region), nodes) in by_scope {
        let to = syncs(env.store.as_ref(), &account, &region).await?;
        let mut all_ok = true;
        for (node, revision) in nodes {
            let ok = to.is_empty() || export_node(env, &account, &region, &node, &to).await?;
            all_ok &= ok;
            if ok {
                // A change since the mark was read re-marked it: that one stays pending.
                let done = Op::delete(pending_key(&account, &region, &node)).if_revision(revision);
                let _ = env.store.write(vec![done]).await;
                exported += 1;
            }
        }
        let now = env.now();
        for (mut sync, revision) in to {
            sync.last_sync = Some(now);
            if all_ok {
                sync.last_success = Some(now);
                sync.status = "Successful".into();
                sync.message = Some("The sync was successfully completed".into());
            } else {
                sync.status = "Failed".into();
                sync.message = Some("Some files could not be written to the blob store; they are retried.".into());
            }
            let key = records::sync_key(&records::root(&account, &region), &sync.name);
            // A sync deleted meanwhile stays deleted.
            let _ = env.store.write(vec![Op::put(key, encode(&sync)).if_revision(revision)]).await;
        }
    }
    Ok(exported)
}

//! Managed nodes: activations, registration, node records (DescribeInstanceInformation,
//! tags, pings), and which nodes targets name. The agents' control channel itself is
//! `app::agent`; the channels open on this server are `base::agents`.
//!
//! Records: activations at `activation/<account>/<region>/<id>` (the code only as a hash)
//! with an index `activationidx/<id>`; nodes at `node/<account>/<region>/<mi-id>` with an
//! index `nodeidx/<mi-id>` that the gateway uses to find a connecting agent's account.
//! A deregistered node's records are deleted, so its identity can never connect again.

mod activations;
mod nodes;
mod registration;
mod releases;
mod targets;

pub use activations::{create_activation, delete_activation, describe_activations};
pub use nodes::{
    all_nodes, describe_instance_information, load_node, locate, ping_status, readable_nodes, touch,
    update_managed_instance_role,
};
pub use registration::{parse_public_key, register};
pub use releases::{
    all as all_releases, blob_key as release_blob_key, find as find_releases, publish as publish_release, Release,
    BUCKET as RELEASE_BUCKET,
};
pub use targets::{check_target_keys, invalid_instance, node_matches, target_nodes};

use serde::{Deserialize, Serialize};
use steward_api::ApiError;
use steward_protocol::Platform;
use steward_store::{Op, StoreError};

use crate::base::{encode, store_fault, Ctx, Env};

/// A stored activation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActivationRecord {
    /// UUID.
    pub id: String,
    /// SHA-256 of the code, hex.
    pub code_hash: String,
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Description.
    pub description: Option<String>,
    /// Name given to nodes.
    pub default_instance_name: Option<String>,
    /// Role nodes act as.
    pub iam_role: String,
    /// Most registrations.
    pub limit: i64,
    /// Registrations so far.
    pub count: i64,
    /// Epoch ms.
    pub expires: i64,
    /// Epoch ms.
    pub created: i64,
    /// Tags, also given to nodes.
    pub tags: Vec<(String, String)>,
}

/// Where an id lives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Locator {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
}

/// A stored managed node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeRecord {
    /// `mi-…`.
    pub instance_id: String,
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Ed25519 public key, hex.
    pub public_key: String,
    /// The activation it registered with.
    pub activation_id: String,
    /// Role.
    pub iam_role: String,
    /// Name.
    pub name: String,
    /// Epoch ms.
    pub registered: i64,
    /// What it reported last.
    pub platform: Platform,
    /// Epoch ms of the last heartbeat or connection change.
    pub last_ping: i64,
    /// Whether a control channel is open (as far as the store knows).
    pub connected: bool,
    /// The advertised URL of the server holding that channel.
    #[serde(default)]
    pub connected_via: String,
    /// Tags.
    pub tags: Vec<(String, String)>,
}

/// Store key of an activation.
pub fn activation_key(account: &str, region: &str, id: &str) -> String {
    format!("activation/{account}/{region}/{id}")
}

/// Store key of an activation's locator.
pub fn activation_index(id: &str) -> String {
    format!("activationidx/{id}")
}

/// Store key of a node.
pub fn node_key(account: &str, region: &str, id: &str) -> String {
    format!("node/{account}/{region}/{id}")
}

/// Store key of a node's locator.
pub fn node_index(id: &str) -> String {
    format!("nodeidx/{id}")
}

/// Prefix of the markers of nodes that changed (registered, or tags changed).
pub const CHANGED_PREFIX: &str = "assocdirty/";

/// Store key marking a node as changed, so State Manager checks it against every
/// association (the key predates the layers, hence its name).
pub fn changed_key(account: &str, region: &str, node: &str) -> String {
    format!("{CHANGED_PREFIX}{account}/{region}/{node}")
}

/// Applies `change` to the tags of one of the caller's managed nodes, and marks the node
/// changed in the same batch: new tags may bring it into an association's targets.
pub async fn change_tags(
    ctx: &Ctx,
    id: &str,
    change: impl Fn(&mut Vec<(String, String)>) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let p = &ctx.principal;
    let key = node_key(&p.account, &p.region, id);
    // The node's record is also rewritten by its own heartbeats and reports: a user's tag
    // change that meets one of those reads the record again rather than failing.
    let (key, change) = (&key, &change);
    crate::base::retry_races(TAG_ATTEMPTS, || async move {
        let (mut node, revision) = load_node(ctx, id).await?.ok_or_else(|| invalid_instance(id))?;
        change(&mut node.tags)?;
        let batch = vec![
            Op::put(key, encode(&node)).if_revision(revision),
            Op::put(changed_key(&p.account, &p.region, id), b"{}".to_vec()),
        ];
        ctx.env.store.write(batch).await.map_err(store_fault)
    })
    .await?;
    ctx.env.wake.scheduler();
    Ok(())
}

/// Attempts at a node's tag change before concurrent writers get `TooManyUpdates`.
const TAG_ATTEMPTS: usize = 8;

/// Ends the channels this server holds for nodes deregistered through any server (their
/// index is gone), so a node deregistered elsewhere is cut off here within a pass; returns
/// how many. Reads the indexes of every connected node, in batches.
pub async fn drop_deregistered(env: &Env) -> anyhow::Result<usize> {
    let connected = env.agents.connected();
    let mut dropped = 0;
    for chunk in connected.chunks(500) {
        let keys: Vec<String> = chunk.iter().map(|id| node_index(id)).collect();
        let found = env.store.get_many(&keys).await?;
        for (id, item) in chunk.iter().zip(found) {
            if item.is_none() {
                env.agents.disconnect(id, "The node was deregistered.");
                tracing::info!(instance_id = id, "Node deregistered through another server; its channel here ended.");
                dropped += 1;
            }
        }
    }
    Ok(dropped)
}

/// Deregisters a node: its records, its index and its change marker go, with `leftovers`
/// (what other capabilities keep about it) in the same batch, and its channel is cut, so
/// its identity can never connect again. The node's heartbeats write its record too, so a
/// lost race is retried a few times.
pub async fn deregister(ctx: &Ctx, id: &str, leftovers: Vec<Op>) -> Result<(), ApiError> {
    let p = &ctx.principal;
    for _ in 0..5 {
        let Some((_, revision)) = load_node(ctx, id).await? else {
            return Err(invalid_instance(id));
        };
        let mut batch = vec![
            Op::delete(node_key(&p.account, &p.region, id)).if_revision(revision),
            Op::delete(node_index(id)),
            Op::delete(changed_key(&p.account, &p.region, id)),
        ];
        batch.extend(leftovers.iter().cloned());
        match ctx.env.store.write(batch).await {
            Ok(()) => {
                ctx.env.agents.disconnect(id, "The node was deregistered.");
                tracing::info!(instance_id = id, "Node deregistered.");
                return Ok(());
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(store_fault(e)),
        }
    }
    Err(ApiError::new("TooManyUpdates", "The node is changing too often to deregister now; try again."))
}

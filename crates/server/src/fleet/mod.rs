//! Managed nodes: activations, registration, the agents' control channel, and the fleet
//! inventory (DescribeInstanceInformation).
//!
//! Records: activations at `activation/<account>/<region>/<id>` (the code only as a hash)
//! with an index `activationidx/<id>`; nodes at `node/<account>/<region>/<mi-id>` with an
//! index `nodeidx/<mi-id>` that the gateway uses to find a connecting agent's account.
//! A deregistered node's records are deleted, so its identity can never connect again.

pub mod activations;
pub mod gateway;
pub mod nodes;
pub mod registration;

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use steward_protocol::{Platform, ServerMessage};
use tokio::sync::mpsc;

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

/// One open control channel.
pub struct Connection {
    /// Distinguishes a reconnection from the connection it replaced.
    pub serial: u64,
    /// Messages to the agent.
    pub sender: mpsc::Sender<ServerMessage>,
}

/// The agents connected to this server.
pub struct Fleet {
    /// Seconds between agent heartbeats.
    pub heartbeat_seconds: u64,
    /// Wakes the command dispatcher (new command, new connection, new result).
    pub wake: tokio::sync::Notify,
    connections: Mutex<HashMap<String, Connection>>,
    serial: std::sync::atomic::AtomicU64,
    activation_locks: Mutex<HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
    /// The server's own certificate authority (PEM), handed to nodes at registration so
    /// they verify the server from then on.
    pub ca_pem: Option<String>,
    /// This server's URL as clients reach it, recorded on the nodes connected here so that
    /// another server can send session clients here.
    pub advertise_url: String,
}

impl Fleet {
    /// A fleet whose agents heartbeat every `heartbeat_seconds`.
    pub fn new(heartbeat_seconds: u64) -> Self {
        Fleet {
            heartbeat_seconds,
            ca_pem: None,
            advertise_url: String::new(),
            wake: tokio::sync::Notify::new(),
            connections: Mutex::new(HashMap::new()),
            serial: Default::default(),
            activation_locks: Mutex::new(HashMap::new()),
        }
    }

    /// The lock registrations with one activation take turns on.
    pub fn activation_lock(&self, activation_id: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.activation_locks.lock().expect("fleet lock");
        if locks.len() > 10_000 {
            locks.retain(|_, l| std::sync::Arc::strong_count(l) > 1);
        }
        locks.entry(activation_id.to_owned()).or_default().clone()
    }

    /// Records a new channel for `instance_id`, replacing (and so closing) an older one.
    pub fn attach(&self, instance_id: &str, sender: mpsc::Sender<ServerMessage>) -> u64 {
        let serial = self.serial.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        self.connections.lock().expect("fleet lock").insert(instance_id.to_owned(), Connection { serial, sender });
        serial
    }

    /// Forgets the channel, if it is still the one with `serial`. True if it was.
    pub fn detach(&self, instance_id: &str, serial: u64) -> bool {
        let mut map = self.connections.lock().expect("fleet lock");
        if map.get(instance_id).is_some_and(|c| c.serial == serial) {
            map.remove(instance_id);
            return true;
        }
        false
    }

    /// Sends to a connected agent; false if it is not connected here.
    pub fn send(&self, instance_id: &str, message: ServerMessage) -> bool {
        let sender = self.connections.lock().expect("fleet lock").get(instance_id).map(|c| c.sender.clone());
        sender.is_some_and(|s| s.try_send(message).is_ok())
    }

    /// The serial of the agent's current channel to this server, if any.
    pub fn serial_of(&self, instance_id: &str) -> Option<u64> {
        self.connections.lock().expect("fleet lock").get(instance_id).map(|c| c.serial)
    }

    /// Whether the agent has a channel to this server.
    pub fn is_connected(&self, instance_id: &str) -> bool {
        self.connections.lock().expect("fleet lock").contains_key(instance_id)
    }

    /// Cuts the channel of `instance_id` (after telling the agent why).
    pub fn disconnect(&self, instance_id: &str, reason: &str) {
        let removed = self.connections.lock().expect("fleet lock").remove(instance_id);
        if let Some(c) = removed {
            let _ = c.sender.try_send(ServerMessage::Goodbye { reason: reason.to_owned() });
        }
    }
}

//! The agents connected to this server: one control channel per node, by instance id.
//! What a node *is* (its record) belongs to `fleet`; this is only who is on the line.

use std::collections::HashMap;
use std::sync::Mutex;

use steward_protocol::ServerMessage;
use tokio::sync::mpsc;

/// One open control channel.
pub struct Connection {
    /// Distinguishes a reconnection from the connection it replaced.
    pub serial: u64,
    /// Messages to the agent.
    pub sender: mpsc::Sender<ServerMessage>,
}

/// The agents connected to this server.
pub struct Agents {
    /// Seconds between agent heartbeats.
    pub heartbeat_seconds: u64,
    connections: Mutex<HashMap<String, Connection>>,
    serial: std::sync::atomic::AtomicU64,
    activation_locks: Mutex<HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
    /// Cancellations this server passed on (`command/node`), so each is sent once.
    cancels_sent: Mutex<std::collections::HashSet<String>>,
    /// The server's own certificate authority (PEM), handed to nodes at registration so
    /// they verify the server from then on.
    pub ca_pem: Option<String>,
    /// This server's URL as clients reach it, recorded on the nodes connected here so that
    /// another server can send session clients here.
    pub advertise_url: String,
}

impl Agents {
    /// A fleet whose agents heartbeat every `heartbeat_seconds`.
    pub fn new(heartbeat_seconds: u64) -> Self {
        Agents {
            heartbeat_seconds,
            ca_pem: None,
            advertise_url: String::new(),
            connections: Mutex::new(HashMap::new()),
            serial: Default::default(),
            activation_locks: Mutex::new(HashMap::new()),
            cancels_sent: Default::default(),
        }
    }

    /// The lock registrations with one activation take turns on.
    pub fn activation_lock(&self, activation_id: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.activation_locks.lock().expect("agents lock");
        if locks.len() > 10_000 {
            locks.retain(|_, l| std::sync::Arc::strong_count(l) > 1);
        }
        locks.entry(activation_id.to_owned()).or_default().clone()
    }

    /// Records a new channel for `instance_id`, replacing (and so closing) an older one.
    pub fn attach(&self, instance_id: &str, sender: mpsc::Sender<ServerMessage>) -> u64 {
        let serial = self.serial.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        self.connections.lock().expect("agents lock").insert(instance_id.to_owned(), Connection { serial, sender });
        serial
    }

    /// Forgets the channel, if it is still the one with `serial`. True if it was.
    pub fn detach(&self, instance_id: &str, serial: u64) -> bool {
        let mut map = self.connections.lock().expect("agents lock");
        if map.get(instance_id).is_some_and(|c| c.serial == serial) {
            map.remove(instance_id);
            return true;
        }
        false
    }

    /// Sends to a connected agent; false if it is not connected here.
    pub fn send(&self, instance_id: &str, message: ServerMessage) -> bool {
        let sender = self.connections.lock().expect("agents lock").get(instance_id).map(|c| c.sender.clone());
        sender.is_some_and(|s| s.try_send(message).is_ok())
    }

    /// The serial of the agent's current channel to this server, if any.
    pub fn serial_of(&self, instance_id: &str) -> Option<u64> {
        self.connections.lock().expect("agents lock").get(instance_id).map(|c| c.serial)
    }

    /// Whether the agent has a channel to this server.
    pub fn is_connected(&self, instance_id: &str) -> bool {
        self.connections.lock().expect("agents lock").contains_key(instance_id)
    }

    /// True the first time this server is to pass on the cancellation of `command_id` on
    /// `instance_id`. The memory is bounded: when full it starts over, so at worst an agent
    /// hears a cancellation twice (it ignores the second).
    pub fn first_cancel(&self, command_id: &str, instance_id: &str) -> bool {
        const REMEMBERED: usize = 100_000;
        let mut sent = self.cancels_sent.lock().expect("agents lock");
        if sent.len() >= REMEMBERED {
            sent.clear();
        }
        sent.insert(format!("{command_id}/{instance_id}"))
    }

    /// The nodes connected here.
    pub fn connected(&self) -> Vec<String> {
        self.connections.lock().expect("agents lock").keys().cloned().collect()
    }

    /// Cuts the channel of `instance_id` (after telling the agent why).
    pub fn disconnect(&self, instance_id: &str, reason: &str) {
        let removed = self.connections.lock().expect("agents lock").remove(instance_id);
        if let Some(c) = removed {
            let _ = c.sender.try_send(ServerMessage::Goodbye { reason: reason.to_owned() });
        }
    }
}

//! Requests a running step makes of the server over the control channel (secure values,
//! inventory), each answered by a message carrying the same `request_id`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steward_protocol::{AgentMessage, ServerMessage};
use tokio::sync::{mpsc, oneshot};

/// Sends requests on a connection's outgoing queue and hands each answer to its asker.
#[derive(Clone)]
pub struct Calls {
    out: mpsc::Sender<AgentMessage>,
    pending: Arc<Mutex<HashMap<u64, oneshot::Sender<ServerMessage>>>>,
    next: Arc<AtomicU64>,
}

impl Calls {
    /// Requests go out on `out`, the live connection's queue.
    pub fn new(out: mpsc::Sender<AgentMessage>) -> Self {
        Calls { out, pending: Default::default(), next: Default::default() }
    }

    /// Delivers the server's answer to whoever asked (an answer nobody waits for is dropped).
    pub fn answer(&self, request_id: u64, message: ServerMessage) {
        if let Some(waiter) = self.pending.lock().expect("calls lock").remove(&request_id) {
            let _ = waiter.send(message);
        }
    }

    /// Sends the request `make` builds around a fresh id and waits up to `wait` for its answer.
    pub async fn ask(&self, make: impl FnOnce(u64) -> AgentMessage, wait: Duration) -> Result<ServerMessage, String> {
        let request_id = self.next.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("calls lock").insert(request_id, tx);
        let sent = self.out.send(make(request_id)).await;
        let answer = match sent {
            Ok(()) => tokio::time::timeout(wait, rx).await.ok().and_then(Result::ok),
            Err(_) => None,
        };
        // An unanswered request must not leave its waiter behind.
        self.pending.lock().expect("calls lock").remove(&request_id);
        if sent.is_err() {
            return Err("the connection to the server is closed".into());
        }
        answer.ok_or_else(|| "the server did not answer in time".into())
    }
}

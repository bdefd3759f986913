//! The frames queued between a session's two ends, bounded in bytes rather than in frames:
//! a frame may be up to 1 MiB, so a count of frames bounds nothing useful. A sender waits
//! while the queue holds [`QUEUE_BYTES`]; the receiver frees room as it takes frames.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

/// Bytes queued toward one end of a session at most.
pub const QUEUE_BYTES: usize = 8 << 20;

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct FrameSender {
    tx: mpsc::UnboundedSender<(Bytes, OwnedSemaphorePermit)>,
    room: Arc<Semaphore>,
    capacity: usize,
}

/// The receiving side.
pub struct FrameReceiver {
    rx: mpsc::UnboundedReceiver<(Bytes, OwnedSemaphorePermit)>,
}

/// A queue holding at most `bytes` bytes.
pub fn channel(bytes: usize) -> (FrameSender, FrameReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let capacity = bytes.clamp(1, u32::MAX as usize);
    (FrameSender { tx, room: Arc::new(Semaphore::new(capacity)), capacity }, FrameReceiver { rx })
}

/// The other end is gone.
#[derive(Debug)]
pub struct Closed;

impl FrameSender {
    /// Queues `frame`, waiting while the queue is full. A frame larger than the whole
    /// queue waits for it to be empty.
    pub async fn send(&self, frame: Bytes) -> Result<(), Closed> {
        let cost = frame.len().clamp(1, self.capacity) as u32;
        let permit = self.room.clone().acquire_many_owned(cost).await.map_err(|_| Closed)?;
        self.tx.send((frame, permit)).map_err(|_| Closed)
    }

    /// Queues `frame` if there is room now; false if not (or the other end is gone).
    pub fn try_send(&self, frame: Bytes) -> bool {
        let cost = frame.len().clamp(1, self.capacity) as u32;
        match self.room.clone().try_acquire_many_owned(cost) {
            Ok(permit) => self.tx.send((frame, permit)).is_ok(),
            Err(_) => false,
        }
    }

    /// Whether both senders feed the same queue.
    pub fn same_channel(&self, other: &FrameSender) -> bool {
        self.tx.same_channel(&other.tx)
    }
}

impl FrameReceiver {
    /// The next frame; None once every sender is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<Bytes> {
        // The frame's room is freed as it leaves the queue.
        self.rx.recv().await.map(|(frame, _permit)| frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn senders_wait_once_the_queue_holds_its_bytes() {
        let (tx, mut rx) = channel(10);
        tx.send(Bytes::from_static(b"123456")).await.unwrap();
        tx.send(Bytes::from_static(b"7890")).await.unwrap();
        let blocked = tokio::time::timeout(std::time::Duration::from_millis(50), tx.send(Bytes::from_static(b"x")));
        assert!(blocked.await.is_err(), "the queue is full");
        assert_eq!(rx.recv().await.unwrap(), Bytes::from_static(b"123456"));
        tx.send(Bytes::from_static(b"abc")).await.unwrap();
        assert_eq!(rx.recv().await.unwrap(), Bytes::from_static(b"7890"));
        assert_eq!(rx.recv().await.unwrap(), Bytes::from_static(b"abc"));
        // A frame larger than the queue passes alone.
        tx.send(Bytes::from(vec![0u8; 100])).await.unwrap();
        assert_eq!(rx.recv().await.unwrap().len(), 100);
        drop(tx);
        assert!(rx.recv().await.is_none());
    }
}

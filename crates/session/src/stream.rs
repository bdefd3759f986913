//! The reliable stream: every `*_stream_data` frame carries the next sequence number of its
//! direction and stays buffered until the other end acknowledges it; the oldest unacked
//! frame is resent after a TCP-like timeout. The receiver acknowledges every data frame,
//! delivers in order and holds early ones until the gap fills.

use std::collections::{BTreeMap, VecDeque};

use crate::frame::{Frame, ACKNOWLEDGE};
use crate::payload::Acknowledge;

/// The first retransmission timeout.
pub const INITIAL_RTO_MS: u64 = 200;
/// The longest retransmission timeout.
pub const MAX_RTO_MS: u64 = 1000;
/// How many early frames a receiver holds.
pub const REORDER_CAPACITY: usize = 100_000;

struct Pending {
    sequence: i64,
    bytes: Vec<u8>,
    sent_ms: u64,
    resent: bool,
}

/// The sending half: numbering, the unacked buffer and retransmission.
pub struct Sender {
    message_type: &'static str,
    next_sequence: i64,
    unacked: VecDeque<Pending>,
    srtt: Option<f64>,
    rttvar: f64,
    rto_ms: u64,
}

impl Sender {
    /// A sender of `message_type` frames (`input_stream_data` or `output_stream_data`).
    pub fn new(message_type: &'static str) -> Sender {
        Sender {
            message_type,
            next_sequence: 0,
            unacked: VecDeque::new(),
            srtt: None,
            rttvar: 0.0,
            rto_ms: INITIAL_RTO_MS,
        }
    }

    /// Numbers and buffers a data frame; returns its bytes to send.
    pub fn send(&mut self, payload_type: u32, payload: Vec<u8>, flags: u64, now_ms: u64) -> Vec<u8> {
        let frame = Frame::new(self.message_type, self.next_sequence, flags, payload_type, payload, now_ms);
        let bytes = frame.encode();
        self.unacked.push_back(Pending {
            sequence: self.next_sequence,
            bytes: bytes.clone(),
            sent_ms: now_ms,
            resent: false,
        });
        self.next_sequence += 1;
        bytes
    }

    /// The sequence number the next frame gets.
    pub fn next_sequence(&self) -> i64 {
        self.next_sequence
    }

    /// Frames sent and not yet acknowledged.
    pub fn unacked(&self) -> usize {
        self.unacked.len()
    }

    /// Every unacked frame, oldest first (to resend on a new connection).
    pub fn unacked_frames(&self) -> Vec<Vec<u8>> {
        self.unacked.iter().map(|p| p.bytes.clone()).collect()
    }

    /// The other end acknowledged `sequence` (matched by number only, as the plugin does).
    pub fn acknowledged(&mut self, sequence: i64, now_ms: u64) {
        let Some(at) = self.unacked.iter().position(|p| p.sequence == sequence) else { return };
        let pending = self.unacked.remove(at).expect("present");
        if !pending.resent {
            // Karn: only frames sent once measure the round trip.
            let sample = now_ms.saturating_sub(pending.sent_ms) as f64;
            match self.srtt {
                None => {
                    self.srtt = Some(sample);
                    self.rttvar = sample / 2.0;
                }
                Some(srtt) => {
                    self.rttvar = 0.75 * self.rttvar + 0.25 * (srtt - sample).abs();
                    self.srtt = Some(0.875 * srtt + 0.125 * sample);
                }
            }
            let rto = self.srtt.unwrap_or(0.0) + (4.0 * self.rttvar).max(10.0);
            self.rto_ms = (rto as u64).clamp(10, MAX_RTO_MS);
        }
    }

    /// The oldest unacked frame when it has waited longer than the timeout (marked resent).
    pub fn due(&mut self, now_ms: u64) -> Option<Vec<u8>> {
        let rto = self.rto_ms;
        let oldest = self.unacked.front_mut()?;
        if now_ms.saturating_sub(oldest.sent_ms) < rto {
            return None;
        }
        oldest.sent_ms = now_ms;
        oldest.resent = true;
        Some(oldest.bytes.clone())
    }

    /// Up to `max` unacked frames, oldest first, that have waited longer than the timeout
    /// (marked resent): after the other end was away, a backlog goes out in bursts rather
    /// than one frame per timeout.
    pub fn due_burst(&mut self, now_ms: u64, max: usize) -> Vec<Vec<u8>> {
        let rto = self.rto_ms;
        let mut out = Vec::new();
        for pending in self.unacked.iter_mut().take(max) {
            if now_ms.saturating_sub(pending.sent_ms) < rto {
                break;
            }
            pending.sent_ms = now_ms;
            pending.resent = true;
            out.push(pending.bytes.clone());
        }
        out
    }

    /// The current retransmission timeout.
    pub fn rto_ms(&self) -> u64 {
        self.rto_ms
    }
}

/// What a receiver makes of one data frame.
#[derive(Debug, Default)]
pub struct Received {
    /// The acknowledgement to send back.
    pub ack: Option<Vec<u8>>,
    /// Frames now deliverable, in order.
    pub deliver: Vec<Frame>,
}

/// The receiving half: acknowledgements, ordering and duplicates.
#[derive(Default)]
pub struct Receiver {
    expected: i64,
    early: BTreeMap<i64, Frame>,
}

/// The acknowledgement of `frame`.
pub fn acknowledgement(frame: &Frame, now_ms: u64) -> Vec<u8> {
    let body = Acknowledge {
        message_type: frame.message_type.clone(),
        message_id: frame.id_text(),
        sequence: frame.sequence,
        sequential: true,
    };
    Frame::new(ACKNOWLEDGE, 0, 3, 0, serde_json::to_vec(&body).expect("serialises"), now_ms).encode()
}

/// The sequence number an `acknowledge` frame acknowledges.
pub fn acknowledged_sequence(frame: &Frame) -> Option<i64> {
    serde_json::from_slice::<Acknowledge>(&frame.payload).ok().map(|a| a.sequence)
}

impl Receiver {
    /// The sequence number expected next.
    pub fn expected(&self) -> i64 {
        self.expected
    }

    /// Takes a data frame: acknowledges it (duplicates too, so a lost ack is repaired) and
    /// returns whatever is now in order.
    pub fn receive(&mut self, frame: Frame, now_ms: u64) -> Received {
        let ack = Some(acknowledgement(&frame, now_ms));
        if frame.sequence < self.expected {
            return Received { ack, deliver: Vec::new() };
        }
        if frame.sequence > self.expected {
            if self.early.len() < REORDER_CAPACITY {
                self.early.insert(frame.sequence, frame);
                return Received { ack, deliver: Vec::new() };
            }
            return Received { ack: None, deliver: Vec::new() }; // Full: the sender resends later.
        }
        let mut deliver = vec![frame];
        self.expected += 1;
        while let Some(next) = self.early.remove(&self.expected) {
            deliver.push(next);
            self.expected += 1;
        }
        Received { ack, deliver }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{payload_type, INPUT};

    #[test]
    fn frames_arrive_in_order_once_whatever_the_network_does() {
        let mut sender = Sender::new(INPUT);
        let frames: Vec<Vec<u8>> =
            (0..5).map(|i| sender.send(payload_type::OUTPUT, vec![b'a' + i as u8], 0, 100)).collect();
        let mut receiver = Receiver::default();
        let mut delivered = Vec::new();
        // 2 and 4 early, 0 twice, then the rest.
        for i in [2usize, 4, 0, 0, 1, 3] {
            let got = receiver.receive(Frame::decode(&frames[i]).unwrap(), 110);
            assert!(got.ack.is_some(), "every data frame is acknowledged");
            let ack = Frame::decode(&got.ack.unwrap()).unwrap();
            sender.acknowledged(acknowledged_sequence(&ack).unwrap(), 120);
            delivered.extend(got.deliver.into_iter().map(|f| f.payload[0]));
        }
        assert_eq!(delivered, b"abcde");
        assert_eq!(sender.unacked(), 0);
        assert_eq!(receiver.expected(), 5);
    }

    #[test]
    fn the_oldest_unacked_frame_is_resent_after_the_timeout() {
        let mut sender = Sender::new(INPUT);
        let first = sender.send(payload_type::OUTPUT, b"x".to_vec(), 0, 1000);
        sender.send(payload_type::OUTPUT, b"y".to_vec(), 0, 1000);
        assert_eq!(sender.due(1000 + INITIAL_RTO_MS - 1), None);
        assert_eq!(sender.due(1000 + INITIAL_RTO_MS), Some(first.clone()));
        assert_eq!(sender.due(1000 + INITIAL_RTO_MS + 1), None, "the timer restarts after a resend");
        sender.acknowledged(0, 1500);
        assert_eq!(sender.unacked(), 1);
        assert_eq!(sender.unacked_frames().len(), 1);
    }

    #[test]
    fn a_backlog_is_resent_in_bursts_oldest_first() {
        let mut sender = Sender::new(INPUT);
        for i in 0..5u8 {
            sender.send(payload_type::OUTPUT, vec![i], 0, 1000 + i as u64 * 100);
        }
        // At 1350 the first two have waited 200 ms or more; the third only 150.
        let burst = sender.due_burst(1350, 10);
        assert_eq!(burst.len(), 2);
        assert_eq!(Frame::decode(&burst[0]).unwrap().payload, vec![0]);
        assert_eq!(sender.due_burst(5000, 3).len(), 3, "capped");
    }

    #[test]
    fn round_trips_tune_the_timeout_within_bounds() {
        let mut sender = Sender::new(INPUT);
        for i in 0..20 {
            sender.send(payload_type::OUTPUT, vec![i], 0, i as u64 * 10);
            sender.acknowledged(i as i64, i as u64 * 10 + 2);
        }
        assert!(sender.rto_ms() >= 10 && sender.rto_ms() < INITIAL_RTO_MS, "rto {}", sender.rto_ms());
    }
}

/// What a frame from the other end comes to.
#[derive(Debug)]
pub enum Accepted {
    /// An acknowledgement (now settled) or a frame not worth acting on.
    Nothing,
    /// Data: the acknowledgement to send back and the frames now in order.
    Data {
        /// Send this back.
        ack: Option<Vec<u8>>,
        /// Deliver these.
        frames: Vec<Frame>,
    },
    /// Anything else (`channel_closed`, session state): for the caller.
    Control(Frame),
}

/// Both halves of one end of the data channel.
pub struct Channel {
    /// Outgoing data.
    pub sender: Sender,
    /// Incoming data.
    pub receiver: Receiver,
    inbound: &'static str,
}

impl Channel {
    /// One end: it sends `outbound` data frames and receives `inbound` ones
    /// (`input_stream_data` / `output_stream_data`).
    pub fn new(outbound: &'static str, inbound: &'static str) -> Channel {
        Channel { sender: Sender::new(outbound), receiver: Receiver::default(), inbound }
    }

    /// Takes bytes from the other end: acknowledgements settle sent frames, data frames are
    /// acknowledged and returned in order.
    pub fn accept(&mut self, bytes: &[u8], now_ms: u64) -> Accepted {
        let Ok(frame) = Frame::decode(bytes) else { return Accepted::Nothing };
        if frame.message_type == ACKNOWLEDGE {
            if let Some(sequence) = acknowledged_sequence(&frame) {
                self.sender.acknowledged(sequence, now_ms);
            }
            return Accepted::Nothing;
        }
        if frame.message_type == self.inbound {
            let got = self.receiver.receive(frame, now_ms);
            return Accepted::Data { ack: got.ack, frames: got.deliver };
        }
        Accepted::Control(frame)
    }
}

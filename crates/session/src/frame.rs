//! The data-channel frame. Big-endian throughout:
//!
//! | offset | length | field |
//! |---|---|---|
//! | 0 | 4 | header length, always 116 |
//! | 4 | 32 | message type, ASCII, space-padded |
//! | 36 | 4 | schema version (1) |
//! | 40 | 8 | created, epoch ms (never 0) |
//! | 48 | 8 | sequence number |
//! | 56 | 8 | flags (bit 0 SYN, bit 1 FIN; acknowledgements carry 3) |
//! | 64 | 16 | message id: a UUID with its two halves swapped |
//! | 80 | 32 | SHA-256 of the payload |
//! | 112 | 4 | payload type |
//! | 116 | 4 | payload length |
//! | 120 | n | payload |

use sha2::{Digest, Sha256};

/// The header length writers put in the first field (the offset of the payload length).
pub const HEADER_LENGTH: u32 = 116;
/// Bytes before the payload.
pub const PAYLOAD_OFFSET: usize = 120;

/// `input_stream_data`: client to node.
pub const INPUT: &str = "input_stream_data";
/// `output_stream_data`: node to client.
pub const OUTPUT: &str = "output_stream_data";
/// `acknowledge`.
pub const ACKNOWLEDGE: &str = "acknowledge";
/// `channel_closed`: the service ends the session.
pub const CHANNEL_CLOSED: &str = "channel_closed";
/// `start_publication`.
pub const START_PUBLICATION: &str = "start_publication";
/// `pause_publication`.
pub const PAUSE_PUBLICATION: &str = "pause_publication";
/// `agent_session_state`: the node tells the service the session's state.
pub const AGENT_SESSION_STATE: &str = "agent_session_state";

/// Payload types.
pub mod payload_type {
    /// Terminal or stream bytes (keyboard input too).
    pub const OUTPUT: u32 = 1;
    /// An error text.
    pub const ERROR: u32 = 2;
    /// `{"cols","rows"}`.
    pub const SIZE: u32 = 3;
    /// Parameters.
    pub const PARAMETER: u32 = 4;
    /// Handshake request (node to client).
    pub const HANDSHAKE_REQUEST: u32 = 5;
    /// Handshake response (client to node).
    pub const HANDSHAKE_RESPONSE: u32 = 6;
    /// Handshake complete (node to client).
    pub const HANDSHAKE_COMPLETE: u32 = 7;
    /// A 4-byte flag (1 DisconnectToPort, 2 TerminateSession, 3 ConnectToPortError).
    pub const FLAG: u32 = 10;
    /// Standard error bytes.
    pub const STDERR: u32 = 11;
    /// An exit code.
    pub const EXIT_CODE: u32 = 12;
}

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// `input_stream_data`, `acknowledge`, …
    pub message_type: String,
    /// 1.
    pub schema_version: u32,
    /// Epoch ms.
    pub created_ms: u64,
    /// Per direction, from 0.
    pub sequence: i64,
    /// SYN = 1, FIN = 2.
    pub flags: u64,
    /// The id in canonical byte order.
    pub message_id: [u8; 16],
    /// What the payload is.
    pub payload_type: u32,
    /// The payload.
    pub payload: Vec<u8>,
}

/// Why bytes are not a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer bytes than the header or the stated payload.
    Short,
    /// Header length 0, empty type or creation time 0.
    Invalid(&'static str),
    /// The payload's SHA-256 differs from the header's.
    Digest,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Short => write!(f, "frame shorter than its header says"),
            FrameError::Invalid(why) => write!(f, "invalid frame: {why}"),
            FrameError::Digest => write!(f, "payload digest mismatch"),
        }
    }
}

impl std::error::Error for FrameError {}

/// The wire order of a message id: the UUID's second half first.
fn swap_halves(id: &[u8; 16]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&id[8..]);
    out[8..].copy_from_slice(&id[..8]);
    out
}

impl Frame {
    /// A frame with a fresh id.
    pub fn new(
        message_type: &str,
        sequence: i64,
        flags: u64,
        payload_type: u32,
        payload: Vec<u8>,
        now_ms: u64,
    ) -> Frame {
        Frame {
            message_type: message_type.to_owned(),
            schema_version: 1,
            created_ms: now_ms.max(1),
            sequence,
            flags,
            message_id: *uuid::Uuid::new_v4().as_bytes(),
            payload_type,
            payload,
        }
    }

    /// The id as a hyphenated UUID (as acknowledgements name it).
    pub fn id_text(&self) -> String {
        uuid::Uuid::from_bytes(self.message_id).to_string()
    }

    /// The bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PAYLOAD_OFFSET + self.payload.len());
        out.extend_from_slice(&HEADER_LENGTH.to_be_bytes());
        let mut kind = [b' '; 32];
        let name = self.message_type.as_bytes();
        kind[..name.len().min(32)].copy_from_slice(&name[..name.len().min(32)]);
        out.extend_from_slice(&kind);
        out.extend_from_slice(&self.schema_version.to_be_bytes());
        out.extend_from_slice(&self.created_ms.to_be_bytes());
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.flags.to_be_bytes());
        out.extend_from_slice(&swap_halves(&self.message_id));
        out.extend_from_slice(&Sha256::digest(&self.payload));
        out.extend_from_slice(&self.payload_type.to_be_bytes());
        out.extend_from_slice(&(self.payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.payload);
        out
    }

    /// What a relay needs of a frame it passes on unchanged: the message type, the payload
    /// type and where the payload is, without copying it or checking its digest (the end
    /// that takes the frame checks that). None when it is not a frame at all.
    pub fn peek(bytes: &[u8]) -> Option<Peeked<'_>> {
        let header_length = u32::from_be_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
        if bytes.len() < PAYLOAD_OFFSET || header_length == 0 {
            return None;
        }
        let message_type =
            std::str::from_utf8(&bytes[4..36]).ok()?.trim_matches(|c: char| c == '\0' || c.is_whitespace());
        let payload_type = u32::from_be_bytes(bytes[112..116].try_into().ok()?);
        let length = u32::from_be_bytes(bytes.get(header_length..header_length + 4)?.try_into().ok()?) as usize;
        let start = header_length + 4;
        let payload = bytes.get(start..start + length)?;
        Some(Peeked { message_type, payload_type, payload })
    }

    /// Parses and validates a frame as the plugin and the agent do.
    pub fn decode(bytes: &[u8]) -> Result<Frame, FrameError> {
        if bytes.len() < PAYLOAD_OFFSET {
            return Err(FrameError::Short);
        }
        let u32_at = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let u64_at = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let header_length = u32_at(0) as usize;
        if header_length == 0 {
            return Err(FrameError::Invalid("header length is 0"));
        }
        let message_type: String =
            String::from_utf8_lossy(&bytes[4..36]).trim_matches(|c: char| c == '\0' || c.is_whitespace()).to_owned();
        // Readers take the payload length at the header length and the payload after it.
        if bytes.len() < header_length + 4 {
            return Err(FrameError::Short);
        }
        let length = u32_at(header_length) as usize;
        let start = header_length + 4;
        let payload = bytes.get(start..start + length).ok_or(FrameError::Short)?.to_vec();
        let mut wire_id = [0u8; 16];
        wire_id.copy_from_slice(&bytes[64..80]);
        let frame = Frame {
            schema_version: u32_at(36),
            created_ms: u64_at(40),
            sequence: u64_at(48) as i64,
            flags: u64_at(56),
            message_id: swap_halves(&wire_id),
            payload_type: u32_at(112),
            message_type,
            payload,
        };
        let exempt = frame.message_type == START_PUBLICATION || frame.message_type == PAUSE_PUBLICATION;
        if !exempt {
            if frame.message_type.is_empty() {
                return Err(FrameError::Invalid("empty message type"));
            }
            if frame.created_ms == 0 {
                return Err(FrameError::Invalid("created date is 0"));
            }
            if !frame.payload.is_empty() && Sha256::digest(&frame.payload).as_slice() != &bytes[80..112] {
                return Err(FrameError::Digest);
            }
        }
        Ok(frame)
    }
}

/// A frame's header fields read in place (see [`Frame::peek`]).
#[derive(Debug, PartialEq, Eq)]
pub struct Peeked<'a> {
    /// `input_stream_data`, `output_stream_data`, `acknowledge`, …
    pub message_type: &'a str,
    /// One of [`payload_type`].
    pub payload_type: u32,
    /// The payload, unchecked.
    pub payload: &'a [u8],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peeking_reads_what_decoding_reads_without_the_digest() {
        let frame = Frame::new(OUTPUT, 4, 0, payload_type::SIZE, b"{\"cols\":1}".to_vec(), 7);
        let mut bytes = frame.encode();
        let peeked = Frame::peek(&bytes).expect("a frame");
        assert_eq!(
            (peeked.message_type, peeked.payload_type, peeked.payload),
            (OUTPUT, payload_type::SIZE, &b"{\"cols\":1}"[..])
        );
        bytes[85] ^= 1; // a broken digest: decode refuses, peek does not look
        assert!(Frame::decode(&bytes).is_err());
        assert!(Frame::peek(&bytes).is_some());
        assert!(Frame::peek(&bytes[..50]).is_none());
        assert!(Frame::peek(&bytes[..bytes.len() - 1]).is_none());
    }

    #[test]
    fn message_ids_travel_with_their_halves_swapped() {
        let id = *uuid::Uuid::parse_str("00112233-4455-6677-8899-aabbccddeeff").unwrap().as_bytes();
        let frame = Frame { message_id: id, ..Frame::new(OUTPUT, 0, 1, payload_type::OUTPUT, b"hi".to_vec(), 5) };
        let bytes = frame.encode();
        assert_eq!(
            &bytes[64..80],
            &[0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]
        );
        assert_eq!(Frame::decode(&bytes).unwrap().id_text(), "00112233-4455-6677-8899-aabbccddeeff");
    }

    #[test]
    fn the_header_layout_matches_the_plugin() {
        let frame =
            Frame::new(INPUT, 7, 0, payload_type::SIZE, br#"{"cols":80,"rows":24}"#.to_vec(), 1_700_000_000_000);
        let bytes = frame.encode();
        assert_eq!(&bytes[0..4], &116u32.to_be_bytes());
        assert_eq!(&bytes[4..21], b"input_stream_data");
        assert!(bytes[21..36].iter().all(|b| *b == b' '), "type is space-padded");
        assert_eq!(&bytes[36..40], &1u32.to_be_bytes());
        assert_eq!(&bytes[40..48], &1_700_000_000_000u64.to_be_bytes());
        assert_eq!(&bytes[48..56], &7i64.to_be_bytes());
        assert_eq!(&bytes[112..116], &3u32.to_be_bytes());
        assert_eq!(&bytes[116..120], &21u32.to_be_bytes());
        assert_eq!(&bytes[80..112], Sha256::digest(&frame.payload).as_slice());
        assert_eq!(Frame::decode(&bytes).unwrap(), frame);
    }

    #[test]
    fn broken_frames_are_refused() {
        let good = Frame::new(OUTPUT, 0, 0, payload_type::OUTPUT, b"data".to_vec(), 9).encode();
        assert_eq!(Frame::decode(&good[..50]), Err(FrameError::Short));
        assert_eq!(Frame::decode(&good[..good.len() - 1]), Err(FrameError::Short));
        let mut tampered = good.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(Frame::decode(&tampered), Err(FrameError::Digest));
        let mut zero_time = good.clone();
        zero_time[40..48].copy_from_slice(&0u64.to_be_bytes());
        assert!(matches!(Frame::decode(&zero_time), Err(FrameError::Invalid(_))));
        let mut no_header = good;
        no_header[0..4].copy_from_slice(&0u32.to_be_bytes());
        assert!(matches!(Frame::decode(&no_header), Err(FrameError::Invalid(_))));
        // NUL padding (as some writers use) reads like spaces.
        let mut nul = Frame::new(ACKNOWLEDGE, 0, 3, 0, b"{}".to_vec(), 1).encode();
        for b in &mut nul[4 + ACKNOWLEDGE.len()..36] {
            *b = 0;
        }
        assert_eq!(Frame::decode(&nul).unwrap().message_type, ACKNOWLEDGE);
    }

    #[test]
    fn random_truncated_and_mutated_frames_never_panic() {
        // A small fuzzer from a fixed seed: random bytes, every truncation of a real frame,
        // and real frames with one byte flipped. Peeking and decoding answer or refuse.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let real = Frame::new(OUTPUT, 9, 0, payload_type::OUTPUT, b"hello, node".to_vec(), 1_700_000_000_000).encode();
        for cut in 0..=real.len() {
            let _ = Frame::peek(&real[..cut]);
            let decoded = Frame::decode(&real[..cut]);
            assert_eq!(decoded.is_ok(), cut == real.len(), "a cut frame is refused ({cut})");
        }
        for _ in 0..20_000 {
            let mut bytes = if next() % 2 == 0 {
                (0..(next() % 300) as usize).map(|_| next() as u8).collect::<Vec<u8>>()
            } else {
                real.clone()
            };
            if !bytes.is_empty() {
                let at = (next() as usize) % bytes.len();
                bytes[at] ^= (next() as u8) | 1;
            }
            if let Some(peeked) = Frame::peek(&bytes) {
                assert!(peeked.payload.len() <= bytes.len());
            }
            let _ = Frame::decode(&bytes);
        }
    }
}

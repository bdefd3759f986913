//! Many TCP connections over one session, in the framing `session-manager-plugin` uses for
//! port forwarding (xtaci/smux): `[version][command][length u16 LE][stream id u32
//! LE][data]`. Streams open with SYN, carry PSH, close with FIN. In version 2, UPD reports
//! how much a side has consumed and its window, so a sender never has more than a window in
//! flight on a stream — one slow connection cannot fill the session for the others.
//! Version 1 (what AWS's plugin and the SSM agent speak, smux's default) has no windows: a
//! peer rejects any frame of another version, so each side answers in the version the
//! other opened with, and toward a version-1 peer nothing but the session's own
//! acknowledgements hold data back.

/// The framing version Steward's own client opens with.
pub const VERSION: u8 = 2;
/// smux's first version, without windows.
pub const VERSION_1: u8 = 1;
/// Bytes of a frame header.
pub const HEADER: usize = 8;
/// Open a stream.
pub const SYN: u8 = 0;
/// Close a stream.
pub const FIN: u8 = 1;
/// Data.
pub const PSH: u8 = 2;
/// Keep-alive.
pub const NOP: u8 = 3;
/// Window update: consumed (u32 LE), window (u32 LE).
pub const UPD: u8 = 4;
/// The window each side starts a stream with.
pub const INITIAL_WINDOW: u32 = 256 * 1024;
/// The largest data one frame carries.
pub const MAX_DATA: usize = 32 * 1024;

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuxFrame {
    /// 1 or 2.
    pub version: u8,
    /// SYN, FIN, PSH, NOP, UPD.
    pub command: u8,
    /// The stream.
    pub stream: u32,
    /// Data (PSH) or window numbers (UPD).
    pub data: Vec<u8>,
}

/// Encodes a frame of `version` (`data` at most 65,535 bytes).
pub fn encode(version: u8, command: u8, stream: u32, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + data.len());
    out.push(version);
    out.push(command);
    out.extend_from_slice(&(data.len() as u16).to_le_bytes());
    out.extend_from_slice(&stream.to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// A window update frame (version 2 only).
pub fn update(stream: u32, consumed: u32, window: u32) -> Vec<u8> {
    let mut data = consumed.to_le_bytes().to_vec();
    data.extend_from_slice(&window.to_le_bytes());
    encode(VERSION, UPD, stream, &data)
}

/// The (consumed, window) of an UPD frame.
pub fn read_update(frame: &MuxFrame) -> Option<(u32, u32)> {
    let d = frame.data.get(..8)?;
    Some((u32::from_le_bytes(d[..4].try_into().ok()?), u32::from_le_bytes(d[4..8].try_into().ok()?)))
}

/// Frames from a byte stream cut anywhere.
#[derive(Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    /// Adds bytes; returns the frames now complete, or an error for a foreign version.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<MuxFrame>, String> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut at = 0;
        while self.buf.len() - at >= HEADER {
            let h = &self.buf[at..at + HEADER];
            if h[0] != VERSION && h[0] != VERSION_1 {
                return Err(format!("mux version {} is not spoken here", h[0]));
            }
            let length = u16::from_le_bytes([h[2], h[3]]) as usize;
            if self.buf.len() - at < HEADER + length {
                break;
            }
            let stream = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
            let data = self.buf[at + HEADER..at + HEADER + length].to_vec();
            out.push(MuxFrame { version: h[0], command: h[1], stream, data });
            at += HEADER + length;
        }
        self.buf.drain(..at);
        Ok(out)
    }
}

/// One stream's flow control: what may be sent, and when to tell the peer what was read.
#[derive(Debug, Clone)]
pub struct Window {
    sent: u64,
    peer_consumed: u64,
    peer_window: u32,
    consumed: u64,
    reported: u64,
    /// Toward a version-1 peer: no windows either way.
    unlimited: bool,
}

impl Default for Window {
    fn default() -> Self {
        Window { sent: 0, peer_consumed: 0, peer_window: INITIAL_WINDOW, consumed: 0, reported: 0, unlimited: false }
    }
}

impl Window {
    /// The flow control of a stream whose peer speaks `version`.
    pub fn for_version(version: u8) -> Window {
        Window { unlimited: version == VERSION_1, ..Window::default() }
    }

    /// Bytes that may be sent now.
    pub fn sendable(&self) -> usize {
        if self.unlimited {
            return usize::MAX;
        }
        let in_flight = self.sent.saturating_sub(self.peer_consumed);
        (self.peer_window as u64).saturating_sub(in_flight) as usize
    }

    /// `n` bytes were sent.
    pub fn sent(&mut self, n: usize) {
        self.sent += n as u64;
    }

    /// The peer's UPD: it has consumed `consumed` bytes (modulo 2³²) and has `window`.
    pub fn peer_update(&mut self, consumed: u32, window: u32) {
        // The count wraps at 2³²: take the 64-bit value nearest what was sent.
        let high = self.sent & !0xffff_ffff;
        let mut total = high | consumed as u64;
        if total > self.sent {
            total = total.saturating_sub(1 << 32);
        }
        self.peer_consumed = self.peer_consumed.max(total);
        self.peer_window = window;
    }

    /// `n` received bytes were delivered; returns an UPD's (consumed, window) when half a
    /// window has been read since the last one.
    pub fn consumed(&mut self, n: usize) -> Option<(u32, u32)> {
        self.consumed += n as u64;
        if self.unlimited {
            return None;
        }
        if self.consumed - self.reported >= (INITIAL_WINDOW / 2) as u64 {
            self.reported = self.consumed;
            return Some((self.consumed as u32, INITIAL_WINDOW));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_any_cut() {
        let mut bytes = encode(VERSION, SYN, 3, b"");
        bytes.extend(encode(VERSION, PSH, 3, b"hello"));
        bytes.extend(update(3, 7, INITIAL_WINDOW));
        bytes.extend(encode(VERSION_1, FIN, 3, b""));
        for cut in 0..bytes.len() {
            let mut d = Decoder::default();
            let mut frames = d.push(&bytes[..cut]).unwrap();
            frames.extend(d.push(&bytes[cut..]).unwrap());
            assert_eq!(frames.len(), 4, "cut at {cut}");
            assert_eq!(frames[1], MuxFrame { version: VERSION, command: PSH, stream: 3, data: b"hello".to_vec() });
            assert_eq!(frames[3].version, VERSION_1);
            assert_eq!(read_update(&frames[2]), Some((7, INITIAL_WINDOW)));
        }
        assert!(Decoder::default().push(&[9, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn a_sender_stops_at_the_peers_window_until_it_reads() {
        let mut w = Window::default();
        assert_eq!(w.sendable(), INITIAL_WINDOW as usize);
        w.sent(INITIAL_WINDOW as usize);
        assert_eq!(w.sendable(), 0);
        w.peer_update(1000, INITIAL_WINDOW);
        assert_eq!(w.sendable(), 1000);
        let mut r = Window::default();
        assert_eq!(r.consumed(1000), None);
        assert_eq!(r.consumed(INITIAL_WINDOW as usize / 2), Some((1000 + INITIAL_WINDOW / 2, INITIAL_WINDOW)));
    }

    #[test]
    fn a_version_1_peer_has_no_windows() {
        let mut w = Window::for_version(VERSION_1);
        w.sent(10 * INITIAL_WINDOW as usize);
        assert_eq!(w.sendable(), usize::MAX);
        assert_eq!(w.consumed(INITIAL_WINDOW as usize), None, "no UPD toward a version-1 peer");
        assert_eq!(Window::for_version(VERSION).sendable(), INITIAL_WINDOW as usize);
    }

    #[test]
    fn random_bytes_cut_anywhere_never_panic_the_decoder() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2_000 {
            let mut decoder = Decoder::default();
            for _ in 0..(next() % 8) {
                let chunk: Vec<u8> = (0..(next() % 64) as usize).map(|_| next() as u8).collect();
                if decoder.push(&chunk).is_err() {
                    break; // a foreign version ends the stream; nothing panics
                }
            }
        }
    }
}

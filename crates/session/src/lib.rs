//! Session Manager's data channel, as `session-manager-plugin` and the SSM agent speak it:
//! the binary frame ([`frame`]), the payloads that travel in it ([`payload`]) and the
//! reliable, ordered stream built on sequence numbers and acknowledgements ([`stream`]).
//!
//! No I/O here: the agent, the server's relay and the clients each drive these types from
//! their own WebSocket loops.

pub mod frame;
pub mod mux;
pub mod payload;
pub mod stream;
pub mod tunnel;

pub use frame::{Frame, FrameError};

/// The WebSocket read buffer every end of a data channel uses. tungstenite zeroes the free
/// part of its buffer before each read, so a buffer near the size of one tunnel frame
/// (32 KiB of data) costs least; its default (128 KiB) spent more time zeroing than moving
/// frames, and memory in every open session.
pub const WS_READ_BUFFER: usize = 32 * 1024;

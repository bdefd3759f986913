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

//! The client's address, from either listener: for `aws:SourceIp`, the audit trail and the
//! per-source caps on connections that have not authenticated.

use std::net::SocketAddr;

/// The remote address of a connection (`ConnectInfo<Peer>` in handlers).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

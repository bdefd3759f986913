//! Serving connections: the router over hyper's HTTP/1.1, one task per connection, with the
//! limit `axum::serve` leaves out — a connection that has not sent a whole request head
//! within the header timeout (`--header-timeout`, 30 s) is closed, whether it is new, trickling its headers, or idle
//! between keep-alive requests. So idle sockets cannot be held open by the thousand; an
//! upgraded WebSocket is past this and governed by its own limits (`base::ws`).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::watch;

use super::http::Peer;

/// How long requests in flight may take to finish once the server is told to stop.
const DRAIN: Duration = Duration::from_secs(5);

/// Accepts connections from `listener` until `shutdown` completes, then lets requests in
/// flight finish (at most [`DRAIN`]). `header_timeout`: the longest a connection may take
/// to send a request head, or stay idle between requests.
pub async fn serve<L>(mut listener: L, router: Router, header_timeout: Duration, shutdown: impl Future<Output = ()>)
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let (stop, stopping) = watch::channel(false);
    // Every connection task holds a clone; when all are dropped, every connection is done.
    let (alive, mut all_done) = tokio::sync::mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
        };
        let router = router.clone();
        let mut stopping = stopping.clone();
        let alive = alive.clone();
        tokio::spawn(async move {
            let _alive = alive;
            let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(Peer(peer)));
                // A router is always ready, so it may be called without polling readiness.
                tower_service::Service::call(&mut router.clone(), request)
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(io), service)
                .with_upgrades();
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stopping.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(DRAIN, connection).await;
                }
            }
        });
    }
    drop(listener);
    drop(alive);
    let _ = stop.send(true);
    let _ = tokio::time::timeout(DRAIN + Duration::from_secs(1), all_done.recv()).await;
}

//! The TCP side of port forwarding, shared by the node (which dials the target for each
//! stream the client opens) and the client (which opens a stream for each local
//! connection): every stream pumps its socket both ways through [`crate::mux`] frames,
//! sending no more than the peer's window allows and reporting what it has read. The
//! client side opens in smux version 2; the node answers in whatever version the client
//! opened with (AWS's plugin: version 1, no windows).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};

use crate::mux::{self, Decoder, Window, FIN, MAX_DATA, PSH, SYN, UPD, VERSION};

/// Frames of data waiting for one stream's socket. A version-2 peer stays within a
/// window (256 KiB, 8 frames); toward a version-1 peer this is what holds it back: the
/// session stops reading until the socket takes them.
const STREAM_QUEUE: usize = 64;

struct Handle {
    data: mpsc::Sender<Vec<u8>>,
    window: Arc<Mutex<Window>>,
    more: Arc<Notify>,
}

/// The streams of one session.
pub struct Tunnel {
    streams: HashMap<u32, Handle>,
    out: mpsc::Sender<Vec<u8>>,
    decoder: Decoder,
    next_id: u32,
    dial: Option<(String, u16)>,
    /// The framing version spoken on this session: the client's choice, learned by the node
    /// from the first frame.
    version: u8,
}

impl Tunnel {
    /// A tunnel whose mux bytes for the session go to `out`. The node side gives `dial`,
    /// where each opened stream connects; the client side gives none.
    pub fn new(out: mpsc::Sender<Vec<u8>>, dial: Option<(String, u16)>) -> Tunnel {
        // As smux: the opening (client) side numbers its streams odd.
        Tunnel { streams: HashMap::new(), out, decoder: Decoder::default(), next_id: 1, dial, version: VERSION }
    }

    /// Streams open now.
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// Carries a local connection over a new stream (client side).
    pub async fn open(&mut self, tcp: TcpStream) {
        let id = self.next_id;
        self.next_id += 2;
        let _ = self.out.send(mux::encode(self.version, SYN, id, b"")).await;
        self.attach(id, tcp);
    }

    fn attach(&mut self, id: u32, tcp: TcpStream) {
        let (data, data_rx) = mpsc::channel(STREAM_QUEUE);
        let window = Arc::new(Mutex::new(Window::for_version(self.version)));
        let more = Arc::new(Notify::new());
        self.streams.insert(id, Handle { data, window: window.clone(), more: more.clone() });
        tokio::spawn(pump(id, self.version, tcp, self.out.clone(), window, more, data_rx));
    }

    /// Bytes of mux frames from the session.
    pub async fn incoming(&mut self, bytes: &[u8]) -> Result<(), String> {
        for frame in self.decoder.push(bytes)? {
            if self.streams.is_empty() && self.dial.is_some() {
                // The node answers in the version the client opened with.
                self.version = frame.version;
            }
            match frame.command {
                SYN => match &self.dial {
                    Some((host, port)) => match TcpStream::connect((host.as_str(), *port)).await {
                        Ok(tcp) => {
                            let _ = tcp.set_nodelay(true);
                            self.attach(frame.stream, tcp);
                        }
                        Err(_) => {
                            let _ = self.out.send(mux::encode(self.version, FIN, frame.stream, b"")).await;
                        }
                    },
                    None => {
                        let _ = self.out.send(mux::encode(self.version, FIN, frame.stream, b"")).await;
                    }
                },
                PSH => {
                    if let Some(h) = self.streams.get(&frame.stream) {
                        let _ = h.data.send(frame.data).await;
                    }
                }
                UPD => {
                    if let (Some(h), Some((consumed, window))) =
                        (self.streams.get(&frame.stream), mux::read_update(&frame))
                    {
                        h.window.lock().expect("window lock").peer_update(consumed, window);
                        h.more.notify_one();
                    }
                }
                FIN => {
                    // The peer sends no more: the socket's write side ends once drained.
                    self.streams.remove(&frame.stream);
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// One stream: socket to session within the peer's window, session to socket with
/// updates as data is written.
async fn pump(
    id: u32,
    version: u8,
    tcp: TcpStream,
    out: mpsc::Sender<Vec<u8>>,
    window: Arc<Mutex<Window>>,
    more: Arc<Notify>,
    mut data: mpsc::Receiver<Vec<u8>>,
) {
    let (mut read, mut write) = tcp.into_split();
    let out_writer = out.clone();
    let window_writer = window.clone();
    let writer = tokio::spawn(async move {
        while let Some(bytes) = data.recv().await {
            if write.write_all(&bytes).await.is_err() {
                break;
            }
            let update = window_writer.lock().expect("window lock").consumed(bytes.len());
            if let Some((consumed, window)) = update {
                let _ = out_writer.send(mux::update(id, consumed, window)).await;
            }
        }
        let _ = write.shutdown().await;
    });
    let mut buf = vec![0u8; MAX_DATA];
    loop {
        let room = window.lock().expect("window lock").sendable().min(MAX_DATA);
        if room == 0 {
            more.notified().await;
            continue;
        }
        match read.read(&mut buf[..room]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                window.lock().expect("window lock").sent(n);
                if out.send(mux::encode(version, PSH, id, &buf[..n])).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = out.send(mux::encode(version, FIN, id, b"")).await;
    let _ = writer.await;
}

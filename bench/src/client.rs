//! The load generator's clients: the WebSocket client of syncws's tests (`wsclient`: masked
//! frames, pings answered, optional permessage-deflate) and the length-prefixed TCP client of
//! the raw-tcp baseline.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub use wsclient::Client as WsClient;

/// How long a client read may block: long, the machine is shared.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// One connection of the load generator.
pub trait Client: Send {
    /// Sends one message.
    fn send(&mut self, payload: &[u8], text: bool) -> io::Result<()>;
    /// Receives the next data message's payload.
    fn recv(&mut self) -> io::Result<Vec<u8>>;
    /// Ends the connection cleanly: a WebSocket close handshake (and TLS close_notify), then
    /// the socket is dropped. The raw TCP client just drops it.
    #[cfg(feature = "tls")]
    fn close(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Whether this connection resumed a TLS session.
    #[cfg(feature = "tls")]
    fn resumed(&self) -> bool {
        false
    }
}

/// An idle connection held by a thread that serves many.
pub trait Idle: Send {
    /// Reads what arrived and answers each ping; `Err` if the server closed.
    fn poll(&mut self) -> io::Result<()>;
    /// Pings answered so far.
    fn pings(&self) -> u64;
}

/// Connects a client of the kind that `server` speaks.
pub fn connect(server: &str, addr: SocketAddr, path: &str) -> io::Result<Box<dyn Client>> {
    Ok(match server {
        "raw-tcp" => Box::new(RawClient::connect(addr)?),
        #[cfg(feature = "tls")]
        "syncws-tls" => Box::new(crate::tls::TlsWs::open(addr, path, &crate::tls::full_handshakes()?)?),
        _ => Box::new(WsClient::open(addr, path, TIMEOUT)?),
    })
}

/// Connects an idle WebSocket of the kind that `server` speaks (pings answered by `poll`).
pub fn connect_idle(server: &str, addr: SocketAddr) -> io::Result<Box<dyn Idle>> {
    Ok(match server {
        #[cfg(feature = "tls")]
        "syncws-tls" => Box::new(crate::tls::IdleTls::connect(addr, &crate::tls::full_handshakes()?)?),
        _ => Box::new(IdleWs::connect(addr)?),
    })
}

impl Client for WsClient {
    fn send(&mut self, payload: &[u8], text: bool) -> io::Result<()> {
        self.send_message(payload, text)
    }

    fn recv(&mut self) -> io::Result<Vec<u8>> {
        Ok(self.recv_message()?.payload)
    }

    /// Close 1000, then frames until the server's close frame.
    #[cfg(feature = "tls")]
    fn close(&mut self) -> io::Result<()> {
        self.write_frame(true, 0, 8, &1000u16.to_be_bytes(), true)?;
        while self.next_frame()?.opcode != 8 {}
        Ok(())
    }
}

/// The raw-tcp baseline's framing: a 4-byte big-endian length, then the payload.
pub struct RawClient {
    stream: TcpStream,
    out: Vec<u8>,
}

impl RawClient {
    pub fn connect(addr: SocketAddr) -> io::Result<RawClient> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        Ok(RawClient { stream, out: Vec::new() })
    }
}

impl Client for RawClient {
    fn send(&mut self, payload: &[u8], _text: bool) -> io::Result<()> {
        self.out.clear();
        self.out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        self.out.extend_from_slice(payload);
        self.stream.write_all(&self.out)
    }

    fn recv(&mut self) -> io::Result<Vec<u8>> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len)?;
        let mut payload = vec![0u8; u32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut payload)?;
        Ok(payload)
    }
}

/// An idle WebSocket connection held by a thread that serves many: answers pings when
/// `poll` finds any, never blocks.
pub struct IdleWs {
    client: WsClient,
    pings: u64,
}

impl IdleWs {
    pub fn connect(addr: SocketAddr) -> io::Result<IdleWs> {
        let client = WsClient::open(addr, "/echo", TIMEOUT)?;
        client.stream.set_nonblocking(true)?;
        Ok(IdleWs { client, pings: 0 })
    }
}

impl Idle for IdleWs {
    fn pings(&self) -> u64 {
        self.pings
    }

    fn poll(&mut self) -> io::Result<()> {
        loop {
            let frame = match self.client.next_frame() {
                Ok(frame) => frame,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            };
            match frame.opcode {
                9 => {
                    self.pings += 1;
                    self.client.stream.set_nonblocking(false)?;
                    self.client.write_frame(true, 0, 10, &frame.payload, true)?;
                    self.client.stream.set_nonblocking(true)?;
                }
                8 => return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "server closed")),
                _ => {}
            }
        }
    }
}

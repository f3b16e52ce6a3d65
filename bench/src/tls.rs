//! TLS for the benchmark (feature `tls`): the server's identity (the tests' certificates,
//! compiled in) and the load generator's TLS WebSocket client.
//!
//! The client is `wsclient`'s frames (`encode_into`, `parse`, `upgrade_request`) over a rustls
//! `ClientConnection` driven by hand on a `TcpStream`: blocking for the load, non-blocking for
//! the idle connections. Every message is masked and every echo checked, as with the plain
//! client, so the two kinds of server see the same frames.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use crate::client::{Client, Idle, TIMEOUT};

const CA: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/certs/ca.pem"));
const CERT: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/certs/server.pem"));
const KEY: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/certs/server.key"));

/// The server's identity: the tests' EC P-256 certificate for localhost and 127.0.0.1.
pub fn server_tls() -> Result<syncws::ServerTls, syncws::Error> {
    syncws::ServerTls::from_pem(CERT, KEY)
}

/// The load generator's TLS configuration: ring, the tests' CA, no ALPN. Without `resume`
/// every connection does a full handshake (rustls would otherwise resume TLS 1.3 sessions from
/// its in-memory cache).
pub fn client_config(resume: bool) -> io::Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(CA) {
        roots.add(cert.map_err(io::Error::other)?).map_err(io::Error::other)?;
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    if !resume {
        config.resumption = rustls::client::Resumption::disabled();
    }
    Ok(Arc::new(config))
}

/// `client_config(false)`, built once.
pub fn full_handshakes() -> io::Result<Arc<ClientConfig>> {
    static CONFIG: std::sync::OnceLock<Arc<ClientConfig>> = std::sync::OnceLock::new();
    if let Some(c) = CONFIG.get() {
        return Ok(c.clone());
    }
    let c = client_config(false)?;
    Ok(CONFIG.get_or_init(|| c).clone())
}

/// A WebSocket over TLS after a 101 answer.
pub struct TlsWs {
    pub sock: TcpStream,
    conn: ClientConnection,
    /// Plaintext read and not yet parsed.
    input: wsclient::FrameBuf,
    /// The frame being written, reused.
    out: Vec<u8>,
}

impl TlsWs {
    /// TCP connect, TLS handshake (server name `localhost`), upgrade on `path`.
    pub fn open(addr: SocketAddr, path: &str, config: &Arc<ClientConfig>) -> io::Result<TlsWs> {
        let sock = TcpStream::connect(addr)?;
        sock.set_nodelay(true)?;
        sock.set_read_timeout(Some(TIMEOUT))?;
        let name = ServerName::try_from("localhost").map_err(io::Error::other)?;
        let conn = ClientConnection::new(config.clone(), name).map_err(io::Error::other)?;
        let mut ws = TlsWs { sock, conn, input: wsclient::FrameBuf::new(4096), out: Vec::new() };
        // Buffered by rustls until the handshake completes, then sent.
        ws.write_plain(wsclient::upgrade_request(path, "").as_bytes())?;
        let response = ws.input.read_head(&mut Plaintext { conn: &mut ws.conn, sock: &mut ws.sock })?;
        if wsclient::status(&response) != 101 {
            return Err(io::Error::new(ErrorKind::ConnectionRefused, format!("upgrade refused: {response}")));
        }
        Ok(ws)
    }

    /// The negotiated protocol version, cipher suite and key exchange group, e.g.
    /// `TLSv1_3 TLS13_AES_256_GCM_SHA384 X25519`.
    pub fn negotiated(&self) -> String {
        let version = self.conn.protocol_version().map_or("?".into(), |v| format!("{v:?}"));
        let suite = self.conn.negotiated_cipher_suite().map_or("?".into(), |s| format!("{:?}", s.suite()));
        let group =
            self.conn.negotiated_key_exchange_group().map_or("?".into(), |g| format!("{:?}", g.name()));
        format!("{version} {suite} {group}")
    }

    /// Encrypts `bytes` and writes every record out (blocks until the socket took them).
    fn write_plain(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut done = 0;
        loop {
            done += self.conn.writer().write(&bytes[done..])?;
            flush_tls(&mut self.conn, &mut self.sock)?;
            if done == bytes.len() {
                return Ok(());
            }
        }
    }

    fn write_frame(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        wsclient::encode_into(&mut out, true, 0, opcode, payload, true);
        let r = self.write_plain(&out);
        self.out = out;
        r
    }

    /// The next frame as it came.
    fn next_frame(&mut self) -> io::Result<wsclient::Frame> {
        self.input.next_frame(&mut Plaintext { conn: &mut self.conn, sock: &mut self.sock })
    }
}

/// Writes every sealed record, blocking.
fn flush_tls(conn: &mut ClientConnection, sock: &mut TcpStream) -> io::Result<()> {
    while conn.wants_write() {
        conn.write_tls(sock)?;
    }
    Ok(())
}

/// The connection's plaintext as a `Read`: decrypted bytes, reading records from the socket
/// when none are buffered (0 at `close_notify` or EOF). On a non-blocking socket, `WouldBlock`
/// when no whole record has come.
struct Plaintext<'a> {
    conn: &'a mut ClientConnection,
    sock: &'a mut TcpStream,
}

impl Read for Plaintext<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(out) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                other => return other,
            }
            // No plaintext buffered: handshake messages to send first, then records to read.
            flush_tls(self.conn, self.sock)?;
            if self.conn.read_tls(self.sock)? == 0 {
                return Ok(0);
            }
            self.conn.process_new_packets().map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
        }
    }
}

impl Client for TlsWs {
    fn send(&mut self, payload: &[u8], text: bool) -> io::Result<()> {
        self.write_frame(if text { 1 } else { 2 }, payload)
    }

    /// The next data message: fragments joined, pings answered, a close frame an error.
    fn recv(&mut self) -> io::Result<Vec<u8>> {
        let mut message: Option<wsclient::Frame> = None;
        loop {
            let f = self.next_frame()?;
            match (f.opcode, message.as_mut()) {
                (9, _) => self.write_frame(10, &f.payload)?,
                (10, _) => {}
                (8, _) => return Err(io::Error::new(ErrorKind::ConnectionAborted, "server closed")),
                (1 | 2, None) => message = Some(f),
                (0, Some(m)) => {
                    m.payload.extend_from_slice(&f.payload);
                    m.fin = f.fin;
                }
                _ => return Err(io::Error::other(format!("unexpected frame {f:?}"))),
            }
            if let Some(m) = message.take_if(|m| m.fin) {
                return Ok(m.payload);
            }
        }
    }

    /// Close 1000, wait for the server's close frame, then close_notify.
    fn close(&mut self) -> io::Result<()> {
        self.write_frame(8, &1000u16.to_be_bytes())?;
        loop {
            if self.next_frame()?.opcode == 8 {
                break;
            }
        }
        self.conn.send_close_notify();
        let _ = flush_tls(&mut self.conn, &mut self.sock);
        Ok(())
    }

    fn resumed(&self) -> bool {
        self.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed)
    }
}

/// An idle TLS WebSocket held by a thread that serves many: answers pings, never blocks
/// except to write a pong.
pub struct IdleTls {
    ws: TlsWs,
    pings: u64,
}

impl IdleTls {
    pub fn connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> io::Result<IdleTls> {
        let ws = TlsWs::open(addr, "/echo", config)?;
        ws.sock.set_nonblocking(true)?;
        Ok(IdleTls { ws, pings: 0 })
    }
}

impl Idle for IdleTls {
    fn poll(&mut self) -> io::Result<()> {
        loop {
            let frame = match self.ws.next_frame() {
                Ok(frame) => frame,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            };
            match frame.opcode {
                9 => {
                    self.pings += 1;
                    self.ws.sock.set_nonblocking(false)?;
                    self.ws.write_frame(10, &frame.payload)?;
                    self.ws.sock.set_nonblocking(true)?;
                }
                8 => return Err(io::Error::new(ErrorKind::ConnectionAborted, "server closed")),
                _ => {}
            }
        }
    }

    fn pings(&self) -> u64 {
        self.pings
    }
}

//! The load generator's clients: a minimal blocking WebSocket client (masked frames, answers
//! pings) and the length-prefixed TCP client of the raw-tcp baseline.

use std::io::{self, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const KEY: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

/// One connection of the load generator.
pub trait Client: Send {
    /// Sends one message.
    fn send(&mut self, payload: &[u8], text: bool) -> io::Result<()>;
    /// Receives the next data message's payload.
    fn recv(&mut self) -> io::Result<Vec<u8>>;
}

/// Connects a client of the kind that `server` speaks.
pub fn connect(server: &str, addr: SocketAddr, path: &str) -> io::Result<Box<dyn Client>> {
    Ok(if server == "raw-tcp" {
        Box::new(RawClient::connect(addr)?)
    } else {
        Box::new(WsClient::connect(addr, path)?)
    })
}

pub struct WsClient {
    write: TcpStream,
    read: BufReader<TcpStream>,
    out: Vec<u8>,
    /// permessage-deflate state (context takeover both ways), when negotiated.
    deflate: Option<(flate2::Compress, flate2::Decompress)>,
}

impl WsClient {
    pub fn connect(addr: SocketAddr, path: &str) -> io::Result<WsClient> {
        Self::open(addr, path, false)
    }

    /// Like `connect`, offering permessage-deflate and compressing what it sends.
    pub fn connect_deflate(addr: SocketAddr, path: &str) -> io::Result<WsClient> {
        let c = Self::open(addr, path, true)?;
        if c.deflate.is_none() {
            return Err(io::Error::other("server did not accept permessage-deflate"));
        }
        Ok(c)
    }

    fn open(addr: SocketAddr, path: &str, offer_deflate: bool) -> io::Result<WsClient> {
        let extension = if offer_deflate { "Sec-WebSocket-Extensions: permessage-deflate\r\n" } else { "" };
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut write = stream.try_clone()?;
        write.write_all(
            format!(
                "GET {path} HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extension}\r\n"
            )
            .as_bytes(),
        )?;
        let mut read = BufReader::with_capacity(64 * 1024, stream);
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            read.read_exact(&mut b)?;
            head.push(b[0]);
        }
        if !head.starts_with(b"HTTP/1.1 101") {
            return Err(io::Error::other(format!("upgrade refused: {}", String::from_utf8_lossy(&head))));
        }
        let negotiated = String::from_utf8_lossy(&head).to_ascii_lowercase().contains("permessage-deflate");
        let deflate = (offer_deflate && negotiated).then(|| {
            (flate2::Compress::new(flate2::Compression::default(), false), flate2::Decompress::new(false))
        });
        Ok(WsClient { write, read, out: Vec::new(), deflate })
    }

    fn frame(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        self.frame_rsv(opcode, 0, payload)
    }

    fn frame_rsv(&mut self, opcode: u8, rsv: u8, payload: &[u8]) -> io::Result<()> {
        self.out.clear();
        self.out.push(0x80 | (rsv << 4) | opcode);
        match payload.len() {
            n if n < 126 => self.out.push(0x80 | n as u8),
            n if n <= 0xffff => {
                self.out.push(0x80 | 126);
                self.out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                self.out.push(0x80 | 127);
                self.out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        self.out.extend_from_slice(&KEY);
        let start = self.out.len();
        self.out.extend_from_slice(payload);
        for (i, b) in self.out[start..].iter_mut().enumerate() {
            *b ^= KEY[i & 3];
        }
        self.write.write_all(&self.out)
    }
}

impl Client for WsClient {
    fn send(&mut self, payload: &[u8], text: bool) -> io::Result<()> {
        let opcode = if text { 1 } else { 2 };
        let Some((c, _)) = self.deflate.as_mut() else { return self.frame(opcode, payload) };
        let mut z = Vec::with_capacity(payload.len() + 64);
        c.compress_vec(payload, &mut z, flate2::FlushCompress::Sync).map_err(io::Error::other)?;
        z.truncate(z.len().saturating_sub(4));
        self.frame_rsv(opcode, 0b100, &z)
    }

    fn recv(&mut self) -> io::Result<Vec<u8>> {
        loop {
            let mut h = [0u8; 2];
            self.read.read_exact(&mut h)?;
            let len = match h[1] & 0x7f {
                126 => {
                    let mut l = [0u8; 2];
                    self.read.read_exact(&mut l)?;
                    u16::from_be_bytes(l) as usize
                }
                127 => {
                    let mut l = [0u8; 8];
                    self.read.read_exact(&mut l)?;
                    u64::from_be_bytes(l) as usize
                }
                n => n as usize,
            };
            let mut payload = vec![0u8; len];
            self.read.read_exact(&mut payload)?;
            if h[0] & 0x40 != 0 {
                let (_, d) = self.deflate.as_mut().ok_or_else(|| io::Error::other("RSV1 without deflate"))?;
                payload.extend_from_slice(&[0, 0, 0xff, 0xff]);
                let mut out = Vec::with_capacity(payload.len() * 8 + 1024);
                let before = d.total_in();
                d.decompress_vec(&payload, &mut out, flate2::FlushDecompress::Sync)
                    .map_err(io::Error::other)?;
                if (d.total_in() - before) as usize != payload.len() {
                    return Err(io::Error::other("inflate output buffer too small"));
                }
                payload = out;
            }
            match h[0] & 0x0f {
                9 => self.frame(10, &payload)?,
                8 => return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "server closed")),
                10 => {}
                _ => return Ok(payload),
            }
        }
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
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
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
    stream: TcpStream,
    buf: Vec<u8>,
    pub pings: u64,
}

impl IdleWs {
    pub fn connect(addr: SocketAddr) -> io::Result<IdleWs> {
        let c = WsClient::connect(addr, "/echo")?;
        let stream = c.read.into_inner();
        stream.set_nonblocking(true)?;
        Ok(IdleWs { stream, buf: Vec::new(), pings: 0 })
    }

    /// Reads what arrived and answers each ping; `Err` if the server closed.
    pub fn poll(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 512];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        // Control frames from the server: 2-byte header, payload under 126 bytes.
        while self.buf.len() >= 2 && self.buf.len() >= 2 + (self.buf[1] & 0x7f) as usize {
            let len = (self.buf[1] & 0x7f) as usize;
            let opcode = self.buf[0] & 0x0f;
            let payload: Vec<u8> = self.buf[2..2 + len].to_vec();
            self.buf.drain(..2 + len);
            match opcode {
                9 => {
                    self.pings += 1;
                    let mut pong = vec![0x8a, 0x80 | len as u8];
                    pong.extend_from_slice(&KEY);
                    pong.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i & 3]));
                    self.stream.set_nonblocking(false)?;
                    self.stream.write_all(&pong)?;
                    self.stream.set_nonblocking(true)?;
                }
                8 => return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "server closed")),
                _ => {}
            }
        }
        Ok(())
    }
}

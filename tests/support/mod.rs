//! Test support: a server on 127.0.0.1:0 and a raw WebSocket client that writes frames byte by
//! byte, so tests can break every rule on purpose. Every read has a timeout.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use syncws::{Server, ServerHandle};

/// How long any single read in a test may block.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

pub fn start(server: Server) -> ServerHandle {
    server.bind("127.0.0.1:0").expect("bind 127.0.0.1:0")
}

pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A plain upgrade request for `path` with extra header lines.
pub fn upgrade_request(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n{extra}\r\n"
    )
}

/// Sends `request` and reads the whole HTTP response until the server closes.
pub fn http(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The status code of an HTTP response text.
pub fn status(response: &str) -> u16 {
    response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub masked: bool,
    pub payload: Vec<u8>,
}

impl Frame {
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.payload).unwrap()
    }

    /// (code, reason) of a close frame.
    pub fn close(&self) -> (u16, String) {
        assert_eq!(self.opcode, 8, "expected a close frame, got {self:?}");
        if self.payload.len() < 2 {
            return (1005, String::new());
        }
        let code = u16::from_be_bytes([self.payload[0], self.payload[1]]);
        (code, String::from_utf8_lossy(&self.payload[2..]).into_owned())
    }
}

pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
    pub response: String,
}

impl Client {
    /// Opens a WebSocket on `path`; panics unless the server answers 101.
    pub fn connect(addr: SocketAddr, path: &str) -> Client {
        Self::connect_with(addr, &upgrade_request(path, "")).expect("upgrade refused")
    }

    /// Sends `request`; `Err(response)` unless the answer is 101.
    pub fn connect_with(addr: SocketAddr, request: &str) -> Result<Client, String> {
        Self::connect_with_bytes(addr, request.as_bytes())
    }

    /// Sends raw `request` bytes (which may include frames after the head).
    pub fn connect_with_bytes(addr: SocketAddr, request: &[u8]) -> Result<Client, String> {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream.write_all(request).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = stream.read(&mut chunk).expect("read handshake response");
            if n == 0 {
                return Err(String::from_utf8_lossy(&buf).into_owned());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let response = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        if status(&response) != 101 {
            return Err(response);
        }
        Ok(Client { stream, buf, response })
    }

    /// A response header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<String> {
        self.response.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    /// Writes one frame, masked with a fixed non-zero key unless `masked` is false.
    pub fn send_frame(&mut self, fin: bool, opcode: u8, payload: &[u8], masked: bool) {
        let bytes = encode(fin, 0, opcode, payload, masked);
        self.stream.write_all(&bytes).unwrap();
    }

    pub fn send_text(&mut self, text: &str) {
        self.send_frame(true, 1, text.as_bytes(), true);
    }

    pub fn send_binary(&mut self, data: &[u8]) {
        self.send_frame(true, 2, data, true);
    }

    /// Sends a close frame with `code` and `reason`.
    pub fn send_close(&mut self, code: u16, reason: &str) {
        let mut p = code.to_be_bytes().to_vec();
        p.extend_from_slice(reason.as_bytes());
        self.send_frame(true, 8, &p, true);
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    fn fill(&mut self, need: usize) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        while self.buf.len() < need {
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return false,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
        true
    }

    /// The next frame, or `None` at EOF / timeout.
    pub fn read_frame(&mut self) -> Option<Frame> {
        if !self.fill(2) {
            return None;
        }
        let (b0, b1) = (self.buf[0], self.buf[1]);
        let masked = b1 & 0x80 != 0;
        let (len, mut at) = match b1 & 0x7f {
            126 => {
                if !self.fill(4) {
                    return None;
                }
                (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
            }
            127 => {
                if !self.fill(10) {
                    return None;
                }
                (u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize, 10)
            }
            n => (n as usize, 2),
        };
        let mask = if masked {
            if !self.fill(at + 4) {
                return None;
            }
            let m = [self.buf[at], self.buf[at + 1], self.buf[at + 2], self.buf[at + 3]];
            at += 4;
            Some(m)
        } else {
            None
        };
        if !self.fill(at + len) {
            return None;
        }
        let mut payload: Vec<u8> = self.buf[at..at + len].to_vec();
        if let Some(m) = mask {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= m[i % 4];
            }
        }
        self.buf.drain(..at + len);
        Some(Frame { fin: b0 & 0x80 != 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload })
    }

    /// The next data frame, answering nothing and skipping pings/pongs.
    pub fn read_data(&mut self) -> Option<Frame> {
        loop {
            let f = self.read_frame()?;
            if f.opcode != 9 && f.opcode != 10 {
                return Some(f);
            }
        }
    }

    /// Reads frames until a close frame arrives; returns its (code, reason).
    pub fn expect_close(&mut self) -> (u16, String) {
        for _ in 0..10_000 {
            match self.read_frame() {
                Some(f) if f.opcode == 8 => return f.close(),
                Some(_) => {}
                None => panic!("connection ended without a close frame"),
            }
        }
        panic!("no close frame among 10000 frames");
    }

    /// Whether the server closed TCP (EOF) within the read timeout.
    pub fn sees_eof(&mut self) -> bool {
        let deadline = Instant::now() + READ_TIMEOUT;
        let mut chunk = [0u8; 1024];
        while Instant::now() < deadline {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
            }
        }
        false
    }
}

/// Encodes a client frame (mask key 0x37fa213d when masked).
pub fn encode(fin: bool, rsv: u8, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut v = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    let m = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => v.push(m | n as u8),
        n if n <= 0xffff => {
            v.push(m | 126);
            v.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            v.push(m | 127);
            v.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        v.extend_from_slice(&key);
        v.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        v.extend_from_slice(payload);
    }
    v
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

use crossbeam_channel::{Receiver, Sender};
use syncws::{CloseReason, Config, Handler, Message, Session};

/// What a [`Recorder`] saw, in order.
#[derive(Debug, Clone)]
pub enum Event {
    Open(Session),
    Message(Message),
    Error(String),
    Close(CloseReason),
}

/// A handler that echoes and reports every event on a channel.
pub struct Recorder {
    pub events: Sender<Event>,
}

impl Handler for Recorder {
    fn on_open(&mut self, session: &Session) {
        let _ = self.events.send(Event::Open(session.clone()));
    }
    fn on_message(&mut self, session: &Session, message: Message) {
        let _ = self.events.send(Event::Message(message.clone()));
        if message.as_text() == Some("panic") {
            panic!("handler asked to panic");
        }
        let _ = session.send(message);
    }
    fn on_error(&mut self, _session: &Session, error: &syncws::Error) {
        let _ = self.events.send(Event::Error(error.to_string()));
    }
    fn on_close(&mut self, _session: &Session, reason: &CloseReason) {
        let _ = self.events.send(Event::Close(reason.clone()));
    }
}

/// A server with a recording echo handler on `/echo`.
pub fn recording(config: Config) -> (ServerHandle, Receiver<Event>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let server = start(Server::new(config).route("/echo", move || Recorder { events: tx.clone() }));
    (server, rx)
}

/// The next event, within the read timeout.
pub fn next(events: &Receiver<Event>) -> Event {
    events.recv_timeout(READ_TIMEOUT).expect("no event in time")
}

/// Skips events until the close event; returns its reason.
pub fn close_event(events: &Receiver<Event>) -> CloseReason {
    for _ in 0..1000 {
        if let Event::Close(r) = next(events) {
            return r;
        }
    }
    panic!("no close event");
}

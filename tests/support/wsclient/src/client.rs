//! [`Client`]: one connection, read through a growing buffer, written one frame per
//! `write_all`. Frame methods are raw and panic (tests); message methods are complete and
//! return `io::Result` (the load generator).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::buffer::FrameBuf;
#[cfg(feature = "deflate")]
use crate::deflate::{Deflater, Inflater};
use crate::frame::{self, Frame};
use crate::handshake::{self, READ_TIMEOUT};

/// The first size of the read buffer: a handshake answer or many small frames. It grows to fit
/// the largest frame (doubling), so that thousands of idle clients stay small.
const FIRST_BUFFER: usize = 1024;

/// A client connection after a 101 answer.
#[derive(Debug)]
pub struct Client {
    /// The socket, for timeouts, shutdowns and reads that bypass the buffer.
    pub stream: TcpStream,
    /// The server's response head, up to and with its blank line.
    pub response: String,
    /// Bytes read and not yet parsed.
    input: FrameBuf,
    /// The frame being written, reused.
    out: Vec<u8>,
    #[cfg(feature = "deflate")]
    deflate: Option<Deflate>,
}

/// Negotiated permessage-deflate state, both ways.
#[cfg(feature = "deflate")]
#[derive(Debug)]
struct Deflate {
    deflater: Deflater,
    inflater: Inflater,
    /// `client_no_context_takeover` was answered: a fresh context per message sent.
    reset_each: bool,
}

impl Client {
    /// Opens a WebSocket on `path`; panics unless the server answers 101.
    pub fn connect(addr: SocketAddr, path: &str) -> Client {
        Self::connect_with(addr, &handshake::upgrade_request(path, "")).expect("upgrade refused")
    }

    /// Sends `request`; `Err(response)` unless the answer is 101.
    pub fn connect_with(addr: SocketAddr, request: &str) -> Result<Client, String> {
        Self::connect_with_bytes(addr, request.as_bytes())
    }

    /// Sends raw `request` bytes (which may include frames after the head); `Err(response)`
    /// unless the answer is 101 (what came before EOF, if the server closed first).
    pub fn connect_with_bytes(addr: SocketAddr, request: &[u8]) -> Result<Client, String> {
        Self::upgrade(addr, request, READ_TIMEOUT).expect("read handshake response")
    }

    /// Opens a WebSocket on `path` whose reads time out after `timeout`; a refusal is an error.
    pub fn open(addr: SocketAddr, path: &str, timeout: Duration) -> io::Result<Client> {
        let request = handshake::upgrade_request(path, "");
        Self::upgrade(addr, request.as_bytes(), timeout)?.map_err(refused)
    }

    /// Like [`Client::open`], offering permessage-deflate: an error unless it is accepted.
    /// [`Client::send_message`] then compresses and [`Client::recv_message`] inflates.
    #[cfg(feature = "deflate")]
    pub fn open_deflate(addr: SocketAddr, path: &str, timeout: Duration) -> io::Result<Client> {
        let request = handshake::upgrade_request(path, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        let mut c = Self::upgrade(addr, request.as_bytes(), timeout)?.map_err(refused)?;
        let answer = c.header("sec-websocket-extensions").unwrap_or_default().to_ascii_lowercase();
        if !answer.starts_with("permessage-deflate") {
            return Err(io::Error::other("server did not accept permessage-deflate"));
        }
        let reset_each = answer.contains("client_no_context_takeover");
        c.deflate = Some(Deflate { deflater: Deflater::new(), inflater: Inflater::new(), reset_each });
        Ok(c)
    }

    /// Sends `request` and reads the answer's head: `Ok(Err(head))` unless it is 101.
    fn upgrade(addr: SocketAddr, request: &[u8], timeout: Duration) -> io::Result<Result<Client, String>> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        stream.write_all(request)?;
        let mut c = Client {
            stream,
            response: String::new(),
            input: FrameBuf::new(FIRST_BUFFER),
            out: Vec::new(),
            #[cfg(feature = "deflate")]
            deflate: None,
        };
        c.response = match c.input.read_head(&mut c.stream) {
            Ok(head) => head,
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                return Ok(Err(String::from_utf8_lossy(c.input.buffered()).into_owned()));
            }
            Err(e) => return Err(e),
        };
        if handshake::status(&c.response) != 101 {
            return Ok(Err(c.response));
        }
        Ok(Ok(c))
    }

    /// A response header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<String> {
        handshake::header(&self.response, name)
    }

    /// Writes one frame, masked with [`frame::MASK_KEY`] unless `masked` is false; panics if
    /// the write fails.
    pub fn send_frame(&mut self, fin: bool, opcode: u8, payload: &[u8], masked: bool) {
        self.write_frame(fin, 0, opcode, payload, masked).expect("send frame");
    }

    /// A masked text frame.
    pub fn send_text(&mut self, text: &str) {
        self.send_frame(true, 1, text.as_bytes(), true);
    }

    /// A masked binary frame.
    pub fn send_binary(&mut self, data: &[u8]) {
        self.send_frame(true, 2, data, true);
    }

    /// Sends a close frame with `code` and `reason`.
    pub fn send_close(&mut self, code: u16, reason: &str) {
        let mut p = code.to_be_bytes().to_vec();
        p.extend_from_slice(reason.as_bytes());
        self.send_frame(true, 8, &p, true);
    }

    /// Writes `bytes` as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Writes `bytes` one byte per write, `pause` apart; `false` once a write fails (the
    /// server cut the connection).
    pub fn send_bytewise(&mut self, bytes: &[u8], pause: Duration) -> bool {
        for b in bytes {
            if self.stream.write_all(&[*b]).is_err() {
                return false;
            }
            if !pause.is_zero() {
                std::thread::sleep(pause);
            }
        }
        true
    }

    /// Writes one frame with any RSV bits and opcode; one `write_all`.
    pub fn write_frame(
        &mut self,
        fin: bool,
        rsv: u8,
        opcode: u8,
        payload: &[u8],
        masked: bool,
    ) -> io::Result<()> {
        self.out.clear();
        frame::encode_into(&mut self.out, fin, rsv, opcode, payload, masked);
        self.stream.write_all(&self.out)
    }

    /// The next frame, or `None` at EOF, timeout or error.
    pub fn read_frame(&mut self) -> Option<Frame> {
        self.next_frame().ok()
    }

    /// The next frame as it came (still compressed, if it was); `UnexpectedEof` at EOF. On a
    /// non-blocking socket, `WouldBlock` keeps what arrived of a frame for the next call.
    pub fn next_frame(&mut self) -> io::Result<Frame> {
        self.input.next_frame(&mut self.stream)
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
                Err(e) => return e.kind() == ErrorKind::ConnectionReset,
            }
        }
        false
    }

    /// Sends one message in one masked frame, compressed if permessage-deflate was opened.
    pub fn send_message(&mut self, payload: &[u8], text: bool) -> io::Result<()> {
        let opcode = if text { 1 } else { 2 };
        #[cfg(feature = "deflate")]
        if let Some(z) = self.deflate.as_mut() {
            let compressed = z.deflater.compress(payload)?;
            if z.reset_each {
                z.deflater.reset();
            }
            return self.write_frame(true, 0b100, opcode, &compressed, true);
        }
        self.write_frame(true, 0, opcode, payload, true)
    }

    /// The next data message, whole: fragments joined, pings answered, pongs skipped, inflated
    /// if compressed. The result's `fin` is true and `rsv` 0. A close frame is an error
    /// (`ConnectionAborted`, with its code), as is any frame out of place.
    pub fn recv_message(&mut self) -> io::Result<Frame> {
        let mut message: Option<Frame> = None;
        loop {
            let f = self.next_frame()?;
            match (f.opcode, message.as_mut()) {
                (9, _) => self.write_frame(true, 0, 10, &f.payload, true)?,
                (10, _) => {}
                (8, _) => {
                    let (code, reason) = f.close();
                    let text = format!("server closed: {code} {reason}");
                    return Err(io::Error::new(ErrorKind::ConnectionAborted, text));
                }
                (1 | 2, None) => message = Some(f),
                (0, Some(m)) => {
                    m.payload.extend_from_slice(&f.payload);
                    m.fin = f.fin;
                }
                _ => return Err(io::Error::other(format!("unexpected frame {f:?}"))),
            }
            if let Some(m) = message.take_if(|m| m.fin) {
                return self.inflated(m);
            }
        }
    }

    #[cfg(feature = "deflate")]
    fn inflated(&mut self, mut m: Frame) -> io::Result<Frame> {
        if m.rsv & 0b100 != 0 {
            let z = self.deflate.as_mut().ok_or_else(|| io::Error::other("RSV1 without deflate"))?;
            m.payload = z.inflater.inflate(&m.payload)?;
            m.rsv &= 0b011;
        }
        Ok(m)
    }

    #[cfg(not(feature = "deflate"))]
    fn inflated(&mut self, m: Frame) -> io::Result<Frame> {
        Ok(m)
    }
}

fn refused(response: String) -> io::Error {
    io::Error::new(ErrorKind::ConnectionRefused, format!("upgrade refused: {response}"))
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::thread;

    use super::*;
    use crate::frame::encode;

    /// A fake server on loopback: answers the handshake with `head`, writes `script`, then
    /// returns every byte the client sent after its request.
    fn fake_server(head: &'static str, script: Vec<u8>) -> (SocketAddr, thread::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
            let mut got = Vec::new();
            let mut b = [0u8; 1];
            while !got.ends_with(b"\r\n\r\n") {
                s.read_exact(&mut b).unwrap();
                got.push(b[0]);
            }
            s.write_all(head.as_bytes()).unwrap();
            // Byte by byte, so that the client's buffer sees every partial frame.
            for b in &script {
                s.write_all(&[*b]).unwrap();
            }
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest);
            rest
        });
        (addr, server)
    }

    const OK: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nX-Test: yes\r\n\r\n";

    #[test]
    fn a_message_is_joined_from_fragments_and_pings_are_answered() {
        let script = [
            encode(false, 0, 2, b"hel", false),
            encode(true, 0, 9, b"p", false),
            encode(false, 0, 0, b"lo ", false),
            encode(true, 0, 10, b"", false),
            encode(true, 0, 0, &[b'x'; 3000], false),
            encode(true, 0, 8, &1000u16.to_be_bytes(), false),
        ]
        .concat();
        let (addr, server) = fake_server(OK, script);
        let mut c = Client::open(addr, "/", READ_TIMEOUT).unwrap();
        assert_eq!(c.header("x-test").as_deref(), Some("yes"));
        let m = c.recv_message().unwrap();
        assert_eq!((m.fin, m.rsv, m.opcode), (true, 0, 2));
        assert_eq!(m.payload, [b"hello ".as_slice(), &[b'x'; 3000]].concat());
        assert_eq!(c.recv_message().unwrap_err().kind(), ErrorKind::ConnectionAborted);
        c.send_message(b"bye", true).unwrap();
        drop(c);
        let sent = server.join().unwrap();
        assert_eq!(sent, [encode(true, 0, 10, b"p", true), encode(true, 0, 1, b"bye", true)].concat());
    }

    #[test]
    fn frames_come_raw_and_bytes_go_bytewise() {
        let script = [encode(true, 5, 3, b"odd", true), encode(false, 0, 1, b"", false)].concat();
        let (addr, server) = fake_server(OK, script);
        let mut c = Client::connect(addr, "/");
        let f = c.read_frame().unwrap();
        assert_eq!((f.fin, f.rsv, f.opcode, f.masked, f.payload.as_slice()), (true, 5, 3, true, &b"odd"[..]));
        assert!(!c.read_frame().unwrap().fin);
        assert!(c.send_bytewise(b"abc", Duration::ZERO));
        drop(c);
        assert_eq!(server.join().unwrap(), b"abc");
    }

    #[test]
    fn a_refusal_hands_back_the_response() {
        let (addr, server) = fake_server("HTTP/1.1 403 Forbidden\r\n\r\n", Vec::new());
        let refused = Client::connect_with(addr, &handshake::upgrade_request("/", "")).unwrap_err();
        assert_eq!(handshake::status(&refused), 403);
        server.join().unwrap();
        let (addr, server) = fake_server("HTTP/1.1 403 Forbidden\r\n\r\n", Vec::new());
        assert_eq!(Client::open(addr, "/", READ_TIMEOUT).unwrap_err().kind(), ErrorKind::ConnectionRefused);
        server.join().unwrap();
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn deflate_messages_are_compressed_both_ways() {
        let text = b"compress me, compress me! ".repeat(40);
        let z = crate::compress(&text);
        let script = [encode(false, 4, 1, &z[..10], false), encode(true, 0, 0, &z[10..], false)].concat();
        let head = "HTTP/1.1 101 Switching Protocols\r\n\
                    Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n\r\n";
        let (addr, server) = fake_server(head, script);
        let mut c = Client::open_deflate(addr, "/", READ_TIMEOUT).unwrap();
        let m = c.recv_message().unwrap();
        assert_eq!((m.rsv, m.opcode, m.payload.as_slice()), (0, 1, text.as_slice()));
        c.send_message(&text, true).unwrap();
        c.send_message(&text, true).unwrap();
        drop(c);
        // No context takeover: both messages compress alike, each from a fresh context.
        let one = encode(true, 4, 1, &z, true);
        assert_eq!(server.join().unwrap(), [one.clone(), one].concat());
        let (addr, server) = fake_server(OK, Vec::new());
        assert!(Client::open_deflate(addr, "/", READ_TIMEOUT).is_err(), "not accepted");
        server.join().unwrap();
    }
}

//! One connection's TLS session, shared by its reader and its writers.
//!
//! rustls keeps both directions in one state (`rustls::Connection`), behind one lock here.
//! Nobody holds that lock while waiting for the network:
//!
//! - the reader waits in `recv` on the socket holding only its own ciphertext buffer (the
//!   inbox), then takes the lock to decrypt what came and to copy out plaintext;
//! - a writer takes the lock to seal a frame into records and to hand the socket what it takes
//!   without blocking (`MSG_DONTWAIT`), then lets go and waits in `poll` for room if some is
//!   left.
//!
//! Records leave in the order they were sealed because every byte of ciphertext goes to the
//! socket from rustls's own send buffer, under the lock, front first; and writers seal in
//! the order the connection's wire lock gives them (see `connection::direct`). Bytes the reader
//! makes rustls send (an alert, a key update) join the same buffer.

use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::sync::{Mutex, MutexGuard};

use rustls::Connection;

use super::failure::{from_rustls, io_error};
use crate::error::TlsError;
use crate::transport::stream::Sent;
use crate::transport::sys;

/// Plaintext sealed at a time: a large frame is sealed and sent in pieces of this size, so that
/// the ciphertext waiting in rustls stays this small (not the size of a 16 MiB message); larger
/// frames are never written directly.
const SEAL_CHUNK: usize = 64 * 1024;

/// Ciphertext read per `recv` at most. rustls keeps a record (up to 16 KiB) itself until it
/// is complete; this only sets how much one system call takes.
const INBOX: usize = 8 * 1024;

/// Ciphertext read from the socket and not yet given to rustls: `buf[start..end]`. It holds
/// bytes only while rustls's plaintext buffer is full.
#[derive(Debug, Default)]
struct Inbox {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Whether any byte was ever read (the first ones tell plain HTTP from TLS).
    started: bool,
}

/// One connection's TLS state.
pub(crate) struct TlsSession {
    state: Mutex<Connection>,
    inbox: Mutex<Inbox>,
}

impl std::fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSession").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The socket as rustls's writer: one non-blocking `sendmsg` per call.
struct NonBlocking<'a>(&'a TcpStream);

impl Write for NonBlocking<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        sys::send_nonblocking(self.0, &[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        sys::send_nonblocking(self.0, bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TlsSession {
    /// A session over a new connection (server or client side), before its handshake.
    pub(crate) fn new(mut connection: Connection) -> TlsSession {
        // Sealed records wait in rustls until the socket takes them; how many is bounded by
        // the writers (one batch of the write loop, or one direct frame), not by rustls.
        connection.set_buffer_limit(None);
        TlsSession { state: Mutex::new(connection), inbox: Mutex::new(Inbox::default()) }
    }

    /// Runs the handshake to its end on the connection's only thread so far; a timer cutting
    /// the socket ends it. The answer's last flight (and a server's session tickets) is
    /// written before it returns.
    pub(crate) fn handshake(&self, tcp: &TcpStream) -> io::Result<()> {
        let mut inbox = lock(&self.inbox);
        loop {
            let handshaking = {
                let mut tls = lock(&self.state);
                write_all_blocking(&mut tls, tcp)?;
                tls.is_handshaking()
            };
            if !handshaking {
                return Ok(());
            }
            if inbox.fill(tcp)? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed during the TLS handshake"));
            }
            let mut tls = lock(&self.state);
            if let Err(e) = feed(&mut tls, &mut inbox) {
                // The alert rustls queued tells the peer why.
                let _ = write_all_blocking(&mut tls, tcp);
                return Err(e);
            }
        }
    }

    /// Reads decrypted bytes into `out`, waiting for the peer without holding the session.
    /// `Ok(0)` once the peer's `close_notify` has come; `UnexpectedEof` if TCP ended without.
    pub(crate) fn read(&self, tcp: &TcpStream, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let mut inbox = lock(&self.inbox);
        loop {
            {
                let mut tls = lock(&self.state);
                let fed = feed(&mut tls, &mut inbox);
                if fed.is_err() || tls.wants_write() {
                    // An alert after a failure, or a key update: sent now if the socket takes
                    // it, by the next writer otherwise (in order either way).
                    let _ = write_nonblocking(&mut tls, tcp);
                }
                fed?;
                match tls.reader().read(out) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            if inbox.fill(tcp)? == 0 {
                // No more input: rustls tells a clean close from a truncated one.
                let mut tls = lock(&self.state);
                tls.read_tls(&mut io::empty())?;
                return match tls.reader().read(out) {
                    Ok(n) => Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        Err(io::ErrorKind::UnexpectedEof.into())
                    }
                    Err(e) => Err(e),
                };
            }
        }
    }

    /// Seals `head` then `body` into records, after those sealed before, and writes them all,
    /// blocking: [`SEAL_CHUNK`] bytes at a time, each written before the next is sealed.
    pub(crate) fn write_all(&self, tcp: &TcpStream, head: &[u8], body: &[u8]) -> io::Result<()> {
        let (mut head, mut body) = (head, body);
        loop {
            let take = body.len().min(SEAL_CHUNK.saturating_sub(head.len()).max(1));
            {
                let mut tls = lock(&self.state);
                seal_into(&mut tls, head, &body[..take])?;
                // Out now if the socket takes it: the flush then has nothing to wait for.
                write_nonblocking(&mut tls, tcp)?;
            }
            self.flush(tcp)?;
            head = &[];
            body = &body[take..];
            if body.is_empty() {
                return Ok(());
            }
        }
    }

    /// A frame written without blocking: nothing if sealed bytes already wait (the write loop
    /// writes them, then the frame) or if the frame is larger than [`SEAL_CHUNK`], else sealed,
    /// and what the socket takes sent.
    pub(crate) fn send_direct(&self, tcp: &TcpStream, head: &[u8], body: &[u8]) -> io::Result<Sent> {
        if head.len() + body.len() > SEAL_CHUNK {
            return Ok(Sent::Nothing);
        }
        let mut tls = lock(&self.state);
        if tls.wants_write() {
            return Ok(Sent::Nothing);
        }
        seal_into(&mut tls, head, body)?;
        Ok(if write_nonblocking(&mut tls, tcp)? { Sent::All } else { Sent::Part })
    }

    /// The certificate chain the peer showed (DER, leaf first), once the handshake is done.
    pub(crate) fn peer_certificates(&self) -> Vec<Vec<u8>> {
        let tls = lock(&self.state);
        tls.peer_certificates()
            .map(|chain| chain.iter().map(|c| c.as_ref().to_vec()).collect())
            .unwrap_or_default()
    }

    /// Whether sealed bytes wait for the socket.
    pub(crate) fn has_unsent(&self) -> bool {
        lock(&self.state).wants_write()
    }

    /// Writes every sealed byte, waiting for room in `poll` with the session unlocked. Each
    /// wait is bounded by the socket's write timeout if one is set (the HTTP answers set one);
    /// a WebSocket connection sets none: the timer's cut of a stuck peer ends it, as it ends a
    /// blocked write on a plain connection.
    pub(crate) fn flush(&self, tcp: &TcpStream) -> io::Result<()> {
        loop {
            if write_nonblocking(&mut lock(&self.state), tcp)? {
                return Ok(());
            }
            sys::wait_writable(tcp, tcp.write_timeout()?)?;
        }
    }

    /// Sends `close_notify` after everything sealed (best effort: a failed write only means
    /// the peer is gone).
    pub(crate) fn close_notify(&self, tcp: &TcpStream) {
        lock(&self.state).send_close_notify();
        let _ = self.flush(tcp);
    }
}

/// Hands rustls the inbox's bytes and decrypts them, until the inbox is empty or rustls's
/// plaintext buffer is full (the reader empties it first).
fn feed(tls: &mut Connection, inbox: &mut Inbox) -> io::Result<()> {
    while inbox.start < inbox.end {
        let mut pending = &inbox.buf[inbox.start..inbox.end];
        match tls.read_tls(&mut pending) {
            // The peer's close_notify has come: rustls takes nothing more, and whatever
            // follows it is to be ignored (RFC 8446 §6.1). Dropped, or this loop would spin.
            Ok(0) => {
                inbox.start = inbox.end;
                return Ok(());
            }
            Ok(n) => inbox.consume(n),
            // "received plaintext buffer full": the reader takes what is decrypted first.
            Err(_) if !tls.wants_read() => return Ok(()),
            Err(e) => return Err(e),
        }
        if let Err(e) = tls.process_new_packets() {
            return Err(io_error(from_rustls(&e)));
        }
    }
    Ok(())
}

/// Seals `head` then `body` (as few records as their size allows).
fn seal_into(tls: &mut Connection, head: &[u8], body: &[u8]) -> io::Result<()> {
    let (mut a, mut b) = (head, body);
    while !a.is_empty() || !b.is_empty() {
        // After the reader met a TLS failure, rustls refuses to seal with that failure: typed
        // here, so that it is reported as the TLS error it is, whichever thread meets it.
        let n = tls.writer().write_vectored(&[IoSlice::new(a), IoSlice::new(b)]).map_err(|e| {
            match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                Some(failure) => io_error(from_rustls(failure)),
                None => e,
            }
        })?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        if n < a.len() {
            a = &a[n..];
        } else {
            b = &b[n - a.len()..];
            a = &[];
        }
    }
    Ok(())
}

/// Sends sealed bytes until none are left (`true`) or the socket takes no more (`false`).
fn write_nonblocking(tls: &mut Connection, tcp: &TcpStream) -> io::Result<bool> {
    while tls.wants_write() {
        match tls.write_tls(&mut NonBlocking(tcp)) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Sends every sealed byte with blocking writes: only while the handshake runs, when no
/// other thread uses the connection.
fn write_all_blocking(tls: &mut Connection, mut tcp: &TcpStream) -> io::Result<()> {
    while tls.wants_write() {
        tls.write_tls(&mut tcp)?;
    }
    Ok(())
}

impl Inbox {
    /// Reads from the socket into the free space, blocking (no session lock is held).
    /// Returns the bytes read (0 at EOF).
    fn fill(&mut self, mut tcp: &TcpStream) -> io::Result<usize> {
        if self.buf.is_empty() {
            self.buf = vec![0; INBOX];
        }
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start == 0 {
                // Never read into no room (that would read as EOF): the reader gives rustls
                // what the inbox holds before it reads more, so this cannot happen unless
                // rustls refuses input it said it wanted.
                return Err(io::Error::other("TLS input buffer full"));
            }
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = loop {
            match tcp.read(&mut self.buf[self.end..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        self.end += n;
        if n > 0 && !self.started {
            self.started = true;
            if self.plain_http() {
                return Err(io_error(TlsError::NotTls));
            }
        }
        Ok(n)
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
    }

    /// Whether the peer's first bytes (just read) are plain HTTP rather than a TLS record: a
    /// request (`GET /`) or a status line (`HTTP/1.1 400`). A TLS record starts with a
    /// content type from 20 to 24.
    fn plain_http(&self) -> bool {
        self.buf[self.start..self.end].first().is_some_and(|b| b.is_ascii_uppercase())
    }
}

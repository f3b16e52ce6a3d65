//! [`Stream`]: one connection's socket, plain or under TLS, shared by its read loop (the only
//! reader) and its writers (the write loop and direct senders, one at a time under the
//! connection's wire lock).

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};

use super::sys;
#[cfg(feature = "tls")]
use super::tls::TlsSession;
use crate::protocol::write::write_two;

/// Frames up to this many bytes (header and payload) are written directly with one buffer's
/// `send` (a copy on the stack); longer ones with a two-buffer `sendmsg`.
const ONE_BUFFER: usize = 256;

/// What a non-blocking write of a frame did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Nothing was taken: the frame is still the caller's.
    Nothing,
    /// The whole frame went out.
    All,
    /// The frame is taken, but part of it waits: in the caller's `rest` (plain), or sealed in
    /// the TLS session; the write loop must finish it before anything else.
    Part,
}

/// One connection's byte stream.
#[derive(Debug)]
pub(crate) struct Stream {
    tcp: TcpStream,
    #[cfg(feature = "tls")]
    tls: Option<TlsSession>,
}

impl Stream {
    /// A plain (`ws://`) connection.
    pub(crate) fn plain(tcp: TcpStream) -> Stream {
        Stream {
            tcp,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// A TLS (`wss://`) connection whose handshake has yet to run ([`Stream::tls_handshake`]).
    #[cfg(feature = "tls")]
    pub(crate) fn tls(tcp: TcpStream, session: TlsSession) -> Stream {
        Stream { tcp, tls: Some(session) }
    }

    /// The TCP socket (for its options and address; never read or write it directly).
    pub(crate) fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Runs the TLS handshake to its end (nothing to do on a plain connection). Its failures
    /// are `io::Error`s that carry a [`TlsError`](crate::TlsError) (see `Error::from`).
    #[cfg(feature = "tls")]
    pub(crate) fn tls_handshake(&self) -> io::Result<()> {
        match &self.tls {
            Some(tls) => tls.handshake(&self.tcp),
            None => Ok(()),
        }
    }

    /// Whether the connection is TLS.
    pub(crate) fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// The certificate chain the peer showed over TLS (DER, leaf first); empty otherwise.
    pub(crate) fn peer_certificates(&self) -> Vec<Vec<u8>> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return tls.peer_certificates();
        }
        Vec::new()
    }

    /// Shuts the socket down: it wakes a reader blocked in `recv` and a writer waiting.
    pub(crate) fn shutdown(&self, how: Shutdown) {
        let _ = self.tcp.shutdown(how);
    }

    /// Writes `head` then `body`, blocking until the socket has taken all of it (the socket's
    /// write timeout applies if one is set; the timer's cut ends a wait in any case).
    pub(crate) fn write_frames(&self, head: &[u8], body: &[u8]) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return tls.write_all(&self.tcp, head, body);
        }
        write_two(&mut &self.tcp, head, body)
    }

    /// Writes bytes a direct write left unsent on a plain connection, blocking.
    pub(crate) fn write_rest(&self, rest: &[u8]) -> io::Result<()> {
        (&self.tcp).write_all(rest)
    }

    /// Whether bytes already sealed wait to go out (TLS only): a direct write must then leave
    /// its frame to the write loop, which writes them first.
    pub(crate) fn has_unsent(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return tls.has_unsent();
        }
        false
    }

    /// Writes what is sealed and unsent (TLS only), blocking.
    pub(crate) fn flush_unsent(&self) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return tls.flush(&self.tcp);
        }
        Ok(())
    }

    /// A frame (`head` then `body`) written without blocking. On a plain connection, what the
    /// socket does not take of a frame it took part of is copied to `rest`; under TLS the
    /// frame is sealed whole and what the socket does not take stays in the session.
    pub(crate) fn send_direct(&self, head: &[u8], body: &[u8], rest: &mut Vec<u8>) -> io::Result<Sent> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return tls.send_direct(&self.tcp, head, body);
        }
        let total = head.len() + body.len();
        let sent = if total <= ONE_BUFFER {
            // A small frame is copied into one buffer and sent with `send`: the kernel takes
            // about 120 ns less for it than for a `sendmsg` of two buffers, which is more than
            // copying a few hundred bytes costs.
            let mut one = [0u8; ONE_BUFFER];
            one[..head.len()].copy_from_slice(head);
            one[head.len()..total].copy_from_slice(body);
            sys::send_one_nonblocking(&self.tcp, &one[..total])
        } else {
            sys::send_nonblocking(&self.tcp, &[IoSlice::new(head), IoSlice::new(body)])
        };
        let n = match sent {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Sent::Nothing),
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(Sent::Nothing);
        }
        if n == total {
            return Ok(Sent::All);
        }
        if n < head.len() {
            rest.extend_from_slice(&head[n..]);
            rest.extend_from_slice(body);
        } else {
            rest.extend_from_slice(&body[n - head.len()..]);
        }
        Ok(Sent::Part)
    }

    /// Ends our direction: TLS's `close_notify` first (within the socket's write timeout),
    /// then a TCP half-close.
    pub(crate) fn finish_writing(&self) {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            tls.close_notify(&self.tcp);
        }
        self.shutdown(Shutdown::Write);
    }
}

/// Reads plaintext: the socket's bytes, or the TLS session's decrypted ones. Only one thread
/// reads a connection.
impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return tls.read(&self.tcp, buf);
        }
        (&self.tcp).read(buf)
    }
}

/// Writes plaintext, blocking (the handshake's request and answers).
impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_frames(buf, &[])?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

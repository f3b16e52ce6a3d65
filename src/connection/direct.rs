//! Direct writes: a sender writes its message to the socket itself when nothing is queued
//! ahead of it, saving the hand-off to the write loop's thread (a futex wake and two context
//! switches per message, the largest cost of a small echo).
//!
//! The write never blocks the sender: it uses `MSG_DONTWAIT`, and whatever the socket does not
//! take at once is left in [`Conn::wire`] for the write loop, which writes it before anything
//! else. Order is kept because a sender writes directly only while holding the wire lock with
//! no bytes pending and no queued message unwritten (`Conn::queued` is zero), and the write
//! loop holds the same lock for each batch.

use std::io;
use std::net::TcpStream;

use super::shared::{Conn, Ctrl, Cut};
use crate::protocol::Message;
use crate::protocol::mask::apply_mask;
use crate::protocol::write::header_bytes;

/// What became of a message offered for a direct write.
pub(crate) enum Direct {
    /// Written, or its tail left to the write loop: it is on its way.
    Sent,
    /// Not written (busy, backlog, full socket): queue it for the write loop.
    Queue(Message),
    /// The connection is closing or broken: the message cannot be sent.
    Closed(Message),
}

/// Writes `message` as one frame from the calling thread if the connection allows it now.
pub(crate) fn try_send(conn: &Conn, message: Message) -> Direct {
    if !conn.direct_writes() || conn.queued() != 0 {
        return Direct::Queue(message);
    }
    // Never wait for the lock: its holder is writing, so queueing is as fast.
    let Ok(mut wire) = conn.wire.try_lock() else {
        return Direct::Queue(message);
    };
    if !wire.pending.is_empty() || conn.queued() != 0 {
        return Direct::Queue(message);
    }
    if conn.close_pending() {
        return Direct::Closed(message);
    }
    let Some(stream) = conn.stream() else {
        return Direct::Closed(message);
    };
    // A masked frame is masked in place, in the message's own buffer (no copy), with a fresh
    // key; it is unmasked again if it goes back to the caller or to the queue.
    let text = message.is_text();
    let mask = match conn.settings.mask_outgoing.then(|| wire.keys.next_key()).transpose() {
        Ok(mask) => mask,
        Err(e) => {
            log::warn!("{}: no random source for a masking key: {e}", conn.peer);
            drop(wire);
            conn.cut(Cut::WriteFailed);
            return Direct::Closed(message);
        }
    };
    let mut payload = message.into_bytes();
    if let Some(key) = mask {
        apply_mask(&mut payload, key, 0);
    }
    let (header, header_len) = header_bytes(text, payload.len(), mask);
    let header = &header[..header_len];
    let sent = send_nonblocking(&stream, header, &payload);
    let unsent = |mut payload: Vec<u8>| {
        if let Some(key) = mask {
            apply_mask(&mut payload, key, 0);
        }
        Message::from_parts(text, payload)
    };
    match sent {
        Ok(0) => Direct::Queue(unsent(payload)),
        Ok(n) => {
            if n < header.len() + payload.len() {
                // The socket took part of the frame: the write loop sends the rest first.
                if n < header.len() {
                    wire.pending.extend_from_slice(&header[n..]);
                    wire.pending.extend_from_slice(&payload);
                } else {
                    wire.pending.extend_from_slice(&payload[n - header.len()..]);
                }
                drop(wire);
                let _ = conn.ctrl_tx.try_send(Ctrl::Flush);
            }
            conn.recycle(payload);
            Direct::Sent
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Direct::Queue(unsent(payload)),
        Err(e) => {
            log::debug!("{}: direct write failed: {e}", conn.peer);
            drop(wire);
            conn.cut(Cut::WriteFailed);
            Direct::Closed(unsent(payload))
        }
    }
}

/// One non-blocking `sendmsg` of `head` then `body`; returns how many bytes the socket took.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[allow(unsafe_code)]
fn send_nonblocking(stream: &TcpStream, head: &[u8], body: &[u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;

    let iov = [
        libc::iovec { iov_base: head.as_ptr() as *mut libc::c_void, iov_len: head.len() },
        libc::iovec { iov_base: body.as_ptr() as *mut libc::c_void, iov_len: body.len() },
    ];
    // SAFETY: an all-zero `msghdr` is valid (no name, no control data); the iovecs it points
    // to outlive the call and describe live, readable slices that the kernel only reads.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = iov.len() as _;
    loop {
        // SAFETY: the descriptor is owned by `stream`, alive for the call; `msg` is valid.
        let n = unsafe { libc::sendmsg(stream.as_raw_fd(), &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Without `MSG_DONTWAIT` and `MSG_NOSIGNAL` every message goes through the write loop.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn send_nonblocking(_: &TcpStream, _: &[u8], _: &[u8]) -> io::Result<usize> {
    Ok(0)
}

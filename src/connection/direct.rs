//! Direct writes: a sender writes its message to the socket itself when nothing is queued
//! ahead of it, saving the hand-off to the write loop's thread (a futex wake and two context
//! switches per message, the largest cost of a small echo).
//!
//! The write never blocks the sender: it uses `MSG_DONTWAIT`, and whatever the socket does not
//! take at once is left for the write loop, which writes it before anything else: in
//! [`Conn::wire`] on a plain connection, sealed in the session under TLS (where a frame is
//! only written directly while nothing sealed waits). Order is kept because a sender writes
//! directly only while holding the wire lock with no bytes pending and no queued message
//! unwritten (`Conn::queued` is zero), and the write loop holds the same lock for each batch.

use std::sync::Arc;

use super::shared::{Conn, Ctrl, Cut};
use crate::protocol::Message;
use crate::protocol::mask::apply_mask;
use crate::protocol::write::header_bytes;
use crate::transport::Sent;

/// What became of an item (a message, a ping or a pong) offered for a direct write.
pub(crate) enum Direct<T> {
    /// Written, or its tail left to the write loop: it is on its way.
    Sent,
    /// Not written (busy, backlog, full socket): queue it for the write loop.
    Queue(T),
    /// The connection is closing or broken: it cannot be sent.
    Closed(T),
}

impl<T> Direct<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Direct<U> {
        match self {
            Direct::Sent => Direct::Sent,
            Direct::Queue(t) => Direct::Queue(f(t)),
            Direct::Closed(t) => Direct::Closed(f(t)),
        }
    }
}

/// Writes `message` as one frame from the calling thread if the connection allows it now.
pub(crate) fn try_send(conn: &Arc<Conn>, message: Message) -> Direct<Message> {
    if !conn.direct_writes() {
        return Direct::Queue(message);
    }
    let text = message.is_text();
    let opcode = if text { 0x1 } else { 0x2 };
    try_write(conn, opcode, message.into_bytes()).map(|payload| Message::from_parts(text, payload))
}

/// Writes a ping or pong from the calling thread if the connection allows it now. Control
/// frames never go through extensions, so only the config's `direct_writes` rules them out.
pub(crate) fn try_send_control(conn: &Arc<Conn>, c: Ctrl) -> Direct<Ctrl> {
    let (opcode, payload, make): (u8, _, fn(Vec<u8>) -> Ctrl) = match c {
        Ctrl::Ping(p) => (0x9, p, Ctrl::Ping),
        Ctrl::Pong(p) => (0xA, p, Ctrl::Pong),
        other => return Direct::Queue(other),
    };
    if !conn.settings.direct_writes {
        return Direct::Queue(make(payload));
    }
    try_write(conn, opcode, payload).map(make)
}

/// Writes one final frame with `opcode` and `payload` if nothing waits ahead of it and the
/// wire is free; the payload comes back (unmasked) when it was not written.
fn try_write(conn: &Arc<Conn>, opcode: u8, payload: Vec<u8>) -> Direct<Vec<u8>> {
    if conn.queued() != 0 {
        return Direct::Queue(payload);
    }
    // Never wait for the lock: its holder is writing, so queueing is as fast.
    let Ok(mut wire) = conn.wire.try_lock() else {
        return Direct::Queue(payload);
    };
    if !wire.pending.is_empty() || conn.queued() != 0 {
        return Direct::Queue(payload);
    }
    if conn.close_pending() {
        return Direct::Closed(payload);
    }
    let Some(stream) = conn.stream() else {
        return Direct::Closed(payload);
    };
    // A masked frame is masked in place, in the payload's own buffer (no copy), with a fresh
    // key; it is unmasked again if it goes back to the caller or to the queue.
    let mask = match conn.settings.mask_outgoing.then(|| wire.keys.next_key()).transpose() {
        Ok(mask) => mask,
        Err(e) => {
            log::warn!("{}: no random source for a masking key: {e}", conn.peer);
            drop(wire);
            conn.cut(Cut::WriteFailed);
            return Direct::Closed(payload);
        }
    };
    let mut payload = payload;
    if let Some(key) = mask {
        apply_mask(&mut payload, key, 0);
    }
    let (header, header_len) = header_bytes(opcode, payload.len(), mask);
    let header = &header[..header_len];
    let sent = stream.send_direct(header, &payload, &mut wire.pending);
    let unsent = |mut payload: Vec<u8>| {
        if let Some(key) = mask {
            apply_mask(&mut payload, key, 0);
        }
        payload
    };
    match sent {
        Ok(Sent::Nothing) => Direct::Queue(unsent(payload)),
        Ok(sent) => {
            if sent == Sent::Part {
                // The socket took part of the frame: the write loop sends the rest first.
                drop(wire);
                let _ = conn.ctrl_tx.try_send(Ctrl::Flush);
                conn.wake_writer();
            }
            conn.recycle(payload);
            Direct::Sent
        }
        Err(e) => {
            log::debug!("{}: direct write failed: {e}", conn.peer);
            drop(wire);
            conn.cut(Cut::WriteFailed);
            Direct::Closed(unsent(payload))
        }
    }
}

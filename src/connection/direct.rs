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

use super::shared::{Conn, Ctrl, Cut};
use crate::protocol::Message;
use crate::protocol::mask::apply_mask;
use crate::protocol::write::header_bytes;
use crate::transport::Sent;

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
    let sent = stream.send_direct(header, &payload, &mut wire.pending);
    let unsent = |mut payload: Vec<u8>| {
        if let Some(key) = mask {
            apply_mask(&mut payload, key, 0);
        }
        Message::from_parts(text, payload)
    };
    match sent {
        Ok(Sent::Nothing) => Direct::Queue(unsent(payload)),
        Ok(sent) => {
            if sent == Sent::Part {
                // The socket took part of the frame: the write loop sends the rest first.
                drop(wire);
                let _ = conn.ctrl_tx.try_send(Ctrl::Flush);
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

//! The closing handshake (RFC 6455 §7), in one place: the close frames a connection asked for,
//! sent and received, and the reason it finally ended.
//!
//! The rules, as this module applies them:
//! - Either side may start. The first close asked for wins; later requests change nothing
//!   (§7.1.2), and nothing may be sent after our close frame (§5.5.1).
//! - A close we ask for is sent after what is already queued; the peer then has
//!   `close_timeout` to answer before TCP is cut (§7.1.1 leaves the wait to the endpoint).
//! - A peer's close is answered with the same code (§5.5.1), or with no code when it carried
//!   none: 1005 is never sent (§7.4.1).
//! - The closing handshake is clean when a close frame went each way (§7.1.5, `was_clean`);
//!   the reported code is the peer's when it sent one, else ours, else 1006 (§7.1.5: the
//!   connection closed without a close frame). A connection that failed (§7.1.7) reports the
//!   failure's code.
//!
//! The state is private: other modules change it only through the transitions below, each
//! under one short lock.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::atomic::AtomicU64;
use crate::error::Error;
use crate::protocol::close::truncate_reason;
use crate::protocol::{CloseCode, CloseReason};

/// A close code and its reason.
type CloseFrame = (CloseCode, String);

/// The close frames of one connection, as far as the handshake got.
#[derive(Debug, Default)]
struct Frames {
    /// A close of ours, asked for and not yet sent (the write loop takes it).
    requested: Option<CloseFrame>,
    /// The close frame we sent.
    sent: Option<CloseFrame>,
    /// The close frame the peer sent (code 1005 when it carried none).
    received: Option<CloseFrame>,
    /// Whether the peer's close came before any close of ours was asked for or sent.
    peer_first: bool,
    /// The final reason, once the connection has ended.
    ended: Option<CloseReason>,
}

/// One connection's closing handshake.
#[derive(Debug, Default)]
pub(crate) struct Closing {
    frames: Mutex<Frames>,
    /// A close of ours was asked for or sent: nothing more may be queued.
    pending: AtomicBool,
    /// When the close timeout started (server clock, ms; 0: not started).
    since_ms: AtomicU64,
}

impl Closing {
    fn frames(&self) -> std::sync::MutexGuard<'_, Frames> {
        self.frames.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Transition: we ask to close with `code` and `reason` (cut to 123 bytes). Returns
    /// `false`, changing nothing, if a close of ours was already asked for or sent.
    pub(crate) fn request(&self, code: CloseCode, reason: &str, now_ms: u64) -> bool {
        {
            let mut frames = self.frames();
            if frames.requested.is_some() || frames.sent.is_some() || frames.ended.is_some() {
                return false;
            }
            frames.requested = Some((code, truncate_reason(reason).to_owned()));
        }
        self.since_ms.store(now_ms, Ordering::Relaxed);
        self.pending.store(true, Ordering::Release);
        true
    }

    /// Transition: the write loop takes the close asked for, to send it now.
    pub(crate) fn take_for_sending(&self) -> Option<CloseFrame> {
        let mut frames = self.frames();
        let close = frames.requested.take();
        if close.is_some() {
            frames.sent = close.clone();
        }
        close
    }

    /// Transition: a raw handler's close frame went out (raw routes write their own).
    pub(crate) fn raw_sent(&self, close: CloseFrame, now_ms: u64) {
        self.frames().sent = Some(close);
        self.since_ms.store(now_ms, Ordering::Relaxed);
        self.pending.store(true, Ordering::Release);
    }

    /// Transition: the peer's close frame arrived. Returns whether the peer closed first.
    pub(crate) fn received(&self, close: CloseFrame) -> bool {
        let mut frames = self.frames();
        frames.peer_first = frames.requested.is_none() && frames.sent.is_none();
        frames.received = Some(close);
        frames.peer_first
    }

    /// Starts the close timeout without closing for sends: a raw handler owes the peer an
    /// answer to its close.
    pub(crate) fn start_timeout(&self, now_ms: u64) {
        self.since_ms.store(now_ms, Ordering::Relaxed);
    }

    /// Whether our close frame has gone out.
    pub(crate) fn sent(&self) -> bool {
        self.frames().sent.is_some()
    }

    /// Whether a close of ours was asked for or sent (nothing more may be queued).
    pub(crate) fn pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// When the close timeout started (0: not started).
    pub(crate) fn since_ms(&self) -> u64 {
        self.since_ms.load(Ordering::Relaxed)
    }

    /// Transition: the connection has ended, having failed with `failure` or not. Settles
    /// and returns the final reason (see the module's rules).
    pub(crate) fn finish(&self, failure: Option<&Error>) -> CloseReason {
        let mut frames = self.frames();
        let clean = frames.sent.is_some() && frames.received.is_some();
        let reason = match (failure, &frames.received, &frames.sent) {
            // A close timeout ends a closing handshake: the frames tell the reason.
            (Some(e), _, _) if !matches!(e, Error::CloseTimeout) => {
                CloseReason::new(e.close_code(), e.to_string(), clean, false)
            }
            (_, Some((code, text)), _) => CloseReason::new(*code, text.clone(), clean, frames.peer_first),
            (_, None, Some((code, text))) => CloseReason::new(*code, text.clone(), clean, false),
            (_, None, None) => CloseReason::new(CloseCode::ABNORMAL, "connection dropped", false, false),
        };
        frames.ended = Some(reason.clone());
        reason
    }

    /// The final reason, once the connection has ended.
    pub(crate) fn reason(&self) -> Option<CloseReason> {
        self.frames().ended.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_request_wins_and_nothing_follows_our_close() {
        let c = Closing::default();
        assert!(c.request(CloseCode::NORMAL, "bye", 5));
        assert!(!c.request(CloseCode::GOING_AWAY, "later", 6));
        assert!(c.pending());
        assert_eq!(c.since_ms(), 5);
        assert_eq!(c.take_for_sending(), Some((CloseCode::NORMAL, "bye".to_owned())));
        assert_eq!(c.take_for_sending(), None, "a close is sent once");
        assert!(!c.request(CloseCode::NORMAL, "again", 7), "no request after our close went out");
        assert!(!c.received((CloseCode::NORMAL, String::new())), "we closed first");
        let reason = c.finish(None);
        assert!(reason.was_clean && !reason.by_peer);
        assert_eq!(reason.code, CloseCode::NORMAL);
        assert!(!c.request(CloseCode::NORMAL, "after the end", 8));
    }

    #[test]
    fn a_peer_close_is_reported_with_its_code() {
        let c = Closing::default();
        assert!(c.received((CloseCode(4000), "peer".to_owned())));
        assert!(c.request(CloseCode(4000), "peer", 1), "the echo of the peer's close");
        c.take_for_sending();
        let reason = c.finish(None);
        assert_eq!((reason.code, reason.reason.as_str()), (CloseCode(4000), "peer"));
        assert!(reason.was_clean && reason.by_peer);
        assert_eq!(c.reason(), Some(reason));
    }

    #[test]
    fn drops_and_failures() {
        let dropped = Closing::default().finish(None);
        assert_eq!(dropped.code, CloseCode::ABNORMAL);
        assert!(!dropped.was_clean);
        let c = Closing::default();
        c.request(CloseCode::PROTOCOL_ERROR, "bad frame", 1);
        c.take_for_sending();
        let failed = c.finish(Some(&Error::InvalidUtf8));
        assert_eq!(failed.code, CloseCode::INVALID_PAYLOAD);
        assert!(!failed.was_clean, "the peer never answered");
        let unanswered = Closing::default();
        unanswered.request(CloseCode::NORMAL, "bye", 1);
        unanswered.take_for_sending();
        let r = unanswered.finish(None);
        assert_eq!(r.code, CloseCode::NORMAL);
        assert!(!r.was_clean);
    }
}

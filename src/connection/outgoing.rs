//! The sending side of a session: its bounded outgoing queue.

use std::fmt;
use std::sync::Arc;

use crossbeam_channel::Sender;

use super::direct::{self, Direct};
use super::shared::Conn;
use crate::error::{SendError, TrySendError};
use crate::protocol::{Frame, Message};

/// What the write loop takes from the outgoing queue.
#[derive(Debug)]
pub(crate) enum Outbound {
    Message(Message),
    /// A frame from a raw route, sent as given.
    Frame(Frame),
}

impl Outbound {
    fn into_message(self) -> Message {
        match self {
            Outbound::Message(m) => m,
            Outbound::Frame(f) => Message::Binary(f.payload),
        }
    }
}

/// A handle to a session's outgoing queue (Ktor's `outgoing`), from
/// [`Session::outgoing`](crate::Session::outgoing). Cheap to clone; sends from any thread
/// keep each thread's order.
#[derive(Clone)]
pub struct Outgoing {
    pub(crate) conn: Arc<Conn>,
}

impl Outgoing {
    /// Sends a message: written at once when nothing is queued ahead of it and the socket
    /// takes it (see [`Config::direct_writes`](crate::Config::direct_writes)), otherwise
    /// queued, blocking while the queue is full.
    ///
    /// # Errors
    /// [`SendError`] with the message when the session is closing or closed.
    pub fn send(&self, message: impl Into<Message>) -> Result<(), SendError> {
        let message = match self.direct(message.into()) {
            Ok(None) => return Ok(()),
            Ok(Some(m)) => m,
            Err(m) => return Err(SendError(m)),
        };
        self.conn.note_queued();
        self.conn.queue().send(Outbound::Message(message)).map_err(|e| {
            self.conn.note_unqueued(1);
            SendError(e.into_inner().into_message())
        })?;
        self.conn.wake_writer();
        Ok(())
    }

    /// Sends or queues a message without blocking.
    ///
    /// # Errors
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], handing the message back.
    pub fn try_send(&self, message: impl Into<Message>) -> Result<(), TrySendError> {
        let message = match self.direct(message.into()) {
            Ok(None) => return Ok(()),
            Ok(Some(m)) => m,
            Err(m) => return Err(TrySendError::Closed(m)),
        };
        self.conn.note_queued();
        self.conn.queue().try_send(Outbound::Message(message)).map_err(|e| {
            self.conn.note_unqueued(1);
            match e {
                crossbeam_channel::TrySendError::Full(m) => TrySendError::Full(m.into_message()),
                crossbeam_channel::TrySendError::Disconnected(m) => TrySendError::Closed(m.into_message()),
            }
        })?;
        self.conn.wake_writer();
        Ok(())
    }

    /// Tries a direct write. `Ok(None)`: sent; `Ok(Some)`: to be queued; `Err`: closed.
    fn direct(&self, message: Message) -> Result<Option<Message>, Message> {
        if self.conn.close_pending() {
            return Err(message);
        }
        match direct::try_send(&self.conn, message) {
            Direct::Sent => Ok(None),
            Direct::Queue(m) => Ok(Some(m)),
            Direct::Closed(m) => Err(m),
        }
    }

    /// Queues a raw route's frame behind everything sent before it.
    pub(crate) fn send_frame(&self, frame: Frame) -> Result<(), Frame> {
        self.conn.note_queued();
        self.conn.queue().send(Outbound::Frame(frame)).map_err(|e| {
            self.conn.note_unqueued(1);
            match e.into_inner() {
                Outbound::Frame(f) => f,
                Outbound::Message(_) => unreachable!("a frame was sent"),
            }
        })?;
        self.conn.wake_writer();
        Ok(())
    }

    /// How many messages wait in the queue.
    pub fn len(&self) -> usize {
        self.conn.queue_if_made().map_or(0, Sender::len)
    }

    /// Whether the queue is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing").field("session", &self.conn.id).field("queued", &self.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::connection::testing;
    use crate::server::Config;

    #[test]
    fn the_queue_is_made_only_when_a_message_must_wait() {
        // Written directly: no queue (its slots would cost 48 bytes each, up front).
        let f = testing::session(Config::default().settings());
        f.conn.set_direct_writes(true);
        f.session.send_text("direct").unwrap();
        assert!(f.conn.queue_if_made().is_none());
        assert_eq!(f.session.outgoing().len(), 0);
        // Without direct writes every message waits for the write loop (stuck in the fixture).
        let f = testing::session(Config::default().direct_writes(false).queue_capacity(3).settings());
        assert!(f.conn.queue_if_made().is_none());
        f.session.send_text("one").unwrap();
        f.session.send_text("two").unwrap();
        let out = f.session.outgoing();
        assert_eq!((out.len(), out.is_empty()), (2, false));
        assert_eq!(f.conn.queue_if_made().map(|q| q.capacity()), Some(Some(3)));
    }
}

//! The sending side of a session: its bounded outgoing queue.

use std::fmt;
use std::sync::Arc;

use crossbeam_channel::Sender;

use crate::conn::Conn;
use crate::error::{SendError, TrySendError};
use crate::frame::Frame;
use crate::message::Message;

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
    pub(crate) tx: Sender<Outbound>,
    pub(crate) conn: Arc<Conn>,
}

impl Outgoing {
    /// Queues a message, blocking while the queue is full.
    ///
    /// # Errors
    /// [`SendError`] with the message when the session is closing or closed.
    pub fn send(&self, message: impl Into<Message>) -> Result<(), SendError> {
        let message = message.into();
        if self.conn.close_pending() {
            return Err(SendError(message));
        }
        self.tx.send(Outbound::Message(message)).map_err(|e| SendError(e.into_inner().into_message()))
    }

    /// Queues a message without blocking.
    ///
    /// # Errors
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], handing the message back.
    pub fn try_send(&self, message: impl Into<Message>) -> Result<(), TrySendError> {
        let message = message.into();
        if self.conn.close_pending() {
            return Err(TrySendError::Closed(message));
        }
        self.tx.try_send(Outbound::Message(message)).map_err(|e| match e {
            crossbeam_channel::TrySendError::Full(m) => TrySendError::Full(m.into_message()),
            crossbeam_channel::TrySendError::Disconnected(m) => TrySendError::Closed(m.into_message()),
        })
    }

    /// How many messages wait in the queue.
    pub fn len(&self) -> usize {
        self.tx.len()
    }

    /// Whether the queue is empty.
    pub fn is_empty(&self) -> bool {
        self.tx.is_empty()
    }
}

impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing").field("session", &self.conn.id).field("queued", &self.tx.len()).finish()
    }
}

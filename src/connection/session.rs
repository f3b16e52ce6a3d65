//! The `Session` handle: send, close and inspect one connection from any thread.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use crossbeam_channel::Receiver;

use super::outgoing::Outgoing;
use super::shared::{Conn, Ctrl, Phase};
#[cfg(feature = "serde")]
use crate::error::ConvertError;
use crate::error::{Error, ProtocolError, SendError, TrySendError};
use crate::handshake::{Request, Response};
use crate::protocol::{CloseCode, CloseReason, Frame, Message};

/// What the handshake settled for a session.
pub(crate) struct SessionInfo {
    pub(crate) request: Request,
    pub(crate) protocol: Option<String>,
    /// The `Sec-WebSocket-Extensions` answer (empty: none).
    pub(crate) extensions: String,
    pub(crate) raw: bool,
    /// A client's: the server's answer, and the dial attempt that opened the session.
    pub(crate) response: Option<Response>,
    pub(crate) attempt: u32,
}

/// A handle to one WebSocket connection (Ktor's `DefaultWebSocketServerSession`).
///
/// Cheap to clone, `Send + Sync`: keep it in other threads to push messages. Every send goes
/// through the connection's bounded outgoing queue, drained by its write loop.
///
/// ```no_run
/// # fn f(session: syncws::Session) -> Result<(), Box<dyn std::error::Error>> {
/// use syncws::CloseCode;
/// session.send_text("hello")?;
/// session.send_binary(vec![1, 2, 3])?;
/// session.close(CloseCode::NORMAL, "bye");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Arc<Conn>,
    request: Request,
    protocol: Option<String>,
    extensions: String,
    raw: bool,
    response: Option<Response>,
    attempt: u32,
    outgoing: Outgoing,
    incoming: Receiver<Message>,
}

impl Session {
    pub(crate) fn new(conn: Arc<Conn>, info: SessionInfo, incoming: Receiver<Message>) -> Self {
        let outgoing = Outgoing { conn: conn.clone() };
        Session {
            inner: Arc::new(Inner {
                conn,
                request: info.request,
                protocol: info.protocol,
                extensions: info.extensions,
                raw: info.raw,
                response: info.response,
                attempt: info.attempt,
                outgoing,
                incoming,
            }),
        }
    }

    /// A number unique among the connections of this process.
    pub fn id(&self) -> u64 {
        self.inner.conn.id
    }

    /// The peer's address: the client's on a server, the server's on a client.
    pub fn remote_addr(&self) -> SocketAddr {
        self.inner.conn.peer
    }

    /// The HTTP request that opened the session (path, query, headers): the one received on
    /// a server, the one sent on a client.
    pub fn request(&self) -> &Request {
        &self.inner.request
    }

    /// The server's answer to the handshake (status and headers), on a client's session;
    /// `None` on a server's.
    pub fn response(&self) -> Option<&Response> {
        self.inner.response.as_ref()
    }

    /// On a client's session, the dial attempt that opened it, counted from 1 over the
    /// client's life: 1 for the first connection; with reconnect on, every attempt counts,
    /// failed ones too, so `attempt() > 1` means a reconnection. 0 on a server's session.
    pub fn attempt(&self) -> u32 {
        self.inner.attempt
    }

    /// The subprotocol selected in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.inner.protocol.as_deref()
    }

    /// The negotiated extensions as sent in the `Sec-WebSocket-Extensions` response header
    /// (for example `permessage-deflate; server_no_context_takeover`); empty when none.
    pub fn extensions(&self) -> &str {
        &self.inner.extensions
    }

    /// Whether the session is open: no close requested or received, connection alive.
    pub fn is_open(&self) -> bool {
        self.inner.conn.phase() == Phase::Open && !self.inner.conn.close_pending()
    }

    /// Queues a message, blocking while the outgoing queue is full (backpressure from a slow
    /// peer).
    ///
    /// # Errors
    /// [`SendError`] with the message when the session is closing or closed.
    pub fn send(&self, message: impl Into<Message>) -> Result<(), SendError> {
        self.inner.outgoing.send(message)
    }

    /// Queues a text message; see [`send`](Self::send).
    ///
    /// # Errors
    /// [`SendError`] when the session is closing or closed.
    pub fn send_text(&self, text: impl Into<String>) -> Result<(), SendError> {
        self.send(Message::Text(text.into()))
    }

    /// Queues a binary message; see [`send`](Self::send).
    ///
    /// # Errors
    /// [`SendError`] when the session is closing or closed.
    pub fn send_binary(&self, data: impl Into<Vec<u8>>) -> Result<(), SendError> {
        self.send(Message::Binary(data.into()))
    }

    /// Queues a message without ever blocking.
    ///
    /// # Errors
    /// [`TrySendError::Full`] when the outgoing queue is full, [`TrySendError::Closed`] when
    /// the session is closing or closed; both hand the message back.
    pub fn try_send(&self, message: impl Into<Message>) -> Result<(), TrySendError> {
        self.inner.outgoing.try_send(message)
    }

    /// Queues a frame exactly as given, in order with messages: fragments, control frames,
    /// RSV bits. Only on raw routes ([`Route::raw`](crate::Route::raw)), where the handler is
    /// in charge of the protocol. After a close frame nothing more can be sent.
    ///
    /// # Errors
    /// [`Error::NotRaw`] on other routes; [`Error::Protocol`] for a control frame that is
    /// fragmented or longer than 125 bytes; [`Error::Closed`] once the session is closed.
    pub fn send_frame(&self, frame: Frame) -> Result<(), Error> {
        if !self.inner.raw {
            return Err(Error::NotRaw);
        }
        if frame.opcode.is_control() {
            if !frame.fin {
                return Err(ProtocolError::FragmentedControl.into());
            }
            if frame.payload.len() > 125 {
                return Err(ProtocolError::ControlTooLong.into());
            }
        }
        if self.inner.conn.close_pending() {
            return Err(Error::Closed);
        }
        self.inner.outgoing.send_frame(frame).map_err(|_| Error::Closed)
    }

    /// Sends a ping with `payload` (at most 125 bytes) ahead of queued data.
    ///
    /// # Errors
    /// [`Error::Protocol`] if the payload is too long, [`Error::Closed`] if the session is
    /// closing or closed.
    pub fn ping(&self, payload: impl Into<Vec<u8>>) -> Result<(), Error> {
        let payload = payload.into();
        if payload.len() > 125 {
            return Err(ProtocolError::ControlTooLong.into());
        }
        if self.inner.conn.close_pending() {
            return Err(Error::Closed);
        }
        if self.inner.conn.send_control(Ctrl::Ping(payload), true) { Ok(()) } else { Err(Error::Closed) }
    }

    /// Starts the closing handshake: messages already queued are sent first, then a close
    /// frame with `code` and `reason` (cut to 123 bytes). Later sends fail. If the peer does
    /// not answer within the close timeout, the connection is dropped. Closing twice is a
    /// no-op; returns whether this call started the close.
    pub fn close(&self, code: CloseCode, reason: &str) -> bool {
        self.inner.conn.request_close(code, reason)
    }

    /// Why the session ended (Ktor's `closeReason`); `None` while it is still open.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.inner.conn.closing.reason()
    }

    /// The received data messages, on routes made with [`Route::channel`](crate::Route::channel)
    /// (Ktor's `incoming`). Iteration ends when the connection closes. On handler routes
    /// messages go to `on_message` instead, and this receiver only ends at close.
    pub fn incoming(&self) -> Receiver<Message> {
        self.inner.incoming.clone()
    }

    /// Serializes `value` with the configured content converter and sends it (Ktor's
    /// `sendSerialized`); blocks while the outgoing queue is full.
    ///
    /// # Errors
    /// [`Error::NoConverter`] without a converter in the config, [`Error::Convert`] when the
    /// value does not serialize, [`Error::Closed`] when the session is closing or closed.
    #[cfg(feature = "serde")]
    pub fn send_serialized<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<(), Error> {
        let converter = self.inner.conn.settings.converter.as_ref().ok_or(Error::NoConverter)?;
        let message = converter.serialize(&value as &dyn erased_serde::Serialize)?;
        self.send(message).map_err(|_| Error::Closed)
    }

    /// Deserializes a received message with the configured content converter. A message that
    /// does not fit `T` is an error for the handler to handle; the connection stays open.
    ///
    /// # Errors
    /// [`Error::NoConverter`] without a converter, [`Error::Convert`] for input that does not
    /// deserialize into `T`.
    #[cfg(feature = "serde")]
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self, message: &Message) -> Result<T, Error> {
        let converter = self.inner.conn.settings.converter.as_ref().ok_or(Error::NoConverter)?;
        let mut value = None;
        converter.deserialize(message, &mut |d| {
            value = Some(erased_serde::deserialize::<T>(d)?);
            Ok(())
        })?;
        value.ok_or_else(|| ConvertError::Deserialize("the converter produced no value".to_owned()).into())
    }

    /// Receives the next message from [`incoming`](Self::incoming) and deserializes it (Ktor's
    /// `receiveDeserialized`), for channel routes.
    ///
    /// # Errors
    /// [`Error::Closed`] once the connection has closed; otherwise as
    /// [`deserialize`](Self::deserialize).
    #[cfg(feature = "serde")]
    pub fn receive_deserialized<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        let message = self.inner.incoming.recv().map_err(|_| Error::Closed)?;
        self.deserialize(&message)
    }

    /// A handle to the outgoing queue (Ktor's `outgoing`), to hand to another thread.
    pub fn outgoing(&self) -> Outgoing {
        self.inner.outgoing.clone()
    }

    pub(crate) fn conn(&self) -> &Arc<Conn> {
        &self.inner.conn
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id())
            .field("remote_addr", &self.remote_addr())
            .field("path", &self.inner.request.path())
            .finish()
    }
}

//! The handler trait: the standard WebSocket events, called on the connection's thread.

use super::session::Session;
use crate::error::Error;
use crate::protocol::{CloseReason, Frame, Message};

/// Reacts to one connection's events (`onConnect`, `onMessage`, `onClose`, `onError`).
///
/// Each connection gets its own handler from the route's factory; its methods run one at a
/// time on that connection's thread, so a handler needs no locking and need not be `Send`.
/// A panic in any method closes only this connection, with 1011.
///
/// ```
/// use syncws::{Handler, Message, Session};
///
/// struct Echo;
/// impl Handler for Echo {
///     fn on_message(&mut self, session: &Session, message: Message) {
///         let _ = session.send(message);
///     }
/// }
/// ```
pub trait Handler {
    /// The handshake succeeded; the session can send.
    fn on_open(&mut self, session: &Session) {
        let _ = session;
    }

    /// A complete data message arrived.
    fn on_message(&mut self, session: &Session, message: Message);

    /// The connection ended, for whatever reason. Runs exactly once per opened session, last.
    fn on_close(&mut self, session: &Session, reason: &CloseReason) {
        let _ = (session, reason);
    }

    /// The connection is failing: a protocol violation, an I/O error, a ping timeout or a
    /// panic. `on_close` follows.
    fn on_error(&mut self, session: &Session, error: &Error) {
        let _ = (session, error);
    }
}

/// Sees every frame of a raw route's connection ([`Route::raw`](crate::Route::raw), Ktor's
/// `webSocketRaw`): pings, pongs, close frames and unassembled fragments.
///
/// syncws answers nothing on a raw connection: reply to pings and close frames yourself with
/// [`Session::send_frame`].
///
/// ```
/// use syncws::{Frame, Opcode, RawHandler, Session};
///
/// struct Logger;
/// impl RawHandler for Logger {
///     fn on_frame(&mut self, session: &Session, frame: Frame) {
///         println!("{:?} fin={} {} bytes", frame.opcode, frame.fin, frame.payload.len());
///         match frame.opcode {
///             Opcode::Ping => drop(session.send_frame(Frame::pong(frame.payload))),
///             Opcode::Close => drop(session.send_frame(frame)), // echo the close
///             _ => {}
///         }
///     }
/// }
/// ```
pub trait RawHandler {
    /// The handshake succeeded.
    fn on_open(&mut self, session: &Session) {
        let _ = session;
    }

    /// A frame arrived, unmasked.
    fn on_frame(&mut self, session: &Session, frame: Frame);

    /// The connection ended. Runs exactly once per opened session, last.
    fn on_close(&mut self, session: &Session, reason: &CloseReason) {
        let _ = (session, reason);
    }

    /// The connection is failing (a frame broke a safety rule, I/O error, panic).
    fn on_error(&mut self, session: &Session, error: &Error) {
        let _ = (session, error);
    }
}

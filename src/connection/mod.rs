//! One WebSocket connection once its handshake is done, whichever side opened it: the state
//! its threads share, the read loop (its own thread, calling the handler), the write loop (a
//! second thread, fed by bounded channels), direct writes, the outgoing queue, the closing
//! handshake, handler dispatch and the [`Session`] handle; the timer that pings and times
//! out every connection, and the registry that reaches them all.
//!
//! It reads and writes frames through `protocol` and runs the encoders and decoders of
//! `extensions`; it knows nothing of listeners, routes or HTTP answers (that is `server`), so
//! that a client can run its connections the same way.

pub(crate) mod atomic;
pub(crate) mod broadcast_lane;
pub(crate) mod clock;
pub(crate) mod closing;
pub(crate) mod direct;
pub(crate) mod dispatch;
pub(crate) mod handler;
pub(crate) mod outgoing;
pub(crate) mod read_loop;
pub(crate) mod registry;
pub(crate) mod run;
pub(crate) mod session;
pub(crate) mod settings;
pub(crate) mod shared;
pub(crate) mod stack;
#[cfg(test)]
pub(crate) mod testing;
pub(crate) mod timer;
pub(crate) mod write_loop;
pub(crate) mod writer_slot;

pub use handler::{Handler, RawHandler};
pub use outgoing::Outgoing;
pub use session::Session;

//! # syncws
//!
//! A synchronous, thread-per-connection WebSocket server for constrained and embedded Linux.
//! The API follows Ktor's server WebSockets plugin, in blocking Rust: a [`Config`] of options,
//! routes served by a [`Handler`] per connection (or a function reading
//! [`Session::incoming`]), and a [`Session`] handle that sends, closes and tells about the
//! connection from any thread.
//!
//! Each connection has a read loop (on its own thread, calling the handler) and a write loop
//! linked by bounded crossbeam channels; a sender writes its message to the socket itself when
//! nothing is queued ahead of it (see [`Config::direct_writes`]), and the write loop's thread
//! starts only when something must wait, and parks again when quiet: an idle connection is one
//! thread. One timer
//! thread per server sends pings and enforces every timeout. [`ServerHandle::shutdown`] (or
//! [`ServerHandle::wait`] with a [`Stopper`]) closes every session with 1001.
//!
//! Beyond plain routes: [`Route::raw`] hands a [`RawHandler`] every frame (Ktor's
//! `webSocketRaw`); [`Broadcast`] publishes to many sessions with a [`SlowConsumer`] policy;
//! [`Extension`] negotiates extensions, with `Deflate` (permessage-deflate, feature
//! `deflate`, on by default) built on it; `ContentConverter` and `JsonConverter` (features
//! `serde` and `json`) give `send_serialized` and `deserialize`; [`Server::page`] and
//! [`Server::http_route`] answer plain GETs on the same port.
//!
//! ```no_run
//! use syncws::{CloseCode, CloseReason, Config, Handler, Message, Server, Session};
//!
//! struct Echo;
//!
//! impl Handler for Echo {
//!     fn on_open(&mut self, session: &Session) {
//!         println!("{} connected to {}", session.remote_addr(), session.request().path());
//!     }
//!     fn on_message(&mut self, session: &Session, message: Message) {
//!         if message.as_text() == Some("bye") {
//!             session.close(CloseCode::NORMAL, "Client said BYE");
//!         } else {
//!             let _ = session.send(message);
//!         }
//!     }
//!     fn on_close(&mut self, _session: &Session, reason: &CloseReason) {
//!         println!("closed: {reason}");
//!     }
//! }
//!
//! let server = Server::new(Config::default()).route("/echo", || Echo).bind("127.0.0.1:8080")?;
//! // ... later, from the thread that owns the handle:
//! server.shutdown();
//! # Ok::<(), syncws::Error>(())
//! ```
// The exceptions: `transport::sys` (a `sendmsg` or `send` with `MSG_DONTWAIT`, and `poll(2)` for a
// socket to take more), `server::sys` (`poll(2)` and a `send(2)` with `MSG_NOSIGNAL`), the SIMD loops of
// `protocol::mask::simd`, `connection::stack` (`madvise` of an idle thread's unused stack) and
// `extensions::deflate::zlib` (zlib's C functions).
#![deny(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

// The layers, from the bottom up: protocol, error, transport, handshake, extensions, connection, then
// server and client side by side, broadcast, and mqtt (which bridges broadcast hubs). Each imports only from the
// layers below it (docs/ARCHITECTURE.md).
mod broadcast;
mod client;
mod connection;
mod error;
mod extensions;
/// Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): not part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod handshake;
#[cfg(feature = "mqtt")]
pub mod mqtt;
mod protocol;
mod server;
mod transport;

pub use crate::broadcast::{Broadcast, BroadcastStats, Published, SlowConsumer};
pub use crate::client::{Client, ClientConfig, ClientHandle, Reconnect, connect};
pub use crate::connection::{Handler, Outgoing, RawHandler, Session};
#[cfg(feature = "tls")]
pub use crate::error::{CertificateProblem, TlsError};
pub use crate::error::{
    ConvertError, Error, ExtensionError, HandshakeError, ProtocolError, Result, SendError, TrySendError,
};
#[cfg(feature = "serde")]
pub use crate::extensions::ContentConverter;
#[cfg(feature = "deflate")]
pub use crate::extensions::Deflate;
#[cfg(feature = "json")]
pub use crate::extensions::JsonConverter;
pub use crate::extensions::{
    Accepted, ClientExtension, Extension, ExtensionOffer, MessageDecoder, MessageEncoder, RSV1, RSV2, RSV3,
};
pub use crate::handshake::{HttpResponse, InvalidHeader, Request, Response};
#[cfg(feature = "mqtt")]
pub use crate::mqtt::{MqttBridge, MqttConfig, MqttError, MqttStats};
pub use crate::protocol::{CloseCode, CloseReason, Frame, Message, Opcode};
pub use crate::server::{Config, Route, Server, ServerHandle, Stopper};
#[cfg(feature = "tls")]
pub use crate::transport::tls::{ClientTls, ServerTls};

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

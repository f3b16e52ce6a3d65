//! The client: dial out to a `ws://` URL and run the connection as a server runs an accepted
//! one, with the same [`Handler`](crate::Handler) and [`Session`](crate::Session): a thread
//! for the read loop and the handler, a write loop fed by bounded channels (direct writes for
//! masked frames too), pings and timeouts from one timer thread shared by every client of the
//! process, and reconnect with backoff when asked for.
//!
//! Built on `connection`, `handshake` (the upgrade request and the checks of the answer) and
//! `extensions` (the client's side of their negotiation); the server layer is not used.

pub(crate) mod builder;
pub(crate) mod config;
pub(crate) mod dial;
pub(crate) mod handle;
pub(crate) mod open;
pub(crate) mod reconnect;
pub(crate) mod url;

pub use builder::{Client, connect};
pub use config::ClientConfig;
pub use handle::ClientHandle;
pub use reconnect::Reconnect;

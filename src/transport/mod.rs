//! The byte stream under the WebSocket protocol: a connection's TCP socket, with a TLS session
//! over it for `wss://` (feature `tls`), read by one thread and written by several without
//! either side blocking the other.
//!
//! It knows nothing of frames, HTTP or handlers: the layers above read it through `Read` and
//! write whole frames through [`Stream`]'s methods.

pub(crate) mod dial;
pub(crate) mod stream;
pub(crate) mod sys;
#[cfg(feature = "tls")]
pub(crate) mod tls;

pub(crate) use stream::{Sent, Stream};

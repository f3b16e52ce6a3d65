//! The HTTP side of a connection before it is a WebSocket: reading the request head, checking
//! an upgrade and choosing its subprotocol, the `101` answer, and every HTTP answer that
//! refuses one; for a client, the upgrade request and the checks of the server's answer.
//!
//! No threads, and no knowledge of routes, handlers or extensions: the server layer decides
//! which route serves a path and which extensions it offers. Depends on `protocol` only (for
//! the input buffer).

pub(crate) mod client;
pub(crate) mod head;
pub(crate) mod key;
pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod upgrade;

pub use client::Response;
pub use request::Request;
pub(crate) use response::Rejection;
pub use response::{HttpResponse, InvalidHeader};

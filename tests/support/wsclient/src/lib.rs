//! The one WebSocket client of syncws's tests and of `syncws-bench`, std only (flate2 with the
//! `deflate` feature). Two floors:
//!
//! - frames, raw: [`encode`] any frame (unmasked, any RSV bits, any opcode, any length),
//!   [`encode_header`] a header that claims any length, [`Client::send_raw`] any bytes,
//!   [`Client::send_bytewise`] one byte per write, [`Client::read_frame`] each frame as it
//!   came, compressed or not. Tests break every rule of RFC 6455 with these on purpose; the
//!   methods that panic (`send_frame`, `read_frame`, ...) are theirs.
//! - messages, complete: [`Client::send_message`] masks (and compresses, after
//!   [`Client::open_deflate`]), [`Client::recv_message`] reassembles fragments, answers pings
//!   and inflates. They return `io::Result`, for the load generator.
//!
//! Reads go through one growing buffer (no read per header field), writes through one reused
//! buffer and one `write_all` per frame. Every connection has a read timeout.
//!
//! ```text
//! handshake.rs  the upgrade request, plain HTTP requests, the status line
//! frame.rs      Frame, encode, parse (in memory)
//! client.rs     Client: the connection, its buffer, frames and messages
//! deflate.rs    permessage-deflate (RFC 7692) with a sync flush, feature `deflate`
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

mod buffer;
mod client;
#[cfg(feature = "deflate")]
mod deflate;
mod frame;
mod handshake;

pub use buffer::FrameBuf;
pub use client::Client;
#[cfg(feature = "deflate")]
pub use deflate::{Deflater, Inflater, compress};
pub use frame::{Frame, MASK_KEY, encode, encode_header, encode_into, mask, parse};
pub use handshake::{KEY, READ_TIMEOUT, http, status, upgrade_request};

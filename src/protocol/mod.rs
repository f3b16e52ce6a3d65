//! The wire format of RFC 6455, in either role: frame headers and payloads read and written,
//! masking, UTF-8 checks, close codes and close payloads, messages, and the rules a frame must
//! follow.
//!
//! No threads, no sockets (only `Read` and `Write`), nothing about being a server: whether
//! incoming frames must be masked and whether outgoing frames are masked are parameters
//! ([`rules::FrameRules`], [`write::encode_frame`]), so that a client reuses this layer as it
//! is. Depends on nothing else in the crate.

pub(crate) mod close;
pub(crate) mod error;
pub(crate) mod frame;
pub(crate) mod inbuf;
pub(crate) mod mask;
pub(crate) mod message;
pub(crate) mod random;
pub(crate) mod read;
pub(crate) mod rules;
pub(crate) mod utf8;
pub(crate) mod write;

pub use close::{CloseCode, CloseReason};
pub use error::ProtocolError;
pub(crate) use error::WireError;
pub use frame::{Frame, Opcode};
pub use message::Message;

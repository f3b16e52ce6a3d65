//! What rides on top of the wire format: extensions (RFC 6455 §9) with their negotiation,
//! permessage-deflate (RFC 7692) built on the public [`Extension`] trait, and content
//! converters for typed messages.
//!
//! Extensions work on whole messages and know nothing of sockets or threads; the connection
//! layer runs their encoders on its write side and their decoders on its read side. Depends on
//! `protocol`, `handshake` (the [`Request`](crate::Request) an extension may look at) and the
//! crate's errors.

#[cfg(feature = "serde")]
pub(crate) mod converter;
#[cfg(feature = "deflate")]
pub(crate) mod deflate;
pub(crate) mod extension;
pub(crate) mod negotiate;

#[cfg(feature = "serde")]
pub use converter::ContentConverter;
#[cfg(feature = "json")]
pub use converter::JsonConverter;
#[cfg(feature = "deflate")]
pub use deflate::Deflate;
pub use extension::{
    Accepted, ClientExtension, Extension, ExtensionOffer, MessageDecoder, MessageEncoder, RSV1, RSV2, RSV3,
};
pub(crate) use negotiate::{Negotiated, client_negotiated, client_offer, negotiate};

//! WebSocket extensions (RFC 6455 §9): the trait a user implements and the offers a client
//! makes.
//!
//! An extension works on whole messages: its [`MessageEncoder`] transforms each outgoing
//! payload and says which RSV bits to set on its first frame; its [`MessageDecoder`] undoes
//! that for incoming messages, given the RSV bits their first frame carried. Encoders run on
//! the connection's write loop, decoders on its read loop, so each is owned by one thread.

use crate::error::ExtensionError;
use crate::handshake::Request;
use std::fmt;

/// RSV1, the bit permessage-deflate claims.
pub const RSV1: u8 = 0b100;
/// RSV2.
pub const RSV2: u8 = 0b010;
/// RSV3.
pub const RSV3: u8 = 0b001;

/// One offer of an extension from the client's `Sec-WebSocket-Extensions` header.
///
/// ```
/// use syncws::ExtensionOffer;
/// let offers = ExtensionOffer::parse_header("permessage-deflate; client_max_window_bits, x-foo; a=\"1\"");
/// assert_eq!(offers.len(), 2);
/// assert_eq!(offers[0].name(), "permessage-deflate");
/// assert_eq!(offers[0].params()[0], ("client_max_window_bits".to_owned(), None));
/// assert_eq!(offers[1].param("a"), Some(Some("1")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionOffer {
    name: String,
    params: Vec<(String, Option<String>)>,
}

impl ExtensionOffer {
    /// The extension token, lower case.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parameters in the order given, names lower case, quotes removed from values.
    pub fn params(&self) -> &[(String, Option<String>)] {
        &self.params
    }

    /// The first parameter called `name`: `None` if absent, `Some(None)` if it has no value.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_deref())
    }

    /// Parses one `Sec-WebSocket-Extensions` header value into offers, in order. Offers that
    /// are not well-formed are left out rather than failing the handshake.
    pub fn parse_header(value: &str) -> Vec<ExtensionOffer> {
        split_outside_quotes(value, ',').filter_map(Self::parse_offer).collect()
    }

    /// Parses a header value whose every element must be well-formed (a server's answer,
    /// which a client must not half-understand); `Err` names the first element that is not.
    pub(crate) fn parse_header_strict(value: &str) -> Result<Vec<ExtensionOffer>, String> {
        split_outside_quotes(value, ',')
            .map(|element| Self::parse_offer(element).ok_or_else(|| element.trim().to_owned()))
            .collect()
    }

    fn parse_offer(text: &str) -> Option<ExtensionOffer> {
        let mut parts = split_outside_quotes(text, ';');
        let name = parts.next()?.trim();
        if !is_token(name) {
            return None;
        }
        let mut params = Vec::new();
        for part in parts {
            let part = part.trim();
            let (key, value) = match part.split_once('=') {
                Some((k, v)) => (k.trim(), Some(unquote(v.trim())?)),
                None => (part, None),
            };
            if !is_token(key) {
                return None;
            }
            params.push((key.to_ascii_lowercase(), value));
        }
        Some(ExtensionOffer { name: name.to_ascii_lowercase(), params })
    }
}

fn split_outside_quotes(s: &str, sep: char) -> impl Iterator<Item = &str> {
    let mut in_quotes = false;
    s.split(move |c: char| {
        if c == '"' {
            in_quotes = !in_quotes;
        }
        c == sep && !in_quotes
    })
    .filter(|p| !p.trim().is_empty())
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn unquote(v: &str) -> Option<String> {
    let inner = match v.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"')?,
        None => v,
    };
    is_token(inner).then(|| inner.to_owned())
}

/// What an extension answers when it accepts an offer.
pub struct Accepted {
    /// Parameters for the response header, in order.
    pub params: Vec<(String, Option<String>)>,
    /// The RSV bits ([`RSV1`], [`RSV2`], [`RSV3`]) this extension may set on data frames.
    pub rsv: u8,
    /// Transforms outgoing messages (runs on the connection's write loop).
    pub encoder: Box<dyn MessageEncoder>,
    /// Undoes the transform on incoming messages (runs on the read loop).
    pub decoder: Box<dyn MessageDecoder>,
}

impl fmt::Debug for Accepted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accepted")
            .field("params", &self.params)
            .field("rsv", &self.rsv)
            .finish_non_exhaustive()
    }
}

/// A WebSocket extension the server offers to negotiate: implement it for a custom extension;
/// permessage-deflate (`Deflate`, feature `deflate`) is built the same way.
///
/// ```
/// use syncws::{Accepted, Extension, ExtensionError, ExtensionOffer, MessageDecoder, MessageEncoder, RSV2};
///
/// /// "x-invert": flips every payload bit; marks inverted messages with RSV2.
/// struct Invert;
/// struct Flip;
///
/// impl MessageEncoder for Flip {
///     fn encode(&mut self, payload: &mut Vec<u8>, _text: bool) -> Result<u8, ExtensionError> {
///         payload.iter_mut().for_each(|b| *b = !*b);
///         Ok(RSV2)
///     }
/// }
/// impl MessageDecoder for Flip {
///     fn decode(&mut self, mut payload: Vec<u8>, rsv: u8, _max: usize) -> Result<Vec<u8>, ExtensionError> {
///         if rsv & RSV2 != 0 {
///             payload.iter_mut().for_each(|b| *b = !*b);
///         }
///         Ok(payload)
///     }
/// }
/// impl Extension for Invert {
///     fn name(&self) -> &str {
///         "x-invert"
///     }
///     fn accept(&self, offer: &ExtensionOffer, _request: &syncws::Request) -> Option<Accepted> {
///         offer.params().is_empty().then(|| Accepted {
///             params: Vec::new(),
///             rsv: RSV2,
///             encoder: Box::new(Flip),
///             decoder: Box::new(Flip),
///         })
///     }
/// }
/// ```
pub trait Extension: Send + Sync {
    /// The extension token, e.g. `permessage-deflate` (compared case-insensitively).
    fn name(&self) -> &str;

    /// Looks at one offer of this extension (the client may make several, tried in its order
    /// of preference). Accept it with the response parameters and the connection's codecs, or
    /// decline with `None`: the next offer is tried, and declining all of them simply leaves
    /// the extension off. Never fail the handshake over an offer.
    fn accept(&self, offer: &ExtensionOffer, request: &Request) -> Option<Accepted>;
}

/// A WebSocket extension a client offers (the client's side of [`Extension`]): implement it
/// for a custom extension; `Deflate` (feature `deflate`) implements both sides.
///
/// The client sends [`offer`](Self::offer) in its `Sec-WebSocket-Extensions` header. If the
/// server answers with this extension, [`accept_response`](Self::accept_response) checks the
/// parameters it chose and returns the connection's codecs; an error fails the handshake
/// (RFC 6455 §9.1: the client must fail a connection whose extensions it cannot use).
pub trait ClientExtension: Send + Sync {
    /// The extension token, e.g. `permessage-deflate` (compared case-insensitively).
    fn name(&self) -> &str;

    /// The offer as it goes in `Sec-WebSocket-Extensions`, name first, for example
    /// `permessage-deflate; client_max_window_bits`; several offers of the extension, in
    /// order of preference, are separated by commas.
    fn offer(&self) -> String;

    /// The server accepted the extension with `response`'s parameters. Return the codecs
    /// (the [`Accepted::params`] are not used on a client), or why the parameters are not
    /// acceptable.
    ///
    /// # Errors
    /// A description of what is wrong with the answer; the handshake fails with it.
    fn accept_response(&self, response: &ExtensionOffer) -> Result<Accepted, String>;
}

/// Formats an extension token and its parameters as in `Sec-WebSocket-Extensions`.
pub(crate) fn format_extension(out: &mut String, name: &str, params: &[(String, Option<String>)]) {
    if !out.is_empty() {
        out.push_str(", ");
    }
    out.push_str(name);
    for (k, v) in params {
        out.push_str("; ");
        out.push_str(k);
        if let Some(v) = v {
            out.push('=');
            out.push_str(v);
        }
    }
}

/// Transforms outgoing message payloads.
pub trait MessageEncoder: Send {
    /// Transforms `payload` in place; returns the RSV bits to set on the message's first frame
    /// (0 when the payload was left as it is).
    ///
    /// # Errors
    /// An [`ExtensionError`] fails the connection with its close code.
    fn encode(&mut self, payload: &mut Vec<u8>, text: bool) -> Result<u8, ExtensionError>;
}

/// Undoes an extension's transform on incoming messages.
pub trait MessageDecoder: Send {
    /// Decodes a complete incoming message whose first frame carried `rsv`; returns it
    /// unchanged when none of the extension's bits are set. The result must not exceed
    /// `max_size` bytes (check while producing it).
    ///
    /// # Errors
    /// An [`ExtensionError`] fails the connection with its close code.
    fn decode(&mut self, payload: Vec<u8>, rsv: u8, max_size: usize) -> Result<Vec<u8>, ExtensionError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offers_params_and_quotes() {
        let o = ExtensionOffer::parse_header(
            "permessage-deflate; client_max_window_bits; server_max_window_bits=\"10\", permessage-deflate",
        );
        assert_eq!(o.len(), 2);
        assert_eq!(o[0].param("client_max_window_bits"), Some(None));
        assert_eq!(o[0].param("server_max_window_bits"), Some(Some("10")));
        assert!(o[1].params().is_empty());
    }

    #[test]
    fn malformed_offers_are_left_out() {
        let o = ExtensionOffer::parse_header("bad name; x, ok; a=\"unterminated\"x, good; k=v");
        let names: Vec<_> = o.iter().map(ExtensionOffer::name).collect();
        assert_eq!(names, ["good"]);
        assert!(ExtensionOffer::parse_header(" , ;; ").is_empty());
    }
}

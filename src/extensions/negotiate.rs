//! Extension negotiation: which of the offered extensions one connection uses.

use std::fmt;
use std::sync::Arc;

use super::extension::{
    ClientExtension, Extension, ExtensionOffer, MessageDecoder, MessageEncoder, format_extension,
};
use crate::error::HandshakeError;
use crate::handshake::Request;

/// The extensions one connection negotiated.
#[derive(Default)]
pub(crate) struct Negotiated {
    /// The `Sec-WebSocket-Extensions` response value (empty: none).
    pub(crate) header: String,
    /// Union of the negotiated RSV bits.
    pub(crate) rsv: u8,
    /// In response order (applied in this order when sending).
    pub(crate) encoders: Vec<Box<dyn MessageEncoder>>,
    /// In response order (applied in reverse when receiving).
    pub(crate) decoders: Vec<Box<dyn MessageDecoder>>,
}

impl fmt::Debug for Negotiated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Negotiated")
            .field("header", &self.header)
            .field("rsv", &self.rsv)
            .finish_non_exhaustive()
    }
}

/// Picks, for each offer in the client's order, the first server extension of that name that
/// accepts it; an extension is used once, and its RSV bits must not clash with one already
/// accepted.
pub(crate) fn negotiate(available: &[Arc<dyn Extension>], request: &Request) -> Negotiated {
    let mut out = Negotiated::default();
    if available.is_empty() {
        return out;
    }
    let offers: Vec<ExtensionOffer> = request
        .header_values_raw("sec-websocket-extensions")
        .flat_map(ExtensionOffer::parse_header)
        .collect();
    let mut used = vec![false; available.len()];
    for offer in &offers {
        let Some(i) = available.iter().position(|e| e.name().eq_ignore_ascii_case(offer.name())) else {
            continue;
        };
        if used[i] {
            continue;
        }
        let Some(accepted) = available[i].accept(offer, request) else { continue };
        if accepted.rsv & out.rsv != 0 {
            log::debug!("extension {} declined: RSV bits already taken", offer.name());
            continue;
        }
        used[i] = true;
        out.rsv |= accepted.rsv;
        format_extension(&mut out.header, available[i].name(), &accepted.params);
        out.encoders.push(accepted.encoder);
        out.decoders.push(accepted.decoder);
    }
    out
}

/// A client's `Sec-WebSocket-Extensions` offer: each extension with its parameters, in order.
pub(crate) fn client_offer(offered: &[Arc<dyn ClientExtension>]) -> String {
    offered.iter().map(|e| e.offer()).filter(|o| !o.trim().is_empty()).collect::<Vec<_>>().join(", ")
}

/// The extensions a server's answer settled for a client: each must be one the client
/// offered, at most once, with parameters its extension accepts and RSV bits no other one
/// claims (RFC 6455 §9.1).
pub(crate) fn client_negotiated<'a>(
    offered: &[Arc<dyn ClientExtension>],
    answers: impl Iterator<Item = &'a str>,
) -> Result<Negotiated, HandshakeError> {
    let mut out = Negotiated::default();
    let mut used = vec![false; offered.len()];
    for answer in answers {
        out.header.push_str(if out.header.is_empty() { "" } else { ", " });
        out.header.push_str(answer.trim());
        let parsed =
            ExtensionOffer::parse_header_strict(answer).map_err(HandshakeError::UnofferedExtension)?;
        for response in parsed {
            let i = offered
                .iter()
                .position(|e| e.name().eq_ignore_ascii_case(response.name()))
                .filter(|&i| !used[i])
                .ok_or_else(|| HandshakeError::UnofferedExtension(response.name().to_owned()))?;
            used[i] = true;
            let refused = |why| HandshakeError::ExtensionRefused { name: response.name().to_owned(), why };
            let accepted = offered[i].accept_response(&response).map_err(refused)?;
            if accepted.rsv & out.rsv != 0 {
                return Err(refused("its RSV bits are taken by another extension".to_owned()));
            }
            out.rsv |= accepted.rsv;
            out.encoders.push(accepted.encoder);
            out.decoders.push(accepted.decoder);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extensions::extension::{Accepted, RSV1};

    /// A client extension that accepts any answer without parameters, claiming `rsv`.
    struct Plain(&'static str, u8);
    struct Nothing;

    impl MessageEncoder for Nothing {
        fn encode(&mut self, _: &mut Vec<u8>, _: bool) -> Result<u8, crate::ExtensionError> {
            Ok(0)
        }
    }
    impl MessageDecoder for Nothing {
        fn decode(&mut self, p: Vec<u8>, _: u8, _: usize) -> Result<Vec<u8>, crate::ExtensionError> {
            Ok(p)
        }
    }
    impl ClientExtension for Plain {
        fn name(&self) -> &str {
            self.0
        }
        fn offer(&self) -> String {
            self.0.to_owned()
        }
        fn accept_response(&self, response: &ExtensionOffer) -> Result<Accepted, String> {
            if !response.params().is_empty() {
                return Err("no parameters expected".to_owned());
            }
            Ok(Accepted {
                params: Vec::new(),
                rsv: self.1,
                encoder: Box::new(Nothing),
                decoder: Box::new(Nothing),
            })
        }
    }

    fn answer(offered: &[Arc<dyn ClientExtension>], headers: &[&str]) -> Result<String, HandshakeError> {
        client_negotiated(offered, headers.iter().copied()).map(|n| n.header)
    }

    #[test]
    fn a_clients_answers_are_checked_element_by_element() {
        let a: Arc<dyn ClientExtension> = Arc::new(Plain("x-a", RSV1));
        let b: Arc<dyn ClientExtension> = Arc::new(Plain("x-b", RSV1));
        let only_a = std::slice::from_ref(&a);
        assert_eq!(client_offer(&[a.clone(), b.clone()]), "x-a, x-b");
        assert_eq!(answer(only_a, &[]), Ok(String::new()));
        assert_eq!(answer(only_a, &["x-a"]), Ok("x-a".to_owned()));
        let unoffered = |e: &str| Err(HandshakeError::UnofferedExtension(e.to_owned()));
        assert_eq!(answer(only_a, &["x-b"]), unoffered("x-b"));
        assert_eq!(answer(only_a, &["x-a", "x-a"]), unoffered("x-a"), "twice");
        assert_eq!(answer(only_a, &["x-a, bad token here"]), unoffered("bad token here"));
        assert!(matches!(
            answer(only_a, &["x-a; p=1"]),
            Err(HandshakeError::ExtensionRefused { why, .. }) if why == "no parameters expected"
        ));
        assert!(
            matches!(
                answer(&[a.clone(), b], &["x-a, x-b"]),
                Err(HandshakeError::ExtensionRefused { name, .. }) if name == "x-b"
            ),
            "both claim RSV1"
        );
    }
}

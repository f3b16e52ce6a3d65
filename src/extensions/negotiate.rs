//! Extension negotiation: which of the offered extensions one connection uses.

use std::fmt;
use std::sync::Arc;

use super::extension::{Extension, ExtensionOffer, MessageDecoder, MessageEncoder};
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
        if !out.header.is_empty() {
            out.header.push_str(", ");
        }
        out.header.push_str(available[i].name());
        for (k, v) in &accepted.params {
            out.header.push_str("; ");
            out.header.push_str(k);
            if let Some(v) = v {
                out.header.push('=');
                out.header.push_str(v);
            }
        }
        out.encoders.push(accepted.encoder);
        out.decoders.push(accepted.decoder);
    }
    out
}

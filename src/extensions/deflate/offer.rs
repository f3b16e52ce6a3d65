//! permessage-deflate's parameters (RFC 7692 §7.1), as offered by a client or answered by a
//! server.

use crate::extensions::extension::ExtensionOffer;

/// What one offer (or answer) asks for, once validated.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Offer {
    pub(super) server_no_context_takeover: bool,
    pub(super) client_no_context_takeover: bool,
    pub(super) server_max_window_bits: Option<u8>,
    /// `Some(None)`: the parameter without a value (a client saying it can limit its window).
    pub(super) client_max_window_bits: Option<Option<u8>>,
}

/// Validates an offer's parameters: each at most once, known names only, window bits 8 to 15.
/// `None` declines the offer.
pub(super) fn parse_offer(offer: &ExtensionOffer) -> Option<Offer> {
    let mut o = Offer::default();
    for (name, value) in offer.params() {
        let value = value.as_deref();
        match name.as_str() {
            "server_no_context_takeover" if !o.server_no_context_takeover && value.is_none() => {
                o.server_no_context_takeover = true;
            }
            "client_no_context_takeover" if !o.client_no_context_takeover && value.is_none() => {
                o.client_no_context_takeover = true;
            }
            "server_max_window_bits" if o.server_max_window_bits.is_none() => {
                o.server_max_window_bits = Some(window_bits(value?)?);
            }
            "client_max_window_bits" if o.client_max_window_bits.is_none() => {
                o.client_max_window_bits = Some(value.map(window_bits).map_or(Some(None), |b| b.map(Some))?);
            }
            _ => return None,
        }
    }
    Some(o)
}

/// A window size parameter: a decimal 8 to 15, no leading zero.
fn window_bits(v: &str) -> Option<u8> {
    if v.len() > 2 || v.starts_with('0') {
        return None;
    }
    v.parse().ok().filter(|b| (8..=15).contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(header: &str) -> ExtensionOffer {
        ExtensionOffer::parse_header(header).remove(0)
    }

    #[test]
    fn offer_validation() {
        let ok = |h: &str| parse_offer(&offer(h));
        assert_eq!(ok("permessage-deflate"), Some(Offer::default()));
        assert_eq!(
            ok("permessage-deflate; server_max_window_bits=10").unwrap().server_max_window_bits,
            Some(10)
        );
        assert_eq!(
            ok("permessage-deflate; client_max_window_bits").unwrap().client_max_window_bits,
            Some(None)
        );
        assert_eq!(
            ok("permessage-deflate; client_max_window_bits=9").unwrap().client_max_window_bits,
            Some(Some(9))
        );
        for bad in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; client_max_window_bits=x",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; mystery",
        ] {
            assert_eq!(ok(bad), None, "{bad}");
        }
    }
}

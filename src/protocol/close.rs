//! Close codes (RFC 6455 §7.4), close frame payloads (§5.5.1) and the reason a session ended.

use std::fmt;

use super::error::{ProtocolError, WireError};

/// A WebSocket close status code.
///
/// ```
/// use syncws::CloseCode;
/// assert_eq!(CloseCode::NORMAL.as_u16(), 1000);
/// assert!(CloseCode(4000).is_sendable());
/// assert!(!CloseCode::ABNORMAL.is_sendable());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the server is shutting down (or the browser navigates away).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED: CloseCode = CloseCode(1003);
    /// 1005: no status code was present (never sent on the wire).
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection dropped without a close frame (never sent on the wire).
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a text message was not valid UTF-8.
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY: CloseCode = CloseCode(1008);
    /// 1009: a frame or message was too big.
    pub const TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server hit an unexpected condition (a handler panicked).
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1013: try again later (overloaded).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);

    /// The numeric code.
    pub fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether this code may appear in a close frame on the wire (RFC 6455 §7.4.1 and the IANA
    /// registry): 1000-1003, 1007-1014 and 3000-4999.
    pub fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

/// Why a session ended: available in `on_close` and from `Session::close_reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    /// The close code: the peer's, ours, or 1005/1006 when there was none.
    pub code: CloseCode,
    /// The reason text that came with the code (may be empty).
    pub reason: String,
    /// Whether both sides exchanged close frames (a clean closing handshake).
    pub was_clean: bool,
    /// Whether the peer started the closing handshake.
    pub by_peer: bool,
}

impl CloseReason {
    pub(crate) fn new(code: CloseCode, reason: impl Into<String>, was_clean: bool, by_peer: bool) -> Self {
        CloseReason { code, reason: reason.into(), was_clean, by_peer }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if !self.reason.is_empty() {
            write!(f, " ({})", self.reason)?;
        }
        if !self.was_clean {
            f.write_str(" [not clean]")?;
        }
        Ok(())
    }
}

/// Longest close reason that fits a control frame (125 bytes less the 2-byte code).
pub(crate) const MAX_REASON: usize = 123;

/// Cuts `reason` to [`MAX_REASON`] bytes at a character boundary.
pub(crate) fn truncate_reason(reason: &str) -> &str {
    let mut end = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

/// The payload of a close frame: the code and the (truncated) reason, or nothing for 1005
/// (an answer to a close that carried no code).
pub(crate) fn close_payload(code: CloseCode, reason: &str) -> Vec<u8> {
    if code == CloseCode::NO_STATUS {
        return Vec::new();
    }
    let reason = truncate_reason(reason);
    let mut payload = Vec::with_capacity(2 + reason.len());
    payload.extend_from_slice(&code.as_u16().to_be_bytes());
    payload.extend_from_slice(reason.as_bytes());
    payload
}

/// Validates a close frame's payload (RFC 6455 §5.5.1, §7.4): no payload is code 1005, one
/// byte is an error, and a code must be one that may be sent, with a UTF-8 reason.
pub(crate) fn parse_close(payload: &[u8]) -> Result<(CloseCode, String), WireError> {
    match payload.len() {
        0 => Ok((CloseCode::NO_STATUS, String::new())),
        1 => Err(ProtocolError::BadClosePayload.into()),
        _ => {
            let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
            if !code.is_sendable() {
                return Err(ProtocolError::InvalidCloseCode(code.0).into());
            }
            let reason = std::str::from_utf8(&payload[2..]).map_err(|_| WireError::InvalidUtf8)?;
            Ok((code, reason.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_payloads_parse_and_round_trip() {
        assert_eq!(parse_close(&[]).unwrap().0, CloseCode::NO_STATUS);
        assert!(parse_close(&[3]).is_err());
        assert_eq!(parse_close(&[3, 232, b'o', b'k']).unwrap(), (CloseCode::NORMAL, "ok".to_owned()));
        assert!(matches!(
            parse_close(&[3, 237]),
            Err(WireError::Protocol(ProtocolError::InvalidCloseCode(1005)))
        ));
        assert!(matches!(parse_close(&[3, 232, 0xff]), Err(WireError::InvalidUtf8)));
        let p = close_payload(CloseCode::GOING_AWAY, "bye");
        assert_eq!(parse_close(&p).unwrap(), (CloseCode::GOING_AWAY, "bye".to_owned()));
        assert!(close_payload(CloseCode::NO_STATUS, "ignored").is_empty());
    }

    #[test]
    fn reasons_are_cut_on_char_boundaries() {
        let long = "é".repeat(100); // 200 bytes
        let cut = truncate_reason(&long);
        assert!(cut.len() <= MAX_REASON);
        assert_eq!(cut.len() % 2, 0);
        assert_eq!(truncate_reason("bye"), "bye");
        assert!(close_payload(CloseCode::NORMAL, &long).len() <= 125);
    }
}

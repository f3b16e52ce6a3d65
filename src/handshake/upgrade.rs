//! The upgrade itself (RFC 6455 §4.2): is this request a WebSocket opening handshake, is it
//! a valid one, which subprotocol is selected, and the `101 Switching Protocols` answer.
//!
//! Which route serves a path, and which extensions it offers, is the caller's to decide.

use super::key::accept_key;
use super::request::Request;
use super::response::Rejection;

/// Whether the request asks for a WebSocket (`Upgrade: websocket`).
pub(crate) fn wants_websocket(request: &Request) -> bool {
    request.header_values("upgrade").any(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The answer to a plain request on a path that only speaks WebSocket.
pub(crate) fn upgrade_required() -> Rejection {
    Rejection::new(426, "this path only speaks WebSocket").upgrade_to_websocket()
}

/// Checks an upgrade request (headers, version, key, origin) and returns the
/// `Sec-WebSocket-Accept` value to answer with.
pub(crate) fn check(request: &Request, allowed_origins: Option<&[String]>) -> Result<String, Rejection> {
    if !request.header_values("connection").any(|v| v.eq_ignore_ascii_case("upgrade")) {
        return Err(Rejection::new(400, "Connection header lacks Upgrade"));
    }
    if request.header("sec-websocket-version").map(str::trim) != Some("13") {
        return Err(Rejection::new(426, "unsupported WebSocket version").with("Sec-WebSocket-Version", "13"));
    }
    let key = request.header("sec-websocket-key").map(str::trim).unwrap_or("");
    if !valid_key(key) {
        return Err(Rejection::new(400, "missing or invalid Sec-WebSocket-Key"));
    }
    if let (Some(allowed), Some(origin)) = (allowed_origins, request.header("origin")) {
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(origin.trim())) {
            return Err(Rejection::new(403, "origin not allowed"));
        }
    }
    Ok(accept_key(key))
}

/// The first subprotocol in the client's offer that `supported` lists.
pub(crate) fn select_protocol(request: &Request, supported: &[String]) -> Option<String> {
    request
        .header_values("sec-websocket-protocol")
        .find(|offered| supported.iter().any(|p| p == offered))
        .map(str::to_owned)
}

/// The `101 Switching Protocols` response.
pub(crate) fn switching_protocols(accept: &str, protocol: Option<&str>, extensions: &str) -> Vec<u8> {
    let mut response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
    );
    if let Some(p) = protocol {
        response.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
    }
    if !extensions.is_empty() {
        response.push_str(&format!("Sec-WebSocket-Extensions: {extensions}\r\n"));
    }
    response.push_str("\r\n");
    response.into_bytes()
}

/// A key is 16 bytes in base64: 22 characters of the alphabet and `==`.
fn valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    b.len() == 24
        && b[22..] == *b"=="
        && b[..22].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        && matches!(b[21], b'A' | b'Q' | b'g' | b'w')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_validation() {
        assert!(valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!valid_key("dGhlIHNhbXBsZSBub25jZQ="));
        assert!(!valid_key("dGhlIHNhbXBsZSBub25jZR=="));
        assert!(!valid_key(""));
    }
}

//! The HTTP side of a connection: reading the upgrade request, choosing the route, and
//! answering with `101 Switching Protocols` or the right HTTP error.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::Arc;

use tungstenite::handshake::derive_accept_key;
use tungstenite::handshake::headers::MAX_HEADERS;
use tungstenite::handshake::server::Request as HttpRequest;
use tungstenite::http;

use crate::config::Config;
use crate::extension::{self, Negotiated};
use crate::http::{HttpResponse, reason_phrase};
use crate::inbuf::InBuf;
use crate::request::Request;
use crate::route::{Route, Router};

/// An HTTP error answer to a request that does not become a WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub(crate) status: u16,
    pub(crate) why: &'static str,
    pub(crate) headers: Vec<(&'static str, &'static str)>,
}

impl Rejection {
    pub(crate) fn new(status: u16, why: &'static str) -> Self {
        Rejection { status, why, headers: Vec::new() }
    }

    fn with(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The whole HTTP response: status line, headers and a one-line text body.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let body = format!("{} {}: {}\n", self.status, reason_phrase(self.status), self.why);
        let response = HttpResponse::new(self.status, "text/plain; charset=utf-8", body);
        self.headers.iter().fold(response, |r, (k, v)| r.header(k, v)).to_bytes()
    }
}

/// Why reading the request head stopped without a request.
#[derive(Debug)]
pub(crate) enum ReadFailure {
    /// The peer closed, or the socket failed (or was shut down by the handshake timer).
    Io(io::Error),
    /// The request is not acceptable HTTP; answer with this.
    Reject(Rejection),
}

/// Reads one request head into `buf`, leaving any bytes after it (early frames) in `buf`.
pub(crate) fn read_request(
    r: &mut impl Read,
    buf: &mut InBuf,
    max: usize,
) -> Result<HttpRequest, ReadFailure> {
    loop {
        if !buf.available().is_empty() {
            match parse_head(buf.available()) {
                Ok(Some((used, _))) if used > max => {
                    return Err(ReadFailure::Reject(Rejection::new(431, "request head too large")));
                }
                Ok(Some((used, req))) => {
                    buf.consume(used);
                    return Ok(req);
                }
                Ok(None) => {}
                Err(e) => return Err(ReadFailure::Reject(parse_rejection(&e))),
            }
        }
        if buf.available().len() >= max {
            return Err(ReadFailure::Reject(Rejection::new(431, "request head too large")));
        }
        match buf.fill(r, max) {
            Ok(0) => return Err(ReadFailure::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(_) => {}
            Err(e) => return Err(ReadFailure::Io(e)),
        }
    }
}

/// Parses a request head as tungstenite's `TryParse` does (same limits, same errors), but with
/// the header slots on the heap: 124 of them are 4 KiB, and stack pages a connection thread
/// touches once stay resident for its whole life.
fn parse_head(buf: &[u8]) -> Result<Option<(usize, HttpRequest)>, tungstenite::Error> {
    use tungstenite::error::ProtocolError;
    let mut slots = vec![httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut raw = httparse::Request::new(&mut slots);
    let used = match raw.parse(buf)? {
        httparse::Status::Partial => return Ok(None),
        httparse::Status::Complete(used) => used,
    };
    if raw.method != Some("GET") {
        return Err(ProtocolError::WrongHttpMethod.into());
    }
    if raw.version.unwrap_or(0) < 1 {
        return Err(ProtocolError::WrongHttpVersion.into());
    }
    let mut request = HttpRequest::new(());
    *request.uri_mut() = raw.path.unwrap_or_default().parse()?;
    *request.version_mut() = http::Version::HTTP_11;
    let headers = request.headers_mut();
    headers.reserve(raw.headers.len());
    for h in raw.headers.iter() {
        headers.append(
            http::HeaderName::from_bytes(h.name.as_bytes())?,
            http::HeaderValue::from_bytes(h.value)?,
        );
    }
    Ok(Some((used, request)))
}

fn parse_rejection(e: &tungstenite::Error) -> Rejection {
    use tungstenite::error::{CapacityError, ProtocolError};
    match e {
        tungstenite::Error::Protocol(ProtocolError::WrongHttpMethod) => {
            Rejection::new(405, "only GET can open a WebSocket").with("Allow", "GET")
        }
        tungstenite::Error::Capacity(CapacityError::TooManyHeaders) => {
            Rejection::new(431, "too many headers")
        }
        _ => Rejection::new(400, "malformed HTTP request"),
    }
}

/// An accepted upgrade: what the session will know and the `101` response to send.
#[derive(Debug)]
pub(crate) struct Upgrade {
    pub(crate) request: Request,
    pub(crate) route: Arc<Route>,
    pub(crate) protocol: Option<String>,
    pub(crate) extensions: Negotiated,
    pub(crate) response: Vec<u8>,
}

/// What a request that passed the checks becomes.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// A WebSocket.
    Upgrade(Upgrade),
    /// A plain HTTP answer from an HTTP route.
    Http(HttpResponse),
}

/// Checks a parsed request against the routes and the config.
pub(crate) fn negotiate(
    req: HttpRequest,
    remote_addr: SocketAddr,
    router: &Router,
    config: &Config,
) -> Result<Outcome, Rejection> {
    let request = Request {
        remote_addr,
        path: req.uri().path().to_owned(),
        query: req.uri().query().map(str::to_owned),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
    };
    let upgrading = request.header_values("upgrade").any(|v| v.eq_ignore_ascii_case("websocket"));
    if !upgrading {
        if let Some(page) = router.http(request.path()) {
            let response = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| page(&request)));
            return Ok(Outcome::Http(response.unwrap_or_else(|_| {
                log::error!("{remote_addr}: HTTP handler for {} panicked", request.path());
                HttpResponse::new(500, "text/plain; charset=utf-8", "500 Internal Server Error\n")
            })));
        }
    }
    let route =
        router.find(request.path()).ok_or_else(|| Rejection::new(404, "no WebSocket route at this path"))?;
    if !upgrading {
        return Err(Rejection::new(426, "this path only speaks WebSocket")
            .with("Upgrade", "websocket")
            .with("Connection", "Upgrade"));
    }
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
    if let (Some(allowed), Some(origin)) = (&config.allowed_origins, request.header("origin")) {
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(origin.trim())) {
            return Err(Rejection::new(403, "origin not allowed"));
        }
    }
    let protocol = request
        .header_values("sec-websocket-protocol")
        .find(|offered| route.protocols.iter().any(|p| p == offered))
        .map(str::to_owned);

    let mut response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
        derive_accept_key(key.as_bytes())
    );
    if let Some(p) = &protocol {
        response.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
    }
    let extensions = extension::negotiate(router.extensions_for(&route), &request);
    if !extensions.header.is_empty() {
        response.push_str(&format!("Sec-WebSocket-Extensions: {}\r\n", extensions.header));
    }
    response.push_str("\r\n");
    Ok(Outcome::Upgrade(Upgrade { request, route, protocol, extensions, response: response.into_bytes() }))
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
    fn request_heads_parse_like_tungstenite() {
        let head = b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Two: 1\r\nx-two: 2\r\n\r\nearly frame";
        assert!(parse_head(&head[..20]).unwrap().is_none(), "a partial head waits for more");
        let (used, req) = parse_head(head).unwrap().unwrap();
        assert_eq!(&head[used..], b"early frame");
        assert_eq!((req.uri().path(), req.uri().query()), ("/a", Some("b=1")));
        let twos: Vec<_> = req.headers().get_all("x-two").iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(twos, ["1", "2"]);
        let status = |head: &[u8]| parse_rejection(&parse_head(head).unwrap_err()).status;
        assert_eq!(status(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n"), 405);
        assert_eq!(status(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"), 400);
        assert_eq!(status(b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"), 400);
        let many: String = (0..=MAX_HEADERS).map(|i| format!("H{i}: v\r\n")).collect();
        assert_eq!(status(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()), 431);
    }

    #[test]
    fn key_validation() {
        assert!(valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!valid_key("dGhlIHNhbXBsZSBub25jZQ="));
        assert!(!valid_key("dGhlIHNhbXBsZSBub25jZR=="));
        assert!(!valid_key(""));
    }

    #[test]
    fn partial_then_complete_request() {
        let mut buf = InBuf::new(64);
        let text = b"GET /x?y=1 HTTP/1.1\r\nHost: a\r\n\r\n\x81";
        let mut src: &[u8] = text;
        let req = read_request(&mut src, &mut buf, 1024).unwrap();
        assert_eq!(req.uri().path(), "/x");
        assert_eq!(buf.available(), b"\x81", "bytes after the head stay buffered");
    }

    #[test]
    fn oversized_and_non_get_requests() {
        let mut buf = InBuf::new(16);
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(500));
        let mut src = long.as_bytes();
        match read_request(&mut src, &mut buf, 256) {
            Err(ReadFailure::Reject(r)) => assert_eq!(r.status, 431),
            other => panic!("expected 431, got {other:?}"),
        }
        let mut buf = InBuf::new(64);
        let mut src: &[u8] = b"POST / HTTP/1.1\r\nHost: a\r\n\r\n";
        match read_request(&mut src, &mut buf, 256) {
            Err(ReadFailure::Reject(r)) => assert_eq!(r.status, 405),
            other => panic!("expected 405, got {other:?}"),
        }
    }
}

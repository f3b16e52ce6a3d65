//! Reading an HTTP request head off the socket, with the same limits and errors as
//! tungstenite, into a [`Request`].

use std::io::{self, Read};
use std::net::SocketAddr;

use tungstenite::handshake::headers::MAX_HEADERS;
use tungstenite::handshake::server::Request as HttpRequest;
use tungstenite::http;

use super::request::Request;
use super::response::Rejection;
use crate::protocol::inbuf::InBuf;

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
    remote_addr: SocketAddr,
) -> Result<Request, ReadFailure> {
    loop {
        if !buf.available().is_empty() {
            match parse_head(buf.available()) {
                Ok(Some((used, _))) if used > max => {
                    return Err(ReadFailure::Reject(Rejection::new(431, "request head too large")));
                }
                Ok(Some((used, req))) => {
                    buf.consume(used);
                    return Ok(Request::from_http(&req, remote_addr));
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

#[cfg(test)]
mod tests {
    use super::*;

    const ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1);
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
    fn partial_then_complete_request() {
        let mut buf = InBuf::new(64);
        let text = b"GET /x?y=1 HTTP/1.1\r\nHost: a\r\n\r\n\x81";
        let mut src: &[u8] = text;
        let req = read_request(&mut src, &mut buf, 1024, ADDR).unwrap();
        assert_eq!((req.path(), req.query()), ("/x", Some("y=1")));
        assert_eq!(buf.available(), b"\x81", "bytes after the head stay buffered");
    }

    #[test]
    fn oversized_and_non_get_requests() {
        let mut buf = InBuf::new(16);
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(500));
        let mut src = long.as_bytes();
        match read_request(&mut src, &mut buf, 256, ADDR) {
            Err(ReadFailure::Reject(r)) => assert_eq!(r.status, 431),
            other => panic!("expected 431, got {other:?}"),
        }
        let mut buf = InBuf::new(64);
        let mut src: &[u8] = b"POST / HTTP/1.1\r\nHost: a\r\n\r\n";
        match read_request(&mut src, &mut buf, 256, ADDR) {
            Err(ReadFailure::Reject(r)) => assert_eq!(r.status, 405),
            other => panic!("expected 405, got {other:?}"),
        }
    }
}

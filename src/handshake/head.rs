//! Reading an HTTP head off the socket: a request (server side) into a [`Request`], and the
//! limits and errors both sides share.

use std::io::{self, Read};
use std::net::SocketAddr;

use super::request::Request;
use super::response::Rejection;
use crate::protocol::inbuf::InBuf;

/// Most header lines in a head (as tungstenite and most servers allow).
pub(crate) const MAX_HEADERS: usize = 124;

/// Why reading the request head stopped without a request.
#[derive(Debug)]
pub(crate) enum ReadFailure {
    /// The peer closed, or the socket failed (or was shut down by the handshake timer).
    Io(io::Error),
    /// The request is not acceptable HTTP; answer with this.
    Reject(Rejection),
}

/// Reads one request head into `buf`, leaving any bytes after it (early frames) in `buf`.
///
/// The head is parsed again only once a line has ended since the last parse
/// ([`InBuf::line_ended_after`]).
pub(crate) fn read_request(
    r: &mut impl Read,
    buf: &mut InBuf,
    max: usize,
    remote_addr: SocketAddr,
) -> Result<Request, ReadFailure> {
    // Bytes of `buf.available()` the last parse saw.
    let mut parsed = 0;
    loop {
        if buf.line_ended_after(parsed) {
            let available = buf.available();
            match parse_head(available, remote_addr) {
                Ok(Some((used, _))) if used > max => {
                    return Err(ReadFailure::Reject(Rejection::new(431, "request head too large")));
                }
                Ok(Some((used, req))) => {
                    buf.consume(used);
                    return Ok(req);
                }
                Ok(None) => parsed = available.len(),
                Err(rejection) => return Err(ReadFailure::Reject(rejection)),
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

/// Parses a request head: `GET`, HTTP/1.1 or later, an origin-form (or absolute-form) target,
/// at most [`MAX_HEADERS`] headers (names lower-cased). The header slots are on the heap: 124
/// of them are 4 KiB, and stack pages a connection thread touches once stay resident for its
/// whole life.
fn parse_head(buf: &[u8], remote_addr: SocketAddr) -> Result<Option<(usize, Request)>, Rejection> {
    let mut slots = vec![httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut raw = httparse::Request::new(&mut slots);
    let used = match raw.parse(buf) {
        Ok(httparse::Status::Partial) => return Ok(None),
        Ok(httparse::Status::Complete(used)) => used,
        Err(httparse::Error::TooManyHeaders) => return Err(Rejection::new(431, "too many headers")),
        Err(_) => return Err(malformed()),
    };
    if raw.method != Some("GET") {
        return Err(Rejection::new(405, "only GET can open a WebSocket").with("Allow", "GET"));
    }
    if raw.version.unwrap_or(0) < 1 {
        return Err(malformed());
    }
    let (path, query) = split_target(raw.path.unwrap_or_default()).ok_or_else(malformed)?;
    let headers = raw
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned()))
        .collect();
    Ok(Some((
        used,
        Request { remote_addr, path, query, headers, secure: false, peer_certificates: Vec::new() },
    )))
}

fn malformed() -> Rejection {
    Rejection::new(400, "malformed HTTP request")
}

/// The path and query of a request target: `/path?query`, or `http://host/path?query`
/// (absolute form, RFC 9112 §3.2.2). A fragment is not part of a target.
fn split_target(target: &str) -> Option<(String, Option<String>)> {
    let target = match target.split_once("://") {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            match rest.find(['/', '?']) {
                Some(i) if rest.as_bytes()[i] == b'/' => &rest[i..],
                Some(i) => return Some(("/".to_owned(), Some(rest[i + 1..].to_owned()))),
                None => "/",
            }
        }
        _ => target,
    };
    if !target.starts_with('/') || target.contains('#') {
        return None;
    }
    Some(match target.split_once('?') {
        Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
        None => (target.to_owned(), None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1);

    fn parse(head: &[u8]) -> Result<Option<(usize, Request)>, Rejection> {
        parse_head(head, ADDR)
    }

    #[test]
    fn request_heads() {
        let head = b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Two: 1\r\nx-two: 2\r\n\r\nearly frame";
        assert!(parse(&head[..20]).unwrap().is_none(), "a partial head waits for more");
        let (used, req) = parse(head).unwrap().unwrap();
        assert_eq!(&head[used..], b"early frame");
        assert_eq!((req.path(), req.query()), ("/a", Some("b=1")));
        let twos: Vec<_> = req.headers().filter(|(k, _)| *k == "x-two").map(|(_, v)| v).collect();
        assert_eq!(twos, ["1", "2"]);
        let status = |head: &[u8]| parse(head).unwrap_err().status;
        assert_eq!(status(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n"), 405);
        assert_eq!(status(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"), 400);
        assert_eq!(status(b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"), 400);
        let many: String = (0..=MAX_HEADERS).map(|i| format!("H{i}: v\r\n")).collect();
        assert_eq!(status(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()), 431);
        assert_eq!(status(b"GET relative HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
        assert_eq!(status(b"GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
    }

    #[test]
    fn request_targets() {
        let split = |t: &str| split_target(t).map(|(p, q)| (p, q.unwrap_or_default()));
        assert_eq!(split("/"), Some(("/".into(), "".into())));
        assert_eq!(split("/a/b?x=1&y"), Some(("/a/b".into(), "x=1&y".into())));
        assert_eq!(split("http://host:8080/echo?q"), Some(("/echo".into(), "q".into())));
        assert_eq!(split("HTTP://host"), Some(("/".into(), "".into())));
        assert_eq!(split("http://host?q"), Some(("/".into(), "q".into())));
        assert_eq!(split("*"), None);
        assert_eq!(split("ftp://host/x"), None);
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

    /// Hands out its bytes one per read; past them, a read fails (the test would have waited
    /// for more).
    struct OneByte<'a>(&'a [u8]);

    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some((&first, rest)) = self.0.split_first() else {
                return Err(io::ErrorKind::WouldBlock.into());
            };
            buf[0] = first;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn a_head_sent_byte_by_byte_is_read_whole_and_judged_at_its_first_line_end() {
        let mut buf = InBuf::new(256);
        let head = b"GET /slow HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n";
        let req = read_request(&mut OneByte(head), &mut buf, 1024, ADDR).unwrap();
        assert_eq!((req.path(), req.header("x")), ("/slow", Some("y")));
        // A malformed request line is refused when it ends, without waiting for the rest of
        // the head.
        let mut buf = InBuf::new(256);
        match read_request(&mut OneByte(b"GET / HTTQ/1.1\r\n"), &mut buf, 1024, ADDR) {
            Err(ReadFailure::Reject(r)) => assert_eq!(r.status, 400),
            other => panic!("expected 400 at the request line's end, got {other:?}"),
        }
        // With no line ending at all, the size limit still applies.
        let mut buf = InBuf::new(256);
        let endless = [b'A'; 400];
        match read_request(&mut OneByte(&endless), &mut buf, 300, ADDR) {
            Err(ReadFailure::Reject(r)) => assert_eq!(r.status, 431),
            other => panic!("expected 431, got {other:?}"),
        }
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

//! The client's side of the opening handshake (RFC 6455 §4.1): the upgrade request it sends,
//! and the checks of the server's answer.

use std::io::{self, Read};

use super::head::MAX_HEADERS;
use super::key::accept_key;
use super::request::list_values;
use crate::error::HandshakeError;
use crate::protocol::inbuf::InBuf;

/// Most bytes of a refusal's body kept for [`HandshakeError::Status`].
const MAX_BODY: usize = 64 * 1024;

/// The server's answer to a client's opening handshake: status and headers.
///
/// ```no_run
/// # fn f(session: &syncws::Session) {
/// if let Some(response) = session.response() {
///     println!("{} via {}", response.status(), response.header("server").unwrap_or("?"));
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
}

impl Response {
    /// The status code (101 for an open session).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first value of header `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every header as `(name, value)`, in the order received; names are lower case.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Every value of a header that may be repeated or comma-separated, trimmed.
    pub(crate) fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        list_values(&self.headers, name)
    }
}

/// What a client puts in its upgrade request.
#[derive(Debug)]
pub(crate) struct UpgradeRequest<'a> {
    /// The `Host` header: host, and port unless it is the scheme's default.
    pub(crate) host: &'a str,
    /// Path and query.
    pub(crate) resource: &'a str,
    /// The `Sec-WebSocket-Key` nonce.
    pub(crate) key: &'a str,
    pub(crate) origin: Option<&'a str>,
    /// Subprotocols offered, in order of preference.
    pub(crate) protocols: &'a [String],
    /// The `Sec-WebSocket-Extensions` offer (empty: none).
    pub(crate) extensions: &'a str,
    /// Extra headers, already checked for injection.
    pub(crate) headers: &'a [(String, String)],
}

impl UpgradeRequest<'_> {
    /// The request head's bytes.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n",
            self.resource, self.host, self.key
        );
        let mut line = |name: &str, value: &str| {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        };
        if let Some(origin) = self.origin {
            line("Origin", origin);
        }
        if !self.protocols.is_empty() {
            line("Sec-WebSocket-Protocol", &self.protocols.join(", "));
        }
        if !self.extensions.is_empty() {
            line("Sec-WebSocket-Extensions", self.extensions);
        }
        for (name, value) in self.headers {
            line(name, value);
        }
        head.push_str("\r\n");
        head.into_bytes()
    }

    /// The headers as a session's [`Request`](super::Request) lists them (names lower case).
    pub(crate) fn header_list(&self) -> Vec<(String, String)> {
        let mut list = vec![
            ("host".to_owned(), self.host.to_owned()),
            ("upgrade".to_owned(), "websocket".to_owned()),
            ("connection".to_owned(), "Upgrade".to_owned()),
            ("sec-websocket-key".to_owned(), self.key.to_owned()),
            ("sec-websocket-version".to_owned(), "13".to_owned()),
        ];
        if let Some(origin) = self.origin {
            list.push(("origin".to_owned(), origin.to_owned()));
        }
        if !self.protocols.is_empty() {
            list.push(("sec-websocket-protocol".to_owned(), self.protocols.join(", ")));
        }
        if !self.extensions.is_empty() {
            list.push(("sec-websocket-extensions".to_owned(), self.extensions.to_owned()));
        }
        list.extend(self.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())));
        list
    }
}

/// Why reading the response stopped.
#[derive(Debug)]
pub(crate) enum ResponseFailure {
    /// The socket failed or closed (or the handshake timer shut it down).
    Io(io::Error),
    /// The answer is not an upgrade.
    Refused(HandshakeError),
}

impl From<HandshakeError> for ResponseFailure {
    fn from(e: HandshakeError) -> Self {
        ResponseFailure::Refused(e)
    }
}

/// Reads the response head into `buf` (leaving the server's first frames there), and for a
/// status other than 101 the body too, as an error. The head is parsed again only once a line
/// has ended since the last parse ([`InBuf::line_ended_after`]).
pub(crate) fn read_response(
    r: &mut impl Read,
    buf: &mut InBuf,
    max: usize,
) -> Result<Response, ResponseFailure> {
    // Bytes of `buf.available()` the last parse saw.
    let mut parsed = 0;
    loop {
        if buf.line_ended_after(parsed) {
            let available = buf.available();
            parsed = available.len();
            if let Some((used, response)) = parse_head(available)? {
                if used > max {
                    return Err(HandshakeError::Malformed(format!("head longer than {max} bytes")).into());
                }
                buf.consume(used);
                if response.status != 101 {
                    let body = read_body(r, buf, &response);
                    let Response { status, headers } = response;
                    return Err(HandshakeError::Status { status, headers, body }.into());
                }
                return Ok(response);
            }
        }
        if buf.available().len() >= max {
            return Err(HandshakeError::Malformed(format!("head longer than {max} bytes")).into());
        }
        match buf.fill(r, max) {
            Ok(0) => {
                let why = if buf.available().is_empty() {
                    "connection closed before any answer"
                } else {
                    "connection closed mid-head"
                };
                return Err(ResponseFailure::Io(io::Error::new(io::ErrorKind::UnexpectedEof, why)));
            }
            Ok(_) => {}
            Err(e) => return Err(ResponseFailure::Io(e)),
        }
    }
}

fn parse_head(bytes: &[u8]) -> Result<Option<(usize, Response)>, HandshakeError> {
    let mut slots = vec![httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut raw = httparse::Response::new(&mut slots);
    let used = match raw.parse(bytes) {
        Ok(httparse::Status::Partial) => return Ok(None),
        Ok(httparse::Status::Complete(used)) => used,
        Err(e) => return Err(HandshakeError::Malformed(e.to_string())),
    };
    if raw.version.unwrap_or(0) < 1 {
        return Err(HandshakeError::Malformed("not HTTP/1.1".to_owned()));
    }
    let headers = raw
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned()))
        .collect();
    Ok(Some((used, Response { status: raw.code.unwrap_or(0), headers })))
}

/// A refusal's body, at most [`MAX_BODY`] of it: none for 1xx, 204 and 304; `Content-Length`
/// bytes; the chunks of a chunked body, decoded; otherwise up to EOF. Whatever arrived when
/// the socket fails or the handshake timer cuts it.
fn read_body(r: &mut impl Read, buf: &mut InBuf, response: &Response) -> Vec<u8> {
    if matches!(response.status, 100..=199 | 204 | 304) {
        return Vec::new();
    }
    let chunked = response.header_values("transfer-encoding").any(|v| v.eq_ignore_ascii_case("chunked"));
    let mut body = Vec::new();
    if chunked {
        let _ = read_chunks(r, buf, &mut body);
        return body;
    }
    let length = response.header("content-length").and_then(|v| v.trim().parse::<usize>().ok());
    let _ = read_up_to(r, buf, &mut body, length.unwrap_or(MAX_BODY).min(MAX_BODY));
    body
}

/// Appends up to `want` bytes in all to `body`; stops early at EOF or an error.
fn read_up_to(r: &mut impl Read, buf: &mut InBuf, body: &mut Vec<u8>, want: usize) -> io::Result<()> {
    while body.len() < want {
        let avail = buf.available();
        if avail.is_empty() {
            let cap = buf.size();
            if buf.fill(r, cap)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            continue;
        }
        let take = avail.len().min(want - body.len());
        body.extend_from_slice(&avail[..take]);
        buf.consume(take);
    }
    Ok(())
}

/// Decodes a chunked body (RFC 9112 §7.1) into `body`, up to [`MAX_BODY`]; ends at the last
/// chunk (trailers are not read).
fn read_chunks(r: &mut impl Read, buf: &mut InBuf, body: &mut Vec<u8>) -> io::Result<()> {
    loop {
        let mut line = Vec::new();
        while !line.ends_with(b"\r\n") {
            if line.len() > 1024 {
                return Err(io::ErrorKind::InvalidData.into());
            }
            let mut byte = Vec::new();
            read_up_to(r, buf, &mut byte, 1)?;
            line.extend_from_slice(&byte);
        }
        let text = String::from_utf8_lossy(&line[..line.len() - 2]).into_owned();
        let size_text = text.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        if size == 0 {
            return Ok(());
        }
        let want = body.len().saturating_add(size).min(MAX_BODY);
        read_up_to(r, buf, body, want)?;
        if body.len() >= MAX_BODY {
            return Ok(());
        }
        let mut crlf = Vec::new();
        read_up_to(r, buf, &mut crlf, 2)?;
    }
}

/// Checks a 101 answer against the request (RFC 6455 §4.1, the client's checks 1 to 4 and 6;
/// extensions, check 5, are the extensions layer's): returns the selected subprotocol.
pub(crate) fn check_upgrade(
    response: &Response,
    key: &str,
    protocols: &[String],
) -> Result<Option<String>, HandshakeError> {
    if !response.header_values("upgrade").any(|v| v.eq_ignore_ascii_case("websocket"))
        || !response.header_values("connection").any(|v| v.eq_ignore_ascii_case("upgrade"))
    {
        return Err(HandshakeError::NotUpgraded);
    }
    if response.header("sec-websocket-accept").map(str::trim) != Some(accept_key(key).as_str()) {
        return Err(HandshakeError::BadAccept);
    }
    let mut selected = response.header_values("sec-websocket-protocol");
    let protocol = selected.next().map(str::to_owned);
    if let Some(p) = &protocol {
        if selected.next().is_some() || !protocols.iter().any(|o| o == p) {
            return Err(HandshakeError::UnofferedProtocol(
                response.header("sec-websocket-protocol").unwrap_or_default().to_owned(),
            ));
        }
    }
    Ok(protocol)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    fn response(text: &str) -> Result<Response, ResponseFailure> {
        let mut buf = InBuf::new(64);
        read_response(&mut text.as_bytes(), &mut buf, 4096)
    }

    fn upgraded(extra: &str) -> Response {
        let text = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n{extra}\r\n"
        );
        response(&text).unwrap()
    }

    #[test]
    fn the_request_names_everything_offered() {
        let protocols = ["chat".to_owned(), "v2".to_owned()];
        let headers = [("Authorization".to_owned(), "Bearer x".to_owned())];
        let req = UpgradeRequest {
            host: "[::1]:8080",
            resource: "/ws?room=1",
            key: KEY,
            origin: Some("http://board"),
            protocols: &protocols,
            extensions: "permessage-deflate; client_max_window_bits",
            headers: &headers,
        };
        let text = String::from_utf8(req.to_bytes()).unwrap();
        assert!(text.starts_with("GET /ws?room=1 HTTP/1.1\r\nHost: [::1]:8080\r\n"), "{text}");
        for line in [
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13",
            "Origin: http://board",
            "Sec-WebSocket-Protocol: chat, v2",
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
            "Authorization: Bearer x",
        ] {
            assert!(text.contains(&format!("\r\n{line}\r\n")), "{line} in {text}");
        }
        assert!(text.ends_with("\r\n\r\n"));
        assert!(req.header_list().contains(&("authorization".to_owned(), "Bearer x".to_owned())));
    }

    #[test]
    fn a_good_answer_and_each_bad_one() {
        let offered = ["chat".to_owned()];
        assert_eq!(check_upgrade(&upgraded(""), KEY, &offered), Ok(None));
        assert_eq!(
            check_upgrade(&upgraded("Sec-WebSocket-Protocol: chat\r\n"), KEY, &offered),
            Ok(Some("chat".to_owned()))
        );
        assert_eq!(
            check_upgrade(&upgraded("Sec-WebSocket-Protocol: mqtt\r\n"), KEY, &offered),
            Err(HandshakeError::UnofferedProtocol("mqtt".to_owned()))
        );
        assert!(matches!(
            check_upgrade(&upgraded("Sec-WebSocket-Protocol: chat, chat\r\n"), KEY, &offered),
            Err(HandshakeError::UnofferedProtocol(_))
        ));
        assert_eq!(
            check_upgrade(&upgraded(""), "AAAAAAAAAAAAAAAAAAAAAA==", &offered),
            Err(HandshakeError::BadAccept)
        );
        let no_upgrade =
            response("HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
                .unwrap();
        assert_eq!(check_upgrade(&no_upgrade, KEY, &offered), Err(HandshakeError::NotUpgraded));
    }

    #[test]
    fn refusals_keep_status_headers_and_body() {
        let text = "HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\nX-Why: origin\r\n\r\nforbiddenEXTRA";
        match response(text) {
            Err(ResponseFailure::Refused(HandshakeError::Status { status, headers, body })) => {
                assert_eq!(status, 403);
                assert!(headers.contains(&("x-why".to_owned(), "origin".to_owned())));
                assert_eq!(body, b"forbidden");
            }
            other => panic!("{other:?}"),
        }
        match response("HTTP/1.1 500 Oops\r\n\r\nuntil the end") {
            Err(ResponseFailure::Refused(HandshakeError::Status { status: 500, body, .. })) => {
                assert_eq!(body, b"until the end");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            response("SSH-2.0-OpenSSH\r\n\r\n"),
            Err(ResponseFailure::Refused(HandshakeError::Malformed(_)))
        ));
        assert!(matches!(response("HTTP/1.1 101 Swi"), Err(ResponseFailure::Io(_))));
    }

    #[test]
    fn frames_after_the_head_stay_buffered() {
        let text = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\u{81}\u{0}";
        let mut buf = InBuf::new(16);
        read_response(&mut text.as_bytes(), &mut buf, 4096).unwrap();
        assert_eq!(buf.available(), "\u{81}\u{0}".as_bytes());
    }

    /// A server that keeps the connection open after its answer: reading on would block.
    struct OpenAfter<'a>(&'a [u8]);

    impl Read for OpenAfter<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = self.0.len().min(out.len()).min(7);
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn refused(text: &str) -> (u16, Vec<u8>) {
        let mut buf = InBuf::new(16);
        match read_response(&mut OpenAfter(text.as_bytes()), &mut buf, 4096) {
            Err(ResponseFailure::Refused(HandshakeError::Status { status, body, .. })) => (status, body),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn chunked_and_empty_bodies_end_without_waiting_for_eof() {
        let chunked = "HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n\
                       5\r\ntoken\r\n9;ext=1\r\n required\r\n0\r\n\r\n";
        assert_eq!(refused(chunked), (401, b"token required".to_vec()));
        assert_eq!(refused("HTTP/1.1 204 No Content\r\n\r\n"), (204, Vec::new()));
        assert_eq!(refused("HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy"), (503, b"busy".to_vec()));
    }
}

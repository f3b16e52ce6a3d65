//! HTTP answers: plain responses for non-upgrade GET requests (so one port can serve a page
//! and its WebSocket endpoints), and the error answers that refuse an upgrade.

use std::fmt;

/// An HTTP response to a plain GET (see [`Server::http_route`](crate::Server::http_route)).
///
/// ```
/// use syncws::HttpResponse;
/// let page = HttpResponse::ok("text/html; charset=utf-8", "<h1>hi</h1>").header("Cache-Control", "no-store");
/// assert_eq!(page.status(), 200);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    status: u16,
    content_type: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The `Connection` header: `close`, with the connection options of a refusal before it.
    connection: &'static str,
    /// A header that was refused: the response goes out as a 500 instead.
    refused: Option<InvalidHeader>,
}

impl HttpResponse {
    /// A response with `status`, a `Content-Type` and a body. A content type with a control
    /// character (CR or LF, say) is refused as [`header`](Self::header) refuses values.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        let refused =
            check_value(content_type).err().map(|_| InvalidHeader::Value("Content-Type".to_owned()));
        HttpResponse {
            status,
            content_type: if refused.is_some() { String::new() } else { content_type.to_owned() },
            headers: Vec::new(),
            body: body.into(),
            connection: "close",
            refused,
        }
    }

    /// A `200 OK` response.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self::new(200, content_type, body)
    }

    /// Adds a header line. A header that [`try_header`](Self::try_header) would refuse (a name
    /// that is not an HTTP token, a value with CR, LF or another control character, a header
    /// syncws writes itself) is never sent: the whole response then goes out as a 500, and the
    /// refusal is logged. Use `try_header` to handle the refusal yourself.
    ///
    /// ```
    /// use syncws::HttpResponse;
    /// let injected = HttpResponse::ok("text/plain", "hi").header("X-Name", "a\r\nSet-Cookie: evil=1");
    /// assert_eq!(injected.status(), 500);
    /// ```
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match check_header(name, value) {
            Ok(()) => self.add(name, value),
            Err(e) => {
                self.refused.get_or_insert(e);
                self
            }
        }
    }

    /// Adds a header line, or refuses it: use this for values that come from a request or
    /// another untrusted source, where a CR or LF would inject headers of the caller's choice.
    ///
    /// ```
    /// use syncws::{HttpResponse, InvalidHeader};
    /// let page = HttpResponse::ok("text/plain", "hi");
    /// let injected = page.clone().try_header("X-Name", "a\r\nSet-Cookie: evil=1");
    /// assert_eq!(injected.unwrap_err(), InvalidHeader::Value("X-Name".to_owned()));
    /// assert!(page.try_header("X-Name", "a b").is_ok());
    /// ```
    ///
    /// # Errors
    /// [`InvalidHeader`] for a name that is not an HTTP token, a value with a control character
    /// other than tab (CR and LF included), or `Content-Length`, `Connection` and
    /// `Transfer-Encoding`, which syncws writes itself. A `Content-Type` header replaces the
    /// one given to [`new`](Self::new).
    pub fn try_header(self, name: &str, value: &str) -> Result<Self, InvalidHeader> {
        check_header(name, value)?;
        Ok(self.add(name, value))
    }

    /// Adds a header that passed [`check_header`].
    fn add(mut self, name: &str, value: &str) -> Self {
        if name.eq_ignore_ascii_case("content-type") {
            self.content_type = value.to_owned();
        } else {
            self.headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// The status code: 500 once a header was refused.
    pub fn status(&self) -> u16 {
        if self.refused.is_some() { 500 } else { self.status }
    }

    /// The whole response as sent: status line, headers, `Connection: close`, body. A response
    /// with a refused header is replaced by a plain 500.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        if let Some(e) = &self.refused {
            log::error!("HTTP response replaced by a 500: {e}");
            return HttpResponse::new(500, "text/plain; charset=utf-8", "500 Internal Server Error\n")
                .to_bytes();
        }
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n",
            self.status,
            reason_phrase(self.status),
            self.content_type,
            self.body.len(),
            self.connection,
        );
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Why [`HttpResponse::try_header`] refused a header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidHeader {
    /// The name is not an HTTP token (escaped for printing).
    Name(String),
    /// The value of this header holds CR, LF or another control character.
    Value(String),
    /// syncws writes this header itself.
    Reserved(String),
}

impl fmt::Display for InvalidHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidHeader::Name(n) => write!(f, "header name \"{n}\" is not an HTTP token"),
            InvalidHeader::Value(n) => {
                write!(f, "the value of header {n} holds a control character (CR or LF?)")
            }
            InvalidHeader::Reserved(n) => write!(f, "header {n} is written by syncws itself"),
        }
    }
}

impl std::error::Error for InvalidHeader {}

/// Whether a header may be sent as given: see [`HttpResponse::try_header`].
fn check_header(name: &str, value: &str) -> Result<(), InvalidHeader> {
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(InvalidHeader::Name(name.escape_debug().to_string()));
    }
    if check_value(value).is_err() {
        return Err(InvalidHeader::Value(name.to_owned()));
    }
    if ["content-length", "connection", "transfer-encoding"].iter().any(|r| name.eq_ignore_ascii_case(r)) {
        return Err(InvalidHeader::Reserved(name.to_owned()));
    }
    Ok(())
}

/// A token character (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A field value: visible characters, spaces and tabs, and bytes above ASCII; no CR, LF, NUL
/// or other control character (RFC 9110 §5.5).
fn check_value(value: &str) -> Result<(), InvalidHeader> {
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(InvalidHeader::Value(String::new()));
    }
    Ok(())
}

/// The reason phrase of the status codes syncws sends.
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// An HTTP error answer to a request that does not become a WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub(crate) status: u16,
    pub(crate) why: &'static str,
    pub(crate) headers: Vec<(&'static str, &'static str)>,
    /// Whether the answer names a protocol to upgrade to (426): `Upgrade: websocket`.
    upgrade: bool,
}

impl Rejection {
    pub(crate) fn new(status: u16, why: &'static str) -> Self {
        Rejection { status, why, headers: Vec::new(), upgrade: false }
    }

    /// Asks the client to upgrade to WebSocket (`Upgrade: websocket`, `Connection: Upgrade`).
    pub(crate) fn upgrade_to_websocket(mut self) -> Self {
        self.upgrade = true;
        self.with("Upgrade", "websocket")
    }

    pub(crate) fn with(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The whole HTTP response: status line, headers and a one-line text body.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let body = format!("{} {}: {}\n", self.status, reason_phrase(self.status), self.why);
        let mut response = HttpResponse::new(self.status, "text/plain; charset=utf-8", body);
        for (name, value) in &self.headers {
            response = response.header(name, value);
        }
        if self.upgrade {
            // One Connection header: the Upgrade option (RFC 9110 §7.8) and our close.
            response.connection = "Upgrade, close";
        }
        response.to_bytes()
    }
}

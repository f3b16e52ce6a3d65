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
}

impl HttpResponse {
    /// A response with `status`, a `Content-Type` and a body.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        HttpResponse { status, content_type: content_type.to_owned(), headers: Vec::new(), body: body.into() }
    }

    /// A `200 OK` response.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self::new(200, content_type, body)
    }

    /// Adds a header line.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The whole response as sent: status line, headers, `Connection: close`, body.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            reason_phrase(self.status),
            self.content_type,
            self.body.len()
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
}

impl Rejection {
    pub(crate) fn new(status: u16, why: &'static str) -> Self {
        Rejection { status, why, headers: Vec::new() }
    }

    pub(crate) fn with(mut self, name: &'static str, value: &'static str) -> Self {
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

//! What a session knows of the HTTP request that opened it (Ktor's `call`).

use std::net::SocketAddr;

/// The upgrade request of a session: remote address, path, query and headers.
///
/// ```no_run
/// # fn f(session: &syncws::Session) {
/// let req = session.request();
/// println!("{} asked for {}?{}", req.remote_addr(), req.path(), req.query().unwrap_or(""));
/// let agent = req.header("user-agent").unwrap_or("unknown");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Request {
    pub(crate) remote_addr: SocketAddr,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    /// Whether the connection is TLS.
    pub(crate) secure: bool,
    /// The peer's certificate chain over TLS (DER, leaf first), if it showed one.
    pub(crate) peer_certificates: Vec<Vec<u8>>,
}

impl Request {
    /// The client's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote_addr
    }

    /// The request path, without the query string.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query string (after `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The first value of header `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every header as `(name, value)`, in the order they were sent; names are lower case.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Every value of a header that may be repeated or comma-separated (such as
    /// `Sec-WebSocket-Protocol`), trimmed.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        list_values(&self.headers, name)
    }

    /// Whether the connection is TLS (`https://`, `wss://`; feature `tls`).
    pub fn is_tls(&self) -> bool {
        self.secure
    }

    /// The certificate chain the peer showed over TLS, DER-encoded, leaf first: on a server
    /// that requires client certificates (`ServerTls::require_client_cert`), the client's,
    /// already verified against the client CAs (its subject or fingerprint names the device);
    /// on a client, the server's. Empty without TLS or without a certificate.
    pub fn peer_certificates(&self) -> &[Vec<u8>] {
        &self.peer_certificates
    }

    /// Every value of header `name` (each header line whole, in order).
    pub(crate) fn header_values_raw<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.headers.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Every value of header `name` in `headers`, split at commas and trimmed (for headers that
/// may be repeated or comma-separated), in order.
pub(crate) fn list_values<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> {
    headers
        .iter()
        .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

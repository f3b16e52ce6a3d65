//! `ws://` and `wss://` URLs (RFC 6455 §3): TLS or not, host, port, and the resource (path
//! and query) to request.

use crate::error::Error;

/// A parsed `ws://` or `wss://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WsUrl {
    /// `wss://`: TLS.
    pub(crate) secure: bool,
    /// The host as dialed: a name, an IPv4 address, or an IPv6 address without brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The `Host` header: the host (IPv6 in brackets), and the port unless it is 80.
    pub(crate) host_header: String,
    /// Path and query, `/` at least.
    pub(crate) resource: String,
}

impl WsUrl {
    /// Parses `url`.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] for another scheme (`wss://` too without the `tls` feature), a
    /// missing host, a bad port, user info, a fragment, or spaces and control
    /// characters.
    pub(crate) fn parse(url: &str) -> Result<WsUrl, Error> {
        let bad = |why| Error::InvalidUrl { url: url.to_owned(), why };
        let (scheme, rest) =
            url.split_once("://").ok_or_else(|| bad("no scheme (expected ws:// or wss://)"))?;
        let secure = scheme.eq_ignore_ascii_case("wss");
        if secure && cfg!(not(feature = "tls")) {
            return Err(bad("wss:// needs TLS: build syncws with the `tls` feature"));
        }
        if !secure && !scheme.eq_ignore_ascii_case("ws") {
            return Err(bad("the scheme must be ws:// or wss://"));
        }
        let default_port = if secure { 443 } else { 80 };
        if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(bad("spaces and control characters are not allowed"));
        }
        if !url.is_ascii() {
            return Err(bad("non-ASCII characters must be percent-encoded (and host names in punycode)"));
        }
        if url.contains('#') {
            return Err(bad("a WebSocket URL has no fragment (RFC 6455 §3)"));
        }
        let (authority, resource) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
            Some(i) => (&rest[..i], rest[i..].to_owned()),
            None => (rest, "/".to_owned()),
        };
        if authority.contains('@') {
            return Err(bad("user info in the URL is not supported (use a header)"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed [ in the host"))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad("not an IPv6 address in [ ]"));
            }
            (
                host,
                after.strip_prefix(':').map(Some).unwrap_or(if after.is_empty() { None } else { Some("") }),
            )
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if !authority.starts_with('[') && host.contains(':') {
            return Err(bad("an IPv6 address must be in brackets, as in ws://[::1]:8080/"));
        }
        let port = match port {
            None => default_port,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad("bad port"))?
            }
            Some(_) => return Err(bad("bad port")),
        };
        let bracketed = if host.contains(':') { format!("[{host}]") } else { host.to_owned() };
        let host_header = if port == default_port { bracketed } else { format!("{bracketed}:{port}") };
        Ok(WsUrl { secure, host: host.to_owned(), port, host_header, resource })
    }

    /// The resource's path (before `?`) and query.
    pub(crate) fn path_and_query(&self) -> (String, Option<String>) {
        match self.resource.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (self.resource.clone(), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> (String, u16, String, String) {
        let u = WsUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        (u.host, u.port, u.host_header, u.resource)
    }

    #[test]
    fn hosts_ports_and_resources() {
        let p = |h: &str, port, hh: &str, r: &str| (h.to_owned(), port, hh.to_owned(), r.to_owned());
        assert_eq!(parts("ws://example.com"), p("example.com", 80, "example.com", "/"));
        assert_eq!(parts("WS://example.com:80/chat"), p("example.com", 80, "example.com", "/chat"));
        assert_eq!(
            parts("ws://10.0.0.2:8080/a/b?x=1&y=2"),
            p("10.0.0.2", 8080, "10.0.0.2:8080", "/a/b?x=1&y=2")
        );
        assert_eq!(parts("ws://[::1]:9001/runCase?case=1"), p("::1", 9001, "[::1]:9001", "/runCase?case=1"));
        assert_eq!(parts("ws://[fe80::1]"), p("fe80::1", 80, "[fe80::1]", "/"));
        assert_eq!(parts("ws://h?q"), p("h", 80, "h", "/?q"));
        let u = WsUrl::parse("ws://h/p?q=1").unwrap();
        assert_eq!(u.path_and_query(), ("/p".to_owned(), Some("q=1".to_owned())));
    }

    #[test]
    #[cfg(feature = "tls")]
    fn wss_urls_default_to_port_443() {
        let u = WsUrl::parse("wss://example.com/live").unwrap();
        assert!(u.secure);
        assert_eq!((u.port, u.host_header.as_str()), (443, "example.com"));
        let u = WsUrl::parse("WSS://example.com:8443").unwrap();
        assert_eq!((u.port, u.host_header.as_str()), (8443, "example.com:8443"));
        let u = WsUrl::parse("wss://example.com:80/").unwrap();
        assert_eq!(u.host_header, "example.com:80");
        assert!(!WsUrl::parse("ws://example.com:443/").unwrap().secure);
        assert_eq!(WsUrl::parse("ws://example.com:443/").unwrap().host_header, "example.com:443");
    }

    #[test]
    #[cfg(not(feature = "tls"))]
    fn wss_needs_the_tls_feature() {
        let e = WsUrl::parse("wss://h/").unwrap_err();
        assert!(e.to_string().contains("`tls` feature"), "{e}");
    }

    #[test]
    fn what_is_refused() {
        for bad in [
            "http://h/",
            "https://h/",
            "h:80",
            "ws://",
            "ws://:80/",
            "ws://h:0/",
            "ws://h:70000/",
            "ws://h:x/",
            "ws://u:p@h/",
            "ws://h/#frag",
            "ws://h/a b",
            "ws://[::1/",
            "ws://[nothex]/",
            "ws://[::1]x/",
            "ws://::1/",
            "ws://h:80:90/",
            "ws://h:+80/",
            "ws://h:/",
            "ws://bücher.example/",
            "ws://h/ü",
        ] {
            assert!(matches!(WsUrl::parse(bad), Err(Error::InvalidUrl { .. })), "{bad}");
        }
    }
}

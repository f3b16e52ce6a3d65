//! Client options: the connection options of the server's [`Config`](crate::Config), and what
//! dialing out needs (timeouts, request headers, subprotocols, reconnect).

use std::time::Duration;

use super::reconnect::Reconnect;
use crate::connection::settings::{Settings, at_least, at_least_1ms};
use crate::error::Error;
use crate::protocol::rules::{FrameRules, IncomingMasks};

/// Client configuration. Start from [`ClientConfig::default`] and chain setters.
///
/// ```
/// use std::time::Duration;
/// use syncws::{ClientConfig, Reconnect};
/// let config = ClientConfig::default()
///     .ping_period(Some(Duration::from_secs(20)))
///     .connect_timeout(Duration::from_secs(5))
///     .header("Authorization", "Bearer 0123")
///     .protocols(["sensors.v1"])
///     .reconnect(Some(Reconnect::default()));
/// assert!(config.check().is_ok());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    pub(crate) ping_period: Option<Duration>,
    pub(crate) timeout: Duration,
    pub(crate) max_frame_size: usize,
    pub(crate) max_message_size: usize,
    pub(crate) queue_capacity: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) protocols: Vec<String>,
    pub(crate) origin: Option<String>,
    pub(crate) reconnect: Option<Reconnect>,
    pub(crate) stack_size: usize,
    pub(crate) nodelay: bool,
    pub(crate) direct_writes: bool,
    pub(crate) read_buffer_size: usize,
    pub(crate) max_response_size: usize,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::transport::tls::ClientTls>,
    #[cfg(feature = "serde")]
    pub(crate) converter: Option<std::sync::Arc<dyn crate::extensions::ContentConverter>>,
    /// The first header that could not be added, reported by `check`.
    pub(crate) bad_header: Option<String>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            ping_period: Some(Duration::from_secs(30)),
            timeout: Duration::from_secs(15),
            max_frame_size: 1 << 20,
            max_message_size: 1 << 20,
            queue_capacity: 64,
            connect_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            headers: Vec::new(),
            protocols: Vec::new(),
            origin: None,
            reconnect: None,
            stack_size: 128 * 1024,
            nodelay: true,
            direct_writes: true,
            read_buffer_size: 4 * 1024,
            max_response_size: 8 * 1024,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "serde")]
            converter: None,
            bad_header: None,
        }
    }
}

/// Headers the client writes itself.
const OWN_HEADERS: [&str; 8] = [
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "origin",
];

impl ClientConfig {
    /// Time between the pings the client sends; `None` disables them (and dead-server
    /// detection). Defaults to 30 s.
    pub fn ping_period(mut self, period: Option<Duration>) -> Self {
        self.ping_period = period;
        self
    }

    /// How long the server may stay silent after a ping before the connection is dropped.
    /// Defaults to 15 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Largest data frame payload accepted from the server; a larger one closes with 1009. At
    /// least 1 (control frames have their own limit, 125 bytes). Defaults to 1 MiB.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Largest message accepted from the server; a larger one closes with 1009. At least 1.
    /// Defaults to 1 MiB.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Capacity, in messages, of the outgoing queue (and of `incoming()` for channel-style
    /// clients). At least 1. Defaults to 64.
    pub fn queue_capacity(mut self, messages: usize) -> Self {
        self.queue_capacity = messages;
        self
    }

    /// Time to open the TCP connection, over all the addresses the host name resolves to
    /// (name resolution itself is the system resolver's, with its own timeouts). Defaults
    /// to 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time the server has to answer the upgrade request, from the TCP connection on.
    /// Defaults to 10 s.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Time the server has to complete the closing handshake (its close frame, then closing
    /// TCP) before the client drops the connection. Defaults to 5 s.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Adds a header to the upgrade request (`Authorization`, `Cookie`, ...). A name that is
    /// not an HTTP token, a value with a control character (CR and LF included), or a header
    /// the client writes itself (`Host`, `Upgrade`, `Connection`, `Origin`, `Sec-WebSocket-*`)
    /// makes [`check`](Self::check), and so `connect`, fail.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let token = !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        let clean = value.bytes().all(|b| b == b'\t' || (b >= b' ' && b != 0x7f));
        let own = OWN_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name));
        if token && clean && !own {
            self.headers.push((name.to_owned(), value.to_owned()));
        } else if self.bad_header.is_none() {
            self.bad_header = Some(name.to_owned());
        }
        self
    }

    /// Subprotocols to offer, in order of preference (`Sec-WebSocket-Protocol`); the server
    /// selects one or none ([`Session::protocol`](crate::Session::protocol)). A server that
    /// selects one not offered fails the handshake.
    pub fn protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// The `Origin` header to send (browsers send one; servers may check it). Defaults to
    /// none.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Reconnects after the connection ends (unless the client closed it) or an attempt
    /// fails, with the given backoff; `None`, the default, never reconnects. See
    /// [`Reconnect`].
    pub fn reconnect(mut self, policy: Option<Reconnect>) -> Self {
        self.reconnect = policy;
        self
    }

    /// Stack size of the connection thread, which runs the handler. At least 32 KiB.
    /// Defaults to 128 KiB.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }

    /// Whether `TCP_NODELAY` is set. Defaults to `true`.
    pub fn nodelay(mut self, on: bool) -> Self {
        self.nodelay = on;
        self
    }

    /// Whether senders write (masked) frames to the socket themselves when nothing is queued
    /// ahead; see [`Config::direct_writes`](crate::Config::direct_writes). Defaults to `true`.
    pub fn direct_writes(mut self, on: bool) -> Self {
        self.direct_writes = on;
        self
    }

    /// Size the read buffer grows to while the server sends faster than it is read; see
    /// [`Config::read_buffer_size`](crate::Config::read_buffer_size). At least 256 bytes.
    /// Defaults to 4 KiB.
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes;
        self
    }

    /// Largest response head accepted in the handshake. At least 256 bytes. Defaults to
    /// 8 KiB.
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// The TLS settings of `wss://` URLs (feature `tls`): whom to trust, and a client
    /// certificate. Without them, `wss://` trusts the bundled roots
    /// ([`ClientTls::bundled_roots`](crate::ClientTls::bundled_roots)). The TLS handshake runs
    /// under the handshake timeout.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::transport::tls::ClientTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The converter behind `send_serialized` and `deserialize`, as on a server.
    #[cfg(feature = "serde")]
    pub fn content_converter(
        mut self,
        converter: impl crate::extensions::ContentConverter + 'static,
    ) -> Self {
        self.converter = Some(std::sync::Arc::new(converter));
        self
    }

    /// The reconnect policy, if any.
    pub fn get_reconnect(&self) -> Option<&Reconnect> {
        self.reconnect.as_ref()
    }

    /// The ping period (`None`: no pings).
    pub fn get_ping_period(&self) -> Option<Duration> {
        self.ping_period
    }

    /// The extra request headers, in order.
    pub fn get_headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Checks that every option can work; `connect` calls it.
    ///
    /// ```
    /// use syncws::ClientConfig;
    /// let err = ClientConfig::default().header("Bad Name", "x").check().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid config: header \"Bad Name\" is not a header name, has a control character, or is one the client writes itself");
    /// let err = ClientConfig::default().max_message_size(0).check().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid config: max_message_size must be at least 1 (was 0)");
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first option that cannot work.
    pub fn check(&self) -> Result<(), Error> {
        if let Some(name) = &self.bad_header {
            return Err(Error::InvalidConfig {
                option: "header",
                why: format!(
                    "{name:?} is not a header name, has a control character, or is one the client writes itself"
                ),
            });
        }
        at_least("queue_capacity", self.queue_capacity, 1)?;
        at_least("stack_size", self.stack_size, 32 * 1024)?;
        at_least("read_buffer_size", self.read_buffer_size, 256)?;
        at_least("max_response_size", self.max_response_size, 256)?;
        // 0 would refuse every non-empty message with 1009: a setting that cannot work.
        at_least("max_frame_size", self.max_frame_size, 1)?;
        at_least("max_message_size", self.max_message_size, 1)?;
        at_least_1ms("timeout", self.timeout)?;
        at_least_1ms("connect_timeout", self.connect_timeout)?;
        at_least_1ms("handshake_timeout", self.handshake_timeout)?;
        at_least_1ms("close_timeout", self.close_timeout)?;
        if let Some(period) = self.ping_period {
            at_least_1ms("ping_period", period)?;
        }
        let protocol_ok = |p: &String| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
        };
        if let Some(p) = self.protocols.iter().find(|p| !protocol_ok(p)) {
            return Err(Error::InvalidConfig { option: "protocols", why: format!("{p:?} is not a token") });
        }
        if self.origin.as_deref().is_some_and(|o| o.bytes().any(|b| b < b' ' || b == 0x7f)) {
            return Err(Error::InvalidConfig { option: "origin", why: "has a control character".to_owned() });
        }
        if let Some(r) = &self.reconnect {
            r.check()?;
        }
        Ok(())
    }

    /// What each connection of the client needs to know.
    pub(crate) fn settings(&self) -> Settings {
        Settings {
            rules: FrameRules { masks: IncomingMasks::Forbidden, max_frame_size: self.max_frame_size },
            max_message_size: self.max_message_size,
            mask_outgoing: true,
            client: true,
            queue_capacity: self.queue_capacity,
            direct_writes: self.direct_writes,
            read_buffer_size: self.read_buffer_size,
            handler_stack_size: self.stack_size,
            ping_period: self.ping_period,
            timeout: self.timeout,
            handshake_timeout: self.handshake_timeout,
            close_timeout: self.close_timeout,
            #[cfg(feature = "serde")]
            converter: self.converter.clone(),
        }
    }
}

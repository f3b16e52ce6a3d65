//! [`MqttConfig`]: the broker, who the bridge is there, and its limits.

use std::fmt;
use std::time::Duration;

use super::topic;
use crate::broadcast::SlowConsumer;
#[cfg(feature = "tls")]
use crate::transport::tls::ClientTls;

/// How an [`MqttBridge`](super::MqttBridge) reaches its broker and what it sends there.
///
/// ```
/// use std::time::Duration;
/// use syncws::{MqttConfig, SlowConsumer};
///
/// let config = MqttConfig::new("broker.local:1883")
///     .client_id("gateway-7")
///     .credentials("gateway-7", "secret")
///     .topic_prefix("fleet/chat")
///     .keep_alive(Duration::from_secs(20))
///     .queue_capacity(256)
///     .slow_broker(SlowConsumer::DropOldest);
/// assert_eq!(config.get_topic_prefix(), "fleet/chat");
/// ```
#[derive(Clone)]
pub struct MqttConfig {
    pub(crate) broker: String,
    pub(crate) client_id: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Vec<u8>>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<ClientTls>,
    pub(crate) topic_prefix: String,
    pub(crate) keep_alive: Duration,
    pub(crate) queue_capacity: usize,
    pub(crate) slow_broker: SlowConsumer,
    pub(crate) max_message_size: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) backoff: (Duration, Duration),
}

impl MqttConfig {
    /// A bridge to the broker at `broker`, `host:port` (1883 is MQTT's port, 8883 over TLS).
    /// The defaults: a client id made of `syncws-` and 16 random hex digits, no credentials,
    /// topic prefix `syncws`, keep-alive 30 s, a queue of 1,024 messages towards the broker
    /// that drops the newest when full, messages up to 256 KiB, a connect timeout of 10 s, and
    /// reconnects after 100 ms, doubling up to 10 s.
    pub fn new(broker: impl Into<String>) -> Self {
        MqttConfig {
            broker: broker.into(),
            client_id: None,
            username: None,
            password: None,
            #[cfg(feature = "tls")]
            tls: None,
            topic_prefix: "syncws".to_owned(),
            keep_alive: Duration::from_secs(30),
            queue_capacity: 1024,
            slow_broker: SlowConsumer::DropNewest,
            max_message_size: 256 * 1024,
            connect_timeout: Duration::from_secs(10),
            backoff: (Duration::from_millis(100), Duration::from_secs(10)),
        }
    }

    /// The MQTT client id (1 to 23 characters is what every broker must accept; most take
    /// more). Each bridge needs its own: a broker drops the older connection of two with one
    /// id.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// A user name and password for the broker.
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<Vec<u8>>) -> Self {
        self.username = Some(username.into());
        self.password = Some(password.into());
        self
    }

    /// TLS to the broker, trusting what `tls` trusts; the broker's host name (from
    /// [`MqttConfig::new`]) is checked against its certificate.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: ClientTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The topics' prefix: one level or more, no wildcard (`+`, `#`), no trailing `/`.
    /// Bridges with the same prefix (and broker) share their hubs.
    pub fn topic_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.topic_prefix = prefix.into();
        self
    }

    /// The topic prefix.
    pub fn get_topic_prefix(&self) -> &str {
        &self.topic_prefix
    }

    /// MQTT keep-alive: the bridge pings the broker after this much silence and reconnects if
    /// the broker does not answer within it again (whole seconds, rounded up; 1 to 65,535).
    pub fn keep_alive(mut self, period: Duration) -> Self {
        // Whole seconds, rounded up, as CONNECT tells the broker.
        let secs = period.as_secs().saturating_add(u64::from(period.subsec_nanos() > 0));
        self.keep_alive = Duration::from_secs(secs.clamp(1, 65_535));
        self
    }

    /// Messages waiting for the broker, at most (at least 1): publishing never waits for the
    /// broker; what does not fit is handled by [`slow_broker`](Self::slow_broker).
    pub fn queue_capacity(mut self, messages: usize) -> Self {
        self.queue_capacity = messages.max(1);
        self
    }

    /// What to do with a message for the broker when the queue is full: the hub members'
    /// policies. `DropNewest` and `DropOldest` drop a message (counted in
    /// [`MqttStats::dropped`](super::MqttStats::dropped)); `Disconnect` drops the broker's
    /// connection and everything queued (counted as dropped, though already counted as
    /// forwarded), then reconnects; what was sent and not yet acknowledged is sent again.
    pub fn slow_broker(mut self, policy: SlowConsumer) -> Self {
        self.slow_broker = policy;
        self
    }

    /// The largest message forwarded either way, in bytes (the message itself, without the
    /// 18 bytes of envelope). Larger local messages stay local; larger ones from the broker
    /// are skipped. Both are counted and logged.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Time to connect (TCP, TLS and the MQTT CONNECT) before trying again (at most an hour).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.clamp(Duration::from_millis(1), Duration::from_secs(3600));
        self
    }

    /// The wait before reconnecting: `first`, doubling after each failed attempt up to `max`.
    pub fn reconnect_backoff(mut self, first: Duration, max: Duration) -> Self {
        let first = first.max(Duration::from_millis(1));
        self.backoff = (first, max.max(first));
        self
    }

    /// Checks what the broker would refuse or what cannot make topics.
    pub(crate) fn validate(&self) -> Result<(), MqttError> {
        let bad = |what: String| Err(MqttError::Config(what));
        if !topic::valid_prefix(&self.topic_prefix) {
            return bad(format!("topic prefix {:?}: empty, a wildcard or a trailing /", self.topic_prefix));
        }
        // Strings in CONNECT and topics have 16-bit lengths.
        let too_long = |s: Option<usize>| s.is_some_and(|len| len > usize::from(u16::MAX));
        if self.client_id.as_ref().is_some_and(|id| id.is_empty())
            || too_long(self.client_id.as_ref().map(String::len))
        {
            return bad("client id empty or longer than 65,535 bytes".to_owned());
        }
        if too_long(self.username.as_ref().map(String::len)) || too_long(self.password.as_ref().map(Vec::len))
        {
            return bad("user name or password longer than 65,535 bytes".to_owned());
        }
        if too_long(Some(self.topic_prefix.len() + 16)) {
            return bad("topic prefix longer than 65,519 bytes".to_owned());
        }
        if self.broker.rsplit_once(':').is_none_or(|(_, port)| port.parse::<u16>().is_err()) {
            return bad(format!("broker {:?} is not host:port", self.broker));
        }
        Ok(())
    }

    /// The host, without brackets around an IPv6 address, and the port.
    pub(crate) fn host_port(&self) -> (&str, u16) {
        let (host, port) = self.broker.rsplit_once(':').expect("validated");
        (host.trim_start_matches('[').trim_end_matches(']'), port.parse().expect("validated"))
    }
}

impl fmt::Debug for MqttConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("MqttConfig");
        d.field("broker", &self.broker)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"));
        #[cfg(feature = "tls")]
        d.field("tls", &self.tls.is_some());
        d.field("topic_prefix", &self.topic_prefix)
            .field("keep_alive", &self.keep_alive)
            .field("queue_capacity", &self.queue_capacity)
            .field("slow_broker", &self.slow_broker)
            .field("max_message_size", &self.max_message_size)
            .finish_non_exhaustive()
    }
}

/// Why a bridge could not start, or why its connection to the broker ended (logged; the
/// bridge reconnects).
#[derive(Debug)]
#[non_exhaustive]
pub enum MqttError {
    /// A setting the bridge cannot work with.
    Config(String),
    /// The broker could not be reached, or the connection failed.
    Io(std::io::Error),
    /// The broker refused the connection: CONNACK's return code (1 protocol version, 2 client
    /// id, 3 unavailable, 4 bad user name or password, 5 not authorized).
    Refused(u8),
    /// The broker sent something that is not MQTT 3.1.1.
    Protocol(super::packet::PacketError),
    /// The broker did not answer in time (the CONNACK, or a ping).
    Timeout(&'static str),
}

impl fmt::Display for MqttError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MqttError::Config(what) => write!(f, "MQTT bridge setting: {what}"),
            MqttError::Io(e) => write!(f, "MQTT broker connection: {e}"),
            MqttError::Refused(code) => {
                let why = match code {
                    1 => "unacceptable protocol version",
                    2 => "client id rejected",
                    3 => "server unavailable",
                    4 => "bad user name or password",
                    5 => "not authorized",
                    _ => "unknown reason",
                };
                write!(f, "MQTT broker refused the connection: {why} ({code})")
            }
            MqttError::Protocol(e) => write!(f, "{e}"),
            MqttError::Timeout(what) => write!(f, "MQTT broker did not answer {what} in time"),
        }
    }
}

impl std::error::Error for MqttError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MqttError::Io(e) => Some(e),
            MqttError::Protocol(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for MqttError {
    fn from(e: std::io::Error) -> Self {
        MqttError::Io(e)
    }
}

impl From<super::packet::PacketError> for MqttError {
    fn from(e: super::packet::PacketError) -> Self {
        MqttError::Protocol(e)
    }
}

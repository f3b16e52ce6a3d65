//! Server options: Ktor's WebSockets options plus what an embedded server needs.

use std::time::Duration;

use crate::connection::settings::{Settings, at_least, at_least_1ms};
use crate::protocol::rules::{FrameRules, IncomingMasks};

/// Server configuration. Start from [`Config::default`] and chain setters.
///
/// ```
/// use std::time::Duration;
/// use syncws::Config;
/// let config = Config::default()
///     .ping_period(Some(Duration::from_secs(10)))
///     .timeout(Duration::from_secs(5))
///     .max_message_size(64 * 1024)
///     .max_connections(32);
/// assert_eq!(config.get_max_connections(), 32);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    pub(crate) ping_period: Option<Duration>,
    pub(crate) timeout: Duration,
    pub(crate) max_frame_size: usize,
    pub(crate) max_message_size: usize,
    pub(crate) masking: bool,
    pub(crate) accept_unmasked_frames: bool,
    pub(crate) max_connections: usize,
    pub(crate) handshake_timeout: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) queue_capacity: usize,
    pub(crate) stack_size: usize,
    pub(crate) nodelay: bool,
    pub(crate) direct_writes: bool,
    pub(crate) read_buffer_size: usize,
    pub(crate) max_request_size: usize,
    pub(crate) allowed_origins: Option<Vec<String>>,
    #[cfg(feature = "serde")]
    pub(crate) converter: Option<std::sync::Arc<dyn crate::extensions::ContentConverter>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ping_period: Some(Duration::from_secs(30)),
            timeout: Duration::from_secs(15),
            max_frame_size: 1 << 20,
            max_message_size: 1 << 20,
            masking: false,
            accept_unmasked_frames: false,
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            queue_capacity: 64,
            stack_size: 128 * 1024,
            nodelay: true,
            direct_writes: true,
            read_buffer_size: 4 * 1024,
            max_request_size: 8 * 1024,
            allowed_origins: None,
            #[cfg(feature = "serde")]
            converter: None,
        }
    }
}

impl Config {
    /// Time between the pings the server sends on each connection (Ktor's `pingPeriod`).
    /// `None` disables pings, and with them dead-peer detection. Defaults to 30 s.
    pub fn ping_period(mut self, period: Option<Duration>) -> Self {
        self.ping_period = period;
        self
    }

    /// How long a peer may stay silent after a ping before the connection is dropped
    /// (Ktor's `timeout`). A dead peer is detected within `ping_period + timeout`.
    /// Defaults to 15 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Largest data frame payload accepted (Ktor's `maxFrameSize`); a larger frame closes the
    /// connection with 1009. At least 1 (control frames have their own limit, 125 bytes).
    /// Defaults to 1 MiB.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Largest reassembled message accepted; a larger one closes with 1009. Memory is only
    /// allocated as a message's bytes arrive. At least 1. Defaults to 1 MiB.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Whether the server masks the frames it sends (Ktor's `masking`). RFC 6455 servers do
    /// not. Defaults to `false`.
    pub fn masking(mut self, on: bool) -> Self {
        self.masking = on;
        self
    }

    /// Whether unmasked client frames are accepted instead of closing with 1002 as RFC 6455
    /// requires. Defaults to `false`.
    pub fn accept_unmasked_frames(mut self, on: bool) -> Self {
        self.accept_unmasked_frames = on;
        self
    }

    /// Most connections served at once, handshakes included; one more gets HTTP 503.
    /// Defaults to 1024.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// Time a client has to send its whole HTTP upgrade request; after it the client gets
    /// HTTP 408 and is disconnected. Defaults to 10 s.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Time the peer has to answer our close frame before TCP is dropped (the handler's
    /// `on_error` then gets [`Error::CloseTimeout`](crate::Error::CloseTimeout)). Defaults to
    /// 5 s.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Capacity, in messages, of each session's outgoing queue (and of `incoming()` on channel
    /// routes, and of its broadcast queue). A full queue blocks `send` and fails `try_send`. At
    /// least 1. Defaults to 64.
    pub fn queue_capacity(mut self, messages: usize) -> Self {
        self.queue_capacity = messages;
        self
    }

    /// Stack size of the connection thread, which runs the handler. The write loop thread uses
    /// a fixed small stack. At least 32 KiB (syncws itself uses about 12 KiB of it). Defaults
    /// to 128 KiB.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }

    /// Whether a sender may write its message to the socket itself, without waking the
    /// connection's write loop, when nothing is queued ahead of it and the socket takes the
    /// frame at once (a non-blocking write; the write loop finishes what the socket did not
    /// take). Order is kept either way. It saves a thread hand-off per message, the largest
    /// cost of small echoes. Masked frames are written directly too; connections with
    /// extensions (deflate) always use the write loop. Linux only. Defaults to `true`.
    pub fn direct_writes(mut self, on: bool) -> Self {
        self.direct_writes = on;
        self
    }

    /// Whether `TCP_NODELAY` is set on accepted sockets. Defaults to `true`.
    pub fn nodelay(mut self, on: bool) -> Self {
        self.nodelay = on;
        self
    }

    /// Size each connection's read buffer grows to while the peer sends faster than it is
    /// read. Buffers start at 512 bytes (or this size, if less), double while reads fill them
    /// and shrink back while reads are small, so an idle connection holds 512 bytes; payloads
    /// at least as large as the buffer are read straight into the message. At least 256 bytes.
    /// Defaults to 4 KiB.
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes;
        self
    }

    /// Largest HTTP request head accepted in the handshake; a larger one gets HTTP 431.
    /// At least 256 bytes. Defaults to 8 KiB.
    pub fn max_request_size(mut self, bytes: usize) -> Self {
        self.max_request_size = bytes;
        self
    }

    /// Origins allowed to connect (the `Origin` header, compared case-insensitively); others
    /// get HTTP 403. Requests without `Origin` (non-browser clients) are allowed. `None`, the
    /// default, allows every origin.
    pub fn allowed_origins<I, S>(mut self, origins: Option<I>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_origins = origins.map(|o| o.into_iter().map(Into::into).collect());
        self
    }

    /// The converter behind [`Session::send_serialized`](crate::Session::send_serialized) and
    /// [`Session::deserialize`](crate::Session::deserialize) (Ktor's `contentConverter`),
    /// such as `JsonConverter` (feature `json`). Defaults to none.
    #[cfg(feature = "serde")]
    pub fn content_converter(
        mut self,
        converter: impl crate::extensions::ContentConverter + 'static,
    ) -> Self {
        self.converter = Some(std::sync::Arc::new(converter));
        self
    }

    // Getters: what a config holds (the `syncws-echo` help prints the defaults from them).

    /// The ping period (`None`: no pings).
    pub fn get_ping_period(&self) -> Option<Duration> {
        self.ping_period
    }

    /// The silence allowed after a ping.
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }

    /// The largest frame payload accepted.
    pub fn get_max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// The largest message accepted.
    pub fn get_max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Whether the server masks its frames.
    pub fn get_masking(&self) -> bool {
        self.masking
    }

    /// Whether unmasked client frames are accepted.
    pub fn get_accept_unmasked_frames(&self) -> bool {
        self.accept_unmasked_frames
    }

    /// The configured connection limit.
    pub fn get_max_connections(&self) -> usize {
        self.max_connections
    }

    /// The time a client has for its upgrade request.
    pub fn get_handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// The time the peer has to answer a close frame.
    pub fn get_close_timeout(&self) -> Duration {
        self.close_timeout
    }

    /// The capacity of each outgoing queue, in messages.
    pub fn get_queue_capacity(&self) -> usize {
        self.queue_capacity
    }

    /// The stack size of connection threads.
    pub fn get_stack_size(&self) -> usize {
        self.stack_size
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn get_nodelay(&self) -> bool {
        self.nodelay
    }

    /// Whether senders may write directly.
    pub fn get_direct_writes(&self) -> bool {
        self.direct_writes
    }

    /// The initial read buffer size.
    pub fn get_read_buffer_size(&self) -> usize {
        self.read_buffer_size
    }

    /// The largest request head accepted.
    pub fn get_max_request_size(&self) -> usize {
        self.max_request_size
    }

    /// The origins allowed to connect (`None`: any).
    pub fn get_allowed_origins(&self) -> Option<&[String]> {
        self.allowed_origins.as_deref()
    }

    /// Checks that every option can work; [`Server::bind`](crate::Server::bind) calls it.
    ///
    /// ```
    /// use syncws::Config;
    /// assert!(Config::default().check().is_ok());
    /// let err = Config::default().queue_capacity(0).check().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid config: queue_capacity must be at least 1 (was 0)");
    /// let err = Config::default().max_frame_size(0).check().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid config: max_frame_size must be at least 1 (was 0)");
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) naming the first option that
    /// cannot work.
    pub fn check(&self) -> crate::Result<()> {
        at_least("queue_capacity", self.queue_capacity, 1)?;
        at_least("max_connections", self.max_connections, 1)?;
        at_least("stack_size", self.stack_size, 32 * 1024)?;
        at_least("read_buffer_size", self.read_buffer_size, 256)?;
        at_least("max_request_size", self.max_request_size, 256)?;
        // 0 would refuse every non-empty message with 1009: a setting that cannot work.
        at_least("max_frame_size", self.max_frame_size, 1)?;
        at_least("max_message_size", self.max_message_size, 1)?;
        at_least_1ms("timeout", self.timeout)?;
        at_least_1ms("handshake_timeout", self.handshake_timeout)?;
        at_least_1ms("close_timeout", self.close_timeout)?;
        if let Some(period) = self.ping_period {
            at_least_1ms("ping_period", period).map_err(|_| crate::Error::InvalidConfig {
                option: "ping_period",
                why: format!("must be at least 1 ms (was {period:?}; None turns pings off)"),
            })?;
        }
        Ok(())
    }

    /// What each connection of the server needs to know.
    pub(crate) fn settings(&self) -> Settings {
        let masks = if self.accept_unmasked_frames { IncomingMasks::Either } else { IncomingMasks::Required };
        Settings {
            rules: FrameRules { masks, max_frame_size: self.max_frame_size },
            max_message_size: self.max_message_size,
            mask_outgoing: self.masking,
            client: false,
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

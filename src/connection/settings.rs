//! What one connection needs to know of its configuration, whichever side opened it.

use std::time::Duration;

use crate::error::Error;
use crate::protocol::rules::FrameRules;

/// The settings of a connection, shared by the connections of one server (made from its
/// [`Config`](crate::Config)) or of one client (from its `ClientConfig`).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Masking and the frame size limit of incoming frames.
    pub(crate) rules: FrameRules,
    /// Largest reassembled (and decoded) incoming message.
    pub(crate) max_message_size: usize,
    /// Whether outgoing frames are masked.
    pub(crate) mask_outgoing: bool,
    /// Whether this is a client's connection: after the closing handshake it waits for the
    /// server to close TCP (RFC 6455 §7.1.1) instead of closing first.
    pub(crate) client: bool,
    /// Capacity of the outgoing queue, of `incoming()` and of the broadcast lane.
    pub(crate) queue_capacity: usize,
    /// Whether senders may write to the socket themselves.
    pub(crate) direct_writes: bool,
    /// Initial size of the read buffer.
    pub(crate) read_buffer_size: usize,
    /// Stack of threads that run user code (channel functions).
    pub(crate) handler_stack_size: usize,
    /// Time between pings; `None`: no pings.
    pub(crate) ping_period: Option<Duration>,
    /// Silence allowed after a ping.
    pub(crate) timeout: Duration,
    /// Time to complete the opening handshake.
    pub(crate) handshake_timeout: Duration,
    /// Time the peer has to answer a close.
    pub(crate) close_timeout: Duration,
    /// The content converter of `send_serialized` and `deserialize`.
    #[cfg(feature = "serde")]
    pub(crate) converter: Option<std::sync::Arc<dyn crate::extensions::ContentConverter>>,
}

/// A config check: `value` of `option` must be at least `min`.
pub(crate) fn at_least(option: &'static str, value: usize, min: usize) -> Result<(), Error> {
    if value < min {
        return Err(Error::InvalidConfig { option, why: format!("must be at least {min} (was {value})") });
    }
    Ok(())
}

/// A config check: a duration of at least 1 ms (the timer counts in milliseconds: a shorter
/// one would be 0).
pub(crate) fn at_least_1ms(option: &'static str, value: Duration) -> Result<(), Error> {
    if value < Duration::from_millis(1) {
        return Err(Error::InvalidConfig { option, why: format!("must be at least 1 ms (was {value:?})") });
    }
    Ok(())
}

//! Typed errors of syncws.

use std::fmt;
use std::io;

pub use crate::protocol::ProtocolError;
use crate::protocol::rules::Broken;
use crate::protocol::{CloseCode, Message, WireError};

/// Result alias used throughout syncws.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in syncws.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error on the socket or the listener.
    Io(io::Error),
    /// The peer broke RFC 6455; the connection was closed with 1002.
    Protocol(ProtocolError),
    /// A text message (or close reason) was not valid UTF-8; closed with 1007.
    InvalidUtf8,
    /// A frame announced a payload larger than `max_frame_size`; closed with 1009.
    FrameTooLarge {
        /// Announced payload length.
        size: u64,
        /// The configured limit.
        max: usize,
    },
    /// A message grew past `max_message_size`; closed with 1009.
    MessageTooLarge {
        /// Size the message would have reached.
        size: u64,
        /// The configured limit.
        max: usize,
    },
    /// The peer sent nothing (not even a pong) within `timeout` after a ping.
    PingTimeout,
    /// A handler panicked; the connection was closed with 1011.
    HandlerPanicked,
    /// The session is closed or closing: nothing more can be sent.
    Closed,
    /// The session's outgoing queue is full (only from non-blocking sends).
    QueueFull,
    /// A thread could not be started.
    Spawn(io::Error),
    /// The server could not listen on these addresses (the error of the last one tried).
    Bind {
        /// The addresses tried.
        addrs: Vec<std::net::SocketAddr>,
        /// Why the last one failed.
        source: io::Error,
    },
    /// An option of the [`Config`](crate::Config) cannot work; the server was not started.
    InvalidConfig {
        /// The `Config` setter.
        option: &'static str,
        /// What it must be.
        why: String,
    },
    /// A negotiated extension could not encode or decode a message.
    Extension(ExtensionError),
    /// Frames can only be sent on raw routes.
    NotRaw,
    /// A value could not be converted by the content converter.
    Convert(ConvertError),
    /// `send_serialized` or `deserialize` was used without a content converter in the config.
    NoConverter,
    /// The peer did not answer our close frame (or did not close TCP after the closing
    /// handshake, for a client) within the close timeout; the connection was dropped. The
    /// session's close reason still tells which close frames went each way.
    CloseTimeout,
    /// A client's URL cannot be used.
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A client could not open a TCP connection: the host name did not resolve, or no
    /// address accepted within the connect timeout (then `source` is of kind `TimedOut`).
    Connect {
        /// The host and port dialed.
        host: String,
        /// The error of the last address tried (or of the name lookup).
        source: io::Error,
    },
    /// The server's answer to a client's opening handshake was not an acceptable upgrade.
    Handshake(HandshakeError),
    /// TLS failed: a certificate refused (by either side), an alert, a peer that does not
    /// speak TLS, a broken record, or certificate and key files that cannot be used.
    #[cfg(feature = "tls")]
    Tls(TlsError),
}

/// Why TLS failed (feature `tls`).
#[cfg(feature = "tls")]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsError {
    /// We refused the peer's certificate: see [`CertificateProblem`].
    Certificate(CertificateProblem),
    /// The peer sent this fatal TLS alert (`bad_certificate`, `certificate_required`,
    /// `handshake_failure`, ...): in a handshake, typically it did not accept our certificate,
    /// or we sent none where one is required; later, it found a record it could not accept.
    Alert(String),
    /// The peer does not speak TLS: it sent (or answered with) plain HTTP. A `wss://` URL for a
    /// `ws://` port, or `http://` to a TLS port.
    NotTls,
    /// The TLS conversation broke down: a malformed record, no common version or cipher suite,
    /// a peer that broke the protocol (rustls's description).
    Protocol(String),
    /// A certificate, key or CA that cannot be used (unreadable file, no PEM item in it, a key
    /// that does not match the certificate ...).
    Config(String),
}

/// Why a peer's certificate was refused (feature `tls`).
#[cfg(feature = "tls")]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateProblem {
    /// It has expired.
    Expired,
    /// It is not valid yet (or the board's clock is wrong: a board without a real-time
    /// clock starts in 1970 until NTP sets it).
    NotYetValid,
    /// It is not valid for the host name dialed.
    WrongName,
    /// It is not signed by a trusted root.
    UnknownIssuer,
    /// It was revoked.
    Revoked,
    /// Its signature does not verify.
    BadSignature,
    /// The peer sent none where one is required (a server asking for client certificates).
    Missing,
    /// Anything else (rustls's description).
    Other(String),
}

#[cfg(feature = "tls")]
impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Certificate(p) => write!(f, "peer certificate refused: {p}"),
            TlsError::Alert(a) => write!(f, "peer sent TLS alert {a}"),
            TlsError::NotTls => f.write_str("the peer does not speak TLS (plain HTTP)"),
            TlsError::Protocol(why) => write!(f, "TLS failed: {why}"),
            TlsError::Config(why) => write!(f, "TLS configuration: {why}"),
        }
    }
}

#[cfg(feature = "tls")]
impl fmt::Display for CertificateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertificateProblem::Expired => f.write_str("expired"),
            CertificateProblem::NotYetValid => f.write_str("not valid yet (check the clock)"),
            CertificateProblem::WrongName => f.write_str("not valid for this host name"),
            CertificateProblem::UnknownIssuer => f.write_str("not signed by a trusted root"),
            CertificateProblem::Revoked => f.write_str("revoked"),
            CertificateProblem::BadSignature => f.write_str("bad signature"),
            CertificateProblem::Missing => f.write_str("none presented"),
            CertificateProblem::Other(why) => f.write_str(why),
        }
    }
}

#[cfg(feature = "tls")]
impl std::error::Error for TlsError {}

#[cfg(feature = "tls")]
impl From<TlsError> for Error {
    fn from(e: TlsError) -> Self {
        Error::Tls(e)
    }
}

/// Why a client's opening handshake failed (RFC 6455 §4.1: the client must fail the
/// connection).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The server answered with another status than 101: a refusal (401, 403, 404, 503 ...).
    Status {
        /// The status code.
        status: u16,
        /// The response's headers, names lower case.
        headers: Vec<(String, String)>,
        /// The response's body (at most 64 KiB of it).
        body: Vec<u8>,
    },
    /// The answer is not HTTP, or its head is too large.
    Malformed(String),
    /// A 101 without `Upgrade: websocket` and `Connection: Upgrade`.
    NotUpgraded,
    /// `Sec-WebSocket-Accept` is missing or does not match the key sent.
    BadAccept,
    /// The server selected a subprotocol the client did not offer.
    UnofferedProtocol(String),
    /// The server answered with an extension the client did not offer (or twice).
    UnofferedExtension(String),
    /// The client's extension refused the server's parameters.
    ExtensionRefused {
        /// The extension's name.
        name: String,
        /// Why.
        why: String,
    },
    /// The server did not answer within the handshake timeout.
    Timeout,
    /// The connection closed (or failed) before the answer was complete.
    Closed(String),
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Status { status, body, .. } => {
                write!(f, "server answered HTTP {status} instead of 101")?;
                let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
                let text = text.trim();
                if !text.is_empty() {
                    write!(f, ": {text}")?;
                }
                Ok(())
            }
            HandshakeError::Malformed(why) => write!(f, "malformed handshake response: {why}"),
            HandshakeError::NotUpgraded => f.write_str("101 response without Upgrade: websocket"),
            HandshakeError::BadAccept => f.write_str("wrong or missing Sec-WebSocket-Accept"),
            HandshakeError::UnofferedProtocol(p) => {
                write!(f, "server selected subprotocol {p:?}, not offered")
            }
            HandshakeError::UnofferedExtension(e) => {
                write!(f, "server answered with extension {e:?}, not offered")
            }
            HandshakeError::ExtensionRefused { name, why } => write!(f, "extension {name}: {why}"),
            HandshakeError::Timeout => f.write_str("no handshake response within the handshake timeout"),
            HandshakeError::Closed(why) => write!(f, "connection closed during the handshake: {why}"),
        }
    }
}

impl std::error::Error for HandshakeError {}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Error::Handshake(e)
    }
}

impl Error {
    /// The close code the server sends when this error ends a connection.
    ///
    /// ```
    /// use syncws::{CloseCode, Error};
    /// assert_eq!(Error::InvalidUtf8.close_code(), CloseCode::INVALID_PAYLOAD);
    /// ```
    pub fn close_code(&self) -> CloseCode {
        match self {
            Error::Protocol(_) => CloseCode::PROTOCOL_ERROR,
            Error::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            Error::FrameTooLarge { .. } | Error::MessageTooLarge { .. } => CloseCode::TOO_BIG,
            Error::HandlerPanicked => CloseCode::INTERNAL_ERROR,
            Error::PingTimeout | Error::CloseTimeout | Error::Io(_) => CloseCode::ABNORMAL,
            #[cfg(feature = "tls")]
            Error::Tls(_) => CloseCode::ABNORMAL,
            Error::Extension(e) => e.close_code(),
            _ => CloseCode::INTERNAL_ERROR,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Protocol(p) => write!(f, "protocol error: {p}"),
            Error::InvalidUtf8 => f.write_str("invalid UTF-8 in a text message or close reason"),
            Error::FrameTooLarge { size, max } => {
                write!(f, "frame of {size} bytes exceeds max_frame_size {max}")
            }
            Error::MessageTooLarge { size, max } => {
                write!(f, "message of {size} bytes exceeds max_message_size {max}")
            }
            Error::PingTimeout => f.write_str("peer did not answer a ping in time"),
            Error::HandlerPanicked => f.write_str("handler panicked"),
            Error::Closed => f.write_str("session is closed"),
            Error::QueueFull => f.write_str("outgoing queue is full"),
            Error::Spawn(e) => write!(f, "could not spawn a thread: {e}"),
            Error::Bind { addrs, source } => {
                let addrs: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                write!(f, "cannot listen on {}: {source}", addrs.join(", "))
            }
            Error::InvalidConfig { option, why } => write!(f, "invalid config: {option} {why}"),
            Error::Extension(e) => e.fmt(f),
            Error::NotRaw => f.write_str("send_frame is only for raw routes"),
            Error::Convert(e) => e.fmt(f),
            Error::NoConverter => f.write_str("no content converter configured"),
            Error::CloseTimeout => f.write_str("peer did not complete the closing handshake in time"),
            Error::InvalidUrl { url, why } => write!(f, "invalid URL {url:?}: {why}"),
            Error::Connect { host, source } => write!(f, "cannot connect to {host}: {source}"),
            Error::Handshake(e) => write!(f, "handshake failed: {e}"),
            #[cfg(feature = "tls")]
            Error::Tls(e) => e.fmt(f),
        }
    }
}

/// Why an extension could not encode or decode a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionError {
    /// The incoming data is corrupt (close code 1007).
    InvalidData(String),
    /// The decoded message would exceed `max_message_size` (1009).
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// Anything else (1011).
    Failed(String),
}

impl ExtensionError {
    /// The close code a connection fails with.
    pub fn close_code(&self) -> CloseCode {
        match self {
            ExtensionError::InvalidData(_) => CloseCode::INVALID_PAYLOAD,
            ExtensionError::TooLarge { .. } => CloseCode::TOO_BIG,
            ExtensionError::Failed(_) => CloseCode::INTERNAL_ERROR,
        }
    }
}

impl fmt::Display for ExtensionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtensionError::InvalidData(why) => write!(f, "invalid extension data: {why}"),
            ExtensionError::TooLarge { max } => write!(f, "decoded message exceeds max_message_size {max}"),
            ExtensionError::Failed(why) => write!(f, "extension failed: {why}"),
        }
    }
}

impl std::error::Error for ExtensionError {}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e)
            | Error::Spawn(e)
            | Error::Bind { source: e, .. }
            | Error::Connect { source: e, .. } => Some(e),
            Error::Handshake(e) => Some(e),
            Error::Extension(e) => Some(e),
            Error::Convert(e) => Some(e),
            #[cfg(feature = "tls")]
            Error::Tls(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    /// An I/O error; a TLS failure met while reading or writing (which travels as an
    /// `io::Error` through `Read` and `Write`) becomes [`Error::Tls`] again.
    fn from(e: io::Error) -> Self {
        #[cfg(feature = "tls")]
        if e.get_ref().is_some_and(|inner| inner.is::<TlsError>()) {
            let kind = e.kind();
            return match e.into_inner().map(|inner| inner.downcast::<TlsError>()) {
                Some(Ok(tls)) => Error::Tls(*tls),
                Some(Err(other)) => Error::Io(io::Error::new(kind, other)),
                None => Error::Io(kind.into()),
            };
        }
        Error::Io(e)
    }
}

impl From<ConvertError> for Error {
    fn from(e: ConvertError) -> Self {
        Error::Convert(e)
    }
}

impl From<ExtensionError> for Error {
    fn from(e: ExtensionError) -> Self {
        Error::Extension(e)
    }
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Io(e) => Error::Io(e),
            WireError::Protocol(p) => Error::Protocol(p),
            WireError::InvalidUtf8 => Error::InvalidUtf8,
        }
    }
}

impl From<Broken> for Error {
    fn from(b: Broken) -> Self {
        match b {
            Broken::Protocol(p) => Error::Protocol(p),
            Broken::TooLarge { size, max } => Error::FrameTooLarge { size, max },
        }
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol(e)
    }
}

/// Why a value could not be converted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConvertError {
    /// The value could not be serialized.
    Serialize(String),
    /// The message did not deserialize into the requested type.
    Deserialize(String),
    /// The message is text where the format wants binary, or the other way round.
    WrongKind,
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConvertError::Serialize(e) => write!(f, "cannot serialize: {e}"),
            ConvertError::Deserialize(e) => write!(f, "cannot deserialize: {e}"),
            ConvertError::WrongKind => f.write_str("message kind does not match the format"),
        }
    }
}

impl std::error::Error for ConvertError {}

/// A blocking send failed because the session is closed; the message is handed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError(pub Message);

impl SendError {
    /// The message that could not be sent.
    pub fn into_inner(self) -> Message {
        self.0
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a closed session")
    }
}

impl std::error::Error for SendError {}

/// A non-blocking send failed; the message is handed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrySendError {
    /// The outgoing queue is full (the peer reads slower than the session sends).
    Full(Message),
    /// The session is closed or closing.
    Closed(Message),
}

impl TrySendError {
    /// The message that could not be sent.
    pub fn into_inner(self) -> Message {
        match self {
            TrySendError::Full(m) | TrySendError::Closed(m) => m,
        }
    }

    /// Whether the send failed because the queue was full.
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// Whether the send failed because the session is closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }
}

impl fmt::Display for TrySendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("outgoing queue is full"),
            TrySendError::Closed(_) => f.write_str("sending on a closed session"),
        }
    }
}

impl std::error::Error for TrySendError {}

impl From<SendError> for Error {
    fn from(_: SendError) -> Self {
        Error::Closed
    }
}

impl From<TrySendError> for Error {
    fn from(e: TrySendError) -> Self {
        match e {
            TrySendError::Full(_) => Error::QueueFull,
            TrySendError::Closed(_) => Error::Closed,
        }
    }
}

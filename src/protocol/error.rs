//! How a peer breaks the wire rules: the protocol layer's errors, without sockets or threads.

use std::fmt;
use std::io;

/// The ways a peer can break the WebSocket framing rules (RFC 6455 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A client frame arrived without a mask.
    UnmaskedFrame,
    /// A server frame arrived masked (a client must refuse it).
    MaskedFrame,
    /// A reserved bit (RSV1-3) was set that no negotiated extension claims.
    ReservedBits,
    /// A reserved opcode was used.
    BadOpcode(u8),
    /// A control frame was fragmented.
    FragmentedControl,
    /// A control frame carried more than 125 bytes.
    ControlTooLong,
    /// A continuation frame arrived with no message in progress.
    UnexpectedContinuation,
    /// A new data frame arrived while a fragmented message was in progress.
    ExpectedContinuation,
    /// A close frame carried a one-byte payload.
    BadClosePayload,
    /// A close frame carried a code that may not be sent on the wire.
    InvalidCloseCode(u16),
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::UnmaskedFrame => f.write_str("unmasked client frame"),
            ProtocolError::MaskedFrame => f.write_str("masked server frame"),
            ProtocolError::ReservedBits => f.write_str("reserved bits set"),
            ProtocolError::BadOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            ProtocolError::FragmentedControl => f.write_str("fragmented control frame"),
            ProtocolError::ControlTooLong => f.write_str("control frame longer than 125 bytes"),
            ProtocolError::UnexpectedContinuation => {
                f.write_str("continuation frame without a message in progress")
            }
            ProtocolError::ExpectedContinuation => {
                f.write_str("new data frame while a fragmented message is in progress")
            }
            ProtocolError::BadClosePayload => f.write_str("close frame with a 1-byte payload"),
            ProtocolError::InvalidCloseCode(c) => write!(f, "close code {c} is not allowed"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// What reading or checking frames can fail with; the crate's [`Error`](crate::Error) wraps it.
#[derive(Debug)]
pub(crate) enum WireError {
    /// The stream failed or ended in the middle of a frame.
    Io(io::Error),
    /// A framing rule was broken.
    Protocol(ProtocolError),
    /// Text (or a close reason) was not valid UTF-8.
    InvalidUtf8,
}

impl From<io::Error> for WireError {
    fn from(e: io::Error) -> Self {
        WireError::Io(e)
    }
}

impl From<ProtocolError> for WireError {
    fn from(e: ProtocolError) -> Self {
        WireError::Protocol(e)
    }
}

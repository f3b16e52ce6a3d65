//! The rules of RFC 6455 §5 that a frame header must follow before its payload is read.

use tungstenite::protocol::frame::coding::{Data, OpCode};

use super::error::ProtocolError;
use super::read::Header;

/// Which incoming frames are acceptable, for either role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IncomingMasks {
    /// Every frame must be masked (a server reading a client, RFC 6455 §5.1).
    Required,
    /// No frame may be masked (a client reading a server). Nothing in the server uses it.
    #[allow(dead_code)]
    Forbidden,
    /// Masked or not (a lenient server: `Config::accept_unmasked_frames`).
    Either,
}

/// The checks one connection applies to the headers it reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameRules {
    /// Masking of incoming frames.
    pub(crate) masks: IncomingMasks,
    /// Largest data frame payload.
    pub(crate) max_frame_size: usize,
}

/// A header that breaks a rule: a protocol error, or a frame over the size limit.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Broken {
    /// Closes with 1002.
    Protocol(ProtocolError),
    /// Closes with 1009.
    TooLarge { size: u64, max: usize },
}

impl From<ProtocolError> for Broken {
    fn from(e: ProtocolError) -> Self {
        Broken::Protocol(e)
    }
}

impl FrameRules {
    /// The checks that keep an endpoint safe whatever it does with frames (raw routes):
    /// masking, 125-byte control frames, the frame size limit. (Reserved opcodes never get
    /// this far: the header parser refuses them.)
    pub(crate) fn check_safety(&self, h: &Header) -> Result<(), Broken> {
        match (self.masks, h.mask.is_some()) {
            (IncomingMasks::Required, false) => return Err(ProtocolError::UnmaskedFrame.into()),
            (IncomingMasks::Forbidden, true) => return Err(ProtocolError::MaskedFrame.into()),
            _ => {}
        }
        if h.is_control() && h.len > 125 {
            return Err(ProtocolError::ControlTooLong.into());
        }
        if !h.is_control() && h.len > self.max_frame_size as u64 {
            return Err(Broken::TooLarge { size: h.len, max: self.max_frame_size });
        }
        Ok(())
    }

    /// Every rule a frame of a message-level connection must follow: the safety checks,
    /// RSV bits only where a negotiated extension claims them (`rsv_allowed`, first frame of
    /// a data message only), and no fragmented control frame.
    pub(crate) fn check(&self, h: &Header, rsv_allowed: u8) -> Result<(), Broken> {
        self.check_safety(h)?;
        let starts_message = !h.is_control() && h.opcode != OpCode::Data(Data::Continue);
        if h.rsv & !(if starts_message { rsv_allowed } else { 0 }) != 0 {
            return Err(ProtocolError::ReservedBits.into());
        }
        if h.is_control() && !h.fin {
            return Err(ProtocolError::FragmentedControl.into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::protocol::frame::coding::Control;

    fn header(opcode: OpCode, fin: bool, rsv: u8, masked: bool, len: u64) -> Header {
        Header { fin, rsv, opcode, mask: masked.then_some([1, 2, 3, 4]), len }
    }

    #[test]
    fn masking_is_a_parameter_of_the_role() {
        let text = header(OpCode::Data(Data::Text), true, 0, false, 3);
        let masked = header(OpCode::Data(Data::Text), true, 0, true, 3);
        let server = FrameRules { masks: IncomingMasks::Required, max_frame_size: 10 };
        let client = FrameRules { masks: IncomingMasks::Forbidden, max_frame_size: 10 };
        let lenient = FrameRules { masks: IncomingMasks::Either, max_frame_size: 10 };
        assert_eq!(server.check(&text, 0), Err(ProtocolError::UnmaskedFrame.into()));
        assert_eq!(server.check(&masked, 0), Ok(()));
        assert_eq!(client.check(&masked, 0), Err(ProtocolError::MaskedFrame.into()));
        assert_eq!(client.check(&text, 0), Ok(()));
        assert_eq!(lenient.check(&text, 0), Ok(()));
        assert_eq!(lenient.check(&masked, 0), Ok(()));
    }

    #[test]
    fn sizes_rsv_and_control_frames() {
        let rules = FrameRules { masks: IncomingMasks::Either, max_frame_size: 10 };
        let big = header(OpCode::Data(Data::Binary), true, 0, true, 11);
        assert_eq!(rules.check(&big, 0), Err(Broken::TooLarge { size: 11, max: 10 }));
        let ping = header(OpCode::Control(Control::Ping), true, 0, true, 126);
        assert_eq!(rules.check(&ping, 0), Err(ProtocolError::ControlTooLong.into()));
        let split_ping = header(OpCode::Control(Control::Ping), false, 0, true, 1);
        assert_eq!(rules.check(&split_ping, 0), Err(ProtocolError::FragmentedControl.into()));
        assert_eq!(rules.check_safety(&split_ping), Ok(()), "raw routes may see fragmented pings");
        let deflated = header(OpCode::Data(Data::Text), false, 0b100, true, 1);
        assert_eq!(rules.check(&deflated, 0), Err(ProtocolError::ReservedBits.into()));
        assert_eq!(rules.check(&deflated, 0b100), Ok(()));
        let continued = header(OpCode::Data(Data::Continue), true, 0b100, true, 1);
        assert_eq!(rules.check(&continued, 0b100), Err(ProtocolError::ReservedBits.into()));
    }
}

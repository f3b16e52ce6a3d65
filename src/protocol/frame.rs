//! Frames as raw routes see and send them (Ktor's `webSocketRaw`).

use tungstenite::protocol::frame::coding::{Control, Data, OpCode};

use super::close::{CloseCode, close_payload};

/// A frame's opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// 0x0: a continuation of a fragmented message.
    Continuation,
    /// 0x1: the first (or only) frame of a text message.
    Text,
    /// 0x2: the first (or only) frame of a binary message.
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl Opcode {
    /// Whether this is a control opcode (close, ping, pong).
    pub fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }

    pub(crate) fn from_wire(op: OpCode) -> Option<Opcode> {
        Some(match op {
            OpCode::Data(Data::Continue) => Opcode::Continuation,
            OpCode::Data(Data::Text) => Opcode::Text,
            OpCode::Data(Data::Binary) => Opcode::Binary,
            OpCode::Control(Control::Close) => Opcode::Close,
            OpCode::Control(Control::Ping) => Opcode::Ping,
            OpCode::Control(Control::Pong) => Opcode::Pong,
            _ => return None,
        })
    }

    pub(crate) fn to_wire(self) -> OpCode {
        match self {
            Opcode::Continuation => OpCode::Data(Data::Continue),
            Opcode::Text => OpCode::Data(Data::Text),
            Opcode::Binary => OpCode::Data(Data::Binary),
            Opcode::Close => OpCode::Control(Control::Close),
            Opcode::Ping => OpCode::Control(Control::Ping),
            Opcode::Pong => OpCode::Control(Control::Pong),
        }
    }
}

/// One WebSocket frame, unmasked: what a raw handler receives, and what it may send.
///
/// ```
/// use syncws::{CloseCode, Frame, Opcode};
/// let first = Frame::new(Opcode::Text, false, "Hel");
/// let last = Frame::new(Opcode::Continuation, true, "lo");
/// assert!(!first.fin && last.fin);
/// let close = Frame::close(CloseCode::NORMAL, "bye");
/// assert_eq!(close.payload, b"\x03\xe8bye");
/// assert_eq!(close.close_code(), Some(CloseCode::NORMAL));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The final-fragment flag.
    pub fin: bool,
    /// RSV1..RSV3 as the bits 0b100, 0b010, 0b001.
    pub rsv: u8,
    /// The opcode.
    pub opcode: Opcode,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

impl Frame {
    /// A frame with no RSV bits.
    pub fn new(opcode: Opcode, fin: bool, payload: impl Into<Vec<u8>>) -> Frame {
        Frame { fin, rsv: 0, opcode, payload: payload.into() }
    }

    /// A ping with `payload` (at most 125 bytes).
    pub fn ping(payload: impl Into<Vec<u8>>) -> Frame {
        Frame::new(Opcode::Ping, true, payload)
    }

    /// A pong with `payload` (answer a ping with its payload).
    pub fn pong(payload: impl Into<Vec<u8>>) -> Frame {
        Frame::new(Opcode::Pong, true, payload)
    }

    /// A close frame with `code` and `reason`.
    pub fn close(code: CloseCode, reason: &str) -> Frame {
        Frame::new(Opcode::Close, true, close_payload(code, reason))
    }

    /// The code of a close frame that carries one.
    pub fn close_code(&self) -> Option<CloseCode> {
        (self.opcode == Opcode::Close && self.payload.len() >= 2)
            .then(|| CloseCode(u16::from_be_bytes([self.payload[0], self.payload[1]])))
    }
}

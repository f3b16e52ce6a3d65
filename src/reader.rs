//! The read loop: frames in, complete messages out, control frames handled, every protocol
//! rule of RFC 6455 §5 checked.

use std::io;
use std::net::TcpStream;
use std::sync::Arc;

use tungstenite::protocol::frame::coding::{Control, Data, OpCode};

use crate::close::CloseCode;
use crate::config::Config;
use crate::conn::{Conn, Ctrl};

use crate::error::{Error, ProtocolError};
use crate::extension::MessageDecoder;
use crate::frame::{Frame, Opcode};
use crate::frame_read::{FrameReader, Header, is_text};
use crate::message::Message;
use crate::timer::Clock;
use crate::utf8::Utf8Check;

/// How the read loop ended.
#[derive(Debug)]
pub(crate) enum Ending {
    /// The peer sent a valid close frame (code 1005 when it carried none).
    PeerClose(CloseCode, String),
    /// The stream ended or failed without a close frame.
    Dropped(Option<io::Error>),
    /// The peer broke the protocol (or a limit); the connection must fail with this error.
    Failed(Error),
}

/// Where complete messages (or, on raw routes, frames) go.
pub(crate) trait Deliver {
    fn deliver(&mut self, message: Message);
    fn deliver_frame(&mut self, frame: Frame);
}

/// How a connection's frames are read: extension bits and decoders, or raw.
pub(crate) struct Framing {
    /// RSV bits the negotiated extensions may set.
    pub(crate) rsv_allowed: u8,
    /// The negotiated extensions' decoders, in response order.
    pub(crate) decoders: Vec<Box<dyn MessageDecoder>>,
    /// Raw route: frames go to the handler as they are.
    pub(crate) raw: bool,
}

/// The read side of one connection.
pub(crate) struct ReadLoop<'a> {
    pub(crate) stream: &'a TcpStream,
    pub(crate) frames: FrameReader,
    pub(crate) conn: &'a Arc<Conn>,
    pub(crate) clock: Clock,
    pub(crate) config: &'a Config,
    /// The message being assembled: `message[..message_len]` (the `Vec` may be longer, with
    /// bytes of a recycled buffer that are overwritten rather than zeroed again), and whether
    /// it is text (`None`: no message in progress).
    message: Vec<u8>,
    message_len: usize,
    text: Option<bool>,
    /// RSV bits of the message's first frame (set by extensions).
    first_rsv: u8,
    utf8: Utf8Check,
    /// RSV bits the negotiated extensions may set, and their decoders in response order.
    rsv_allowed: u8,
    decoders: Vec<Box<dyn MessageDecoder>>,
    /// Raw route: every frame goes to the handler as it is.
    raw: bool,
}

impl<'a> ReadLoop<'a> {
    pub(crate) fn new(
        stream: &'a TcpStream,
        frames: FrameReader,
        conn: &'a Arc<Conn>,
        clock: Clock,
        config: &'a Config,
        framing: Framing,
    ) -> Self {
        let Framing { rsv_allowed, decoders, raw } = framing;
        ReadLoop {
            stream,
            frames,
            conn,
            clock,
            config,
            message: Vec::new(),
            message_len: 0,
            text: None,
            first_rsv: 0,
            utf8: Utf8Check::default(),
            rsv_allowed,
            decoders,
            raw,
        }
    }

    /// Reads until the peer closes, the stream ends, or the peer breaks a rule.
    pub(crate) fn run(&mut self, sink: &mut dyn Deliver) -> Ending {
        loop {
            match self.step(sink) {
                Ok(None) => {}
                Ok(Some(ending)) => return ending,
                Err(Error::Io(e)) => return Ending::Dropped(Some(e)),
                Err(e) => return Ending::Failed(e),
            }
        }
    }

    /// Reads one frame.
    fn step(&mut self, sink: &mut dyn Deliver) -> Result<Option<Ending>, Error> {
        let Some(header) = self.frames.read_header(&mut self.stream)? else {
            return Ok(Some(Ending::Dropped(None)));
        };
        self.conn.touch(self.clock.now_ms());
        if self.raw {
            return self.raw_frame(&header, sink);
        }
        self.check(&header)?;
        if header.is_control() {
            return self.control(&header);
        }
        let text = match (header.opcode, self.text) {
            (OpCode::Data(Data::Continue), Some(t)) => t,
            (OpCode::Data(Data::Continue), None) => {
                return Err(ProtocolError::UnexpectedContinuation.into());
            }
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation.into()),
            (op, None) => {
                if self.message.capacity() == 0 {
                    if let Some(buf) = self.conn.take_recycled() {
                        self.message = buf;
                    }
                }
                self.utf8.reset();
                self.first_rsv = header.rsv;
                is_text(op)
            }
        };
        self.text = Some(text);
        // An encoded (compressed) message is limited by its decoded size, checked while
        // decoding; on the wire it may exceed the limit by a little (incompressible data).
        let encoded = self.first_rsv != 0;
        let max = self.config.max_message_size;
        let wire_max = if encoded { max.saturating_add(max / 8).saturating_add(1024) } else { max };
        let size = self.message_len as u64 + header.len;
        if size > wire_max as u64 {
            return Err(Error::MessageTooLarge { size, max });
        }
        // Plain text is validated as it arrives, so invalid UTF-8 fails fast.
        let utf8 = &mut self.utf8;
        let base = self.message_len;
        self.message_len =
            self.frames.read_payload_at(&mut self.stream, &header, &mut self.message, base, |buf| {
                if text && !encoded { utf8.check(buf, false) } else { Ok(()) }
            })?;
        if header.fin {
            let mut bytes = std::mem::take(&mut self.message);
            bytes.truncate(std::mem::take(&mut self.message_len));
            self.text = None;
            for decoder in self.decoders.iter_mut().rev() {
                bytes = decoder.decode(bytes, self.first_rsv, max)?;
            }
            let message = if text {
                Message::Text(String::from_utf8(bytes).map_err(|_| Error::InvalidUtf8)?)
            } else {
                Message::Binary(bytes)
            };
            sink.deliver(message);
        }
        Ok(None)
    }

    /// A raw route's frame: only the rules that keep the server safe (masking, sizes) apply.
    fn raw_frame(&mut self, header: &Header, sink: &mut dyn Deliver) -> Result<Option<Ending>, Error> {
        if header.mask.is_none() && !self.config.accept_unmasked_frames {
            return Err(ProtocolError::UnmaskedFrame.into());
        }
        if header.is_control() && header.len > 125 {
            return Err(ProtocolError::ControlTooLong.into());
        }
        if header.len > self.config.max_frame_size as u64 {
            return Err(Error::FrameTooLarge { size: header.len, max: self.config.max_frame_size });
        }
        let Some(opcode) = Opcode::from_wire(header.opcode) else {
            return Err(ProtocolError::BadOpcode(u8::from(header.opcode)).into());
        };
        let mut payload = Vec::new();
        self.frames.read_payload(&mut self.stream, header, &mut payload, |_| Ok(()))?;
        let close = (opcode == Opcode::Close)
            .then(|| parse_close(&payload).unwrap_or((CloseCode::NO_STATUS, String::new())));
        if let Some(received) = &close {
            // Recorded before the handler sees the frame: it may answer at once.
            let mut state = self.conn.close.lock().unwrap_or_else(|e| e.into_inner());
            state.peer_first = state.sent.is_none() && state.requested.is_none();
            state.received = Some(received.clone());
        }
        sink.deliver_frame(Frame { fin: header.fin, rsv: header.rsv, opcode, payload });
        Ok(close.map(|(code, reason)| Ending::PeerClose(code, reason)))
    }

    /// Rules every frame must follow before its payload is read.
    fn check(&self, h: &Header) -> Result<(), Error> {
        if h.mask.is_none() && !self.config.accept_unmasked_frames {
            return Err(ProtocolError::UnmaskedFrame.into());
        }
        // Extensions may set their bits on the first frame of a data message only.
        let starts_message = !h.is_control() && h.opcode != OpCode::Data(Data::Continue);
        if h.rsv & !(if starts_message { self.rsv_allowed } else { 0 }) != 0 {
            return Err(ProtocolError::ReservedBits.into());
        }
        if h.is_control() {
            if !h.fin {
                return Err(ProtocolError::FragmentedControl.into());
            }
            if h.len > 125 {
                return Err(ProtocolError::ControlTooLong.into());
            }
        } else if h.len > self.config.max_frame_size as u64 {
            return Err(Error::FrameTooLarge { size: h.len, max: self.config.max_frame_size });
        }
        Ok(())
    }

    fn control(&mut self, header: &Header) -> Result<Option<Ending>, Error> {
        let mut payload = Vec::with_capacity(header.len as usize);
        self.frames.read_payload(&mut self.stream, header, &mut payload, |_| Ok(()))?;
        match header.opcode {
            OpCode::Control(Control::Ping) => {
                if !self.conn.close_pending() {
                    // Blocks while the control lane is full: backpressure on a ping flood.
                    self.conn.queue_control(Ctrl::Pong(payload), true);
                }
                Ok(None)
            }
            OpCode::Control(Control::Close) => {
                let (code, reason) = parse_close(&payload)?;
                Ok(Some(Ending::PeerClose(code, reason)))
            }
            _ => Ok(None), // pong: liveness was already recorded
        }
    }

    /// Discards input until EOF or until the socket is cut (a failed connection closing).
    pub(crate) fn drain(&mut self) {
        self.frames.drain(&mut self.stream);
    }
}

/// Validates a close frame's payload (RFC 6455 §5.5.1, §7.4).
pub(crate) fn parse_close(payload: &[u8]) -> Result<(CloseCode, String), Error> {
    match payload.len() {
        0 => Ok((CloseCode::NO_STATUS, String::new())),
        1 => Err(ProtocolError::BadClosePayload.into()),
        _ => {
            let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
            if !code.is_sendable() {
                return Err(ProtocolError::InvalidCloseCode(code.0).into());
            }
            let reason = std::str::from_utf8(&payload[2..]).map_err(|_| Error::InvalidUtf8)?;
            Ok((code, reason.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_payloads() {
        assert_eq!(parse_close(&[]).unwrap().0, CloseCode::NO_STATUS);
        assert!(parse_close(&[3]).is_err());
        assert_eq!(parse_close(&[3, 232, b'o', b'k']).unwrap(), (CloseCode::NORMAL, "ok".to_owned()));
        assert!(matches!(
            parse_close(&[3, 237]),
            Err(Error::Protocol(ProtocolError::InvalidCloseCode(1005)))
        ));
        assert!(matches!(parse_close(&[3, 232, 0xff]), Err(Error::InvalidUtf8)));
    }
}

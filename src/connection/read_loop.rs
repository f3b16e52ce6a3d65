//! The read loop: frames in, complete messages out, control frames handled, every protocol
//! rule of RFC 6455 §5 checked.

use std::io;
use std::sync::Arc;

use tungstenite::protocol::frame::coding::{Control, Data, OpCode};

use super::shared::{Conn, Ctrl};
use super::stack::{TRIM_EVERY_MS, ThreadStack};
use crate::error::{Error, ProtocolError};
use crate::extensions::MessageDecoder;
use crate::protocol::close::parse_close;
use crate::protocol::read::{FrameReader, Header, is_text};
use crate::protocol::utf8::Utf8Check;
use crate::protocol::{CloseCode, Frame, Message, Opcode};
use crate::transport::Stream;

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
    stream: &'a Stream,
    frames: FrameReader,
    conn: &'a Arc<Conn>,
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
    /// This thread's stack, trimmed before waiting for input, and when it was last (by the
    /// time of the last input; `None`: never).
    stack: ThreadStack,
    trimmed_ms: Option<u64>,
}

impl<'a> ReadLoop<'a> {
    pub(crate) fn new(
        stream: &'a Stream,
        frames: FrameReader,
        conn: &'a Arc<Conn>,
        framing: Framing,
    ) -> Self {
        let Framing { rsv_allowed, decoders, raw } = framing;
        ReadLoop {
            stream,
            frames,
            conn,
            message: Vec::new(),
            message_len: 0,
            text: None,
            first_rsv: 0,
            utf8: Utf8Check::default(),
            rsv_allowed,
            decoders,
            raw,
            stack: ThreadStack::current(),
            trimmed_ms: None,
        }
    }

    /// Reads until the peer closes, the stream ends, or the peer breaks a rule. Never inlined:
    /// the stack under an idle connection's wait stays shallow (see `stack`).
    #[inline(never)]
    pub(crate) fn run(&mut self, sink: &mut dyn Deliver) -> Ending {
        loop {
            match self.step(sink) {
                Ok(None) => {}
                Ok(Some(ending)) => return ending,
                // A broken TLS session too (it cannot carry a close frame): its io::Error
                // carries the TLS failure, typed again where the connection ends (`run`).
                Err(Error::Io(e)) => return Ending::Dropped(Some(e)),
                Err(e) => return Ending::Failed(e),
            }
        }
    }

    /// Reads one frame.
    fn step(&mut self, sink: &mut dyn Deliver) -> Result<Option<Ending>, Error> {
        if !self.frames.has_buffered() {
            // About to wait for input, perhaps for long: give back the stack pages that the
            // handshake, the handler or a log line touched below here (see `stack`).
            let last_rx = self.conn.last_rx_ms();
            if self.trimmed_ms.is_none_or(|t| last_rx >= t + TRIM_EVERY_MS) {
                self.stack.trim();
                self.trimmed_ms = Some(last_rx);
            }
        }
        let Some(header) = self.frames.read_header(&mut self.stream)? else {
            return Ok(Some(Ending::Dropped(None)));
        };
        self.conn.touch(self.conn.now_ms());
        if self.raw {
            return self.raw_frame(&header, sink);
        }
        self.conn.settings.rules.check(&header, self.rsv_allowed)?;
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
        let max = self.conn.settings.max_message_size;
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
        self.conn.settings.rules.check_safety(header)?;
        let Some(opcode) = Opcode::from_wire(header.opcode) else {
            return Err(ProtocolError::BadOpcode(u8::from(header.opcode)).into());
        };
        let mut payload = Vec::new();
        self.frames.read_payload(&mut self.stream, header, &mut payload, |_| Ok(()))?;
        let close = (opcode == Opcode::Close)
            .then(|| parse_close(&payload).unwrap_or((CloseCode::NO_STATUS, String::new())));
        if let Some(received) = &close {
            // Recorded before the handler sees the frame: it may answer at once.
            self.conn.closing.received(received.clone());
        }
        sink.deliver_frame(Frame { fin: header.fin, rsv: header.rsv, opcode, payload });
        Ok(close.map(|(code, reason)| Ending::PeerClose(code, reason)))
    }

    fn control(&mut self, header: &Header) -> Result<Option<Ending>, Error> {
        let mut payload = Vec::with_capacity(header.len as usize);
        self.frames.read_payload(&mut self.stream, header, &mut payload, |_| Ok(()))?;
        match header.opcode {
            OpCode::Control(Control::Ping) => {
                if !self.conn.close_pending() {
                    // Blocks while the control lane is full: backpressure on a ping flood.
                    self.conn.send_control(Ctrl::Pong(payload), true);
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

    /// Discards input until EOF or an error (a cut socket reads as EOF): a failed connection
    /// closing, or a client waiting for the server's FIN.
    pub(crate) fn drain(&mut self) {
        self.frames.drain(&mut self.stream);
    }
}

//! The write loop: the only code that writes to a connection's socket after the handshake.
//! Control frames go first; everything queued is batched into as few `write`s as possible.

use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;

use crossbeam_channel::{Receiver, select};
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};

use crate::close::CloseCode;
use crate::conn::{Conn, Ctrl, Cut};
use crate::extension::MessageEncoder;
use crate::frame_write::{COPY_LIMIT, encode_frame, encode_header, write_two};
use crate::mask::MaskSource;
use crate::message::Message;
use crate::timer::Clock;

/// Bytes gathered before a batch is written.
const BATCH: usize = 64 * 1024;
/// A batch buffer that grew past this is given back after use.
const KEEP: usize = 16 * 1024;

/// Stack of the write loop thread: it only encodes frames.
pub(crate) const WRITER_STACK: usize = 64 * 1024;
/// Stack of a write loop that runs extension encoders: miniz_oxide builds its ~90 KiB
/// compressor state on the stack before boxing it.
pub(crate) const WRITER_STACK_WITH_EXTENSIONS: usize = 320 * 1024;

/// Why an item stopped the loop.
enum Flow {
    Go,
    Stop,
}

struct Writer {
    stream: TcpStream,
    conn: Arc<Conn>,
    clock: Clock,
    out: Vec<u8>,
    masks: Option<MaskSource>,
    /// The negotiated extensions' encoders, applied in order.
    encoders: Vec<Box<dyn MessageEncoder>>,
}

/// Runs the write loop until a close frame is written, the connection is aborted, or writing
/// fails.
pub(crate) fn run(
    stream: TcpStream,
    conn: Arc<Conn>,
    clock: Clock,
    ctrl: Receiver<Ctrl>,
    data: Receiver<Message>,
    masking: bool,
    encoders: Vec<Box<dyn MessageEncoder>>,
) {
    let masks =
        masking.then(|| MaskSource::new(conn.id.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ conn.created_ms));
    let mut w = Writer { stream, conn, clock, out: Vec::new(), masks, encoders };
    if let Err(e) = w.serve(&ctrl, &data) {
        log::debug!("{}: write loop ended: {e}", w.conn.peer);
        w.conn.cut(Cut::WriteFailed);
    }
}

impl Writer {
    fn serve(&mut self, ctrl: &Receiver<Ctrl>, data: &Receiver<Message>) -> io::Result<()> {
        loop {
            let flow = select! {
                recv(ctrl) -> c => match c {
                    Ok(c) => self.control(c)?,
                    Err(_) => Flow::Stop,
                },
                recv(data) -> m => match m {
                    Ok(m) => {
                        // Control frames queued before this message go first.
                        let mut flow = Flow::Go;
                        while let (Flow::Go, Ok(c)) = (&flow, ctrl.try_recv()) {
                            flow = self.control(c)?;
                        }
                        if let Flow::Go = flow { self.message(m)? } else { flow }
                    }
                    Err(_) => Flow::Stop,
                },
            };
            if let Flow::Stop = flow {
                return Ok(());
            }
            // Gather whatever else is queued, control first, into this batch.
            while self.out.len() < BATCH {
                let flow = if let Ok(c) = ctrl.try_recv() {
                    self.control(c)?
                } else if let Ok(m) = data.try_recv() {
                    self.message(m)?
                } else {
                    break;
                };
                if let Flow::Stop = flow {
                    return Ok(());
                }
            }
            if self.conn.close_pending() {
                return self.send_close(data);
            }
            self.flush()?;
        }
    }

    fn control(&mut self, c: Ctrl) -> io::Result<Flow> {
        let (op, payload) = match c {
            Ctrl::Ping(p) => (Control::Ping, p),
            Ctrl::Pong(p) => (Control::Pong, p),
            Ctrl::Close => return Ok(Flow::Go), // handled after the batch, once data is drained
            Ctrl::Abort => return Ok(Flow::Stop),
        };
        encode_frame(&mut self.out, OpCode::Control(op), 0, &payload, self.masks.as_mut());
        Ok(Flow::Go)
    }

    fn message(&mut self, m: Message) -> io::Result<Flow> {
        let op = if m.is_text() { Data::Text } else { Data::Binary };
        let text = m.is_text();
        let mut payload = m.into_bytes();
        let mut rsv = 0;
        for encoder in &mut self.encoders {
            rsv |= encoder.encode(&mut payload, text).map_err(io::Error::other)?;
        }
        if payload.len() < COPY_LIMIT {
            encode_frame(&mut self.out, OpCode::Data(op), rsv, &payload, self.masks.as_mut());
            return Ok(Flow::Go);
        }
        let mask = self.masks.as_mut().map(MaskSource::next_mask);
        encode_header(&mut self.out, OpCode::Data(op), true, rsv, payload.len(), mask);
        if let Some(mask) = mask {
            crate::mask::apply_mask(&mut payload, mask, 0);
        }
        self.conn.set_writing(Some(self.clock.now_ms()));
        let written = write_two(&mut self.stream, &self.out, &payload);
        self.conn.set_writing(None);
        written?;
        self.clear();
        Ok(Flow::Go)
    }

    /// Sends everything still queued, then the requested close frame, then half-closes TCP.
    fn send_close(&mut self, data: &Receiver<Message>) -> io::Result<()> {
        while let Ok(m) = data.try_recv() {
            self.message(m)?;
            if self.out.len() >= BATCH {
                self.flush()?;
            }
        }
        let requested = {
            let mut close = self.conn.close.lock().unwrap_or_else(|e| e.into_inner());
            let req = close.requested.take();
            close.sent = req.clone();
            req
        };
        if let Some((code, reason)) = requested {
            // A peer close without a code is answered without one.
            let mut payload = Vec::with_capacity(2 + reason.len());
            if code != CloseCode::NO_STATUS {
                payload.extend_from_slice(&code.as_u16().to_be_bytes());
                payload.extend_from_slice(reason.as_bytes());
            }
            encode_frame(&mut self.out, OpCode::Control(Control::Close), 0, &payload, self.masks.as_mut());
        }
        self.flush()?;
        // RFC 6455 §7.1.1: the server closes TCP first; FIN follows our close frame.
        let _ = self.stream.shutdown(Shutdown::Write);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.conn.set_writing(Some(self.clock.now_ms()));
            let written = self.stream.write_all(&self.out);
            self.conn.set_writing(None);
            written?;
            self.clear();
        }
        Ok(())
    }

    fn clear(&mut self) {
        self.out.clear();
        if self.out.capacity() > KEEP {
            self.out.shrink_to(KEEP);
        }
    }
}

//! The write loop: it writes everything that cannot be written directly by a sender (see
//! `direct`): control frames, queued messages, broadcasts, extension-encoded and masked frames.
//! Control frames go first; everything queued is batched into as few `write`s as possible.
//! Its thread starts on demand and parks when quiet (see `writer_slot`); what it keeps between
//! threads is a [`WriterState`].

use std::borrow::Cow;
use std::io;
use std::sync::Arc;

use crossbeam_channel::{Receiver, RecvError, select};
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};

use super::broadcast_lane::BroadcastLane;
use super::outgoing::Outbound;
use super::shared::{Conn, Ctrl, Cut};
use crate::extensions::MessageEncoder;
use crate::protocol::close::{close_payload, parse_close};
use crate::protocol::mask::apply_mask;
use crate::protocol::random::MaskKeys;
use crate::protocol::write::{COPY_LIMIT, encode_frame, encode_header};
use crate::protocol::{CloseCode, Frame, Message, Opcode};
use crate::transport::Stream;

/// Bytes gathered before a batch is written.
const BATCH: usize = 64 * 1024;
/// A batch buffer that grew past this is given back after use.
const KEEP: usize = 16 * 1024;

/// Stack of the write loop thread: it only encodes frames.
pub(crate) const WRITER_STACK: usize = 64 * 1024;
/// Stack of a write loop that runs extension encoders: a custom extension may need more stack
/// than framing does (zlib's deflate itself needs little: its state is on the heap); only the
/// pages touched count.
pub(crate) const WRITER_STACK_WITH_EXTENSIONS: usize =
    if cfg!(debug_assertions) { 512 * 1024 } else { 128 * 1024 };

fn owned(payload: Cow<'_, [u8]>) -> Option<Vec<u8>> {
    match payload {
        Cow::Owned(v) => Some(v),
        Cow::Borrowed(_) => None,
    }
}

/// Why an item stopped the loop.
enum Flow {
    Go,
    Stop,
}

/// What woke the write loop.
enum Wake {
    Ctrl(Result<Ctrl, RecvError>),
    Data(Result<Outbound, RecvError>),
    /// The broadcast lane's bell, or a quiet period that found work after all.
    Shared,
}

/// How a write loop thread stopped.
enum Exit {
    /// Nothing to do for a while: park (unless work arrived meanwhile).
    Quiet,
    /// The close frame was written, or the connection was aborted: the end.
    Stop,
}

/// What a write loop keeps from one thread to the next: its lanes, the negotiated extensions'
/// encoders (with their state, such as a compression window) and its masking keys.
pub(crate) struct WriterState {
    /// Control frames and commands, served first.
    ctrl: Receiver<Ctrl>,
    /// The session's outgoing queue, once made (see `Conn::queue`).
    data: Option<Receiver<Outbound>>,
    /// The negotiated extensions' encoders, applied in order.
    encoders: Vec<Box<dyn MessageEncoder>>,
    masks: Option<MaskKeys>,
}

impl WriterState {
    /// The state of a new connection's write loop.
    pub(crate) fn new(conn: &Conn, ctrl: Receiver<Ctrl>, encoders: Vec<Box<dyn MessageEncoder>>) -> Self {
        let masks = conn.settings.mask_outgoing.then(MaskKeys::default);
        WriterState { ctrl, data: None, encoders, masks }
    }

    /// Takes the outgoing queue's receiving end, made after this state.
    pub(crate) fn take_queue(&mut self, data: Receiver<Outbound>) {
        self.data = Some(data);
    }

    /// Whether frames go through extension encoders (which need a larger stack).
    pub(crate) fn has_encoders(&self) -> bool {
        !self.encoders.is_empty()
    }

    /// Whether anything waits for the write loop: a queued item or command, a broadcast, a
    /// requested close, or bytes a direct write left unsent.
    pub(crate) fn has_work(&self, conn: &Conn) -> bool {
        !self.ctrl.is_empty()
            || self.data.as_ref().is_some_and(|d| !d.is_empty())
            || conn.close_pending()
            || conn.broadcast_lane_if_any().is_some_and(|lane| !lane.is_empty())
            || !conn.wire.lock().unwrap_or_else(|e| e.into_inner()).pending.is_empty()
            || conn.stream().is_some_and(|s| s.has_unsent())
    }
}

struct Writer {
    stream: Arc<Stream>,
    conn: Arc<Conn>,
    out: Vec<u8>,
    state: Box<WriterState>,
    /// The broadcast lane, once the session joins a hub, and its bell (`never()` until then).
    lane: Option<Arc<BroadcastLane>>,
    bell: Receiver<()>,
    /// Items taken from the outgoing queue in this batch (uncounted once written).
    taken: usize,
}

/// A write loop thread: runs until a close frame is written, the connection is aborted, or
/// writing fails (the write loop then ends for good), or until it has been quiet for
/// [`QUIET`](super::writer_slot::QUIET) and parks.
pub(crate) fn run(stream: Arc<Stream>, conn: Arc<Conn>, mut state: Box<WriterState>) {
    let mut gather_first = false;
    loop {
        let mut w = Writer {
            stream: stream.clone(),
            conn: conn.clone(),
            out: Vec::new(),
            state,
            lane: None,
            bell: crossbeam_channel::never(),
            taken: 0,
        };
        match w.serve(gather_first) {
            Ok(Exit::Quiet) => match conn.writer.park(&conn, w.state) {
                Ok(()) => return,
                // Work arrived as it was about to park: go on, starting with it.
                Err(back) => {
                    state = back;
                    gather_first = true;
                }
            },
            Ok(Exit::Stop) => break,
            Err(e) => {
                log::debug!("{}: write loop ended: {e}", conn.peer);
                conn.cut(Cut::WriteFailed);
                break;
            }
        }
    }
    conn.writer.end(&conn);
}

impl Writer {
    /// Serves the lanes until the end or a quiet period; `gather_first`: work is known to
    /// wait, gather it before waiting.
    fn serve(&mut self, mut gather_first: bool) -> io::Result<Exit> {
        let ctrl = &self.state.ctrl.clone();
        let mut data = self.state.data.clone().unwrap_or_else(crossbeam_channel::never);
        loop {
            self.pick_up_lane();
            if let Some(queue) = self.conn.writer.take_queue() {
                data = queue.clone();
                self.state.take_queue(queue);
            }
            let data = &data;
            let wake = if std::mem::take(&mut gather_first) {
                Wake::Shared
            } else if self.lane.is_some() {
                // A broadcast member's write loop never parks (see `Conn::broadcast_lane`).
                select! {
                    recv(ctrl) -> c => Wake::Ctrl(c),
                    recv(data) -> item => Wake::Data(item),
                    recv(self.bell) -> _ => Wake::Shared,
                }
            } else {
                select! {
                    recv(ctrl) -> c => Wake::Ctrl(c),
                    recv(data) -> item => Wake::Data(item),
                    recv(self.bell) -> _ => Wake::Shared,
                    default(super::writer_slot::QUIET) => return Ok(Exit::Quiet),
                }
            };
            // The batch is written holding the wire, after what a direct write left unsent.
            let conn = Arc::clone(&self.conn);
            let mut wire = conn.wire.lock().unwrap_or_else(|e| e.into_inner());
            if !wire.pending.is_empty() {
                self.conn.set_writing(Some(self.conn.now_ms()));
                let written = self.stream.write_rest(&wire.pending);
                self.conn.set_writing(None);
                written?;
                wire.pending.clear();
            }
            let flow = self.batch(wake, ctrl, data)?;
            self.conn.note_unqueued(std::mem::take(&mut self.taken));
            drop(wire);
            if let Flow::Stop = flow {
                return Ok(Exit::Stop);
            }
        }
    }

    /// Takes the broadcast lane, and waits on its bell from then on, once the session has
    /// joined a hub.
    fn pick_up_lane(&mut self) {
        if self.lane.is_none() {
            if let Some(lane) = self.conn.broadcast_lane_if_any() {
                self.bell = lane.bell().clone();
                self.lane = Some(lane.clone());
            }
        }
    }

    /// Serves what woke the loop and whatever else is queued, then writes the batch.
    fn batch(&mut self, wake: Wake, ctrl: &Receiver<Ctrl>, data: &Receiver<Outbound>) -> io::Result<Flow> {
        let flow = match wake {
            Wake::Ctrl(Ok(c)) => self.control(c)?,
            // Control frames queued before this item go first.
            Wake::Data(Ok(item)) => match self.drain_control(ctrl)? {
                Flow::Go => self.item(item)?,
                stop => stop,
            },
            Wake::Shared => match self.drain_control(ctrl)? {
                Flow::Go => match self.next_shared() {
                    Some(m) => self.shared(&m)?,
                    None => Flow::Go,
                },
                stop => stop,
            },
            Wake::Ctrl(Err(_)) | Wake::Data(Err(_)) => Flow::Stop,
        };
        if let Flow::Stop = flow {
            return Ok(Flow::Stop);
        }
        // Gather whatever else is queued, control first, into this batch.
        while self.out.len() < BATCH {
            let flow = if let Ok(c) = ctrl.try_recv() {
                self.control(c)?
            } else if let Ok(item) = data.try_recv() {
                self.item(item)?
            } else if let Some(m) = self.next_shared() {
                self.shared(&m)?
            } else {
                break;
            };
            if let Flow::Stop = flow {
                return Ok(Flow::Stop);
            }
        }
        if self.conn.close_pending() {
            self.send_close(data)?;
            return Ok(Flow::Stop);
        }
        self.flush()?;
        if let Some(lane) = &self.lane {
            lane.ring_if_waiting();
        }
        Ok(Flow::Go)
    }

    fn drain_control(&mut self, ctrl: &Receiver<Ctrl>) -> io::Result<Flow> {
        while let Ok(c) = ctrl.try_recv() {
            if let Flow::Stop = self.control(c)? {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Go)
    }

    fn control(&mut self, c: Ctrl) -> io::Result<Flow> {
        let (op, payload) = match c {
            // Pings and pongs are counted in `Conn::queued` like data.
            Ctrl::Ping(p) => {
                self.taken += 1;
                (Control::Ping, p)
            }
            Ctrl::Pong(p) => {
                self.taken += 1;
                (Control::Pong, p)
            }
            // Handled after the batch, once data is drained.
            Ctrl::Close | Ctrl::Flush => return Ok(Flow::Go),
            Ctrl::Abort => return Ok(Flow::Stop),
        };
        let mask = self.next_mask()?;
        encode_frame(&mut self.out, OpCode::Control(op), true, 0, &payload, mask);
        Ok(Flow::Go)
    }

    fn item(&mut self, item: Outbound) -> io::Result<Flow> {
        self.taken += 1;
        match item {
            Outbound::Message(m) => {
                let text = m.is_text();
                if let Some(buf) = self.data_frame(text, Cow::Owned(m.into_bytes()))? {
                    self.conn.recycle(buf);
                }
                Ok(Flow::Go)
            }
            Outbound::Frame(f) => self.raw_frame(f),
        }
    }

    /// The next broadcast message, if one waits.
    fn next_shared(&self) -> Option<Arc<Message>> {
        self.lane.as_ref().and_then(|l| l.pop())
    }

    fn shared(&mut self, m: &Message) -> io::Result<Flow> {
        self.data_frame(m.is_text(), Cow::Borrowed(m.as_bytes()))?;
        Ok(Flow::Go)
    }

    /// A whole message as one frame, through the negotiated extensions. Returns the payload's
    /// buffer when it owned one.
    fn data_frame(&mut self, text: bool, mut payload: Cow<'_, [u8]>) -> io::Result<Option<Vec<u8>>> {
        let mut rsv = 0;
        if !self.state.encoders.is_empty() {
            let mut owned = payload.into_owned();
            for encoder in &mut self.state.encoders {
                match encoder.encode(&mut owned, text) {
                    Ok(bits) => rsv |= bits,
                    Err(e) => {
                        // The message cannot be sent; the connection closes with the
                        // extension's code once what is queued has been flushed.
                        log::warn!("{}: extension failed to encode a message: {e}", self.conn.peer);
                        self.conn.request_close(e.close_code(), &e.to_string());
                        return Ok(None);
                    }
                }
            }
            payload = Cow::Owned(owned);
        }
        let op = OpCode::Data(if text { Data::Text } else { Data::Binary });
        self.frame_out(op, true, rsv, payload)
    }

    /// A frame from a raw route, as given; a close frame ends the write loop.
    fn raw_frame(&mut self, f: Frame) -> io::Result<Flow> {
        let close = f.opcode == Opcode::Close;
        if close {
            // Recorded before it is written, so that a peer answering at once is not taken for
            // the side that closed first.
            let sent = parse_close(&f.payload).unwrap_or((CloseCode::NO_STATUS, String::new()));
            self.conn.closing.raw_sent(sent, self.conn.now_ms());
        }
        self.frame_out(f.opcode.to_wire(), f.fin, f.rsv, Cow::Owned(f.payload))?;
        if !close {
            return Ok(Flow::Go);
        }
        self.flush()?;
        self.after_close();
        // The peer's time to answer runs from now.
        self.conn.start_close_timeout();
        Ok(Flow::Stop)
    }

    /// Encodes a frame into the batch, or writes a large payload straight from where it is.
    /// Returns the payload's buffer when it owned one.
    fn frame_out(
        &mut self,
        op: OpCode,
        fin: bool,
        rsv: u8,
        payload: Cow<'_, [u8]>,
    ) -> io::Result<Option<Vec<u8>>> {
        let mask = self.next_mask()?;
        if payload.len() < COPY_LIMIT {
            encode_frame(&mut self.out, op, fin, rsv, &payload, mask);
            return Ok(owned(payload));
        }
        encode_header(&mut self.out, op, fin, rsv, payload.len(), mask);
        let payload = match mask {
            Some(mask) => {
                let mut owned = payload.into_owned();
                apply_mask(&mut owned, mask, 0);
                Cow::Owned(owned)
            }
            None => payload,
        };
        write_out(&self.stream, &self.conn, &self.out, &payload)?;
        self.clear();
        Ok(owned(payload))
    }

    /// Sends everything still queued (the session's own queue, then its broadcast lane), then
    /// the requested close frame, then half-closes TCP.
    fn send_close(&mut self, data: &Receiver<Outbound>) -> io::Result<()> {
        while let Ok(item) = data.try_recv() {
            if let Flow::Stop = self.item(item)? {
                return Ok(());
            }
            if self.out.len() >= BATCH {
                self.flush()?;
            }
        }
        // Broadcast messages queued for this session before the close go out too.
        self.pick_up_lane();
        while let Some(m) = self.next_shared() {
            self.shared(&m)?;
            if self.out.len() >= BATCH {
                self.flush()?;
            }
        }
        if let Some((code, reason)) = self.conn.closing.take_for_sending() {
            // A peer close without a code is answered without one.
            let payload = close_payload(code, &reason);
            let mask = self.next_mask()?;
            encode_frame(&mut self.out, OpCode::Control(Control::Close), true, 0, &payload, mask);
        }
        self.flush()?;
        self.after_close();
        Ok(())
    }

    /// A fresh masking key if this connection masks its frames; failing to get one fails the
    /// connection rather than send a predictable key.
    fn next_mask(&mut self) -> io::Result<Option<[u8; 4]>> {
        self.state.masks.as_mut().map(MaskKeys::next_key).transpose()
    }

    /// After our close frame: RFC 6455 §7.1.1 has the server close TCP first, so a server's
    /// FIN follows its close frame; a client leaves TCP to the server (its read loop waits for
    /// the server's FIN, within the close timeout).
    fn after_close(&self) {
        if !self.conn.settings.client {
            self.conn.set_writing(Some(self.conn.now_ms()));
            self.stream.finish_writing();
            self.conn.set_writing(None);
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            write_out(&self.stream, &self.conn, &self.out, &[])?;
            self.clear();
        } else if self.stream.has_unsent() {
            // Sealed by a direct write (or by the reader: an alert, a key update).
            self.conn.set_writing(Some(self.conn.now_ms()));
            let written = self.stream.flush_unsent();
            self.conn.set_writing(None);
            written?;
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

/// Writes `head` then `body` (vectored, so a large body is not copied), blocking until all are
/// written, with the write's start on record for the timer (a peer that stops reading).
fn write_out(stream: &Stream, conn: &Conn, head: &[u8], body: &[u8]) -> io::Result<()> {
    conn.set_writing(Some(conn.now_ms()));
    let written = stream.write_frames(head, body);
    conn.set_writing(None);
    written
}

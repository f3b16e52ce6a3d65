//! State one connection shares between its read loop, its write loop, its sessions, the timer
//! and the server.

use std::fmt;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crossbeam_channel::{Receiver, Sender};

use crate::close::{CloseCode, CloseReason};
use crate::message::Message;

/// Life phases, in order; the timer's duty depends on the phase.
pub(crate) const HANDSHAKE: u8 = 0;
pub(crate) const OPEN: u8 = 1;
pub(crate) const CLOSING: u8 = 2;
pub(crate) const DONE: u8 = 3;

/// Why the timer (or the server) cut a connection's socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Cut {
    None = 0,
    HandshakeTimeout = 1,
    PingTimeout = 2,
    CloseTimeout = 3,
    Shutdown = 4,
    WriteFailed = 5,
    /// The read side ended; the write loop must stop.
    Ended = 6,
}

impl Cut {
    fn from_u8(v: u8) -> Cut {
        match v {
            1 => Cut::HandshakeTimeout,
            2 => Cut::PingTimeout,
            3 => Cut::CloseTimeout,
            4 => Cut::Shutdown,
            5 => Cut::WriteFailed,
            6 => Cut::Ended,
            _ => Cut::None,
        }
    }
}

/// What the read loop, the timer and sessions ask the write loop to do, ahead of data.
#[derive(Debug)]
pub(crate) enum Ctrl {
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// A close was requested: flush the queued data, then send it.
    Close,
    /// Stop at once, sending nothing more (the connection is already dead).
    Abort,
    /// From now on also take broadcast messages from this lane.
    Attach(Receiver<Arc<Message>>),
    /// A direct write left bytes in [`Conn::wire`]: write them.
    Flush,
}

/// Both ends of a session's broadcast lane.
pub(crate) type BroadcastLane = (Sender<Arc<Message>>, Receiver<Arc<Message>>);

/// Buffers handed back to the read loop: big enough to be worth it, small enough that an idle
/// connection keeping one costs little.
const RECYCLE_MIN: usize = 1024;
const RECYCLE_MAX: usize = 128 * 1024;

/// Capacity of the control lane. The writer serves it first, so it is rarely more than one
/// deep; when full, a pong blocks the read loop (backpressure on a ping flood) and other
/// commands are seen anyway (the writer is awake and checks `close_pending` and the cut).
pub(crate) const CTRL_CAPACITY: usize = 4;

/// The close frames of the closing handshake, as far as it got.
#[derive(Debug, Default)]
pub(crate) struct CloseState {
    /// A close we want to send (taken by the writer).
    pub(crate) requested: Option<(CloseCode, String)>,
    /// The close frame we sent.
    pub(crate) sent: Option<(CloseCode, String)>,
    /// The close frame the peer sent (code 1005 when it had none).
    pub(crate) received: Option<(CloseCode, String)>,
    /// Whether the peer's close came before any close of ours was requested or sent.
    pub(crate) peer_first: bool,
    /// The final reason, once the connection has ended.
    pub(crate) reason: Option<CloseReason>,
}

/// One connection's shared state.
pub(crate) struct Conn {
    pub(crate) id: u64,
    pub(crate) peer: SocketAddr,
    /// The socket of the read and write loops, which own it: others only shut it down, and
    /// a `Session` kept after the end holds no file descriptor.
    socket: Weak<TcpStream>,
    phase: AtomicU8,
    cut: AtomicU8,
    close_pending: AtomicBool,
    /// Milliseconds (server clock) of: creation, last byte received, close request.
    pub(crate) created_ms: u64,
    last_rx_ms: AtomicU64,
    close_requested_ms: AtomicU64,
    /// Timer-owned ping bookkeeping.
    pub(crate) ping_sent_ms: AtomicU64,
    pub(crate) next_ping_ms: AtomicU64,
    /// Whether the timer sends pings on this connection (raw routes manage their own).
    pub(crate) auto_ping: AtomicBool,
    /// Set while the read loop is inside a handler and so cannot see pongs.
    reader_busy: AtomicBool,
    /// When the write loop's current `write` began (0: not writing).
    write_since_ms: AtomicU64,
    pub(crate) ctrl_tx: Sender<Ctrl>,
    pub(crate) close: Mutex<CloseState>,
    timer_wake: Sender<()>,
    /// The broadcast lane, made when the session first joins a hub.
    broadcast: OnceLock<BroadcastLane>,
    /// The right to write to the socket, and the bytes of a frame a direct write could not
    /// finish. The write loop holds it for each batch and writes these bytes first.
    pub(crate) wire: Mutex<Vec<u8>>,
    /// Data items put in the outgoing queue and not yet written.
    queued: AtomicUsize,
    /// Whether senders may write to the socket themselves (see `direct`).
    direct: AtomicBool,
    /// Sent messages' buffers, back to the read loop for the next message (one at most).
    recycled: Mutex<Option<Vec<u8>>>,
    /// Run once when the connection ends (hubs use it to drop their member).
    end_hooks: Mutex<Vec<Box<dyn FnOnce() + Send>>>,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("id", &self.id)
            .field("peer", &self.peer)
            .field("phase", &self.phase())
            .finish()
    }
}

impl Conn {
    /// A new connection in the handshake phase, and the receiving end of its control lane.
    pub(crate) fn new(
        id: u64,
        peer: SocketAddr,
        socket: &Arc<TcpStream>,
        now_ms: u64,
        timer_wake: Sender<()>,
    ) -> (Conn, Receiver<Ctrl>) {
        let (ctrl_tx, ctrl_rx) = crossbeam_channel::bounded(CTRL_CAPACITY);
        let conn = Conn {
            id,
            peer,
            socket: Arc::downgrade(socket),
            phase: AtomicU8::new(HANDSHAKE),
            cut: AtomicU8::new(Cut::None as u8),
            close_pending: AtomicBool::new(false),
            created_ms: now_ms,
            last_rx_ms: AtomicU64::new(now_ms),
            close_requested_ms: AtomicU64::new(0),
            ping_sent_ms: AtomicU64::new(0),
            next_ping_ms: AtomicU64::new(u64::MAX),
            auto_ping: AtomicBool::new(true),
            reader_busy: AtomicBool::new(false),
            write_since_ms: AtomicU64::new(0),
            ctrl_tx,
            close: Mutex::new(CloseState::default()),
            timer_wake,
            broadcast: OnceLock::new(),
            wire: Mutex::new(Vec::new()),
            queued: AtomicUsize::new(0),
            direct: AtomicBool::new(false),
            recycled: Mutex::new(None),
            end_hooks: Mutex::new(Vec::new()),
        };
        (conn, ctrl_rx)
    }

    pub(crate) fn phase(&self) -> u8 {
        self.phase.load(Ordering::Acquire)
    }

    /// Moves to `phase` (phases only advance) and lets the timer recompute its deadlines.
    pub(crate) fn advance(&self, phase: u8) {
        self.phase.fetch_max(phase, Ordering::AcqRel);
        let _ = self.timer_wake.send(());
    }

    /// Records that bytes arrived (any frame proves the peer alive).
    pub(crate) fn touch(&self, now_ms: u64) {
        self.last_rx_ms.store(now_ms, Ordering::Relaxed);
    }

    /// Marks the read loop as inside (or out of) a handler call.
    pub(crate) fn set_reader_busy(&self, busy: bool) {
        self.reader_busy.store(busy, Ordering::Relaxed);
    }

    /// Marks the write loop as entering (`Some(now)`) or leaving (`None`) a socket write.
    pub(crate) fn set_writing(&self, since_ms: Option<u64>) {
        self.write_since_ms.store(since_ms.unwrap_or(0), Ordering::Relaxed);
    }

    /// Whether a missing pong since `ping_ms` proves nothing: the read loop is busy in a
    /// handler (pongs wait unread in the socket) while the peer is not shown to be stuck (the
    /// write loop is not blocked in a write that began before the ping).
    pub(crate) fn silence_unproven(&self, ping_ms: u64) -> bool {
        let writing = self.write_since_ms.load(Ordering::Relaxed);
        self.reader_busy.load(Ordering::Relaxed) && !(writing != 0 && writing <= ping_ms)
    }

    pub(crate) fn last_rx_ms(&self) -> u64 {
        self.last_rx_ms.load(Ordering::Relaxed)
    }

    pub(crate) fn close_requested_ms(&self) -> u64 {
        self.close_requested_ms.load(Ordering::Relaxed)
    }

    /// Whether a close has been requested (nothing more may be queued after it).
    pub(crate) fn close_pending(&self) -> bool {
        self.close_pending.load(Ordering::Acquire)
    }

    /// Asks the write loop to flush what is queued, then send a close frame. Returns `false`
    /// if a close was already requested (the first request wins).
    pub(crate) fn request_close(&self, code: CloseCode, reason: &str, now_ms: u64) -> bool {
        {
            let mut close = self.close.lock().unwrap_or_else(|e| e.into_inner());
            if close.requested.is_some() || close.sent.is_some() || self.phase() >= DONE {
                return false;
            }
            close.requested = Some((code, truncate_reason(reason).to_owned()));
        }
        self.close_requested_ms.store(now_ms, Ordering::Relaxed);
        self.close_pending.store(true, Ordering::Release);
        // If the lane is full the writer is busy and checks `close_pending` after its batch.
        let _ = self.ctrl_tx.try_send(Ctrl::Close);
        self.advance(CLOSING);
        true
    }

    /// Records that the write loop sent a close frame given by a raw handler: the peer now has
    /// `close_timeout` to answer.
    pub(crate) fn note_close_sent(&self, now_ms: u64) {
        self.close_requested_ms.store(now_ms, Ordering::Relaxed);
        self.close_pending.store(true, Ordering::Release);
        self.advance(CLOSING);
    }

    /// Gives the write loop `close_timeout` to send the close frame a raw handler owes the
    /// peer, without closing the session for sends.
    pub(crate) fn arm_close_timeout(&self, now_ms: u64) {
        self.close_requested_ms.store(now_ms, Ordering::Relaxed);
        self.advance(CLOSING);
    }

    /// The broadcast lane, made (and handed to the write loop) on first use.
    pub(crate) fn broadcast_lane(&self, capacity: usize) -> BroadcastLane {
        self.broadcast
            .get_or_init(|| {
                let (tx, rx) = crossbeam_channel::bounded(capacity);
                let _ = self.ctrl_tx.send(Ctrl::Attach(rx.clone()));
                (tx, rx)
            })
            .clone()
    }

    /// The socket, while the read or write loop still holds it.
    pub(crate) fn stream(&self) -> Option<Arc<TcpStream>> {
        self.socket.upgrade()
    }

    /// Allows (or stops) direct writes from senders' threads.
    pub(crate) fn set_direct_writes(&self, on: bool) {
        self.direct.store(on, Ordering::Release);
    }

    pub(crate) fn direct_writes(&self) -> bool {
        self.direct.load(Ordering::Acquire)
    }

    /// Data items queued and not yet written.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Counts an item about to enter the outgoing queue (before it does, so that a direct
    /// write cannot overtake it).
    pub(crate) fn note_queued(&self) {
        self.queued.fetch_add(1, Ordering::AcqRel);
    }

    /// Queues a ping or pong for the write loop, counted like data so that no later direct
    /// write overtakes it; `wait` blocks while the control lane is full. Returns whether it
    /// was queued.
    pub(crate) fn queue_control(&self, c: Ctrl, wait: bool) -> bool {
        self.note_queued();
        let queued = if wait { self.ctrl_tx.send(c).is_ok() } else { self.ctrl_tx.try_send(c).is_ok() };
        if !queued {
            self.note_unqueued(1);
        }
        queued
    }

    /// Uncounts items that were written (or never entered the queue).
    pub(crate) fn note_unqueued(&self, n: usize) {
        if n > 0 {
            self.queued.fetch_sub(n, Ordering::AcqRel);
        }
    }

    /// Hands a sent message's buffer back to the read loop if it is a useful size, so that an
    /// echo-like exchange allocates nothing and no buffer is freed on another thread. Its bytes
    /// stay: the read loop overwrites them instead of zeroing the buffer again.
    pub(crate) fn recycle(&self, buf: Vec<u8>) {
        if (RECYCLE_MIN..=RECYCLE_MAX).contains(&buf.capacity()) {
            let mut slot = self.recycled.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_none() {
                *slot = Some(buf);
            }
        }
    }

    /// The buffer [`recycle`](Self::recycle) kept, if any.
    pub(crate) fn take_recycled(&self) -> Option<Vec<u8>> {
        self.recycled.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Registers `hook` to run when the connection ends.
    pub(crate) fn on_end(&self, hook: Box<dyn FnOnce() + Send>) {
        self.end_hooks.lock().unwrap_or_else(|e| e.into_inner()).push(hook);
    }

    /// Runs the end hooks (once: they are taken).
    pub(crate) fn run_end_hooks(&self) {
        let hooks = std::mem::take(&mut *self.end_hooks.lock().unwrap_or_else(|e| e.into_inner()));
        for hook in hooks {
            hook();
        }
    }

    /// Cuts the socket (both directions) for `why`, unless it was already cut.
    pub(crate) fn cut(&self, why: Cut) {
        if self.cut.compare_exchange(Cut::None as u8, why as u8, Ordering::AcqRel, Ordering::Acquire).is_ok()
        {
            log::debug!("{}: connection cut: {why:?}", self.peer);
            let how = if why == Cut::HandshakeTimeout { Shutdown::Read } else { Shutdown::Both };
            if let Some(socket) = self.socket.upgrade() {
                let _ = socket.shutdown(how);
            }
            let _ = self.ctrl_tx.try_send(Ctrl::Abort);
        }
    }

    pub(crate) fn cut_reason(&self) -> Cut {
        Cut::from_u8(self.cut.load(Ordering::Acquire))
    }

    /// The final close reason, once set.
    pub(crate) fn reason(&self) -> Option<CloseReason> {
        self.close.lock().unwrap_or_else(|e| e.into_inner()).reason.clone()
    }
}

/// A close reason must fit a control frame: 123 bytes, cut at a character boundary.
pub(crate) fn truncate_reason(reason: &str) -> &str {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_cut_on_char_boundaries() {
        let long = "é".repeat(100); // 200 bytes
        let cut = truncate_reason(&long);
        assert!(cut.len() <= 123);
        assert_eq!(cut.len() % 2, 0);
        assert_eq!(truncate_reason("bye"), "bye");
    }
}

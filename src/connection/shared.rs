//! The state one connection shares between its read loop, its write loop, its sessions, the
//! timer and whoever accepted it.

use std::fmt;
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crossbeam_channel::{Receiver, Sender};

use super::atomic::AtomicU64;
use super::broadcast_lane::BroadcastLane;
use super::clock::Clock;
use super::closing::Closing;
use super::direct::{self, Direct};
use super::outgoing::Outbound;
use super::settings::Settings;
use super::writer_slot::WriterSlot;
use crate::protocol::CloseCode;
use crate::protocol::random::MaskKeys;
use crate::transport::Stream;

/// Whoever watches a connection's deadlines (the timer): asked to look at the connection at
/// `due_ms`, unless it already will sooner.
pub(crate) trait Schedule: Send + Sync {
    fn schedule(&self, conn: &Arc<Conn>, due_ms: u64);
}

/// A connection's life phases, in order; the timer's duty depends on the phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum Phase {
    /// Reading the upgrade request (the handshake timeout runs).
    Handshake = 0,
    /// A WebSocket: pings run.
    Open = 1,
    /// A close was asked for, sent or received (the close timeout runs).
    Closing = 2,
    /// Both loops have ended.
    Done = 3,
}

impl Phase {
    fn from_u8(v: u8) -> Phase {
        match v {
            0 => Phase::Handshake,
            1 => Phase::Open,
            2 => Phase::Closing,
            _ => Phase::Done,
        }
    }
}

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
    /// Look again at what changed: bytes a direct write left in [`Conn::wire`], or a
    /// broadcast lane that was just made.
    Flush,
}

/// What direct writes keep under the connection's wire lock.
#[derive(Debug, Default)]
pub(crate) struct Wire {
    /// The bytes of a frame a direct write could not finish: the write loop writes them
    /// before anything else.
    pub(crate) pending: Vec<u8>,
    /// Masking keys for frames written directly (a client's, or a masking server's).
    pub(crate) keys: MaskKeys,
}

/// Connection ids, for every server and client of the process.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A connection id unique in the process, not only in one server: a `Broadcast` hub may hold
/// sessions of several servers and clients.
pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Work to do once a connection has ended.
pub(crate) type EndHook = Box<dyn FnOnce() + Send>;

/// Buffers handed back to the read loop: any that holds memory (two uncontended locks cost less
/// than a `malloc` and a `free`, even for a 32-byte message), and small enough that an idle
/// connection keeping one costs little.
const RECYCLE_MIN: usize = 1;
const RECYCLE_MAX: usize = 128 * 1024;

/// Capacity of the control lane. The writer serves it first, so it is rarely more than one
/// deep; when full, a pong blocks the read loop (backpressure on a ping flood) and other
/// commands are seen anyway (the writer is awake and checks the close and the cut).
pub(crate) const CTRL_CAPACITY: usize = 4;

/// One connection's shared state.
pub(crate) struct Conn {
    pub(crate) id: u64,
    pub(crate) peer: SocketAddr,
    pub(crate) settings: Arc<Settings>,
    pub(crate) clock: Clock,
    /// The socket of the read and write loops, which own it: others only shut it down, and
    /// a `Session` kept after the end holds no file descriptor.
    socket: Weak<Stream>,
    phase: AtomicU8,
    cut: AtomicU8,
    /// The closing handshake; see [`Closing`].
    pub(crate) closing: Closing,
    /// Milliseconds (server clock) of: creation, last byte received.
    pub(crate) created_ms: u64,
    last_rx_ms: AtomicU64,
    /// Timer-owned ping bookkeeping.
    pub(crate) ping_sent_ms: AtomicU64,
    pub(crate) next_ping_ms: AtomicU64,
    /// The deadline the timer has this connection queued for (`u64::MAX`: none).
    pub(crate) timer_due_ms: AtomicU64,
    /// Whether the timer sends pings on this connection (raw routes manage their own).
    pub(crate) auto_ping: AtomicBool,
    /// Set while the read loop is inside a handler and so cannot see pongs.
    reader_busy: AtomicBool,
    /// When the write loop's current `write` began (0: not writing).
    write_since_ms: AtomicU64,
    pub(crate) ctrl_tx: Sender<Ctrl>,
    timer: Arc<dyn Schedule>,
    /// The broadcast lane, made when the session first joins a hub.
    broadcast: OnceLock<Arc<BroadcastLane>>,
    /// The right to write to the socket; see [`Wire`]. The write loop holds it for each batch.
    pub(crate) wire: Mutex<Wire>,
    /// The write loop's thread, started when something must wait (see `writer_slot`).
    pub(crate) writer: WriterSlot,
    /// The sending end of the outgoing queue, made when the first item must wait: its slots are
    /// allocated up front (3 KiB for 64 messages), which most connections never need.
    queue: OnceLock<Sender<Outbound>>,
    /// Data items put in the outgoing queue and not yet written.
    queued: AtomicUsize,
    /// Whether senders may write to the socket themselves (see `direct`).
    direct: AtomicBool,
    /// Sent messages' buffers, back to the read loop for the next message (one at most).
    recycled: Mutex<Option<Vec<u8>>>,
    /// Whether `recycled` may hold a buffer: the read loop looks here before taking the lock,
    /// which most small messages would take for nothing (they are not recycled).
    has_recycled: AtomicBool,
    /// Run once when the connection ends, at most one per key (hubs use it to drop their
    /// member).
    end_hooks: Mutex<Vec<(u64, EndHook)>>,
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
        socket: &Arc<Stream>,
        settings: Arc<Settings>,
        clock: Clock,
        timer: Arc<dyn Schedule>,
    ) -> (Conn, Receiver<Ctrl>) {
        let (ctrl_tx, ctrl_rx) = crossbeam_channel::bounded(CTRL_CAPACITY);
        let now_ms = clock.now_ms();
        let conn = Conn {
            id,
            peer,
            settings,
            clock,
            socket: Arc::downgrade(socket),
            phase: AtomicU8::new(Phase::Handshake as u8),
            cut: AtomicU8::new(Cut::None as u8),
            closing: Closing::default(),
            created_ms: now_ms,
            last_rx_ms: AtomicU64::new(now_ms),
            ping_sent_ms: AtomicU64::new(0),
            next_ping_ms: AtomicU64::new(u64::MAX),
            timer_due_ms: AtomicU64::new(u64::MAX),
            auto_ping: AtomicBool::new(true),
            reader_busy: AtomicBool::new(false),
            write_since_ms: AtomicU64::new(0),
            ctrl_tx,
            timer,
            broadcast: OnceLock::new(),
            wire: Mutex::new(Wire::default()),
            writer: WriterSlot::default(),
            queue: OnceLock::new(),
            queued: AtomicUsize::new(0),
            direct: AtomicBool::new(false),
            recycled: Mutex::new(None),
            has_recycled: AtomicBool::new(false),
            end_hooks: Mutex::new(Vec::new()),
        };
        (conn, ctrl_rx)
    }

    /// Milliseconds on the connection's clock.
    pub(crate) fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    pub(crate) fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Acquire))
    }

    /// Puts the connection under the timer's watch (its handshake timeout starts).
    pub(crate) fn watch(self: &Arc<Self>) {
        self.timer.schedule(self, self.created_ms);
    }

    /// Moves to `phase` (phases only advance) and lets the timer recompute its deadlines.
    pub(crate) fn advance(self: &Arc<Self>, phase: Phase) {
        self.phase.fetch_max(phase as u8, Ordering::AcqRel);
        self.timer.schedule(self, self.now_ms());
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

    /// Whether a close of ours was asked for or sent (nothing more may be queued after it).
    pub(crate) fn close_pending(&self) -> bool {
        self.closing.pending()
    }

    /// Asks the write loop to flush what is queued, then send a close frame. Returns `false`
    /// if a close was already requested or sent, or the connection has ended.
    pub(crate) fn request_close(self: &Arc<Self>, code: CloseCode, reason: &str) -> bool {
        if self.phase() >= Phase::Done || !self.closing.request(code, reason, self.now_ms()) {
            return false;
        }
        // If the lane is full the writer is busy and checks the close after its batch.
        let _ = self.ctrl_tx.try_send(Ctrl::Close);
        self.writer.wake(self);
        self.advance(Phase::Closing);
        true
    }

    /// Starts (or restarts) the close timeout: the peer has `close_timeout` from now to answer
    /// a raw handler's close frame, or the raw handler has it to answer the peer's.
    pub(crate) fn start_close_timeout(self: &Arc<Self>) {
        self.closing.start_timeout(self.now_ms());
        self.advance(Phase::Closing);
    }

    /// The broadcast lane, made on first use. Never blocks on the write loop: it is nudged
    /// with a non-blocking `Flush`, and when the control lane is full it is awake and busy,
    /// and looks for the lane before it waits again. Making the lane starts the write loop's
    /// thread, which then runs until the end: a hub pushes to many sessions at once, and
    /// publishing must not start a thread per member (see `writer_slot`).
    pub(crate) fn broadcast_lane(self: &Arc<Self>) -> Arc<BroadcastLane> {
        let mut made = false;
        let lane = self
            .broadcast
            .get_or_init(|| {
                made = true;
                Arc::new(BroadcastLane::new(self.settings.queue_capacity))
            })
            .clone();
        // After the lane is in place, so that the woken write loop finds it.
        if made {
            let _ = self.ctrl_tx.try_send(Ctrl::Flush);
            self.writer.wake(self);
        }
        lane
    }

    /// The broadcast lane, if one was made.
    pub(crate) fn broadcast_lane_if_any(&self) -> Option<&Arc<BroadcastLane>> {
        self.broadcast.get()
    }

    /// The socket, while the read or write loop still holds it.
    pub(crate) fn stream(&self) -> Option<Arc<Stream>> {
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

    /// Sends a ping or pong: written at once when nothing waits ahead of it and the socket
    /// takes it (see `direct`), otherwise queued for the write loop, counted like data so
    /// that no later direct write overtakes it; `wait` blocks while the control lane is full.
    /// Returns whether it was sent or queued.
    pub(crate) fn send_control(self: &Arc<Self>, c: Ctrl, wait: bool) -> bool {
        let c = match direct::try_send_control(self, c) {
            Direct::Sent => return true,
            Direct::Closed(_) => return false,
            Direct::Queue(c) => c,
        };
        self.note_queued();
        let queued = if wait { self.ctrl_tx.send(c).is_ok() } else { self.ctrl_tx.try_send(c).is_ok() };
        if !queued {
            self.note_unqueued(1);
            return false;
        }
        self.writer.wake(self);
        true
    }

    /// The outgoing queue, made on first use; its receiving end goes to the write loop.
    pub(crate) fn queue(&self) -> &Sender<Outbound> {
        self.queue.get_or_init(|| {
            let (tx, rx) = crossbeam_channel::bounded(self.settings.queue_capacity);
            self.writer.hand_queue(self, rx);
            tx
        })
    }

    /// The outgoing queue, if it was made.
    pub(crate) fn queue_if_made(&self) -> Option<&Sender<Outbound>> {
        self.queue.get()
    }

    /// Makes sure the write loop serves what was just queued (see `writer_slot`).
    pub(crate) fn wake_writer(self: &Arc<Self>) {
        self.writer.wake(self);
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
                self.has_recycled.store(true, Ordering::Release);
            }
        }
    }

    /// The buffer [`recycle`](Self::recycle) kept, if any.
    pub(crate) fn take_recycled(&self) -> Option<Vec<u8>> {
        if !self.has_recycled.load(Ordering::Acquire) {
            return None;
        }
        let mut slot = self.recycled.lock().unwrap_or_else(|e| e.into_inner());
        self.has_recycled.store(false, Ordering::Relaxed);
        slot.take()
    }

    /// Registers `hook` to run when the connection ends, unless a hook with the same `key` is
    /// already registered (then `hook` is dropped unrun). Returns whether it was added.
    pub(crate) fn on_end(&self, key: u64, hook: EndHook) -> bool {
        let mut hooks = self.end_hooks.lock().unwrap_or_else(|e| e.into_inner());
        if hooks.iter().any(|(k, _)| *k == key) {
            return false;
        }
        hooks.push((key, hook));
        true
    }

    /// How many end hooks wait.
    #[cfg(test)]
    pub(crate) fn end_hooks(&self) -> usize {
        self.end_hooks.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Runs the end hooks (once: they are taken).
    pub(crate) fn run_end_hooks(&self) {
        let hooks = std::mem::take(&mut *self.end_hooks.lock().unwrap_or_else(|e| e.into_inner()));
        for (_, hook) in hooks {
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
                socket.shutdown(how);
            }
            let _ = self.ctrl_tx.try_send(Ctrl::Abort);
            self.writer.abort(self);
        }
    }

    pub(crate) fn cut_reason(&self) -> Cut {
        Cut::from_u8(self.cut.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::RECYCLE_MAX;
    use crate::Config;

    #[test]
    fn sent_buffers_of_every_useful_size_come_back_once() {
        let fx = testing::session(Config::default().settings());
        assert!(fx.conn.take_recycled().is_none(), "nothing recycled yet");
        let small = Vec::with_capacity(32);
        let ptr = small.as_ptr();
        fx.conn.recycle(small);
        let back = fx.conn.take_recycled().expect("a 32-byte buffer is kept");
        assert_eq!((back.as_ptr(), back.capacity()), (ptr, 32));
        assert!(fx.conn.take_recycled().is_none(), "handed out once");
        // One at most: a second buffer is dropped while the slot is full.
        fx.conn.recycle(vec![1; 64]);
        fx.conn.recycle(vec![2; 64]);
        assert_eq!(fx.conn.take_recycled().unwrap()[0], 1);
        // Nothing to keep, or too big for an idle connection to keep.
        fx.conn.recycle(Vec::new());
        fx.conn.recycle(vec![0; RECYCLE_MAX + 1]);
        assert!(fx.conn.take_recycled().is_none());
    }
}

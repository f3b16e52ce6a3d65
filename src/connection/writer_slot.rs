//! The write loop's thread, started on demand.
//!
//! A connection starts with its read loop only: data, pings and pongs are written directly by
//! the thread that has them (see `direct`) as long as the socket takes them at once. The write
//! loop thread is started the first time something must wait: a direct write that did not
//! finish, a queued message, a broadcast, a close, or a frame that needs an extension's encoder.
//! It parks after [`QUIET`] without work, handing its state (lanes, encoders with their
//! compression window, masking keys) back to the slot, and ends for good once its close frame is
//! written or the connection is cut. A session that joins a broadcast hub starts its write loop
//! when it joins and keeps it to the end: a publisher reaches many sessions at once, and must not
//! start (or restart) a thread for each of them.
//!
//! No wake-up is lost: a waker puts its item in a lane, then reads `running`; a parking write
//! loop clears `running`, then looks at its lanes once more. With a `SeqCst` fence between the
//! two steps on both sides, at least one of them sees the other's step (the write loop stays,
//! or the waker starts it again), and the slot's lock orders the rest.

use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crossbeam_channel::Receiver;

use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::outgoing::Outbound;
use super::shared::{Conn, Ctrl, Cut};
use super::write_loop::{self, WRITER_STACK, WRITER_STACK_WITH_EXTENSIONS, WriterState};

/// How long a write loop thread waits without work before it parks.
pub(crate) const QUIET: Duration = Duration::from_secs(2);

/// Where a connection's write loop is: not yet needed, running, parked or ended.
pub(crate) struct WriterSlot {
    /// Whether wakers need do nothing: a write loop thread runs, or none ever will again.
    running: AtomicBool,
    state: Mutex<Slot>,
    /// Whether an outgoing queue waits in the slot for a running write loop to take it.
    queue_waits: AtomicBool,
    /// Signalled when the write loop ends for good.
    ended: Condvar,
    /// Why its thread could not be started, if that is how it ended.
    spawn_failure: Mutex<Option<std::io::Error>>,
}

/// The slot's state, and an outgoing queue made while the write loop ran (or before the
/// connection opened), for it to take.
struct Slot {
    state: State,
    queue: Option<Receiver<Outbound>>,
}

enum State {
    /// The connection is not open yet: no write loop state exists.
    Unset,
    /// No thread runs: the write loop's state, to start it with.
    Parked(Box<WriterState>),
    /// A thread runs the write loop (its handle, once stored).
    Running(Option<JoinHandle<()>>),
    /// The write loop has ended for good; its last thread's handle, to join.
    Ended(Option<JoinHandle<()>>),
}

impl Default for WriterSlot {
    fn default() -> Self {
        WriterSlot {
            running: AtomicBool::new(false),
            state: Mutex::new(Slot { state: State::Unset, queue: None }),
            queue_waits: AtomicBool::new(false),
            ended: Condvar::new(),
            spawn_failure: Mutex::new(None),
        }
    }
}

impl WriterSlot {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands the write loop the receiving end of the outgoing queue, just made: into its state
    /// if parked, into the slot for a running one (nudged to take it), or dropped if the write
    /// loop has ended (sends then fail).
    pub(crate) fn hand_queue(&self, conn: &Conn, queue: Receiver<Outbound>) {
        let mut slot = self.lock();
        match &mut slot.state {
            State::Parked(writer) => writer.take_queue(queue),
            State::Ended(_) => drop(queue),
            State::Unset | State::Running(_) => {
                slot.queue = Some(queue);
                self.queue_waits.store(true, Ordering::Release);
                drop(slot);
                // A running write loop waits on the lanes it has: wake it to take the queue.
                let _ = conn.ctrl_tx.try_send(Ctrl::Flush);
            }
        }
    }

    /// The outgoing queue, if one waits in the slot (cheap when none does).
    pub(crate) fn take_queue(&self) -> Option<Receiver<Outbound>> {
        if !self.queue_waits.load(Ordering::Acquire) {
            return None;
        }
        self.queue_waits.store(false, Ordering::Release);
        self.lock().queue.take()
    }

    /// Hands the write loop its state when the connection opens; no thread starts yet. If the
    /// connection was cut in the meantime, the state is dropped.
    pub(crate) fn install(&self, conn: &Conn, mut writer: WriterState) {
        let mut slot = self.lock();
        match slot.state {
            State::Unset => {
                if let Some(queue) = slot.queue.take() {
                    writer.take_queue(queue);
                }
                slot.state = State::Parked(Box::new(writer));
            }
            _ => {
                drop(slot);
                drop(writer);
                close_broadcast_lane(conn);
            }
        }
    }

    /// Makes sure a write loop thread serves what was just put in a lane. Call it after the
    /// item is in place.
    pub(crate) fn wake(&self, conn: &Arc<Conn>) {
        fence(Ordering::SeqCst);
        if self.running.load(Ordering::SeqCst) {
            return;
        }
        let mut slot = self.lock();
        let State::Parked(_) = slot.state else { return };
        let State::Parked(writer) = std::mem::replace(&mut slot.state, State::Running(None)) else {
            unreachable!("checked above");
        };
        let Some(stream) = conn.stream() else {
            // The connection has ended: nothing will be written.
            slot.state = State::Ended(None);
            slot.queue = None;
            self.running.store(true, Ordering::SeqCst);
            drop(slot);
            drop(writer);
            self.ended.notify_all();
            return;
        };
        self.running.store(true, Ordering::SeqCst);
        let stack = if writer.has_encoders() { WRITER_STACK_WITH_EXTENSIONS } else { WRITER_STACK };
        let writer_conn = conn.clone();
        let spawned = thread::Builder::new()
            .name(format!("syncws-w{}", conn.id))
            .stack_size(stack)
            .spawn(move || write_loop::run(stream, writer_conn, writer));
        match spawned {
            Ok(handle) => slot.state = State::Running(Some(handle)),
            Err(e) => {
                // The state went with the closure that could not run.
                slot.state = State::Ended(None);
                slot.queue = None;
                drop(slot);
                log::warn!("{}: cannot start write loop: {e}", conn.peer);
                *self.spawn_failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                self.ended.notify_all();
                close_broadcast_lane(conn);
                conn.cut(Cut::WriteFailed);
            }
        }
    }

    /// Called by a write loop with nothing to do for [`QUIET`]: parks it (its thread then
    /// returns) unless work arrived meanwhile, in which case the state comes back to go on.
    pub(crate) fn park(&self, conn: &Conn, mut writer: Box<WriterState>) -> Result<(), Box<WriterState>> {
        let mut slot = self.lock();
        if let Some(queue) = slot.queue.take() {
            self.queue_waits.store(false, Ordering::Release);
            writer.take_queue(queue);
        }
        self.running.store(false, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        // A session in a broadcast hub keeps its write loop (see `Conn::broadcast_lane`).
        if writer.has_work(conn) || conn.broadcast_lane_if_any().is_some() {
            self.running.store(true, Ordering::SeqCst);
            return Err(writer);
        }
        // Dropping this thread's own handle detaches it; it returns right after.
        slot.state = State::Parked(writer);
        Ok(())
    }

    /// Called by a write loop that ends for good (its close frame written, the connection cut,
    /// or a failed write).
    pub(crate) fn end(&self, conn: &Conn) {
        let mut slot = self.lock();
        let handle = match std::mem::replace(&mut slot.state, State::Ended(None)) {
            State::Running(handle) => handle,
            _ => None,
        };
        slot.state = State::Ended(handle);
        let queue = slot.queue.take();
        self.running.store(true, Ordering::SeqCst);
        drop(slot);
        drop(queue);
        close_broadcast_lane(conn);
        self.ended.notify_all();
    }

    /// The connection was cut: a parked (or never started) write loop ends here; a running one
    /// sees the cut itself.
    pub(crate) fn abort(&self, conn: &Conn) {
        let mut slot = self.lock();
        if matches!(slot.state, State::Running(_) | State::Ended(_)) {
            return;
        }
        let old = std::mem::replace(&mut slot.state, State::Ended(None));
        let queue = slot.queue.take();
        self.running.store(true, Ordering::SeqCst);
        drop(slot);
        drop((old, queue));
        close_broadcast_lane(conn);
        self.ended.notify_all();
    }

    /// Waits until the write loop has ended for good, and for its thread to exit.
    pub(crate) fn wait_ended(&self) {
        let mut slot = self.lock();
        loop {
            if let State::Ended(handle) = &mut slot.state {
                let handle = handle.take();
                drop(slot);
                if let Some(handle) = handle {
                    let _ = handle.join();
                }
                return;
            }
            slot = self.ended.wait(slot).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Why the write loop's thread could not be started, if that ended the connection.
    pub(crate) fn take_spawn_failure(&self) -> Option<std::io::Error> {
        self.spawn_failure.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Broadcasts can no longer be written: later ones are refused, waiting ones dropped.
fn close_broadcast_lane(conn: &Conn) {
    if let Some(lane) = conn.broadcast_lane_if_any() {
        lane.close();
    }
}

//! The timer: one thread that sends pings and enforces the handshake, ping and close timeouts
//! of every connection it watches.
//!
//! Connections are kept in a queue ordered by their next deadline. The thread sleeps until
//! the earliest one, takes the connections that are due (a short lock, O(log n) each), and
//! does their work with the lock released: a wake-up costs what is due, not what is open, and
//! cutting a socket never holds up a connection that registers or changes phase. A connection
//! whose phase changes asks to be looked at now; an entry whose deadline was moved is skipped
//! when it comes up.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::clock::Clock;
use super::shared::{Conn, Ctrl, Cut, Phase, Schedule};

/// A queued deadline: a connection and when to look at it.
struct Entry {
    due_ms: u64,
    id: u64,
    conn: Weak<Conn>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.due_ms, self.id) == (other.due_ms, other.id)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due_ms, self.id).cmp(&(other.due_ms, other.id))
    }
}

struct Queue {
    entries: BinaryHeap<Reverse<Entry>>,
    /// Entries whose deadline was moved stay until they come up; past this many, they are
    /// swept out (a closed connection's entry would otherwise keep its memory until then).
    sweep_at: usize,
    stopped: bool,
}

/// The smallest sweep threshold.
const SWEEP_MIN: usize = 1024;

impl Default for Queue {
    fn default() -> Self {
        Queue { entries: BinaryHeap::new(), sweep_at: SWEEP_MIN, stopped: false }
    }
}

/// The deadlines of every watched connection; connections hold it to reschedule themselves.
pub(crate) struct TimerQueue {
    clock: Clock,
    queue: Mutex<Queue>,
    changed: Condvar,
}

impl std::fmt::Debug for TimerQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerQueue").field("entries", &self.lock().entries.len()).finish()
    }
}

impl TimerQueue {
    /// A queue with no thread serving it yet.
    fn new() -> Self {
        TimerQueue { clock: Clock::new(), queue: Mutex::new(Queue::default()), changed: Condvar::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The clock deadlines are counted on.
    pub(crate) fn clock(&self) -> Clock {
        self.clock
    }
}

impl Schedule for TimerQueue {
    fn schedule(&self, conn: &Arc<Conn>, due_ms: u64) {
        let mut q = self.lock();
        // Under the lock, so that the timer taking an entry and a connection moving its
        // deadline earlier do not cross.
        if due_ms >= conn.timer_due_ms.load(Ordering::Relaxed) {
            return;
        }
        conn.timer_due_ms.store(due_ms, Ordering::Relaxed);
        let earliest = q.entries.peek().is_none_or(|Reverse(e)| due_ms < e.due_ms);
        q.entries.push(Reverse(Entry { due_ms, id: conn.id, conn: Arc::downgrade(conn) }));
        if q.entries.len() > q.sweep_at {
            // Keep the entries that still count: live connections at their current deadline.
            q.entries.retain(|Reverse(e)| {
                e.conn.upgrade().is_some_and(|c| c.timer_due_ms.load(Ordering::Relaxed) == e.due_ms)
            });
            q.sweep_at = (2 * q.entries.len()).max(SWEEP_MIN);
        }
        drop(q);
        if earliest {
            self.changed.notify_one();
        }
    }
}

impl TimerQueue {
    /// Waits until connections are due; returns them, or `None` once stopped.
    fn wait_due(&self, due: &mut Vec<Arc<Conn>>) -> Option<u64> {
        let mut q = self.lock();
        loop {
            if q.stopped {
                return None;
            }
            let now = self.clock.now_ms();
            while let Some(Reverse(first)) = q.entries.peek() {
                if first.due_ms > now {
                    break;
                }
                let Some(Reverse(entry)) = q.entries.pop() else { break };
                let Some(conn) = entry.conn.upgrade() else { continue };
                // An entry whose deadline was moved earlier is stale; the newer one counts.
                if conn.timer_due_ms.load(Ordering::Relaxed) == entry.due_ms {
                    conn.timer_due_ms.store(u64::MAX, Ordering::Relaxed);
                    due.push(conn);
                }
            }
            if !due.is_empty() {
                return Some(now);
            }
            q = match q.entries.peek() {
                Some(Reverse(first)) => {
                    let wait = Duration::from_millis(first.due_ms - now);
                    self.changed.wait_timeout(q, wait).unwrap_or_else(|e| e.into_inner()).0
                }
                None => self.changed.wait(q).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }
}

/// A running timer thread; stops when dropped.
#[derive(Debug)]
pub(crate) struct Timer {
    queue: Arc<TimerQueue>,
    thread: Option<JoinHandle<()>>,
}

impl Timer {
    /// Starts the timer thread.
    pub(crate) fn start(name: &str) -> std::io::Result<Timer> {
        let queue = Arc::new(TimerQueue::new());
        let q = queue.clone();
        let thread =
            thread::Builder::new().name(name.to_owned()).stack_size(64 * 1024).spawn(move || run(&q))?;
        Ok(Timer { queue, thread: Some(thread) })
    }

    /// The queue connections schedule themselves in.
    pub(crate) fn queue(&self) -> &Arc<TimerQueue> {
        &self.queue
    }

    /// Stops the thread and waits for it.
    pub(crate) fn stop(&mut self) {
        self.queue.lock().stopped = true;
        self.queue.changed.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(queue: &TimerQueue) {
    let mut due = Vec::new();
    while let Some(now) = queue.wait_due(&mut due) {
        for conn in due.drain(..) {
            let next = tick(&conn, now);
            if next != u64::MAX {
                queue.schedule(&conn, next);
            }
        }
    }
}

/// Does what is due on `conn` at `now` and returns its next deadline (`u64::MAX`: none).
fn tick(conn: &Arc<Conn>, now: u64) -> u64 {
    if conn.cut_reason() != Cut::None {
        return u64::MAX;
    }
    let settings = &conn.settings;
    match conn.phase() {
        Phase::Handshake => {
            let deadline = conn.created_ms + ms(settings.handshake_timeout);
            if now >= deadline {
                conn.cut(Cut::HandshakeTimeout);
                return u64::MAX;
            }
            deadline
        }
        Phase::Open => match settings.ping_period {
            Some(period) if conn.auto_ping.load(Ordering::Relaxed) => {
                ping_tick(conn, now, ms(period), ms(settings.timeout))
            }
            _ => u64::MAX,
        },
        Phase::Closing => {
            let deadline = conn.closing.since_ms() + ms(settings.close_timeout);
            if now >= deadline {
                conn.cut(Cut::CloseTimeout);
                return u64::MAX;
            }
            deadline
        }
        Phase::Done => u64::MAX,
    }
}

fn ping_tick(conn: &Arc<Conn>, now: u64, period: u64, timeout: u64) -> u64 {
    let mut sent = conn.ping_sent_ms.load(Ordering::Relaxed);
    let mut deadline = u64::MAX;
    if sent != 0 {
        if conn.last_rx_ms() >= sent {
            sent = 0;
            conn.ping_sent_ms.store(0, Ordering::Relaxed);
        } else if now >= sent + timeout && conn.silence_unproven(sent) {
            // A slow handler, not a dead peer: look again soon.
            deadline = now + timeout.clamp(1, 1000);
        } else if now >= sent + timeout {
            conn.cut(Cut::PingTimeout);
            return u64::MAX;
        } else {
            deadline = sent + timeout;
        }
    }
    let mut next_ping = conn.next_ping_ms.load(Ordering::Relaxed);
    if next_ping == u64::MAX {
        next_ping = now + period;
        conn.next_ping_ms.store(next_ping, Ordering::Relaxed);
    }
    if now >= next_ping {
        // A full control lane means the writer is stuck; the timeout will tell.
        conn.send_control(Ctrl::Ping(Vec::new()), false);
        if sent == 0 {
            conn.ping_sent_ms.store(now, Ordering::Relaxed);
            deadline = now + timeout;
        }
        next_ping = now + period;
        conn.next_ping_ms.store(next_ping, Ordering::Relaxed);
    }
    deadline.min(next_ping)
}

fn ms(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128 / 4) as u64
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::connection::testing;
    use crate::server::Config;

    /// A queue that no thread serves: the tests take what is due themselves.
    pub(crate) fn unserved() -> Arc<TimerQueue> {
        Arc::new(TimerQueue::new())
    }

    fn entries(q: &TimerQueue) -> usize {
        q.lock().entries.len()
    }

    /// What comes due within `limit` (empty if nothing does).
    fn due_within(q: &Arc<TimerQueue>, limit: Duration) -> Vec<Arc<Conn>> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let waiter = q.clone();
        let thread = std::thread::spawn(move || {
            let mut due = Vec::new();
            waiter.wait_due(&mut due);
            let _ = tx.send(due);
        });
        let due = rx.recv_timeout(limit).unwrap_or_default();
        if due.is_empty() {
            q.lock().stopped = true; // ends the waiting thread
            q.changed.notify_all();
        }
        thread.join().unwrap();
        due
    }

    /// A fixture whose first deadline (the one `advance(Open)` asked for) was taken.
    fn fixture() -> testing::Fixture {
        let f = testing::session(Config::default().settings());
        assert_eq!(due_within(&f.timer, Duration::from_secs(1)).len(), 1);
        f
    }

    #[test]
    fn the_earliest_deadline_counts_and_moved_ones_are_skipped() {
        let f = fixture();
        let (q, conn) = (&f.timer, &f.conn);
        let now = q.clock().now_ms();
        q.schedule(conn, now + 60_000);
        q.schedule(conn, now + 90_000); // later: changes nothing
        assert_eq!(conn.timer_due_ms.load(Ordering::Relaxed), now + 60_000);
        q.schedule(conn, now + 20); // earlier: a new entry; the +60 s one is now stale
        assert_eq!(entries(q), 2);
        let due = due_within(q, Duration::from_secs(1));
        assert_eq!(due.len(), 1, "due once, at the earlier deadline");
        assert_eq!(conn.timer_due_ms.load(Ordering::Relaxed), u64::MAX, "taken: nothing queued for it");
        assert_eq!(entries(q), 1, "the stale entry waits, and will be skipped when it comes up");
    }

    #[test]
    fn a_phase_change_is_looked_at_now() {
        let f = fixture();
        let (q, conn) = (&f.timer, &f.conn);
        q.schedule(conn, q.clock().now_ms() + 30_000); // the next ping
        assert!(due_within(q, Duration::from_millis(200)).is_empty(), "nothing due for 30 s");
        q.lock().stopped = false;
        conn.advance(Phase::Closing); // asks to be looked at now
        let due = due_within(q, Duration::from_secs(1));
        assert!(due.len() == 1 && Arc::ptr_eq(&due[0], conn));
    }

    #[test]
    fn moved_deadlines_do_not_pile_up() {
        let f = fixture();
        let (q, conn) = (&f.timer, &f.conn);
        let far = q.clock().now_ms() + 1_000_000;
        for i in 0..10_000 {
            q.schedule(conn, far - i); // each one earlier: each one a new entry
        }
        assert!(entries(q) <= 2 * SWEEP_MIN, "{} entries for one connection", entries(q));
    }
}

//! A running client's handle: its session, sends that respect the disconnected policy, the
//! close, and the wait for its end.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::connection::Session;
use crate::connection::shared::{Conn, Cut};
use crate::error::{Error, SendError};
use crate::protocol::{CloseCode, CloseReason, Message};

/// What a client's thread and its handle share.
#[derive(Debug, Default)]
pub(crate) struct ClientShared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// The open session, if connected.
    session: Option<Session>,
    /// Set by `close`, with its code and reason: the client ends and does not reconnect.
    stopping: Option<(CloseCode, String)>,
    /// The client's thread has ended.
    finished: bool,
    /// Dial attempts made so far.
    attempts: u32,
    /// The connection of the handshake under way, which `close` cuts.
    attempt: Option<Arc<Conn>>,
}

impl ClientShared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A session opened (`Some`) or ended (`None`). A session that opens after `close` was
    /// called is closed at once with its code and reason.
    pub(crate) fn set_session(&self, session: Option<Session>) {
        let mut state = self.lock();
        let stopping = state.stopping.clone();
        state.session = session.clone();
        drop(state);
        self.changed.notify_all();
        if let (Some(session), Some((code, reason))) = (session, stopping) {
            session.close(code, &reason);
        }
    }

    pub(crate) fn set_attempts(&self, attempts: u32) {
        self.lock().attempts = attempts;
    }

    /// A handshake starts on `conn`; `false` if the client is already closing (the attempt
    /// must stop).
    pub(crate) fn begin_attempt(&self, conn: &Arc<Conn>) -> bool {
        let mut state = self.lock();
        if state.stopping.is_some() {
            return false;
        }
        state.attempt = Some(conn.clone());
        true
    }

    /// The handshake under way has ended, one way or the other.
    pub(crate) fn end_attempt(&self) {
        self.lock().attempt = None;
    }

    pub(crate) fn stopping(&self) -> bool {
        self.lock().stopping.is_some()
    }

    pub(crate) fn finish(&self) {
        let mut state = self.lock();
        state.finished = true;
        state.session = None;
        drop(state);
        self.changed.notify_all();
    }

    /// Sleeps for `delay` unless the client is closed first; returns whether it was.
    pub(crate) fn sleep_unless_stopped(&self, delay: Duration) -> bool {
        let deadline = Instant::now().checked_add(delay);
        let mut state = self.lock();
        while state.stopping.is_none() {
            state = match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    self.changed.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0
                }
                None => self.changed.wait(state).unwrap_or_else(|e| e.into_inner()),
            };
        }
        true
    }
}

/// A running client (from [`Client::connect`](crate::Client::connect)). Dropping it closes the
/// client with 1001, like [`close`](Self::close), and waits for its end: keep it for as long
/// as the client should run, or hand the thread to [`wait`](Self::wait).
///
/// ```no_run
/// use std::time::Duration;
/// use syncws::{CloseCode, Handler, Message, Session};
///
/// struct Print;
/// impl Handler for Print {
///     fn on_message(&mut self, _: &Session, message: Message) {
///         println!("{message:?}");
///     }
/// }
///
/// let client = syncws::connect("ws://127.0.0.1:8080/echo", Print)?;
/// client.send("hello").expect("connected");
/// std::thread::sleep(Duration::from_millis(100));
/// client.close(CloseCode::NORMAL, "done");
/// let reason = client.wait()?;
/// assert!(reason.was_clean);
/// # Ok::<(), syncws::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "the client closes as soon as its handle is dropped: keep the handle, or call `wait()`"]
pub struct ClientHandle {
    shared: Arc<ClientShared>,
    thread: Option<JoinHandle<Result<CloseReason, Error>>>,
}

impl ClientHandle {
    pub(crate) fn new(shared: Arc<ClientShared>, thread: JoinHandle<Result<CloseReason, Error>>) -> Self {
        ClientHandle { shared, thread: Some(thread) }
    }

    /// The open session, while connected (a clone: send from any thread with it).
    pub fn session(&self) -> Option<Session> {
        self.shared.lock().session.clone()
    }

    /// Waits until a session is open (or the client has ended, or `timeout` passed) and
    /// returns it.
    pub fn wait_open(&self, timeout: Duration) -> Option<Session> {
        // `Duration::MAX` waits for ever.
        let deadline = Instant::now().checked_add(timeout);
        let mut state = self.shared.lock();
        loop {
            if let Some(s) = state.session.as_ref().filter(|s| s.is_open()) {
                return Some(s.clone());
            }
            if state.finished {
                return None;
            }
            state = match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    self.shared.changed.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0
                }
                None => self.shared.changed.wait(state).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }

    /// Whether a session is open now.
    pub fn is_connected(&self) -> bool {
        self.shared.lock().session.as_ref().is_some_and(Session::is_open)
    }

    /// Dial attempts made so far (failed ones included).
    pub fn attempts(&self) -> u32 {
        self.shared.lock().attempts
    }

    /// Sends on the open session ([`Session::send`]: blocks while its queue is full).
    ///
    /// # Errors
    /// While disconnected (between reconnect attempts, or after the end) the message is
    /// refused and handed back in the [`SendError`]: nothing is buffered, nothing is lost
    /// silently. Resend it once [`wait_open`](Self::wait_open) returns a session.
    pub fn send(&self, message: impl Into<Message>) -> Result<(), SendError> {
        let message = message.into();
        match self.session() {
            Some(session) => session.send(message),
            None => Err(SendError(message)),
        }
    }

    /// Ends the client: closes the open session with `code` and `reason` after what is
    /// queued, and stops reconnecting. A handshake under way is cut at once (its attempt ends
    /// with [`Error::Closed`]); a TCP connect or name lookup under way finishes first (within
    /// `connect_timeout`, and the system resolver's own timeouts). Returns at once;
    /// [`wait`](Self::wait) for the end.
    pub fn close(&self, code: CloseCode, reason: &str) {
        let mut state = self.shared.lock();
        if state.stopping.is_none() {
            state.stopping = Some((code, reason.to_owned()));
        }
        let session = state.session.clone();
        let attempt = state.attempt.take();
        drop(state);
        self.shared.changed.notify_all();
        if let Some(conn) = attempt {
            conn.cut(Cut::Shutdown);
        }
        if let Some(session) = session {
            session.close(code, reason);
        }
    }

    /// Whether the client has ended (closed, failed, or given up reconnecting).
    pub fn is_finished(&self) -> bool {
        self.shared.lock().finished
    }

    /// Waits for the client to end. Returns how its last session closed, or the error that
    /// ended it: the last attempt's ([`Error::Connect`] or [`Error::Handshake`]: no
    /// reconnect, or `max_attempts` reached; [`Error::Closed`] if `close` cut it), or the last
    /// session's failure (a protocol error from the server, a ping or close timeout, a
    /// handler that panicked, ...).
    ///
    /// # Errors
    /// As above; [`Error::HandlerPanicked`] also if the client's thread itself panicked.
    pub fn wait(mut self) -> Result<CloseReason, Error> {
        self.join()
    }

    fn join(&mut self) -> Result<CloseReason, Error> {
        match self.thread.take() {
            Some(t) => t.join().unwrap_or(Err(Error::HandlerPanicked)),
            None => Err(Error::Closed),
        }
    }
}

impl Drop for ClientHandle {
    fn drop(&mut self) {
        let Some(thread) = &self.thread else { return };
        self.close(CloseCode::GOING_AWAY, "client dropped");
        // Dropped by its own handler (on the client's thread): it ends by itself.
        if thread.thread().id() != std::thread::current().id() {
            let _ = self.join();
        }
    }
}

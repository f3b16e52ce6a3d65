//! Handler dispatch: where a session's messages go (a handler, a raw handler, or a channel
//! function's thread), with every call into user code guarded against panics.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, select};

use super::handler::{Handler, RawHandler};
use super::read_loop::Deliver;
use super::session::Session;
use super::shared::Conn;
use crate::error::Error;
use crate::protocol::{CloseCode, CloseReason, Frame, Message};

/// A function that serves a session in the channel style, on a thread of its own.
pub(crate) type ChannelFn = dyn Fn(Session) + Send + Sync;

/// Who serves one connection's messages: made by the route (or client) for each connection.
pub(crate) enum Target {
    /// A handler, called on the connection's thread.
    Handler(Box<dyn Handler>),
    /// A raw handler that sees every frame.
    Raw(Box<dyn RawHandler>),
    /// A function reading `session.incoming()` on a thread of its own.
    Channel(Arc<ChannelFn>),
}

impl Target {
    /// Whether frames go to the handler unassembled.
    pub(crate) fn is_raw(&self) -> bool {
        matches!(self, Target::Raw(_))
    }

    /// Whether messages go to `incoming()`.
    pub(crate) fn is_channel(&self) -> bool {
        matches!(self, Target::Channel(_))
    }
}

/// Where a route's messages (or frames) go: its handler, its raw handler, or the channel
/// function's `incoming`.
pub(crate) enum Sink {
    Handler {
        handler: Box<dyn Handler>,
        failed: Option<Error>,
    },
    Raw {
        handler: Box<dyn RawHandler>,
        failed: Option<Error>,
    },
    Channel {
        f: Arc<ChannelFn>,
        tx: Option<Sender<Message>>,
        done: Receiver<()>,
        thread: Option<JoinHandle<()>>,
    },
}

impl Sink {
    /// The sink of a new session (a channel function starts its thread here).
    pub(crate) fn new(
        target: Target,
        conn: &Arc<Conn>,
        session: &Session,
        incoming: Sender<Message>,
    ) -> Sink {
        match target {
            Target::Handler(handler) => Sink::Handler { handler, failed: None },
            Target::Raw(handler) => Sink::Raw { handler, failed: None },
            Target::Channel(f) => Sink::channel(conn, session, f, incoming),
        }
    }

    fn channel(conn: &Arc<Conn>, session: &Session, f: Arc<ChannelFn>, tx: Sender<Message>) -> Sink {
        let (done_tx, done) = crossbeam_channel::bounded::<()>(0);
        let s = session.clone();
        let c = conn.clone();
        let function = f.clone();
        let thread = thread::Builder::new()
            .name(format!("syncws-c{}", conn.id))
            .stack_size(conn.settings.handler_stack_size)
            .spawn(move || {
                let _done = done_tx;
                match catch_unwind(AssertUnwindSafe(|| f(s.clone()))) {
                    Ok(()) => {
                        s.close(CloseCode::NORMAL, "");
                    }
                    Err(_) => {
                        log::error!("{}: channel handler panicked; closing with 1011", c.peer);
                        c.request_close(CloseCode::INTERNAL_ERROR, "handler panicked");
                    }
                }
            });
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                log::warn!("{}: cannot start channel handler: {e}", conn.peer);
                conn.request_close(CloseCode::TRY_AGAIN_LATER, "server busy");
                None
            }
        };
        Sink::Channel { f: function, tx: Some(tx), done, thread }
    }

    /// The handler (or function) back, once the session has ended: a client that reconnects
    /// serves its next connection with it.
    pub(crate) fn into_target(self) -> Target {
        match self {
            Sink::Handler { handler, .. } => Target::Handler(handler),
            Sink::Raw { handler, .. } => Target::Raw(handler),
            Sink::Channel { f, .. } => Target::Channel(f),
        }
    }

    pub(crate) fn open(&mut self, session: &Session, conn: &Arc<Conn>) {
        match self {
            Sink::Handler { handler, failed } => guarded(handler, failed, conn, |h| h.on_open(session)),
            Sink::Raw { handler, failed } => guarded(handler, failed, conn, |h| h.on_open(session)),
            Sink::Channel { .. } => {}
        }
    }

    pub(crate) fn deliverer<'s>(&'s mut self, session: &'s Session, conn: &'s Arc<Conn>) -> Deliverer<'s> {
        Deliverer { sink: self, session, conn }
    }

    pub(crate) fn take_failure(&mut self) -> Option<Error> {
        match self {
            Sink::Handler { failed, .. } | Sink::Raw { failed, .. } => failed.take(),
            Sink::Channel { .. } => None,
        }
    }

    /// Runs `on_error` and `on_close` (handler routes) or ends `incoming` and waits for the
    /// channel function (channel routes).
    pub(crate) fn close(&mut self, session: &Session, reason: &CloseReason, failure: Option<&Error>) {
        let hook = match self {
            Sink::Handler { handler, .. } => catch_unwind(AssertUnwindSafe(|| {
                if let Some(e) = failure {
                    handler.on_error(session, e);
                }
                handler.on_close(session, reason);
            })),
            Sink::Raw { handler, .. } => catch_unwind(AssertUnwindSafe(|| {
                if let Some(e) = failure {
                    handler.on_error(session, e);
                }
                handler.on_close(session, reason);
            })),
            Sink::Channel { tx, thread, .. } => {
                tx.take();
                if let Some(t) = thread.take() {
                    let _ = t.join();
                }
                Ok(())
            }
        };
        if hook.is_err() {
            log::error!("{}: handler panicked in on_close/on_error", session.remote_addr());
        }
    }
}

/// Calls a handler method; a panic poisons the handler and closes the connection with 1011.
fn guarded<H: ?Sized>(
    handler: &mut Box<H>,
    failed: &mut Option<Error>,
    conn: &Arc<Conn>,
    call: impl FnOnce(&mut H),
) {
    if failed.is_some() {
        return;
    }
    if catch_unwind(AssertUnwindSafe(|| call(handler.as_mut()))).is_err() {
        log::error!("{}: handler panicked; closing with 1011", conn.peer);
        *failed = Some(Error::HandlerPanicked);
        conn.request_close(CloseCode::INTERNAL_ERROR, "handler panicked");
    }
}

/// The read loop's view of a sink.
pub(crate) struct Deliverer<'s> {
    sink: &'s mut Sink,
    session: &'s Session,
    conn: &'s Arc<Conn>,
}

impl Deliver for Deliverer<'_> {
    fn deliver(&mut self, message: Message) {
        self.conn.set_reader_busy(true);
        self.deliver_now(message);
        self.conn.set_reader_busy(false);
    }

    fn deliver_frame(&mut self, frame: Frame) {
        if let Sink::Raw { handler, failed } = self.sink {
            let session = self.session;
            self.conn.set_reader_busy(true);
            guarded(handler, failed, self.conn, |h| h.on_frame(session, frame));
            self.conn.set_reader_busy(false);
        }
    }
}

impl Deliverer<'_> {
    fn deliver_now(&mut self, message: Message) {
        match self.sink {
            Sink::Handler { handler, failed } => {
                let session = self.session;
                guarded(handler, failed, self.conn, |h| h.on_message(session, message));
            }
            Sink::Channel { tx: Some(tx), done, .. } => {
                // Blocks while `incoming` is full (backpressure), unless the function is done.
                select! {
                    send(tx, message) -> _ => {}
                    recv(done) -> _ => {}
                }
            }
            Sink::Channel { tx: None, .. } | Sink::Raw { .. } => {}
        }
    }
}

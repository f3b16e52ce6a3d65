//! Where a session's messages go: a handler, a raw handler, or a channel function's thread.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, select};

use crate::close::{CloseCode, CloseReason};
use crate::conn::Conn;
use crate::error::Error;
use crate::frame::Frame;
use crate::handler::{Handler, RawHandler};
use crate::message::Message;
use crate::reader::Deliver;
use crate::route::RouteKind;
use crate::server::ServerState;
use crate::session::Session;

/// Where a route's messages (or frames) go: its handler, its raw handler, or the channel
/// function's `incoming`.
pub(crate) enum Sink {
    Handler { handler: Box<dyn Handler>, failed: Option<Error> },
    Raw { handler: Box<dyn RawHandler>, failed: Option<Error> },
    Channel { tx: Option<Sender<Message>>, done: Receiver<()>, thread: Option<JoinHandle<()>> },
}

impl Sink {
    /// The sink of `route` for a new session (a channel route starts its thread here).
    pub(crate) fn for_route(
        kind: &RouteKind,
        state: &ServerState,
        conn: &Arc<Conn>,
        session: &Session,
        incoming: Sender<Message>,
    ) -> Sink {
        match kind {
            RouteKind::Handler(factory) => Sink::Handler { handler: factory(), failed: None },
            RouteKind::Raw(factory) => Sink::Raw { handler: factory(), failed: None },
            RouteKind::Channel(f) => Sink::channel(state, conn, session, f.clone(), incoming),
        }
    }

    fn channel(
        state: &ServerState,
        conn: &Arc<Conn>,
        session: &Session,
        f: Arc<dyn Fn(Session) + Send + Sync>,
        tx: Sender<Message>,
    ) -> Sink {
        let (done_tx, done) = crossbeam_channel::bounded::<()>(0);
        let s = session.clone();
        let c = conn.clone();
        let clock = state.clock;
        let thread = thread::Builder::new()
            .name(format!("syncws-c{}", conn.id))
            .stack_size(state.config.stack_size)
            .spawn(move || {
                let _done = done_tx;
                match catch_unwind(AssertUnwindSafe(|| f(s.clone()))) {
                    Ok(()) => {
                        s.close(CloseCode::NORMAL, "");
                    }
                    Err(_) => {
                        log::error!("{}: channel handler panicked; closing with 1011", c.peer);
                        c.request_close(CloseCode::INTERNAL_ERROR, "handler panicked", clock.now_ms());
                    }
                }
            });
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                log::warn!("{}: cannot start channel handler: {e}", conn.peer);
                conn.request_close(CloseCode::TRY_AGAIN_LATER, "server busy", state.clock.now_ms());
                None
            }
        };
        Sink::Channel { tx: Some(tx), done, thread }
    }

    pub(crate) fn open(&mut self, session: &Session, conn: &Conn, state: &ServerState) {
        match self {
            Sink::Handler { handler, failed } => {
                guarded(handler, failed, conn, state, |h| h.on_open(session))
            }
            Sink::Raw { handler, failed } => guarded(handler, failed, conn, state, |h| h.on_open(session)),
            Sink::Channel { .. } => {}
        }
    }

    pub(crate) fn deliverer<'s>(
        &'s mut self,
        session: &'s Session,
        conn: &'s Conn,
        state: &'s ServerState,
    ) -> Deliverer<'s> {
        Deliverer { sink: self, session, conn, state }
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
    conn: &Conn,
    state: &ServerState,
    call: impl FnOnce(&mut H),
) {
    if failed.is_some() {
        return;
    }
    if catch_unwind(AssertUnwindSafe(|| call(handler.as_mut()))).is_err() {
        log::error!("{}: handler panicked; closing with 1011", conn.peer);
        *failed = Some(Error::HandlerPanicked);
        conn.request_close(CloseCode::INTERNAL_ERROR, "handler panicked", state.clock.now_ms());
    }
}

/// The read loop's view of a sink.
pub(crate) struct Deliverer<'s> {
    sink: &'s mut Sink,
    session: &'s Session,
    conn: &'s Conn,
    state: &'s ServerState,
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
            guarded(handler, failed, self.conn, self.state, |h| h.on_frame(session, frame));
            self.conn.set_reader_busy(false);
        }
    }
}

impl Deliverer<'_> {
    fn deliver_now(&mut self, message: Message) {
        match self.sink {
            Sink::Handler { handler, failed } => {
                let session = self.session;
                guarded(handler, failed, self.conn, self.state, |h| h.on_message(session, message));
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

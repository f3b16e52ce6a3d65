//! One connection's thread: handshake, then the read loop, then the end of the session.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, select};

use crate::close::{CloseCode, CloseReason};
use crate::conn::{Conn, Ctrl, Cut, DONE, OPEN};
use crate::error::Error;
use crate::frame_read::FrameReader;
use crate::handler::Handler;
use crate::handshake::{self, ReadFailure, Rejection, Upgrade};
use crate::inbuf::InBuf;
use crate::message::Message;
use crate::reader::{Deliver, Ending, ReadLoop};
use crate::route::RouteKind;
use crate::server::ServerState;
use crate::session::Session;
use crate::writer::{self, WRITER_STACK, WRITER_STACK_WITH_EXTENSIONS};

/// Serves one accepted connection to its end. Runs on the connection's own thread.
pub(crate) fn serve(state: &Arc<ServerState>, mut stream: TcpStream, peer: SocketAddr) {
    let socket = match stream.try_clone() {
        Ok(s) => s,
        Err(e) => return log::warn!("{peer}: cannot clone socket: {e}"),
    };
    let (conn, ctrl_rx) =
        Conn::new(state.next_id(), peer, socket, state.clock.now_ms(), state.timer_wake.clone());
    let conn = Arc::new(conn);
    let _registered = state.register(&conn);
    if state.config.nodelay {
        let _ = stream.set_nodelay(true);
    }
    let mut buf = InBuf::new(state.config.read_buffer_size);
    let Some(upgrade) = handshake(state, &conn, &mut stream, &mut buf) else {
        return;
    };
    if let Err(e) = stream.write_all(&upgrade.response) {
        return log::debug!("{peer}: could not send 101: {e}");
    }
    log::debug!("{peer}: WebSocket open on {} (session {})", upgrade.request.path(), conn.id);
    open(state, &conn, stream, buf, ctrl_rx, upgrade);
}

/// Reads and checks the upgrade request; answers errors itself.
fn handshake(state: &ServerState, conn: &Conn, stream: &mut TcpStream, buf: &mut InBuf) -> Option<Upgrade> {
    let rejection = match handshake::read_request(stream, buf, state.config.max_request_size) {
        Ok(req) => match handshake::negotiate(req, conn.peer, &state.router, &state.config) {
            Ok(upgrade) => return Some(upgrade),
            Err(r) => r,
        },
        Err(ReadFailure::Reject(r)) => r,
        Err(ReadFailure::Io(e)) => {
            if conn.cut_reason() != Cut::HandshakeTimeout {
                log::debug!("{}: connection ended during handshake: {e}", conn.peer);
                return None;
            }
            Rejection::new(408, "handshake not completed in time")
        }
    };
    refuse(stream, &rejection, conn.peer);
    None
}

/// Sends an HTTP error, half-closes, and reads what the client still sends (briefly) so that
/// closing does not reset the connection before the client has read the answer.
pub(crate) fn refuse(stream: &mut TcpStream, rejection: &Rejection, peer: SocketAddr) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    handshake::reject(stream, rejection, peer);
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut scratch = [0u8; 512];
    for _ in 0..64 {
        match std::io::Read::read(stream, &mut scratch) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}

/// The open session: write loop thread, handler, read loop, and the end.
fn open(
    state: &Arc<ServerState>,
    conn: &Arc<Conn>,
    mut stream: TcpStream,
    buf: InBuf,
    ctrl_rx: Receiver<Ctrl>,
    mut upgrade: Upgrade,
) {
    let config = &state.config;
    let (out_tx, out_rx) = crossbeam_channel::bounded(config.queue_capacity);
    let channel_route = matches!(upgrade.route.kind, RouteKind::Channel(_));
    let (in_tx, in_rx) = crossbeam_channel::bounded(if channel_route { config.queue_capacity } else { 0 });
    let session = Session::new(
        conn.clone(),
        state.clock,
        upgrade.request,
        upgrade.protocol,
        std::mem::take(&mut upgrade.extensions.header),
        out_tx,
        in_rx,
    );
    let encoders = std::mem::take(&mut upgrade.extensions.encoders);

    let write_half = match stream.try_clone() {
        Ok(s) => s,
        Err(e) => return log::warn!("{}: cannot clone socket: {e}", conn.peer),
    };
    let writer_conn = conn.clone();
    let masking = config.masking;
    let clock = state.clock;
    let writer = thread::Builder::new()
        .name(format!("syncws-w{}", conn.id))
        .stack_size(if encoders.is_empty() { WRITER_STACK } else { WRITER_STACK_WITH_EXTENSIONS })
        .spawn(move || writer::run(write_half, writer_conn, clock, ctrl_rx, out_rx, masking, encoders));
    let writer = match writer {
        Ok(w) => w,
        Err(e) => return log::warn!("{}: cannot start write loop: {e}", conn.peer),
    };
    conn.advance(OPEN);
    if state.is_shutting_down() {
        conn.request_close(CloseCode::GOING_AWAY, "server shutting down", state.clock.now_ms());
    }

    let mut sink = match &upgrade.route.kind {
        RouteKind::Handler(factory) => Sink::Handler { handler: factory(), failed: None },
        RouteKind::Channel(f) => Sink::channel(state, conn, &session, f.clone(), in_tx),
    };
    sink.open(&session, conn, state);

    let mut reader = ReadLoop::new(
        &mut stream,
        FrameReader::new(buf),
        conn,
        state.clock,
        config,
        upgrade.extensions.rsv,
        upgrade.extensions.decoders,
    );
    let ending = reader.run(&mut sink.deliverer(&session, conn, state));
    let mut failure = sink.take_failure();
    let now = state.clock.now_ms();
    let mut peer_started = false;
    match ending {
        Ending::PeerClose(code, reason) => {
            log::debug!("{}: peer closed with {code} {reason:?}", conn.peer);
            conn.close.lock().unwrap_or_else(|e| e.into_inner()).received = Some((code, reason.clone()));
            peer_started = conn.request_close(code, &reason, now);
        }
        Ending::Failed(e) => {
            log::info!("{}: closing with {}: {e}", conn.peer, e.close_code());
            conn.request_close(e.close_code(), &e.to_string(), now);
            failure.get_or_insert(e);
            reader.drain();
        }
        Ending::Dropped(io) => {
            match conn.cut_reason() {
                Cut::PingTimeout => {
                    log::info!("{}: no answer to ping, connection dropped", conn.peer);
                    failure.get_or_insert(Error::PingTimeout);
                }
                Cut::None if !conn.close_pending() => {
                    if let Some(e) = io.filter(|e| !is_reset(e)) {
                        failure.get_or_insert(Error::Io(e));
                    }
                }
                _ => {}
            }
            conn.cut(Cut::Ended);
        }
    }
    drop(reader);
    let _ = writer.join();
    let _ = stream.shutdown(Shutdown::Both);
    conn.advance(DONE);

    let reason = final_reason(conn, failure.as_ref(), peer_started);
    conn.close.lock().unwrap_or_else(|e| e.into_inner()).reason = Some(reason.clone());
    log::debug!("{}: session {} closed: {reason}", conn.peer, conn.id);
    sink.close(&session, &reason, failure.as_ref());
}

/// A reset after close is a normal end, not an error worth reporting.
fn is_reset(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof)
}

/// The close reason reported to the handler and by `Session::close_reason`.
fn final_reason(conn: &Conn, failure: Option<&Error>, by_peer: bool) -> CloseReason {
    let close = conn.close.lock().unwrap_or_else(|e| e.into_inner());
    let clean = close.sent.is_some() && close.received.is_some();
    if let Some(e) = failure {
        let mut r = CloseReason::new(e.close_code(), e.to_string(), false);
        r.was_clean = clean;
        return r;
    }
    let (code, text) = match (&close.received, &close.sent) {
        (Some(r), _) => r.clone(),
        (None, Some(s)) => s.clone(),
        (None, None) => (CloseCode::ABNORMAL, "connection dropped".to_owned()),
    };
    let mut r = CloseReason::new(code, text, by_peer);
    r.was_clean = clean;
    r
}

/// Where a route's messages go: its handler, or the channel function's `incoming`.
enum Sink {
    Handler { handler: Box<dyn Handler>, failed: Option<Error> },
    Channel { tx: Option<Sender<Message>>, done: Receiver<()>, thread: Option<JoinHandle<()>> },
}

impl Sink {
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

    fn open(&mut self, session: &Session, conn: &Conn, state: &ServerState) {
        if let Sink::Handler { handler, failed } = self {
            guarded(handler, failed, conn, state, |h| h.on_open(session));
        }
    }

    fn deliverer<'s>(
        &'s mut self,
        session: &'s Session,
        conn: &'s Conn,
        state: &'s ServerState,
    ) -> Deliverer<'s> {
        Deliverer { sink: self, session, conn, state }
    }

    fn take_failure(&mut self) -> Option<Error> {
        match self {
            Sink::Handler { failed, .. } => failed.take(),
            Sink::Channel { .. } => None,
        }
    }

    /// Runs `on_error` and `on_close` (handler routes) or ends `incoming` and waits for the
    /// channel function (channel routes).
    fn close(&mut self, session: &Session, reason: &CloseReason, failure: Option<&Error>) {
        match self {
            Sink::Handler { handler, .. } => {
                let hook = AssertUnwindSafe(|| {
                    if let Some(e) = failure {
                        handler.on_error(session, e);
                    }
                    handler.on_close(session, reason);
                });
                if catch_unwind(hook).is_err() {
                    log::error!("{}: handler panicked in on_close/on_error", session.remote_addr());
                }
            }
            Sink::Channel { tx, thread, .. } => {
                tx.take();
                if let Some(t) = thread.take() {
                    let _ = t.join();
                }
            }
        }
    }
}

/// Calls a handler method; a panic poisons the handler and closes the connection with 1011.
fn guarded(
    handler: &mut Box<dyn Handler>,
    failed: &mut Option<Error>,
    conn: &Conn,
    state: &ServerState,
    call: impl FnOnce(&mut dyn Handler),
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
struct Deliverer<'s> {
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
            Sink::Channel { tx: None, .. } => {}
        }
    }
}

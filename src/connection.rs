//! One connection's thread: handshake, then the read loop, then the end of the session.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use crossbeam_channel::Receiver;

use crate::close::{CloseCode, CloseReason};
use crate::conn::{Conn, Ctrl, Cut, DONE, OPEN};
use crate::error::Error;
use crate::frame_read::FrameReader;
use crate::handshake::{self, Outcome, ReadFailure, Rejection, Upgrade};
use crate::inbuf::InBuf;
use crate::reader::{Ending, Framing, ReadLoop};
use crate::route::RouteKind;
use crate::server::ServerState;
use crate::session::{Session, SessionInfo};
use crate::sink::Sink;
use crate::writer::{self, Lanes, WRITER_STACK, WRITER_STACK_WITH_EXTENSIONS};

/// Serves one accepted connection to its end. Runs on the connection's own thread.
pub(crate) fn serve(state: &Arc<ServerState>, stream: TcpStream, peer: SocketAddr) {
    // One file descriptor per connection: the read loop, the write loop and the timer share
    // it (`&TcpStream` reads and writes).
    let stream = Arc::new(stream);
    let (conn, ctrl_rx) =
        Conn::new(state.next_id(), peer, &stream, state.clock.now_ms(), state.timer_wake.clone());
    let conn = Arc::new(conn);
    let _registered = state.register(&conn);
    if state.config.nodelay {
        let _ = stream.set_nodelay(true);
    }
    let mut buf = InBuf::new(state.config.read_buffer_size);
    let Some(upgrade) = handshake(state, &conn, &stream, &mut buf) else {
        return;
    };
    if let Err(e) = (&*stream).write_all(&upgrade.response) {
        return log::debug!("{peer}: could not send 101: {e}");
    }
    log::debug!("{peer}: WebSocket open on {} (session {})", upgrade.request.path(), conn.id);
    open(state, &conn, stream, buf, ctrl_rx, upgrade);
}

/// Reads and checks the upgrade request; answers errors itself.
fn handshake(state: &ServerState, conn: &Conn, stream: &TcpStream, buf: &mut InBuf) -> Option<Upgrade> {
    let rejection = match handshake::read_request(&mut &*stream, buf, state.config.max_request_size) {
        Ok(req) => match handshake::negotiate(req, conn.peer, &state.router, &state.config) {
            Ok(Outcome::Upgrade(upgrade)) => return Some(upgrade),
            Ok(Outcome::Http(response)) => {
                log::debug!("{}: HTTP {}", conn.peer, response.status());
                answer_and_close(stream, &response.to_bytes(), conn.peer);
                return None;
            }
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

/// Sends an HTTP error and closes the connection (see [`answer_and_close`]).
pub(crate) fn refuse(stream: &TcpStream, rejection: &Rejection, peer: SocketAddr) {
    log::info!("{peer}: HTTP {} ({})", rejection.status, rejection.why);
    answer_and_close(stream, &rejection.to_bytes(), peer);
}

/// Writes an HTTP response, half-closes, and reads what the client still sends (briefly) so
/// that closing does not reset the connection before the client has read the answer.
fn answer_and_close(mut stream: &TcpStream, response: &[u8], peer: SocketAddr) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    if let Err(e) = stream.write_all(response) {
        log::debug!("{peer}: could not write the HTTP answer: {e}");
    }
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut scratch = [0u8; 512];
    for _ in 0..64 {
        match std::io::Read::read(&mut stream, &mut scratch) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}

/// The open session: write loop thread, handler, read loop, and the end.
fn open(
    state: &Arc<ServerState>,
    conn: &Arc<Conn>,
    stream: Arc<TcpStream>,
    buf: InBuf,
    ctrl_rx: Receiver<Ctrl>,
    mut upgrade: Upgrade,
) {
    let config = &state.config;
    let (out_tx, out_rx) = crossbeam_channel::bounded(config.queue_capacity);
    let channel_route = matches!(upgrade.route.kind, RouteKind::Channel(_));
    let raw = matches!(upgrade.route.kind, RouteKind::Raw(_));
    let (in_tx, in_rx) = crossbeam_channel::bounded(if channel_route { config.queue_capacity } else { 0 });
    let info = SessionInfo {
        request: upgrade.request,
        protocol: upgrade.protocol,
        extensions: std::mem::take(&mut upgrade.extensions.header),
        raw,
        #[cfg(feature = "serde")]
        converter: config.converter.clone(),
    };
    let session = Session::new(conn.clone(), state.clock, info, out_tx, in_rx);
    // A raw handler answers pings itself, and sends its own.
    conn.auto_ping.store(!raw, Ordering::Relaxed);
    let encoders = std::mem::take(&mut upgrade.extensions.encoders);

    let write_half = stream.clone();
    let lanes = Lanes { ctrl: ctrl_rx, data: out_rx };
    // Extension encoders and masking run on the write loop only.
    conn.set_direct_writes(config.direct_writes && encoders.is_empty() && !config.masking);
    let writer_conn = conn.clone();
    let masking = config.masking;
    let clock = state.clock;
    let writer = thread::Builder::new()
        .name(format!("syncws-w{}", conn.id))
        .stack_size(if encoders.is_empty() { WRITER_STACK } else { WRITER_STACK_WITH_EXTENSIONS })
        .spawn(move || writer::run(write_half, writer_conn, clock, lanes, masking, encoders));
    let writer = match writer {
        Ok(w) => w,
        Err(e) => return log::warn!("{}: cannot start write loop: {e}", conn.peer),
    };
    conn.advance(OPEN);
    if state.is_shutting_down() {
        conn.request_close(CloseCode::GOING_AWAY, "server shutting down", state.clock.now_ms());
    }

    let mut sink = Sink::for_route(&upgrade.route.kind, state, conn, &session, in_tx);
    sink.open(&session, conn, state);

    let mut reader = ReadLoop::new(
        &stream,
        FrameReader::new(buf),
        conn,
        state.clock,
        config,
        Framing { rsv_allowed: upgrade.extensions.rsv, decoders: upgrade.extensions.decoders, raw },
    );
    let ending = reader.run(&mut sink.deliverer(&session, conn, state));
    let mut failure = sink.take_failure();
    let now = state.clock.now_ms();
    let mut peer_started = false;
    match ending {
        Ending::PeerClose(code, reason) => {
            log::debug!("{}: peer closed with {code} {reason:?}", conn.peer);
            if raw {
                // The read loop recorded the close before the handler saw it (and maybe
                // answered); the handler answers (or not) itself, and the peer's close starts
                // the clock.
                let (answered, first) = {
                    let close = conn.close.lock().unwrap_or_else(|e| e.into_inner());
                    (close.sent.is_some(), close.peer_first)
                };
                peer_started = first;
                if !answered {
                    conn.arm_close_timeout(now);
                }
            } else {
                conn.close.lock().unwrap_or_else(|e| e.into_inner()).received = Some((code, reason.clone()));
                peer_started = conn.request_close(code, &reason, now);
            }
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
    conn.run_end_hooks();

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

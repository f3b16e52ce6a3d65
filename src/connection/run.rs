//! An open connection's life, on the thread that accepted (or dialed) it: hand the write loop
//! its state (its thread starts when first needed), call the handler, run the read loop, and
//! end the session.

use std::net::Shutdown;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crossbeam_channel::Receiver;

use super::dispatch::{Sink, Target};
use super::read_loop::{Ending, Framing, ReadLoop};
use super::session::{Session, SessionInfo};
use super::shared::{Conn, Ctrl, Cut, Phase};
use super::write_loop::WriterState;
use crate::error::Error;
use crate::extensions::Negotiated;
use crate::handshake::{Request, Response};
use crate::protocol::CloseReason;
use crate::protocol::inbuf::InBuf;
use crate::protocol::read::FrameReader;
use crate::transport::Stream;

/// What the opening handshake settled for a connection that is now a WebSocket.
pub(crate) struct Opened {
    /// The connection's socket, shared by its two loops.
    pub(crate) stream: Arc<Stream>,
    /// The read buffer, which may already hold the first frames.
    pub(crate) buf: InBuf,
    pub(crate) conn: Arc<Conn>,
    /// The receiving end of the connection's control lane.
    pub(crate) ctrl_rx: Receiver<Ctrl>,
    pub(crate) request: Request,
    pub(crate) protocol: Option<String>,
    pub(crate) extensions: Negotiated,
    /// Who gets the messages.
    pub(crate) target: Target,
    /// A client's: the server's answer, and the dial attempt that opened it.
    pub(crate) response: Option<Response>,
    pub(crate) attempt: u32,
    /// Told of the session before the handler's `on_open` (a client's handle keeps it).
    pub(crate) announce: Option<Announce>,
}

/// A hook told of a new session (a client's handle keeps it).
pub(crate) type Announce = Box<dyn FnOnce(&Session) + Send>;

/// How a connection ended, for a client that may reconnect.
pub(crate) struct Ended {
    /// The handler (or function) that served it, to serve the next connection.
    pub(crate) target: Target,
    pub(crate) reason: CloseReason,
    /// What made the connection fail, if anything did.
    pub(crate) failure: Option<Error>,
}

/// A session under way: what its read loop and its end need.
struct Live {
    stream: Arc<Stream>,
    conn: Arc<Conn>,
    session: Session,
    sink: Sink,
    buf: InBuf,
    framing: Framing,
}

/// Runs an open connection to its end: handler, read loop (the write loop's thread runs when
/// needed), then the end of the session (`on_close`, end hooks, final reason).
///
/// The stack under an idle connection's wait for input is what it keeps resident (see
/// `stack`), so the steps before and after the read loop are functions of their own, never
/// inlined: their frames are gone while it waits.
pub(crate) fn run(opened: Opened) -> Ended {
    let Live { stream, conn, session, mut sink, buf, framing } = start(opened);
    let raw = framing.raw;
    let mut reader = ReadLoop::new(&stream, FrameReader::new(buf), &conn, framing);
    let ending = reader.run(&mut sink.deliverer(&session, &conn));
    finish(&conn, &stream, session, sink, reader, ending, raw)
}

/// Makes the session: its handle, the write loop's state, the handler's `on_open`.
#[inline(never)]
fn start(opened: Opened) -> Live {
    let Opened {
        stream,
        buf,
        conn,
        ctrl_rx,
        request,
        protocol,
        mut extensions,
        target,
        response,
        attempt,
        announce,
    } = opened;
    let settings = &conn.settings;
    let raw = target.is_raw();
    let (in_tx, in_rx) =
        crossbeam_channel::bounded(if target.is_channel() { settings.queue_capacity } else { 0 });
    let extensions_header = std::mem::take(&mut extensions.header);
    let info = SessionInfo { request, protocol, extensions: extensions_header, raw, response, attempt };
    let session = Session::new(conn.clone(), info, in_rx);
    // A raw handler answers pings itself, and sends its own.
    conn.auto_ping.store(!raw, Ordering::Relaxed);
    let encoders = std::mem::take(&mut extensions.encoders);

    // Extension encoders run on the write loop only.
    conn.set_direct_writes(settings.direct_writes && encoders.is_empty());
    // Before the phase is Open: a close requested from then on (a server shutting down) finds
    // the write loop's state in place and starts it; one requested earlier cuts the handshake.
    conn.writer.install(&conn, WriterState::new(&conn, ctrl_rx, encoders));
    conn.advance(Phase::Open);
    if let Some(announce) = announce {
        announce(&session);
    }

    let mut sink = Sink::new(target, &conn, &session, in_tx);
    sink.open(&session, &conn);
    let framing = Framing { rsv_allowed: extensions.rsv, decoders: extensions.decoders, raw };
    Live { stream, conn, session, sink, buf, framing }
}

/// The end of a session, once its read loop has returned: the closing handshake's last steps,
/// the write loop's end, `on_close` and the final reason. Never inlined, so that its frame is
/// not on the stack while the connection waits for input (see `stack`).
#[inline(never)]
fn finish(
    conn: &Arc<Conn>,
    stream: &Stream,
    session: Session,
    mut sink: Sink,
    mut reader: ReadLoop<'_>,
    ending: Ending,
    raw: bool,
) -> Ended {
    let settings = &conn.settings;
    let mut failure = sink.take_failure();
    let peer_closed = matches!(ending, Ending::PeerClose(..));
    match ending {
        Ending::PeerClose(code, reason) => {
            log::debug!("{}: peer closed with {code} {reason:?}", conn.peer);
            if raw {
                // The read loop recorded the close before the handler saw it (and maybe
                // answered); the handler answers (or not) itself, within the close timeout.
                if !conn.closing.sent() {
                    conn.start_close_timeout();
                }
            } else {
                conn.closing.received((code, reason.clone()));
                // Answered with the same code once what is queued has gone out.
                conn.request_close(code, &reason);
            }
        }
        Ending::Failed(e) => {
            log::info!("{}: closing with {}: {e}", conn.peer, e.close_code());
            conn.request_close(e.close_code(), &e.to_string());
            failure.get_or_insert(e);
            reader.drain();
        }
        Ending::Dropped(io) => {
            // The write loop's thread could not be started: the connection was cut for it.
            if let Some(e) = conn.writer.take_spawn_failure() {
                failure.get_or_insert(Error::Spawn(e));
            }
            match conn.cut_reason() {
                Cut::PingTimeout => {
                    log::info!("{}: no answer to ping, connection dropped", conn.peer);
                    failure.get_or_insert(Error::PingTimeout);
                }
                Cut::CloseTimeout => {
                    log::info!("{}: close not answered in time, connection dropped", conn.peer);
                    failure.get_or_insert(Error::CloseTimeout);
                }
                Cut::None if !conn.close_pending() => {
                    if let Some(e) = io.filter(|e| !is_reset(e)) {
                        failure.get_or_insert(Error::from(e));
                    }
                }
                // A broken TLS session is reported as such even if a writer, failing on the
                // same broken session, cut the connection first.
                #[cfg(feature = "tls")]
                _ => {
                    if let Some(tls @ Error::Tls(_)) = io.map(Error::from) {
                        failure.get_or_insert(tls);
                    }
                }
                #[cfg(not(feature = "tls"))]
                _ => drop(io),
            }
            conn.cut(Cut::Ended);
        }
    }
    conn.writer.wait_ended();
    if settings.client && peer_closed && conn.closing.sent() {
        // RFC 6455 §7.1.1: the server closes TCP first; wait for its FIN, within the close
        // timeout (the timer cuts the socket after it).
        if !conn.closing.pending() {
            conn.start_close_timeout();
        }
        // A cut socket reads as EOF: the cut's reason tells a timeout from the server's FIN.
        // The close frames went both ways, so a late FIN is only worth a log line.
        reader.drain();
        if conn.cut_reason() == Cut::CloseTimeout {
            log::info!("{}: server did not close TCP after the closing handshake; dropped", conn.peer);
        }
    }
    drop(reader);
    stream.shutdown(Shutdown::Both);
    conn.advance(Phase::Done);
    conn.run_end_hooks();

    let reason = conn.closing.finish(failure.as_ref());
    log::info!("{}: closed {} (session {}): {reason}", conn.peer, session.request().path(), conn.id);
    sink.close(&session, &reason, failure.as_ref());
    Ended { target: sink.into_target(), reason, failure }
}

/// A reset after close is a normal end, not an error worth reporting.
fn is_reset(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof)
}

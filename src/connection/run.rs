//! An open connection's life, on the thread that accepted (or dialed) it: start the write
//! loop, call the handler, run the read loop, and end the session.

use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;

use crossbeam_channel::Receiver;

use super::dispatch::{Sink, Target};
use super::read_loop::{Ending, Framing, ReadLoop};
use super::session::{Session, SessionInfo};
use super::shared::{Conn, Ctrl, Cut, Phase};
use super::write_loop::{self, Lanes, WRITER_STACK, WRITER_STACK_WITH_EXTENSIONS};
use crate::error::Error;
use crate::extensions::Negotiated;
use crate::handshake::Request;
use crate::protocol::inbuf::InBuf;
use crate::protocol::read::FrameReader;

/// What the opening handshake settled for a connection that is now a WebSocket.
pub(crate) struct Opened {
    /// The connection's socket, shared by its two loops.
    pub(crate) stream: Arc<TcpStream>,
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
}

/// Runs an open connection to its end: write loop thread, handler, read loop, then the end
/// of the session (`on_close`, end hooks, final reason).
pub(crate) fn run(opened: Opened) {
    let Opened { stream, buf, conn, ctrl_rx, request, protocol, mut extensions, target } = opened;
    let settings = &conn.settings;
    let raw = target.is_raw();
    let (out_tx, out_rx) = crossbeam_channel::bounded(settings.queue_capacity);
    let (in_tx, in_rx) =
        crossbeam_channel::bounded(if target.is_channel() { settings.queue_capacity } else { 0 });
    let info = SessionInfo { request, protocol, extensions: std::mem::take(&mut extensions.header), raw };
    let session = Session::new(conn.clone(), info, out_tx, in_rx);
    // A raw handler answers pings itself, and sends its own.
    conn.auto_ping.store(!raw, Ordering::Relaxed);
    let encoders = std::mem::take(&mut extensions.encoders);

    let write_half = stream.clone();
    let lanes = Lanes { ctrl: ctrl_rx, data: out_rx };
    // Extension encoders run on the write loop only.
    conn.set_direct_writes(settings.direct_writes && encoders.is_empty());
    let writer_conn = conn.clone();
    let writer = thread::Builder::new()
        .name(format!("syncws-w{}", conn.id))
        .stack_size(if encoders.is_empty() { WRITER_STACK } else { WRITER_STACK_WITH_EXTENSIONS })
        .spawn(move || write_loop::run(write_half, writer_conn, lanes, encoders));
    let writer = match writer {
        Ok(w) => w,
        Err(e) => return log::warn!("{}: cannot start write loop: {e}", conn.peer),
    };
    conn.advance(Phase::Open);

    let mut sink = Sink::new(target, &conn, &session, in_tx);
    sink.open(&session, &conn);

    let framing = Framing { rsv_allowed: extensions.rsv, decoders: extensions.decoders, raw };
    let mut reader = ReadLoop::new(&stream, FrameReader::new(buf), &conn, framing);
    let ending = reader.run(&mut sink.deliverer(&session, &conn));
    let mut failure = sink.take_failure();
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
    conn.advance(Phase::Done);
    conn.run_end_hooks();

    let reason = conn.closing.finish(failure.as_ref());
    log::info!("{}: closed {} (session {}): {reason}", conn.peer, session.request().path(), conn.id);
    sink.close(&session, &reason, failure.as_ref());
}

/// A reset after close is a normal end, not an error worth reporting.
fn is_reset(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof)
}

//! One accepted connection, on its own thread: read the request, decide what answers it (an
//! HTTP route, a refusal, or a WebSocket route), complete the upgrade, and hand the open
//! connection to the connection layer.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use super::answer::{answer_and_close, refuse};
use super::state::ServerState;
use crate::connection::registry::Registered;
use crate::connection::run::{self, Opened};
use crate::connection::shared::{Conn, Cut};
use crate::extensions::negotiate;
use crate::handshake::head::{ReadFailure, read_request};
use crate::handshake::response::HttpResponse;
use crate::handshake::{Rejection, Request, upgrade};
use crate::protocol::inbuf::InBuf;
use crate::transport::Stream;
#[cfg(feature = "tls")]
use crate::transport::tls::TlsSession;

/// Serves one accepted connection to its end.
pub(crate) fn serve(state: &ServerState, tcp: TcpStream, peer: SocketAddr) {
    if let Some((opened, _registered)) = open(state, tcp, peer) {
        // Logged here, out of the handshake's deep frame: formatting a line takes stack too.
        log::info!("{peer}: open {} (session {})", opened.request.path(), opened.conn.id);
        run::run(opened);
    }
}

/// The handshake: `Some` once the connection is a WebSocket (and registered, until the guard
/// drops). Never inlined, so that its stack frame (the request, the answer) is gone before the
/// read loop runs: an idle connection keeps only the pages its deepest call touched.
#[inline(never)]
fn open(state: &ServerState, tcp: TcpStream, peer: SocketAddr) -> Option<(Opened, Registered)> {
    // One file descriptor per connection: the read loop, the write loop and the timer share
    // it (`&Stream` reads and writes).
    let stream = new_stream(state, tcp, peer)?;
    let stream = Arc::new(stream);
    let timer = state.timer.clone();
    let (conn, ctrl_rx) =
        Conn::new(state.next_id(), peer, &stream, state.settings.clone(), timer.clock(), timer);
    let conn = Arc::new(conn);
    let Some(registered) = state.registry.register(&conn) else {
        log::debug!("{peer}: server shutting down; connection dropped");
        return None;
    };
    conn.watch();
    if state.config.nodelay {
        let _ = stream.tcp().set_nodelay(true);
    }
    // The TLS handshake runs under the handshake timeout, as the request does.
    #[cfg(feature = "tls")]
    if let Err(e) = stream.tls_handshake() {
        tls_failed(&stream, &conn, &e, peer);
        return None;
    }
    let mut buf = InBuf::new(state.settings.read_buffer_size);
    let mut request = match read_request(&mut &*stream, &mut buf, state.config.max_request_size, peer) {
        Ok(request) => request,
        Err(ReadFailure::Reject(r)) => {
            refuse(&stream, &r, peer, None);
            return None;
        }
        Err(ReadFailure::Io(e)) => {
            if conn.cut_reason() != Cut::HandshakeTimeout {
                match crate::Error::from(e) {
                    crate::Error::Io(e) => log::debug!("{peer}: connection ended during handshake: {e}"),
                    tls => log::info!("{peer}: {tls} (before the upgrade request was complete)"),
                }
            } else {
                refuse(&stream, &Rejection::new(408, "handshake not completed in time"), peer, None);
            }
            return None;
        }
    };
    request.secure = stream.is_tls();
    request.peer_certificates = stream.peer_certificates();
    let path = request.path().to_owned();
    let opened = match answer(state, request) {
        Answer::Upgrade { request, route, protocol, accept } => {
            let extensions = negotiate(state.router.extensions_for(&route), &request);
            let response = upgrade::switching_protocols(&accept, protocol.as_deref(), &extensions.header);
            if let Err(e) = (&*stream).write_all(&response) {
                log::debug!("{peer}: could not send 101: {e}");
                return None;
            }
            let target = route.target();
            Opened {
                stream,
                buf,
                conn,
                ctrl_rx,
                request,
                protocol,
                extensions,
                target,
                response: None,
                attempt: 0,
                announce: None,
            }
        }
        Answer::Http(response) => {
            log::debug!("{peer}: HTTP {} for {path}", response.status());
            answer_and_close(&stream, &response.to_bytes(), peer);
            return None;
        }
        Answer::Refuse(rejection) => {
            refuse(&stream, &rejection, peer, Some(&path));
            return None;
        }
    };
    Some((opened, registered))
}

/// The connection's stream: plain, or a TLS session to run the handshake of.
fn new_stream(state: &ServerState, tcp: TcpStream, peer: SocketAddr) -> Option<Stream> {
    #[cfg(feature = "tls")]
    if let Some(tls) = &state.tls {
        return match rustls::ServerConnection::new(tls.config()) {
            Ok(session) => Some(Stream::tls(tcp, TlsSession::new(session.into()))),
            Err(e) => {
                log::warn!("{peer}: cannot start a TLS session: {e}");
                None
            }
        };
    }
    let _ = (state, peer);
    Some(Stream::plain(tcp))
}

/// A TLS handshake that failed: logged, and a client that spoke plain HTTP gets a plain `400`
/// that says why (as nginx does), instead of bytes it cannot read. After an alert the
/// connection closes gracefully too: a client whose first request is still unread would
/// otherwise get a reset, which can destroy the alert before it reads it (TLS 1.3 clients send
/// their request before they learn that their certificate was refused).
#[cfg(feature = "tls")]
fn tls_failed(stream: &Stream, conn: &Conn, e: &std::io::Error, peer: SocketAddr) {
    use crate::error::TlsError;
    use crate::transport::tls::failure::tls_failure;
    let close_plainly = |answer: &[u8]| {
        if let Ok(tcp) = stream.tcp().try_clone() {
            answer_and_close(&Stream::plain(tcp), answer, peer);
        }
    };
    match tls_failure(e) {
        Some(TlsError::NotTls) => {
            log::info!("{peer}: plain HTTP on a TLS port; answered 400");
            close_plainly(&Rejection::new(400, "plain HTTP sent to a TLS (https, wss) port").to_bytes());
        }
        Some(failure) => {
            log::info!("{peer}: TLS handshake failed: {failure}");
            close_plainly(&[]);
        }
        None if conn.cut_reason() == Cut::HandshakeTimeout => {
            log::info!("{peer}: TLS handshake not completed in time; dropped");
        }
        None => log::debug!("{peer}: connection ended during the TLS handshake: {e}"),
    }
}

/// What answers a request.
enum Answer {
    /// A WebSocket on `route`.
    Upgrade { request: Request, route: Arc<super::route::Route>, protocol: Option<String>, accept: String },
    /// A plain HTTP route's response.
    Http(HttpResponse),
    /// An HTTP error.
    Refuse(Rejection),
}

/// The routing decision: an HTTP route for a plain GET, 404 for unknown paths, 426 for a plain
/// GET on a WebSocket path, and the upgrade checks.
fn answer(state: &ServerState, request: Request) -> Answer {
    let upgrading = upgrade::wants_websocket(&request);
    if !upgrading {
        if let Some(page) = state.router.http(request.path()) {
            let response = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| page(&request)));
            return Answer::Http(response.unwrap_or_else(|_| {
                log::error!("{}: HTTP handler for {} panicked", request.remote_addr(), request.path());
                HttpResponse::new(500, "text/plain; charset=utf-8", "500 Internal Server Error\n")
            }));
        }
    }
    let Some(route) = state.router.find(request.path()) else {
        return Answer::Refuse(Rejection::new(404, "no WebSocket route at this path"));
    };
    if !upgrading {
        return Answer::Refuse(upgrade::upgrade_required());
    }
    match upgrade::check(&request, state.config.allowed_origins.as_deref()) {
        Ok(accept) => {
            let protocol = upgrade::select_protocol(&request, &route.protocols);
            Answer::Upgrade { request, route, protocol, accept }
        }
        Err(rejection) => Answer::Refuse(rejection),
    }
}

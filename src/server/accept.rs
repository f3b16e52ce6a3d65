//! One accepted connection, on its own thread: read the request, decide what answers it (an
//! HTTP route, a refusal, or a WebSocket route), complete the upgrade, and hand the open
//! connection to the connection layer.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use super::answer::{answer_and_close, refuse};
use super::state::ServerState;
use crate::connection::run::{self, Opened};
use crate::connection::shared::{Conn, Cut};
use crate::extensions::negotiate;
use crate::handshake::head::{ReadFailure, read_request};
use crate::handshake::response::HttpResponse;
use crate::handshake::{Rejection, Request, upgrade};
use crate::protocol::inbuf::InBuf;

/// Serves one accepted connection to its end.
pub(crate) fn serve(state: &ServerState, stream: TcpStream, peer: SocketAddr) {
    // One file descriptor per connection: the read loop, the write loop and the timer share
    // it (`&TcpStream` reads and writes).
    let stream = Arc::new(stream);
    let timer = state.timer.clone();
    let (conn, ctrl_rx) =
        Conn::new(state.next_id(), peer, &stream, state.settings.clone(), timer.clock(), timer);
    let conn = Arc::new(conn);
    let Some(_registered) = state.registry.register(&conn) else {
        return log::debug!("{peer}: server shutting down; connection dropped");
    };
    conn.watch();
    if state.config.nodelay {
        let _ = stream.set_nodelay(true);
    }
    let mut buf = InBuf::new(state.settings.read_buffer_size);
    let request = match read_request(&mut &*stream, &mut buf, state.config.max_request_size, peer) {
        Ok(request) => request,
        Err(ReadFailure::Reject(r)) => return refuse(&stream, &r, peer, None),
        Err(ReadFailure::Io(e)) => {
            if conn.cut_reason() != Cut::HandshakeTimeout {
                return log::debug!("{peer}: connection ended during handshake: {e}");
            }
            return refuse(&stream, &Rejection::new(408, "handshake not completed in time"), peer, None);
        }
    };
    let path = request.path().to_owned();
    let opened = match answer(state, request) {
        Answer::Upgrade { request, route, protocol, accept } => {
            let extensions = negotiate(state.router.extensions_for(&route), &request);
            let response = upgrade::switching_protocols(&accept, protocol.as_deref(), &extensions.header);
            if let Err(e) = (&*stream).write_all(&response) {
                return log::debug!("{peer}: could not send 101: {e}");
            }
            log::info!("{peer}: open {path} (session {})", conn.id);
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
            return answer_and_close(&stream, &response.to_bytes(), peer);
        }
        Answer::Refuse(rejection) => return refuse(&stream, &rejection, peer, Some(&path)),
    };
    run::run(opened);
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

//! One attempt: dial, send the upgrade request, check the answer, and hand the open
//! connection to the connection layer, as the server's `accept` does for an accepted one.

use std::io::Write;
use std::sync::Arc;

use super::dial::dial;
use super::handle::ClientShared;
use super::url::WsUrl;
use crossbeam_channel::Receiver;

use super::builder::Plan;
use crate::connection::dispatch::Target;
use crate::connection::run::{Announce, Opened};
use crate::connection::shared::{self, Conn, Ctrl, Cut};
use crate::error::{Error, HandshakeError};
use crate::extensions::{Negotiated, client_negotiated};
use crate::handshake::client::{ResponseFailure, UpgradeRequest, check_upgrade, read_response};
use crate::handshake::key::new_key;
use crate::handshake::{Request, Response};
use crate::protocol::inbuf::InBuf;
use crate::transport::Stream;

/// What a successful handshake settled: an open connection waiting for its handler.
pub(crate) struct Handshaken {
    stream: Arc<Stream>,
    buf: InBuf,
    conn: Arc<Conn>,
    ctrl_rx: Receiver<Ctrl>,
    request: Request,
    protocol: Option<String>,
    extensions: Negotiated,
    response: Response,
}

impl Handshaken {
    /// The open connection, served by `target`.
    pub(crate) fn into_opened(self, target: Target, attempt: u32, announce: Announce) -> Opened {
        let Handshaken { stream, buf, conn, ctrl_rx, request, protocol, extensions, response } = self;
        let response = Some(response);
        let announce = Some(announce);
        Opened {
            stream,
            buf,
            conn,
            ctrl_rx,
            request,
            protocol,
            extensions,
            target,
            response,
            attempt,
            announce,
        }
    }
}

/// Dials `url` and completes the opening handshake (attempt number `attempt`, for the log),
/// unless `shared`'s client is closed meanwhile.
pub(crate) fn handshake(
    plan: &Plan,
    url: &WsUrl,
    attempt: u32,
    shared: &ClientShared,
) -> Result<Handshaken, Error> {
    let result = attempt_handshake(plan, url, attempt, shared);
    shared.end_attempt();
    result
}

fn attempt_handshake(
    plan: &Plan,
    url: &WsUrl,
    attempt: u32,
    shared: &ClientShared,
) -> Result<Handshaken, Error> {
    let config = &plan.config;
    let (tcp, peer) = dial(url, config.connect_timeout)?;
    if config.nodelay {
        let _ = tcp.set_nodelay(true);
    }
    let stream = Arc::new(new_stream(plan, url, tcp)?);
    let timer = plan.timer.clone();
    let (conn, ctrl_rx) =
        Conn::new(shared::next_id(), peer, &stream, plan.settings.clone(), timer.clock(), timer);
    let conn = Arc::new(conn);
    if !shared.begin_attempt(&conn) {
        return Err(Error::Closed);
    }
    // The handshake timeout runs from here: the timer cuts the socket's read side.
    conn.watch();
    let key = new_key().map_err(Error::Io)?;
    let sent = UpgradeRequest {
        host: &url.host_header,
        resource: &url.resource,
        key: &key,
        origin: config.origin.as_deref(),
        protocols: &config.protocols,
        extensions: &plan.extension_offer,
        headers: &config.headers,
    };
    let failed = |e: std::io::Error| match conn.cut_reason() {
        Cut::HandshakeTimeout => Error::Handshake(HandshakeError::Timeout),
        // ClientHandle::close during the attempt.
        Cut::Shutdown => Error::Closed,
        _ => match Error::from(e) {
            Error::Io(e) => Error::Handshake(HandshakeError::Closed(e.to_string())),
            tls => tls,
        },
    };
    #[cfg(feature = "tls")]
    stream.tls_handshake().map_err(failed)?;
    (&*stream).write_all(&sent.to_bytes()).map_err(failed)?;
    let mut buf = InBuf::new(config.read_buffer_size);
    let response = match read_response(&mut &*stream, &mut buf, config.max_response_size) {
        Ok(r) => r,
        Err(ResponseFailure::Io(e)) => return Err(failed(e)),
        Err(ResponseFailure::Refused(e)) => return Err(e.into()),
    };
    let protocol = check_upgrade(&response, &key, &config.protocols)?;
    let answers = response.headers().filter(|(k, _)| *k == "sec-websocket-extensions").map(|(_, v)| v);
    let extensions = client_negotiated(&plan.extensions, answers)?;
    log::info!("{peer}: open {} (session {}, attempt {attempt})", url.resource, conn.id);
    let (path, query) = url.path_and_query();
    let request = Request {
        remote_addr: peer,
        path,
        query,
        headers: sent.header_list(),
        secure: stream.is_tls(),
        peer_certificates: stream.peer_certificates(),
    };
    Ok(Handshaken { stream, buf, conn, ctrl_rx, request, protocol, extensions, response })
}

/// The connection's stream: plain, or a TLS session (`wss://`: the plan has TLS) whose
/// handshake is to run.
fn new_stream(plan: &Plan, url: &WsUrl, tcp: std::net::TcpStream) -> Result<Stream, Error> {
    #[cfg(feature = "tls")]
    if let Some(tls) = &plan.tls {
        return Ok(Stream::tls(tcp, tls.session(&url.host)?));
    }
    let _ = (plan, url);
    Ok(Stream::plain(tcp))
}

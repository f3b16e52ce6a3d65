//! Unit-test fixtures: a session over a real loopback socket, with no threads of its own.

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use crossbeam_channel::Receiver;

use super::session::{Session, SessionInfo};
use super::settings::Settings;
use super::shared::{Conn, Ctrl};
use super::timer::TimerQueue;
use crate::handshake::Request;
use crate::transport::Stream;

/// A session in the open phase. Nothing drains its control lane or outgoing queue, as if its
/// write loop were stuck.
pub(crate) struct Fixture {
    pub(crate) session: Session,
    pub(crate) conn: Arc<Conn>,
    /// The connection's timer queue, which no thread serves: tests take what is due themselves.
    pub(crate) timer: Arc<TimerQueue>,
    /// Kept open for the fixture's life: both sockets and the control lane's receiving end
    /// (the outgoing queue's waits in the write loop's slot, as it would for a stuck one).
    _keep: (Arc<Stream>, TcpStream, Receiver<Ctrl>),
}

/// A fixture with `settings`.
pub(crate) fn session(settings: Settings) -> Fixture {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, peer) = listener.accept().unwrap();
    let server_socket = Arc::new(Stream::plain(server));
    let timer = super::timer::tests::unserved();
    let settings = Arc::new(settings);
    static NEXT_ID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as u64;
    let (conn, ctrl) = Conn::new(id, peer, &server_socket, settings.clone(), timer.clock(), timer.clone());
    let conn = Arc::new(conn);
    conn.advance(super::shared::Phase::Open);
    let (_in_tx, in_rx) = crossbeam_channel::bounded(0);
    let request = Request {
        remote_addr: peer,
        path: "/".to_owned(),
        query: None,
        headers: Vec::new(),
        secure: false,
        peer_certificates: Vec::new(),
    };
    let info = SessionInfo {
        request,
        protocol: None,
        extensions: String::new(),
        raw: false,
        response: None,
        attempt: 0,
    };
    let session = Session::new(conn.clone(), info, in_rx);
    Fixture { session, conn, timer, _keep: (server_socket, client, ctrl) }
}

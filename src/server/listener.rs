//! The listener thread: accepts connections and gives each a thread of its own, or a 503
//! when the server is full. It waits in `poll` on the listening socket and on a wake-up
//! socket, so that shutdown stops it without connecting to itself.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::accept;
use super::answer::Refuser;
use super::state::{Live, ServerState};
use super::sys;
use crate::handshake::Rejection;

/// Accepts until `wake` is closed (or readable).
pub(crate) fn accept_loop(
    state: &Arc<ServerState>,
    listener: &TcpListener,
    wake: &UnixStream,
    refuser: &Refuser,
) {
    if let Err(e) = listener.set_nonblocking(true) {
        return log::error!("listener: cannot make the socket non-blocking: {e}");
    }
    loop {
        let ready = match sys::readable(&[listener, wake], None) {
            Ok(ready) => ready,
            Err(e) => {
                log::error!("listener: poll failed: {e}");
                return;
            }
        };
        if ready[1] {
            return;
        }
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                log::warn!("accept failed: {e}");
                // Out of file descriptors and the like: give connections time to end.
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let _ = stream.set_nonblocking(false);
        if state.live() >= state.config.max_connections {
            #[cfg(feature = "tls")]
            if state.tls.is_some() {
                log::warn!("{peer}: too many connections; TLS connection closed");
                continue;
            }
            refuser.refuse_busy(stream, &Rejection::new(503, "too many connections"), peer);
            continue;
        }
        spawn_connection(state, stream, peer);
    }
}

fn spawn_connection(state: &Arc<ServerState>, stream: TcpStream, peer: std::net::SocketAddr) {
    let live = Live::new(state);
    let s = state.clone();
    let started = thread::Builder::new()
        .name("syncws-conn".to_owned())
        .stack_size(state.config.stack_size)
        .spawn(move || {
            let _live = live;
            accept::serve(&s, stream, peer);
        });
    if let Err(e) = started {
        log::warn!("{peer}: cannot start connection thread: {e}");
    }
}

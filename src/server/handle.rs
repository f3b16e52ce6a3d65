//! A running server's handle: its address, its load, and the shutdown.

use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::state::ServerState;
use crate::connection::shared::{Cut, Phase};
use crate::connection::timer::Timer;
use crate::protocol::CloseCode;

/// A running server. Dropping it shuts the server down, like [`shutdown`](Self::shutdown).
#[derive(Debug)]
pub struct ServerHandle {
    state: Arc<ServerState>,
    local_addr: SocketAddr,
    listener: Option<JoinHandle<()>>,
    /// Closing it wakes the listener out of `poll`.
    wake: Option<UnixStream>,
    timer: Timer,
    stopped: bool,
}

impl ServerHandle {
    pub(crate) fn new(
        state: Arc<ServerState>,
        local_addr: SocketAddr,
        listener: JoinHandle<()>,
        wake: UnixStream,
        timer: Timer,
    ) -> Self {
        ServerHandle { state, local_addr, listener: Some(listener), wake: Some(wake), timer, stopped: false }
    }

    /// The address the server listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Connections being served now, handshakes included.
    pub fn connections(&self) -> usize {
        self.state.live()
    }

    /// Stops the server: stops accepting, sends 1001 to every session after the messages
    /// already queued, waits for the closing handshakes (at most the close timeout), cuts what
    /// is left, and joins the server's threads. Returns the number of connection threads that
    /// were still running when it gave up (0 normally: only a handler that never returns keeps
    /// one alive).
    pub fn shutdown(mut self) -> usize {
        self.stop()
    }

    fn stop(&mut self) -> usize {
        if self.stopped {
            return 0;
        }
        self.stopped = true;
        // Closing our end of the wake-up socket makes the listener's `poll` return.
        self.wake.take();
        if let Some(listener) = self.listener.take() {
            let _ = listener.join();
        }
        let state = &self.state;
        // Connections that start from now on are dropped at once.
        for conn in state.registry.close() {
            if conn.phase() == Phase::Handshake {
                conn.cut(Cut::Shutdown);
            } else {
                conn.request_close(CloseCode::GOING_AWAY, "server shutting down");
            }
        }
        let grace = state.settings.close_timeout + Duration::from_secs(1);
        let mut left = state.wait_idle(Instant::now() + grace);
        if left > 0 {
            for conn in state.registry.snapshot() {
                conn.cut(Cut::Shutdown);
            }
            left = state.wait_idle(Instant::now() + Duration::from_secs(2));
            if left > 0 {
                log::warn!("shutdown: {left} connection threads still running (handlers not returning)");
            }
        }
        self.timer.stop();
        log::info!("syncws on {} stopped", self.local_addr);
        left
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

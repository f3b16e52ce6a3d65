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

/// A running server. Dropping it shuts the server down, like [`shutdown`](Self::shutdown):
/// keep it for as long as the server should run, or hand the thread to [`wait`](Self::wait).
///
/// ```no_run
/// use syncws::{Config, Server};
/// # struct Echo;
/// # impl syncws::Handler for Echo { fn on_message(&mut self, s: &syncws::Session, m: syncws::Message) { let _ = s.send(m); } }
/// let server = Server::new(Config::default()).route("/echo", || Echo).bind("0.0.0.0:8080")?;
/// let stopper = server.stopper();
/// std::thread::spawn(move || {
///     std::thread::sleep(std::time::Duration::from_secs(3600));
///     stopper.stop(); // from any thread, or a signal handler
/// });
/// server.wait(); // serves until stopped, then closes every session with 1001
/// # Ok::<(), syncws::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "the server stops as soon as its handle is dropped: keep the handle, or call `wait()`"]
pub struct ServerHandle {
    state: Arc<ServerState>,
    local_addr: SocketAddr,
    listener: Option<JoinHandle<()>>,
    stopper: Stopper,
    timer: Timer,
    stopped: bool,
}

/// Stops a server from another thread or from a signal handler: see
/// [`ServerHandle::stopper`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Stopper {
    /// The write end of the listener's wake-up socket (non-blocking).
    wake: Arc<UnixStream>,
}

impl Stopper {
    /// Asks the server to stop: its listener stops accepting, and [`ServerHandle::wait`]
    /// returns after closing every session. Never blocks, and does nothing else than one
    /// `send(2)` (no lock, no allocation, no SIGPIPE), so it may be called from a signal
    /// handler. Calling it again, or after the server stopped, does nothing.
    pub fn stop(&self) {
        super::sys::send_byte(&*self.wake);
    }
}

impl ServerHandle {
    pub(crate) fn new(
        state: Arc<ServerState>,
        local_addr: SocketAddr,
        listener: JoinHandle<()>,
        wake: UnixStream,
        timer: Timer,
    ) -> Self {
        let stopper = Stopper { wake: Arc::new(wake) };
        ServerHandle { state, local_addr, listener: Some(listener), stopper, timer, stopped: false }
    }

    /// A handle that stops this server from another thread or a signal handler, for a server
    /// that runs in [`wait`](Self::wait).
    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// Serves until a [`Stopper`] stops the server, then shuts it down as
    /// [`shutdown`](Self::shutdown) does and returns the same count.
    pub fn wait(mut self) -> usize {
        if let Some(listener) = self.listener.take() {
            let _ = listener.join();
        }
        self.stop()
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
        // A byte on the wake-up socket makes the listener's `poll` return (`wait` has already
        // seen it end).
        if let Some(listener) = self.listener.take() {
            self.stopper.stop();
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

//! Answering a request that does not become a WebSocket: write the HTTP answer, close our
//! side, and read what the client still sends for a short while, so that closing does not
//! reset the connection before the client has read the answer.
//!
//! Connections refused for being one too many (503) are answered on the accepting thread,
//! without blocking, and then linger on one thread for all of them: a client that trickles
//! bytes holds up nobody. At most [`MAX_LINGERING`] linger at once (and [`HANDOFF`] wait to),
//! so that a flood of refused connections cannot use up the process's file descriptors.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::sys;
use crate::error::{Error, Result};
use crate::handshake::Rejection;
use crate::transport::Stream;

/// How long a connection that got its answer may keep sending before it is closed.
const LINGER: Duration = Duration::from_secs(1);
/// Refused connections lingering at once; more are closed right after their answer.
const MAX_LINGERING: usize = 256;
/// Refused connections waiting to start lingering (the hand-off from the listener).
const HANDOFF: usize = 64;

/// Sends an HTTP error and closes the connection (see [`answer_and_close`]).
pub(crate) fn refuse(stream: &Stream, rejection: &Rejection, peer: SocketAddr, path: Option<&str>) {
    match path {
        Some(path) => log::info!("{peer}: HTTP {} for {path} ({})", rejection.status, rejection.why),
        None => log::info!("{peer}: HTTP {} ({})", rejection.status, rejection.why),
    }
    answer_and_close(stream, &rejection.to_bytes(), peer);
}

/// Writes an HTTP response, half-closes, and reads what the client still sends for at most
/// [`LINGER`]. Runs on the connection's own thread.
pub(crate) fn answer_and_close(mut stream: &Stream, response: &[u8], peer: SocketAddr) {
    let _ = stream.tcp().set_write_timeout(Some(LINGER));
    if let Err(e) = stream.write_all(response) {
        log::debug!("{peer}: could not write the HTTP answer: {e}");
    }
    stream.finish_writing();
    let deadline = Instant::now() + LINGER;
    let mut scratch = [0u8; 512];
    while let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
        let _ = stream.tcp().set_read_timeout(Some(left));
        match stream.read(&mut scratch) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}

/// Answers connections refused for being over the limit.
#[derive(Debug)]
pub(crate) struct Refuser {
    lingering: Option<Sender<TcpStream>>,
    thread: Option<JoinHandle<()>>,
}

impl Refuser {
    /// Starts the thread that lingers on refused connections.
    pub(crate) fn start() -> Result<Refuser> {
        let (tx, rx) = crossbeam_channel::bounded(HANDOFF);
        let thread = thread::Builder::new()
            .name("syncws-refuse".to_owned())
            .stack_size(64 * 1024)
            .spawn(move || linger_all(&rx))
            .map_err(Error::Spawn)?;
        Ok(Refuser { lingering: Some(tx), thread: Some(thread) })
    }

    /// Answers `stream` with `rejection` at once (a non-blocking write: the answer fits any
    /// socket buffer) and leaves it to linger.
    pub(crate) fn refuse_busy(&self, stream: TcpStream, rejection: &Rejection, peer: SocketAddr) {
        log::warn!("{peer}: HTTP {} ({})", rejection.status, rejection.why);
        let _ = stream.set_nonblocking(true);
        if let Err(e) = (&stream).write_all(&rejection.to_bytes()) {
            log::debug!("{peer}: could not write the HTTP answer: {e}");
        }
        let _ = stream.shutdown(Shutdown::Write);
        if let Some(tx) = &self.lingering {
            if let Err(TrySendError::Full(_)) = tx.try_send(stream) {
                log::debug!("{peer}: {MAX_LINGERING} refused connections linger already; closed at once");
            }
        }
    }

    /// Closes what lingers and stops the thread.
    pub(crate) fn stop(&mut self) {
        self.lingering.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Refuser {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads and discards what refused clients still send, closing each at EOF or after
/// [`LINGER`]; ends when the sender is gone.
fn linger_all(incoming: &Receiver<TcpStream>) {
    let mut lingering: Vec<(TcpStream, Instant)> = Vec::new();
    let mut scratch = [0u8; 512];
    loop {
        if lingering.is_empty() {
            match incoming.recv() {
                Ok(s) => lingering.push((s, Instant::now() + LINGER)),
                Err(_) => return,
            }
        }
        // Take no more than the limit: the rest waits in the hand-off channel, and once that is
        // full too, newly refused connections are closed right after their answer.
        while lingering.len() < MAX_LINGERING {
            match incoming.try_recv() {
                Ok(s) => lingering.push((s, Instant::now() + LINGER)),
                Err(crossbeam_channel::TryRecvError::Empty) => break,
                Err(crossbeam_channel::TryRecvError::Disconnected) => return,
            }
        }
        let now = Instant::now();
        lingering.retain(|(_, deadline)| *deadline > now);
        let fds: Vec<&dyn std::os::fd::AsRawFd> =
            lingering.iter().map(|(s, _)| s as &dyn std::os::fd::AsRawFd).collect();
        // Short waits, so that newly refused connections start lingering promptly.
        let Ok(ready) = sys::readable(&fds, Some(50)) else { return };
        let mut i = 0;
        lingering.retain(|(s, _)| {
            let was_ready = ready[i];
            i += 1;
            if !was_ready {
                return true;
            }
            let mut s: &TcpStream = s;
            match s.read(&mut scratch) {
                Ok(0) => false,
                Ok(_) => true,
                Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
            }
        });
    }
}

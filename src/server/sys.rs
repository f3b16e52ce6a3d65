//! The system calls of the server layer that std does not offer: waiting on several sockets
//! at once with `poll(2)` (the listener wakes at shutdown, one thread serves many lingering
//! sockets), and a signal-safe one-byte send.

use std::io;
use std::os::fd::AsRawFd;

/// Waits until one of `fds` is readable (or closed, or failed), at most `timeout_ms`
/// milliseconds (`None`: no limit). Returns, for each, whether it is ready.
#[allow(unsafe_code)]
pub(crate) fn readable(fds: &[&dyn AsRawFd], timeout_ms: Option<u64>) -> io::Result<Vec<bool>> {
    let mut polls: Vec<libc::pollfd> =
        fds.iter().map(|f| libc::pollfd { fd: f.as_raw_fd(), events: libc::POLLIN, revents: 0 }).collect();
    let timeout = timeout_ms.map_or(-1, |ms| ms.min(i32::MAX as u64) as i32);
    loop {
        // SAFETY: `polls` is a live, writable array of `polls.len()` pollfd structs, each naming
        // a descriptor its owner keeps open for the call.
        let n = unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, timeout) };
        if n >= 0 {
            return Ok(polls.iter().map(|p| p.revents != 0).collect());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Sends one byte on `socket` without blocking and without raising SIGPIPE when the other end
/// is gone: one `send(2)` with `MSG_DONTWAIT | MSG_NOSIGNAL`, no lock, no allocation, so a
/// signal handler may call it. Errors (a full buffer, a closed peer) are ignored: the byte only
/// wakes a reader that may already be gone.
#[allow(unsafe_code)]
pub(crate) fn send_byte(socket: &dyn AsRawFd) {
    let byte = 1u8;
    // SAFETY: the descriptor is kept open by its owner for the call; the buffer is one live
    // byte that the kernel only reads.
    unsafe {
        libc::send(
            socket.as_raw_fd(),
            (&byte as *const u8).cast(),
            1,
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        );
    }
}

//! The system calls of the transport that std does not offer: non-blocking sends (vectored,
//! or of one buffer) that raise no SIGPIPE, and waiting for a socket to take more bytes.

use std::io::{self, IoSlice};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
#[cfg(feature = "tls")]
use std::time::Duration;

/// One non-blocking `sendmsg` of `slices`, without SIGPIPE; returns how many bytes the socket
/// took (`WouldBlock` when it took none).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[allow(unsafe_code)]
pub(crate) fn send_nonblocking(stream: &TcpStream, slices: &[IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: an all-zero `msghdr` is valid (no name, no control data). `IoSlice` is
    // guaranteed ABI-compatible with `iovec` on Unix; the slices outlive the call and the
    // kernel only reads them.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = slices.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = slices.len() as _;
    // SAFETY: the descriptor is owned by `stream`, alive for the call; `msg` is valid.
    retry_interrupted(|| unsafe {
        libc::sendmsg(stream.as_raw_fd(), &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
    })
}

/// Like [`send_nonblocking`] for one buffer: a `send`, which costs the kernel less than a
/// `sendmsg` (no message header or vector to copy in; about 120 ns of 850 per small send on
/// x86_64, measured in docs/PERFORMANCE.md).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[allow(unsafe_code)]
pub(crate) fn send_one_nonblocking(stream: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    // SAFETY: the descriptor is owned by `stream`, alive for the call; `buf` is valid for
    // `buf.len()` bytes, which the kernel only reads.
    retry_interrupted(|| unsafe { libc::send(stream.as_raw_fd(), buf.as_ptr().cast(), buf.len(), flags) })
}

/// Makes the system call `call` until it is not interrupted by a signal: its result as a byte
/// count, or the error it set.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn retry_interrupted(mut call: impl FnMut() -> libc::ssize_t) -> io::Result<usize> {
    loop {
        let n = call();
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Without `MSG_DONTWAIT` and `MSG_NOSIGNAL`: nothing is ever taken at once (plain
/// connections then write everything from their write loop).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn send_nonblocking(_: &TcpStream, _: &[IoSlice<'_>]) -> io::Result<usize> {
    Err(io::ErrorKind::WouldBlock.into())
}

/// As [`send_nonblocking`]: nothing is taken at once.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn send_one_nonblocking(_: &TcpStream, _: &[u8]) -> io::Result<usize> {
    Err(io::ErrorKind::WouldBlock.into())
}

/// Waits until `stream` can take more bytes (or is closed or failed), at most `timeout`
/// (`None`: no limit); `TimedOut` after it. Only TLS writes wait this way.
#[cfg(feature = "tls")]
#[allow(unsafe_code)]
pub(crate) fn wait_writable(stream: &TcpStream, timeout: Option<Duration>) -> io::Result<()> {
    let mut poll = libc::pollfd { fd: stream.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
    let ms = timeout.map_or(-1, |t| t.as_millis().clamp(1, i32::MAX as u128) as i32);
    loop {
        // SAFETY: `poll` is one live, writable pollfd naming a descriptor `stream` keeps open.
        let n = unsafe { libc::poll(&mut poll, 1, ms) };
        match n {
            0 => return Err(io::ErrorKind::TimedOut.into()),
            n if n > 0 => return Ok(()),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

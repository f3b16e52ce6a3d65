//! Opening a TCP connection by name: the host resolved (IPv4 and IPv6, in the resolver's
//! order), each address tried in turn within one connect timeout. The client dials servers
//! with it, an MQTT bridge its broker.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Connects to the first address of `host` that accepts within `timeout` (shared by all of
/// them); returns the stream and the address.
pub(crate) fn connect(host: &str, port: u16, timeout: Duration) -> io::Result<(TcpStream, SocketAddr)> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    // A timeout too long to add to now is no deadline at all.
    let deadline = Instant::now().checked_add(timeout);
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address");
    for addr in addrs {
        let left = deadline.map_or(timeout, |d| d.saturating_duration_since(Instant::now()));
        if left.is_zero() {
            last = io::Error::new(io::ErrorKind::TimedOut, "connect timeout");
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(stream) => return Ok((stream, addr)),
            Err(e) => {
                log::debug!("{addr}: connect failed: {e}");
                last = e;
            }
        }
    }
    Err(last)
}

//! Opening the TCP connection: the host name resolved (IPv4 and IPv6, in the resolver's
//! order), each address tried in turn within one connect timeout.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::url::WsUrl;
use crate::error::Error;

/// Connects to the first address of `url`'s host that accepts within `timeout` (shared by
/// all of them).
pub(crate) fn dial(url: &WsUrl, timeout: Duration) -> Result<(TcpStream, SocketAddr), Error> {
    let host = format!("{}:{}", url.host, url.port);
    let failed = |source| Error::Connect { host: host.clone(), source };
    let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port).to_socket_addrs().map_err(failed)?.collect();
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
    Err(failed(last))
}

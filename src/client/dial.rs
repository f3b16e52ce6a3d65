//! Opening the TCP connection to a URL's host (`transport::dial`), with the client's error.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::url::WsUrl;
use crate::error::Error;
use crate::transport::dial;

/// Connects to the first address of `url`'s host that accepts within `timeout` (shared by
/// all of them).
pub(crate) fn dial(url: &WsUrl, timeout: Duration) -> Result<(TcpStream, SocketAddr), Error> {
    dial::connect(&url.host, url.port, timeout)
        .map_err(|source| Error::Connect { host: format!("{}:{}", url.host, url.port), source })
}

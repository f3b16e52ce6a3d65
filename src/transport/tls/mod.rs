//! TLS on rustls (feature `tls`): the session two loops share ([`TlsSession`]), the server's
//! and the client's configurations ([`ServerTls`], [`ClientTls`]), PEM loading, and rustls's
//! errors as [`TlsError`](crate::TlsError)s.
//!
//! The crypto provider is ring, chosen explicitly (never a process-wide default), so that a
//! program that also uses rustls elsewhere keeps its own choice.

mod client;
pub(crate) mod failure;
mod pem;
mod server;
mod session;

use std::sync::Arc;

pub use client::ClientTls;
pub use server::ServerTls;
pub(crate) use session::TlsSession;

/// The crypto provider of every syncws TLS configuration.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// ALPN: WebSockets run over HTTP/1.1 (a browser on an `https://` page offers `h2` too).
const ALPN_HTTP11: &[u8] = b"http/1.1";

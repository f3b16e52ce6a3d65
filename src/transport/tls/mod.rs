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

/// ALPN: WebSockets run over HTTP/1.1 (a browser on an `https://` page offers `h2` too).
const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The crypto provider of every syncws TLS configuration: ring, with ChaCha20-Poly1305 first
/// on CPUs without AES instructions (ARMv6 and ARMv7 boards, MIPS routers, and 64-bit ARM
/// cores without the crypto extension, such as the Raspberry Pi 4's), where AES-GCM runs in
/// constant-time software at several times ChaCha20's cost.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    if !aes_in_hardware() {
        provider.cipher_suites = chacha_first(&provider.cipher_suites);
    }
    Arc::new(provider)
}

/// Whether this CPU has AES and carry-less multiplication instructions (AES-GCM in hardware).
fn aes_in_hardware() -> bool {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    return std::arch::is_x86_feature_detected!("aes") && std::arch::is_x86_feature_detected!("pclmulqdq");
    #[cfg(target_arch = "aarch64")]
    return std::arch::is_aarch64_feature_detected!("aes")
        && std::arch::is_aarch64_feature_detected!("pmull");
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
    false
}

/// `suites` with the ChaCha20-Poly1305 ones first, the others in their order.
fn chacha_first(suites: &[rustls::SupportedCipherSuite]) -> Vec<rustls::SupportedCipherSuite> {
    let mut suites = suites.to_vec();
    suites.sort_by_key(|s| !is_chacha(s));
    suites
}

fn is_chacha(suite: &rustls::SupportedCipherSuite) -> bool {
    use rustls::CipherSuite as C;
    matches!(
        suite.suite(),
        C::TLS13_CHACHA20_POLY1305_SHA256
            | C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            | C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chacha_goes_first_and_the_rest_keeps_its_order() {
        let all = rustls::crypto::ring::default_provider().cipher_suites;
        let ordered = chacha_first(&all);
        assert_eq!(ordered.len(), all.len());
        let chachas = all.iter().filter(|s| is_chacha(s)).count();
        assert!(chachas >= 1);
        assert!(ordered[..chachas].iter().all(is_chacha));
        let rest: Vec<_> = all.iter().filter(|s| !is_chacha(s)).map(|s| s.suite()).collect();
        let ordered_rest: Vec<_> = ordered[chachas..].iter().map(|s| s.suite()).collect();
        assert_eq!(rest, ordered_rest);
        assert_eq!(ordered[0].suite(), rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256);
    }

    #[test]
    fn the_provider_follows_the_cpu() {
        let first = provider().cipher_suites[0];
        assert_eq!(is_chacha(&first), !aes_in_hardware());
    }
}

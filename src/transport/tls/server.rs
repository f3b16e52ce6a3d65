//! [`ServerTls`]: a server's certificate, key and (for mutual TLS) client CAs, reloadable while
//! the server runs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rustls::RootCertStore;
use rustls::server::{ServerConfig, WebPkiClientVerifier};

use super::pem::{self, Identity};
use super::{ALPN_HTTP11, aes_in_hardware, provider};
use crate::error::{Error, TlsError};

/// A server's TLS: its certificate chain and private key, and optionally the CAs whose client
/// certificates it requires (mutual TLS). Give it to [`Server::tls`](crate::Server::tls).
///
/// Clones share one configuration: keep a clone to [`reload`](ServerTls::reload) a renewed
/// certificate while the server runs. New connections use it; open ones keep theirs.
///
/// ```no_run
/// use syncws::{Config, Server, ServerTls};
///
/// let tls = ServerTls::from_pem_files("/etc/board/cert.pem", "/etc/board/key.pem")?;
/// let server = Server::new(Config::default()).tls(tls.clone()).bind("0.0.0.0:8443")?;
/// // Later, after the certificate files were renewed:
/// tls.reload()?;
/// # Ok::<(), syncws::Error>(())
/// ```
#[derive(Clone)]
pub struct ServerTls {
    inner: Arc<Inner>,
}

struct Inner {
    /// What new connections use.
    current: RwLock<Arc<ServerConfig>>,
    /// What it was built from, to build the next one.
    parts: Mutex<Parts>,
}

#[derive(Clone)]
struct Parts {
    identity: Identity,
    /// Where the identity came from, for [`ServerTls::reload`].
    files: Option<(PathBuf, PathBuf)>,
    /// Client certificates must be signed by one of these (mutual TLS).
    client_roots: Option<Arc<RootCertStore>>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts = self.inner.parts.lock().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("ServerTls")
            .field("chain_len", &parts.identity.chain.len())
            .field("files", &parts.files)
            .field("client_auth", &parts.client_roots.is_some())
            .finish()
    }
}

impl ServerTls {
    /// The certificate chain (leaf first) and private key in PEM files. The files are read
    /// now, and again by [`reload`](ServerTls::reload).
    ///
    /// # Errors
    /// [`Error::Tls`] with [`TlsError::Config`]: a file that cannot be read, has no PEM
    /// certificate or key, or a key that does not match the certificate.
    pub fn from_pem_files(cert_chain: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<ServerTls, Error> {
        let (cert_chain, key) = (cert_chain.as_ref().to_owned(), key.as_ref().to_owned());
        let identity = pem::identity_files(&cert_chain, &key)?;
        ServerTls::build(Parts { identity, files: Some((cert_chain, key)), client_roots: None })
    }

    /// The certificate chain (leaf first) and private key as PEM bytes.
    ///
    /// # Errors
    /// As [`from_pem_files`](ServerTls::from_pem_files).
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<ServerTls, Error> {
        ServerTls::build(Parts { identity: pem::identity(cert_chain, key)?, files: None, client_roots: None })
    }

    /// Requires every client to present a certificate signed by one of the CAs in `ca_pem`
    /// (mutual TLS); clients without one fail the handshake (alert `certificate_required`).
    ///
    /// # Errors
    /// [`TlsError::Config`] if `ca_pem` holds no usable CA certificate.
    pub fn require_client_cert(self, ca_pem: &[u8]) -> Result<ServerTls, Error> {
        let roots = pem::roots(ca_pem, "client CA")?;
        let mut parts = self.parts();
        parts.client_roots = Some(roots);
        // Installed in place: clones made before see it too.
        self.install(parts)?;
        Ok(self)
    }

    /// [`require_client_cert`](ServerTls::require_client_cert) with the CAs of a PEM file.
    ///
    /// # Errors
    /// [`TlsError::Config`] if the file cannot be read or holds no usable CA certificate.
    pub fn require_client_cert_file(self, ca: impl AsRef<Path>) -> Result<ServerTls, Error> {
        let pem = pem::read_file(ca.as_ref(), "client CA file")?;
        self.require_client_cert(&pem)
    }

    /// Reads the certificate and key files again (those given to
    /// [`from_pem_files`](ServerTls::from_pem_files)); new connections use them. On any error
    /// the server keeps the certificate it had. The client CAs of
    /// [`require_client_cert`](ServerTls::require_client_cert) stay as they were.
    ///
    /// # Errors
    /// [`TlsError::Config`] as for `from_pem_files`, or if this `ServerTls` was not made
    /// from files.
    pub fn reload(&self) -> Result<(), Error> {
        let mut parts = self.parts();
        let Some((cert, key)) = parts.files.clone() else {
            return Err(TlsError::Config("reload: this certificate was not loaded from files".into()).into());
        };
        parts.identity = pem::identity_files(&cert, &key)?;
        self.install(parts)
    }

    /// Replaces the certificate chain and key with PEM bytes; new connections use them. On any
    /// error the server keeps the certificate it had.
    ///
    /// # Errors
    /// As [`from_pem`](ServerTls::from_pem).
    pub fn reload_pem(&self, cert_chain: &[u8], key: &[u8]) -> Result<(), Error> {
        let mut parts = self.parts();
        parts.identity = pem::identity(cert_chain, key)?;
        parts.files = None;
        self.install(parts)
    }

    /// The configuration a new connection uses.
    pub(crate) fn config(&self) -> Arc<ServerConfig> {
        self.inner.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn parts(&self) -> Parts {
        self.inner.parts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn build(parts: Parts) -> Result<ServerTls, Error> {
        let config = server_config(&parts, None)?;
        Ok(ServerTls { inner: Arc::new(Inner { current: RwLock::new(config), parts: Mutex::new(parts) }) })
    }

    /// Builds from `parts` and makes it current, keeping the session cache (resumption
    /// survives a reload).
    fn install(&self, parts: Parts) -> Result<(), Error> {
        let config = server_config(&parts, Some(&self.config()))?;
        *self.inner.current.write().unwrap_or_else(|e| e.into_inner()) = config;
        *self.inner.parts.lock().unwrap_or_else(|e| e.into_inner()) = parts;
        Ok(())
    }
}

fn server_config(parts: &Parts, previous: Option<&ServerConfig>) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match &parts.client_roots {
        Some(roots) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider)
                .build()
                .map_err(|e| TlsError::Config(format!("client CA: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let Identity { chain, key } = parts.identity.clone();
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(format!("certificate and key: {e}")))?;
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    // Without AES instructions the server's CPU decides: ChaCha20-Poly1305 even for a client
    // (a browser with AES-NI, say) that would rather have AES-GCM.
    config.ignore_client_order = !aes_in_hardware();
    if let Some(previous) = previous {
        config.session_storage = previous.session_storage.clone();
    }
    Ok(Arc::new(config))
}

//! [`ClientTls`]: whom a client trusts, and the certificate it shows (mutual TLS).

use std::path::Path;
use std::sync::Arc;

use rustls::client::ClientConfig;
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, RootCertStore};

use super::pem::{self, Identity};
use super::{ALPN_HTTP11, TlsSession, provider};
use crate::error::{Error, TlsError};

/// Where the system keeps its CA bundle, by distribution; `SSL_CERT_FILE` comes first.
const SYSTEM_BUNDLES: &[&str] = &[
    // Debian, Ubuntu, Alpine, Arch, OpenWrt (ca-bundle), Buildroot, Yocto
    "/etc/ssl/certs/ca-certificates.crt",
    // Fedora, RHEL, CentOS
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    // openSUSE
    "/etc/ssl/ca-bundle.pem",
    // Alpine, BSDs, LibreSSL
    "/etc/ssl/cert.pem",
];

/// A client's TLS for `wss://` URLs: the roots it trusts and, for servers that require one,
/// its own certificate. Give it to [`ClientConfig::tls`](crate::ClientConfig::tls).
///
/// Without one, a `wss://` URL uses [`ClientTls::bundled_roots`]: the Mozilla roots compiled
/// into the binary (webpki-roots), because many boards have no CA store at all, or an old
/// one. They age with the firmware: a device that lives long should trust its own CA
/// ([`ClientTls::ca_file`]) or the system's ([`ClientTls::system_roots`]), which its OS
/// updates. The server's name (or IP address) from the URL is always checked against its
/// certificate.
///
/// ```no_run
/// use syncws::{Client, ClientConfig, ClientTls, Handler, Message, Session};
///
/// struct Print;
/// impl Handler for Print {
///     fn on_message(&mut self, _: &Session, message: Message) {
///         println!("{message:?}");
///     }
/// }
///
/// // A fleet's own CA, and this device's certificate for mutual TLS.
/// let tls = ClientTls::ca_file("/etc/board/fleet-ca.pem")?
///     .client_cert_files("/etc/board/device.pem", "/etc/board/device.key")?;
/// let config = ClientConfig::default().tls(tls);
/// let client = Client::new(config).connect("wss://fleet.example.com/devices", Print)?;
/// # Ok::<(), syncws::Error>(())
/// ```
#[derive(Clone)]
pub struct ClientTls {
    roots: Arc<RootCertStore>,
    identity: Option<Identity>,
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("roots", &self.roots.len())
            .field("client_cert", &self.identity.is_some())
            .finish()
    }
}

impl Default for ClientTls {
    /// [`ClientTls::bundled_roots`].
    fn default() -> Self {
        ClientTls::bundled_roots()
    }
}

impl ClientTls {
    /// Trusts the Mozilla roots compiled into the binary (webpki-roots; about 150 roots).
    pub fn bundled_roots() -> ClientTls {
        let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        ClientTls::with(Arc::new(roots), None).expect("the bundled roots make a valid configuration")
    }

    /// Trusts the system's CA bundle: the file named by `SSL_CERT_FILE`, else the first of the
    /// usual places that exists (`/etc/ssl/certs/ca-certificates.crt` on Debian, Alpine and
    /// OpenWrt with `ca-bundle`; Fedora's and openSUSE's bundles).
    ///
    /// # Errors
    /// [`TlsError::Config`] if there is none, or it holds no usable certificate.
    pub fn system_roots() -> Result<ClientTls, Error> {
        let from_env = std::env::var_os("SSL_CERT_FILE").map(std::path::PathBuf::from);
        let path = from_env
            .or_else(|| SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.is_file()).map(Path::to_owned))
            .ok_or_else(|| {
                TlsError::Config(format!("no system CA bundle (looked in {})", SYSTEM_BUNDLES.join(", ")))
            })?;
        ClientTls::ca_file(path)
    }

    /// Trusts only the CA certificates of a PEM file (a fleet's own CA, or a self-signed
    /// server's certificate).
    ///
    /// # Errors
    /// [`TlsError::Config`] if the file cannot be read or holds no usable CA certificate.
    pub fn ca_file(path: impl AsRef<Path>) -> Result<ClientTls, Error> {
        let path = path.as_ref();
        let pem = pem::read_file(path, "CA file")?;
        ClientTls::with(pem::roots(&pem, &path.display().to_string())?, None)
    }

    /// Trusts only the CA certificates of PEM bytes.
    ///
    /// # Errors
    /// [`TlsError::Config`] if they hold no usable CA certificate.
    pub fn ca_pem(pem: &[u8]) -> Result<ClientTls, Error> {
        ClientTls::with(pem::roots(pem, "CA")?, None)
    }

    /// Presents this certificate chain (leaf first) and key to servers that ask for one
    /// (mutual TLS).
    ///
    /// # Errors
    /// [`TlsError::Config`]: unreadable files, no certificate or key in them, or a key that
    /// does not match the certificate.
    pub fn client_cert_files(
        self,
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<ClientTls, Error> {
        let identity = pem::identity_files(cert_chain.as_ref(), key.as_ref())?;
        ClientTls::with(self.roots, Some(identity))
    }

    /// [`client_cert_files`](ClientTls::client_cert_files) with PEM bytes.
    ///
    /// # Errors
    /// As `client_cert_files`.
    pub fn client_cert_pem(self, cert_chain: &[u8], key: &[u8]) -> Result<ClientTls, Error> {
        ClientTls::with(self.roots, Some(pem::identity(cert_chain, key)?))
    }

    fn with(roots: Arc<RootCertStore>, identity: Option<Identity>) -> Result<ClientTls, Error> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_root_certificates(roots.clone());
        let mut config = match &identity {
            Some(Identity { chain, key }) => builder
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .map_err(|e| TlsError::Config(format!("client certificate and key: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
        Ok(ClientTls { roots, identity, config: Arc::new(config) })
    }

    /// A session to `host` (a name or an IP address, as in the URL).
    pub(crate) fn session(&self, host: &str) -> Result<TlsSession, TlsError> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| TlsError::Config(format!("{host:?} is not a valid TLS server name: {e}")))?;
        let connection =
            ClientConnection::new(self.config.clone(), name).map_err(|e| TlsError::Config(e.to_string()))?;
        Ok(TlsSession::new(connection.into()))
    }
}

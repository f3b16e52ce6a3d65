//! Certificates, keys and CAs from PEM files or bytes, with errors that say which.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::TlsError;

/// A certificate chain and its private key.
pub(crate) struct Identity {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity { chain: self.chain.clone(), key: self.key.clone_key() }
    }
}

/// Reads a whole file, naming it in the error.
pub(crate) fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path)
        .map_err(|e| TlsError::Config(format!("cannot read the {what} {}: {e}", path.display())))
}

/// The certificates of a PEM document, in order (a chain: the leaf first); at least one.
pub(crate) fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Config(format!("{what}: bad PEM: {e}")))?;
    if chain.is_empty() {
        return Err(TlsError::Config(format!("{what}: no CERTIFICATE in the PEM data")));
    }
    Ok(chain)
}

/// The private key of a PEM document (PKCS#8, PKCS#1 or SEC1).
pub(crate) fn private_key(pem: &[u8], what: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem)
        .map_err(|e| TlsError::Config(format!("{what}: no usable private key: {e}")))
}

/// A chain and key from PEM bytes.
pub(crate) fn identity(chain: &[u8], key: &[u8]) -> Result<Identity, TlsError> {
    Ok(Identity { chain: certificates(chain, "certificate")?, key: private_key(key, "key")? })
}

/// A chain and key from PEM files.
pub(crate) fn identity_files(chain: &Path, key: &Path) -> Result<Identity, TlsError> {
    let chain_pem = read_file(chain, "certificate file")?;
    let key_pem = read_file(key, "key file")?;
    Ok(Identity {
        chain: certificates(&chain_pem, &chain.display().to_string())?,
        key: private_key(&key_pem, &key.display().to_string())?,
    })
}

/// Trust anchors from the CA certificates of a PEM document; at least one must be usable.
pub(crate) fn roots(pem: &[u8], what: &str) -> Result<Arc<RootCertStore>, TlsError> {
    let mut store = RootCertStore::empty();
    let (added, _ignored) = store.add_parsable_certificates(certificates(pem, what)?);
    if added == 0 {
        return Err(TlsError::Config(format!("{what}: no usable CA certificate")));
    }
    Ok(Arc::new(store))
}

//! rustls's errors as syncws's typed [`TlsError`]s, and how they travel through `io::Error`.

use std::io;

use rustls::{CertificateError, Error as Rustls};

use crate::error::{CertificateProblem, TlsError};

/// The typed error for what rustls reported.
pub(crate) fn from_rustls(e: &Rustls) -> TlsError {
    match e {
        Rustls::InvalidCertificate(c) => TlsError::Certificate(problem(c)),
        Rustls::NoCertificatesPresented => TlsError::Certificate(CertificateProblem::Missing),
        Rustls::AlertReceived(alert) => TlsError::Alert(alert_name(&format!("{alert:?}"))),
        other => TlsError::Protocol(other.to_string()),
    }
}

fn problem(c: &CertificateError) -> CertificateProblem {
    use CertificateError as C;
    match c {
        C::Expired | C::ExpiredContext { .. } => CertificateProblem::Expired,
        C::NotValidYet | C::NotValidYetContext { .. } => CertificateProblem::NotYetValid,
        C::NotValidForName | C::NotValidForNameContext { .. } => CertificateProblem::WrongName,
        C::UnknownIssuer => CertificateProblem::UnknownIssuer,
        C::Revoked => CertificateProblem::Revoked,
        C::BadSignature => CertificateProblem::BadSignature,
        other => CertificateProblem::Other(format!("{other:?}")),
    }
}

/// `BadCertificate` as the RFC spells it: `bad_certificate` (and `UnknownCA`: `unknown_ca`).
fn alert_name(debug: &str) -> String {
    let mut name = String::with_capacity(debug.len() + 4);
    let mut after_lower = false;
    for c in debug.chars() {
        if c.is_ascii_uppercase() && after_lower {
            name.push('_');
        }
        after_lower = c.is_ascii_lowercase();
        name.push(c.to_ascii_lowercase());
    }
    name
}

/// A TLS failure as an `io::Error` (kind `InvalidData`), so that it can cross `Read` and
/// `Write`; `Error::from` turns it back into [`Error::Tls`](crate::Error::Tls).
pub(crate) fn io_error(e: TlsError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// The TLS failure an `io::Error` carries, if it carries one.
pub(crate) fn tls_failure(e: &io::Error) -> Option<&TlsError> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<TlsError>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_names_follow_the_rfc() {
        assert_eq!(alert_name("BadCertificate"), "bad_certificate");
        assert_eq!(alert_name("CertificateRequired"), "certificate_required");
        assert_eq!(alert_name("UnknownCA"), "unknown_ca");
        assert_eq!(alert_name("Unknown(200)"), "unknown(200)");
    }

    #[test]
    fn failures_cross_io_errors_and_come_back_typed() {
        let e = io_error(TlsError::NotTls);
        assert_eq!(tls_failure(&e), Some(&TlsError::NotTls));
        assert!(matches!(crate::Error::from(e), crate::Error::Tls(TlsError::NotTls)));
        let plain = io::Error::new(io::ErrorKind::InvalidData, "other");
        assert!(tls_failure(&plain).is_none());
        assert!(matches!(crate::Error::from(plain), crate::Error::Io(_)));
    }

    #[test]
    fn certificate_errors_map_to_problems() {
        let e = Rustls::InvalidCertificate(CertificateError::UnknownIssuer);
        assert_eq!(from_rustls(&e), TlsError::Certificate(CertificateProblem::UnknownIssuer));
        assert_eq!(
            from_rustls(&Rustls::NoCertificatesPresented),
            TlsError::Certificate(CertificateProblem::Missing)
        );
        let alert = Rustls::AlertReceived(rustls::AlertDescription::CertificateRequired);
        assert_eq!(from_rustls(&alert), TlsError::Alert("certificate_required".into()));
    }
}

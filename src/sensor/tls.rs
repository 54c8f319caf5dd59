//! STARTTLS for the sensor (RFC 3207): a rustls server configuration from a
//! PEM certificate chain and key, or a self-signed certificate generated at
//! start for development (`--self-signed`).

use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use std::{path::Path, sync::Arc};
use tokio_rustls::{rustls, TlsAcceptor};

/// Builds an acceptor from PEM files.
///
/// # Errors
/// A file cannot be read or holds no usable certificate/key, or they do not
/// match; the message names the file.
pub fn from_files(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("cannot read certificate {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read private key {}: {e}", key.display()))?;
    acceptor(certs, key)
}

/// A self-signed certificate for `hostname` (and `localhost`); returns the
/// acceptor and the certificate in PEM so clients can be told to trust it.
///
/// # Errors
/// Key generation fails.
pub fn self_signed(hostname: &str) -> Result<(TlsAcceptor, String), String> {
    let names = vec![hostname.to_string(), "localhost".to_string()];
    let ck = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot generate a self-signed certificate: {e}"))?;
    let pem = ck.cert.pem();
    let key = PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    Ok((acceptor(vec![ck.cert.der().clone()], key)?, pem))
}

fn acceptor(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<TlsAcceptor, String> {
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key do not form a usable TLS identity: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

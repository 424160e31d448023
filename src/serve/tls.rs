//! TLS for `kdrill serve`, with the OpenSSL kdrill already links: a PEM
//! certificate chain and a PEM private key, the key optionally encrypted
//! with a passphrase (which `main` reads as a secret). Every error names
//! the option.

use std::path::Path;

use openssl::pkey::PKey;
use openssl::ssl::{SslAcceptor, SslMethod};
use openssl::x509::X509;

/// Where the certificate and key are, and the key's passphrase if any
/// (no `Debug`: it holds the passphrase).
#[derive(Clone)]
pub struct TlsFiles<'a> {
    pub cert: &'a Path,
    pub key: &'a Path,
    pub passphrase: Option<&'a str>,
}

/// An acceptor with Mozilla's intermediate settings (TLS 1.2 and 1.3),
/// serving the certificate chain with its key; checked that they match.
pub fn acceptor(files: &TlsFiles) -> Result<SslAcceptor, String> {
    let cert_err = |why: String| format!("--tls-cert {}: {why}", files.cert.display());
    let key_err = |why: String| format!("--tls-key {}: {why}", files.key.display());
    let pem = std::fs::read(files.cert).map_err(|e| cert_err(format!("cannot read: {e}")))?;
    let mut chain =
        X509::stack_from_pem(&pem).map_err(|e| cert_err(format!("not a PEM certificate: {e}")))?.into_iter();
    let leaf = chain.next().ok_or_else(|| cert_err("not a PEM certificate: none in the file".into()))?;
    let pem = std::fs::read(files.key).map_err(|e| key_err(format!("cannot read: {e}")))?;
    // Always through the callback: without one OpenSSL would prompt on the
    // terminal for an encrypted key's passphrase.
    let key = PKey::private_key_from_pem_callback(&pem, |buf| {
        let Some(pass) = files.passphrase else { return Ok(0) };
        let pass = pass.as_bytes();
        let n = pass.len().min(buf.len());
        buf[..n].copy_from_slice(&pass[..n]);
        Ok(n)
    })
    .map_err(|_| {
        key_err(match files.passphrase {
            Some(_) => "not a PEM private key, or the passphrase (--tls-key-passphrase) is wrong".into(),
            None => "not a PEM private key, or encrypted (give --tls-key-passphrase)".into(),
        })
    })?;
    let mut builder =
        SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).map_err(|e| format!("cannot set up TLS: {e}"))?;
    builder.set_certificate(&leaf).map_err(|e| cert_err(e.to_string()))?;
    for extra in chain {
        builder.add_extra_chain_cert(extra).map_err(|e| cert_err(e.to_string()))?;
    }
    let mismatch = |e: openssl::error::ErrorStack| {
        key_err(format!("does not match the certificate of --tls-cert {} ({e})", files.cert.display()))
    };
    builder.set_private_key(&key).map_err(mismatch)?;
    builder.check_private_key().map_err(mismatch)?;
    Ok(builder.build())
}

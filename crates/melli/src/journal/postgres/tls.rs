//! TLS for the journal's connection, with libpq's `sslmode` meanings (PostgreSQL 15 §34.19.1):
//!
//! | sslmode | TLS | the server's certificate |
//! | --- | --- | --- |
//! | `disable` | never | — |
//! | `prefer` (the default) | when the server offers it, else plain | not checked |
//! | `require` | always | not checked |
//! | `verify-ca` | always | signed by the CA in `sslrootcert` |
//! | `verify-full` | always | signed by that CA, and names the host connected to |
//!
//! As in libpq, a root certificate given with `prefer` or `require` is checked as `verify-ca`
//! would, and `sslmode` means nothing on a Unix socket (there is no TLS on one; the kernel
//! already says who is at the other end). Unlike libpq, `verify-ca` and `verify-full` need
//! `sslrootcert` to be given: melli does not look for `~/.postgresql/root.crt`, whose absence
//! would otherwise turn into a confusing handshake failure on a station.
//!
//! The client crate knows only disable, prefer and require: the string's `sslmode` and
//! `sslrootcert` are taken out of it before the crate reads it (`url.rs`), and the certificate
//! check is this module's, through rustls.
//!
//! Without a certificate check (`prefer`, `require`) the connection is encrypted but a machine
//! in the middle could answer instead of the server. SCRAM's channel binding (which the client
//! uses whenever the server offers it over TLS) still refuses such a machine when the login is
//! by password, since it cannot prove knowledge of the password through its own certificate.

use std::fmt;
use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::display::escaped;

/// The largest `sslrootcert` file read: a CA certificate is a few kilobytes, a bundle of every
/// public CA a few hundred.
pub const MAX_ROOT_CERT_BYTES: u64 = 1024 * 1024;

/// libpq's `sslmode` values melli supports (`allow`, plain first and TLS only when refused,
/// is not one: it is never what a shared journal wants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    Disable,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    /// The value of `sslmode=`; `None` for one libpq does not know either.
    pub fn parse(value: &str) -> Option<SslMode> {
        Some(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// What the client crate is told: whether to ask for TLS and whether to insist. The check
    /// of the certificate is not its business but the verifier's.
    pub fn wire(self) -> ::postgres::config::SslMode {
        match self {
            SslMode::Disable => ::postgres::config::SslMode::Disable,
            SslMode::Prefer => ::postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                ::postgres::config::SslMode::Require
            }
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The TLS part of a connection string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsOptions {
    /// As the string said (`prefer` if it did not).
    pub mode: SslMode,
    /// `sslrootcert`: the CA certificates (PEM) the server's certificate must chain to.
    pub root_cert: Option<PathBuf>,
}

impl TlsOptions {
    /// Whether the server's certificate is checked against `sslrootcert`, and its host name.
    fn check(&self) -> (bool, bool) {
        match self.mode {
            SslMode::VerifyFull => (true, true),
            SslMode::VerifyCa => (true, false),
            // libpq: a root certificate, when there is one, is checked in these modes too.
            SslMode::Prefer | SslMode::Require => (self.root_cert.is_some(), false),
            SslMode::Disable => (false, false),
        }
    }
}

/// The TLS connector for a connection: a one-line reason (escaped, with what to do) when the
/// root certificate cannot be used.
pub fn connector(options: &TlsOptions) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match (options.check(), &options.root_cert) {
        ((true, check_name), Some(path)) => {
            let roots = Arc::new(read_root_cert(path)?);
            if check_name {
                WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| format!("cannot use sslrootcert {}: {e}", shown_path(path)))?
            } else {
                Arc::new(NameUnchecked {
                    roots: Some(roots),
                    provider: provider.clone(),
                })
            }
        }
        // `verify-*` without a root certificate is refused when the string is read.
        _ => Arc::new(NameUnchecked {
            roots: None,
            provider: provider.clone(),
        }),
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // PostgreSQL 17 checks the protocol name when a client gives one; older servers ignore it.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(MakeRustlsConnect::new(config))
}

/// The CA certificates of `sslrootcert`: a PEM file of at most [`MAX_ROOT_CERT_BYTES`] with at
/// least one certificate, each usable as a trust anchor.
fn read_root_cert(path: &Path) -> Result<RootCertStore, String> {
    let fail = |why: &str| {
        format!(
            "cannot use sslrootcert {}: {why} — give the CA certificate that signed the \
             server's, in PEM (-----BEGIN CERTIFICATE-----)",
            shown_path(path)
        )
    };
    let file = File::open(path).map_err(|e| fail(&e.to_string()))?;
    let meta = file.metadata().map_err(|e| fail(&e.to_string()))?;
    if !meta.is_file() {
        return Err(fail("not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_ROOT_CERT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(&e.to_string()))?;
    if bytes.len() as u64 > MAX_ROOT_CERT_BYTES {
        return Err(fail(&format!(
            "larger than {} KiB",
            MAX_ROOT_CERT_BYTES / 1024
        )));
    }
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| fail("not a PEM file"))?;
    if certs.is_empty() {
        return Err(fail("holds no certificate"));
    }
    let mut roots = RootCertStore::empty();
    for (i, cert) in certs.into_iter().enumerate() {
        roots
            .add(cert)
            .map_err(|e| fail(&format!("certificate {} is unusable ({e})", i + 1)))?;
    }
    Ok(roots)
}

fn shown_path(path: &Path) -> String {
    escaped(&path.display().to_string())
}

/// A certificate checked without its name: `verify-ca` (`roots`: it must chain to a root of
/// `sslrootcert` and be valid now), or `prefer` and `require` without a root certificate
/// (`None`: any certificate, as libpq takes it). Either way the handshake's signature is
/// checked against the certificate's key, as TLS requires.
#[derive(Debug)]
struct NameUnchecked {
    roots: Option<Arc<RootCertStore>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for NameUnchecked {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What failed in a TLS connection, said for the user with what to do, when `e` is a TLS
/// failure; `None` for any other error. `host` is the host name the certificate is checked
/// against (verify-full).
pub fn failure(options: &TlsOptions, host: Option<&str>, e: &::postgres::Error) -> Option<String> {
    let cause = std::error::Error::source(e)?;
    let cause_text = cause.to_string();
    if cause_text == "server does not support TLS" {
        return Some(format!(
            "the server does not offer TLS, and sslmode={} needs it — turn ssl on in the \
             server's postgresql.conf, or use sslmode=prefer to go without",
            options.mode
        ));
    }
    if cause_text == "no hostname provided for TLS handshake" {
        return Some(
            "TLS needs the server's host name, and the connection string gives only hostaddr \
             — add host=NAME"
                .to_string(),
        );
    }
    let rustls_error = cause
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())?;
    let root = options
        .root_cert
        .as_deref()
        .map(shown_path)
        .unwrap_or_default();
    let certificate =
        |problem: &str, todo: &str| format!("the server's certificate {problem} — {todo}");
    Some(match rustls_error {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => certificate(
                &format!("is not signed by the CA in sslrootcert ({root})"),
                "give the CA that signed it, or check that this is the journal's server",
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                certificate(
                    &format!(
                        "is not for the host {} (sslmode=verify-full checks the name)",
                        escaped(host.unwrap_or("?"))
                    ),
                    "connect by a name the certificate holds, or use sslmode=verify-ca",
                )
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => certificate(
                "has expired",
                "the server needs a new one (or this machine's clock is wrong)",
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                certificate(
                    "is not valid yet",
                    "check this machine's clock and the server's",
                )
            }
            CertificateError::Revoked => certificate("is revoked", "the server needs a new one"),
            other => certificate(
                &format!("cannot be accepted ({})", escaped(&format!("{other:?}"))),
                "check the server's certificate and sslrootcert",
            ),
        },
        rustls::Error::AlertReceived(alert) => format!(
            "the server broke off the TLS handshake ({}) — check its ssl settings and log",
            escaped(&format!("{alert:?}"))
        ),
        other => format!(
            "the TLS handshake failed: {} — check the server's ssl settings",
            escaped(&other.to_string())
        ),
    })
}

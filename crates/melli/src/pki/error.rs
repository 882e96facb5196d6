//! The error of issuing, loading and signing ([`PkiError`]).

use std::path::PathBuf;

/// Making or loading an issuer, issuing a certificate, signing a security object.
///
/// Every message is one line; file errors name the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file the issuer layout requires is not there.
    #[error("{}: missing (see the README of an issuer directory for its layout)", path.display())]
    Missing { path: PathBuf },
    /// An issuer directory of an older melli: every key in plain files, no configuration.
    #[error("{}: missing: this issuer directory was made by an older melli, with every key in plain files", path.display())]
    OldLayout { path: PathBuf },
    /// A file is there but its content is wrong.
    #[error("{}: {reason}", path.display())]
    BadFile { path: PathBuf, reason: String },
    /// `issuer init` was pointed at a directory that already holds something.
    #[error("{}: not empty; issuer init needs a new or empty directory", path.display())]
    NotEmpty { path: PathBuf },
    /// An operation needs the root CA's private key, which the issuer directory does not hold.
    #[error("{}: the root CA private key is not here; it is needed to {action}", path.display())]
    NoRootKey { path: PathBuf, action: &'static str },
    /// A caller-supplied value is unusable.
    #[error("{what}: {reason}")]
    InvalidInput { what: &'static str, reason: String },
    /// The same, refused by the library that was asked (an encoder, a key derivation).
    #[error("{what}: {source}")]
    Refused {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// DER encoding or decoding of a structure failed.
    #[error("ASN.1 encoding failed: {0}")]
    Encoding(#[from] der::Error),
    /// A public key could not be encoded or decoded.
    #[error("public key: {0}")]
    PublicKey(#[from] spki::Error),
    /// ECDSA signing failed.
    #[error("signing failed: {0}")]
    Signing(#[from] signature::Error),
    /// Building CMS SignedData failed.
    #[error("{0}")]
    Cms(#[from] super::signed_data::CmsError),
    /// A key store (an HSM token, encrypted key files) refused or failed; the message names
    /// the store and what to do.
    #[error("{0}")]
    Store(String),
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Random(rand_core::Error),
}

impl PkiError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            PkiError::Missing { path }
        } else {
            PkiError::Io { path, source }
        }
    }

    pub(crate) fn bad_file(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        PkiError::BadFile {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn refused(
        what: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        PkiError::Refused {
            what,
            source: Box::new(source),
        }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        PkiError::InvalidInput {
            what,
            reason: reason.into(),
        }
    }
}

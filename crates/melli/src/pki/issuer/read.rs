//! Certificates and keys read from files given on the command line.

use super::*;

/// Read a PEM or DER certificate file, naming the file in errors. Only a regular file of at
/// most `input::Kind::Certificate`'s size is read.
pub fn read_certificate(path: &Path) -> Result<Certificate, PkiError> {
    let bytes = read_certificate_file(path)?;
    cert::from_pem_or_der(&bytes)
        .map_err(|e| PkiError::bad_file(path, format!("not an X.509 certificate ({e})")))
}

pub(super) fn read_certificate_file(path: &Path) -> Result<Vec<u8>, PkiError> {
    use crate::input::{self, InputError, Kind};
    input::read(path, Kind::Certificate).map_err(|e| match e {
        InputError::Io { source, .. } => PkiError::io(path, source),
        InputError::NotRegular { found, .. } => {
            PkiError::bad_file(path, format!("not a regular file ({found})"))
        }
        InputError::TooLarge { size, cap, .. } => PkiError::bad_file(
            path,
            format!("{size} bytes is more than a certificate file may be ({cap} bytes at most)"),
        ),
    })
}

/// Read a trust anchor (`--trust ROOT.pem`): one PEM or DER certificate, self-issued (its
/// issuer is its subject). A PEM bundle of several certificates, or a CA certificate issued by
/// another (an intermediate such as the signing CA), is refused by what it is: melli trusts
/// one root, and takes intermediates from the signature or the card.
pub fn read_trust_anchor(path: &Path) -> Result<Certificate, PkiError> {
    let bytes = read_certificate_file(path)?;
    let pems = bytes
        .windows(b"-----BEGIN ".len())
        .filter(|w| *w == b"-----BEGIN ")
        .count();
    if pems > 1 {
        return Err(PkiError::bad_file(
            path,
            format!("holds {pems} PEM blocks (a bundle), melli trusts one root"),
        ));
    }
    let certificate = cert::from_pem_or_der(&bytes)
        .map_err(|e| PkiError::bad_file(path, format!("not an X.509 certificate ({e})")))?;
    let tbs = &certificate.tbs_certificate;
    if der::Encode::to_der(&tbs.subject)? != der::Encode::to_der(&tbs.issuer)? {
        return Err(PkiError::bad_file(
            path,
            format!(
                "\"{}\" is not a root certificate: it is issued by \"{}\"",
                crate::display::escaped_cut(&cert::label(&certificate), 256),
                crate::display::escaped_cut(&crate::pki::name::display_name(&tbs.issuer), 256)
            ),
        ));
    }
    Ok(certificate)
}

/// Read a plain master-key file (32 hex digits; mode 0600), as `melli card new --master-key`
/// takes it: a card factory's test key, not an issuer's.
pub fn read_master_key(path: &Path) -> Result<Zeroizing<[u8; MASTER_KEY_LEN]>, PkiError> {
    key_files::read_master_key_file(path, Protection::Plain)
}

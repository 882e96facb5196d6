//! CRLs (RFC 5280 §5): built from the database and signed through [`IssuerKey`], and read
//! from a verifier's files.

use std::time::{Duration, SystemTime};

use der::asn1::{BitString, OctetString};
use der::{Decode, Encode};
use p256::ecdsa::DerSignature;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::crl::CrlNumber;
use x509_cert::ext::pkix::AuthorityKeyIdentifier;
use x509_cert::ext::{AsExtension, Extension};
use x509_cert::serial_number::SerialNumber;
use x509_cert::Certificate;

use super::index::parse_time_text;
use super::{Database, Reason, ID_CE_CRL_REASONS};
use crate::pki::asn1::{self, ecdsa_sha256_algorithm};
use crate::pki::cert;
use crate::pki::error::PkiError;
use crate::pki::keys::IssuerKey;

impl Database {
    /// A CRL signed by `ca_cert`'s key `ca_key`, listing the revoked entries that `holders`
    /// selects (holder certificates for the signing CA, the others for the root), valid from
    /// `now` for `next_update`. DER.
    pub fn crl(
        &self,
        ca_cert: &Certificate,
        ca_key: &dyn IssuerKey,
        holders: bool,
        now: SystemTime,
        next_update: Duration,
    ) -> Result<Vec<u8>, PkiError> {
        let entries = self.entries()?;
        let mut revoked = Vec::new();
        for e in entries.iter().filter(|e| e.is_holder() == holders) {
            let Some((date, reason)) = &e.revoked else {
                continue;
            };
            let bytes = hex::decode(if e.serial.len() % 2 == 1 {
                format!("0{}", e.serial)
            } else {
                e.serial.clone()
            })
            .map_err(|_| PkiError::bad_file(self.path(), "a serial number that is not hex"))?;
            let dt = parse_time_text(date)
                .ok_or_else(|| PkiError::bad_file(self.path(), "a bad revocation date"))?;
            let extensions = match reason {
                None | Some(Reason::Unspecified) => None,
                Some(r) => Some(vec![Extension {
                    extn_id: ID_CE_CRL_REASONS,
                    critical: false,
                    extn_value: OctetString::new(r.code().to_der()?)?,
                }]),
            };
            revoked.push(RevokedCert {
                serial_number: SerialNumber::new(&bytes)?,
                revocation_date: asn1::x509_time_from(dt)?,
                crl_entry_extensions: extensions,
            });
        }
        let number = self.next_crl_number()?;
        let subject = &ca_cert.tbs_certificate.subject;
        let key_id = match cert::subject_key_identifier(ca_cert)? {
            Some(id) => id,
            None => cert::key_identifier(&ca_cert.tbs_certificate.subject_public_key_info)?,
        };
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(key_id)?),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        };
        let mut extensions = vec![aki.to_extension(subject, &[])?];
        let crl_number = CrlNumber(der::asn1::Uint::new(&number.to_be_bytes())?);
        extensions.push(crl_number.to_extension(subject, &extensions)?);
        let tbs = TbsCertList {
            version: x509_cert::Version::V2,
            signature: ecdsa_sha256_algorithm(),
            issuer: subject.clone(),
            this_update: asn1::x509_time(now)?,
            next_update: Some(asn1::x509_time(now + next_update)?),
            revoked_certificates: if revoked.is_empty() {
                None
            } else {
                Some(revoked)
            },
            crl_extensions: Some(extensions),
        };
        let signature: DerSignature = ca_key.try_sign(&tbs.to_der()?)?;
        let crl = CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: ecdsa_sha256_algorithm(),
            signature: BitString::from_bytes(signature.as_bytes())?,
        };
        Ok(crl.to_der()?)
    }
}

/// A CRL given to a verifier, with the name it is shown by.
#[derive(Debug, Clone)]
pub struct CrlInput {
    /// The file, as given (shown in messages).
    pub label: String,
    /// The CRL.
    pub crl: CertificateList,
}

/// A CRL that is not one a path's CAs signed: refused (bad input), with its reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CRL {label}: {reason}")]
pub struct CrlRefused {
    pub label: String,
    pub reason: String,
}

/// Parses a CRL (DER, or PEM `X509 CRL`).
pub fn parse_crl(bytes: &[u8]) -> Result<CertificateList, String> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let parsed = if bytes[start..].starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(&bytes[start..]).map_err(|_| "PEM that is not text")?;
        match der::pem::decode_vec(text.as_bytes()) {
            Ok(("X509 CRL", der)) => CertificateList::from_der(&der),
            Ok((label, _)) => return Err(format!("PEM of a {label}, not of an X509 CRL")),
            Err(e) => Err(der::Error::from(e)),
        }
    } else {
        CertificateList::from_der(bytes)
    };
    let crl = parsed.map_err(|e| format!("not a DER or PEM CRL ({e})"))?;
    if crl.tbs_cert_list.version != x509_cert::Version::V2 {
        return Err("not a version 2 CRL".into());
    }
    Ok(crl)
}

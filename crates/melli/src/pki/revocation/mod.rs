//! Revocation (RFC 5280 §5): the issuer's database of issued and revoked certificates, kept
//! in the format of `openssl ca`'s `index.txt`; CRLs built from it with `x509-cert`'s CRL
//! types and signed through [`IssuerKey`]; and the offline check of a certification path
//! against CRLs that `melli verify --crl` and `melli verify-signature --crl` make; online
//! (`--online`), each certificate's OCSP responder ([`ocsp`]) and CRL distribution point
//! ([`Sources`]).
//!
//! # `index.txt`
//!
//! One line per certificate, six tab-separated columns, as `openssl ca` writes them (so that
//! `openssl ocsp -index index.txt` can serve it):
//!
//! ```text
//! V|R  expiry (YYMMDDHHMMSSZ)  revocation date[,reason] (empty when V)  serial (hex)  file  subject (/C=IR/O=…/CN=…)
//! ```
//!
//! The fifth column, which `openssl ca` fills with `unknown`, holds `card-SERIAL` for a holder
//! certificate (the card it was issued for: what `melli issuer revoke --card` looks for) and
//! `unknown` for the issuer's own certificates. Holder certificates are on the signing CA's
//! CRL, every other entry (document signers, the signing CA) on the root's.
//!
//! Every writer takes an advisory lock (`flock`) on `index.txt.lock` first: an issued
//! certificate is appended (one `write` of one line, synced), a revocation rewrites the file
//! through a temporary file renamed over it. The CRL number is kept in `crlnumber` (hex, as
//! `openssl ca`), shared by both CRLs, and grows by one with each CRL.

use x509_cert::ext::pkix::CrlReason;

mod check;
mod crl;
mod index;
pub mod ocsp;
mod sources;

pub use check::{
    check_chains, check_chains_at, check_crls, check_path, crl_status, judge, path_certs,
    CertStatus, PathCert,
};
pub use crl::{parse_crl, CrlInput, CrlRefused};
pub use index::{oneline, Database, Entry};
pub use sources::{crl_url, ocsp_url, statuses, Sources, CRL_TYPE, MAX_CRL};

/// The database, in the issuer directory.
pub const INDEX: &str = "index.txt";
/// openssl's attributes of [`INDEX`]: `unique_subject = no`, since a holder whose card is
/// replaced, or a new document signer, has the same subject as before (without it `openssl
/// ocsp -index` and `openssl ca` refuse the index).
pub const INDEX_ATTR: &str = "index.txt.attr";
/// The lock every writer of [`INDEX`] and [`CRL_NUMBER`] takes.
pub const INDEX_LOCK: &str = "index.txt.lock";
/// The last CRL number issued, hex.
pub const CRL_NUMBER: &str = "crlnumber";
/// The name of the check `--crl` adds to a verdict.
pub const CHECK: &str = "revocation";

/// An RFC 5280 §5.3.1 reason code, by the names `openssl ca -crl_reason` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
}

impl Reason {
    const ALL: [Reason; 7] = [
        Reason::Unspecified,
        Reason::KeyCompromise,
        Reason::CaCompromise,
        Reason::AffiliationChanged,
        Reason::Superseded,
        Reason::CessationOfOperation,
        Reason::CertificateHold,
    ];

    /// The name, as openssl writes it (`keyCompromise`, …).
    pub fn name(self) -> &'static str {
        match self {
            Reason::Unspecified => "unspecified",
            Reason::KeyCompromise => "keyCompromise",
            Reason::CaCompromise => "CACompromise",
            Reason::AffiliationChanged => "affiliationChanged",
            Reason::Superseded => "superseded",
            Reason::CessationOfOperation => "cessationOfOperation",
            Reason::CertificateHold => "certificateHold",
        }
    }

    /// The reason named `s` (case-insensitive).
    pub fn parse(s: &str) -> Option<Reason> {
        Self::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(s))
    }

    pub(super) fn code(self) -> CrlReason {
        match self {
            Reason::Unspecified => CrlReason::Unspecified,
            Reason::KeyCompromise => CrlReason::KeyCompromise,
            Reason::CaCompromise => CrlReason::CaCompromise,
            Reason::AffiliationChanged => CrlReason::AffiliationChanged,
            Reason::Superseded => CrlReason::Superseded,
            Reason::CessationOfOperation => CrlReason::CessationOfOperation,
            Reason::CertificateHold => CrlReason::CertificateHold,
        }
    }
}

/// The name of a reason code read from a CRL.
pub(super) fn code_name(code: CrlReason) -> &'static str {
    match code {
        CrlReason::Unspecified => "unspecified",
        CrlReason::KeyCompromise => "keyCompromise",
        CrlReason::CaCompromise => "CACompromise",
        CrlReason::AffiliationChanged => "affiliationChanged",
        CrlReason::Superseded => "superseded",
        CrlReason::CessationOfOperation => "cessationOfOperation",
        CrlReason::CertificateHold => "certificateHold",
        CrlReason::RemoveFromCRL => "removeFromCRL",
        CrlReason::PrivilegeWithdrawn => "privilegeWithdrawn",
        CrlReason::AaCompromise => "AACompromise",
    }
}

/// id-ce-cRLReasons (RFC 5280 §5.3.1).
pub(super) const ID_CE_CRL_REASONS: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.21");

/// What `melli issuer revoke` revokes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every certificate issued for the card with this serial.
    Card(String),
    /// The certificate with this serial number (hex).
    Certificate(String),
    /// Every holder certificate of the person with this national code (the `serialNumber`
    /// of the holder certificate's subject), on whichever cards.
    NationalCode(String),
}

impl Target {
    fn matches(&self, e: &Entry) -> bool {
        match self {
            Target::Card(serial) => e.card() == Some(serial.as_str()),
            Target::NationalCode(code) => e.national_code() == Some(code.as_str()),
            Target::Certificate(hex) => {
                let norm = |s: &str| {
                    s.trim_start_matches("0x")
                        .trim_start_matches('0')
                        .to_ascii_uppercase()
                };
                norm(hex) == norm(&e.serial)
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Target::Card(s) => format!("certificate of card {s}"),
            Target::Certificate(s) => format!("certificate with serial number {s}"),
            Target::NationalCode(s) => format!("holder certificate of national code {s}"),
        }
    }
}

//! The security object (applets-spec §9): the SHA-256 of every readable data group, signed by
//! the issuer's document signer as CMS SignedData (RFC 5652) — the ICAO 9303 SOD idea.
//!
//! ```text
//! MelliSecurityObject ::= SEQUENCE {
//!     version              INTEGER (0),
//!     hashAlgorithm        AlgorithmIdentifier,          -- id-sha256, parameters absent
//!     cardSerial           UTF8String,
//!     dataGroupHashValues  SEQUENCE OF DataGroupHash }   -- DG 1, 2, 4, 5, 6 ascending
//! DataGroupHash ::= SEQUENCE {
//!     dataGroupNumber      INTEGER (1..6),
//!     dataGroupHashValue   OCTET STRING }
//! ```
//!
//! It travels as ContentInfo/SignedData version 3, eContentType
//! `2.25.224329670668073827233975672526393257656.1`, eContent the DER above, the document
//! signer certificate in `certificates`, one SignerInfo (issuerAndSerialNumber, sha256, signed
//! attributes contentType + messageDigest + signingTime, ecdsa-with-SHA256).
//!
//! [`SecurityObject::verify`] answers with a [`Verdict`] of separately named checks.

use std::collections::BTreeSet;
use std::time::SystemTime;

use super::keys::IssuerKey;
use der::asn1::OctetString;
use der::{DateTime, Decode, Encode, Sequence};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use super::asn1;
use super::chain::{self, LeafPurpose};
use super::error::PkiError;
use super::issuer::Issuer;
use super::signed_data::{self, CmsError, SignedDataView};
use super::verdict::{Check, Verdict};
use crate::spec;

/// Data groups the security object covers on every card: every readable one of version 1.0
/// (applets-spec §5, §9). DG3, the fingerprint template, is never readable and never covered.
pub const READABLE_DATA_GROUPS: [u8; 5] = [1, 2, 4, 5, 6];

/// Data groups a security object covers when the card has them: DG7, the authentication
/// certificate of a version 1.1 card (applets-spec §12.1).
pub const OPTIONAL_DATA_GROUPS: [u8; 1] = [7];

/// Length of a SHA-256 hash.
pub const HASH_LEN: usize = 32;

/// Check names of [`SecurityObject::verify`].
pub mod check {
    /// The structure parses.
    pub const FORMAT: &str = "security object format";
    /// The signature verifies over the signed attributes.
    pub const SIGNATURE: &str = "security object signature";
    /// messageDigest equals the SHA-256 of eContent.
    pub const MESSAGE_DIGEST: &str = "security object message digest";
    /// The document signer certificate chains to the trusted root and is valid.
    pub const DOCUMENT_SIGNER: &str = "document signer chain";
    /// cardSerial equals the card's serial.
    pub const CARD_SERIAL: &str = "card serial";
}

/// Short name of a data group, for check names ("DG2 photo").
pub fn data_group_name(number: u8) -> &'static str {
    match number {
        1 => "identity",
        2 => "photo",
        3 => "fingerprint",
        4 => "address",
        5 => "chip-authentication key",
        6 => "holder certificate",
        7 => "authentication certificate",
        _ => "unknown",
    }
}

/// Name of a data group's check in the verdict: "DG2 photo".
pub fn data_group_check_name(number: u8) -> String {
    format!("DG{number} {}", data_group_name(number))
}

/// `MelliSecurityObject` (applets-spec §9).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct MelliSecurityObject {
    /// Always 0.
    pub version: u8,
    /// id-sha256.
    pub hash_algorithm: AlgorithmIdentifierOwned,
    /// The card serial (GET DATA `DF01`).
    pub card_serial: String,
    /// One hash per readable data group, ascending.
    pub data_group_hash_values: Vec<DataGroupHash>,
}

/// `DataGroupHash` (applets-spec §9).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct DataGroupHash {
    /// 1..6.
    pub data_group_number: u8,
    /// SHA-256 of the data group's bytes.
    pub data_group_hash_value: OctetString,
}

/// Why a security object cannot be read (before any verification).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SoError {
    /// The CMS wrapper is malformed.
    #[error("{0}")]
    Cms(#[from] CmsError),
    /// eContentType is not the security object's OID.
    #[error("eContentType is {0}, not the melli security object")]
    WrongContentType(String),
    /// No eContent.
    #[error("no encapsulated MelliSecurityObject")]
    NoContent,
    /// eContent does not decode.
    #[error("MelliSecurityObject: {0}")]
    Content(String),
    /// eContent is not DER of a MelliSecurityObject.
    #[error("MelliSecurityObject: {0}")]
    ContentDer(#[source] der::Error),
}

/// Check the card serial's form (applets-spec §6.6: 1–16 of `0-9A-Z`).
fn check_serial(serial: &str) -> Result<(), String> {
    if serial.is_empty()
        || serial.len() > 16
        || !serial
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return Err(format!(
            "card serial {serial:?} is not 1-16 characters of 0-9 A-Z"
        ));
    }
    Ok(())
}

/// The eContent for `card_serial` and the readable data groups, which must be exactly
/// [`READABLE_DATA_GROUPS`] and any of [`OPTIONAL_DATA_GROUPS`], each once, in any order.
pub fn encode_content(card_serial: &str, data_groups: &[(u8, &[u8])]) -> Result<Vec<u8>, PkiError> {
    check_serial(card_serial).map_err(|r| PkiError::invalid("security object", r))?;
    let mut sorted: Vec<(u8, &[u8])> = data_groups.to_vec();
    sorted.sort_by_key(|(n, _)| *n);
    let numbers: Vec<u8> = sorted.iter().map(|(n, _)| *n).collect();
    let mandatory: Vec<u8> = numbers
        .iter()
        .copied()
        .filter(|n| !OPTIONAL_DATA_GROUPS.contains(n))
        .collect();
    let mut unique = numbers.clone();
    unique.dedup();
    if mandatory != READABLE_DATA_GROUPS || unique.len() != numbers.len() {
        return Err(PkiError::invalid(
            "security object",
            format!(
                "needs data groups {READABLE_DATA_GROUPS:?} (and optionally \
                 {OPTIONAL_DATA_GROUPS:?}) once each, got {numbers:?}"
            ),
        ));
    }
    let so = MelliSecurityObject {
        version: 0,
        hash_algorithm: asn1::sha256_algorithm(),
        card_serial: card_serial.to_owned(),
        data_group_hash_values: sorted
            .iter()
            .map(|(n, bytes)| {
                Ok(DataGroupHash {
                    data_group_number: *n,
                    data_group_hash_value: OctetString::new(Sha256::digest(bytes).as_slice())?,
                })
            })
            .collect::<Result<_, der::Error>>()?,
    };
    Ok(so.to_der()?)
}

/// Build and sign a security object (DER ContentInfo) with the document signer `key` /
/// `certificate`, signingTime `signing_time`.
pub fn build(
    card_serial: &str,
    data_groups: &[(u8, &[u8])],
    key: &dyn IssuerKey,
    certificate: &Certificate,
    signing_time: SystemTime,
) -> Result<Vec<u8>, PkiError> {
    let content = encode_content(card_serial, data_groups)?;
    Ok(signed_data::sign(
        &asn1::security_object_oid(),
        &content,
        true,
        key,
        certificate,
        std::slice::from_ref(certificate),
        signing_time,
        Vec::new(),
    )?)
}

impl Issuer {
    /// Sign a security object for `card_serial` over the readable data groups
    /// (`(number, bytes)` for DG 1, 2, 4, 5, 6) with the document signer, signingTime now.
    pub fn sign_security_object(
        &self,
        card_serial: &str,
        data_groups: &[(u8, &[u8])],
    ) -> Result<Vec<u8>, PkiError> {
        build(
            card_serial,
            data_groups,
            self.document_signer_key(),
            self.document_signer_certificate(),
            SystemTime::now(),
        )
    }
}

/// What a security object is verified against.
#[derive(Debug, Clone, Copy)]
pub struct VerifyInput<'a> {
    /// The trusted root certificate (`--trust ROOT.pem`).
    pub trusted_root: &'a Certificate,
    /// The card's serial as GET DATA `DF01` returned it.
    pub card_serial: &'a str,
    /// The readable data groups as read from the card: `(number, bytes)`.
    pub data_groups: &'a [(u8, &'a [u8])],
    /// When to check certificate validity (normally now).
    pub at: SystemTime,
}

/// A parsed security object.
#[derive(Debug, Clone)]
pub struct SecurityObject {
    view: SignedDataView,
    content: MelliSecurityObject,
}

impl SecurityObject {
    /// Parse the DER of a security object: CMS structure, eContentType, and the
    /// MelliSecurityObject (version 0, SHA-256, data groups 1..7 ascending, once each,
    /// 32-byte hashes). Signatures are not checked here.
    pub fn parse(der: &[u8]) -> Result<Self, SoError> {
        let view = SignedDataView::parse(der)?;
        if view.econtent_type() != &asn1::security_object_oid() {
            return Err(SoError::WrongContentType(view.econtent_type().to_string()));
        }
        let bytes = view.econtent().ok_or(SoError::NoContent)?;
        let content = MelliSecurityObject::from_der(bytes).map_err(SoError::ContentDer)?;
        if content.version != 0 {
            return Err(SoError::Content(format!(
                "version {} (only 0 is known)",
                content.version
            )));
        }
        if !asn1::is_sha256(&content.hash_algorithm) {
            return Err(SoError::Content(format!(
                "hash algorithm {} (only SHA-256)",
                content.hash_algorithm.oid
            )));
        }
        let mut previous = 0u8;
        for h in &content.data_group_hash_values {
            let n = h.data_group_number;
            if !(1..=7).contains(&n) {
                return Err(SoError::Content(format!(
                    "data group number {n} out of 1..7"
                )));
            }
            if n <= previous {
                return Err(SoError::Content(
                    "data groups not in ascending order or repeated".into(),
                ));
            }
            if h.data_group_hash_value.as_bytes().len() != HASH_LEN {
                return Err(SoError::Content(format!(
                    "DG{n} hash is {} bytes, not {HASH_LEN}",
                    h.data_group_hash_value.as_bytes().len()
                )));
            }
            previous = n;
        }
        Ok(SecurityObject { view, content })
    }

    /// The card serial the security object was made for.
    pub fn card_serial(&self) -> &str {
        &self.content.card_serial
    }

    /// `(data-group number, SHA-256)` pairs, ascending.
    pub fn data_group_hashes(&self) -> impl Iterator<Item = (u8, &[u8])> {
        self.content
            .data_group_hash_values
            .iter()
            .map(|h| (h.data_group_number, h.data_group_hash_value.as_bytes()))
    }

    /// The hash listed for data group `number`.
    pub fn hash_of(&self, number: u8) -> Option<&[u8]> {
        self.data_group_hashes()
            .find(|(n, _)| *n == number)
            .map(|(_, h)| h)
    }

    /// The decoded eContent.
    pub fn content(&self) -> &MelliSecurityObject {
        &self.content
    }

    /// The CMS layer.
    pub fn signed_data(&self) -> &SignedDataView {
        &self.view
    }

    /// The document signer certificate carried inside, if any.
    pub fn document_signer(&self) -> Option<&Certificate> {
        self.view.signer_certificate().ok()
    }

    /// The signingTime attribute, if present and well-formed.
    pub fn signing_time(&self) -> Option<DateTime> {
        self.view.signing_time().ok().flatten()
    }

    /// Verify against `input`. Checks, in order, each named (see [`check`]): signature,
    /// message digest, document signer chain, card serial, then one per data group
    /// ("DG2 photo"): its SHA-256 against the listed hash, a listed group not read, a read
    /// group not listed, and a readable group neither read nor listed all fail.
    pub fn verify(&self, input: &VerifyInput<'_>) -> Verdict {
        let mut v = Verdict::default();
        let signer = self.view.signer_certificate();

        v.push(match signer {
            Err(ref e) => Check::fail(check::SIGNATURE, e.to_string()),
            Ok(ds) => match self.view.verify_signature(ds) {
                Ok(()) => {
                    let when = self
                        .signing_time()
                        .map(|t| format!(", signed {}", asn1::date_time_string(&t)))
                        .unwrap_or_default();
                    Check::pass(
                        check::SIGNATURE,
                        format!(
                            "ecdsa-with-SHA256 by \"{}\" over the signed attributes{when}",
                            super::cert::label(ds)
                        ),
                    )
                }
                Err(e) => Check::fail(check::SIGNATURE, e.to_string()),
            },
        });

        v.push(match self.view.check_encapsulated_digest() {
            Ok(()) => Check::pass(check::MESSAGE_DIGEST, "matches the SHA-256 of the content"),
            Err(e) => Check::fail(check::MESSAGE_DIGEST, e.to_string()),
        });

        v.push(match signer {
            Err(ref e) => Check::fail(check::DOCUMENT_SIGNER, e.to_string()),
            // applets-spec §9: root -> document signer, nothing between. Certificates carried
            // in the SignedData are not offered as intermediates, so a holder certificate
            // (under the signing CA) can never pass for a document signer.
            Ok(ds) => {
                match chain::verify_path(
                    ds,
                    "document signer certificate",
                    LeafPurpose::DocumentSigner,
                    &[],
                    input.trusted_root,
                    input.at,
                ) {
                    Ok(path) => Check::pass(
                        check::DOCUMENT_SIGNER,
                        format!(
                            "{}; valid until {}",
                            path.labels().join(" <- "),
                            asn1::date_string(
                                &ds.tbs_certificate.validity.not_after.to_date_time()
                            )
                        ),
                    ),
                    Err(e) => Check::fail(check::DOCUMENT_SIGNER, e.to_string()),
                }
            }
        });

        v.push(if self.card_serial() == input.card_serial {
            Check::pass(check::CARD_SERIAL, self.card_serial().to_owned())
        } else {
            Check::fail(
                check::CARD_SERIAL,
                format!(
                    "the security object is for card {:?}, this card is {:?}",
                    self.card_serial(),
                    input.card_serial
                ),
            )
        });

        for check in self.data_group_checks(input.data_groups) {
            v.push(check);
        }
        v
    }

    fn data_group_checks(&self, data_groups: &[(u8, &[u8])]) -> Vec<Check> {
        let mut numbers: BTreeSet<u8> = READABLE_DATA_GROUPS.into_iter().collect();
        numbers.extend(self.data_group_hashes().map(|(n, _)| n));
        numbers.extend(data_groups.iter().map(|(n, _)| *n));
        numbers
            .into_iter()
            .map(|n| {
                let name = data_group_check_name(n);
                let mut read = data_groups.iter().filter(|(g, _)| *g == n);
                let (first, second) = (read.next(), read.next());
                match (self.hash_of(n), first, second) {
                    (_, Some(_), Some(_)) => Check::fail(name, "supplied twice"),
                    (Some(listed), Some((_, bytes)), None) => {
                        if Sha256::digest(bytes).as_slice() == listed {
                            Check::pass(name, "hash matches")
                        } else {
                            Check::fail(name, "hash mismatch")
                        }
                    }
                    (Some(_), None, _) if !READABLE_DATA_GROUPS.contains(&n) => Check::fail(
                        name,
                        "listed in the security object, but this group is never readable",
                    ),
                    (Some(_), None, _) => Check::fail(
                        name,
                        "listed in the security object but not read from the card",
                    ),
                    (None, Some(_), _) => Check::fail(name, "not covered by the security object"),
                    (None, None, _) => Check::fail(
                        name,
                        "neither covered by the security object nor read from the card",
                    ),
                }
            })
            .collect()
    }
}

/// Parse and verify in one step; a security object that does not parse gives a verdict with
/// the one failed check [`check::FORMAT`].
pub fn verify_security_object(der: &[u8], input: &VerifyInput<'_>) -> Verdict {
    match SecurityObject::parse(der) {
        Ok(so) => so.verify(input),
        Err(e) => Verdict {
            checks: vec![Check::fail(check::FORMAT, e.to_string())],
        },
    }
}

/// The readable data groups of a version 1.0 card according to `spec::ef` (for a test that
/// keeps [`READABLE_DATA_GROUPS`] in step with the spec). DG7, the authentication certificate
/// of version 1.1 (§12.1), is left out: a security object lists it only for a 1.1 card.
pub fn readable_data_groups_from_spec() -> Vec<u8> {
    spec::ef::ALL
        .iter()
        .filter(|(fid, _)| *fid != spec::ef::FINGERPRINT)
        .filter_map(|(fid, _)| spec::ef::data_group_number(*fid))
        .filter(|n| !OPTIONAL_DATA_GROUPS.contains(n))
        .collect()
}

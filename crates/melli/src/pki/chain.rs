//! A small certification-path checker after RFC 5280 §6.1, for the issuer PKI's shapes:
//! root → document signer, root → signing CA → holder.
//!
//! For every certificate of the path it checks the signature with the issuer's key
//! (ECDSA P-256 with SHA-256, §6.1.3 (a)(1)), issuer/subject name chaining (§6.1.3 (a)(4)),
//! validity at the given time (§6.1.3 (a)(2)), that each issuer is a CA (basicConstraints cA,
//! §6.1.4 (k)) allowed to sign certificates (keyUsage keyCertSign, §6.1.4 (n)) within its path
//! length (§6.1.4 (l), (m)), that no critical extension is left unprocessed (§6.1.4 (o),
//! §6.1.5 (f)), and that every certificate fits the profile of its role (applets-spec §9.3.6):
//! the trusted root and every CA on the path the CA profile, the end-entity the profile of its
//! [`LeafPurpose`]. Each profile is an allow list: a keyUsage bit or an extendedKeyUsage
//! purpose that the role does not name is refused, as is a keyUsage that is missing or not
//! critical. Revocation is not checked: the test PKI publishes no CRLs.
//!
//! Names are compared by their DER encoding, which is what a CA that copies its subject into
//! the issuer field (as this one and openssl do) produces; RFC 5280 §7.1's caseless matching is
//! not needed for that.

use std::time::SystemTime;

use der::{DateTime, Encode};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::Signature;
use x509_cert::Certificate;

use super::asn1;
use super::cert::{self, label};

mod profile;
use profile::check_ca_profile;
use profile::check_critical_extensions;
use profile::check_purpose;

/// Longest path accepted, trust anchor included.
pub const MAX_PATH_LEN: usize = 6;

/// What the end-entity certificate of a path must be good for; each is an allow list
/// (applets-spec §9.3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafPurpose {
    /// Signs security objects: basicConstraints absent or cA FALSE; keyUsage present,
    /// critical, exactly digitalSignature; no extendedKeyUsage. So a holder's certificate
    /// (nonRepudiation, documentSigning) or a TLS or OCSP responder certificate from the same
    /// root never passes for the issuer's document signer.
    DocumentSigner,
    /// A holder's document signatures: basicConstraints absent or cA FALSE; keyUsage present,
    /// critical, digitalSignature and/or nonRepudiation and nothing else; extendedKeyUsage
    /// present with documentSigning (RFC 9336), and emailProtection as the only other purpose
    /// allowed (so a document signer certificate, which has none, does not pass for a
    /// holder's, and neither does a TLS certificate).
    DocumentSignature,
    /// A holder's logins (DG7, §12.5): basicConstraints absent or cA FALSE; keyUsage present,
    /// critical, exactly digitalSignature; extendedKeyUsage present with clientAuth and nothing
    /// else (so the signing certificate never passes for a login certificate, nor the other way).
    ClientAuthentication,
    /// Nothing beyond the path itself (the CA profile still applies to the issuers).
    Any,
}

/// Where the profiles are written down, for messages.
const PROFILES: &str = "applets-spec §9.3.6";

/// Why a path does not verify. Every message names the certificate at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// notAfter is before the verification time.
    #[error("{what} expired on {}", asn1::date_string(.not_after))]
    Expired { what: String, not_after: DateTime },
    /// notBefore is after the verification time.
    #[error("{what} is not valid before {}", asn1::date_string(.not_before))]
    NotYetValid { what: String, not_before: DateTime },
    /// The path does not end at the trusted root.
    #[error("{what} is not issued by the trusted root \"{root}\": {reason}")]
    NotIssuedByRoot {
        what: String,
        root: String,
        reason: String,
    },
    /// The signature does not verify with the issuing CA's key.
    #[error("{what}: signature does not verify with the key of its issuer \"{issuer}\"")]
    BadSignature { what: String, issuer: String },
    /// The issuing certificate is not a CA.
    #[error("{what}: its issuer \"{issuer}\" is not a CA (basicConstraints cA is not true)")]
    IssuerNotCa { what: String, issuer: String },
    /// The issuing CA's keyUsage does not allow certificate signing.
    #[error(
        "{what}: its issuer \"{issuer}\" may not sign certificates (keyUsage lacks keyCertSign)"
    )]
    IssuerNoKeyCertSign { what: String, issuer: String },
    /// Too many CA certificates below a CA with a pathLenConstraint.
    #[error("{what}: the path length constraint of \"{issuer}\" is exceeded")]
    PathLenExceeded { what: String, issuer: String },
    /// Not ecdsa-with-SHA256, or a key that is not P-256.
    #[error("{what}: unsupported {item}")]
    Unsupported { what: String, item: String },
    /// A critical extension this checker does not process (RFC 5280 §4.2).
    #[error("{what}: unsupported critical extension {oid}")]
    UnknownCriticalExtension { what: String, oid: String },
    /// A structure that should decode does not.
    #[error("{what}: malformed: {reason}")]
    Malformed { what: String, reason: String },
    /// The same, with the decoder's error.
    #[error("{what}: malformed: {source}")]
    Undecodable {
        what: String,
        #[source]
        source: der::Error,
    },
    /// An item of a certificate (an extension) does not decode.
    #[error("{what}: malformed: {item}: {source}")]
    ItemUndecodable {
        what: String,
        item: String,
        #[source]
        source: der::Error,
    },
    /// The end-entity is a CA.
    #[error("{what} is a CA certificate, not an end-entity certificate")]
    LeafIsCa { what: String },
    /// keyUsage is missing, not critical, or names a usage the role does not allow.
    #[error("{what}: keyUsage {reason}")]
    WrongKeyUsage { what: String, reason: String },
    /// extendedKeyUsage is missing, or present where it should not be, or names a purpose
    /// the role does not allow.
    #[error("{what}: extendedKeyUsage {reason}")]
    WrongExtendedKeyUsage { what: String, reason: String },
    /// A CA's basicConstraints is missing, not critical, or has cA FALSE.
    #[error("{what}: basicConstraints {reason}")]
    WrongBasicConstraints { what: String, reason: String },
    /// More than [`MAX_PATH_LEN`] certificates.
    #[error("{what}: certification path is longer than {MAX_PATH_LEN} certificates")]
    TooLong { what: String },
}

/// A verified path, end-entity first, trusted root last.
#[derive(Debug, Clone)]
pub struct VerifiedPath {
    /// The certificates of the path, end-entity first, trusted root last.
    pub certificates: Vec<Certificate>,
}

impl VerifiedPath {
    /// The end-entity certificate.
    pub fn leaf(&self) -> &Certificate {
        &self.certificates[0]
    }

    /// Subject common names, end-entity first, for display ("A ← B ← root").
    pub fn labels(&self) -> Vec<String> {
        self.certificates.iter().map(label).collect()
    }
}

/// Verify that `leaf` chains to the trusted `root` at time `at`, through any of the
/// `untrusted` certificates (for example those carried in a CMS SignedData), and is good for
/// `purpose`. `leaf_what` names the leaf in messages ("document signer certificate").
pub fn verify_path(
    leaf: &Certificate,
    leaf_what: &str,
    purpose: LeafPurpose,
    untrusted: &[Certificate],
    root: &Certificate,
    at: SystemTime,
) -> Result<VerifiedPath, ChainError> {
    let root_what = format!("trusted root certificate \"{}\"", label(root));
    // The trust anchor's own signature and validity: catches a corrupted or stale root file.
    if !names_equal(&root.tbs_certificate.issuer, &root.tbs_certificate.subject) {
        return Err(ChainError::Malformed {
            what: root_what,
            reason: "not self-issued".into(),
        });
    }
    match check_signature(root, root, &root_what)? {
        true => {}
        false => {
            return Err(ChainError::BadSignature {
                what: root_what,
                issuer: label(root),
            })
        }
    }

    let path = build_path(leaf, leaf_what, untrusted, root)?;
    let whats: Vec<String> = path
        .iter()
        .enumerate()
        .map(|(i, c)| match i {
            0 => leaf_what.to_owned(),
            i if i + 1 == path.len() => root_what.clone(),
            _ => format!("CA certificate \"{}\"", label(c)),
        })
        .collect();

    // Top-down, as RFC 5280 §6.1 processes a path: the most fundamental fault is reported.
    for i in (0..path.len()).rev() {
        let (c, what) = (&path[i], &whats[i]);
        check_validity(c, what, at)?;
        check_critical_extensions(c, what)?;
        if i + 1 < path.len() {
            check_issuer_is_ca(&path[i + 1], &whats[i], i + 1)?;
        }
        if i == 0 {
            check_purpose(c, what, purpose)?;
        } else {
            check_ca_profile(c, what)?;
        }
    }
    Ok(VerifiedPath { certificates: path })
}

/// Check that `child` names `issuer` as its issuer and that its signature verifies with
/// `issuer`'s key; no time, no constraints. For consistency checks of an issuer directory.
pub fn verify_issued_by(
    child: &Certificate,
    child_what: &str,
    issuer: &Certificate,
) -> Result<(), ChainError> {
    if !names_equal(
        &child.tbs_certificate.issuer,
        &issuer.tbs_certificate.subject,
    ) {
        return Err(ChainError::NotIssuedByRoot {
            what: child_what.to_owned(),
            root: label(issuer),
            reason: format!(
                "its issuer is \"{}\"",
                super::name::display_name(&child.tbs_certificate.issuer)
            ),
        });
    }
    if check_signature(child, issuer, child_what)? {
        Ok(())
    } else {
        Err(ChainError::BadSignature {
            what: child_what.to_owned(),
            issuer: label(issuer),
        })
    }
}

/// Check `at` lies within the certificate's validity (RFC 5280 §4.1.2.5: both ends inclusive).
pub fn check_validity(cert: &Certificate, what: &str, at: SystemTime) -> Result<(), ChainError> {
    let v = &cert.tbs_certificate.validity;
    if at < v.not_before.to_system_time() {
        return Err(ChainError::NotYetValid {
            what: what.to_owned(),
            not_before: v.not_before.to_date_time(),
        });
    }
    if at > v.not_after.to_system_time() {
        return Err(ChainError::Expired {
            what: what.to_owned(),
            not_after: v.not_after.to_date_time(),
        });
    }
    Ok(())
}

fn build_path(
    leaf: &Certificate,
    leaf_what: &str,
    untrusted: &[Certificate],
    root: &Certificate,
) -> Result<Vec<Certificate>, ChainError> {
    let mut path = vec![leaf.clone()];
    loop {
        if path.len() >= MAX_PATH_LEN {
            return Err(ChainError::TooLong {
                what: leaf_what.to_owned(),
            });
        }
        let current = &path[path.len() - 1];
        let what = if path.len() == 1 {
            leaf_what.to_owned()
        } else {
            format!("CA certificate \"{}\"", label(current))
        };
        let issuer_name = &current.tbs_certificate.issuer;

        if names_equal(issuer_name, &root.tbs_certificate.subject) {
            if check_signature(current, root, &what)? {
                path.push(root.clone());
                return Ok(path);
            }
            let reason = match (
                cert::authority_key_identifier(current).ok().flatten(),
                cert::subject_key_identifier(root).ok().flatten(),
            ) {
                (Some(a), Some(s)) if a != s => {
                    "it names another key (authority key identifier differs from the root's)"
                }
                _ => "its signature does not verify with the root's key",
            };
            return Err(ChainError::NotIssuedByRoot {
                what,
                root: label(root),
                reason: reason.to_owned(),
            });
        }

        let candidates: Vec<&Certificate> = untrusted
            .iter()
            .filter(|c| names_equal(&c.tbs_certificate.subject, issuer_name))
            .filter(|c| !path.iter().any(|p| p == *c))
            .collect();
        if candidates.is_empty() {
            return Err(ChainError::NotIssuedByRoot {
                what,
                root: label(root),
                reason: format!(
                    "its issuer \"{}\" is neither the root nor among the certificates supplied",
                    super::name::display_name(issuer_name)
                ),
            });
        }
        let mut next = None;
        for c in &candidates {
            if check_signature(current, c, &what)? {
                next = Some((*c).clone());
                break;
            }
        }
        match next {
            Some(c) => path.push(c),
            None => {
                return Err(ChainError::BadSignature {
                    what,
                    issuer: label(candidates[0]),
                })
            }
        }
    }
}

/// Verify `child`'s signature with `issuer`'s public key: `Ok(false)` for a signature that
/// does not verify, `Err` for an unsupported algorithm or malformed input.
fn check_signature(
    child: &Certificate,
    issuer: &Certificate,
    what: &str,
) -> Result<bool, ChainError> {
    // RFC 5280 §4.1.1.2: signatureAlgorithm MUST equal tbsCertificate.signature.
    if child.signature_algorithm != child.tbs_certificate.signature {
        return Err(ChainError::Malformed {
            what: what.to_owned(),
            reason: "signatureAlgorithm differs from tbsCertificate.signature".into(),
        });
    }
    let alg = &child.signature_algorithm;
    if alg.oid != asn1::ECDSA_WITH_SHA256 || alg.parameters.is_some() {
        return Err(ChainError::Unsupported {
            what: what.to_owned(),
            item: format!("signature algorithm {} (only ecdsa-with-SHA256)", alg.oid),
        });
    }
    let key = cert::verifying_key(issuer).map_err(|_| ChainError::Unsupported {
        what: format!("issuer \"{}\"", label(issuer)),
        item: "public key (only P-256)".into(),
    })?;
    let Some(sig_bytes) = child.signature.as_bytes() else {
        return Ok(false);
    };
    let Ok(signature) = Signature::from_der(sig_bytes) else {
        return Ok(false);
    };
    let tbs = child
        .tbs_certificate
        .to_der()
        .map_err(|source| ChainError::Undecodable {
            what: what.to_owned(),
            source,
        })?;
    Ok(key.verify(&tbs, &signature).is_ok())
}

fn check_issuer_is_ca(
    issuer: &Certificate,
    child_what: &str,
    index: usize,
) -> Result<(), ChainError> {
    let malformed = |source: der::Error| ChainError::Undecodable {
        what: format!("issuer \"{}\"", label(issuer)),
        source,
    };
    let bc = cert::basic_constraints(issuer).map_err(malformed)?;
    let Some(bc) = bc.filter(|bc| bc.ca) else {
        return Err(ChainError::IssuerNotCa {
            what: child_what.to_owned(),
            issuer: label(issuer),
        });
    };
    if let Some(ku) = cert::key_usage(issuer).map_err(malformed)? {
        if !ku.key_cert_sign() {
            return Err(ChainError::IssuerNoKeyCertSign {
                what: child_what.to_owned(),
                issuer: label(issuer),
            });
        }
    }
    // CA certificates strictly between this issuer (at `index`) and the leaf (at 0).
    let below = index.saturating_sub(1);
    if let Some(max) = bc.path_len_constraint {
        if below > usize::from(max) {
            return Err(ChainError::PathLenExceeded {
                what: child_what.to_owned(),
                issuer: label(issuer),
            });
        }
    }
    Ok(())
}

fn names_equal(a: &x509_cert::name::Name, b: &x509_cert::name::Name) -> bool {
    match (a.to_der(), b.to_der()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

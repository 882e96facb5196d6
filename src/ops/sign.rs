//! Signing a document with the card (a citizen's job) and verifying such signatures.
//!
//! The file is hashed here as a stream; the signed attributes (content type, message digest,
//! signing time, signing-certificate-v2) are built here; the card signs their SHA-256 with
//! PSO: COMPUTE DIGITAL SIGNATURE; the result is a detached CMS SignedData (RFC 5652) carrying
//! the holder and signing-CA certificates read from the card.

use std::io::Read;
use std::path::Path;
use std::time::SystemTime;

use der::DateTime;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::Signature;
use sha2::{Digest, Sha256};

use super::read::split_certificate_path;
use crate::applet::{Applet, AppletError, PinError};
use crate::model::Secret;
use crate::pki::asn1::{self, RawOid};
use crate::pki::signed_data::{self, CmsError, SignedDataView};
use crate::pki::{cert, verify_path, Certificate, Check, HolderSubject, LeafPurpose, Verdict};
use crate::spec::ef;
use crate::transport::Transport;

/// Read buffer for hashing: large enough to be fast, small enough to never matter.
const HASH_BUFFER: usize = 1 << 20;

/// SHA-256 of a file, read in pieces: a 2 GB file never sits in memory.
pub fn hash_file(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; HASH_BUFFER];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher.finalize().into())
}

/// Why signing stopped.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(transparent)]
    Card(#[from] AppletError),
    #[error(transparent)]
    Pin(#[from] PinError),
    #[error("the card's certificates (DG6) are unusable: {0}")]
    Certificates(String),
    #[error("building the signature: {0}")]
    Cms(#[from] CmsError),
    #[error("the card's signature does not verify with its own certificate: the card and its certificate do not belong together")]
    Mismatch,
}

/// Signs a file's digest with the card behind `applet` after verifying `pin`; returns the DER
/// of a detached CMS SignedData.
pub fn sign_digest<T: Transport>(
    applet: &mut Applet<T>,
    pin: &Secret,
    content_digest: &[u8; 32],
    signing_time: SystemTime,
) -> Result<Vec<u8>, SignError> {
    let dg6 = applet.read_file(ef::HOLDER_CERT)?;
    let (holder, cas) = split_certificates(&dg6)?;
    let holder_key =
        cert::verifying_key(&holder).map_err(|e| SignError::Certificates(e.to_string()))?;
    let content_type = RawOid::from(asn1::ID_DATA);
    let attrs = signed_data::signed_attributes(
        &content_type,
        content_digest,
        signing_time,
        vec![signed_data::signing_certificate_v2(&holder)?],
    )?;
    let to_sign = signed_data::signed_attributes_der(&attrs)?;
    let digest: [u8; 32] = Sha256::digest(&to_sign).into();
    let mut verified = applet.verify_pin(pin)??;
    let raw = verified.sign_digest(&digest)?;
    let signature = Signature::from_slice(&raw).map_err(|_| SignError::Mismatch)?;
    // A card that signs with another key than its certificate's would make signatures that
    // nobody can verify: catch it here, not at the receiver.
    holder_key
        .verify(&to_sign, &signature)
        .map_err(|_| SignError::Mismatch)?;
    let mut certificates = vec![holder.clone()];
    certificates.extend(cas);
    Ok(signed_data::assemble(
        &content_type,
        None,
        &certificates,
        &holder,
        attrs,
        signature.to_der().as_bytes(),
    )?)
}

fn split_certificates(dg6: &[u8]) -> Result<(Certificate, Vec<Certificate>), SignError> {
    split_certificate_path(dg6).map_err(|e| SignError::Certificates(e.to_string()))
}

/// Names of the checks of a document signature, in the order they are made.
pub mod check {
    pub const FORMAT: &str = "signature format";
    pub const MESSAGE_DIGEST: &str = "message digest";
    pub const SIGNATURE: &str = "signature";
    pub const SIGNING_CERTIFICATE: &str = "signing certificate";
    pub const SIGNING_TIME: &str = "signing time";
    pub const CERTIFICATE_CHAIN: &str = "signer certificate chain";
}

/// Why the chain was checked at the time it was: there is no trusted timestamp yet, so at the
/// time of verification. A signer's own signingTime never takes its place.
pub const CHECKED_NOW: &str = "checked now: no trusted timestamp";

/// The time the signer's certificate chain was checked at, and why that time.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChainTime {
    /// The time, `YYYY-MM-DD HH:MM:SS UTC`.
    pub time: String,
    /// Why this time ([`CHECKED_NOW`]).
    pub reason: &'static str,
}

/// The outcome of verifying a document signature.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SignatureReport {
    pub verdict: Verdict,
    /// The signer as the certificate names them, when a certificate was found.
    pub signer: Option<HolderSubject>,
    /// The signingTime the signer put in the signature (UTC), when present and well-formed:
    /// a claim, shown as such, never used to judge the signature.
    pub claimed_signing_time: Option<String>,
    /// The time the signer's certificate chain was checked at, and why.
    pub chain_checked_at: ChainTime,
}

/// Verifies a detached CMS signature over content whose SHA-256 is `content_digest`: the
/// message digest, the signature, that signingCertificateV2 names the signer's certificate,
/// that signingTime (if any) is well-formed, and the signer's certificate path to `root`,
/// valid at `now` (the time of verification).
///
/// The signingTime the signer wrote is reported as a claim and never used to judge: a
/// signature made with the key of an expired card and dated back would otherwise verify
/// forever. Only a trusted RFC 3161 timestamp could stand in for `now`; there is none yet.
pub fn verify_signature(
    p7s: &[u8],
    content_digest: &[u8; 32],
    root: &Certificate,
    now: SystemTime,
) -> SignatureReport {
    let chain_checked_at = ChainTime {
        time: DateTime::from_system_time(now)
            .map(|t| asn1::date_time_string(&t))
            .unwrap_or_else(|_| "(a time before 1970 or after 9999)".into()),
        reason: CHECKED_NOW,
    };
    let mut verdict = Verdict::default();
    let view = match SignedDataView::parse(p7s) {
        Ok(view) => view,
        Err(e) => {
            verdict.push(Check::fail(check::FORMAT, e.to_string()));
            return SignatureReport {
                verdict,
                signer: None,
                claimed_signing_time: None,
                chain_checked_at,
            };
        }
    };
    verdict.push(Check::pass(check::FORMAT, "CMS SignedData with one signer"));
    verdict.push(match view.check_message_digest(content_digest) {
        Ok(()) => Check::pass(check::MESSAGE_DIGEST, "the file is the one that was signed"),
        Err(e) => Check::fail(
            check::MESSAGE_DIGEST,
            format!("{e}: the file was changed after signing, or is another file"),
        ),
    });
    let signer_cert = view.signer_certificate().ok().cloned();
    let signer = signer_cert
        .as_ref()
        .and_then(|c| HolderSubject::from_certificate(c).ok());
    let claimed = view.signing_time();
    match &signer_cert {
        None => {
            verdict.push(Check::fail(
                check::SIGNATURE,
                "the signer's certificate is not in the signature",
            ));
            verdict.push(Check::fail(
                check::SIGNING_CERTIFICATE,
                "no signer certificate",
            ));
        }
        Some(signer_cert) => {
            verdict.push(match view.verify_signature(signer_cert) {
                Ok(()) => Check::pass(
                    check::SIGNATURE,
                    "valid ECDSA P-256 signature by the certificate's key",
                ),
                Err(e) => Check::fail(check::SIGNATURE, e.to_string()),
            });
            verdict.push(match view.check_signing_certificate(signer_cert) {
                Ok(()) => Check::pass(
                    check::SIGNING_CERTIFICATE,
                    "signingCertificateV2 names the signer's certificate",
                ),
                Err(e) => Check::fail(
                    check::SIGNING_CERTIFICATE,
                    format!("{e}: the signature is not bound to the certificate it came with"),
                ),
            });
        }
    }
    verdict.push(match &claimed {
        Ok(Some(t)) => Check::pass(
            check::SIGNING_TIME,
            format!(
                "claimed by the signer: {} (a claim, not used to judge the signature)",
                asn1::date_time_string(t)
            ),
        ),
        Ok(None) => Check::pass(check::SIGNING_TIME, "the signer claims no signing time"),
        Err(e) => Check::fail(
            check::SIGNING_TIME,
            format!("{e}: a signature with a malformed signingTime is refused"),
        ),
    });
    verdict.push(match &signer_cert {
        None => Check::fail(check::CERTIFICATE_CHAIN, "no signer certificate"),
        Some(signer_cert) => match verify_path(
            signer_cert,
            "signer certificate",
            LeafPurpose::DocumentSignature,
            view.certificates(),
            root,
            now,
        ) {
            Ok(path) => Check::pass(
                check::CERTIFICATE_CHAIN,
                format!(
                    "{}; valid at {} ({CHECKED_NOW})",
                    path.labels().join(" <- "),
                    chain_checked_at.time
                ),
            ),
            Err(e) => Check::fail(check::CERTIFICATE_CHAIN, e.to_string()),
        },
    });
    SignatureReport {
        verdict,
        signer,
        claimed_signing_time: claimed.ok().flatten().map(|t| asn1::date_time_string(&t)),
        chain_checked_at,
    }
}

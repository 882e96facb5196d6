//! Signing a document with the card (a citizen's job) and verifying such signatures.
//!
//! The file is hashed here as a stream; the signed attributes (content type, message digest,
//! signing time, signing-certificate-v2) are built here; the card signs their SHA-256 with
//! PSO: COMPUTE DIGITAL SIGNATURE; the result is a detached CMS SignedData (RFC 5652) carrying
//! the holder and signing-CA certificates read from the card.

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;
use std::time::SystemTime;

use der::DateTime;
use sha2::{Digest, Sha256};

use super::read::{split_certificate_path, GroupError};
use crate::applet::{Applet, AppletError, CardSignatureError, CardSigner, PinCheckError, PinError};
use crate::input;
use crate::model::Secret;
use crate::pki::asn1::{self, RawOid};
use crate::pki::revocation::{self, CrlRefused};
use crate::pki::signed_data::{self, CmsError, SignedDataView};
use crate::pki::{cert, verify_path, Certificate, Check, HolderSubject, LeafPurpose, Verdict};
use crate::spec::ef;
use crate::transport::Transport;

/// Read buffer for hashing: large enough to be fast, small enough to never matter.
const HASH_BUFFER: usize = 1 << 20;

/// SHA-256 of a file, read in pieces: a 2 GB file never sits in memory. Only a regular file
/// is read (`input::open_regular`): `/dev/zero` would be read for ever and a FIFO could hold
/// the command; either is an `InvalidInput` error saying what it is.
pub fn hash_file(path: &Path) -> std::io::Result<[u8; 32]> {
    let (mut file, _) = input::open_regular(path, input::Kind::Document).map_err(|e| match e {
        input::InputError::Io { source, .. } => source,
        input::InputError::NotRegular { found, .. } => std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a regular file ({found})"),
        ),
        other => std::io::Error::new(std::io::ErrorKind::InvalidInput, other),
    })?;
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
    Certificates(#[source] GroupError),
    #[error("the card's certificates (DG6) are unusable: {0}")]
    HolderKey(#[source] spki::Error),
    /// The holder certificate's subject lacks a name the signature shows.
    #[error("the card's certificate (DG6) does not name its holder: {0}")]
    Subject(#[source] crate::pki::PkiError),
    #[error("building the signature: {0}")]
    Cms(#[from] CmsError),
    #[error("the card's signature does not verify with its own certificate: the card and its certificate do not belong together")]
    Mismatch,
    /// A hash to sign whose length is not its function's.
    #[error("a {function} hash is {expected} bytes, this one is {got}")]
    HashLength {
        function: &'static str,
        expected: usize,
        got: usize,
    },
}

impl From<PinCheckError> for SignError {
    fn from(e: PinCheckError) -> Self {
        match e {
            PinCheckError::Refused(pin) => SignError::Pin(pin),
            PinCheckError::Card(card) => SignError::Card(card),
        }
    }
}

/// Signs a file's digest with the card behind `applet` after verifying `pin`; returns the DER
/// of a detached CMS SignedData.
pub fn sign_digest<T: Transport>(
    applet: &mut Applet<T>,
    pin: &Secret,
    content_digest: &[u8; 32],
    signing_time: SystemTime,
) -> Result<Vec<u8>, SignError> {
    sign_digest_with(applet, pin, content_digest, Some(signing_time))
}

/// [`sign_digest`], with the signingTime attribute only when `signing_time` is given: a PDF
/// signature (PAdES) carries its time in the signature dictionary's `/M` instead.
pub fn sign_digest_with<T: Transport>(
    applet: &mut Applet<T>,
    pin: &Secret,
    content_digest: &[u8; 32],
    signing_time: Option<SystemTime>,
) -> Result<Vec<u8>, SignError> {
    let dg6 = applet.read_file(ef::HOLDER_CERT)?;
    let (holder, cas) = split_certificates(&dg6)?;
    let holder_key = cert::verifying_key(&holder).map_err(SignError::HolderKey)?;
    let content_type = RawOid::from(asn1::ID_DATA);
    let mut certificates = vec![holder.clone()];
    certificates.extend(cas);
    let parts = signed_data::Signing {
        econtent_type: &content_type,
        econtent: None,
        signer: &holder,
        certificates: &certificates,
        signing_time,
        extra: vec![signed_data::signing_certificate_v2(&holder)?],
    };
    // The card's key as a `signature::Signer`: the same path as an issuer's key in an HSM.
    let signer = CardSigner::new(applet.verify_pin(pin)?, holder_key);
    signed_data::sign_digest(&parts, content_digest, &signer).map_err(|e| {
        match signer.take_failure() {
            Some(CardSignatureError::Card(card)) => SignError::Card(card),
            Some(CardSignatureError::Mismatch) => SignError::Mismatch,
            None => SignError::Cms(e),
        }
    })
}

/// Who the card's holder certificate names, read without the PIN: what a visible PDF
/// signature shows (the names are the certificate's claim, to be shown escaped).
pub fn signer_subject<T: Transport>(applet: &mut Applet<T>) -> Result<HolderSubject, SignError> {
    let dg6 = applet.read_file(ef::HOLDER_CERT)?;
    let (holder, _) = split_certificates(&dg6)?;
    HolderSubject::from_certificate(&holder).map_err(SignError::Subject)
}

/// A hash function whose digest the signing key signs for a caller that hashed the document
/// itself (a Web eID `sign` request). The card takes 32 bytes as the hash value: a longer
/// digest is given as its leftmost 32 bytes, as FIPS 186-5 (§6.4.1) defines ECDSA over a
/// digest longer than the curve order — the signature is an ordinary ecdsa-with-SHA384 or
/// -SHA512 one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFunction {
    Sha256,
    Sha384,
    Sha512,
}

impl HashFunction {
    /// Every function [`sign_hash`] takes.
    pub const ALL: [HashFunction; 3] = [
        HashFunction::Sha256,
        HashFunction::Sha384,
        HashFunction::Sha512,
    ];

    /// The name as Web eID writes it: `SHA-256`, `SHA-384`, `SHA-512`.
    pub fn name(self) -> &'static str {
        match self {
            HashFunction::Sha256 => "SHA-256",
            HashFunction::Sha384 => "SHA-384",
            HashFunction::Sha512 => "SHA-512",
        }
    }

    /// The function of a name as Web eID writes it.
    pub fn from_name(name: &str) -> Option<HashFunction> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The digest's length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            HashFunction::Sha256 => 32,
            HashFunction::Sha384 => 48,
            HashFunction::Sha512 => 64,
        }
    }
}

/// The card's signing (holder) certificate: the first certificate of DG6.
pub fn signing_certificate<T: Transport>(applet: &mut Applet<T>) -> Result<Certificate, SignError> {
    let dg6 = applet.read_file(ef::HOLDER_CERT)?;
    Ok(split_certificates(&dg6)?.0)
}

/// Signs `hash`, a `function` digest computed by the caller, with the card's signing key after
/// verifying `pin`; returns the raw `r ‖ s` signature, checked against the key of
/// `certificate` (the card's signing certificate, from [`signing_certificate`]) before it is
/// returned. A hash of the wrong length is refused before the PIN is sent.
pub fn sign_hash<T: Transport>(
    applet: &mut Applet<T>,
    pin: &Secret,
    certificate: &Certificate,
    function: HashFunction,
    hash: &[u8],
) -> Result<[u8; 64], SignError> {
    if hash.len() != function.digest_len() {
        return Err(SignError::HashLength {
            function: function.name(),
            expected: function.digest_len(),
            got: hash.len(),
        });
    }
    let key = cert::verifying_key(certificate).map_err(SignError::HolderKey)?;
    let mut value = [0u8; 32];
    value.copy_from_slice(&hash[..32]);
    let raw = applet.verify_pin(pin)?.sign_digest(&value)?;
    let signature = p256::ecdsa::Signature::from_slice(&raw).map_err(|_| SignError::Mismatch)?;
    signature::hazmat::PrehashVerifier::verify_prehash(&key, hash, &signature)
        .map_err(|_| SignError::Mismatch)?;
    Ok(raw)
}

fn split_certificates(dg6: &[u8]) -> Result<(Certificate, Vec<Certificate>), SignError> {
    split_certificate_path(dg6).map_err(SignError::Certificates)
}

/// Names of the checks of a document signature, in the order they are made.
pub mod check {
    pub const FORMAT: &str = "signature format";
    pub const MESSAGE_DIGEST: &str = "message digest";
    pub const SIGNATURE: &str = "signature";
    pub const SIGNING_CERTIFICATE: &str = "signing certificate";
    pub const SIGNING_TIME: &str = "signing time";
    pub const CERTIFICATE_CHAIN: &str = "signer certificate chain";
    pub const TIMESTAMP: &str = super::super::timestamp::CHECK;
}

/// Why the chain was checked at the time it was: there is no trusted timestamp, so at the
/// time of verification. A signer's own signingTime never takes its place.
pub const CHECKED_NOW: &str = "checked now: no trusted timestamp";

/// Why the chain was checked at a trusted timestamp's genTime (the TSA's name follows).
pub const CHECKED_AT_TIMESTAMP: &str = "checked at the timestamp: trusted timestamp by";

/// The time the signer's certificate chain was checked at, and why that time.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChainTime {
    /// The time, `YYYY-MM-DD HH:MM:SS UTC`.
    pub time: String,
    /// Why this time: [`CHECKED_NOW`], or [`CHECKED_AT_TIMESTAMP`] and the TSA's name.
    pub reason: String,
}

/// How a signature file was wrapped around its DER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapping {
    /// DER, as `melli sign` writes it.
    Der,
    /// PEM (`-----BEGIN CMS-----` or `-----BEGIN PKCS7-----`) around the same DER.
    Pem,
}

/// Why a signature file is not a CMS signature melli reads: not a verdict on a signature, but
/// the wrong file, or the right signature in a form to convert first (the CLI exits with 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureFileError {
    /// An S/MIME mail message (multipart/signed or application/pkcs7-mime).
    #[error("an S/MIME message, not a CMS signature file")]
    Smime,
    /// BER with indefinite lengths (`openssl cms -sign -stream`); melli reads DER.
    #[error("a BER signature (indefinite lengths), not DER")]
    Ber,
    /// A PEM file of something else (a certificate, a key).
    #[error("a PEM file of {0}, not of a CMS signature")]
    OtherPem(String),
    /// PEM whose base64 or boundaries are broken.
    #[error("a damaged PEM signature ({0})")]
    BadPem(String),
    /// Text that is neither PEM nor S/MIME.
    #[error("not a CMS signature (text that is neither PEM nor S/MIME)")]
    Text,
    /// Bytes that are not a DER ContentInfo holding SignedData.
    #[error("not a CMS signature ({0})")]
    NotCms(#[source] NotCms),
}

impl SignatureFileError {
    /// What to do about a signature file at `path` (shown as given), the part of the message
    /// after the dash.
    pub fn remedy(&self, path: &str) -> String {
        match self {
            SignatureFileError::Smime => format!(
                "take the signature out of it with: openssl cms -cmsout -inform SMIME -in \
                 {path} -outform DER -out {path}.der"
            ),
            SignatureFileError::Ber => format!(
                "convert it with: openssl cms -cmsout -inform DER -in {path} -outform DER \
                 -out {path}.der"
            ),
            _ => "give the signature file (.p7s, DER or PEM)".into(),
        }
    }
}

/// Why bytes are not a CMS signature: the decoder's error where it had one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotCms {
    /// A ContentInfo of another content type.
    #[error("a CMS ContentInfo of {0}, not SignedData")]
    OtherContent(String),
    /// Not DER.
    #[error("DER: {0}")]
    Der(#[source] der::Error),
    /// A SignedData that cannot be taken apart.
    #[error("{0}")]
    SignedData(#[source] CmsError),
}

/// The DER of a CMS SignedData signature file, unwrapped from PEM if it is PEM; S/MIME, BER
/// and anything that is not a ContentInfo holding SignedData are refused, each by what it is.
pub fn signature_der(bytes: &[u8]) -> Result<(Cow<'_, [u8]>, Wrapping), SignatureFileError> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let trimmed = &bytes[start..];
    let (der, wrapping): (Cow<'_, [u8]>, Wrapping) = if trimmed.starts_with(b"-----BEGIN ") {
        let (label, der) = der::pem::decode_vec(trimmed).map_err(|e| {
            let label = pem_label(trimmed);
            if label == "CMS" || label == "PKCS7" {
                SignatureFileError::BadPem(e.to_string())
            } else {
                SignatureFileError::OtherPem(crate::display::escaped_cut(&label, 64))
            }
        })?;
        if label != "CMS" && label != "PKCS7" {
            return Err(SignatureFileError::OtherPem(crate::display::escaped_cut(
                label, 64,
            )));
        }
        (Cow::Owned(der), Wrapping::Pem)
    } else if is_mime_header(trimmed) {
        return Err(SignatureFileError::Smime);
    } else {
        (Cow::Borrowed(bytes), Wrapping::Der)
    };
    // A BER ContentInfo as `openssl cms -sign -stream` writes it: SEQUENCE, indefinite length.
    if der.starts_with(&[0x30, 0x80]) {
        return Err(SignatureFileError::Ber);
    }
    if let Err(e) = SignedDataView::parse(&der) {
        return Err(match e {
            CmsError::SignerCount(_) => return Ok((der, wrapping)),
            CmsError::NotSignedData(t) => SignatureFileError::NotCms(NotCms::OtherContent(t)),
            _ if wrapping == Wrapping::Der && is_text(&der) => SignatureFileError::Text,
            CmsError::Malformed(m) => SignatureFileError::NotCms(NotCms::Der(m)),
            other => SignatureFileError::NotCms(NotCms::SignedData(other)),
        });
    }
    Ok((der, wrapping))
}

fn pem_label(pem: &[u8]) -> String {
    let line = pem.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    line.trim()
        .trim_start_matches("-----BEGIN ")
        .trim_end_matches("-----")
        .to_string()
}

/// Whether `bytes` begin like a MIME message: a `MIME-Version:` or `Content-Type:` header.
fn is_mime_header(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(16)];
    [&b"mime-version:"[..], b"content-type:"]
        .iter()
        .any(|h| head.len() >= h.len() && head[..h.len()].eq_ignore_ascii_case(h))
}

/// UTF-8 text without NUL or other C0 controls than whitespace.
fn is_text(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes)
        .map(|s| {
            s.chars()
                .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        })
        .unwrap_or(false)
}

/// The "revocation" check of a signature's signer (`melli verify-signature --crl`,
/// `--online`): the signer's certificate and the CA certificates up to `root`, each by a
/// fresh status from `sources`. `None` when the signature has no signer certificate to check
/// (the verdict already fails for that).
pub fn signature_revocation(
    p7s: &[u8],
    root: &Certificate,
    sources: &revocation::Sources<'_>,
    now: SystemTime,
    allow_unknown: bool,
) -> Result<Option<Check>, CrlRefused> {
    signature_revocation_at(p7s, root, sources, now, None, allow_unknown)
}

/// [`signature_revocation`], for a signature proven to exist at `existed_at` (a trusted
/// timestamp's genTime, and words for it): a certificate revoked after it does not fail.
pub fn signature_revocation_at(
    p7s: &[u8],
    root: &Certificate,
    sources: &revocation::Sources<'_>,
    now: SystemTime,
    existed_at: Option<(SystemTime, &str)>,
    allow_unknown: bool,
) -> Result<Option<Check>, CrlRefused> {
    let Ok((der, _)) = signature_der(p7s) else {
        return Ok(None);
    };
    let Ok(view) = SignedDataView::parse(&der) else {
        return Ok(None);
    };
    let Ok(signer) = view.signer_certificate() else {
        return Ok(None);
    };
    // OCSP answers the signature carries (`melli sign --ocsp-embed`, RFC 5940) count too.
    let embedded = crate::pki::signed_data::ocsp_responses(view.signed_data());
    let sources = revocation::Sources {
        embedded: &embedded,
        ..*sources
    };
    revocation::check_chains_at(
        &[(signer, "signer certificate", view.certificates())],
        root,
        &sources,
        now,
        existed_at,
        allow_unknown,
    )
    .map(Some)
}

/// The outcome of verifying a document signature.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SignatureReport {
    pub verdict: Verdict,
    /// The signer as the certificate names them, when a certificate was found.
    pub signer: Option<HolderSubject>,
    /// The signer certificate's name (its common name, else the whole subject), when a
    /// certificate was found: verified only if the verdict passed.
    pub signer_name: Option<String>,
    /// The signingTime the signer put in the signature (UTC), when present and well-formed:
    /// a claim, shown as such, never used to judge the signature.
    pub claimed_signing_time: Option<String>,
    /// The time the signer's certificate chain was checked at, and why.
    pub chain_checked_at: ChainTime,
    /// The signature's timestamp token, when it carries a good one (trusted or not).
    pub timestamp: Option<TimestampSummary>,
    /// A trusted timestamp's genTime: the signature value existed then.
    #[serde(skip)]
    pub proven_at: Option<SystemTime>,
}

/// A signature's timestamp, for a report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TimestampSummary {
    /// genTime, `YYYY-MM-DD HH:MM:SS UTC`: a claim unless `trusted`.
    pub time: String,
    /// The TSA certificate's name.
    pub tsa: String,
    /// Whether the TSA chains to a trusted TSA root.
    pub trusted: bool,
}

impl SignatureReport {
    /// When the signature is proven to have existed (a trusted timestamp), and words for it
    /// ("the timestamp of DATE by TSA"), for the revocation check.
    pub fn existed_at(&self) -> Option<(SystemTime, String)> {
        let at = self.proven_at?;
        let ts = self.timestamp.as_ref()?;
        Some((at, format!("the timestamp of {} by {}", ts.time, ts.tsa)))
    }
}

/// Verifies a detached CMS signature (DER, or PEM around it; see [`signature_der`]) over
/// content whose SHA-256 is `content_digest`: a detached signature over id-data, the message
/// digest, the signature, that signingCertificateV2 names the signer's certificate (or,
/// without it, smimeEncryptionKeyPreference names it by issuer and serial number), that
/// signingTime (if any) is well-formed, and the signer's certificate path to `root`, valid at
/// `now` (the time of verification).
///
/// The signingTime the signer wrote is reported as a claim and never used to judge: a
/// signature made with the key of an expired card and dated back would otherwise verify
/// forever. Only a trusted RFC 3161 timestamp stands in for `now`: see
/// [`verify_timestamped_signature`]; here no TSA is trusted.
pub fn verify_signature(
    p7s: &[u8],
    content_digest: &[u8; 32],
    root: &Certificate,
    now: SystemTime,
) -> SignatureReport {
    verify_timestamped_signature(p7s, content_digest, root, &[], now)
}

fn time_text(t: SystemTime) -> String {
    DateTime::from_system_time(t)
        .map(|t| asn1::date_time_string(&t))
        .unwrap_or_else(|_| "(a time before 1970 or after 9999)".into())
}

/// [`verify_signature`], and the signature's timestamp token, when it carries one, as the
/// check "timestamp" (see [`super::timestamp::check_timestamp`]): FAIL when it is not a good
/// token over this signature's value; when its TSA chains to one of `tsa_anchors`, the
/// signer's certificate chain is checked at the token's genTime instead of `now` (a
/// certificate that expired after it stays valid, and the detail says so).
pub fn verify_timestamped_signature(
    p7s: &[u8],
    content_digest: &[u8; 32],
    root: &Certificate,
    tsa_anchors: &[Certificate],
    now: SystemTime,
) -> SignatureReport {
    let mut chain_checked_at = ChainTime {
        time: time_text(now),
        reason: CHECKED_NOW.into(),
    };
    let mut verdict = Verdict::default();
    let parsed = signature_der(p7s)
        .map_err(|e| e.to_string())
        .and_then(|(der, wrapping)| {
            SignedDataView::parse(&der)
                .map(|view| (view, wrapping))
                .map_err(|e| e.to_string())
        });
    let (view, wrapping) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            verdict.push(Check::fail(check::FORMAT, e));
            return SignatureReport {
                verdict,
                signer: None,
                signer_name: None,
                claimed_signing_time: None,
                chain_checked_at,
                timestamp: None,
                proven_at: None,
            };
        }
    };
    let id_data = RawOid::from(asn1::ID_DATA);
    verdict.push(if let Some(content) = view.econtent() {
        // Detached verification of a signature that carries content would either judge
        // content nobody looked at or ignore what was signed: refused.
        Check::fail(
            check::FORMAT,
            format!(
                "the signature carries the content it signs ({} bytes): verify-signature \
                 checks a detached signature against the file given — ask the signer for a \
                 detached signature",
                content.len()
            ),
        )
    } else if view.econtent_type() != &id_data {
        Check::fail(
            check::FORMAT,
            format!(
                "the signed content type is {}, not id-data ({}): a document signature is \
                 over data",
                view.econtent_type(),
                asn1::ID_DATA
            ),
        )
    } else {
        Check::pass(
            check::FORMAT,
            match wrapping {
                Wrapping::Der => "CMS SignedData with one signer",
                Wrapping::Pem => "CMS SignedData with one signer (PEM)",
            },
        )
    });
    verdict.push(match view.check_message_digest(content_digest) {
        Ok(()) => Check::pass(check::MESSAGE_DIGEST, "the file is the one that was signed"),
        Err(e @ CmsError::DigestMismatch { .. }) => Check::fail(
            check::MESSAGE_DIGEST,
            format!("{e}: the file was changed after signing, or is another file"),
        ),
        Err(e) => Check::fail(check::MESSAGE_DIGEST, e.to_string()),
    });
    let signer_cert = view.signer_certificate().ok().cloned();
    let signer = signer_cert
        .as_ref()
        .and_then(|c| HolderSubject::from_certificate(c).ok());
    let signer_name = signer_cert.as_ref().map(cert::label);
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
                Ok(binding) => Check::pass(check::SIGNING_CERTIFICATE, binding.detail()),
                Err(e) => Check::fail(
                    check::SIGNING_CERTIFICATE,
                    format!("{e}: the signature is not bound to the certificate it came with"),
                ),
            });
        }
    }
    verdict.push(match &claimed {
        Ok(Some(t)) => {
            let later = now
                .duration_since(SystemTime::UNIX_EPOCH)
                .is_ok_and(|n| t.unix_duration() > n);
            Check::pass(
                check::SIGNING_TIME,
                format!(
                    "claimed by the signer: {}{} (a claim, not used to judge the signature)",
                    asn1::date_time_string(t),
                    if later {
                        ", later than the time of verification"
                    } else {
                        ""
                    }
                ),
            )
        }
        Ok(None) => Check::pass(check::SIGNING_TIME, "the signer claims no signing time"),
        Err(e) => Check::fail(
            check::SIGNING_TIME,
            format!("{e}: a signature with a malformed signingTime is refused"),
        ),
    });
    let timestamp = super::timestamp::check_timestamp(&view, tsa_anchors, now);
    let mut chain_at = now;
    let mut proven_at = None;
    if let Some(ts) = &timestamp {
        verdict.push(ts.check.clone());
        if let Some(trusted) = &ts.trusted {
            chain_at = trusted.at;
            proven_at = Some(trusted.at);
            chain_checked_at = ChainTime {
                time: trusted.text.clone(),
                reason: format!("{CHECKED_AT_TIMESTAMP} {}", trusted.tsa),
            };
        }
    }
    verdict.push(match &signer_cert {
        None => Check::fail(check::CERTIFICATE_CHAIN, "no signer certificate"),
        Some(signer_cert) => match verify_path(
            signer_cert,
            "signer certificate",
            LeafPurpose::DocumentSignature,
            view.certificates(),
            root,
            chain_at,
        ) {
            Ok(path) => Check::pass(
                check::CERTIFICATE_CHAIN,
                format!(
                    "{}; valid at {} ({}){}",
                    path.labels().join(" <- "),
                    chain_checked_at.time,
                    chain_checked_at.reason,
                    expired_since(&path, chain_at, now)
                ),
            ),
            Err(e) => Check::fail(check::CERTIFICATE_CHAIN, e.to_string()),
        },
    });
    SignatureReport {
        verdict,
        signer,
        signer_name,
        claimed_signing_time: claimed.ok().flatten().map(|t| asn1::date_time_string(&t)),
        chain_checked_at,
        timestamp: timestamp.and_then(|ts| {
            Some(TimestampSummary {
                time: ts.claimed?,
                tsa: ts.tsa?,
                trusted: ts.trusted.is_some(),
            })
        }),
        proven_at,
    }
}

/// For a path checked at a timestamp's time `at`: the certificates of it that have expired
/// since, by `now` (`; the signer certificate expired on DATE, after the timestamp`).
fn expired_since(path: &crate::pki::VerifiedPath, at: SystemTime, now: SystemTime) -> String {
    if at == now {
        return String::new();
    }
    path.certificates
        .iter()
        .filter(|c| c.tbs_certificate.validity.not_after.to_system_time() < now)
        .map(|c| {
            format!(
                "; \"{}\" expired on {}, after the timestamp",
                cert::label(c),
                asn1::date_time_string(&c.tbs_certificate.validity.not_after.to_date_time())
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_files_in_other_forms_are_named_for_what_they_are() {
        let err = |bytes: &[u8]| signature_der(bytes).expect_err("refused");
        assert_eq!(
            err(b"MIME-Version: 1.0\r\nContent-Type: multipart/signed\r\n"),
            SignatureFileError::Smime
        );
        assert_eq!(
            err(b"\ncontent-type: application/pkcs7-mime\r\n"),
            SignatureFileError::Smime
        );
        assert_eq!(
            err(&[0x30, 0x80, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02]),
            SignatureFileError::Ber
        );
        assert_eq!(
            err(b"# README\n\nnot a signature\n"),
            SignatureFileError::Text
        );
        assert_eq!(
            err(b"-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n"),
            SignatureFileError::OtherPem("CERTIFICATE".into())
        );
        assert!(matches!(
            err(b"-----BEGIN CMS-----\n!!!!\n-----END CMS-----\n"),
            SignatureFileError::BadPem(_)
        ));
        // PEM is unwrapped, then judged as its DER.
        assert!(matches!(
            err(b"-----BEGIN CMS-----\nMAMCAQA=\n-----END CMS-----\n"),
            SignatureFileError::NotCms(_)
        ));
        assert!(matches!(
            err(&[0x30, 0x03, 0x02, 0x01, 0x00]),
            SignatureFileError::NotCms(_)
        ));
        assert_eq!(
            SignatureFileError::Ber.remedy("x.p7s"),
            "convert it with: openssl cms -cmsout -inform DER -in x.p7s -outform DER -out x.p7s.der"
        );
    }

    #[test]
    fn documents_that_are_no_files_are_not_read() {
        let err = hash_file(Path::new("/dev/zero")).expect_err("a device");
        assert_eq!(err.to_string(), "not a regular file (a device)");
        let err = hash_file(Path::new("/nonexistent/x")).expect_err("missing");
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }

    /// The card's key behind its PIN is a `signature::Signer` + `Keypair`: the generic CMS
    /// signer signs with it as with a key in memory, and what it makes verifies, while a card
    /// whose certificate certifies another key is caught before anything is returned.
    #[test]
    fn the_card_signs_through_the_generic_signer() {
        use crate::model::{SecretKind, ValidRecord};
        use crate::pki::Issuer;
        use crate::test_cards::{blank_card, InProcessCard};
        use signature::{Keypair, Signer};

        let dir = tempfile::tempdir().expect("tempdir");
        let issuer = Issuer::init_plain(&dir.path().join("issuer")).expect("issuer");
        let record = ValidRecord::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/records/valid-1.json"
        )))
        .expect("record");
        let pin = Secret::parse(SecretKind::Pin, "123456").expect("pin");
        let puk = Secret::parse(SecretKind::Puk, "12345678").expect("puk");
        let mut applet = Applet::select(InProcessCard::new(blank_card(&issuer, "MC0000000077")))
            .expect("select");
        crate::ops::personalize::personalize(
            &mut applet,
            &record,
            &issuer,
            &pin,
            &puk,
            &mut |_| {},
        )
        .expect("personalized");
        let dg6 = applet.read_file(ef::HOLDER_CERT).expect("DG6");
        let (holder, _) = split_certificates(&dg6).expect("path");
        let public = cert::verifying_key(&holder).expect("key");

        let signer = CardSigner::new(applet.verify_pin(&pin).expect("PIN"), public);
        assert_eq!(signer.verifying_key(), public);
        let signature: p256::ecdsa::DerSignature = signer.try_sign(b"a message").expect("signed");
        let signature = p256::ecdsa::Signature::from_der(signature.as_bytes()).expect("DER");
        signature::Verifier::verify(&public, b"a message", &signature).expect("verifies");
        let cms = signed_data::sign(
            &RawOid::from(asn1::ID_DATA),
            b"a document",
            false,
            &signer,
            &holder,
            std::slice::from_ref(&holder),
            SystemTime::now(),
            Vec::new(),
        )
        .expect("a CMS signature made by the card");
        let view = SignedDataView::parse(&cms).expect("parses");
        view.verify_signature(&holder)
            .expect("the card's CMS signature verifies");
        drop(signer);

        // Told another key than the one it holds, the signer refuses to return the signature.
        let other = *p256::ecdsa::SigningKey::random(&mut rand_core::OsRng).verifying_key();
        let liar = CardSigner::new(applet.verify_pin(&pin).expect("PIN"), other);
        assert!(liar.try_sign(b"a message").is_err());
        assert!(matches!(
            liar.take_failure(),
            Some(CardSignatureError::Mismatch)
        ));
    }
}

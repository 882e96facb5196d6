//! A timestamp token on its own (RFC 3161 §2.4.2): what it timestamps, when, and who signed it.

use std::time::{Duration, SystemTime};

use der::asn1::{Int, OctetString};
use der::{DateTime, Decode, Encode, Sequence, Tagged};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::Certificate;

use super::tst_info::TstInfo;
use super::{ID_AA_SIGNING_CERTIFICATE, ID_CT_TST_INFO};
use crate::pki::asn1;
use crate::pki::cert;
use crate::pki::chain::{self, ChainError, LeafPurpose};
use crate::pki::signed_data::{CmsError, IssuerSerial, SignedDataView};

/// How far in the future of the verifier's clock a genTime may lie (clocks drift).
pub const CLOCK_SLACK: Duration = Duration::from_secs(300);

/// Why a token is not a good timestamp of a signature. One line each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a CMS SignedData with one signer.
    #[error("the token is not a CMS SignedData: {0}")]
    NotSignedData(#[source] CmsError),
    /// A SignedData of something else than TSTInfo.
    #[error("the token holds {0}, not a TSTInfo (id-ct-TSTInfo)")]
    NotTstInfo(String),
    /// The TSTInfo is absent or does not decode.
    #[error("the token's TSTInfo is malformed: {0}")]
    TstInfo(String),
    /// The imprint is not SHA-256.
    #[error("the token's message imprint uses {0}, not SHA-256")]
    ImprintAlgorithm(String),
    /// The token timestamps other data than this signature's value.
    #[error(
        "the token timestamps other data (imprint {token}), not this signature's value \
         (SHA-256 {expected})"
    )]
    OtherData { token: String, expected: String },
    /// The nonce is not the one asked for.
    #[error("the token's nonce is not the one sent: an answer to another request, or replayed")]
    Nonce,
    /// The TSA's certificate is not in the token.
    #[error("the TSA's certificate is not in the token")]
    TsaCertificateMissing,
    /// The TSA's signature over the TSTInfo does not verify.
    #[error("the TSA's signature does not verify: {0}")]
    BadSignature(#[source] CmsError),
    /// No signingCertificate(V2) attribute, or one naming another certificate.
    #[error("the token's signing-certificate attribute {0}")]
    SigningCertificate(String),
    /// The TSA's certificate is not a TSA's.
    #[error("{0}")]
    Profile(#[source] ChainError),
    /// The TSTInfo's tsa field names another TSA than the certificate.
    #[error("the TSTInfo names the TSA \"{named}\", its certificate is of \"{certificate}\"")]
    TsaName { named: String, certificate: String },
    /// genTime lies ahead of the verifier's clock.
    #[error("the token's genTime {0} is in the future")]
    Future(String),
}

/// What a token that passed [`verify_token`] says.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// genTime: when the TSA says the signature value existed, rounded up to the whole
    /// second (see [`super::tst_info::GenTime::to_system_time_ceil`]).
    pub gen_time: SystemTime,
    /// genTime as `YYYY-MM-DD HH:MM:SS[.fff] UTC`, as the TSA wrote it.
    pub gen_time_text: String,
    /// The TSA's certificate (the token's signer).
    pub tsa_certificate: Certificate,
    /// Every certificate the token carries (for the TSA's chain).
    pub certificates: Vec<Certificate>,
    /// The TSA certificate's name, for messages (not escaped).
    pub tsa_name: String,
    /// The token's serial number, hex.
    pub serial: String,
    /// The TSA's policy.
    pub policy: String,
}

/// Checks `token` (the DER of a ContentInfo) as a timestamp of `signature_value` at `now`:
/// a SignedData of a TSTInfo whose imprint is the SHA-256 of `signature_value`, with `nonce`
/// when given (a fresh reply), signed by the certificate it carries and names in its
/// signingCertificateV2 (or signingCertificate) attribute, which has extendedKeyUsage
/// id-kp-timeStamping alone and critical; genTime no later than `now` (with
/// [`CLOCK_SLACK`]). Whether that certificate is trusted is [`super::trust_tsa`]'s question.
pub fn verify_token(
    token: &[u8],
    signature_value: &[u8],
    nonce: Option<&Int>,
    now: SystemTime,
) -> Result<TokenInfo, TokenError> {
    let view = SignedDataView::parse(token).map_err(TokenError::NotSignedData)?;
    if view.econtent_type().to_object_identifier() != Some(ID_CT_TST_INFO) {
        return Err(TokenError::NotTstInfo(view.econtent_type().to_string()));
    }
    let content = view
        .econtent()
        .ok_or_else(|| TokenError::TstInfo("the token carries no TSTInfo".into()))?;
    let tst = TstInfo::from_der(content).map_err(|e| TokenError::TstInfo(e.to_string()))?;
    let alg = &tst.message_imprint.hash_algorithm;
    let params_ok = alg
        .parameters
        .as_ref()
        .is_none_or(|p| p.tag() == der::Tag::Null && p.value().is_empty());
    if alg.oid != asn1::ID_SHA256 || !params_ok {
        return Err(TokenError::ImprintAlgorithm(
            crate::pki::signed_data::algorithm_name(&alg.oid),
        ));
    }
    let expected = Sha256::digest(signature_value);
    let hashed = tst.message_imprint.hashed_message.as_bytes();
    if hashed != expected.as_slice() {
        return Err(TokenError::OtherData {
            token: hex::encode(&hashed[..hashed.len().min(64)]),
            expected: hex::encode(expected),
        });
    }
    if let Some(nonce) = nonce {
        if tst.nonce.as_ref() != Some(nonce) {
            return Err(TokenError::Nonce);
        }
    }
    view.check_encapsulated_digest()
        .map_err(TokenError::BadSignature)?;
    let tsa = view
        .signer_certificate()
        .map_err(|_| TokenError::TsaCertificateMissing)?
        .clone();
    view.verify_signature(&tsa)
        .map_err(TokenError::BadSignature)?;
    check_signing_certificate(&view, &tsa)?;
    chain::check_end_entity(&tsa, "TSA certificate", LeafPurpose::TimeStamping)
        .map_err(TokenError::Profile)?;
    if let Some(GeneralName::DirectoryName(named)) = &tst.tsa {
        if named.to_der().ok() != tsa.tbs_certificate.subject.to_der().ok() {
            return Err(TokenError::TsaName {
                named: crate::pki::name::display_name(named),
                certificate: cert::label(&tsa),
            });
        }
    }
    let gen: DateTime = tst.gen_time.to_date_time();
    let gen_time = tst.gen_time.to_system_time_ceil();
    let gen_time_text = match &tst.gen_time.fraction {
        None => asn1::date_time_string(&gen),
        Some(f) => asn1::date_time_string(&gen).replace(" UTC", &format!(".{f} UTC")),
    };
    if gen_time > now + CLOCK_SLACK {
        return Err(TokenError::Future(gen_time_text));
    }
    Ok(TokenInfo {
        gen_time,
        gen_time_text,
        tsa_name: cert::label(&tsa),
        tsa_certificate: tsa,
        certificates: view.certificates().to_vec(),
        serial: hex::encode(tst.serial_number.as_bytes()),
        policy: tst.policy.to_string(),
    })
}

/// `ESSCertID` (RFC 2634 §5.4.1): the SHA-1 of a certificate.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct EssCertId {
    cert_hash: OctetString,
    issuer_serial: Option<IssuerSerial>,
}

/// `SigningCertificate` (RFC 2634 §5.4).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SigningCertificate {
    certs: Vec<EssCertId>,
    policies: Option<Vec<PolicyInformation>>,
}

/// RFC 3161 §2.4.2 (and RFC 5816): the token's signed attributes name the TSA's certificate,
/// by signingCertificateV2 (SHA-256) or, without it, signingCertificate (SHA-1).
fn check_signing_certificate(view: &SignedDataView, tsa: &Certificate) -> Result<(), TokenError> {
    let bad = |m: String| TokenError::SigningCertificate(m);
    let v2 = view
        .signed_attribute(asn1::ID_SIGNING_CERTIFICATE_V2, "signingCertificateV2")
        .map_err(|e| bad(e.to_string()))?;
    if v2.is_some() {
        return view
            .check_signing_certificate(tsa)
            .map(|_| ())
            .map_err(|e| bad(format!("does not name the TSA's certificate: {e}")));
    }
    let v1 = view
        .signed_attribute(ID_AA_SIGNING_CERTIFICATE, "signingCertificate")
        .map_err(|e| bad(e.to_string()))?
        .ok_or_else(|| {
            bad(
                "is missing: neither signingCertificateV2 nor signingCertificate (RFC 3161 §2.4.2)"
                    .into(),
            )
        })?;
    let sc = v1
        .decode_as::<SigningCertificate>()
        .map_err(|e| bad(format!("signingCertificate is malformed: {e}")))?;
    let id = sc
        .certs
        .first()
        .ok_or_else(|| bad("signingCertificate names no certificate".into()))?;
    let der = tsa
        .to_der()
        .map_err(|e| bad(format!("the TSA certificate: {e}")))?;
    if id.cert_hash.as_bytes() != Sha1::digest(&der).as_slice() {
        return Err(bad(
            "signingCertificate names another certificate than the TSA's in the token".into(),
        ));
    }
    if let Some(is) = &id.issuer_serial {
        let issuer_ok = match is.issuer.as_slice() {
            [GeneralName::DirectoryName(n)] => {
                n.to_der().ok() == tsa.tbs_certificate.issuer.to_der().ok()
            }
            _ => false,
        };
        if !issuer_ok || is.serial_number != tsa.tbs_certificate.serial_number {
            return Err(bad(
                "signingCertificate's issuerSerial is not the TSA certificate's".into(),
            ));
        }
    }
    Ok(())
}

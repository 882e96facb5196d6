//! OCSP (RFC 6960): a request for one certificate of a path, and its answer read as hostile
//! input — parsed with `x509-ocsp`, and believed only when it is signed by the CA that issued
//! the certificate or by a responder that CA authorised (§4.2.2.2), names this very
//! certificate, echoes our nonce when it echoes one, and is fresh.
//!
//! The CertID hashes the issuer's name and key with SHA-1, as `openssl ocsp` does by default
//! (its `-index` responder matches whatever hash the request uses).

use std::time::{Duration, SystemTime};

use der::asn1::{Null, ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use rand_core::{OsRng, RngCore};
use sha1::{Digest, Sha1};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::Extension;
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, OcspRequest, OcspResponse, OcspResponseStatus, Request, ResponderId,
    TbsRequest,
};

use super::{code_name, CertStatus, PathCert};
use crate::display::escaped_cut;
use crate::net::{self, HttpError, Limits};
use crate::pki::asn1::{self, ECDSA_WITH_SHA256};
use crate::pki::{cert, chain};

/// id-sha1 (RFC 3279 §2.2.1), the CertID hash.
pub const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
/// id-pkix-ocsp-basic (RFC 6960 §4.2.1).
pub const ID_PKIX_OCSP_BASIC: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// id-pkix-ocsp-nonce (RFC 6960 §4.4.1).
pub const ID_PKIX_OCSP_NONCE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
/// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): a responder certificate nobody checks.
pub const ID_PKIX_OCSP_NOCHECK: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.5");
/// id-kp-OCSPSigning (RFC 5280 §4.2.1.12).
pub const ID_KP_OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");

/// The request's content type (RFC 6960 appendix A.1).
pub const REQUEST_TYPE: &str = "application/ocsp-request";
/// The answer's content type.
pub const RESPONSE_TYPE: &str = "application/ocsp-response";
/// The largest answer read: a status, a signature and a responder certificate or two.
pub const MAX_RESPONSE: u64 = 64 * 1024;
/// How far in the future a thisUpdate may be (the responder's clock and ours differ).
pub const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);
/// How old an answer without nextUpdate may be: such a responder answers from its current
/// knowledge each time (`openssl ocsp` without `-nmin`/`-ndays`).
pub const MAX_AGE_WITHOUT_NEXT_UPDATE: Duration = Duration::from_secs(5 * 60);
/// Nonce length (RFC 8954 §2.1: 1 to 32 octets; openssl sends 16).
const NONCE_LEN: usize = 16;

/// An OCSP request for one certificate, and what its answer must match.
#[derive(Debug, Clone)]
pub struct Query {
    /// The DER OCSPRequest, to POST.
    pub der: Vec<u8>,
    cert_id: CertId,
    /// `None` for an answer read later (embedded in a signature): its nonce is not ours.
    nonce: Option<OctetString>,
}

/// Why an OCSP exchange gave no status.
#[derive(Debug, thiserror::Error)]
pub enum OcspError {
    /// The responder could not be asked, or answered outside HTTP's rules.
    #[error("OCSP responder {0}")]
    Http(#[source] HttpError),
    /// The answer is not one to believe; `reason` says why.
    #[error("the OCSP answer of {url} is refused: {reason}")]
    Refused { url: String, reason: String },
    /// The request could not be encoded (a certificate that does not encode).
    #[error("cannot make an OCSP request: {0}")]
    Request(#[from] der::Error),
}

/// The CertID of `p.certificate` (RFC 6960 §4.1.1), SHA-1.
pub fn cert_id(p: &PathCert<'_>) -> Result<CertId, der::Error> {
    let issuer = &p.issuer.tbs_certificate;
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: ID_SHA1,
            parameters: Some(Null.into()),
        },
        issuer_name_hash: OctetString::new(Sha1::digest(issuer.subject.to_der()?).to_vec())?,
        issuer_key_hash: OctetString::new(
            Sha1::digest(
                issuer
                    .subject_public_key_info
                    .subject_public_key
                    .raw_bytes(),
            )
            .to_vec(),
        )?,
        serial_number: p.certificate.tbs_certificate.serial_number.clone(),
    })
}

/// An unsigned request for `p.certificate` with a fresh random nonce.
pub fn query(p: &PathCert<'_>) -> Result<Query, der::Error> {
    let mut bytes = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut bytes);
    query_with_nonce(p, &bytes)
}

fn query_with_nonce(p: &PathCert<'_>, nonce: &[u8]) -> Result<Query, der::Error> {
    let cert_id = cert_id(p)?;
    let nonce = OctetString::new(nonce)?;
    let request = OcspRequest {
        tbs_request: TbsRequest {
            version: Default::default(),
            requestor_name: None,
            request_list: vec![Request {
                req_cert: cert_id.clone(),
                single_request_extensions: None,
            }],
            request_extensions: Some(vec![Extension {
                extn_id: ID_PKIX_OCSP_NONCE,
                critical: false,
                extn_value: OctetString::new(nonce.to_der()?)?,
            }]),
        },
        optional_signature: None,
    };
    Ok(Query {
        der: request.to_der()?,
        cert_id,
        nonce: Some(nonce),
    })
}

/// Asks the responder at `url` about `p.certificate` and reads its answer at `now`.
pub fn ask(url: &str, p: &PathCert<'_>, now: SystemTime) -> Result<CertStatus, OcspError> {
    fetch(url, p, now).map(|(status, _)| status)
}

/// [`ask`], and the answer's DER (to embed in a signature, RFC 5940).
pub fn fetch(
    url: &str,
    p: &PathCert<'_>,
    now: SystemTime,
) -> Result<(CertStatus, Vec<u8>), OcspError> {
    let q = query(p)?;
    let answer = net::post(
        url,
        REQUEST_TYPE,
        &q.der,
        RESPONSE_TYPE,
        Limits::new(MAX_RESPONSE),
    )
    .map_err(OcspError::Http)?;
    let shown = escaped_cut(url, 200);
    let status = read_answer(&answer, &q, p, now, &shown)
        .map_err(|reason| OcspError::Refused { url: shown, reason })?;
    Ok((status, answer))
}

/// The status an answer embedded in a signature (RFC 5940) gives `p.certificate`: as
/// [`read_answer`], without a nonce to compare, and fresh now — or, when `existed_at` is the
/// time the signature is proven to exist by, given for a time at or after it (the
/// certificate was not revoked when it signed). `Ok(None)`: the answer does not name this
/// certificate (a signature carries its signer's answer; its CA's status is elsewhere).
pub fn read_embedded(
    der: &[u8],
    p: &PathCert<'_>,
    now: SystemTime,
    existed_at: Option<SystemTime>,
) -> Result<Option<CertStatus>, String> {
    let q = Query {
        der: Vec::new(),
        cert_id: cert_id(p).map_err(|e| format!("cannot name the certificate ({e})"))?,
        nonce: None,
    };
    let basic = basic_response(der)?;
    let named = basic
        .tbs_response_data
        .responses
        .iter()
        .any(|r| same_cert_id(&r.cert_id, &q.cert_id));
    if !named {
        return Ok(None);
    }
    let source = "the OCSP answer in the signature";
    judge_basic(&basic, &q, p, now, existed_at, source).map(Some)
}

/// The status an answer gives `p.certificate`, once every rule holds; `Err` says which
/// does not. `url` names the responder in the status.
pub fn read_answer(
    der: &[u8],
    q: &Query,
    p: &PathCert<'_>,
    now: SystemTime,
    url: &str,
) -> Result<CertStatus, String> {
    let basic = basic_response(der)?;
    judge_basic(
        &basic,
        q,
        p,
        now,
        None,
        &format!("the OCSP responder {url}"),
    )
}

/// The BasicOCSPResponse of a successful OCSPResponse (RFC 6960 §4.2.1).
fn basic_response(der: &[u8]) -> Result<BasicOcspResponse, String> {
    let response =
        OcspResponse::from_der(der).map_err(|e| format!("not an OCSP response ({e})"))?;
    if response.response_status != OcspResponseStatus::Successful {
        return Err(format!(
            "the responder answered {} instead of a status",
            status_name(response.response_status)
        ));
    }
    let bytes = response
        .response_bytes
        .ok_or("a successful answer without a response")?;
    if bytes.response_type != ID_PKIX_OCSP_BASIC {
        return Err(format!(
            "a response of type {}, not a basic OCSP response",
            bytes.response_type
        ));
    }
    BasicOcspResponse::from_der(bytes.response.as_bytes())
        .map_err(|e| format!("not a basic OCSP response ({e})"))
}

/// Every rule of the module documentation, then the status; `source` names the answer in an
/// "unknown" status.
fn judge_basic(
    basic: &BasicOcspResponse,
    q: &Query,
    p: &PathCert<'_>,
    now: SystemTime,
    existed_at: Option<SystemTime>,
    source: &str,
) -> Result<CertStatus, String> {
    check_signature(basic, p, now)?;
    let data = &basic.tbs_response_data;
    // RFC 8954 §2.1: a responder may leave the nonce out (a pre-produced answer, then judged
    // by its times alone); one it echoes must be ours.
    let has_nonce = data
        .response_extensions
        .iter()
        .flatten()
        .any(|e| e.extn_id == ID_PKIX_OCSP_NONCE);
    if has_nonce && q.nonce.is_some() && basic.nonce().map(|n| n.0) != q.nonce {
        return Err("its nonce is not the one asked with (a replayed answer?)".into());
    }
    let single = data
        .responses
        .iter()
        .find(|r| same_cert_id(&r.cert_id, &q.cert_id))
        .ok_or_else(|| {
            let others: Vec<String> = data
                .responses
                .iter()
                .take(3)
                .map(|r| hex::encode_upper(r.cert_id.serial_number.as_bytes()))
                .collect();
            format!(
                "it is for another certificate (serial number {}), not the {} (serial number {})",
                if others.is_empty() {
                    "none".to_string()
                } else {
                    others.join(", ")
                },
                p.role,
                hex::encode_upper(p.certificate.tbs_certificate.serial_number.as_bytes())
            )
        })?;
    let this_update = single.this_update.0.to_system_time();
    let fresh = check_times(
        this_update,
        single.next_update.map(|t| t.0.to_system_time()),
        now,
    );
    match (fresh, existed_at) {
        (Ok(()), _) => {}
        (Err(_), Some(at)) if this_update >= at && this_update <= now + CLOCK_SKEW => {}
        (Err(why), _) => return Err(why),
    }
    Ok(match single.cert_status {
        x509_ocsp::CertStatus::Good(_) => CertStatus::Good { by: "OCSP".into() },
        x509_ocsp::CertStatus::Revoked(info) => CertStatus::Revoked {
            date: info.revocation_time.0.to_date_time(),
            reason: info.revocation_reason.map_or("unspecified", code_name),
            by: "OCSP".into(),
        },
        x509_ocsp::CertStatus::Unknown(_) => {
            CertStatus::Unknown(format!("{source} does not know the certificate"))
        }
    })
}

fn status_name(s: OcspResponseStatus) -> &'static str {
    match s {
        OcspResponseStatus::Successful => "successful",
        OcspResponseStatus::MalformedRequest => "malformedRequest",
        OcspResponseStatus::InternalError => "internalError",
        OcspResponseStatus::TryLater => "tryLater",
        OcspResponseStatus::SigRequired => "sigRequired",
        OcspResponseStatus::Unauthorized => "unauthorized",
    }
}

/// Same hash algorithm (parameters aside: absent or NULL), hashes and serial number.
fn same_cert_id(a: &CertId, b: &CertId) -> bool {
    a.hash_algorithm.oid == b.hash_algorithm.oid
        && a.issuer_name_hash == b.issuer_name_hash
        && a.issuer_key_hash == b.issuer_key_hash
        && a.serial_number == b.serial_number
}

/// thisUpdate not in the future (beyond [`CLOCK_SKEW`]); nextUpdate, if any, not passed;
/// without it, thisUpdate at most [`MAX_AGE_WITHOUT_NEXT_UPDATE`] old.
fn check_times(
    this_update: SystemTime,
    next_update: Option<SystemTime>,
    now: SystemTime,
) -> Result<(), String> {
    let shown = |t: SystemTime| {
        der::DateTime::from_system_time(t)
            .map(|d| asn1::date_time_string(&d))
            .unwrap_or_else(|_| "?".into())
    };
    if this_update > now + CLOCK_SKEW {
        return Err(format!(
            "its thisUpdate {} is in the future (check this computer's clock)",
            shown(this_update)
        ));
    }
    match next_update {
        Some(next) if next < now => Err(format!(
            "it is stale: its nextUpdate {} has passed",
            shown(next)
        )),
        Some(next) if next < this_update => Err("its nextUpdate is before its thisUpdate".into()),
        Some(_) => Ok(()),
        None if this_update + MAX_AGE_WITHOUT_NEXT_UPDATE < now => Err(format!(
            "it is stale: its thisUpdate {} is more than {} minutes old and it has no nextUpdate",
            shown(this_update),
            MAX_AGE_WITHOUT_NEXT_UPDATE.as_secs() / 60
        )),
        None => Ok(()),
    }
}

/// The answer is signed (ecdsa-with-SHA256) by the CA that issued `p.certificate`, or by a
/// responder certificate in `certs` that this CA issued for OCSP signing (RFC 6960
/// §4.2.2.2), valid at `now`.
fn check_signature(
    basic: &BasicOcspResponse,
    p: &PathCert<'_>,
    now: SystemTime,
) -> Result<(), String> {
    let ca = p.issuer;
    let ca_label = cert::label(ca);
    if basic.signature_algorithm.oid != ECDSA_WITH_SHA256 {
        return Err(format!(
            "signed with {}, not ecdsa-with-SHA256",
            basic.signature_algorithm.oid
        ));
    }
    let certs: &[Certificate] = basic.certs.as_deref().unwrap_or(&[]);
    let named = |c: &Certificate| match &basic.tbs_response_data.responder_id {
        ResponderId::ByName(name) => c.tbs_certificate.subject == *name,
        ResponderId::ByKey(hash) => {
            Sha1::digest(
                c.tbs_certificate
                    .subject_public_key_info
                    .subject_public_key
                    .raw_bytes(),
            )
            .as_slice()
                == hash.as_bytes()
        }
    };
    let key: VerifyingKey = if named(ca) {
        cert::verifying_key(ca).map_err(|_| format!("{ca_label} has no P-256 key"))?
    } else {
        let responder = certs.iter().find(|c| named(c)).ok_or_else(|| {
            format!(
                "signed by a responder that is neither {ca_label} nor a certificate in the answer"
            )
        })?;
        authorised(responder, ca, now)?
    };
    let signature = basic
        .signature
        .as_bytes()
        .and_then(|b| Signature::from_der(b).ok())
        .ok_or("its signature is not an ECDSA signature")?;
    // `der` decodes DER only, so the data re-encodes to the bytes that were signed.
    let tbs = basic
        .tbs_response_data
        .to_der()
        .map_err(|e| format!("its response data does not encode ({e})"))?;
    key.verify(&tbs, &signature)
        .map_err(|_| "its signature does not verify with the responder's key".to_string())
}

/// A delegated responder's key, if `ca` authorised it at `now`: issued and signed by `ca`,
/// extendedKeyUsage id-kp-OCSPSigning, P-256.
fn authorised(
    responder: &Certificate,
    ca: &Certificate,
    now: SystemTime,
) -> Result<VerifyingKey, String> {
    let name = cert::label(responder);
    let ca_label = cert::label(ca);
    let unauthorised = |why: String| {
        format!("signed by {name}, which {ca_label} did not authorise to answer for it: {why}")
    };
    if responder.tbs_certificate.issuer != ca.tbs_certificate.subject {
        return Err(unauthorised(format!(
            "its certificate is issued by {}",
            crate::pki::name::display_name(&responder.tbs_certificate.issuer)
        )));
    }
    chain::verify_issued_by(responder, "responder certificate", ca)
        .map_err(|e| unauthorised(e.to_string()))?;
    let eku = cert::extended_key_usage(responder)
        .map_err(|e| unauthorised(format!("its extendedKeyUsage is malformed ({e})")))?;
    if !eku.is_some_and(|eku| eku.0.contains(&ID_KP_OCSP_SIGNING)) {
        return Err(unauthorised(
            "its certificate has no extendedKeyUsage id-kp-OCSPSigning".into(),
        ));
    }
    chain::check_validity(responder, "responder certificate", now)
        .map_err(|e| unauthorised(e.to_string()))?;
    cert::verifying_key(responder).map_err(|_| unauthorised("not a P-256 key".into()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "ocsp_tests.rs"]
pub(crate) mod tests;

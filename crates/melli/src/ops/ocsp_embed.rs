//! `melli sign --ocsp-embed`: the signer certificate's OCSP answer, asked right after the card
//! signed, carried in the signature (RFC 5940: SignedData `crls`, id-ri-ocsp-response), so a
//! later verifier has the signer's status at signing time without asking the responder.

use std::time::SystemTime;

use crate::pki::revocation::ocsp::{self, OcspError};
use crate::pki::revocation::{ocsp_url, CertStatus, PathCert};
use crate::pki::signed_data::{with_ocsp_response, CmsError};
use crate::pki::{asn1, SignedDataView};

/// Why no answer was embedded. One line each; the signature is not written.
#[derive(Debug, thiserror::Error)]
pub enum OcspEmbedError {
    #[error("the signature: {0}")]
    Signature(#[from] CmsError),
    #[error("the signature does not carry the certificate of the CA that issued the signer's")]
    NoIssuer,
    #[error("the signer certificate names no OCSP responder (authorityInfoAccess)")]
    NoResponder,
    #[error("the signer certificate's authorityInfoAccess: {0}")]
    BadResponder(String),
    #[error("{0}")]
    Ocsp(#[from] OcspError),
    #[error("the OCSP responder says the signer certificate is revoked since {date}: {reason}")]
    Revoked { date: String, reason: &'static str },
    #[error("no status for the signer certificate: {0}")]
    Unknown(String),
}

/// The detached signature `p7s` (DER) with the good OCSP answer for its signer's certificate,
/// asked at `now` from the responder its certificate names, added to its `crls`.
pub fn embed_signer_ocsp(p7s: &[u8], now: SystemTime) -> Result<Vec<u8>, OcspEmbedError> {
    let answer = signer_ocsp_answer(p7s, now)?;
    Ok(with_ocsp_response(p7s, &answer)?)
}

/// The good OCSP answer (DER) for the certificate of the signer of `p7s`, asked at `now` from
/// the responder its certificate names and checked as `melli verify --online` checks one
/// (signed by the CA or a responder it authorised, for this certificate, fresh, with our
/// nonce when echoed); any other answer is an error. For `melli sign --ocsp-embed`, of a
/// detached signature and of a PDF (whose document security store carries it).
pub fn signer_ocsp_answer(p7s: &[u8], now: SystemTime) -> Result<Vec<u8>, OcspEmbedError> {
    let view = SignedDataView::parse(p7s)?;
    let signer = view.signer_certificate()?;
    let issuer = view
        .certificates()
        .iter()
        .find(|c| c.tbs_certificate.subject == signer.tbs_certificate.issuer && *c != signer)
        .ok_or(OcspEmbedError::NoIssuer)?;
    let url = ocsp_url(signer)
        .map_err(OcspEmbedError::BadResponder)?
        .ok_or(OcspEmbedError::NoResponder)?;
    let p = PathCert {
        certificate: signer,
        issuer,
        role: "signer certificate".into(),
    };
    let (status, answer) = ocsp::fetch(&url, &p, now)?;
    match status {
        CertStatus::Good { .. } => Ok(answer),
        CertStatus::Revoked { date, reason, .. } => Err(OcspEmbedError::Revoked {
            date: asn1::date_time_string(&date),
            reason,
        }),
        CertStatus::Unknown(why) => Err(OcspEmbedError::Unknown(why)),
    }
}

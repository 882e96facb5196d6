//! Delegated OCSP responders (RFC 6960 §4.2.2.2): the CA's key stays in its store, and a
//! responder (`openssl ocsp -rsigner R.pem -rkey R.key`) signs with a key of its own, certified
//! here from its PKCS#10 request for OCSP signing only, for a short time.
//!
//! The signing CA certifies the responder that answers for holder certificates; the root the
//! one that answers for the signing CA and document signers. The certificate carries
//! id-pkix-ocsp-nocheck (nobody asks for a responder's own status; its short validity is its
//! revocation), and is not recorded in `index.txt`.

use der::{Decode, Encode};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::Signature;
use x509_cert::request::CertReq;

use super::*;
use crate::pki::asn1::ECDSA_WITH_SHA256;

/// How long a responder certificate is valid unless told: 30 days.
pub const RESPONDER_DAYS: u32 = 30;
/// The longest a responder certificate may be valid: a year.
pub const MAX_RESPONDER_DAYS: u32 = 366;

/// A PKCS#10 certification request (PEM `CERTIFICATE REQUEST` or DER) for a P-256 key,
/// signed (ecdsa-with-SHA256) by that key: `openssl req -new -key R.key -subj …` makes one.
pub fn read_request(bytes: &[u8]) -> Result<CertReq, PkiError> {
    let bad = |reason: String| PkiError::invalid("certification request", reason);
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let der = if bytes[start..].starts_with(b"-----BEGIN") {
        match der::pem::decode_vec(&bytes[start..]) {
            Ok(("CERTIFICATE REQUEST", der)) | Ok(("NEW CERTIFICATE REQUEST", der)) => der,
            Ok((label, _)) => {
                return Err(bad(format!(
                    "PEM of a {}, not of a CERTIFICATE REQUEST",
                    crate::display::escaped_cut(label, 40)
                )))
            }
            Err(e) => return Err(bad(format!("bad PEM ({e})"))),
        }
    } else {
        bytes.to_vec()
    };
    let request =
        CertReq::from_der(&der).map_err(|e| bad(format!("not a PKCS#10 request ({e})")))?;
    let key = p256::PublicKey::try_from(request.info.public_key.owned_to_ref())
        .map_err(|_| bad("its key is not a P-256 key (openssl ecparam -name prime256v1)".into()))?;
    if request.algorithm.oid != ECDSA_WITH_SHA256 {
        return Err(bad(format!(
            "signed with {}, not ecdsa-with-SHA256",
            request.algorithm.oid
        )));
    }
    let signed = request.info.to_der()?;
    let good = request
        .signature
        .as_bytes()
        .and_then(|b| Signature::from_der(b).ok())
        .is_some_and(|sig| {
            p256::ecdsa::VerifyingKey::from(key)
                .verify(&signed, &sig)
                .is_ok()
        });
    if !good {
        return Err(bad(
            "its signature does not verify with its own key (altered, or not made with this key)"
                .into(),
        ));
    }
    if request.info.subject.0.is_empty() {
        return Err(bad(
            "its subject is empty; give it a name (openssl req -subj '/CN=…')".into(),
        ));
    }
    Ok(request)
}

use der::referenced::OwnedToRef;

fn certify(
    request: &CertReq,
    ca_cert: &Certificate,
    ca_key: &dyn IssuerKey,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<Certificate, PkiError> {
    cert::issue(
        &CertRequest {
            profile: CertProfile::OcspResponder,
            subject: request.info.subject.clone(),
            public_key: request.info.public_key.clone(),
            not_before,
            not_after,
            extra_extensions: Vec::new(),
        },
        IssuerRef {
            certificate: Some(ca_cert),
            key: ca_key,
        },
    )
}

impl Issuer {
    /// A responder certificate for `request`, issued by the signing CA (to answer for holder
    /// certificates), valid from `not_before` to `not_after`.
    pub fn certify_ocsp_responder(
        &self,
        request: &CertReq,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<Certificate, PkiError> {
        certify(
            request,
            &self.signing_ca_cert,
            &self.signing_ca_key,
            not_before,
            not_after,
        )
    }
}

impl RootCa {
    /// A responder certificate for `request`, issued by the root (to answer for the signing
    /// CA and document signers), valid from `not_before` to `not_after`.
    pub fn certify_ocsp_responder(
        &self,
        request: &CertReq,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<Certificate, PkiError> {
        certify(request, &self.cert, &self.key, not_before, not_after)
    }
}

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::pki::revocation::ocsp::{ID_KP_OCSP_SIGNING, ID_PKIX_OCSP_NOCHECK};
    use der::EncodePem;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{DerSignature, SigningKey};

    fn csr(key: &SigningKey, cn: &str) -> CertReq {
        let info = x509_cert::request::CertReqInfo {
            version: x509_cert::request::Version::V1,
            subject: issuer_name(cn).unwrap(),
            public_key: cert::spki_of(key).unwrap(),
            attributes: Default::default(),
        };
        let signature: DerSignature = key.sign(&info.to_der().unwrap());
        CertReq {
            info,
            algorithm: crate::pki::asn1::ecdsa_sha256_algorithm(),
            signature: der::asn1::BitString::from_bytes(signature.as_bytes()).unwrap(),
        }
    }

    #[test]
    fn a_request_is_read_only_when_its_own_key_signed_it() {
        let key = SigningKey::random(&mut OsRng);
        let request = csr(&key, "responder");
        let pem = request.to_pem(der::pem::LineEnding::LF).unwrap();
        assert_eq!(read_request(pem.as_bytes()).unwrap(), request);
        assert_eq!(read_request(&request.to_der().unwrap()).unwrap(), request);

        let mut altered = request.clone();
        altered.info.subject = issuer_name("someone else").unwrap();
        let why = read_request(&altered.to_der().unwrap()).unwrap_err();
        assert!(
            why.to_string()
                .contains("its signature does not verify with its own key"),
            "{why}"
        );
        let why = read_request(b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n")
            .unwrap_err();
        assert!(
            why.to_string()
                .contains("PEM of a CERTIFICATE, not of a CERTIFICATE REQUEST"),
            "{why}"
        );
        assert!(read_request(b"\x30\x03\x02\x01\x00").is_err());
        assert!(read_request(b"").is_err());
    }

    #[test]
    fn a_responder_certificate_is_for_ocsp_signing_only_and_short_lived() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("issuer");
        let issuer = Issuer::init_plain(&dir).unwrap();
        let key = SigningKey::random(&mut OsRng);
        let now = SystemTime::now();
        let day = Duration::from_secs(24 * 3600);
        let c = issuer
            .certify_ocsp_responder(&csr(&key, "responder"), now, now + 30 * day)
            .unwrap();
        chain::verify_issued_by(&c, "responder", issuer.signing_ca_certificate()).unwrap();
        let eku = cert::extended_key_usage(&c).unwrap().unwrap();
        assert_eq!(eku.0, vec![ID_KP_OCSP_SIGNING]);
        let ids: Vec<_> = c
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .map(|e| (e.extn_id, e.critical))
            .collect();
        assert!(ids.contains(&(ID_PKIX_OCSP_NOCHECK, false)), "{ids:?}");
        let bc = cert::basic_constraints(&c).unwrap().unwrap();
        assert!(!bc.ca);
        assert_eq!(
            c.tbs_certificate.subject_public_key_info,
            cert::spki_of(&key).unwrap()
        );

        let root = RootCa::load(&default_root_dir(&dir), &mut crate::pki::no_secret).unwrap();
        let c = root
            .certify_ocsp_responder(&csr(&key, "root responder"), now, now + day)
            .unwrap();
        chain::verify_issued_by(&c, "responder", issuer.root_certificate()).unwrap();
    }
}

//! Answers made here, signed with keys made here, each breaking one rule.

use super::*;
use der::asn1::BitString;
use p256::ecdsa::{DerSignature, SigningKey};
use x509_cert::ext::pkix::CrlReason;
use x509_cert::name::Name;
use x509_ocsp::{OcspGeneralizedTime, ResponseData, RevokedInfo, SingleResponse};

use crate::pki::asn1::ecdsa_sha256_algorithm;
use crate::pki::cert::{CertProfile, CertRequest, IssuerRef};
use crate::pki::name::{NameBuilder, StringKind, COMMON_NAME};

const MINUTE: Duration = Duration::from_secs(60);

fn name(cn: &str) -> Name {
    NameBuilder::new()
        .push(COMMON_NAME, StringKind::Utf8, cn)
        .unwrap()
        .build()
}

fn issue(
    profile: CertProfile,
    cn: &str,
    key: &SigningKey,
    by: Option<(&Certificate, &SigningKey)>,
) -> Certificate {
    let now = SystemTime::now();
    let (certificate, issuer_key) = match by {
        Some((c, k)) => (Some(c), k),
        None => (None, key),
    };
    cert::issue(
        &CertRequest {
            profile,
            subject: name(cn),
            public_key: cert::spki_of(key).unwrap(),
            not_before: now - MINUTE,
            not_after: now + 60 * MINUTE,
            extra_extensions: Vec::new(),
        },
        IssuerRef {
            certificate,
            key: issuer_key,
        },
    )
    .unwrap()
}

struct Pki {
    ca_key: SigningKey,
    ca: Certificate,
    leaf: Certificate,
}

fn pki() -> Pki {
    let ca_key = SigningKey::random(&mut OsRng);
    let ca = issue(CertProfile::RootCa, "test CA", &ca_key, None);
    let leaf_key = SigningKey::random(&mut OsRng);
    let leaf = issue(
        CertProfile::Holder,
        "holder",
        &leaf_key,
        Some((&ca, &ca_key)),
    );
    Pki { ca_key, ca, leaf }
}

impl Pki {
    fn path(&self) -> PathCert<'_> {
        PathCert {
            certificate: &self.leaf,
            issuer: &self.ca,
            role: "holder certificate".into(),
        }
    }
}

/// What an answer is made of; each test changes one thing.
pub(crate) struct Answer<'a> {
    pub status: x509_ocsp::CertStatus,
    pub cert_id: CertId,
    pub this_update: SystemTime,
    pub next_update: Option<SystemTime>,
    pub nonce: Option<OctetString>,
    pub signer: &'a SigningKey,
    pub responder: Name,
    pub certs: Option<Vec<Certificate>>,
}

impl<'a> Answer<'a> {
    fn good(pki: &'a Pki, q: &Query) -> Answer<'a> {
        Answer {
            status: x509_ocsp::CertStatus::good(),
            cert_id: q.cert_id.clone(),
            this_update: SystemTime::now(),
            next_update: None,
            nonce: q.nonce.clone(),
            signer: &pki.ca_key,
            responder: pki.ca.tbs_certificate.subject.clone(),
            certs: None,
        }
    }

    /// An answer to the DER `request` (its first CertID, its nonce), signed by `ca_key` as
    /// the CA `ca`.
    pub fn to(
        request: &[u8],
        ca: &Certificate,
        ca_key: &'a SigningKey,
        status: x509_ocsp::CertStatus,
    ) -> Answer<'a> {
        let request = OcspRequest::from_der(request).unwrap();
        Answer {
            status,
            cert_id: request.tbs_request.request_list[0].req_cert.clone(),
            this_update: SystemTime::now(),
            next_update: None,
            nonce: request.nonce().map(|n| n.0),
            signer: ca_key,
            responder: ca.tbs_certificate.subject.clone(),
            certs: None,
        }
    }

    pub fn der(&self) -> Vec<u8> {
        let time = |t: SystemTime| OcspGeneralizedTime::try_from(t).unwrap();
        let extensions = self.nonce.as_ref().map(|n| {
            vec![Extension {
                extn_id: ID_PKIX_OCSP_NONCE,
                critical: false,
                extn_value: OctetString::new(n.to_der().unwrap()).unwrap(),
            }]
        });
        let data = ResponseData {
            version: Default::default(),
            responder_id: ResponderId::ByName(self.responder.clone()),
            produced_at: time(SystemTime::now()),
            responses: vec![SingleResponse {
                cert_id: self.cert_id.clone(),
                cert_status: self.status,
                this_update: time(self.this_update),
                next_update: self.next_update.map(time),
                single_extensions: None,
            }],
            response_extensions: extensions,
        };
        let signature: DerSignature = self.signer.sign(&data.to_der().unwrap());
        let basic = BasicOcspResponse {
            tbs_response_data: data,
            signature_algorithm: ecdsa_sha256_algorithm(),
            signature: BitString::from_bytes(signature.as_bytes()).unwrap(),
            certs: self.certs.clone(),
        };
        OcspResponse::successful(basic).unwrap().to_der().unwrap()
    }
}

use p256::ecdsa::signature::Signer;

fn read(pki: &Pki, q: &Query, answer: &Answer<'_>) -> Result<CertStatus, String> {
    read_answer(
        &answer.der(),
        q,
        &pki.path(),
        SystemTime::now(),
        "http://responder",
    )
}

#[test]
fn the_request_names_the_certificate_and_carries_a_nonce() {
    let pki = pki();
    let q = query(&pki.path()).unwrap();
    let request = OcspRequest::from_der(&q.der).unwrap();
    let asked = &request.tbs_request.request_list[0].req_cert;
    assert_eq!(asked.hash_algorithm.oid, ID_SHA1);
    assert_eq!(asked.serial_number, pki.leaf.tbs_certificate.serial_number);
    assert_eq!(
        asked.issuer_key_hash.as_bytes(),
        Sha1::digest(
            pki.ca
                .tbs_certificate
                .subject_public_key_info
                .subject_public_key
                .raw_bytes()
        )
        .as_slice()
    );
    assert_eq!(request.nonce().map(|n| n.0), q.nonce.clone());
    assert_eq!(
        q.nonce.as_ref().map(|n| n.as_bytes().len()),
        Some(NONCE_LEN)
    );
    assert_ne!(query(&pki.path()).unwrap().nonce, q.nonce, "a fresh nonce");
}

#[test]
fn good_and_revoked_from_the_ca() {
    let pki = pki();
    let q = query(&pki.path()).unwrap();
    let answer = Answer::good(&pki, &q);
    assert_eq!(
        read(&pki, &q, &answer),
        Ok(CertStatus::Good { by: "OCSP".into() })
    );
    let revoked_at = der::DateTime::new(2026, 11, 1, 10, 0, 0).unwrap();
    let answer = Answer {
        status: x509_ocsp::CertStatus::revoked(RevokedInfo {
            revocation_time: revoked_at.into(),
            revocation_reason: Some(CrlReason::KeyCompromise),
        }),
        next_update: Some(SystemTime::now() + 60 * MINUTE),
        ..Answer::good(&pki, &q)
    };
    assert_eq!(
        read(&pki, &q, &answer),
        Ok(CertStatus::Revoked {
            date: revoked_at,
            reason: "keyCompromise",
            by: "OCSP".into()
        })
    );
    let answer = Answer {
        status: x509_ocsp::CertStatus::unknown(),
        ..Answer::good(&pki, &q)
    };
    assert!(matches!(
        read(&pki, &q, &answer),
        Ok(CertStatus::Unknown(why)) if why.contains("does not know")
    ));
}

#[test]
fn an_answer_for_another_certificate_is_refused() {
    let pki = pki();
    let q = query(&pki.path()).unwrap();
    let mut other = q.cert_id.clone();
    other.serial_number = x509_cert::serial_number::SerialNumber::new(&[0x42]).unwrap();
    let answer = Answer {
        cert_id: other,
        ..Answer::good(&pki, &q)
    };
    let why = read(&pki, &q, &answer).unwrap_err();
    assert!(
        why.starts_with("it is for another certificate (serial number 42), not the holder certificate (serial number "),
        "{why}"
    );
    // The same serial number under another issuer's key is another certificate too.
    let mut other = q.cert_id.clone();
    other.issuer_key_hash = OctetString::new([0u8; 20]).unwrap();
    let answer = Answer {
        cert_id: other,
        ..Answer::good(&pki, &q)
    };
    assert!(read(&pki, &q, &answer)
        .unwrap_err()
        .starts_with("it is for another certificate"));
}

#[test]
fn a_bad_signature_or_a_replayed_nonce_is_refused() {
    let pki = pki();
    let q = query(&pki.path()).unwrap();
    let stranger = SigningKey::random(&mut OsRng);
    let answer = Answer {
        signer: &stranger,
        ..Answer::good(&pki, &q)
    };
    assert_eq!(
        read(&pki, &q, &answer).unwrap_err(),
        "its signature does not verify with the responder's key"
    );
    let answer = Answer {
        nonce: Some(OctetString::new([7u8; 16]).unwrap()),
        ..Answer::good(&pki, &q)
    };
    assert!(read(&pki, &q, &answer).unwrap_err().contains("nonce"));
    // No nonce at all: judged by its times alone.
    let answer = Answer {
        nonce: None,
        ..Answer::good(&pki, &q)
    };
    assert!(read(&pki, &q, &answer).is_ok());
}

#[test]
fn stale_or_future_answers_are_refused() {
    let pki = pki();
    let q = query(&pki.path()).unwrap();
    let now = SystemTime::now();
    let cases = [
        (
            now - 120 * MINUTE,
            Some(now - 60 * MINUTE),
            "it is stale: its nextUpdate",
        ),
        (
            now - 10 * MINUTE,
            None,
            "more than 5 minutes old and it has no nextUpdate",
        ),
        (now + 30 * MINUTE, None, "is in the future"),
    ];
    for (this_update, next_update, expected) in cases {
        let answer = Answer {
            this_update,
            next_update,
            ..Answer::good(&pki, &q)
        };
        let why = read(&pki, &q, &answer).unwrap_err();
        assert!(why.contains(expected), "{why}");
    }
    // An old answer with a nextUpdate still ahead is fresh.
    let answer = Answer {
        this_update: now - 120 * MINUTE,
        next_update: Some(now + 60 * MINUTE),
        ..Answer::good(&pki, &q)
    };
    assert!(read(&pki, &q, &answer).is_ok());
}

#[test]
fn a_delegated_responder_must_be_authorised_by_the_ca() {
    let pki = pki();
    let q = query(&pki.path()).unwrap();
    let responder_key = SigningKey::random(&mut OsRng);
    let delegated = |profile, by: Option<(&Certificate, &SigningKey)>| {
        let c = issue(profile, "responder", &responder_key, by);
        Answer {
            signer: &responder_key,
            responder: c.tbs_certificate.subject.clone(),
            certs: Some(vec![c]),
            ..Answer::good(&pki, &q)
        }
    };
    // Issued by the CA for OCSP signing: believed.
    let answer = delegated(CertProfile::OcspResponder, Some((&pki.ca, &pki.ca_key)));
    assert_eq!(
        read(&pki, &q, &answer),
        Ok(CertStatus::Good { by: "OCSP".into() })
    );
    // Issued by the CA, but not for OCSP signing.
    let answer = delegated(CertProfile::DocumentSigner, Some((&pki.ca, &pki.ca_key)));
    let why = read(&pki, &q, &answer).unwrap_err();
    assert_eq!(
        why,
        "signed by responder, which test CA did not authorise to answer for it: its certificate has no extendedKeyUsage id-kp-OCSPSigning"
    );
    // For OCSP signing, but self-signed.
    let answer = delegated(CertProfile::OcspResponder, None);
    let why = read(&pki, &q, &answer).unwrap_err();
    assert!(
        why.starts_with("signed by responder, which test CA did not authorise")
            && why.ends_with("its certificate is issued by responder"),
        "{why}"
    );
    // Named the CA's way by another CA with the same name: its signature does not verify.
    let impostor_key = SigningKey::random(&mut OsRng);
    let impostor = issue(CertProfile::RootCa, "test CA", &impostor_key, None);
    let answer = delegated(CertProfile::OcspResponder, Some((&impostor, &impostor_key)));
    assert!(read(&pki, &q, &answer)
        .unwrap_err()
        .contains("signature does not verify with the key of its issuer"));
    // Not in the answer at all.
    let answer = Answer {
        certs: None,
        ..delegated(CertProfile::OcspResponder, Some((&pki.ca, &pki.ca_key)))
    };
    assert_eq!(
        read(&pki, &q, &answer).unwrap_err(),
        "signed by a responder that is neither test CA nor a certificate in the answer"
    );
}

#[test]
fn garbage_and_error_statuses_are_refused_without_panic() {
    let pki = pki();
    let q = query(&pki.path()).unwrap();
    let now = SystemTime::now();
    for bytes in [
        &b""[..],
        b"\x30\x03\x0a\x01\x00",
        b"not der at all",
        &[0x30; 300],
    ] {
        let why = read_answer(bytes, &q, &pki.path(), now, "u").unwrap_err();
        assert!(!why.is_empty());
    }
    let try_later = OcspResponse::try_later().to_der().unwrap();
    assert_eq!(
        read_answer(&try_later, &q, &pki.path(), now, "u").unwrap_err(),
        "the responder answered tryLater instead of a status"
    );
    // Every prefix of a good answer is refused, never a panic.
    let good = Answer::good(&pki, &q).der();
    for n in 0..good.len() {
        assert!(read_answer(&good[..n], &q, &pki.path(), now, "u").is_err());
    }
}

#[test]
fn an_embedded_answer_counts_when_fresh_or_given_after_the_signature_existed() {
    let pki = pki();
    let q = query(&pki.path()).unwrap();
    let now = SystemTime::now();
    let embedded = |answer: &Answer<'_>, existed_at| {
        read_embedded(&answer.der(), &pki.path(), now, existed_at).map(|s| s.expect("named"))
    };
    // Fresh: good, whatever nonce it echoes (that of the signer's request).
    let answer = Answer::good(&pki, &q);
    assert_eq!(
        embedded(&answer, None),
        Ok(CertStatus::Good { by: "OCSP".into() })
    );
    // Two hours old, without nextUpdate: stale now …
    let old = Answer {
        this_update: now - 120 * MINUTE,
        ..Answer::good(&pki, &q)
    };
    assert!(embedded(&old, None).unwrap_err().contains("it is stale"));
    // … but evidence for a signature proven to exist three hours ago, not for one of an hour
    // ago.
    assert!(embedded(&old, Some(now - 180 * MINUTE)).is_ok());
    assert!(embedded(&old, Some(now - 60 * MINUTE)).is_err());
    // Still signed by the CA, still for this certificate.
    let stranger = SigningKey::random(&mut OsRng);
    let forged = Answer {
        signer: &stranger,
        ..Answer::good(&pki, &q)
    };
    assert!(embedded(&forged, None).is_err());
    // An answer for another certificate is not this one's: no status, no refusal.
    let mut other = q.cert_id.clone();
    other.serial_number = x509_cert::serial_number::SerialNumber::new(&[0x42]).unwrap();
    let answer = Answer {
        cert_id: other,
        ..Answer::good(&pki, &q)
    };
    assert_eq!(
        read_embedded(&answer.der(), &pki.path(), now, None),
        Ok(None)
    );
}

#[test]
fn every_one_byte_change_to_a_good_answer_is_refused() {
    let pki = pki();
    let q = query(&pki.path()).unwrap();
    let now = SystemTime::now();
    let good = Answer::good(&pki, &q).der();
    assert!(read_answer(&good, &q, &pki.path(), now, "u").is_ok());
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        assert!(
            read_answer(&bad, &q, &pki.path(), now, "u").is_err(),
            "byte {i} changed, still believed"
        );
    }
}

//! Document signatures: signingCertificateV2, smimeEncryptionKeyPreference in its place,
//! certificates carried twice, and signingTime.

use super::*;

/// A detached signature over `doc` by the card's holder key, with the signed attributes
/// contentType, messageDigest, signingTime `at`, and `extra`; `edit` may change the set
/// before it is signed.
pub(super) fn holder_signature(
    card: &Card,
    doc: &[u8],
    at: SystemTime,
    extra: Vec<x509_cert::attr::Attribute>,
    edit: impl FnOnce(&mut Vec<x509_cert::attr::Attribute>),
) -> Vec<u8> {
    use p256::ecdsa::DerSignature;
    use signature::Signer;
    let holder = Certificate::from_der(&card.holder_cert).unwrap();
    let ca = card.issuer.signing_ca_certificate().clone();
    let content_type = RawOid::from(asn1::ID_DATA);
    let attrs =
        signed_data::signed_attributes(&content_type, &Sha256::digest(doc), Some(at), extra)
            .unwrap();
    let mut list: Vec<_> = attrs.into_vec();
    edit(&mut list);
    let attrs = der::asn1::SetOfVec::try_from(list).unwrap();
    let signature: DerSignature = card
        .holder_key
        .sign(&signed_data::signed_attributes_der(&attrs).unwrap());
    signed_data::assemble(
        &content_type,
        None,
        &[holder.clone(), ca],
        &holder,
        attrs,
        signature.as_bytes(),
    )
    .unwrap()
}

/// A second holder certificate for the card's key, from the same signing CA: another serial.
fn second_certificate(card: &Card) -> Certificate {
    let holder = Certificate::from_der(&card.holder_cert).unwrap();
    let point = card.holder_key.verifying_key().to_encoded_point(false);
    let second = Certificate::from_der(
        &card
            .issuer
            .issue_holder_certificate(&HolderRequest {
                card_serial: None,
                public_key: point.as_bytes(),
                subject: &subject(),
                card_expiry: GregorianDate {
                    year: 2032,
                    month: 3,
                    day: 20,
                },
            })
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        second.tbs_certificate.subject_public_key_info,
        holder.tbs_certificate.subject_public_key_info
    );
    assert_ne!(
        second.tbs_certificate.serial_number,
        holder.tbs_certificate.serial_number
    );
    second
}

/// A signed attribute `oid` with the DER `values`.
fn attribute(oid: der::asn1::ObjectIdentifier, values: &[Vec<u8>]) -> x509_cert::attr::Attribute {
    let mut set = der::asn1::SetOfVec::new();
    for v in values {
        set.insert(der::Any::from_der(v).unwrap()).unwrap();
    }
    x509_cert::attr::Attribute { oid, values: set }
}

/// The DER of an smimeEncryptionKeyPreference value naming `cert` by issuer and serial number.
fn key_preference(cert: &Certificate) -> Vec<u8> {
    signed_data::SmimeEncryptionKeyPreference::IssuerAndSerialNumber(
        cms::cert::IssuerAndSerialNumber {
            issuer: cert.tbs_certificate.issuer.clone(),
            serial_number: cert.tbs_certificate.serial_number.clone(),
        },
    )
    .to_der()
    .unwrap()
}

/// An smimeEncryptionKeyPreference attribute naming `cert`, as `cmsutil -S -Y NICK` writes it.
fn key_preference_attribute(cert: &Certificate) -> x509_cert::attr::Attribute {
    attribute(asn1::ID_ENCRYPTION_KEY_PREFERENCE, &[key_preference(cert)])
}

/// A signingCertificateV2 attribute with one ESSCertIDv2.
fn ess_attribute(id: signed_data::EssCertIdV2) -> x509_cert::attr::Attribute {
    let value = signed_data::SigningCertificateV2 {
        certs: vec![id],
        policies: None,
    };
    let mut values = der::asn1::SetOfVec::new();
    values
        .insert(der::Any::from_der(&value.to_der().unwrap()).unwrap())
        .unwrap();
    x509_cert::attr::Attribute {
        oid: asn1::ID_SIGNING_CERTIFICATE_V2,
        values,
    }
}

#[test]
fn signing_certificate_v2_must_name_the_signer_certificate() {
    use signed_data::{EssCertIdV2, IssuerSerial};
    use x509_cert::ext::pkix::name::GeneralName;

    let card = Card::new();
    let holder = Certificate::from_der(&card.holder_cert).unwrap();
    let doc = b"bound to its certificate\n";
    let now = SystemTime::now();
    let check = |p7s: &[u8], signer: &Certificate| {
        SignedDataView::parse(p7s)
            .unwrap()
            .check_signing_certificate(signer)
    };

    // melli's own attribute names the holder certificate.
    let good = holder_signature(
        &card,
        doc,
        now,
        vec![signed_data::signing_certificate_v2(&holder).unwrap()],
        |_| {},
    );
    assert_eq!(
        check(&good, &holder).unwrap(),
        signed_data::CertificateBinding::SigningCertificateV2
    );

    // Another certificate for the same key, from the same signing CA.
    let second = second_certificate(&card);
    let err = check(&good, &second).unwrap_err();
    assert!(
        matches!(err, CmsError::SigningCertificateMismatch(_)),
        "{err}"
    );
    assert!(err.to_string().contains("certHash"), "{err}");

    // No attribute: refused.
    let none = holder_signature(&card, doc, now, Vec::new(), |_| {});
    let err = check(&none, &holder).unwrap_err();
    assert_eq!(
        err.to_string(),
        "signed attribute signingCertificateV2 is missing, and there is no \
         smimeEncryptionKeyPreference naming the signer's certificate in its place"
    );

    // issuerSerial present: right, then naming another serial number.
    let hash = OctetString::new(Sha256::digest(holder.to_der().unwrap()).as_slice()).unwrap();
    let issuer_serial = |serial| IssuerSerial {
        issuer: vec![GeneralName::DirectoryName(
            holder.tbs_certificate.issuer.clone(),
        )],
        serial_number: serial,
    };
    let with_serial = |serial| {
        holder_signature(
            &card,
            doc,
            now,
            vec![ess_attribute(EssCertIdV2 {
                hash_algorithm: None,
                cert_hash: hash.clone(),
                issuer_serial: Some(issuer_serial(serial)),
            })],
            |_| {},
        )
    };
    check(
        &with_serial(holder.tbs_certificate.serial_number.clone()),
        &holder,
    )
    .unwrap();
    let err = check(
        &with_serial(second.tbs_certificate.serial_number.clone()),
        &holder,
    )
    .unwrap_err();
    assert!(err.to_string().contains("issuerSerial"), "{err}");

    // hashAlgorithm SHA-256 written out is accepted; SHA-512 is not supported.
    let with_alg = |oid: &str| {
        holder_signature(
            &card,
            doc,
            now,
            vec![ess_attribute(EssCertIdV2 {
                hash_algorithm: Some(spki::AlgorithmIdentifierOwned {
                    oid: der::asn1::ObjectIdentifier::new_unwrap(oid),
                    parameters: None,
                }),
                cert_hash: hash.clone(),
                issuer_serial: None,
            })],
            |_| {},
        )
    };
    check(&with_alg("2.16.840.1.101.3.4.2.1"), &holder).unwrap();
    let err = check(&with_alg("2.16.840.1.101.3.4.2.3"), &holder).unwrap_err();
    assert!(matches!(err, CmsError::Unsupported(_)), "{err}");

    // Two values in the one attribute: refused.
    let twice = holder_signature(
        &card,
        doc,
        now,
        vec![signed_data::signing_certificate_v2(&holder).unwrap()],
        |attrs| {
            let ess = attrs
                .iter_mut()
                .find(|a| a.oid == asn1::ID_SIGNING_CERTIFICATE_V2)
                .unwrap();
            let other = signed_data::signing_certificate_v2(&second).unwrap();
            ess.values
                .insert(other.values.get(0).unwrap().clone())
                .unwrap();
        },
    );
    let err = check(&twice, &holder).unwrap_err();
    assert!(err.to_string().contains("exactly one value"), "{err}");

    // Through the document-signature verifier: only the signing certificate check fails.
    let report = crate::ops::sign::verify_signature(
        &none,
        &Sha256::digest(doc).into(),
        card.issuer.root_certificate(),
        now,
    );
    let failed: Vec<&str> = report.verdict.failures().map(|c| c.name.as_str()).collect();
    assert_eq!(failed, ["signing certificate"], "{}", report.verdict);
}

#[test]
fn signing_time_is_a_claim_and_must_be_well_formed() {
    use crate::ops::sign::{verify_signature, CHECKED_NOW};

    let card = Card::new();
    let holder = Certificate::from_der(&card.holder_cert).unwrap();
    let doc = b"when?\n";
    let digest: [u8; 32] = Sha256::digest(doc).into();
    let root = card.issuer.root_certificate();
    let now = SystemTime::now();
    let ess = || vec![signed_data::signing_certificate_v2(&holder).unwrap()];
    fn signing_time(attrs: &[x509_cert::attr::Attribute]) -> usize {
        attrs
            .iter()
            .position(|a| a.oid == asn1::ID_SIGNING_TIME)
            .unwrap()
    }

    // A claim from before the certificate existed: shown, and the chain is checked now.
    let long_ago = SystemTime::UNIX_EPOCH + Duration::from_secs(946_684_800); // 2000-01-01
    let p7s = holder_signature(&card, doc, long_ago, ess(), |_| {});
    let report = verify_signature(&p7s, &digest, root, now);
    assert!(report.verdict.passed(), "{}", report.verdict);
    assert_eq!(
        report.claimed_signing_time.as_deref(),
        Some("2000-01-01 00:00:00 UTC")
    );
    assert_eq!(report.chain_checked_at.reason, CHECKED_NOW);

    // Verified after the certificate expired: refused, whatever the claim.
    let later = SystemTime::UNIX_EPOCH + Duration::from_secs(1_964_000_000); // 2032-03-27
    let p7s = holder_signature(&card, doc, now, ess(), |_| {});
    let report = verify_signature(&p7s, &digest, root, later);
    let chain = report.verdict.get("signer certificate chain").unwrap();
    assert!(!chain.passed);
    assert_eq!(chain.detail, "signer certificate expired on 2032-03-20");
    assert_eq!(report.chain_checked_at.time, "2032-03-27 11:33:20 UTC");

    // No signingTime at all: nothing is claimed, nothing is wrong.
    let p7s = holder_signature(&card, doc, now, ess(), |attrs| {
        let i = signing_time(attrs);
        attrs.remove(i);
    });
    let report = verify_signature(&p7s, &digest, root, now);
    assert!(report.verdict.passed(), "{}", report.verdict);
    assert_eq!(report.claimed_signing_time, None);

    // Two values, a value that is not a time, a GeneralizedTime for 2024: refused.
    let second_value = |attrs: &mut Vec<x509_cert::attr::Attribute>| {
        let i = signing_time(attrs);
        let t = asn1::x509_time(SystemTime::UNIX_EPOCH).unwrap();
        attrs[i]
            .values
            .insert(der::Any::from_der(&t.to_der().unwrap()).unwrap())
            .unwrap();
    };
    let not_a_time = |attrs: &mut Vec<x509_cert::attr::Attribute>| {
        let i = signing_time(attrs);
        let mut values = der::asn1::SetOfVec::new();
        values
            .insert(der::Any::new(der::Tag::Utf8String, b"yesterday".as_slice()).unwrap())
            .unwrap();
        attrs[i].values = values;
    };
    let generalized = |attrs: &mut Vec<x509_cert::attr::Attribute>| {
        let i = signing_time(attrs);
        let t = der::asn1::GeneralizedTime::from_date_time(
            der::DateTime::new(2024, 5, 1, 12, 0, 0).unwrap(),
        );
        let mut values = der::asn1::SetOfVec::new();
        values
            .insert(der::Any::from_der(&t.to_der().unwrap()).unwrap())
            .unwrap();
        attrs[i].values = values;
    };
    type Edit = dyn Fn(&mut Vec<x509_cert::attr::Attribute>);
    let cases: [(&str, &Edit); 3] = [
        ("does not have exactly one value", &second_value),
        ("signingTime is malformed: a UTF8String", &not_a_time),
        ("must be a UTCTime", &generalized),
    ];
    for (expected, edit) in cases {
        let p7s = holder_signature(&card, doc, now, ess(), edit);
        let report = verify_signature(&p7s, &digest, root, now);
        let failed: Vec<String> = report
            .verdict
            .failures()
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        assert_eq!(failed.len(), 1, "{expected}: {}", report.verdict);
        assert!(
            failed[0].starts_with("signing time: ") && failed[0].contains(expected),
            "{expected}: {}",
            failed[0]
        );
        assert_eq!(report.claimed_signing_time, None);
    }
}

#[test]
fn without_signing_certificate_v2_the_encryption_key_preference_must_name_the_signer() {
    use signed_data::{CertificateBinding, SmimeEncryptionKeyPreference};

    let card = Card::new();
    let holder = Certificate::from_der(&card.holder_cert).unwrap();
    let second = second_certificate(&card);
    let doc = b"signed by NSS\n";
    let digest: [u8; 32] = Sha256::digest(doc).into();
    let now = SystemTime::now();
    let sign = |extra| holder_signature(&card, doc, now, extra, |_| {});
    let check = |p7s: &[u8], signer: &Certificate| {
        SignedDataView::parse(p7s)
            .unwrap()
            .check_signing_certificate(signer)
    };

    // RFC 8551's module has IMPLICIT TAGS: [0] replaces IssuerAndSerialNumber's SEQUENCE tag,
    // so the issuer's Name follows at once.
    let value = key_preference(&holder);
    assert_eq!(value[0], 0xA0, "{}", hex::encode(&value));
    let round = SmimeEncryptionKeyPreference::from_der(&value).unwrap();
    assert!(matches!(
        round,
        SmimeEncryptionKeyPreference::IssuerAndSerialNumber(ref ias)
            if ias.serial_number == holder.tbs_certificate.serial_number
    ));

    // It names the signer's certificate: the certificate is bound, and the verdict says how.
    let good = sign(vec![key_preference_attribute(&holder)]);
    assert_eq!(
        check(&good, &holder).unwrap(),
        CertificateBinding::EncryptionKeyPreference
    );
    let report =
        crate::ops::sign::verify_signature(&good, &digest, card.issuer.root_certificate(), now);
    assert!(report.verdict.passed(), "{}", report.verdict);
    assert_eq!(
        report.verdict.get("signing certificate").unwrap().detail,
        "smimeEncryptionKeyPreference names the signer's certificate by issuer and serial \
         number (no signingCertificateV2)"
    );

    // Re-presented with another certificate for the same key: its serial is not the one
    // signed.
    let err = check(&good, &second).unwrap_err();
    assert!(
        matches!(err, CmsError::EncryptionKeyPreferenceMismatch(_)),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "signingCertificateV2 is missing, and smimeEncryptionKeyPreference names another \
             certificate than the signer's: it names serial number {}, the signer's \
             certificate has {}",
            hex::encode(holder.tbs_certificate.serial_number.as_bytes()),
            hex::encode(second.tbs_certificate.serial_number.as_bytes())
        )
    );
    // Naming another serial number than the signer's.
    let other_serial = sign(vec![key_preference_attribute(&second)]);
    let err = check(&other_serial, &holder).unwrap_err();
    assert!(
        matches!(err, CmsError::EncryptionKeyPreferenceMismatch(_)),
        "{err}"
    );
    // The signer's serial number under another issuer (the signing CA's own issuer, the
    // root).
    let other_issuer =
        SmimeEncryptionKeyPreference::IssuerAndSerialNumber(cms::cert::IssuerAndSerialNumber {
            issuer: card
                .issuer
                .root_certificate()
                .tbs_certificate
                .subject
                .clone(),
            serial_number: holder.tbs_certificate.serial_number.clone(),
        });
    let p7s = sign(vec![attribute(
        asn1::ID_ENCRYPTION_KEY_PREFERENCE,
        &[other_issuer.to_der().unwrap()],
    )]);
    let err = check(&p7s, &holder).unwrap_err();
    assert!(err.to_string().contains("of issuer"), "{err}");
    // Through the verifier, only the signing certificate check fails.
    let report = crate::ops::sign::verify_signature(
        &other_serial,
        &digest,
        card.issuer.root_certificate(),
        now,
    );
    let failed: Vec<&str> = report.verdict.failures().map(|c| c.name.as_str()).collect();
    assert_eq!(failed, ["signing certificate"], "{}", report.verdict);

    // The other choices name a key, not a certificate.
    let ski = x509_cert::ext::pkix::SubjectKeyIdentifier(OctetString::new([7u8; 20]).unwrap());
    let by_key = SmimeEncryptionKeyPreference::SubjectAltKeyIdentifier(ski.clone());
    let by_recipient =
        SmimeEncryptionKeyPreference::RecipientKeyId(cms::enveloped_data::RecipientKeyIdentifier {
            subject_key_identifier: ski,
            date: None,
            other: None,
        });
    for (choice, value) in [
        ("subjectAltKeyIdentifier", by_key),
        ("receipentKeyId", by_recipient),
    ] {
        let der = value.to_der().unwrap();
        assert_eq!(
            SmimeEncryptionKeyPreference::from_der(&der).unwrap(),
            value,
            "{choice}"
        );
        let p7s = sign(vec![attribute(asn1::ID_ENCRYPTION_KEY_PREFERENCE, &[der])]);
        let err = check(&p7s, &holder).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "signed attribute smimeEncryptionKeyPreference names a key by {choice}, not a \
                 certificate by issuer and serial number, and signingCertificateV2 is missing"
            )
        );
    }

    // Malformed: not the CHOICE at all, the [0] choice EXPLICIT (a SEQUENCE inside), or not
    // DER (a serial number with a needless leading zero).
    let ias = cms::cert::IssuerAndSerialNumber {
        issuer: holder.tbs_certificate.issuer.clone(),
        serial_number: holder.tbs_certificate.serial_number.clone(),
    }
    .to_der()
    .unwrap();
    let mut explicit = vec![0xA0];
    der::Length::try_from(ias.len())
        .unwrap()
        .encode_to_vec(&mut explicit)
        .unwrap();
    explicit.extend_from_slice(&ias);
    let mut not_der = key_preference(&holder);
    let serial = holder.tbs_certificate.serial_number.as_bytes();
    let at = not_der
        .windows(serial.len())
        .rposition(|w| w == serial)
        .unwrap();
    assert_eq!(not_der[at - 2], 0x02, "the serial number's INTEGER");
    not_der[at - 1] += 1;
    not_der.insert(at, 0x00);
    assert!(not_der[1] < 0x7F, "a short length");
    not_der[1] += 1; // the [0] grows by one
    let octets = OctetString::new(b"not a preference".as_slice())
        .unwrap()
        .to_der()
        .unwrap();
    for bad in [octets, explicit, not_der] {
        let p7s = sign(vec![attribute(asn1::ID_ENCRYPTION_KEY_PREFERENCE, &[bad])]);
        let err = check(&p7s, &holder).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("signed attribute smimeEncryptionKeyPreference is malformed: ")
                && text.ends_with("(signingCertificateV2 is missing)"),
            "{text}"
        );
    }

    // Two values in the one attribute, or the attribute twice: refused.
    let two_values = sign(vec![attribute(
        asn1::ID_ENCRYPTION_KEY_PREFERENCE,
        &[key_preference(&holder), key_preference(&second)],
    )]);
    let err = check(&two_values, &holder).unwrap_err();
    assert_eq!(
        err.to_string(),
        "signed attribute smimeEncryptionKeyPreference does not have exactly one value \
         (signingCertificateV2 is missing)"
    );
    let twice = holder_signature(
        &card,
        doc,
        now,
        vec![key_preference_attribute(&holder)],
        |attrs| attrs.push(key_preference_attribute(&second)),
    );
    let err = check(&twice, &holder).unwrap_err();
    assert!(matches!(err, CmsError::AppearsTwice { .. }), "{err}");

    // Both present: signingCertificateV2 decides, whatever the preference says.
    let both = sign(vec![
        signed_data::signing_certificate_v2(&holder).unwrap(),
        key_preference_attribute(&second),
    ]);
    assert_eq!(
        check(&both, &holder).unwrap(),
        CertificateBinding::SigningCertificateV2
    );
    let both = sign(vec![
        signed_data::signing_certificate_v2(&second).unwrap(),
        key_preference_attribute(&holder),
    ]);
    let err = check(&both, &holder).unwrap_err();
    assert!(
        matches!(err, CmsError::SigningCertificateMismatch(_)),
        "{err}"
    );
    let malformed_preference = sign(vec![
        signed_data::signing_certificate_v2(&holder).unwrap(),
        attribute(asn1::ID_ENCRYPTION_KEY_PREFERENCE, &[vec![0x05, 0x00]]),
    ]);
    assert_eq!(
        check(&malformed_preference, &holder).unwrap(),
        CertificateBinding::SigningCertificateV2
    );
}

/// `SignedData` with its certificates as they are, for putting one in twice.
#[derive(der::Sequence)]
struct LooseSignedData {
    version: der::Any,
    digest_algorithms: der::Any,
    encap_content_info: der::Any,
    #[asn1(
        context_specific = "0",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    certificates: Option<Vec<der::Any>>,
    signer_infos: der::Any,
}

/// `p7s` with its certificates replaced by `edit`'s.
fn with_certificates(p7s: &[u8], edit: impl FnOnce(&mut Vec<der::Any>)) -> Vec<u8> {
    let mut info = cms::content_info::ContentInfo::from_der(p7s).unwrap();
    let mut sd = LooseSignedData::from_der(&info.content.to_der().unwrap()).unwrap();
    edit(sd.certificates.as_mut().unwrap());
    info.content = der::Any::from_der(&sd.to_der().unwrap()).unwrap();
    info.to_der().unwrap()
}

#[test]
fn a_certificate_carried_twice_counts_once() {
    let card = Card::new();
    let holder = Certificate::from_der(&card.holder_cert).unwrap();
    let doc = b"carried twice\n";
    let digest: [u8; 32] = Sha256::digest(doc).into();
    let now = SystemTime::now();
    let root = card.issuer.root_certificate();
    let p7s = holder_signature(
        &card,
        doc,
        now,
        vec![signed_data::signing_certificate_v2(&holder).unwrap()],
        |_| {},
    );
    assert_eq!(SignedDataView::parse(&p7s).unwrap().certificates().len(), 2);

    // The holder certificate a second time, byte for byte, as cmsutil -Y writes it: once.
    let holder_der = der::Any::from_der(&card.holder_cert).unwrap();
    let twice = with_certificates(&p7s, |certs| certs.push(holder_der.clone()));
    assert_ne!(twice, p7s);
    let view = SignedDataView::parse(&twice).unwrap();
    assert_eq!(view.certificates().len(), 2);
    assert_eq!(view.signer_certificate().unwrap(), &holder);
    let report = crate::ops::sign::verify_signature(&twice, &digest, root, now);
    assert!(report.verdict.passed(), "{}", report.verdict);
    // Three times, and the CA twice too.
    let ca_der =
        der::Any::from_der(&card.issuer.signing_ca_certificate().to_der().unwrap()).unwrap();
    let many = with_certificates(&p7s, |certs| {
        certs.insert(0, holder_der.clone());
        certs.push(holder_der.clone());
        certs.push(ca_der.clone());
    });
    assert_eq!(
        SignedDataView::parse(&many).unwrap().certificates().len(),
        2
    );

    // Two different certificates are both kept: another certificate for the same key is not
    // taken for a copy of the holder's.
    let second = second_certificate(&card);
    let other = with_certificates(&p7s, |certs| {
        certs.push(der::Any::from_der(&second.to_der().unwrap()).unwrap())
    });
    let view = SignedDataView::parse(&other).unwrap();
    assert_eq!(view.certificates().len(), 3);
    assert_eq!(view.signer_certificate().unwrap(), &holder);

    // A copy that differs in one byte is another certificate, decoded like any other: here
    // its signature no longer verifies, so it is kept and the chain does not use it.
    let mut altered = card.holder_cert.clone();
    let last = altered.len() - 1;
    altered[last] ^= 0x01;
    let altered_any = der::Any::from_der(&altered).unwrap();
    let altered_set = with_certificates(&p7s, |certs| certs.push(altered_any));
    assert_eq!(
        SignedDataView::parse(&altered_set)
            .unwrap()
            .certificates()
            .len(),
        3
    );

    // Something that is no certificate is still refused, duplicated or not.
    let junk = der::Any::new(der::Tag::OctetString, b"junk".as_slice()).unwrap();
    let bad = with_certificates(&p7s, |certs| {
        certs.push(junk.clone());
        certs.push(junk.clone());
    });
    assert!(matches!(
        SignedDataView::parse(&bad),
        Err(CmsError::Malformed(_))
    ));
}

//! Document signatures: signingCertificateV2 and signingTime.

use super::*;

/// A detached signature over `doc` by the card's holder key, with the signed attributes
/// contentType, messageDigest, signingTime `at`, and `extra`; `edit` may change the set
/// before it is signed.
fn holder_signature(
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
        signed_data::signed_attributes(&content_type, &Sha256::digest(doc), at, extra).unwrap();
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
    check(&good, &holder).unwrap();

    // Another certificate for the same key, from the same signing CA.
    let point = card.holder_key.verifying_key().to_encoded_point(false);
    let second = Certificate::from_der(
        &card
            .issuer
            .issue_holder_certificate(&HolderRequest {
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
        "signed attribute signingCertificateV2 is missing"
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

//! Holder certificates and certificate paths.

use super::*;

#[test]
fn holder_certificate_chains_and_reads_back() {
    let card = Card::new();
    let holder = Certificate::from_der(&card.holder_cert).unwrap();
    assert_eq!(HolderSubject::from_certificate(&holder).unwrap(), subject());
    let ca = card.issuer.signing_ca_certificate().clone();
    let root = card.issuer.root_certificate();
    verify_path(
        &holder,
        "holder certificate",
        LeafPurpose::DocumentSignature,
        std::slice::from_ref(&ca),
        root,
        SystemTime::now(),
    )
    .unwrap();
    // Without the signing CA.
    let err = verify_path(
        &holder,
        "holder certificate",
        LeafPurpose::DocumentSignature,
        &[],
        root,
        SystemTime::now(),
    )
    .unwrap_err();
    assert!(matches!(err, ChainError::NotIssuedByRoot { .. }), "{err}");
    // After the card's expiry.
    let later = SystemTime::UNIX_EPOCH + Duration::from_secs(1_964_000_000); // 2032-03-27
    let err = verify_path(
        &holder,
        "holder certificate",
        LeafPurpose::DocumentSignature,
        std::slice::from_ref(&ca),
        root,
        later,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "holder certificate expired on 2032-03-20");
    // Before it was issued.
    let err = verify_path(
        &holder,
        "holder certificate",
        LeafPurpose::DocumentSignature,
        std::slice::from_ref(&ca),
        root,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not valid before"), "{err}");
}

#[test]
fn chain_refuses_wrong_issuers_and_purposes() {
    let card = Card::new();
    let other = Card::new();
    let root = card.issuer.root_certificate();
    let now = SystemTime::now();
    let holder = Certificate::from_der(&card.holder_cert).unwrap();
    let other_holder = Certificate::from_der(&other.holder_cert).unwrap();
    let ca = card.issuer.signing_ca_certificate().clone();

    // A holder certificate from another issuer's signing CA (same names, other keys).
    let err = verify_path(
        &other_holder,
        "holder certificate",
        LeafPurpose::DocumentSignature,
        std::slice::from_ref(&ca),
        root,
        now,
    )
    .unwrap_err();
    assert!(matches!(err, ChainError::BadSignature { .. }), "{err}");

    // The document signer is not a CA: a certificate it "issued" is refused.
    let ds = card.issuer.document_signer_certificate();
    let err = verify_path(
        ds,
        "document signer certificate",
        LeafPurpose::DocumentSignature,
        &[],
        root,
        now,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "document signer certificate: extendedKeyUsage is missing: a holder certificate has \
         extendedKeyUsage documentSigning, optionally emailProtection, and nothing else \
         (applets-spec §9.3.6)"
    );

    // The signing CA as a document signer: a CA, not an end entity.
    let err = verify_path(
        &ca,
        "document signer certificate",
        LeafPurpose::DocumentSigner,
        &[],
        root,
        now,
    )
    .unwrap_err();
    assert!(matches!(err, ChainError::LeafIsCa { .. }), "{err}");

    // A holder certificate never passes for a document signer, even with its CA at hand.
    let err = verify_path(
        &holder,
        "document signer certificate",
        LeafPurpose::DocumentSigner,
        &[ca],
        root,
        now,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "document signer certificate: keyUsage has nonRepudiation: a document signer \
         certificate has keyUsage digitalSignature only, critical (applets-spec §9.3.6)"
    );
}

#[test]
fn a_security_object_signed_by_a_holder_card_key_is_refused() {
    // The card signs any hash once the PIN is verified; its certificate chains to the root
    // through the signing CA. Such a "security object" must not pass.
    let card = Card::new();
    let holder = Certificate::from_der(&card.holder_cert).unwrap();
    let ca = card.issuer.signing_ca_certificate().clone();
    let content = crate::pki::security_object::encode_content(SERIAL, &card.group_refs()).unwrap();
    let forged = signed_data::sign(
        &asn1::security_object_oid(),
        &content,
        true,
        &card.holder_key,
        &holder,
        &[holder.clone(), ca],
        SystemTime::now(),
        Vec::new(),
    )
    .unwrap();
    let verdict = card.verify(&forged, &card.group_refs());
    let failures: Vec<String> = verdict
        .failures()
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    assert_eq!(failures.len(), 1, "{verdict}");
    assert!(
        failures[0].starts_with(
            "document signer chain: document signer certificate is not issued by the trusted root"
        ),
        "{}",
        failures[0]
    );
}

#[test]
fn chain_refuses_a_certificate_issued_by_an_end_entity() {
    let card = Card::new();
    let key = fs::read_to_string(card.dir().join(files::DOCUMENT_SIGNER_KEY)).unwrap();
    let ds_key = <SigningKey as p256::pkcs8::DecodePrivateKey>::from_pkcs8_pem(&key).unwrap();
    let ds = card.issuer.document_signer_certificate().clone();
    let leaf_key = SigningKey::random(&mut OsRng);
    let leaf = cert::issue(
        &cert::CertRequest {
            profile: cert::CertProfile::DocumentSigner,
            subject: crate::pki::name::NameBuilder::new()
                .push(
                    crate::pki::name::COMMON_NAME,
                    crate::pki::name::StringKind::Utf8,
                    "rogue",
                )
                .unwrap()
                .build(),
            public_key: cert::spki_of(&leaf_key).unwrap(),
            not_before: SystemTime::now() - Duration::from_secs(60),
            not_after: SystemTime::now() + Duration::from_secs(3600),
            extra_extensions: Vec::new(),
        },
        cert::IssuerRef {
            certificate: Some(&ds),
            key: &ds_key,
        },
    )
    .unwrap();
    let err = verify_path(
        &leaf,
        "document signer certificate",
        LeafPurpose::DocumentSigner,
        &[ds],
        card.issuer.root_certificate(),
        SystemTime::now(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "CA certificate \"melli Document Signer\": basicConstraints has cA FALSE: a CA \
         certificate has it critical, with cA TRUE (applets-spec §9.3.6)"
    );
}

#[test]
fn holder_requests_are_checked() {
    let card = Card::new();
    let point = card.holder_key.verifying_key().to_encoded_point(false);
    let compressed = card.holder_key.verifying_key().to_encoded_point(true);
    let good = GregorianDate {
        year: 2030,
        month: 1,
        day: 1,
    };
    let cases: [(&[u8], HolderSubject, GregorianDate, &str); 5] = [
        (compressed.as_bytes(), subject(), good, "uncompressed"),
        (&[4u8; 65], subject(), good, "not a point"),
        (
            point.as_bytes(),
            HolderSubject {
                national_code: "12345".into(),
                ..subject()
            },
            good,
            "10 digits",
        ),
        (
            point.as_bytes(),
            subject(),
            GregorianDate {
                year: 2020,
                month: 1,
                day: 1,
            },
            "in the past",
        ),
        (
            point.as_bytes(),
            subject(),
            GregorianDate {
                year: 2060,
                month: 1,
                day: 1,
            },
            "after the signing CA",
        ),
    ];
    for (key, subj, expiry, expected) in cases {
        let err = card
            .issuer
            .issue_holder_certificate(&HolderRequest {
                card_serial: None,
                public_key: key,
                subject: &subj,
                card_expiry: expiry,
            })
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{expected}: {err}");
    }
    let bad_date = GregorianDate {
        year: 2030,
        month: 2,
        day: 30,
    };
    assert!(bad_date.end_of_day().is_err());
}

#[test]
fn certificates_have_random_positive_serials_and_key_identifiers() {
    let card = Card::new();
    let certs = [
        card.issuer.root_certificate(),
        card.issuer.document_signer_certificate(),
        card.issuer.signing_ca_certificate(),
    ];
    let serials: Vec<Vec<u8>> = certs
        .iter()
        .map(|c| c.tbs_certificate.serial_number.as_bytes().to_vec())
        .collect();
    for s in &serials {
        assert_eq!(s.len(), 16);
        assert!(s[0] & 0x80 == 0 && s[0] != 0);
    }
    assert_ne!(serials[0], serials[1]);
    let root_ski = cert::subject_key_identifier(certs[0]).unwrap().unwrap();
    for c in certs {
        assert_eq!(
            cert::authority_key_identifier(c).unwrap().unwrap(),
            root_ski
        );
        assert!(c.to_der().unwrap().len() < 1024);
    }
}

//! melli's verifier of security objects: its answer to every kind of tampering.

use super::*;

#[test]
fn accepts_its_own_security_object() {
    let card = Card::new();
    let so = card.security_object();
    let verdict = card.verify(&so, &card.group_refs());
    assert!(verdict.passed(), "{verdict}");
    let names: Vec<&str> = verdict.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            check::SIGNATURE,
            check::MESSAGE_DIGEST,
            check::DOCUMENT_SIGNER,
            check::CARD_SERIAL,
            "DG1 identity",
            "DG2 photo",
            "DG4 address",
            "DG5 chip-authentication key",
            "DG6 holder certificate",
        ]
    );
    let parsed = SecurityObject::parse(&so).unwrap();
    assert_eq!(parsed.card_serial(), SERIAL);
    assert_eq!(
        parsed
            .data_group_hashes()
            .map(|(n, _)| n)
            .collect::<Vec<_>>(),
        [1, 2, 4, 5, 6]
    );
    assert_eq!(
        parsed.hash_of(2).unwrap(),
        Sha256::digest(&card.groups[1].1).as_slice()
    );
    assert!(parsed.signing_time().is_some());
    assert_eq!(
        parsed.document_signer(),
        Some(card.issuer.document_signer_certificate())
    );
}

#[test]
fn a_flipped_byte_in_each_data_group_is_named() {
    let card = Card::new();
    let so = card.security_object();
    for (i, (n, bytes)) in card.groups.iter().enumerate() {
        let tampered = flip(bytes, bytes.len() / 2);
        let mut groups = card.group_refs();
        groups[i] = (*n, &tampered);
        let verdict = card.verify(&so, &groups);
        assert!(!verdict.passed());
        let failures: Vec<String> = verdict
            .failures()
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        let expected = format!(
            "DG{n} {}: hash mismatch",
            crate::pki::security_object::data_group_name(*n)
        );
        assert_eq!(failures, [expected]);
    }
}

#[test]
fn a_flipped_signature_byte_fails_the_signature_check_only() {
    let card = Card::new();
    let so = card.security_object();
    let parsed = SecurityObject::parse(&so).unwrap();
    let sig = parsed
        .signed_data()
        .signer_info()
        .signature
        .as_bytes()
        .to_vec();
    let at = find(&so, &sig) + sig.len() - 5; // inside s, not the DER header
    let verdict = card.verify(&flip(&so, at), &card.group_refs());
    let failures: Vec<&str> = verdict.failures().map(|c| c.name.as_str()).collect();
    assert_eq!(failures, [check::SIGNATURE], "{verdict}");
    assert!(verdict
        .get(check::SIGNATURE)
        .unwrap()
        .detail
        .contains("does not verify"));
}

#[test]
fn tampered_content_fails_the_message_digest() {
    let card = Card::new();
    let so = card.security_object();
    let groups = card.group_refs();
    // Change the card serial inside eContent: digest and serial checks fail, signature holds.
    let at = find(&so, SERIAL.as_bytes());
    let verdict = card.verify(&flip(&so, at), &groups);
    let failures: Vec<&str> = verdict.failures().map(|c| c.name.as_str()).collect();
    assert_eq!(
        failures,
        [check::MESSAGE_DIGEST, check::CARD_SERIAL],
        "{verdict}"
    );
}

#[test]
fn a_different_root_is_refused() {
    let card = Card::new();
    let other = Card::new();
    let so = card.security_object();
    let groups = card.group_refs();
    let verdict = verify_security_object(
        &so,
        &VerifyInput {
            trusted_root: other.issuer.root_certificate(),
            card_serial: SERIAL,
            data_groups: &groups,
            at: SystemTime::now(),
        },
    );
    let failures: Vec<&crate::pki::Check> = verdict.failures().collect();
    assert_eq!(failures.len(), 1, "{verdict}");
    assert_eq!(failures[0].name, check::DOCUMENT_SIGNER);
    assert!(
        failures[0]
            .detail
            .starts_with("document signer certificate is not issued by the trusted root"),
        "{}",
        failures[0].detail
    );
}

#[test]
fn an_expired_document_signer_is_refused_with_its_date() {
    let mut card = Card::new();
    let not_before = SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_836_800); // 2020-01-01
    let not_after = SystemTime::UNIX_EPOCH + Duration::from_secs(1_609_459_199); // 2020-12-31
    let root = crate::pki::RootCa::load(
        &card.tmp.path().join("issuer-root"),
        &mut crate::pki::no_secret,
    )
    .unwrap();
    root.issue_document_signer(
        &mut card.issuer,
        not_before,
        not_after,
        &mut crate::pki::no_secret,
    )
    .unwrap();
    let so = card.security_object();
    let verdict = card.verify(&so, &card.group_refs());
    let failures: Vec<String> = verdict.failures().map(|c| c.detail.clone()).collect();
    assert_eq!(
        failures,
        ["document signer certificate expired on 2020-12-31"],
        "{verdict}"
    );
    assert_eq!(
        verdict.get(check::DOCUMENT_SIGNER).unwrap().to_string(),
        "FAIL  document signer chain: document signer certificate expired on 2020-12-31"
    );
    // openssl agrees.
    card.write("so.der", &so);
    let (ok, out) = openssl(
        &card.dir(),
        &[
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "so.der",
            "-CAfile",
            files::ROOT_CERT,
        ],
    );
    assert!(!ok && out.contains("expired"), "{out}");
}

#[test]
fn a_security_object_of_another_card_is_refused() {
    let card = Card::new();
    let other_so = card
        .issuer
        .sign_security_object("MELLI0002", &card.group_refs())
        .unwrap();
    let verdict = card.verify(&other_so, &card.group_refs());
    let failures: Vec<String> = verdict
        .failures()
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    assert_eq!(
        failures,
        [
            "card serial: the security object is for card \"MELLI0002\", this card is \"MELLI0001\""
        ]
    );
}

#[test]
fn missing_and_extra_groups_are_named() {
    let card = Card::new();
    let so = card.security_object();
    let mut groups = card.group_refs();
    groups.retain(|(n, _)| *n != 5);
    groups.push((3, b"fingerprint"));
    let verdict = card.verify(&so, &groups);
    let failures: Vec<String> = verdict
        .failures()
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    assert_eq!(
        failures,
        [
            "DG3 fingerprint: not covered by the security object",
            "DG5 chip-authentication key: listed in the security object but not read from the card",
        ]
    );
}

#[test]
fn garbage_is_a_format_failure() {
    let card = Card::new();
    let verdict = card.verify(b"\x30\x03\x02\x01\x00", &card.group_refs());
    assert_eq!(verdict.checks.len(), 1);
    assert_eq!(verdict.checks[0].name, check::FORMAT);
    assert!(!verdict.passed());
    // A CMS SignedData of another content type is not a security object.
    let ds = card.issuer.document_signer_certificate().clone();
    let key = fs::read_to_string(card.dir().join(files::DOCUMENT_SIGNER_KEY)).unwrap();
    let key = <SigningKey as p256::pkcs8::DecodePrivateKey>::from_pkcs8_pem(&key).unwrap();
    let data = signed_data::sign(
        &RawOid::from(asn1::ID_DATA),
        b"x",
        true,
        &key,
        &ds,
        std::slice::from_ref(&ds),
        SystemTime::now(),
        Vec::new(),
    )
    .unwrap();
    let err = SecurityObject::parse(&data).unwrap_err().to_string();
    assert!(err.contains("not the melli security object"), "{err}");
}

#[test]
fn building_needs_exactly_the_readable_groups() {
    let card = Card::new();
    let mut groups = card.group_refs();
    groups.push((3, b"fingerprint"));
    assert!(card.issuer.sign_security_object(SERIAL, &groups).is_err());
    groups.retain(|(n, _)| *n != 3 && *n != 6);
    assert!(card.issuer.sign_security_object(SERIAL, &groups).is_err());
    assert!(card
        .issuer
        .sign_security_object("bad serial", &card.group_refs())
        .is_err());
    // Any order is fine; the object lists them ascending.
    let mut reversed = card.group_refs();
    reversed.reverse();
    let so = card.issuer.sign_security_object(SERIAL, &reversed).unwrap();
    assert!(card.verify(&so, &card.group_refs()).passed());
}

#[test]
fn readable_groups_follow_the_spec() {
    assert_eq!(
        crate::pki::security_object::readable_data_groups_from_spec(),
        crate::pki::security_object::READABLE_DATA_GROUPS
    );
}

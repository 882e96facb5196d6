//! Tests across the PKI: interop with openssl (`/usr/bin/openssl`), and the verifier's answer to
//! every kind of tampering.
//!
//! The openssl commands proven here:
//!
//! ```text
//! openssl verify -CAfile root.pem document-signer.pem signing-ca.pem
//! openssl verify -CAfile root.pem -untrusted signing-ca.pem holder.pem
//! openssl verify -purpose smimesign -CAfile root.pem -untrusted signing-ca.pem holder.pem
//! openssl cms -verify -inform DER -in so.der -CAfile root.pem -out content.der
//! openssl cms -verify -binary -inform DER -content FILE -in FILE.p7s -CAfile root.pem
//! openssl cms -sign -binary -in FILE -signer holder.pem -inkey holder.key
//!         -certfile signing-ca.pem -md sha256 -outform DER -out FILE.p7s
//! ```

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use der::asn1::OctetString;
use der::{Decode, Encode};
use p256::ecdsa::SigningKey;
use p256::pkcs8::EncodePrivateKey;
use rand_core::OsRng;
use sha2::{Digest, Sha256};
use spki::EncodePublicKey;
use x509_cert::Certificate;

use super::asn1::{self, RawOid};
use super::cert;
use super::chain::{verify_path, ChainError, LeafPurpose};
use super::holder::{GregorianDate, HolderRequest, HolderSubject};
use super::issuer::{files, Issuer};
use super::security_object::{check, verify_security_object, SecurityObject, VerifyInput};
use super::signed_data::{self, CmsError, SignedDataView};

const OPENSSL: &str = "/usr/bin/openssl";
const SERIAL: &str = "MELLI0001";

fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(OPENSSL)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn subject() -> HolderSubject {
    HolderSubject {
        given_name: "Ali".into(),
        surname: "Rezaei".into(),
        national_code: "0012345679".into(),
        full_name_fa: "علی رضایی".into(),
    }
}

/// An issuer, a holder key with its certificate, and the readable data groups of a card.
struct Card {
    tmp: tempfile::TempDir,
    issuer: Issuer,
    holder_key: SigningKey,
    holder_cert: Vec<u8>,
    groups: Vec<(u8, Vec<u8>)>,
}

impl Card {
    fn new() -> Card {
        let tmp = tempfile::tempdir().unwrap();
        let issuer = Issuer::init_plain(&tmp.path().join("issuer")).unwrap();
        let holder_key = SigningKey::random(&mut OsRng);
        let point = holder_key.verifying_key().to_encoded_point(false);
        let holder_cert = issuer
            .issue_holder_certificate(&HolderRequest {
                public_key: point.as_bytes(),
                subject: &subject(),
                card_expiry: GregorianDate {
                    year: 2032,
                    month: 3,
                    day: 20,
                },
            })
            .unwrap();
        let chip_key = SigningKey::random(&mut OsRng);
        let groups = vec![
            (1, b"\xE1\x0A\xDF\x01\x0A0012345679".to_vec()),
            (2, [b"\xFF\xD8\xFF\xE0".as_slice(), &[0x42; 3000]].concat()),
            (4, b"\xE4\x0C\xDF\x10\x0A1193653471".to_vec()),
            (
                5,
                chip_key
                    .verifying_key()
                    .to_public_key_der()
                    .unwrap()
                    .to_vec(),
            ),
            (6, holder_cert.clone()),
        ];
        Card {
            tmp,
            issuer,
            holder_key,
            holder_cert,
            groups,
        }
    }

    fn dir(&self) -> PathBuf {
        self.tmp.path().join("issuer")
    }

    fn group_refs(&self) -> Vec<(u8, &[u8])> {
        self.groups
            .iter()
            .map(|(n, b)| (*n, b.as_slice()))
            .collect()
    }

    fn security_object(&self) -> Vec<u8> {
        self.issuer
            .sign_security_object(SERIAL, &self.group_refs())
            .unwrap()
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir().join(name);
        fs::write(&p, bytes).unwrap();
        p
    }

    fn write_holder_files(&self) {
        let holder = Certificate::from_der(&self.holder_cert).unwrap();
        self.write("holder.pem", cert::to_pem(&holder).unwrap().as_bytes());
        let key = self
            .holder_key
            .to_pkcs8_pem(der::pem::LineEnding::LF)
            .unwrap();
        self.write("holder.key", key.as_bytes());
    }

    fn verify(&self, so: &[u8], groups: &[(u8, &[u8])]) -> super::Verdict {
        verify_security_object(
            so,
            &VerifyInput {
                trusted_root: self.issuer.root_certificate(),
                card_serial: SERIAL,
                data_groups: groups,
                at: SystemTime::now(),
            },
        )
    }
}

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v[at] ^= 0x01;
    v
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in haystack")
}

// ---- openssl interop -------------------------------------------------------------------

#[test]
fn openssl_verify_accepts_document_signer_and_signing_ca() {
    let card = Card::new();
    let (ok, out) = openssl(
        &card.dir(),
        &[
            "verify",
            "-CAfile",
            files::ROOT_CERT,
            files::DOCUMENT_SIGNER_CERT,
            files::SIGNING_CA_CERT,
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("document-signer.pem: OK"), "{out}");
    assert!(out.contains("signing-ca.pem: OK"), "{out}");
}

#[test]
fn openssl_verify_accepts_holder_certificate() {
    let card = Card::new();
    card.write_holder_files();
    for purpose in [None, Some("smimesign")] {
        let mut args = vec!["verify"];
        if let Some(p) = purpose {
            args.extend(["-purpose", p]);
        }
        args.extend([
            "-CAfile",
            files::ROOT_CERT,
            "-untrusted",
            files::SIGNING_CA_CERT,
            "holder.pem",
        ]);
        let (ok, out) = openssl(&card.dir(), &args);
        assert!(ok && out.contains("holder.pem: OK"), "{purpose:?}: {out}");
    }
    // Without the signing CA there is no path.
    let (ok, _) = openssl(
        &card.dir(),
        &["verify", "-CAfile", files::ROOT_CERT, "holder.pem"],
    );
    assert!(!ok);
}

#[test]
fn openssl_prints_holder_subject_and_extensions() {
    let card = Card::new();
    card.write_holder_files();
    let (ok, out) = openssl(
        &card.dir(),
        &[
            "x509",
            "-in",
            "holder.pem",
            "-noout",
            "-text",
            "-nameopt",
            "utf8",
        ],
    );
    assert!(ok, "{out}");
    for expected in [
        "C=IR",
        "serialNumber=0012345679",
        "SN=Rezaei",
        "GN=Ali",
        "name=علی رضایی",
        "CN=Ali Rezaei",
        "Digital Signature, Non Repudiation",
        "X509v3 Extended Key Usage: \n                E-mail Protection, 1.3.6.1.5.5.7.3.36",
        "CA:FALSE",
        "X509v3 Subject Key Identifier",
        "X509v3 Authority Key Identifier",
        "ecdsa-with-SHA256",
        "Mar 20 23:59:59 2032 GMT",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}

#[test]
fn openssl_prints_issuer_extensions() {
    let card = Card::new();
    let (ok, out) = openssl(
        &card.dir(),
        &["x509", "-in", files::SIGNING_CA_CERT, "-noout", "-text"],
    );
    assert!(ok, "{out}");
    assert!(out.contains("CA:TRUE, pathlen:0"), "{out}");
    assert!(out.contains("Certificate Sign, CRL Sign"), "{out}");
    assert!(
        out.contains("Subject: C = IR, O = melli test issuer, CN = melli Signing CA"),
        "{out}"
    );
    let (ok, out) = openssl(
        &card.dir(),
        &[
            "x509",
            "-in",
            files::DOCUMENT_SIGNER_CERT,
            "-noout",
            "-text",
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("CA:FALSE"), "{out}");
    assert!(
        out.contains("X509v3 Key Usage: critical\n                Digital Signature\n"),
        "{out}"
    );
}

#[test]
fn openssl_cms_verify_accepts_security_object_and_prints_content() {
    let card = Card::new();
    let so = card.security_object();
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
            "-out",
            "content.der",
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("Verification successful"), "{out}");
    let content = fs::read(card.dir().join("content.der")).unwrap();
    let parsed = SecurityObject::parse(&so).unwrap();
    assert_eq!(content, parsed.signed_data().econtent().unwrap());

    // openssl sees the structure the spec asks for.
    let (ok, out) = openssl(
        &card.dir(),
        &[
            "cms", "-cmsout", "-print", "-inform", "DER", "-in", "so.der",
        ],
    );
    assert!(ok, "{out}");
    for expected in [
        crate::spec::oid::SECURITY_OBJECT,
        "version: 3",
        "contentType",
        "messageDigest",
        "signingTime",
        "ecdsa-with-SHA256",
        "sha256",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }

    // A tampered eContent is refused by openssl too.
    let serial_at = find(&so, SERIAL.as_bytes());
    card.write("bad.der", &flip(&so, serial_at));
    let (ok, _) = openssl(
        &card.dir(),
        &[
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "bad.der",
            "-CAfile",
            files::ROOT_CERT,
        ],
    );
    assert!(!ok);
}

#[test]
fn openssl_signature_by_holder_certificate_verifies_in_openssl_and_melli() {
    let card = Card::new();
    card.write_holder_files();
    card.write("doc.txt", b"a document to sign\n");
    let (ok, out) = openssl(
        &card.dir(),
        &[
            "cms",
            "-sign",
            "-binary",
            "-in",
            "doc.txt",
            "-signer",
            "holder.pem",
            "-inkey",
            "holder.key",
            "-certfile",
            files::SIGNING_CA_CERT,
            "-md",
            "sha256",
            "-cades",
            "-outform",
            "DER",
            "-out",
            "doc.p7s",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = openssl(
        &card.dir(),
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-content",
            "doc.txt",
            "-in",
            "doc.p7s",
            "-CAfile",
            files::ROOT_CERT,
            "-out",
            "/dev/null",
        ],
    );
    assert!(ok, "{out}");

    // melli's own verifier on openssl's signature.
    let p7s = fs::read(card.dir().join("doc.p7s")).unwrap();
    let view = SignedDataView::parse(&p7s).unwrap();
    assert!(view.econtent().is_none());
    let signer = view.signer_certificate().unwrap();
    view.verify_signature(signer).unwrap();
    view.check_message_digest(&Sha256::digest(b"a document to sign\n"))
        .unwrap();
    let err = view
        .check_message_digest(&Sha256::digest(b"another document\n"))
        .unwrap_err();
    assert!(matches!(err, CmsError::DigestMismatch { .. }), "{err}");
    let others: Vec<Certificate> = view
        .certificates()
        .iter()
        .filter(|c| *c != signer)
        .cloned()
        .collect();
    let path = verify_path(
        signer,
        "signer certificate",
        LeafPurpose::DocumentSignature,
        &others,
        card.issuer.root_certificate(),
        SystemTime::now(),
    )
    .unwrap();
    assert_eq!(
        path.labels(),
        ["Ali Rezaei", "melli Signing CA", "melli Root CA"]
    );
    assert!(view.signing_time().unwrap().is_some());
    // openssl's -cades signingCertificateV2 names the holder certificate.
    view.check_signing_certificate(signer).unwrap();
}

#[test]
fn melli_detached_signature_verifies_in_openssl() {
    let card = Card::new();
    let doc = b"document signed the way `melli sign` will\n";
    card.write("doc.txt", doc);
    let holder = Certificate::from_der(&card.holder_cert).unwrap();
    let ca = card.issuer.signing_ca_certificate().clone();
    let p7s = signed_data::sign(
        &RawOid::from(asn1::ID_DATA),
        doc,
        false,
        &card.holder_key,
        &holder,
        &[holder.clone(), ca],
        SystemTime::now(),
        vec![signed_data::signing_certificate_v2(&holder).unwrap()],
    )
    .unwrap();
    card.write("doc.p7s", &p7s);
    let (ok, out) = openssl(
        &card.dir(),
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-content",
            "doc.txt",
            "-in",
            "doc.p7s",
            "-CAfile",
            files::ROOT_CERT,
            "-out",
            "/dev/null",
        ],
    );
    assert!(ok, "{out}");
    let view = SignedDataView::parse(&p7s).unwrap();
    assert_eq!(
        view.signed_data().version,
        cms::content_info::CmsVersion::V1
    );
}

// ---- melli's verifier ------------------------------------------------------------------

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
            super::security_object::data_group_name(*n)
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
    let failures: Vec<&super::Check> = verdict.failures().collect();
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
        super::security_object::readable_data_groups_from_spec(),
        super::security_object::READABLE_DATA_GROUPS
    );
}

// ---- holder certificates and chains ----------------------------------------------------

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
    let content = super::security_object::encode_content(SERIAL, &card.group_refs()).unwrap();
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
            subject: super::name::NameBuilder::new()
                .push(
                    super::name::COMMON_NAME,
                    super::name::StringKind::Utf8,
                    "rogue",
                )
                .unwrap()
                .build(),
            public_key: cert::spki_of(&leaf_key).unwrap(),
            not_before: SystemTime::now() - Duration::from_secs(60),
            not_after: SystemTime::now() + Duration::from_secs(3600),
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

// ---- certificate profiles are allow lists (applets-spec §9.3.6) ------------------------

/// With openssl alone, in `dir`: a P-256 key `NAME.key`, and `NAME.pem`, a certificate for it
/// with subject `subject` and the extensions of `ext` (an openssl extfile), issued by
/// `ca_cert` / `ca_key` (files in `dir`).
fn openssl_certificate(
    dir: &Path,
    name: &str,
    subject: &str,
    ext: &str,
    ca_cert: &str,
    ca_key: &str,
) -> Certificate {
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let pem = format!("{name}.pem");
    let extfile = format!("{name}.ext");
    fs::write(
        dir.join(&extfile),
        format!("{ext}\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n"),
    )
    .unwrap();
    for args in [
        vec![
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &key,
        ],
        vec![
            "req", "-new", "-utf8", "-key", &key, "-subj", subject, "-out", &csr,
        ],
        vec![
            "x509", "-req", "-in", &csr, "-CA", ca_cert, "-CAkey", ca_key, "-days", "30",
            "-sha256", "-extfile", &extfile, "-out", &pem,
        ],
    ] {
        let (ok, out) = openssl(dir, &args);
        assert!(ok, "openssl {args:?}: {out}");
    }
    cert::from_pem_or_der(&fs::read(dir.join(&pem)).unwrap()).unwrap()
}

/// Document signers made by openssl under the test root, one rule broken each: the security
/// object that openssl signs with each (applets-spec §9.2's informative command) fails the
/// document signer chain naming the rule, and nothing else; the good ones pass.
#[test]
fn document_signer_profile_is_an_allow_list() {
    let card = Card::new();
    let dir = card.dir();
    let content = super::security_object::encode_content(SERIAL, &card.group_refs()).unwrap();
    card.write("so.der", &content);
    const GOOD: &str = "basicConstraints = critical, CA:FALSE\n\
                        keyUsage = critical, digitalSignature";
    let cases: [(&str, String, Option<&str>); 11] = [
        ("good", GOOD.into(), None),
        (
            "no-basic-constraints",
            "keyUsage = critical, digitalSignature".into(),
            None,
        ),
        (
            "no-key-usage",
            "basicConstraints = critical, CA:FALSE".into(),
            Some("document signer certificate: keyUsage is missing"),
        ),
        (
            "key-usage-not-critical",
            "basicConstraints = critical, CA:FALSE\nkeyUsage = digitalSignature".into(),
            Some("document signer certificate: keyUsage is not critical"),
        ),
        (
            "extra-key-encipherment",
            "basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature, keyEncipherment"
                .into(),
            Some("document signer certificate: keyUsage has keyEncipherment"),
        ),
        (
            "extra-non-repudiation",
            "basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature, nonRepudiation"
                .into(),
            Some("document signer certificate: keyUsage has nonRepudiation"),
        ),
        (
            "server-auth",
            format!("{GOOD}\nextendedKeyUsage = serverAuth"),
            Some("document signer certificate: extendedKeyUsage is present (serverAuth)"),
        ),
        (
            "ocsp-signing",
            format!("{GOOD}\nextendedKeyUsage = OCSPSigning"),
            Some("document signer certificate: extendedKeyUsage is present (OCSPSigning)"),
        ),
        (
            "email-protection",
            format!("{GOOD}\nextendedKeyUsage = emailProtection"),
            Some("document signer certificate: extendedKeyUsage is present (emailProtection)"),
        ),
        (
            "ca-true",
            "basicConstraints = critical, CA:TRUE\nkeyUsage = critical, digitalSignature".into(),
            Some("document signer certificate is a CA certificate"),
        ),
        (
            "key-cert-sign",
            "basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature, keyCertSign"
                .into(),
            Some("document signer certificate: keyUsage has keyCertSign"),
        ),
    ];
    // The root key is kept apart, in the root directory beside the issuer's.
    let root_key = card.tmp.path().join("issuer-root").join(files::ROOT_KEY);
    let root_key = root_key.to_str().unwrap();
    for (name, ext, expected) in cases {
        openssl_certificate(
            &dir,
            name,
            &format!("/C=IR/O=melli test issuer/CN=DS {name}"),
            &ext,
            files::ROOT_CERT,
            root_key,
        );
        let so = format!("{name}.so.der");
        let (ok, out) = openssl(
            &dir,
            &[
                "cms",
                "-sign",
                "-binary",
                "-nodetach",
                "-nosmimecap",
                "-md",
                "sha256",
                "-econtent_type",
                crate::spec::oid::SECURITY_OBJECT,
                "-signer",
                &format!("{name}.pem"),
                "-inkey",
                &format!("{name}.key"),
                "-in",
                "so.der",
                "-outform",
                "DER",
                "-out",
                &so,
            ],
        );
        assert!(ok, "{name}: {out}");
        let verdict = card.verify(&fs::read(dir.join(&so)).unwrap(), &card.group_refs());
        let failures: Vec<String> = verdict
            .failures()
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        match expected {
            None => assert!(verdict.passed(), "{name}: {verdict}"),
            Some(rule) => {
                assert_eq!(failures.len(), 1, "{name}: {verdict}");
                let want = format!("{}: {rule}", check::DOCUMENT_SIGNER);
                assert!(
                    failures[0].starts_with(&want),
                    "{name}: expected {want:?}, got {:?}",
                    failures[0]
                );
            }
        }
    }
}

// ---- document signatures: signingCertificateV2 and signingTime -------------------------

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

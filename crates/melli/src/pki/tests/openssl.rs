//! openssl interop: what openssl accepts of melli's certificates and signatures, and melli of openssl's.

use super::*;

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

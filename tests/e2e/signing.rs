//! Signing with the card: `melli sign`, `melli verify-signature`, OpenSSL as the peer, the PIN's
//! retry counter, unblocking with the PUK, and a verified PIN not outliving its process.

use std::process::Command;
use std::time::Duration;

use crate::common::openssl::{openssl, openssl_certificate, openssl_sign_with};
use crate::common::{
    assert_secret_absent, melli, melli_stdin, other_issuer, personalized_card, root_pem, run,
    test_issuer, Output, VirtualCard,
};

/// A file to sign, in the card's directory.
fn document(card: &VirtualCard, text: &str) -> String {
    let path = card.dir().join("contract.txt");
    std::fs::write(&path, text).expect("write document");
    path.to_str().expect("utf-8").to_string()
}

fn sign(card: &VirtualCard, file: &str, pin: &str) -> (Output, String) {
    let sig = format!("{file}.p7s");
    let out = melli_stdin(
        &[
            "sign",
            file,
            "--pin-stdin",
            "--reader",
            card.reader_name(),
            "--out",
            &sig,
        ],
        &format!("{pin}\n"),
    );
    (out, sig)
}

fn verify_signature(file: &str, sig: &str, root: &str) -> Output {
    melli(&["verify-signature", file, sig, "--trust", root, "--json"])
}

fn pin_status(card: &VirtualCard) -> serde_json::Value {
    let out = melli(&["pin", "status", "--reader", card.reader_name(), "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    out.json()
}

#[test]
fn a_signature_verifies_with_melli_and_openssl() {
    let (card, mailer) = personalized_card();
    let file = document(&card, "I agree to the terms.\n");
    let (signed, sig) = sign(&card, &file, &mailer.pin);
    assert_eq!(signed.code, 0, "{signed:?}\ncard log:\n{}", card.log());
    let root = root_pem(test_issuer());

    let ours = verify_signature(&file, &sig, &root);
    assert_eq!(ours.code, 0, "{ours:?}");

    let theirs = run(
        Command::new("openssl").args([
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-content",
            &file,
            "-in",
            &sig,
            "-CAfile",
            &root,
            "-out",
            "/dev/null",
        ]),
        Duration::from_secs(30),
    );
    assert_eq!(theirs.code, 0, "openssl cms -verify: {theirs:?}");

    // The file changed after signing.
    std::fs::write(&file, "I agree to the terms!\n").expect("rewrite");
    let tampered = verify_signature(&file, &sig, &root);
    assert_eq!(tampered.code, 1, "{tampered:?}");
    assert!(
        tampered.stdout.contains("message digest") || tampered.stderr.contains("message digest"),
        "no word of the message digest: {tampered:?}"
    );
    std::fs::write(&file, "I agree to the terms.\n").expect("restore");

    // Another issuer's root is not trusted for this signer.
    let wrong_root = verify_signature(&file, &sig, &root_pem(other_issuer()));
    assert_eq!(wrong_root.code, 1, "{wrong_root:?}");

    assert_secret_absent(
        &mailer.pin,
        &[&signed, &ours, &theirs, &tampered, &wrong_root],
    );
}

#[test]
fn three_wrong_pins_block_signing_until_the_puk_unblocks() {
    let (card, mailer) = personalized_card();
    let file = document(&card, "blocked?\n");
    let wrong = if mailer.pin == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_eq!(pin_status(&card)["pin"], 3);
    let mut outputs = Vec::new();
    for left in [2, 1, 0] {
        let (out, _) = sign(&card, &file, wrong);
        assert_ne!(out.code, 0, "signed with a wrong PIN: {out:?}");
        assert_eq!(pin_status(&card)["pin"], left, "after {out:?}");
        outputs.push(out);
    }
    // Blocked: even the right PIN no longer signs.
    let (blocked, _) = sign(&card, &file, &mailer.pin);
    assert_ne!(blocked.code, 0, "{blocked:?}");
    assert!(
        blocked.stderr.to_lowercase().contains("blocked"),
        "{blocked:?}"
    );
    assert_eq!(pin_status(&card)["puk"], 10);

    // A wrong PUK costs a PUK try.
    let wrong_puk = if mailer.puk == "0000000000" {
        "1111111111"
    } else {
        "0000000000"
    };
    let bad_unblock = melli_stdin(
        &[
            "pin",
            "unblock",
            "--reader",
            card.reader_name(),
            "--pin-stdin",
        ],
        &format!("{wrong_puk}\n246810\n"),
    );
    assert_ne!(bad_unblock.code, 0, "{bad_unblock:?}");
    assert_eq!(pin_status(&card)["puk"], 9);

    let new_pin = "246810";
    let unblocked = melli_stdin(
        &[
            "pin",
            "unblock",
            "--reader",
            card.reader_name(),
            "--pin-stdin",
        ],
        &format!("{}\n{new_pin}\n", mailer.puk),
    );
    assert_eq!(unblocked.code, 0, "{unblocked:?}");
    let status = pin_status(&card);
    assert_eq!(status["pin"], 3, "{status}");
    assert_eq!(status["puk"], 10, "{status}");

    let (signed, sig) = sign(&card, &file, new_pin);
    assert_eq!(signed.code, 0, "{signed:?}");
    let ok = verify_signature(&file, &sig, &root_pem(test_issuer()));
    assert_eq!(ok.code, 0, "{ok:?}");

    outputs.extend([blocked, bad_unblock, unblocked, signed, ok]);
    let refs: Vec<&Output> = outputs.iter().collect();
    for secret in [mailer.pin.as_str(), mailer.puk.as_str(), new_pin] {
        assert_secret_absent(secret, &refs);
    }
}

#[test]
fn pin_change_then_sign_with_the_new_pin() {
    let (card, mailer) = personalized_card();
    let new_pin = "135790";
    let changed = melli_stdin(
        &[
            "pin",
            "change",
            "--reader",
            card.reader_name(),
            "--pin-stdin",
        ],
        &format!("{}\n{new_pin}\n", mailer.pin),
    );
    assert_eq!(changed.code, 0, "{changed:?}");
    let file = document(&card, "changed\n");
    let (old, _) = sign(&card, &file, &mailer.pin);
    assert_ne!(old.code, 0, "the old PIN still signs: {old:?}");
    assert_eq!(pin_status(&card)["pin"], 2);
    let (new, sig) = sign(&card, &file, new_pin);
    assert_eq!(new.code, 0, "{new:?}");
    assert_eq!(
        pin_status(&card)["pin"],
        3,
        "a right PIN resets the counter"
    );
    assert_eq!(
        verify_signature(&file, &sig, &root_pem(test_issuer())).code,
        0
    );
    for secret in [mailer.pin.as_str(), new_pin] {
        assert_secret_absent(secret, &[&changed, &old, &new]);
    }
}

#[test]
fn a_verified_pin_does_not_outlive_its_connection() {
    use melli::applet::Applet;
    use melli::model::{Secret, SecretKind};
    use melli::transport::{PcscTransport, Transport};

    let (card, mailer) = personalized_card();
    let digest = [0x5A_u8; 32];
    {
        let transport = PcscTransport::connect(Some(card.reader_name())).expect("connect");
        let mut applet = Applet::select(transport).expect("select");
        let pin = Secret::parse(SecretKind::Pin, &mailer.pin).expect("PIN");
        let mut verified = applet.verify_pin(&pin).expect("VERIFY sent, the right PIN");
        let signature = verified
            .sign_digest(&digest)
            .expect("PSO in the same session");
        assert_eq!(signature.len(), 64);
    }
    // A new connection (as a second `melli` process would make): PSO without VERIFY.
    let mut transport = PcscTransport::connect(Some(card.reader_name())).expect("reconnect");
    let select = hex::decode(crate::common::SELECT_MELLI).expect("hex");
    let answer = transport.transmit(&select).expect("SELECT");
    assert_eq!(answer[answer.len() - 2..], [0x90, 0x00]);
    let mut pso = vec![0x00, 0x2A, 0x9E, 0x9A, 0x20];
    pso.extend_from_slice(&digest);
    pso.push(0x00);
    let answer = transport.transmit(&pso).expect("PSO");
    assert_eq!(
        hex::encode_upper(&answer[answer.len() - 2..]),
        "6982",
        "PSO signed without a PIN in this session: {}",
        hex::encode_upper(&answer)
    );
    // And through the CLI: a sign with no PIN on stdin fails.
    let file = document(&card, "no pin\n");
    let out = melli_stdin(
        &["sign", &file, "--pin-stdin", "--reader", card.reader_name()],
        "",
    );
    assert_ne!(out.code, 0, "{out:?}");
}

/// The extensions of a holder certificate (applets-spec §9.3.5), as an openssl extfile;
/// id-kp-documentSigning by number, openssl 3.0 has no name for it.
const HOLDER_EXT: &str = "basicConstraints = critical, CA:FALSE\n\
                          keyUsage = critical, digitalSignature, nonRepudiation\n\
                          extendedKeyUsage = emailProtection, 1.3.6.1.5.5.7.3.36\n";

/// The extensions of a signing CA (applets-spec §9.3.4), as an openssl extfile.
const CA_EXT: &str = "basicConstraints = critical, CA:TRUE, pathlen:0\n\
                      keyUsage = critical, keyCertSign, cRLSign\n";

/// The holder's subject, as openssl's `-subj` takes it.
const HOLDER_SUBJECT: &str =
    "/C=IR/serialNumber=0012345679/SN=Rezaei/GN=Ali/name=علی رضایی/CN=Ali Rezaei";

/// Makes `NAME.key` (P-256) and `NAME.pem`, a holder certificate for it issued by `CA.pem` /
/// `CA.key`, all with openssl, in `dir`.
fn openssl_holder(dir: &std::path::Path, name: &str, ca_cert: &str, ca_key: &str) {
    openssl_certificate(dir, name, HOLDER_SUBJECT, HOLDER_EXT, ca_cert, ca_key);
}

/// `openssl cms -sign -cades` of `doc.txt` with `NAME.pem` / `NAME.key`, carrying `chain`:
/// signed attributes contentType, signingTime, messageDigest and, for `-cades`,
/// signingCertificateV2.
fn openssl_sign(dir: &std::path::Path, name: &str, chain: &str) -> String {
    openssl_sign_with(dir, name, chain, &["-cades"])
}

fn failed_check(out: &Output, name: &str) -> String {
    let json = out.json();
    let check = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name:?} check: {out:?}"));
    assert_eq!(check["passed"], false, "{name} passed: {out:?}");
    check["detail"].as_str().unwrap_or_default().to_string()
}

#[test]
fn openssl_signatures_verify_in_melli_and_foreign_signers_fail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let issuer = crate::common::plain_issuer();
    let ca_cert = issuer.join("signing-ca.pem");
    let ca_key = issuer.join("signing-ca.key");
    let (ca_cert, ca_key) = (
        ca_cert.to_str().expect("utf-8"),
        ca_key.to_str().expect("utf-8"),
    );
    let root = root_pem(issuer);
    std::fs::write(dir.join("doc.txt"), "signed by openssl\n").expect("write doc");
    let doc = dir.join("doc.txt").to_str().expect("utf-8").to_string();

    // A P-256 holder key and certificate from our signing CA, made and used by openssl alone.
    openssl_holder(dir, "holder", ca_cert, ca_key);
    let sig = openssl_sign(dir, "holder", ca_cert);
    let out = verify_signature(&doc, &sig, &root);
    assert_eq!(out.code, 0, "{out:?}");
    let json = out.json();
    assert_eq!(json["signer"]["national_code"], "0012345679", "{json}");
    assert_eq!(json["signer"]["full_name_fa"], "علی رضایی", "{json}");
    assert!(json["claimed_signing_time"].is_string(), "{json}");

    // Its signature bytes changed (the last byte of s): the signature check fails.
    let mut bytes = std::fs::read(&sig).expect("read p7s");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let tampered = format!("{sig}.tampered");
    std::fs::write(&tampered, &bytes).expect("write tampered");
    let out = verify_signature(&doc, &tampered, &root);
    assert_eq!(out.code, 1, "{out:?}");
    let detail = failed_check(&out, "signature");
    assert!(detail.contains("signature"), "{detail}");

    // Signed without -cades, so without signingCertificateV2: refused, since melli always
    // writes it (applets-spec §9.6), and nothing else is wrong.
    let sig = openssl_sign_with(dir, "holder", ca_cert, &[]);
    let out = verify_signature(&doc, &sig, &root);
    assert_eq!(out.code, 1, "{out:?}");
    let detail = failed_check(&out, "signing certificate");
    assert!(
        detail.contains("signingCertificateV2 is missing"),
        "{detail}"
    );
    only_failure(&out, "signing certificate");

    // A signer whose certificate comes from a CA of its own making, not our signing CA.
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "fake-ca.key",
            "-out",
            "fake-ca.pem",
            "-days",
            "30",
            "-subj",
            "/C=IR/O=melli test issuer/CN=melli Signing CA",
        ],
    );
    openssl_holder(dir, "impostor", "fake-ca.pem", "fake-ca.key");
    let sig = openssl_sign(dir, "impostor", "fake-ca.pem");
    let out = verify_signature(&doc, &sig, &root);
    assert_eq!(out.code, 1, "{out:?}");
    let detail = failed_check(&out, "signer certificate chain");
    assert!(
        detail.contains("not issued by the trusted root"),
        "{detail}"
    );
    // Nothing else is wrong with it: the digest and the signature are sound.
    only_failure(&out, "signer certificate chain");
}

/// Panics unless `name` is the only failed check of a `verify-signature --json` output.
fn only_failure(out: &Output, name: &str) {
    let json = out.json();
    for c in json["checks"].as_array().expect("checks") {
        assert!(c["name"] == name || c["passed"] == true, "{c}\n{out:?}");
    }
}

/// `dir/FILE` as a string.
fn path_in(dir: &std::path::Path, file: &str) -> String {
    dir.join(file).to_str().expect("utf-8").to_string()
}

/// Every certificate role is an allow list (applets-spec §9.3.6): holder certificates and
/// signing CAs made by openssl under the test issuer, and roots made by openssl, each
/// breaking one rule, make `melli verify-signature` fail the chain naming the rule; the good
/// ones pass.
#[test]
fn holder_ca_and_root_profiles_are_allow_lists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let issuer = crate::common::plain_issuer();
    let path = |f: &str| issuer.join(f).to_str().expect("utf-8").to_string();
    let (ca_cert, ca_key) = (path("signing-ca.pem"), path("signing-ca.key"));
    let root_key = crate::common::plain_root_key(issuer);
    let (root, root_key) = (
        root_pem(issuer),
        root_key.to_str().expect("utf-8").to_string(),
    );
    std::fs::write(dir.join("doc.txt"), "profiles\n").expect("write doc");
    let doc = path_in(dir, "doc.txt");
    let check = |out: &Output, name: &str, expected: Option<&str>| match expected {
        None => assert_eq!(out.code, 0, "{name}: {out:?}"),
        Some(rule) => {
            assert_eq!(out.code, 1, "{name}: {out:?}");
            let detail = failed_check(out, "signer certificate chain");
            assert!(
                detail.starts_with(rule),
                "{name}: expected {rule:?}, got {detail:?}"
            );
            only_failure(out, "signer certificate chain");
        }
    };

    const BC: &str = "basicConstraints = critical, CA:FALSE\n";
    const KU: &str = "keyUsage = critical, digitalSignature, nonRepudiation\n";
    const EKU: &str = "extendedKeyUsage = emailProtection, 1.3.6.1.5.5.7.3.36\n";
    let holders: [(&str, String, Option<&str>); 11] = [
        ("holder-good", HOLDER_EXT.into(), None),
        (
            "holder-minimal",
            "keyUsage = critical, nonRepudiation\nextendedKeyUsage = 1.3.6.1.5.5.7.3.36\n".into(),
            None,
        ),
        (
            "no-key-usage",
            format!("{BC}{EKU}"),
            Some("signer certificate: keyUsage is missing"),
        ),
        (
            "key-usage-not-critical",
            format!("{BC}keyUsage = digitalSignature, nonRepudiation\n{EKU}"),
            Some("signer certificate: keyUsage is not critical"),
        ),
        (
            "key-encipherment",
            format!("{BC}keyUsage = critical, digitalSignature, keyEncipherment\n{EKU}"),
            Some("signer certificate: keyUsage has keyEncipherment"),
        ),
        (
            "no-extended-key-usage",
            format!("{BC}{KU}"),
            Some("signer certificate: extendedKeyUsage is missing"),
        ),
        (
            "server-auth",
            format!("{BC}{KU}extendedKeyUsage = emailProtection, 1.3.6.1.5.5.7.3.36, serverAuth\n"),
            Some("signer certificate: extendedKeyUsage has serverAuth"),
        ),
        (
            "ocsp-signing",
            format!("{BC}{KU}extendedKeyUsage = OCSPSigning\n"),
            Some("signer certificate: extendedKeyUsage has OCSPSigning"),
        ),
        (
            "email-only",
            format!("{BC}{KU}extendedKeyUsage = emailProtection\n"),
            Some("signer certificate: extendedKeyUsage lacks documentSigning"),
        ),
        (
            "any-purpose",
            format!("{BC}{KU}extendedKeyUsage = 1.3.6.1.5.5.7.3.36, anyExtendedKeyUsage\n"),
            Some("signer certificate: extendedKeyUsage has anyExtendedKeyUsage"),
        ),
        (
            "ca-true",
            format!("basicConstraints = critical, CA:TRUE\n{KU}{EKU}"),
            Some("signer certificate is a CA certificate"),
        ),
    ];
    for (name, ext, expected) in &holders {
        openssl_certificate(dir, name, HOLDER_SUBJECT, ext, &ca_cert, &ca_key);
        let sig = openssl_sign(dir, name, &ca_cert);
        check(&verify_signature(&doc, &sig, &root), name, *expected);
    }

    // Signing CAs under the test root, a good holder under each.
    let cas: [(&str, String, Option<&str>); 6] = [
        ("ca-good", CA_EXT.into(), None),
        (
            "ca-no-key-cert-sign",
            "basicConstraints = critical, CA:TRUE, pathlen:0\nkeyUsage = critical, cRLSign\n"
                .into(),
            Some("CA certificate \"CA ca-no-key-cert-sign\": keyUsage lacks keyCertSign"),
        ),
        (
            "ca-not-critical",
            "basicConstraints = CA:TRUE, pathlen:0\nkeyUsage = critical, keyCertSign, cRLSign\n"
                .into(),
            Some("CA certificate \"CA ca-not-critical\": basicConstraints is not critical"),
        ),
        (
            "ca-no-key-usage",
            "basicConstraints = critical, CA:TRUE, pathlen:0\n".into(),
            Some("CA certificate \"CA ca-no-key-usage\": keyUsage is missing"),
        ),
        (
            "ca-digital-signature",
            "basicConstraints = critical, CA:TRUE, pathlen:0\n\
             keyUsage = critical, keyCertSign, cRLSign, digitalSignature\n"
                .into(),
            Some("CA certificate \"CA ca-digital-signature\": keyUsage has digitalSignature"),
        ),
        (
            "ca-ocsp-signing",
            format!("{CA_EXT}extendedKeyUsage = OCSPSigning\n"),
            Some(
                "CA certificate \"CA ca-ocsp-signing\": extendedKeyUsage is present (OCSPSigning)",
            ),
        ),
    ];
    for (name, ext, expected) in &cas {
        let subject = format!("/C=IR/O=melli test issuer/CN=CA {name}");
        openssl_certificate(dir, name, &subject, ext, &root, &root_key);
        let (ca, key) = (format!("{name}.pem"), format!("{name}.key"));
        let holder = format!("holder-of-{name}");
        openssl_holder(dir, &holder, &ca, &key);
        let sig = openssl_sign(dir, &holder, &ca);
        check(&verify_signature(&doc, &sig, &root), name, *expected);
    }

    // Roots made by openssl: `req -x509` with openssl's default v3_ca extensions has no
    // keyUsage; with one added it is a good root.
    for (name, add, expected) in [
        (
            "root-good",
            Some("keyUsage = critical, keyCertSign, cRLSign"),
            None,
        ),
        (
            "root-no-key-usage",
            None,
            Some("trusted root certificate \"openssl root-no-key-usage\": keyUsage is missing"),
        ),
    ] {
        let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
        let subject = format!("/C=IR/O=openssl test issuer/CN=openssl {name}");
        let mut args = vec![
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "30",
            "-subj",
            &subject,
        ];
        if let Some(add) = add {
            args.extend(["-addext", add]);
        }
        openssl(dir, &args);
        let ca = format!("ca-under-{name}");
        openssl_certificate(
            dir,
            &ca,
            &format!("/C=IR/O=openssl test issuer/CN=CA under {name}"),
            CA_EXT,
            &pem,
            &key,
        );
        let holder = format!("holder-under-{name}");
        openssl_holder(dir, &holder, &format!("{ca}.pem"), &format!("{ca}.key"));
        let sig = openssl_sign(dir, &holder, &format!("{ca}.pem"));
        check(
            &verify_signature(&doc, &sig, &path_in(dir, &pem)),
            name,
            expected,
        );
    }
}

/// A signature made with the key of a certificate that has expired, claiming a signingTime
/// inside the certificate's validity: judged now, it is not VALID (the claim is shown, never
/// trusted). The certificate is made by openssl (`openssl ca` with a validity that ended ten
/// seconds ago) under a fresh test issuer; openssl cannot set signingTime, so the library's
/// CMS signer makes the signature with the openssl key, as a forger's tool would.
#[test]
fn an_expired_certificate_does_not_verify_at_the_signing_time_it_claims() {
    use melli::pki::asn1::{RawOid, ID_DATA};
    use melli::pki::{cert, signed_data};
    use p256::pkcs8::DecodePrivateKey;
    use std::time::{Duration as Span, SystemTime};

    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let issuer = crate::common::make_plain_issuer("expired-holder");
    let path = |f: &str| issuer.join(f).to_str().expect("utf-8").to_string();
    let root = root_pem(&issuer);
    std::fs::write(
        dir.join("ca.cnf"),
        "[ ca ]\ndefault_ca = holder_ca\n\
         [ holder_ca ]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n\
         default_md = sha256\npolicy = policy_any\nunique_subject = no\n\
         [ policy_any ]\ncommonName = supplied\n",
    )
    .expect("ca.cnf");
    std::fs::write(dir.join("index.txt"), "").expect("index");
    std::fs::write(dir.join("serial"), "4D454C4C49\n").expect("serial");
    std::fs::write(
        dir.join("holder.ext"),
        format!("{HOLDER_EXT}subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n"),
    )
    .expect("ext");
    let now = SystemTime::now();
    let stamp = |t: SystemTime| {
        let t = der::DateTime::from_system_time(t).expect("time");
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minutes(),
            t.seconds()
        )
    };
    let (start, end) = (
        stamp(now - Span::from_secs(50)),
        stamp(now - Span::from_secs(10)),
    );
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "old.key",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-utf8",
            "-key",
            "old.key",
            "-subj",
            HOLDER_SUBJECT,
            "-out",
            "old.csr",
        ],
    );
    openssl(
        dir,
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-cert",
            &path("signing-ca.pem"),
            "-keyfile",
            &path("signing-ca.key"),
            "-in",
            "old.csr",
            "-out",
            "old.pem",
            "-startdate",
            &start,
            "-enddate",
            &end,
            "-extfile",
            "holder.ext",
            "-preserveDN",
            "-notext",
        ],
    );
    let holder = cert::from_pem_or_der(&std::fs::read(dir.join("old.pem")).expect("old.pem"))
        .expect("certificate");
    let ca = cert::from_pem_or_der(&std::fs::read(path("signing-ca.pem")).expect("CA"))
        .expect("CA certificate");
    let key = p256::ecdsa::SigningKey::from_pkcs8_pem(
        &std::fs::read_to_string(dir.join("old.key")).expect("key"),
    )
    .expect("PKCS#8 key");
    let content = b"backdated\n";
    std::fs::write(dir.join("doc.txt"), content).expect("doc");
    let claimed = now - Span::from_secs(30);
    let p7s = signed_data::sign(
        &RawOid::from(ID_DATA),
        content,
        false,
        &key,
        &holder,
        &[holder.clone(), ca],
        claimed,
        vec![signed_data::signing_certificate_v2(&holder).expect("ESS")],
    )
    .expect("sign");
    std::fs::write(dir.join("doc.p7s"), &p7s).expect("p7s");
    let (doc, sig) = (path_in(dir, "doc.txt"), path_in(dir, "doc.p7s"));

    let out = verify_signature(&doc, &sig, &root);
    assert_eq!(out.code, 1, "a backdated signature verifies: {out:?}");
    let detail = failed_check(&out, "signer certificate chain");
    assert!(
        detail.starts_with("signer certificate expired on "),
        "{detail}"
    );
    only_failure(&out, "signer certificate chain");
    let json = out.json();
    let claimed_text = melli::pki::asn1::date_time_string(
        &der::DateTime::from_system_time(claimed).expect("time"),
    );
    assert_eq!(
        json["claimed_signing_time"],
        claimed_text.as_str(),
        "{json}"
    );
    assert_eq!(
        json["chain_checked_at"]["reason"], "checked now: no trusted timestamp",
        "{json}"
    );

    // The text says the same, and shows the time only as the signer's claim.
    let text = melli(&["verify-signature", &doc, &sig, "--trust", &root]);
    assert_eq!(text.code, 1, "{text:?}");
    assert!(
        text.stdout.contains(&format!(
            "signing time claimed by the signer: {claimed_text}"
        )),
        "{text:?}"
    );
    assert!(
        text.stdout.contains("(checked now: no trusted timestamp)"),
        "{text:?}"
    );
    assert!(
        text.stdout.contains("verdict: INVALID signature"),
        "{text:?}"
    );

    // openssl judges the certificate now too.
    let theirs = run(
        Command::new("openssl").args([
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-content",
            &doc,
            "-in",
            &sig,
            "-CAfile",
            &root,
            "-out",
            "/dev/null",
        ]),
        Duration::from_secs(30),
    );
    assert_ne!(theirs.code, 0, "openssl accepts it: {theirs:?}");
    assert!(theirs.stderr.contains("expired"), "{theirs:?}");
}

/// A card's signature: the chain is checked now and the verdict says so; the signing time is
/// shown as the signer's claim, and a claim far from the truth (a card signature claiming a
/// time before its certificate existed) changes nothing.
#[test]
fn a_card_signature_is_checked_now_and_its_signing_time_is_only_a_claim() {
    use melli::applet::Applet;
    use melli::model::{Secret, SecretKind};
    use melli::ops::sign::sign_digest;
    use melli::transport::PcscTransport;
    use std::time::{Duration as Span, SystemTime};

    let (card, mailer) = personalized_card();
    let file = document(&card, "checked now\n");
    let (signed, sig) = sign(&card, &file, &mailer.pin);
    assert_eq!(signed.code, 0, "{signed:?}");
    let root = root_pem(test_issuer());
    let out = verify_signature(&file, &sig, &root);
    assert_eq!(out.code, 0, "{out:?}");
    let json = out.json();
    assert_eq!(
        json["chain_checked_at"]["reason"], "checked now: no trusted timestamp",
        "{json}"
    );
    assert!(json["chain_checked_at"]["time"].is_string(), "{json}");
    assert!(json["claimed_signing_time"].is_string(), "{json}");
    let names: Vec<&str> = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "signature format",
            "message digest",
            "signature",
            "signing certificate",
            "signing time",
            "signer certificate chain"
        ],
        "{json}"
    );
    let text = melli(&["verify-signature", &file, &sig, "--trust", &root]);
    assert_eq!(text.code, 0, "{text:?}");
    for expected in [
        "signing time claimed by the signer: ",
        "chain checked at ",
        "(checked now: no trusted timestamp)",
        "verdict: VALID signature",
    ] {
        assert!(text.stdout.contains(expected), "{expected:?}: {text:?}");
    }

    // The card signs with a claimed signingTime of 2001, long before its certificate.
    let claimed = SystemTime::UNIX_EPOCH + Span::from_secs(978_307_200); // 2001-01-01
    let p7s = {
        let transport = PcscTransport::connect(Some(card.reader_name())).expect("connect");
        let mut applet = Applet::select(transport).expect("select");
        let pin = Secret::parse(SecretKind::Pin, &mailer.pin).expect("PIN");
        let digest = melli::ops::sign::hash_file(std::path::Path::new(&file)).expect("hash");
        sign_digest(&mut applet, &pin, &digest, claimed).expect("card signs")
    };
    let old = format!("{file}.2001.p7s");
    std::fs::write(&old, p7s).expect("write");
    let out = verify_signature(&file, &old, &root);
    assert_eq!(out.code, 0, "the claimed time was used to judge: {out:?}");
    assert_eq!(
        out.json()["claimed_signing_time"],
        "2001-01-01 00:00:00 UTC",
        "{out:?}"
    );
    assert_secret_absent(&mailer.pin, &[&signed, &out, &text]);
}

/// The card's signature presented with another certificate for the same key (re-issued by
/// openssl from the signing CA, put into the CMS in place of the card's and named by the
/// SignerInfo): the signature still verifies with the key and the new certificate chains, but
/// signingCertificateV2 names the card's certificate, so the signature is refused.
#[test]
fn a_card_signature_presented_with_another_certificate_for_its_key_fails() {
    use melli::pki::asn1::{RawOid, ID_DATA};
    use melli::pki::{cert, signed_data, SignedDataView};

    // A plain-key issuer: openssl re-issues with its signing CA's key file.
    let issuer = crate::common::plain_issuer();
    let (card, mailer) = crate::common::personalized_card_of(issuer);
    let file = document(&card, "bound to one certificate\n");
    let (signed, sig) = sign(&card, &file, &mailer.pin);
    assert_eq!(signed.code, 0, "{signed:?}");
    let root = root_pem(issuer);
    let p7s = std::fs::read(&sig).expect("p7s");
    let view = SignedDataView::parse(&p7s).expect("CMS");
    let original = view.signer_certificate().expect("signer").clone();
    let dir = card.dir();
    std::fs::write(dir.join("a.pem"), cert::to_pem(&original).expect("PEM")).expect("a.pem");
    std::fs::write(
        dir.join("reissue.ext"),
        format!("{HOLDER_EXT}subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n"),
    )
    .expect("ext");
    let path = |f: &str| issuer.join(f).to_str().expect("utf-8").to_string();
    // Same key and the holder's names (openssl 3.0's `x509 -new` takes no UTF-8 subject, so
    // the Persian name is left out), a new serial number, from the same signing CA.
    let holder = melli::pki::HolderSubject::from_certificate(&original).expect("subject");
    let subject = format!(
        "/C=IR/serialNumber={}/SN={}/GN={}/CN={}",
        holder.national_code,
        holder.surname,
        holder.given_name,
        holder.common_name()
    );
    openssl(
        dir,
        &["x509", "-in", "a.pem", "-pubkey", "-noout", "-out", "a.pub"],
    );
    openssl(
        dir,
        &[
            "x509",
            "-new",
            "-force_pubkey",
            "a.pub",
            "-subj",
            &subject,
            "-CA",
            &path("signing-ca.pem"),
            "-CAkey",
            &path("signing-ca.key"),
            "-days",
            "30",
            "-sha256",
            "-extfile",
            "reissue.ext",
            "-out",
            "b.pem",
        ],
    );
    let other = cert::from_pem_or_der(&std::fs::read(dir.join("b.pem")).expect("b.pem"))
        .expect("certificate");
    assert_eq!(
        other.tbs_certificate.subject_public_key_info,
        original.tbs_certificate.subject_public_key_info,
        "openssl did not keep the key"
    );
    assert_ne!(other, original);
    let ca = cert::from_pem_or_der(&std::fs::read(path("signing-ca.pem")).expect("CA"))
        .expect("CA certificate");
    let si = view.signer_info();
    let swapped = signed_data::assemble(
        &RawOid::from(ID_DATA),
        None,
        &[other.clone(), ca],
        &other,
        si.signed_attrs.clone().expect("signed attributes"),
        si.signature.as_bytes(),
    )
    .expect("assemble");
    let swapped_path = format!("{file}.swapped.p7s");
    std::fs::write(&swapped_path, swapped).expect("write");

    let out = verify_signature(&file, &swapped_path, &root);
    assert_eq!(out.code, 1, "another certificate was accepted: {out:?}");
    let detail = failed_check(&out, "signing certificate");
    assert!(detail.contains("certHash"), "{detail}");
    only_failure(&out, "signing certificate");
    assert_secret_absent(&mailer.pin, &[&signed, &out]);
}

#[test]
fn ten_wrong_puks_block_the_signing_key_for_good() {
    let (mut card, mailer) = personalized_card();
    let wrong_puk = if mailer.puk == "0000000000" {
        "1111111111"
    } else {
        "0000000000"
    };
    let unblock = |puk: &str| {
        melli_stdin(
            &[
                "pin",
                "unblock",
                "--reader",
                card.reader_name(),
                "--pin-stdin",
            ],
            &format!("{puk}\n246810\n"),
        )
    };
    let mut outputs = Vec::new();
    for left in (0..10).rev() {
        let out = unblock(wrong_puk);
        assert_eq!(out.code, 3, "{out:?}");
        assert_eq!(pin_status(&card)["puk"], left, "{out:?}");
        outputs.push(out);
    }
    assert!(
        outputs[9].stderr.contains("blocked"),
        "the tenth wrong PUK does not say so: {:?}",
        outputs[9]
    );
    // The right PUK is no use now, and the right PIN no longer signs.
    let out = unblock(&mailer.puk);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("blocked"), "{out:?}");
    let file = document(&card, "after ten wrong PUKs\n");
    let (signed, sig) = sign(&card, &file, &mailer.pin);
    assert_eq!(signed.code, 3, "{signed:?}");
    assert!(signed.stderr.contains("blocked"), "{signed:?}");
    assert!(
        !std::path::Path::new(&sig).exists(),
        "a signature was written"
    );
    // Also after the card is powered off and on: it is for good.
    card.kill();
    card.restart();
    let (signed, _) = sign(&card, &file, &mailer.pin);
    assert_eq!(signed.code, 3, "{signed:?}");
    outputs.push(out);
    outputs.push(signed);
    let refs: Vec<&Output> = outputs.iter().collect();
    assert_secret_absent(&mailer.puk, &refs);
    assert_secret_absent(&mailer.pin, &refs);
}

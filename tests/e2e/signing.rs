//! Signing with the card: `melli sign`, `melli verify-signature`, OpenSSL as the peer, the PIN's
//! retry counter, unblocking with the PUK, and a verified PIN not outliving its process.

use std::process::Command;
use std::time::Duration;

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
    use melli::model::pin::{Secret, SecretKind};
    use melli::transport::{PcscTransport, Transport};

    let (card, mailer) = personalized_card();
    let digest = [0x5A_u8; 32];
    {
        let transport = PcscTransport::connect(Some(card.reader_name())).expect("connect");
        let mut applet = Applet::select(transport).expect("select");
        let pin = Secret::parse(SecretKind::Pin, &mailer.pin).expect("PIN");
        let mut verified = applet
            .verify_pin(&pin)
            .expect("VERIFY sent")
            .expect("right PIN");
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

/// Runs openssl in `dir`; panics unless it succeeds.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = run(
        Command::new("openssl").current_dir(dir).args(args),
        Duration::from_secs(30),
    );
    assert_eq!(out.code, 0, "openssl {args:?}: {out:?}");
}

/// Makes `NAME.key` (P-256) and `NAME.pem`, a holder certificate for it issued by `CA.pem` /
/// `CA.key`, all with openssl, in `dir`.
fn openssl_holder(dir: &std::path::Path, name: &str, ca_cert: &str, ca_key: &str) {
    std::fs::write(
        dir.join("holder.ext"),
        "basicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature, nonRepudiation\n\
         extendedKeyUsage = emailProtection\n\
         subjectKeyIdentifier = hash\n\
         authorityKeyIdentifier = keyid\n",
    )
    .expect("write extensions");
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let pem = format!("{name}.pem");
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            &key,
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-utf8",
            "-key",
            &key,
            "-subj",
            "/C=IR/serialNumber=0012345679/SN=Rezaei/GN=Ali/name=علی رضایی/CN=Ali Rezaei",
            "-out",
            &csr,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            ca_cert,
            "-CAkey",
            ca_key,
            "-days",
            "30",
            "-sha256",
            "-extfile",
            "holder.ext",
            "-out",
            &pem,
        ],
    );
}

/// `openssl cms -sign` of `doc.txt` with `NAME.pem` / `NAME.key`, carrying `chain`.
fn openssl_sign(dir: &std::path::Path, name: &str, chain: &str) -> String {
    let out = format!("doc-{name}.p7s");
    openssl(
        dir,
        &[
            "cms",
            "-sign",
            "-binary",
            "-in",
            "doc.txt",
            "-signer",
            &format!("{name}.pem"),
            "-inkey",
            &format!("{name}.key"),
            "-certfile",
            chain,
            "-md",
            "sha256",
            "-outform",
            "DER",
            "-out",
            &out,
        ],
    );
    dir.join(out).to_str().expect("utf-8").to_string()
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
    let issuer = test_issuer();
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
    assert!(json["signing_time"].is_string(), "{json}");

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
    let json = out.json();
    for c in json["checks"].as_array().expect("checks") {
        assert!(
            c["name"] == "signer certificate chain" || c["passed"] == true,
            "{c}"
        );
    }
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

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

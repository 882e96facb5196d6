//! RFC 3161 timestamps (issue 16): `melli sign --tsa` against an OpenSSL TSA behind HTTP,
//! `openssl ts -verify` on the token melli embedded, `openssl cms -verify` on the signature,
//! a timestamped signature outliving its card's revocation (and, with libfaketime, its
//! certificate's expiry) while an untimestamped one does not, and the bad-input rows.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::documents::{named_check, sign_document, verify_signature_args};
use crate::common::tsa::{unreachable_url, Behaviour, HttpTsa};
use crate::common::{
    make_plain_issuer, melli, personalized_card_of, publish_crls, revoke_card, root_pem, run,
    Output, VirtualCard,
};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `melli sign FILE --out FILE.p7s --json [--tsa URL]` for a new document `name`.
fn sign(card: &VirtualCard, pin: &str, name: &str, tsa: Option<&str>) -> (Output, String, String) {
    let mut extra = vec!["--json"];
    if let Some(url) = tsa {
        extra.extend(["--tsa", url]);
    }
    sign_document(card, pin, name, &extra)
}

/// The signature value and the timestamp token melli embedded, as files for openssl.
fn token_files(sig: &str, dir: &Path) -> (String, String) {
    let bytes = std::fs::read(sig).expect("read signature");
    let view = melli::pki::SignedDataView::parse(&bytes).expect("a CMS signature");
    let tokens = melli::pki::timestamp::signature_timestamp_tokens(&view);
    assert_eq!(tokens.len(), 1, "one timestamp token");
    let value = dir.join("signature-value.bin");
    let token = dir.join("token.der");
    std::fs::write(&value, view.signer_info().signature.as_bytes()).expect("write value");
    std::fs::write(&token, &tokens[0]).expect("write token");
    (s(&value).to_string(), s(&token).to_string())
}

fn openssl(args: &[&str]) -> Output {
    run(Command::new("openssl").args(args), Duration::from_secs(30))
}

#[test]
fn a_timestamped_signature_outlives_revocation_and_openssl_agrees() {
    let issuer = make_plain_issuer("timestamps");
    let root = root_pem(&issuer);
    let (card, mailer) = personalized_card_of(&issuer);
    let dir = card.dir().to_path_buf();
    let tsa = HttpTsa::start(&dir.join("tsa"), Behaviour::Good);
    let tsa_root = tsa.root_pem();

    let (out, doc, sig) = sign(&card, &mailer.pin, "stamped.txt", Some(&tsa.url()));
    assert_eq!(out.code, 0, "melli sign --tsa: {out:?}");
    let said = out.json();
    assert_eq!(said["timestamp"]["tsa"], "melli test TSA", "{out:?}");
    let (plain_out, plain_doc, plain_sig) = sign(&card, &mailer.pin, "plain.txt", None);
    assert_eq!(plain_out.code, 0, "melli sign: {plain_out:?}");

    // OpenSSL's TSA client accepts the very token melli embedded, over the signature value.
    let (value, token) = token_files(&sig, &dir);
    let theirs = openssl(&[
        "ts",
        "-verify",
        "-data",
        &value,
        "-in",
        &token,
        "-token_in",
        "-CAfile",
        &tsa_root,
        "-untrusted",
        &tsa.tsa_pem(),
    ]);
    assert_eq!(theirs.code, 0, "openssl ts -verify: {theirs:?}");
    assert!(theirs.stdout.contains("Verification: OK"), "{theirs:?}");
    // … and not over other data.
    let other = dir.join("other.bin");
    std::fs::write(&other, b"other data").expect("write");
    let theirs = openssl(&[
        "ts",
        "-verify",
        "-data",
        s(&other),
        "-in",
        &token,
        "-token_in",
        "-CAfile",
        &tsa_root,
        "-untrusted",
        &tsa.tsa_pem(),
    ]);
    assert_ne!(
        theirs.code, 0,
        "openssl ts -verify of other data: {theirs:?}"
    );

    // The timestamp is an unsigned attribute: openssl cms -verify still accepts the signature.
    let cms = openssl(&[
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
    ]);
    assert_eq!(cms.code, 0, "openssl cms -verify: {cms:?}");

    // melli: trusted with --tsa-trust, the chain checked at the timestamp.
    let out = melli(&verify_signature_args(
        &root,
        &doc,
        &sig,
        &["--tsa-trust", &tsa_root],
    ));
    assert_eq!(out.code, 0, "{out:?}");
    let ts = named_check(&out, "timestamp");
    assert_eq!(ts["passed"], true, "{out:?}");
    assert!(
        ts["detail"]
            .as_str()
            .unwrap_or("")
            .starts_with("trusted: a timestamp of "),
        "{out:?}"
    );
    let json = out.json();
    assert_eq!(json["timestamp"]["trusted"], true, "{out:?}");
    assert_eq!(
        json["chain_checked_at"]["reason"],
        "checked at the timestamp: trusted timestamp by melli test TSA"
    );
    assert_eq!(json["chain_checked_at"]["time"], json["timestamp"]["time"]);
    // Without --tsa-trust: an untrusted claim, checked now.
    let out = melli(&verify_signature_args(&root, &doc, &sig, &[]));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["timestamp"]["trusted"], false, "{out:?}");
    assert!(
        named_check(&out, "timestamp")["detail"]
            .as_str()
            .unwrap_or("")
            .contains("not trusted (no TSA root given)"),
        "{out:?}"
    );
    // Text output says the same.
    let text = melli(&[
        "verify-signature",
        &doc,
        &sig,
        "--trust",
        &root,
        "--tsa-trust",
        &tsa_root,
    ]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout
            .contains("by the TSA \"melli test TSA\" (trusted)")
            && text
                .stdout
                .contains("PASS  timestamp: trusted: a timestamp of ")
            && text.stdout.contains("verdict: VALID signature"),
        "{text:?}"
    );

    // Revoked (keyCompromise) after the timestamp. Times have a resolution of one second;
    // the revocation must fall in a later second than the timestamp to be after it.
    std::thread::sleep(Duration::from_millis(1100));
    let out = revoke_card(&issuer, card.serial(), "keyCompromise", &[]);
    assert_eq!(out.code, 0, "melli issuer revoke: {out:?}");
    let (ca_crl, root_crl) = publish_crls(&issuer, &dir, "after-revocation", &[]);
    let crls = ["--crl", ca_crl.as_str(), "--crl", root_crl.as_str()];

    let mut extra = crls.to_vec();
    extra.extend(["--tsa-trust", tsa_root.as_str()]);
    let out = melli(&verify_signature_args(&root, &doc, &sig, &extra));
    assert_eq!(out.code, 0, "timestamped before revocation: {out:?}");
    let detail = named_check(&out, "revocation")["detail"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        detail.contains("signer certificate revoked on ")
            && detail.contains("keyCompromise")
            && detail.contains("after the timestamp of "),
        "{detail}"
    );

    // Without a timestamp: revoked.
    let out = melli(&verify_signature_args(
        &root, &plain_doc, &plain_sig, &extra,
    ));
    assert_eq!(out.code, 1, "untimestamped after revocation: {out:?}");
    let revocation = named_check(&out, "revocation");
    assert_eq!(revocation["passed"], false, "{out:?}");
    assert!(
        revocation["detail"]
            .as_str()
            .unwrap_or("")
            .ends_with(": keyCompromise"),
        "{out:?}"
    );
    // The timestamp's TSA not trusted: no proof of time, revoked.
    let out = melli(&verify_signature_args(&root, &doc, &sig, &crls));
    assert_eq!(out.code, 1, "untrusted timestamp after revocation: {out:?}");
}

#[test]
fn bad_tsas_write_no_signature_and_a_pasted_token_fails() {
    let issuer = make_plain_issuer("timestamps-bad");
    let root = root_pem(&issuer);
    let (card, mailer) = personalized_card_of(&issuer);
    let dir = card.dir().to_path_buf();

    let unreachable = unreachable_url();
    let other = HttpTsa::start(&dir.join("tsa-other"), Behaviour::OtherData);
    let garbage = HttpTsa::start(&dir.join("tsa-garbage"), Behaviour::Garbage);
    for (url, says) in [
        (unreachable.clone(), format!("{unreachable} is unreachable")),
        (other.url(), "timestamps other data".to_string()),
        (garbage.url(), "not a DER TimeStampResp".to_string()),
    ] {
        let (out, _, sig) = sign(&card, &mailer.pin, "refused.txt", Some(&url));
        assert_eq!(out.code, 2, "{out:?}");
        assert_eq!(out.stderr.trim().lines().count(), 1, "{out:?}");
        assert!(out.stderr.contains(&says), "{says}: {out:?}");
        assert!(out.stderr.contains("no signature written"), "{out:?}");
        assert!(
            !Path::new(&sig).exists(),
            "a signature was written: {out:?}"
        );
    }

    // Another signature's token pasted into this one: the check "timestamp" fails.
    let good = HttpTsa::start(&dir.join("tsa"), Behaviour::Good);
    let (out, _, stamped) = sign(&card, &mailer.pin, "a.txt", Some(&good.url()));
    assert_eq!(out.code, 0, "{out:?}");
    let (out, doc, plain) = sign(&card, &mailer.pin, "b.txt", None);
    assert_eq!(out.code, 0, "{out:?}");
    let stamped = std::fs::read(&stamped).expect("read");
    let view = melli::pki::SignedDataView::parse(&stamped).expect("CMS");
    let token = melli::pki::timestamp::signature_timestamp_tokens(&view).remove(0);
    let pasted =
        melli::pki::timestamp::with_timestamp_token(&std::fs::read(&plain).expect("read"), &token)
            .expect("pasted");
    let pasted_path = dir.join("b.txt.pasted.p7s");
    std::fs::write(&pasted_path, pasted).expect("write");
    let tsa_root = good.root_pem();
    let out = melli(&verify_signature_args(
        &root,
        &doc,
        s(&pasted_path),
        &["--tsa-trust", &tsa_root],
    ));
    assert_eq!(out.code, 1, "{out:?}");
    let ts = named_check(&out, "timestamp");
    assert_eq!(ts["passed"], false, "{out:?}");
    assert!(
        ts["detail"]
            .as_str()
            .unwrap_or("")
            .contains("timestamps other data"),
        "{out:?}"
    );
    // A --tsa-trust that is no certificate: bad input.
    let out = melli(&verify_signature_args(
        &root,
        &doc,
        &plain,
        &["--tsa-trust", &doc],
    ));
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("--tsa-trust ") && out.stderr.contains("time-stamping authority"),
        "{out:?}"
    );
}

/// Years later, with libfaketime moving `melli verify-signature`'s clock: after the holder
/// certificate (and the signing CA) expired, a signature timestamped by a trusted TSA is
/// still VALID, checked at the timestamp; one without a timestamp FAILs. The TSA's own
/// certificates (30 years) are still valid then: they are checked at verification time.
#[test]
fn years_later_only_the_timestamped_signature_is_valid() {
    let issuer = make_plain_issuer("timestamps-later");
    let root = root_pem(&issuer);
    let (card, mailer) = personalized_card_of(&issuer);
    let dir = card.dir().to_path_buf();
    let tsa = HttpTsa::start(&dir.join("tsa"), Behaviour::Good);
    let tsa_root = tsa.root_pem();
    let (out, doc, sig) = sign(&card, &mailer.pin, "stamped.txt", Some(&tsa.url()));
    assert_eq!(out.code, 0, "{out:?}");
    let (out, plain_doc, plain_sig) = sign(&card, &mailer.pin, "plain.txt", None);
    assert_eq!(out.code, 0, "{out:?}");

    let installed = Command::new("faketime")
        .args(["-f", "+11y", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        installed,
        "libfaketime's faketime does not run: install the Debian package faketime (scripts/setup)"
    );
    let later = |args: Vec<&str>| {
        let mut command = Command::new("faketime");
        command
            .arg("-f")
            .arg("+11y")
            .arg(crate::common::MELLI)
            .args(args);
        run(&mut command, Duration::from_secs(60))
    };
    // libfaketime reaches the Rust binary's clock: `melli` sees a year eleven years on.
    let out = later(verify_signature_args(&root, &plain_doc, &plain_sig, &[]));
    assert_eq!(out.code, 1, "untimestamped, years later: {out:?}");
    let chain = named_check(&out, "signer certificate chain");
    assert_eq!(chain["passed"], false, "{out:?}");
    assert!(
        chain["detail"]
            .as_str()
            .unwrap_or("")
            .contains("expired on"),
        "{out:?}"
    );
    assert_eq!(
        out.json()["chain_checked_at"]["reason"],
        "checked now: no trusted timestamp"
    );

    let out = later(verify_signature_args(
        &root,
        &doc,
        &sig,
        &["--tsa-trust", &tsa_root],
    ));
    assert_eq!(out.code, 0, "timestamped, years later: {out:?}");
    let detail = named_check(&out, "signer certificate chain")["detail"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        detail.contains("(checked at the timestamp: trusted timestamp by melli test TSA)")
            && detail.contains("expired on ")
            && detail.contains("after the timestamp"),
        "{detail}"
    );
    // The timestamp without trusting its TSA proves nothing: expired.
    let out = later(verify_signature_args(&root, &doc, &sig, &[]));
    assert_eq!(out.code, 1, "untrusted timestamp, years later: {out:?}");
}

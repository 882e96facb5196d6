//! Revocation, offline (issue 16): the issuer's database (`index.txt`), `melli issuer revoke`,
//! `melli issuer crl`, and `melli verify --crl` / `melli verify-signature --crl` — with
//! `openssl verify -crl_check_all` as the peer that must agree on the same certificates.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::documents::{named_check, sign_contract, verify_signature_args};
use crate::common::{
    make_issuer, make_plain_issuer, melli, personalize_with, personalized_card_of, publish_crls,
    revoke_card, root_pem, run, verify_card, Output, VirtualCard,
};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `openssl verify -crl_check_all` of the card's holder certificate (read with `melli read
/// --out`) with both CRLs: whether openssl accepts it, and what it said.
fn openssl_verify(dir: &Path, issuer: &Path, crls: &(String, String)) -> (bool, String) {
    let mut args: Vec<String> = vec!["verify".into(), "-crl_check_all".into()];
    for (i, crl) in [&crls.0, &crls.1].into_iter().enumerate() {
        let pem = dir.join(format!("crl-{i}.pem"));
        let out = run(
            Command::new("openssl").args(["crl", "-inform", "DER", "-in", crl, "-out", s(&pem)]),
            Duration::from_secs(30),
        );
        assert_eq!(out.code, 0, "openssl crl: {out:?}");
        args.push("-CRLfile".into());
        args.push(s(&pem).into());
    }
    args.extend([
        "-CAfile".into(),
        root_pem(issuer),
        "-untrusted".into(),
        s(&dir.join("read/signing-ca.pem")).into(),
        s(&dir.join("read/holder.pem")).into(),
    ]);
    let out = run(Command::new("openssl").args(&args), Duration::from_secs(30));
    (out.code == 0, format!("{}{}", out.stdout, out.stderr))
}

fn revocation_check(out: &Output) -> serde_json::Value {
    named_check(out, "revocation")
}

fn verify_signature(issuer: &Path, doc: &(String, String), crls: &[&str]) -> Output {
    let root = root_pem(issuer);
    let extra: Vec<&str> = crls.iter().flat_map(|crl| ["--crl", *crl]).collect();
    melli(&verify_signature_args(&root, &doc.0, &doc.1, &extra))
}

#[test]
fn revoked_card_fails_verify_and_openssl_agrees() {
    let issuer = make_issuer("revocation");
    let (card, mailer) = personalized_card_of(&issuer);
    let dir = card.dir().to_path_buf();
    let index = std::fs::read_to_string(issuer.join("index.txt")).expect("index.txt");
    assert!(
        index.contains(&format!("\tcard-{}\t", card.serial())),
        "the holder certificate is not in index.txt:\n{index}"
    );
    let out = melli(&[
        "read",
        "--reader",
        card.reader_name(),
        "--out",
        s(&dir.join("read")),
    ]);
    assert_eq!(out.code, 0, "melli read: {out:?}");
    let doc = sign_contract(&card, &mailer.pin);

    // Nothing revoked: PASS, and openssl agrees.
    let crls = publish_crls(&issuer, &dir, "before", &[]);
    let (out, checks) = verify_card(&card, &issuer, &["--crl", &crls.0, "--crl", &crls.1]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        checks
            .iter()
            .any(|(n, passed, _)| n == "revocation" && *passed),
        "{checks:?}"
    );
    let (ok, said) = openssl_verify(&dir, &issuer, &crls);
    assert!(ok, "openssl verify -crl_check_all refused: {said}");
    let out = verify_signature(&issuer, &doc, &[&crls.0, &crls.1]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(revocation_check(&out)["passed"], true, "{out:?}");

    // Without the root's CRL the signing CA's status is unknown: exit 1 unless allowed.
    let (out, _) = verify_card(&card, &issuer, &["--crl", &crls.0]);
    assert_eq!(out.code, 1, "{out:?}");
    let check = revocation_check(&out);
    assert_eq!(check["unknown"], true, "{out:?}");
    assert!(
        check["detail"]
            .as_str()
            .unwrap_or("")
            .contains("no CRL of melli Root CA"),
        "{out:?}"
    );
    let (out, _) = verify_card(
        &card,
        &issuer,
        &["--crl", &crls.0, "--allow-unknown-revocation"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(revocation_check(&out)["unknown"], true, "{out:?}");

    // Revoked: FAIL "revoked on DATE: keyCompromise", and openssl agrees.
    let out = revoke_card(&issuer, card.serial(), "keyCompromise", &["--json"]);
    assert_eq!(out.code, 0, "melli issuer revoke: {out:?}");
    assert_eq!(
        out.json()["changed"][0]["reason"],
        "keyCompromise",
        "{out:?}"
    );
    let again = revoke_card(&issuer, card.serial(), "keyCompromise", &[]);
    assert_eq!(again.code, 2, "{again:?}");
    assert!(again.stderr.contains("is already revoked"), "{again:?}");
    assert_eq!(again.stderr.trim().lines().count(), 1, "{again:?}");

    let crls = publish_crls(&issuer, &dir, "after", &[]);
    let (out, checks) = verify_card(&card, &issuer, &["--crl", &crls.0, "--crl", &crls.1]);
    assert_eq!(out.code, 1, "{out:?}");
    let (_, passed, detail) = checks
        .iter()
        .find(|(n, _, _)| n == "revocation")
        .expect("revocation check");
    assert!(!passed, "{checks:?}");
    assert!(
        detail.starts_with("holder certificate revoked on ") && detail.ends_with(": keyCompromise"),
        "{detail}"
    );
    let (ok, said) = openssl_verify(&dir, &issuer, &crls);
    assert!(
        !ok && said.contains("certificate revoked"),
        "openssl: {said}"
    );
    let out = verify_signature(&issuer, &doc, &[&crls.0, &crls.1]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        revocation_check(&out)["detail"]
            .as_str()
            .unwrap_or("")
            .contains("keyCompromise"),
        "{out:?}"
    );

    // Bad input: a CRL past its nextUpdate is no fresh status (UNKNOWN, exit 1) …
    let stale = publish_crls(
        &issuer,
        &dir,
        "stale",
        &[
            "--this-update",
            "2020-01-01T00:00:00Z",
            "--next-update",
            "1",
        ],
    );
    let (out, _) = verify_card(&card, &issuer, &["--crl", &stale.0, "--crl", &stale.1]);
    assert_eq!(out.code, 1, "{out:?}");
    let check = revocation_check(&out);
    assert_eq!(check["unknown"], true, "{out:?}");
    assert!(
        check["detail"]
            .as_str()
            .unwrap_or("")
            .contains("is stale: its nextUpdate 2020-01-01 01:00:00 UTC has passed"),
        "{out:?}"
    );

    // … a CRL signed by another CA (same names, another key) is refused: exit 2, one line.
    let other = make_plain_issuer("revocation-other");
    let foreign = publish_crls(&other, &dir, "foreign", &[]);
    let root = root_pem(&issuer);
    let out = melli(&[
        "verify",
        "--trust",
        &root,
        "--reader",
        card.reader_name(),
        "--crl",
        &foreign.0,
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(out.stderr.trim().lines().count(), 1, "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "--crl CRL {}: its signature does not verify with the key of melli Signing CA",
            foreign.0
        )),
        "{out:?}"
    );
    // … and a file that is no CRL.
    let out = verify_signature(&issuer, &doc, &[&root]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("PEM of a CERTIFICATE, not of an X509 CRL"),
        "{out:?}"
    );
}

#[test]
fn hold_and_remove_hold() {
    let issuer = make_plain_issuer("revocation-hold");
    let index = issuer.join("index.txt");
    let out = melli(&[
        "issuer",
        "crl",
        s(&issuer),
        "--out",
        s(&issuer.join("x.crl")),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let text = std::fs::read_to_string(&index).expect("index.txt made when first needed");
    assert_eq!(text.lines().count(), 2, "{text}");
    let serial = text
        .lines()
        .nth(1)
        .expect("line")
        .split('\t')
        .nth(3)
        .expect("serial");
    let revoke = |extra: &[&str]| {
        let mut args = vec!["issuer", "revoke", s(&issuer), "--certificate", serial];
        args.extend_from_slice(extra);
        melli(&args)
    };
    assert_eq!(revoke(&["--reason", "certificateHold"]).code, 0);
    assert!(std::fs::read_to_string(&index)
        .expect("index")
        .contains(",certificateHold\t"));
    assert_eq!(revoke(&["--remove-hold"]).code, 0);
    let out = revoke(&["--remove-hold"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("is not on hold"), "{out:?}");
    let out = revoke(&["--reason", "stolen"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("not an RFC 5280 reason"), "{out:?}");
    let out = melli(&[
        "issuer",
        "revoke",
        s(&issuer),
        "--card",
        "MC9",
        "--reason",
        "superseded",
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("no certificate of card MC9"), "{out:?}");
}

/// The revocation check's detail, through `melli verify --crl` with fresh CRLs of `issuer`.
fn verify_revocation(card: &VirtualCard, issuer: &Path, dir: &Path, name: &str) -> (i32, String) {
    let crls = publish_crls(issuer, dir, name, &[]);
    let (out, checks) = verify_card(card, issuer, &["--crl", &crls.0, "--crl", &crls.1]);
    let detail = checks
        .into_iter()
        .find(|(n, _, _)| n == "revocation")
        .map(|(_, _, d)| d)
        .unwrap_or_else(|| panic!("no revocation check: {out:?}"));
    (out.code, detail)
}

#[test]
fn a_replacement_card_supersedes_the_old_one_and_a_national_code_revokes_all() {
    let issuer = make_plain_issuer("revocation-replace");
    let (old, _) = personalized_card_of(&issuer);
    let dir = old.dir().to_path_buf();
    let (code, detail) = verify_revocation(&old, &issuer, &dir, "one-card");
    assert_eq!(code, 0, "{detail}");

    // The same holder's new card: once it is locked the old one is revoked as superseded.
    let new = VirtualCard::for_issuer(&issuer);
    let out = personalize_with(&new, "fixtures/records/valid-1.json", &issuer);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.json()["replacement"]["replaced"],
        serde_json::json!([old.serial()]),
        "{out:?}"
    );
    let (code, detail) = verify_revocation(&old, &issuer, &dir, "replaced");
    assert_eq!(code, 1, "{detail}");
    assert!(
        detail.starts_with("holder certificate revoked on ") && detail.ends_with(": superseded"),
        "{detail}"
    );
    let (code, detail) = verify_revocation(&new, &issuer, &dir, "replacement");
    assert_eq!(code, 0, "the new card: {detail}");

    // Personalizing it again (resumed, already locked) revokes nothing more.
    let out = personalize_with(&new, "fixtures/records/valid-1.json", &issuer);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["replacement"]["replaced"], serde_json::json!([]));

    // A holder who reports every card lost: all of them, by national code.
    let national_code = out.json()["national_code"]
        .as_str()
        .expect("national code")
        .to_string();
    let out = melli(&[
        "issuer",
        "revoke",
        s(&issuer),
        "--national-code",
        &national_code,
        "--reason",
        "keyCompromise",
        "--json",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let changed = out.json()["changed"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // Only the new card was still good: its holder certificate and, on a 1.1 card, its login
    // certificate.
    let new_card_certificates = std::fs::read_to_string(issuer.join("index.txt"))
        .expect("index.txt")
        .lines()
        .filter(|l| l.contains(&format!("\tcard-{}\t", new.serial())))
        .count();
    assert!((1..=2).contains(&new_card_certificates));
    assert_eq!(
        changed.len(),
        new_card_certificates,
        "only the new card was still good: {out:?}"
    );
    let (code, detail) = verify_revocation(&new, &issuer, &dir, "all-lost");
    assert_eq!(code, 1, "{detail}");
    assert!(detail.ends_with(": keyCompromise"), "{detail}");
    for bad in ["123", "0000000000", "\u{202e}0012345679"] {
        let out = melli(&[
            "issuer",
            "revoke",
            s(&issuer),
            "--national-code",
            bad,
            "--reason",
            "keyCompromise",
        ]);
        assert_eq!(out.code, 2, "{bad}: {out:?}");
        assert_eq!(out.stderr.trim().lines().count(), 1, "{out:?}");
        assert!(!out.stderr.contains('\u{202e}'), "{out:?}");
    }
}

#[test]
fn a_batch_replacement_shows_in_the_journal_and_in_status() {
    use crate::common::feeder::{batch_records, Feeder, FeederOptions};
    let issuer = make_plain_issuer("revocation-batch");
    let dir = tempfile::tempdir().expect("tempdir");
    // Two records of one holder: the second (a new application) replaces the first's card.
    let records = batch_records(dir.path(), 2);
    let text = std::fs::read_to_string(&records).expect("records");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let mut second = lines[1].clone();
    second["national_code"] = lines[0]["national_code"].clone();
    second["birth_date"] = lines[0]["birth_date"].clone();
    std::fs::write(&records, format!("{}\n{}\n", lines[0], second)).expect("write records");
    let journal = dir.path().join("journal.db");
    let feeder = Feeder::start(FeederOptions::new(3, &issuer));
    let out = run(
        Command::new(crate::common::MELLI)
            .arg("batch")
            .arg(&records)
            .arg("--issuer")
            .arg(&issuer)
            .arg("--journal")
            .arg(&journal)
            .args(["--readers", feeder.reader_name()]),
        Duration::from_secs(180),
    );
    assert_eq!(out.code, 0, "{out:?}\nfeeder:\n{}", feeder.log());
    let rows = melli::journal::Journal::open_existing(&journal)
        .and_then(|j| j.rows())
        .expect("journal rows");
    let first = rows[0].card_serial.clone().expect("first card");
    let replacement = rows[1].card_serial.clone().expect("second card");
    assert!(
        out.stderr.contains(&format!(
            "card {replacement}: record {} replaces card {first}, whose certificates are now revoked (superseded)",
            rows[1].tracking_code
        )),
        "{out:?}"
    );
    let index = std::fs::read_to_string(issuer.join("index.txt")).expect("index.txt");
    let line = index
        .lines()
        .find(|l| l.contains(&format!("\tcard-{first}\t")))
        .expect("the first card in index.txt");
    assert!(
        line.starts_with("R\t") && line.contains(",superseded\t"),
        "{line}"
    );

    let journal_s = s(&journal);
    let status = melli(&[
        "status",
        "--journal",
        journal_s,
        "--tracking-code",
        &rows[0].tracking_code,
        "--json",
    ]);
    assert_eq!(status.code, 0, "{status:?}");
    let answer = status.json();
    assert_eq!(answer["replaced_by"], replacement.as_str(), "{status:?}");
    assert!(
        answer["message"].as_str().unwrap_or("").contains(&format!(
            "was replaced by card {replacement} and no longer works"
        )),
        "{status:?}"
    );
    let status = melli(&[
        "status",
        "--journal",
        journal_s,
        "--tracking-code",
        &rows[1].tracking_code,
    ]);
    assert!(status.stdout.contains("your card is ready"), "{status:?}");
    let events = melli::journal::Journal::open_existing(&journal)
        .and_then(|j| j.events(&rows[0].tracking_code))
        .expect("events");
    assert!(
        events.iter().any(|e| e.event
            == format!("replaced by card {replacement}: its certificates revoked (superseded)")),
        "{events:?}"
    );
}

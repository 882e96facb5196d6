//! The desk: `melli read` and `melli verify` on personalized cards — the holder's data, the
//! exported files, each file read once in the fewest APDUs (1.1 and 1.0 cards), `verify
//! --show`, fingerprint match-on-card, tampered data groups and a cloned card.

use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::common::{
    assert_secret_absent, make_issuer, melli, melli_stdin, personalize_with, personalized_card,
    personalized_version_1_0_card, read_state, run, state_file_content, tamper_file, test_issuer,
    verify_card, write_state, CardOptions, VirtualCard,
};

fn check<'a>(checks: &'a [(String, bool, String)], name: &str) -> &'a (String, bool, String) {
    checks
        .iter()
        .find(|c| c.0 == name)
        .unwrap_or_else(|| panic!("no {name:?} check in {checks:?}"))
}

#[test]
fn read_shows_the_holder_and_exports_files() {
    let (card, _) = personalized_card();
    let out = melli(&["read", "--reader", card.reader_name(), "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let json = out.json();
    assert_eq!(json["serial"], card.serial());
    assert_eq!(json["identity"]["national_code"], "0081493721");
    assert_eq!(json["identity"]["given_name_latin"], "Alireza");
    assert_eq!(json["identity"]["surname_latin"], "Mohammadi");
    // One pass, the fewest APDUs: the SELECT of the application answers the lifecycle and,
    // on this version 1.1 card, the serial (§6.1); then one READ BINARY by SFI for each of
    // the security object and DG1, DG2, DG4, DG5, DG6 and DG7 (listed in it), extended Le
    // where a file can be longer than 256 bytes — the photo alone is over 8 KB.
    assert!(json["authentication_certificate"].is_string(), "{json}");
    assert_eq!(json["traffic"]["apdus"], 1 + 7, "{json}");
    assert!(json["photo_bytes"].as_u64() > Some(8_000), "{json}");

    let dir = card.dir().join("export");
    let dir_s = dir.to_str().expect("utf-8");
    let out = melli(&[
        "read",
        "--reader",
        card.reader_name(),
        "--out",
        dir_s,
        "--png",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    for name in ["photo.jpg", "photo.png", "holder.pem", "identity.json"] {
        let len = std::fs::metadata(dir.join(name))
            .unwrap_or_else(|e| panic!("{name} not written: {e}; {out:?}"))
            .len();
        assert!(len > 0, "{name} is empty");
    }
    let jpg = std::fs::read(dir.join("photo.jpg")).expect("jpg");
    assert_eq!(&jpg[..3], &[0xFF, 0xD8, 0xFF], "photo.jpg is not a JPEG");
    let png = std::fs::read(dir.join("photo.png")).expect("png");
    assert_eq!(&png[..4], b"\x89PNG", "photo.png is not a PNG");
    let identity: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("identity.json")).expect("identity"))
            .expect("identity.json is JSON");
    assert!(
        identity.to_string().contains("0081493721"),
        "identity.json: {identity}"
    );

    let issuer = test_issuer();
    let out = run(
        Command::new("openssl")
            .arg("verify")
            .arg("-CAfile")
            .arg(issuer.join("root.pem"))
            .arg("-untrusted")
            .arg(issuer.join("signing-ca.pem"))
            .arg(dir.join("holder.pem")),
        Duration::from_secs(30),
    );
    assert_eq!(out.code, 0, "openssl verify: {out:?}");
    assert!(out.stdout.contains(": OK"), "{out:?}");
}

#[test]
fn verify_passes_every_check_and_matches_the_holders_finger() {
    let (card, _) = personalized_card();
    let (out, checks) = verify_card(&card, test_issuer(), &[]);
    assert_eq!(out.code, 0, "{checks:?}");
    for name in [
        "security object signature",
        "security object message digest",
        "document signer chain",
        "card serial",
        "DG1 identity",
        "DG2 photo",
        "DG4 address",
        "DG5 chip-authentication key",
        "DG6 holder certificate",
        "chip authentication",
        "holder certificate",
        "card expiry",
    ] {
        assert!(check(&checks, name).1, "{name} failed: {checks:?}");
    }
    assert_eq!(out.json()["serial"], card.serial());
    // The reading of `melli read` (8 APDUs) and one INTERNAL AUTHENTICATE: no GET DATA, no
    // public key read back — passive and chip authentication bind DG6 and DG7 to the chip.
    assert_eq!(out.json()["traffic"]["apdus"], 9, "{out:?}");
    let binding = check(&checks, "holder certificate binding");
    assert!(
        binding.2.contains("the chip proved it holds DG5's key"),
        "{binding:?}"
    );

    let (out, checks) = verify_card(
        &card,
        test_issuer(),
        &["--finger", "fixtures/fingerprints/finger-1-live.fmr"],
    );
    assert_eq!(out.code, 0, "{checks:?}");
    assert!(check(&checks, "fingerprint match").1, "{checks:?}");
    // And one VERIFY with the live finger.
    assert_eq!(out.json()["traffic"]["apdus"], 10, "{out:?}");

    let (out, checks) = verify_card(
        &card,
        test_issuer(),
        &["--finger", "fixtures/fingerprints/finger-2.fmr"],
    );
    assert_eq!(out.code, 1, "{checks:?}");
    assert!(!check(&checks, "fingerprint match").1, "{checks:?}");
    // Everything else still passes: only the finger is wrong.
    for c in checks.iter().filter(|c| c.0 != "fingerprint match") {
        assert!(c.1, "{} failed: {checks:?}", c.0);
    }
}

#[test]
fn a_tampered_data_group_fails_its_check() {
    let (mut card, _) = personalized_card();
    let pristine = read_state(&card);
    for (fid, name) in [
        ("0101", "DG1 identity"),
        ("0102", "DG2 photo"),
        ("0104", "DG4 address"),
        ("0105", "DG5 chip-authentication key"),
        ("0106", "DG6 holder certificate"),
    ] {
        tamper_file(&mut card, pristine.clone(), fid);
        let (out, checks) = verify_card(&card, test_issuer(), &[]);
        assert_eq!(out.code, 1, "{fid} flipped, verify passed: {checks:?}");
        assert!(
            !check(&checks, name).1,
            "{fid} flipped but {name:?} passed: {checks:?}"
        );
        // The security object itself is untouched.
        assert!(check(&checks, "security object signature").1, "{checks:?}");
    }
    card.kill();
    write_state(&card, &pristine);
    card.restart();
    let (out, checks) = verify_card(&card, test_issuer(), &[]);
    assert_eq!(out.code, 0, "restored card: {checks:?}");
}

#[test]
fn a_clone_fails_chip_authentication_and_the_holder_binding_only() {
    let (original, _) = personalized_card();
    // Same serial, its own chip keys: personalized by the same issuer, then every readable file
    // replaced by the original's (what a reader can copy; the private keys cannot be).
    let mut clone = VirtualCard::with_options(CardOptions {
        serial: Some(original.serial().to_string()),
        issuer: Some(test_issuer().to_path_buf()),
        ..CardOptions::default()
    });
    let out =
        crate::common::personalize_with(&clone, "fixtures/records/valid-1.json", test_issuer());
    assert_eq!(out.code, 0, "{out:?}");
    let copied = read_state(&original)["files"].clone();
    let mut state = read_state(&clone);
    state["files"] = copied;
    state["lifecycle"] = "operational".into();
    clone.kill();
    write_state(&clone, &state);
    clone.restart();

    let (out, checks) = verify_card(&clone, test_issuer(), &[]);
    assert_eq!(out.code, 1, "the clone verified: {checks:?}");
    // The copied data hold, but no private key came along: the chip cannot answer for DG5,
    // so it is not the card the issuer certified DG6's signing key and DG7's login key for.
    let anti_clone = [
        "chip authentication",
        "holder certificate binding",
        "authentication certificate binding",
    ];
    for name in anti_clone {
        assert!(!check(&checks, name).1, "{name} passed: {checks:?}");
    }
    let chip = check(&checks, "chip authentication");
    assert!(
        chip.2.contains("does not verify with the key of DG5"),
        "{chip:?}"
    );
    for (name, what) in [
        ("holder certificate binding", "DG6's holder certificate"),
        (
            "authentication certificate binding",
            "DG7's authentication certificate",
        ),
    ] {
        let binding = check(&checks, name);
        assert!(
            binding.2.starts_with(&format!(
                "{what} does not belong to this chip: chip authentication failed"
            )),
            "{binding:?}"
        );
    }
    for c in checks
        .iter()
        .filter(|c| !anti_clone.contains(&c.0.as_str()))
    {
        assert!(
            c.1,
            "passive check {:?} failed on the clone: {checks:?}",
            c.0
        );
    }
    // The original still passes.
    let (out, checks) = verify_card(&original, test_issuer(), &[]);
    assert_eq!(out.code, 0, "{checks:?}");
}

/// DG5's hash in the security object proves nothing unless the security object itself is
/// vouched for. So when passive authentication fails — another root given as trust, or the
/// security object's signature broken — chip authentication must not pass, even though the
/// chip still signs with the key of DG5 and DG5's hash still matches.
#[test]
fn chip_authentication_is_not_trusted_when_passive_authentication_fails() {
    let (mut card, _) = personalized_card();
    // `failed` fails, DG5's hash still matches, and chip authentication is not trusted, naming
    // the failed check.
    let not_vouched = |card: &VirtualCard, issuer: &std::path::Path, failed: &str| {
        let (out, checks) = verify_card(card, issuer, &[]);
        assert_eq!(out.code, 1, "{checks:?}");
        assert!(!check(&checks, failed).1, "{checks:?}");
        assert!(
            check(&checks, "DG5 chip-authentication key").1,
            "{checks:?}"
        );
        let chip = check(&checks, "chip authentication");
        assert!(!chip.1, "chip authentication passed: {checks:?}");
        assert!(
            chip.2
                .contains("DG5 is not vouched for: passive authentication failed"),
            "{chip:?}"
        );
        assert!(chip.2.contains(failed), "{chip:?}");
        // Nor is DG6 or DG7 bound to the chip: whose they are cannot be told.
        for name in [
            "holder certificate binding",
            "authentication certificate binding",
        ] {
            let binding = check(&checks, name);
            assert!(!binding.1, "{name} passed: {checks:?}");
            assert!(
                binding.2.starts_with("cannot tell whether DG"),
                "{binding:?}"
            );
            assert!(binding.2.contains(failed), "{binding:?}");
        }
    };

    // Another issuer's root: the document signer chain fails, the hashes still match.
    not_vouched(
        &card,
        crate::common::other_issuer(),
        "document signer chain",
    );
    let text = melli(&[
        "verify",
        "--trust",
        &crate::common::root_pem(crate::common::other_issuer()),
        "--reader",
        card.reader_name(),
    ]);
    assert_eq!(text.code, 1, "{text:?}");
    assert!(
        !text.stdout.contains("PASS  chip authentication"),
        "{text:?}"
    );

    // The security object's signature broken: its last byte is the last byte of s.
    let mut state = read_state(&card);
    let content = state_file_content(&mut state, "011D");
    let mut bytes = hex::decode(content.as_str().expect("hex")).expect("hex content");
    *bytes.last_mut().expect("a security object") ^= 0x01;
    *content = serde_json::Value::String(hex::encode_upper(&bytes));
    card.kill();
    write_state(&card, &state);
    card.restart();
    not_vouched(&card, test_issuer(), "security object signature");
}

#[test]
fn verify_against_another_root_fails_the_chain() {
    let (card, _) = personalized_card();
    let (out, checks) = verify_card(&card, crate::common::other_issuer(), &[]);
    assert_eq!(out.code, 1, "{checks:?}");
    assert!(!check(&checks, "document signer chain").1, "{checks:?}");
}

#[test]
fn another_cards_security_object_fails_the_data_groups_and_serial() {
    let (mut card, _) = personalized_card();
    let other = VirtualCard::for_issuer(test_issuer());
    let out = personalize_with(&other, "fixtures/records/valid-2.json", test_issuer());
    assert_eq!(out.code, 0, "{out:?}\ncard log:\n{}", other.log());
    let mut other_state = read_state(&other);
    let foreign = state_file_content(&mut other_state, "011D").clone();

    let mut state = read_state(&card);
    *state_file_content(&mut state, "011D") = foreign;
    card.kill();
    write_state(&card, &state);
    card.restart();
    let (out, checks) = verify_card(&card, test_issuer(), &[]);
    assert_eq!(out.code, 1, "{checks:?}");
    // A genuine security object, by our document signer, about another card.
    assert!(check(&checks, "security object signature").1, "{checks:?}");
    assert!(check(&checks, "document signer chain").1, "{checks:?}");
    let serial = check(&checks, "card serial");
    assert!(!serial.1, "{checks:?}");
    assert!(serial.2.contains(other.serial()), "{serial:?}");
    for group in [
        "DG1 identity",
        "DG5 chip-authentication key",
        "DG6 holder certificate",
    ] {
        assert!(!check(&checks, group).1, "{group} passed: {checks:?}");
    }
}

#[test]
fn an_expired_document_signer_fails_with_that_reason() {
    let issuer_dir = make_issuer("expiring-document-signer");
    let now = SystemTime::now();
    // The signer expires 8 s from now: time enough to personalize on a slow machine.
    let not_after = now + Duration::from_secs(8);
    crate::common::issue_document_signer(&issuer_dir, now - Duration::from_secs(86_400), not_after);

    let card = VirtualCard::for_issuer(&issuer_dir);
    let out = personalize_with(&card, "fixtures/records/valid-1.json", &issuer_dir);
    assert_eq!(out.code, 0, "{out:?}\ncard log:\n{}", card.log());
    // Wait out the signer's last second, then ask the desk.
    while SystemTime::now() <= not_after + Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let (out, checks) = verify_card(&card, &issuer_dir, &[]);
    assert_eq!(out.code, 1, "{checks:?}");
    let signer = check(&checks, "document signer chain");
    assert!(!signer.1, "{checks:?}");
    assert!(
        signer
            .2
            .starts_with("document signer certificate expired on "),
        "{signer:?}"
    );
    // Everything else on the card is still sound; chip authentication is not trusted, because
    // passive authentication (of which the chain is part) no longer vouches for DG5, and so
    // nothing binds DG6 and DG7 to the chip either.
    let chip = check(&checks, "chip authentication");
    assert!(
        !chip.1
            && chip.2.contains(
                "DG5 is not vouched for: passive authentication failed (document signer chain)"
            ),
        "{chip:?}"
    );
    let not_established = [
        "holder certificate binding",
        "authentication certificate binding",
    ];
    for name in not_established {
        let binding = check(&checks, name);
        assert!(
            !binding.1
                && binding
                    .2
                    .contains("passive authentication failed (document signer chain)"),
            "{binding:?}"
        );
    }
    for c in &checks {
        assert!(
            c.0 == "document signer chain"
                || c.0 == "chip authentication"
                || not_established.contains(&c.0.as_str())
                || c.1,
            "{c:?} failed: {checks:?}"
        );
    }

    // And the issuer refuses to personalize another card with it, before touching the card.
    let blank = VirtualCard::for_issuer(&issuer_dir);
    let out = personalize_with(&blank, "fixtures/records/valid-2.json", &issuer_dir);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("document signer certificate expired on"),
        "{out:?}"
    );
    let info = melli(&["info", "--reader", blank.reader_name(), "--json"]);
    assert_eq!(info.json()["lifecycle"].as_str(), Some("blank"), "{info:?}");
}

#[test]
fn five_misses_block_matching_until_the_puk_unblocks_it() {
    let (card, mailer) = personalized_card();
    let finger_tries = |card: &VirtualCard| {
        let out = melli(&["pin", "status", "--reader", card.reader_name(), "--json"]);
        assert_eq!(out.code, 0, "{out:?}");
        out.json()["finger"].as_u64().expect("finger tries")
    };
    assert_eq!(finger_tries(&card), 5);
    for left in (0..5).rev() {
        let (out, checks) = verify_card(
            &card,
            test_issuer(),
            &["--finger", "fixtures/fingerprints/finger-2.fmr"],
        );
        assert_eq!(out.code, 1, "{checks:?}");
        let finger = check(&checks, "fingerprint match");
        assert!(!finger.1, "{checks:?}");
        if left > 0 {
            assert!(
                finger.2.contains(&format!("{left} tries left")),
                "{finger:?}"
            );
        }
        assert_eq!(finger_tries(&card), left);
    }
    // Blocked: now even the holder's own finger is refused, and says why.
    let (out, checks) = verify_card(
        &card,
        test_issuer(),
        &["--finger", "fixtures/fingerprints/finger-1-live.fmr"],
    );
    assert_eq!(out.code, 1, "{checks:?}");
    let finger = check(&checks, "fingerprint match");
    assert!(
        !finger.1 && finger.2.contains("blocked") && finger.2.contains("unblock-finger"),
        "{finger:?}"
    );

    let out = melli_stdin(
        &[
            "pin",
            "unblock-finger",
            "--reader",
            card.reader_name(),
            "--pin-stdin",
        ],
        &format!("{}\n", mailer.puk),
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_secret_absent(&mailer.puk, &[&out]);
    assert_eq!(finger_tries(&card), 5);
    let (out, checks) = verify_card(
        &card,
        test_issuer(),
        &["--finger", "fixtures/fingerprints/finger-1-live.fmr"],
    );
    assert_eq!(out.code, 0, "{checks:?}");
}

#[test]
fn the_fingerprint_group_is_never_read_out() {
    let (card, _) = personalized_card();
    // By short file identifier and after SELECT by file identifier, short and extended Le.
    let out = melli(&[
        "apdu",
        "--reader",
        card.reader_name(),
        "--json",
        "00A4040C07F04D454C4C4901",
        "00B0830000",
        "00A4020C020103",
        "00B0000000",
        "00B00000000000",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let sws: Vec<String> = out
        .json()
        .as_array()
        .expect("exchanges")
        .iter()
        .map(|e| e["sw"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(sws, ["9000", "6982", "9000", "6982", "6982"], "{out:?}");
    // The template is on the card all the same: the desk's match uses it.
    let mut state = read_state(&card);
    assert!(!state_file_content(&mut state, "0103")
        .as_str()
        .unwrap_or_default()
        .is_empty());
}

/// DG6 must belong to the holder of DG1: a security object the issuer signed over one holder's
/// identity and another holder's certificate (both genuine, both hashed) passes every hash and
/// chain check, and fails the holder binding (§9.4.1) — the certificate names someone else.
#[test]
fn a_holder_certificate_of_another_holder_fails_the_binding() {
    let (card, _) = personalized_card();
    let other = VirtualCard::for_issuer(test_issuer());
    let out = personalize_with(&other, "fixtures/records/valid-2.json", test_issuer());
    assert_eq!(out.code, 0, "{out:?}");
    let mut state = read_state(&card);
    let mut other_state = read_state(&other);
    let dg1 = state_file_content(&mut other_state, "0101").clone();
    *state_file_content(&mut state, "0101") = dg1;
    let hex_of = |state: &mut serde_json::Value, fid: &str| {
        hex::decode(state_file_content(state, fid).as_str().expect("hex")).expect("hex")
    };
    let groups: Vec<(u8, Vec<u8>)> = [
        (1, "0101"),
        (2, "0102"),
        (4, "0104"),
        (5, "0105"),
        (6, "0106"),
        (7, "0107"),
    ]
    .into_iter()
    .map(|(n, fid)| (n, hex_of(&mut state, fid)))
    .filter(|(_, bytes)| !bytes.is_empty())
    .collect();
    let refs: Vec<(u8, &[u8])> = groups.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    let sod = crate::common::load_issuer(test_issuer())
        .sign_security_object(card.serial(), &refs)
        .expect("a security object");
    *state_file_content(&mut state, "011D") = hex::encode_upper(sod).into();
    let mut card = card;
    card.kill();
    write_state(&card, &state);
    card.restart();

    let (out, checks) = verify_card(&card, test_issuer(), &[]);
    assert_eq!(out.code, 1, "{checks:?}");
    let failed: Vec<_> = checks.iter().filter(|c| !c.1).collect();
    assert_eq!(failed.len(), 1, "only the binding fails: {checks:?}");
    assert_eq!(failed[0].0, "holder certificate binding", "{checks:?}");
    assert!(
        failed[0].2.contains("national code is not DG1's"),
        "{:?}",
        failed[0]
    );
}

/// `verify --show`: the holder's data exactly as `melli read` prints them, above the verdict,
/// from the same single reading — the APDU count is verify's alone; with --json, both.
#[test]
fn verify_show_prints_the_holder_above_the_verdict_from_one_reading() {
    let (card, _) = personalized_card();
    let root = crate::common::root_pem(test_issuer());
    let read = melli(&["read", "--reader", card.reader_name()]);
    assert_eq!(read.code, 0, "{read:?}");
    let shown = melli(&[
        "verify",
        "--show",
        "--trust",
        &root,
        "--reader",
        card.reader_name(),
    ]);
    assert_eq!(shown.code, 0, "{shown:?}");
    // The holder's rows first, as `read` prints them, then a blank line, then the verdict.
    let (holder, verdict) = shown
        .stdout
        .split_once("\n\n")
        .unwrap_or_else(|| panic!("no blank line between holder and verdict: {shown:?}"));
    assert_eq!(format!("{holder}\n"), read.stdout, "{shown:?}");
    assert!(holder.contains("0081493721"), "{shown:?}");
    assert!(
        verdict.starts_with(&format!("card {}\n", card.serial())),
        "{shown:?}"
    );
    assert!(
        verdict.contains("PASS  chip authentication")
            && verdict.trim_end().ends_with("GENUINE — every check passed"),
        "{shown:?}"
    );
    // Without --show, only the verdict.
    let plain = melli(&["verify", "--trust", &root, "--reader", card.reader_name()]);
    assert_eq!(plain.code, 0, "{plain:?}");
    assert_eq!(plain.stdout, verdict, "{plain:?}");

    let (out, checks) = verify_card(&card, test_issuer(), &["--show"]);
    assert_eq!(out.code, 0, "{checks:?}");
    let json = out.json();
    let read_json = melli(&["read", "--reader", card.reader_name(), "--json"]).json();
    let mut holder = json["holder"].clone();
    assert!(holder.is_object(), "{json}");
    // `read --json`'s object, but for the traffic, which is verify's own: one reading.
    let mut expected = read_json.clone();
    expected
        .as_object_mut()
        .expect("an object")
        .remove("traffic");
    holder.as_object_mut().expect("an object").remove("traffic");
    assert_eq!(holder, expected, "{json}");
    assert_eq!(json["holder"]["identity"]["national_code"], "0081493721");
    assert!(json["holder"]["holder_certificate"]
        .as_str()
        .is_some_and(|pem| pem.starts_with("-----BEGIN CERTIFICATE-----\n")));
    assert_eq!(json["traffic"]["apdus"], 9, "{json}");
    assert_eq!(json["passed"], true, "{json}");
}

/// A version 1.0 card gives no serial in its FCP (§6.1): the desk asks GET DATA `DF01`, one
/// APDU more, and reads no DG7, which its security object does not list — as many APDUs in
/// all as on a 1.1 card, and the same verdict.
#[test]
fn a_version_1_0_card_costs_one_get_data_and_no_dg7() {
    let (card, _) = personalized_version_1_0_card();

    let read = melli(&["read", "--reader", card.reader_name(), "--json"]);
    assert_eq!(read.code, 0, "{read:?}");
    let json = read.json();
    assert_eq!(json["serial"], card.serial());
    assert!(json.get("authentication_certificate").is_none(), "{json}");
    // SELECT, GET DATA serial, the security object and DG1, DG2, DG4, DG5, DG6.
    assert_eq!(json["traffic"]["apdus"], 1 + 1 + 6, "{json}");

    let (out, checks) = verify_card(&card, test_issuer(), &[]);
    assert_eq!(out.code, 0, "{checks:?}");
    assert_eq!(out.json()["traffic"]["apdus"], 9, "{out:?}");
    assert!(check(&checks, "holder certificate binding").1, "{checks:?}");
    assert!(
        !checks
            .iter()
            .any(|c| c.0.contains("authentication certificate")),
        "a 1.0 card has no DG7 to check: {checks:?}"
    );
    let (out, checks) = verify_card(
        &card,
        test_issuer(),
        &["--finger", "fixtures/fingerprints/finger-1-live.fmr"],
    );
    assert_eq!(out.code, 0, "{checks:?}");
    assert_eq!(out.json()["traffic"]["apdus"], 10, "{out:?}");
}

//! Personalized cards: `melli personalize` on a virtual card, its PIN mailer, and
//! `melli verify` of the result.

use std::fs;
use std::path::{Path, PathBuf};

use super::{melli, path_str, test_issuer, Output, VirtualCard};

/// The PIN and PUK of a PIN mailer file.
#[derive(Debug, Clone)]
pub struct Mailer {
    pub serial: String,
    pub pin: String,
    pub puk: String,
}

/// Parses a PIN mailer: "melli PIN mailer", "card: SERIAL", "PIN: …", "PUK: …".
pub fn read_mailer(path: &Path) -> Mailer {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the PIN mailer {}: {e}", path.display()));
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no {name:?} line in the PIN mailer:\n{text}"))
    };
    assert_eq!(text.lines().next(), Some("melli PIN mailer"), "{text}");
    Mailer {
        serial: field("card:"),
        pin: field("PIN:"),
        puk: field("PUK:"),
    }
}

/// The PIN mailer path used for a card by [`personalize`].
pub fn mailer_path(card: &VirtualCard) -> PathBuf {
    card.dir().join("pin-mailer.txt")
}

/// `melli personalize RECORD --issuer ISSUER --reader R --pin-mailer CARD_DIR/pin-mailer.txt
/// --json`.
pub fn personalize_with(card: &VirtualCard, record: &str, issuer: &Path) -> Output {
    let mailer = mailer_path(card);
    melli(&[
        "personalize",
        record,
        "--issuer",
        path_str(issuer),
        "--reader",
        card.reader_name(),
        "--pin-mailer",
        path_str(&mailer),
        "--json",
    ])
}

/// A card personalized with `fixtures/records/valid-1.json` by [`test_issuer`]; panics unless
/// that worked. Returns the card and its PIN mailer.
pub fn personalized_card() -> (VirtualCard, Mailer) {
    personalized_card_of(test_issuer())
}

/// A card personalized by `issuer` from `fixtures/records/valid-1.json`, and its PIN mailer.
pub fn personalized_card_of(issuer: &Path) -> (VirtualCard, Mailer) {
    let card = VirtualCard::for_issuer(issuer);
    let out = personalize_with(&card, "fixtures/records/valid-1.json", issuer);
    assert_eq!(
        out.code,
        0,
        "personalize failed: {out:?}\ncard log:\n{}",
        card.log()
    );
    let mailer = read_mailer(&mailer_path(&card));
    (card, mailer)
}

/// A Rust virtual card made a version 1.0 card (no EF `0107`, applets-spec §12.7) by editing
/// its blank state file, as someone with the file could, then personalized by [`test_issuer`]
/// from `fixtures/records/valid-1.json`; and its PIN mailer.
pub fn personalized_version_1_0_card() -> (VirtualCard, Mailer) {
    let mut card = VirtualCard::for_issuer(test_issuer());
    card.kill();
    let mut state = super::read_state(&card);
    state["spec_version"] = "1.0".into();
    if let Some(files) = state["files"].as_array_mut() {
        files.retain(|f| f["fid"].as_str().map(|s| s.eq_ignore_ascii_case("0107")) != Some(true));
    }
    super::write_state(&card, &state);
    card.restart();
    let out = personalize_with(&card, "fixtures/records/valid-1.json", test_issuer());
    assert_eq!(out.code, 0, "personalize: {out:?}\n{}", card.log());
    let mailer = read_mailer(&mailer_path(&card));
    (card, mailer)
}

/// Panics if `secret` appears in any of the outputs (stdout or stderr).
pub fn assert_secret_absent(secret: &str, outputs: &[&Output]) {
    for out in outputs {
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "a secret appears in a command's output: {out:?}"
        );
    }
}

/// The test issuer's root certificate, as a string path.
pub fn root_pem(issuer: &Path) -> String {
    path_str(&issuer.join("root.pem")).to_string()
}

/// `melli verify --trust ROOT --reader R --json [extra…]`: the exit code and the checks by name.
pub fn verify_card(
    card: &VirtualCard,
    issuer: &Path,
    extra: &[&str],
) -> (Output, Vec<(String, bool, String)>) {
    let root = root_pem(issuer);
    let mut args = vec![
        "verify",
        "--trust",
        root.as_str(),
        "--reader",
        card.reader_name(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = melli(&args);
    assert!(
        out.code == 0 || out.code == 1,
        "melli verify did not run: {out:?}\ncard log:\n{}",
        card.log()
    );
    let json = out.json();
    assert_eq!(
        json["passed"].as_bool(),
        Some(out.code == 0),
        "exit code and \"passed\" disagree: {out:?}"
    );
    let checks = json["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks list: {out:?}"))
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_string(),
                c["passed"].as_bool().unwrap_or(false),
                c["detail"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    (out, checks)
}

/// A PIN or PUK as the 16-byte block of applets-spec §8.2, in hex.
pub fn pin_block(digits: &str) -> String {
    let mut block = hex::encode_upper(digits);
    while block.len() < 32 {
        block.push_str("FF");
    }
    block
}

/// `melli verify-auth-token TOKEN --origin ORIGIN --nonce NONCE --trust ROOT --ca CA --json`:
/// a login token checked as a service checks it, against the test issuer's root and the
/// signing CA `ca` (`melli read --out` writes it as `signing-ca.pem`).
pub fn verify_auth_token(token: &Path, origin: &str, nonce: &str, ca: &Path) -> Output {
    melli(&[
        "verify-auth-token",
        path_str(token),
        "--origin",
        origin,
        "--nonce",
        nonce,
        "--trust",
        &root_pem(super::test_issuer()),
        "--ca",
        path_str(ca),
        "--json",
    ])
}

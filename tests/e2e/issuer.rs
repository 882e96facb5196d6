//! The issuer's keys through the real path: made in SoftHSM2 tokens by `melli issuer init`,
//! seen there by a PKCS#11 tool nobody here wrote (OpenSC's `pkcs11-tool`), never in a file;
//! the root key apart and never opened by personalization; passphrase-encrypted files for a
//! centre without an HSM; the token PIN in no output.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::{
    assert_secret_absent, make_issuer, melli, personalize_with, run, softhsm_turn, verify_card,
    VirtualCard, SOFTHSM_MODULE, TOKEN_PIN,
};

/// The label of the token an issuer's `issuer.json` (or a root's `root.json`) names.
fn token_of(config: &Path) -> String {
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(config).expect("config")).expect("JSON");
    assert_eq!(json["keys"]["store"], "pkcs11", "{json}");
    json["keys"]["token"].as_str().expect("token").to_string()
}

/// `pkcs11-tool --list-objects` of token `label`, logged in, in melli's turn at SoftHSM2.
fn objects(label: &str) -> String {
    let _turn = softhsm_turn();
    let out = run(
        Command::new("pkcs11-tool").args([
            "--module",
            SOFTHSM_MODULE,
            "--token-label",
            label,
            "--login",
            "--pin",
            TOKEN_PIN,
            "--list-objects",
        ]),
        Duration::from_secs(30),
    );
    assert_eq!(out.code, 0, "pkcs11-tool: {out:?}");
    out.stdout
}

/// The `Private Key Object` / `Secret Key Object` blocks of a listing, by label.
fn key_block<'a>(listing: &'a str, kind: &str, label: &str) -> &'a str {
    listing
        .split(kind)
        .skip(1)
        .find(|block| block.contains(&format!("label:      {label}")))
        .unwrap_or_else(|| panic!("no {kind} labelled {label} in:\n{listing}"))
}

#[test]
fn the_issuers_keys_are_made_in_its_token_and_never_leave_it() {
    let issuer = make_issuer("hsm-objects");
    for f in [
        "document-signer.key",
        "signing-ca.key",
        "master.key",
        "root.key",
    ] {
        assert!(
            !issuer.join(f).exists(),
            "{f} is a file in the issuer folder"
        );
    }
    let root_dir = melli::pki::issuer::default_root_dir(&issuer);
    assert!(
        !root_dir.join("root.key").exists(),
        "the root key is a file"
    );

    let listing = objects(&token_of(&issuer.join("issuer.json")));
    for label in ["melli Document Signer", "melli Signing CA"] {
        let block = key_block(&listing, "Private Key Object", label);
        assert!(block.contains("sensitive"), "{label}: {block}");
        assert!(block.contains("never extractable"), "{label}: {block}");
        assert!(block.contains("sign"), "{label}: {block}");
    }
    let master = key_block(
        &listing,
        "Secret Key Object",
        "melli personalization master key",
    );
    assert!(master.contains("AES length 16"), "{master}");
    assert!(master.contains("never extractable"), "{master}");
    assert!(
        !listing.contains("melli Root CA"),
        "the root key is in the issuer's token"
    );

    let root_listing = objects(&token_of(&root_dir.join("root.json")));
    let root = key_block(&root_listing, "Private Key Object", "melli Root CA");
    assert!(root.contains("never extractable"), "{root}");
    assert!(!root_listing.contains("melli Signing CA"), "{root_listing}");

    // openssl, as a relying party, accepts the certificates the token's keys signed.
    let out = run(
        Command::new("openssl").current_dir(&issuer).args([
            "verify",
            "-CAfile",
            "root.pem",
            "document-signer.pem",
            "signing-ca.pem",
        ]),
        Duration::from_secs(30),
    );
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn personalization_never_opens_the_root_and_never_shows_the_token_pin() {
    let issuer = make_issuer("root-offline");
    let root_dir = melli::pki::issuer::default_root_dir(&issuer);
    let safe = root_dir.with_file_name("root-offline-in-a-safe");
    fs::rename(&root_dir, &safe).expect("take the root offline");

    let card = VirtualCard::for_issuer(&issuer);
    let mut command = Command::new(crate::common::MELLI);
    command
        .env_remove("MELLI_ROOT_PIN")
        .args(["personalize", "fixtures/records/valid-1.json", "--issuer"])
        .arg(&issuer)
        .args(["--reader", card.reader_name(), "--pin-mailer"])
        .arg(crate::common::mailer_path(&card))
        .arg("--json");
    let out = run(&mut command, Duration::from_secs(60));
    assert_eq!(out.code, 0, "{out:?}\ncard log:\n{}", card.log());
    let (verdict, checks) = verify_card(&card, &issuer, &[]);
    assert_eq!(verdict.code, 0, "{checks:?}");
    assert_secret_absent(TOKEN_PIN, &[&out, &verdict]);
}

#[test]
fn a_centre_without_an_hsm_keeps_encrypted_key_files() {
    let base = tempfile::tempdir().expect("tempdir");
    let issuer = base.path().join("issuer");
    // No --hsm: passphrase-encrypted files. The passphrase is the harness's MELLI_ISSUER_PIN and
    // MELLI_ROOT_PIN, which every melli of this test inherits.
    let phrase = TOKEN_PIN;
    let made = melli(&["issuer", "init", issuer.to_str().expect("utf-8")]);
    assert_eq!(made.code, 0, "{made:?}");
    assert_secret_absent(phrase, &[&made]);
    for f in ["document-signer.key", "signing-ca.key"] {
        let text = fs::read_to_string(issuer.join(f)).expect("key file");
        assert!(
            text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
            "{f}"
        );
    }
    let master = fs::read_to_string(issuer.join("master.key")).expect("master");
    assert!(
        master.starts_with("-----BEGIN MELLI ENCRYPTED MASTER KEY-----"),
        "{master}"
    );
    let root_key = base.path().join("issuer-root").join("root.key");
    let text = fs::read_to_string(&root_key).expect("root key");
    assert!(text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    // openssl decrypts the root key with the passphrase: standard PKCS#8.
    let out = run(
        Command::new("openssl")
            .args(["pkey", "-noout", "-passin", &format!("pass:{phrase}")])
            .arg("-in")
            .arg(&root_key),
        Duration::from_secs(30),
    );
    assert_eq!(out.code, 0, "{out:?}");

    // A card made and personalized from the encrypted files, and verified.
    let card = VirtualCard::for_issuer(&issuer);
    let out = personalize_with(&card, "fixtures/records/valid-1.json", &issuer);
    assert_eq!(out.code, 0, "{out:?}\ncard log:\n{}", card.log());
    assert_secret_absent(phrase, &[&out]);
    let (verdict, checks) = verify_card(&card, &issuer, &[]);
    assert_eq!(verdict.code, 0, "{checks:?}");
}

//! The state file through the public API: manufacture, reopen, refuse, report corruption.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;
use crate::state_file;
use crate::storage::{self, Mode};
use crate::CardError;

fn verify(block: &str) -> String {
    format!("00200081 10 {block}")
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_created_card_reopens_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    let created = Card::create_file(&path, SERIAL, &MASTER_KEY).unwrap();
    assert_eq!(
        entries(dir.path()),
        vec!["card.json"],
        "no temporary file left"
    );
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let mut opened = Card::open_file(&path).unwrap();
    assert_eq!(opened.serial(), SERIAL);
    assert_eq!(opened.lifecycle(), 0x01);
    assert_eq!(opened.state.static_keys, created.state.static_keys);
    assert_eq!(opened.state.files, created.state.files);
    script(
        &mut opened,
        &[(SELECT_AID, "9000"), ("00CADF0400", "030A059000")],
    );

    let text = fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains(&hex::encode_upper(MASTER_KEY)),
        "master key stored"
    );
}

#[test]
fn create_refuses_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    Card::create_file(&path, SERIAL, &MASTER_KEY).unwrap();
    let before = fs::read(&path).unwrap();
    let error = Card::create_file(&path, "OTHER", &MASTER_KEY).unwrap_err();
    assert!(matches!(error, CardError::StateExists { .. }), "{error}");
    assert!(error.to_string().contains("card.json"), "{error}");
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(entries(dir.path()), vec!["card.json"]);
}

#[test]
fn create_validates_the_serial_before_touching_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    let error = Card::create_file(&path, "abc", &MASTER_KEY).unwrap_err();
    assert!(matches!(error, CardError::InvalidSerial { .. }), "{error}");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn reads_leave_the_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    Card::create_file(&path, SERIAL, &MASTER_KEY).unwrap();
    let before = (
        fs::read(&path).unwrap(),
        fs::metadata(&path).unwrap().modified().unwrap(),
    );
    let mut card = Card::open_file(&path).unwrap();
    for apdu in [
        SELECT_AID,
        "00A4000C020101",
        "00B0000000",
        "00CADF0100",
        "0084000010",
    ] {
        send(&mut card, apdu);
    }
    let after = (
        fs::read(&path).unwrap(),
        fs::metadata(&path).unwrap().modified().unwrap(),
    );
    assert_eq!(before, after);
}

/// Issue 11 finding 8: one byte of a data group changed by hand — the file is refused, with
/// the one line that says so; sealed again by someone who knows the construction (§8.7 says
/// the seal does not stop that), the card reads the changed byte.
#[test]
fn a_flipped_byte_of_a_data_group_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    let mut card = Card::create_file(&path, SERIAL, &MASTER_KEY).unwrap();
    card.state
        .files
        .set_content(ef::ADDRESS, vec![0xE4, 0x03, 0xDF, 0x00, 0x01])
        .unwrap();
    storage::write(&path, &card.state, Mode::Replace).unwrap();

    let text = fs::read_to_string(&path).unwrap();
    let tampered = text.replacen("\"E403DF0001\"", "\"E403DF0002\"", 1);
    assert_ne!(text, tampered, "the file shows DG4 as one hex string");
    fs::write(&path, &tampered).unwrap();

    let error = Card::open_file(&path).unwrap_err();
    assert!(matches!(error, CardError::StateTampered { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        format!(
            "card state {}: integrity check failed (the file was changed outside the card); \
             make a new card with `melli card new`",
            path.display()
        )
    );

    let mut value: serde_json::Value = serde_json::from_str(&tampered).unwrap();
    state_file::seal(&mut value);
    fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    let mut card = Card::open_file(&path).unwrap();
    script(
        &mut card,
        &[(SELECT_AID, "9000"), ("00B0840000", "E403DF00029000")],
    );
}

/// Issue 11 finding 8: a try counter set back by hand is refused — the edit that would give
/// an attacker free PIN tries.
#[test]
fn a_try_counter_set_back_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut card, path) = personalized_file(dir.path());
    script(&mut card, &[(&verify(WRONG_PIN), "63C2")]);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"tries_left\": 2"), "{text}");
    fs::write(
        &path,
        text.replacen("\"tries_left\": 2", "\"tries_left\": 3", 1),
    )
    .unwrap();
    let error = Card::open_file(&path).unwrap_err();
    assert!(matches!(error, CardError::StateTampered { .. }), "{error}");
    fs::write(&path, text).unwrap();
    assert_eq!(Card::open_file(&path).unwrap().state.pin.tries_left, 2);
}

/// Issue 11 finding 8: the file of a personalized card holds neither the PIN nor the PUK in
/// clear (as digits or as the hex of their blocks), and the card still knows them.
#[test]
fn the_file_holds_no_pin_or_puk() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = personalized_file(dir.path());
    let text = fs::read_to_string(&path).unwrap();
    for (block, digits) in [(PIN, "123456"), (PUK, "12345678")] {
        assert!(!text.contains(block), "block {block} in the file");
        assert!(!text.contains(digits), "digits {digits} in the file");
        assert!(
            !text.contains(&hex::encode_upper(digits)),
            "{digits} as hex"
        );
    }
    let mut card = Card::open_file(&path).unwrap();
    script(
        &mut card,
        &[
            (SELECT_AID, "9000"),
            (&verify(WRONG_PIN), "63C2"),
            (&verify(PIN), "9000"),
            (&format!("002C0183 10 {PUK}"), "9000"),
        ],
    );
}

/// Issue 11 finding 8: after TERMINATE DF, the file holds no private key, no fingerprint
/// template and no reference data.
#[test]
fn a_terminated_card_file_holds_no_key_and_no_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let (mut card, path) = personalized_file(dir.path());
    let scalars: Vec<String> = [&card.state.signing_key, &card.state.chip_auth_key]
        .into_iter()
        .flatten()
        .map(|key| hex::encode_upper(key.to_bytes()))
        .collect();
    assert_eq!(scalars.len(), 2);
    let dg3 = hex::encode_upper(card.state.files.content(ef::FINGERPRINT).unwrap());
    let before = fs::read_to_string(&path).unwrap();
    assert!(before.contains(&dg3) && scalars.iter().all(|s| before.contains(s)));

    script(&mut card, &[(&format!("00E60000 10 {PUK}"), "9000")]);
    let after = fs::read_to_string(&path).unwrap();
    assert!(!after.contains(&dg3), "DG3 left in the file");
    for scalar in &scalars {
        assert!(
            !after.contains(scalar.as_str()),
            "a private key left in the file"
        );
    }
    let value: serde_json::Value = serde_json::from_str(&after).unwrap();
    assert_eq!(value["lifecycle"], "terminated");
    assert_eq!(value["key_pairs"]["signing"], serde_json::Value::Null);
    assert_eq!(value["key_pairs"]["chip_auth"], serde_json::Value::Null);
    assert_eq!(value["pin"]["reference"], serde_json::Value::Null);
    assert_eq!(value["puk"]["reference"], serde_json::Value::Null);
    let dg3_entry = value["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fid"] == "0103")
        .unwrap();
    assert_eq!(dg3_entry["content"], "");
    let card = Card::open_file(&path).unwrap();
    assert_eq!(card.lifecycle(), 0x0C);
}

/// Issue 11 finding 8: a state file with another mode than 0600 is refused at open.
#[test]
fn a_state_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    Card::create_file(&path, SERIAL, &MASTER_KEY).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let message = Card::open_file(&path).unwrap_err().to_string();
    assert_eq!(
        message,
        format!(
            "card state {}: mode 0644, but a card state holds the card's keys and must be mode \
             0600: run `chmod 600 {}`",
            path.display(),
            path.display()
        )
    );
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    assert!(Card::open_file(&path).is_ok());
}

/// A state file of format version 1 (PIN in clear, no MAC) is refused with what to do.
#[test]
fn an_old_format_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    Card::create_file(&path, SERIAL, &MASTER_KEY).unwrap();
    let mut value: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    let members = value.as_object_mut().unwrap();
    members.remove("device_secret");
    members.remove("mac");
    value["format_version"] = 1.into();
    fs::write(&path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    let error = Card::open_file(&path).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "card state {}: written in state format version 1 by an older melli; this melli \
             reads versions 2 to 3 only: make a new card with `melli card new`",
            path.display()
        )
    );
}

#[test]
fn a_corrupted_file_is_an_error_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    Card::create_file(&path, SERIAL, &MASTER_KEY).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let enc = value["static_keys"]["enc"].as_str().unwrap().to_owned();

    // Sealed again after the change: the MAC is right, the value is not.
    let sealed = |text: String| {
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        state_file::seal(&mut value);
        serde_json::to_string_pretty(&value).unwrap()
    };
    let cases = [
        (text.replacen(&enc, &enc[..30], 1), "static_keys.enc"),
        (
            text.replacen(&enc, &format!("{}ZZ", &enc[..30]), 1),
            "static_keys.enc",
        ),
        (text.replacen("\"blank\"", "\"frozen\"", 1), "lifecycle"),
        (
            text.replacen(
                "\"content\": \"\"",
                &format!("\"content\": \"{}\"", "00".repeat(1025)),
                1,
            ),
            "files[0101].content",
        ),
    ];
    for (content, field) in cases {
        fs::write(&path, sealed(content)).unwrap();
        match Card::open_file(&path) {
            Err(CardError::StateInvalid { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{field}: {other:?}"),
        }
        let message = Card::open_file(&path).unwrap_err().to_string();
        assert!(
            message.contains(field) && message.contains("card.json"),
            "{message}"
        );
        assert!(!message.contains('\n'), "one line: {message}");
    }

    for truncated in [&text[..text.len() / 2], "", "null", "[]"] {
        fs::write(&path, truncated).unwrap();
        let error = Card::open_file(&path).unwrap_err();
        assert!(matches!(error, CardError::StateSyntax { .. }), "{error}");
    }

    fs::write(&path, [0xFF, 0xFE, 0x00]).unwrap();
    assert!(Card::open_file(&path).is_err());
    fs::remove_file(&path).unwrap();
    let error = Card::open_file(&path).unwrap_err();
    assert!(matches!(error, CardError::StateIo { .. }), "{error}");
}

/// A state file of format 2, written by the melli of specification 1.0 (before §12): an
/// operational card personalized by `personalized_file`, PIN 123456.
const FORMAT_2_CARD: &str = include_str!("fixtures/state-v2-operational.json");

/// §8.7, §12.7: a card made before version 1.1 still opens, and stays the 1.0 card it was —
/// `DF03` is `01 00`, its application FCP carries no serial (§6.1), and DG7, key `03` and
/// INTERNAL AUTHENTICATE P2 `03` answer as on 1.0 — while everything it had still works. Its next save is format 3, and it opens again.
#[test]
fn a_format_2_card_opens_as_a_1_0_card() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    fs::write(&path, FORMAT_2_CARD).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    let mut card = Card::open_file(&path).unwrap();
    assert_eq!(card.lifecycle(), 0x05);
    let challenge = "11".repeat(32);
    script(
        &mut card,
        &[
            (SELECT_AID_FCP, "620F 820138 8407F04D454C4C4901 8A0105 9000"),
            ("00CADF0300", "01009000"),
            ("00A4000C020107", "6A82"),
            ("00B0870000", "6A82"),
            ("00478103 00", "6A88"),
            ("00478101 00", "*9000"),
            (&format!("00880003 20 {challenge} 00"), "6A86"),
            (&format!("00880002 20 {challenge} 00"), "*9000"),
            (&verify(WRONG_PIN), "63C2"),
            (&verify(PIN), "9000"),
            (&format!("002A9E9A 20 {challenge} 00"), "*9000"),
            (&format!("00880003 20 {challenge} 00"), "6A86"),
        ],
    );
    drop(card);
    let saved: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(saved["format_version"], 3);
    assert_eq!(saved["spec_version"], "1.0");
    let mut card = Card::open_file(&path).unwrap();
    script(
        &mut card,
        &[
            (SELECT_AID_FCP, "620F 820138 8407F04D454C4C4901 8A0105 9000"),
            ("00CADF0300", "01009000"),
            ("00CADF0400", "030A059000"),
        ],
    );
}

//! The state file through the public API: manufacture, reopen, refuse, report corruption.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;
use crate::card::storage::{self, Mode};
use crate::card::CardError;

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

#[test]
fn a_flipped_byte_of_a_data_group_is_what_the_card_then_reads() {
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
    fs::write(&path, tampered).unwrap();

    let mut card = Card::open_file(&path).unwrap();
    script(
        &mut card,
        &[(SELECT_AID, "9000"), ("00B0840000", "E403DF00029000")],
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
        fs::write(&path, &content).unwrap();
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

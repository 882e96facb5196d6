//! The card process can die at any moment: its state file must survive it.

use crate::common::{melli, personalized_card, pin_block, read_state, VirtualCard, MELLI_ATR};

fn info(card: &VirtualCard) -> serde_json::Value {
    let out = melli(&["info", "--reader", card.reader_name(), "--json"]);
    assert_eq!(out.code, 0, "{out:?}\ncard log:\n{}", card.log());
    out.json()
}

#[test]
fn killed_and_restarted_card_keeps_its_state() {
    let mut card = VirtualCard::new();
    let before = info(&card);
    let state_before = std::fs::read(card.state_path()).expect("state file");

    // Killed while idle, and again right after it answered.
    card.kill();
    card.restart();
    let between = info(&card);
    card.kill();
    card.restart();
    let after = info(&card);

    for now in [&between, &after] {
        assert_eq!(now, &before);
    }
    assert_eq!(after["serial"], card.serial());
    assert_eq!(after["lifecycle"], "blank");
    assert_eq!(after["atr"], MELLI_ATR);
    // Reading the card changes nothing that is persisted.
    let state_after = std::fs::read(card.state_path()).expect("state file");
    assert_eq!(
        state_before, state_after,
        "the state file changed although nothing was written"
    );
}

#[test]
fn card_new_refuses_to_overwrite_a_state_file() {
    let card = VirtualCard::new();
    let before = std::fs::read(card.state_path()).expect("state file");
    let key = card.state_path().with_file_name("master.key");
    let state = card.state_path().to_str().expect("utf-8");
    let out = melli(&[
        "card",
        "new",
        "--state",
        state,
        "--serial",
        "OTHER1",
        "--master-key",
        key.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(
        std::fs::read(card.state_path()).expect("state file"),
        before
    );
    // And the card still answers with its own serial.
    let out = melli(&["info", "--reader", card.reader_name(), "--json"]);
    assert_eq!(out.json()["serial"], card.serial());
}

#[test]
fn card_new_rejects_bad_input() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good_key = dir.path().join("good.key");
    crate::common::write_private(&good_key, "000102030405060708090a0b0c0d0e0f\n");
    let short_key = dir.path().join("short.key");
    crate::common::write_private(&short_key, "0001020304");
    // A key file others can read is refused with the command that fixes it.
    let open_key = dir.path().join("open.key");
    std::fs::write(&open_key, "000102030405060708090a0b0c0d0e0f\n").expect("key");
    let open_state = dir.path().join("open.state");
    let out = melli(&[
        "card",
        "new",
        "--state",
        open_state.to_str().expect("utf-8"),
        "--serial",
        "ABC123",
        "--master-key",
        open_key.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("chmod 600 {}", open_key.display())),
        "{out:?}"
    );
    assert!(!open_state.exists());
    let path = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_string();
    let cases = [
        (
            path("a.state"),
            "ABC123",
            short_key.to_str().expect("utf-8").to_string(),
        ),
        (path("b.state"), "ABC123", path("missing.key")),
        (
            path("c.state"),
            "lower-case!",
            good_key.to_str().expect("utf-8").to_string(),
        ),
        (
            path("d.state"),
            "",
            good_key.to_str().expect("utf-8").to_string(),
        ),
    ];
    for (state, serial, key) in cases {
        let out = melli(&[
            "card",
            "new",
            "--state",
            &state,
            "--serial",
            serial,
            "--master-key",
            &key,
        ]);
        assert_eq!(out.code, 2, "serial {serial:?}, key {key}: {out:?}");
        assert!(
            !std::path::Path::new(&state).exists(),
            "no state file on failure: {state}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Issue 11 finding 8: the state file is the card's EEPROM — sealed, private, no secret in clear.
// ---------------------------------------------------------------------------------------------

/// `melli card serve` on the card's state file, while the card itself is stopped: the exit code
/// and the one stderr line of a refusal.
fn serve_refused(card: &VirtualCard) -> (i32, String) {
    let vpcd = format!("127.0.0.1:{}", card.port());
    let out = melli(&[
        "card",
        "serve",
        "--state",
        card.state_path().to_str().expect("utf-8"),
        "--vpcd",
        &vpcd,
    ]);
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "one line: {out:?}");
    (out.code, out.stderr.trim_end().to_string())
}

/// The PIN's tries left, from VERIFY with no data (63Cx), through pcscd.
fn pin_tries(card: &VirtualCard) -> String {
    let out = melli(&[
        "apdu",
        "--reader",
        card.reader_name(),
        "--json",
        "00A4040C07F04D454C4C4901",
        "0020008100",
    ]);
    assert_eq!(out.code, 0, "{out:?}\ncard log:\n{}", card.log());
    out.json()[1]["sw"].as_str().expect("sw").to_string()
}

#[test]
fn a_state_file_edited_by_hand_is_refused() {
    let (mut card, mailer) = personalized_card();
    let wrong_pin = if mailer.pin.starts_with('9') {
        "111111"
    } else {
        "999999"
    };
    let out = melli(&[
        "apdu",
        "--reader",
        card.reader_name(),
        "--json",
        "00A4040C07F04D454C4C4901",
        &format!("0020008110{}", pin_block(wrong_pin)),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(pin_tries(&card), "63C2");
    card.kill();
    let path = card.state_path().to_path_buf();
    let sealed = std::fs::read_to_string(&path).expect("state file");

    // The attack: the PIN's try counter set back; then one byte of the address group.
    let counter = sealed.replacen("\"tries_left\": 2", "\"tries_left\": 3", 1);
    let dg4 = read_state(&card)["files"][3]["content"]
        .as_str()
        .expect("DG4")
        .to_string();
    let last = dg4.len() - 1;
    let flipped = format!(
        "{}{}",
        &dg4[..last],
        if dg4.ends_with('0') { '1' } else { '0' }
    );
    let byte = sealed.replacen(&dg4, &flipped, 1);
    let expected = format!(
        "melli: card state {}: integrity check failed (the file was changed outside the card); \
         make a new card with `melli card new`",
        path.display()
    );
    for edited in [counter, byte] {
        assert_ne!(edited, sealed);
        std::fs::write(&path, &edited).expect("edit the state file");
        assert_eq!(serve_refused(&card), (2, expected.clone()));
        assert_eq!(std::fs::read_to_string(&path).expect("state"), edited);
    }

    // The file as the card left it serves again, with the try still spent.
    std::fs::write(&path, &sealed).expect("restore the state file");
    card.restart();
    assert_eq!(pin_tries(&card), "63C2");
}

#[test]
fn a_state_file_others_may_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let mut card = VirtualCard::new();
    card.kill();
    let path = card.state_path().to_path_buf();
    let mode = |m| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m));
    for refused in [0o644, 0o640, 0o400] {
        mode(refused).expect("chmod");
        let (code, line) = serve_refused(&card);
        assert_eq!(code, 2, "{line}");
        assert_eq!(
            line,
            format!(
                "melli: card state {}: mode {refused:04o}, but a card state holds the card's keys \
                 and must be mode 0600: run `chmod 600 {}`",
                path.display(),
                path.display()
            )
        );
    }
    mode(0o600).expect("chmod");
    card.restart();
    assert_eq!(info(&card)["serial"], card.serial());
}

#[test]
fn the_state_file_never_holds_the_pin_or_the_puk() {
    let (card, mailer) = personalized_card();
    let text = std::fs::read_to_string(card.state_path()).expect("state file");
    for secret in [&mailer.pin, &mailer.puk] {
        assert!(secret.len() >= 6, "{mailer:?}");
        assert!(!text.contains(secret.as_str()), "a PIN or PUK in clear");
        assert!(
            !text.contains(&hex::encode_upper(secret)),
            "a PIN or PUK as hex digits"
        );
        assert!(!text.contains(&pin_block(secret)), "a PIN or PUK block");
    }
    let state = read_state(&card);
    for reference in ["pin", "puk"] {
        let hashed = &state[reference]["reference"];
        assert_eq!(hashed["salt"].as_str().map(str::len), Some(32), "{state}");
        assert_eq!(hashed["hash"].as_str().map(str::len), Some(64), "{state}");
    }
    // And the card still knows them: the PIN verifies.
    let out = melli(&[
        "apdu",
        "--reader",
        card.reader_name(),
        "--json",
        "00A4040C07F04D454C4C4901",
        &format!("0020008110{}", pin_block(&mailer.pin)),
    ]);
    assert_eq!(out.json()[1]["sw"], "9000", "{out:?}");
}

#[test]
fn terminate_wipes_the_fingerprint_and_the_private_keys_from_the_state_file() {
    let (card, mailer) = personalized_card();
    let before = read_state(&card);
    let dg3 = before["files"][2]["content"]
        .as_str()
        .expect("DG3")
        .to_string();
    assert_eq!(before["files"][2]["fid"], "0103");
    assert!(dg3.len() > 100, "DG3 holds a template");
    let scalars: Vec<String> = ["signing", "chip_auth"]
        .iter()
        .map(|k| {
            before["key_pairs"][k]
                .as_str()
                .expect("a private key")
                .to_string()
        })
        .collect();

    let out = melli(&[
        "apdu",
        "--reader",
        card.reader_name(),
        "--json",
        "00A4040C07F04D454C4C4901",
        &format!("00E6000010{}", pin_block(&mailer.puk)),
    ]);
    assert_eq!(
        out.json()[1]["sw"],
        "9000",
        "{out:?}\ncard log:\n{}",
        card.log()
    );

    let text = std::fs::read_to_string(card.state_path()).expect("state file");
    assert!(!text.contains(&dg3), "DG3 left in the state file");
    for scalar in &scalars {
        assert!(
            !text.contains(scalar.as_str()),
            "a private key left in the state file"
        );
    }
    let after = read_state(&card);
    assert_eq!(after["lifecycle"], "terminated");
    assert_eq!(after["files"][2]["content"], "");
    assert!(after["key_pairs"]["signing"].is_null() && after["key_pairs"]["chip_auth"].is_null());
    // The public data groups stay.
    assert_eq!(after["files"][0], before["files"][0]);
}

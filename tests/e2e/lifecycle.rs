//! The card process can die at any moment: its state file must survive it.

use crate::common::{melli, VirtualCard, MELLI_ATR};

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

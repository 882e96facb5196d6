//! `melli readers`, `melli info` and `melli apdu` against virtual cards through pcscd.

use serde_json::{json, Value};

use crate::common::{melli, Pcscd, VirtualCard, MELLI_ATR, SELECT_MELLI};

/// `melli apdu --reader R --json APDU…`, which must succeed; returns the exchanges.
fn apdu_json(reader: &str, apdus: &[&str]) -> Vec<Value> {
    let mut args = vec!["apdu", "--reader", reader, "--json"];
    args.extend_from_slice(apdus);
    let out = melli(&args);
    assert_eq!(out.code, 0, "melli apdu failed: {out:?}");
    match out.json() {
        Value::Array(exchanges) => exchanges,
        other => panic!("melli apdu --json gave no list: {other}"),
    }
}

fn hex_ascii(text: &str) -> String {
    hex::encode_upper(text.as_bytes())
}

#[test]
fn info_json_on_a_fresh_card() {
    let card = VirtualCard::new();
    let out = melli(&["info", "--reader", card.reader_name(), "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.json(),
        json!({
            "reader": card.reader_name(),
            "atr": MELLI_ATR,
            "serial": card.serial(),
            "lifecycle": "blank",
            "spec_version": "1.1",
        })
    );
}

#[test]
fn info_text_names_the_card() {
    let card = VirtualCard::new();
    let out = melli(&["info", "--reader", card.reader_name()]);
    assert_eq!(out.code, 0, "{out:?}");
    for expected in [card.reader_name(), card.serial(), MELLI_ATR, "blank", "1.1"] {
        assert!(
            out.stdout.contains(expected),
            "{expected:?} missing from:\n{}",
            out.stdout
        );
    }
}

#[test]
fn readers_json_shows_the_card_and_its_atr() {
    let card = VirtualCard::new();
    let out = melli(&["readers", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let readers = out.json()["readers"]
        .as_array()
        .cloned()
        .expect("a readers list");
    // All sixteen readers of the test pcscd are listed, each with the three fields.
    for name in card.pcscd().reader_names() {
        let reader = readers
            .iter()
            .find(|r| r["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} not listed: {readers:?}"));
        assert!(reader["card_present"].is_boolean(), "{reader}");
        assert!(
            reader["atr"].is_null() || reader["atr"].is_string(),
            "{reader}"
        );
    }
    let ours = readers
        .iter()
        .find(|r| r["name"] == card.reader_name())
        .expect("our reader");
    assert_eq!(
        ours,
        &json!({"name": card.reader_name(), "card_present": true, "atr": MELLI_ATR})
    );
}

#[test]
fn apdu_select_and_get_data() {
    let card = VirtualCard::new();
    let exchanges = apdu_json(
        card.reader_name(),
        &[
            SELECT_MELLI,
            "00CADF0100",
            "00CADF0200",
            "00CADF0300",
            "0084000008",
        ],
    );
    assert_eq!(exchanges.len(), 5, "{exchanges:?}");
    let expected = [
        (SELECT_MELLI, String::new()),
        ("00CADF0100", hex_ascii(card.serial())),
        ("00CADF0200", "01".to_string()),
        ("00CADF0300", "0101".to_string()),
    ];
    for (exchange, (command, data)) in exchanges.iter().zip(expected) {
        assert_eq!(exchange["command"], command, "{exchange}");
        assert_eq!(exchange["data"], data.as_str(), "{exchange}");
        assert_eq!(exchange["sw"], "9000", "{exchange}");
        assert!(exchange["meaning"].is_string(), "{exchange}");
    }
    let challenge = exchanges[4]["data"].as_str().expect("challenge hex");
    assert_eq!(
        challenge.len(),
        16,
        "GET CHALLENGE gives 8 bytes: {:?}",
        exchanges[4]
    );
    assert_eq!(exchanges[4]["sw"], "9000");
}

#[test]
fn apdu_text_output() {
    let card = VirtualCard::new();
    let out = melli(&[
        "apdu",
        "--reader",
        card.reader_name(),
        SELECT_MELLI,
        "00CADF0100",
        "00CA999900",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{}", out.stdout);
    assert_eq!(lines[0], format!("> {SELECT_MELLI}"));
    assert!(lines[1].starts_with("< 9000 ("), "{}", lines[1]);
    assert_eq!(lines[2], "> 00CADF0100");
    assert!(
        lines[3].starts_with(&format!("< {} 9000 (", hex_ascii(card.serial()))),
        "{}",
        lines[3]
    );
    // An unknown data object: an error status word is an answer, not a failure of melli.
    assert_eq!(lines[4], "> 00CA999900");
    assert!(lines[5].starts_with("< 6A88 ("), "{}", lines[5]);
}

/// `6Cxx` (resend with the right Le), `61xx` (GET RESPONSE) and command chaining are handled
/// below `melli apdu`: the user sees the final answer.
#[test]
fn apdu_handles_6cxx_61xx_and_chaining() {
    let card = VirtualCard::new();
    // 1100 data bytes: more than the card takes in one APDU (1024, so 6700 unchained); sent as a
    // chain, the card assembles it and finds it is not the AID (6A82).
    let long_select = format!("00A4040C00044C{}", "AB".repeat(1100));
    let exchanges = apdu_json(
        card.reader_name(),
        &[
            SELECT_MELLI,
            // Le 00 asks for 256 bytes; the card answers 6C20 and melli asks again for 32.
            "0084000000",
            // GET DATA without Le (case 1): the card answers 61xx and melli fetches the serial.
            "00CADF01",
            &long_select,
        ],
    );
    assert_eq!(exchanges[1]["sw"], "9000", "{:?}", exchanges[1]);
    assert_eq!(
        exchanges[1]["data"].as_str().map(str::len),
        Some(64),
        "{:?}",
        exchanges[1]
    );
    assert_eq!(exchanges[2]["sw"], "9000", "{:?}", exchanges[2]);
    assert_eq!(exchanges[2]["data"], hex_ascii(card.serial()).as_str());
    assert_eq!(exchanges[3]["sw"], "6A82", "{:?}", exchanges[3]);
}

#[test]
fn no_card_in_any_reader_is_exit_3() {
    let pcscd = Pcscd::acquire();
    let _alone = pcscd.exclusive();
    for args in [&["info"][..], &["info", "--json"], &["apdu", "00CADF0100"]] {
        let out = melli(args);
        assert_eq!(out.code, 3, "melli {args:?}: {out:?}");
        assert!(
            out.stderr.contains("no card in any reader"),
            "melli {args:?}: {out:?}"
        );
        assert!(out.stdout.is_empty(), "melli {args:?}: {out:?}");
    }
}

#[test]
fn unknown_reader_is_exit_3_listing_the_readers() {
    let card = VirtualCard::new();
    let out = melli(&["info", "--reader", "no such reader anywhere"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("no such reader anywhere"), "{out:?}");
    assert!(
        out.stderr.contains(card.reader_name()),
        "the message lists the readers: {out:?}"
    );
}

#[test]
fn two_cards_without_reader_is_exit_3_naming_reader_option() {
    let first = VirtualCard::new();
    let second = VirtualCard::new();
    let out = melli(&["info"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("--reader"), "{out:?}");
    assert!(out.stderr.contains(first.reader_name()), "{out:?}");
    assert!(out.stderr.contains(second.reader_name()), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[test]
fn reader_option_picks_the_right_card() {
    let first = VirtualCard::new();
    let second = VirtualCard::new();
    assert_ne!(first.serial(), second.serial());
    for card in [&first, &second] {
        let out = melli(&["info", "--reader", card.reader_name(), "--json"]);
        assert_eq!(out.code, 0, "{out:?}");
        let info = out.json();
        assert_eq!(info["serial"], card.serial());
        assert_eq!(info["reader"], card.reader_name());
        let exchanges = apdu_json(card.reader_name(), &[SELECT_MELLI, "00CADF0100"]);
        assert_eq!(exchanges[1]["data"], hex_ascii(card.serial()).as_str());
    }
}

#[test]
fn bad_hex_is_exit_2_and_nothing_is_sent() {
    let card = VirtualCard::new();
    let bad_inputs: [&[&str]; 5] = [
        &[SELECT_MELLI, "00CAZZ0100"],                   // not hex
        &[SELECT_MELLI, "00CADF010"],                    // odd number of digits
        &[SELECT_MELLI, "00A4"],                         // shorter than a header
        &[SELECT_MELLI, "00A4040C05AA"],                 // Lc says 5, one byte follows
        &[SELECT_MELLI, "00A4040C07F04D454C4C490100FF"], // bytes after Le
    ];
    for apdus in bad_inputs {
        let mut args = vec!["apdu", "--reader", card.reader_name()];
        args.extend_from_slice(apdus);
        let out = melli(&args);
        assert_eq!(out.code, 2, "melli {args:?}: {out:?}");
        // The valid first APDU was not sent either: nothing was exchanged.
        assert!(out.stdout.is_empty(), "melli {args:?}: {out:?}");
        assert!(
            out.stderr.contains("APDU 2"),
            "the message names the bad APDU: {out:?}"
        );
        // Parsing comes before the card is even looked for: a reader that does not exist does
        // not turn this into a card error.
        let mut args = vec!["apdu", "--reader", "no such reader"];
        args.extend_from_slice(apdus);
        let out = melli(&args);
        assert_eq!(out.code, 2, "melli {args:?}: {out:?}");
    }
    // Usage errors are 2 as well.
    let out = melli(&["apdu", "--reader", card.reader_name()]);
    assert_eq!(out.code, 2, "no APDU given: {out:?}");
    let out = melli(&["no-such-command"]);
    assert_eq!(out.code, 2, "{out:?}");
}

#[test]
fn a_closed_pipe_ends_melli_quietly() {
    let _card = VirtualCard::new();
    // `melli readers | head -0`: the reading end is gone before melli writes a line.
    let mut child = std::process::Command::new(crate::common::MELLI)
        .arg("readers")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn melli readers");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait for melli");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(stderr.is_empty(), "melli said something: {stderr}");
}

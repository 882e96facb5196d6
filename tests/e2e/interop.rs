//! Interop with tools nobody here wrote: OpenSC's `opensc-tool` talks to our card, and
//! `melli apdu` talks to vsmartcard's own Python card (`vicc -t iso7816`).

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::common::{melli, opensc_send, run, Vicc, VirtualCard, MELLI_ATR, SELECT_MELLI};

#[test]
fn opensc_tool_reads_the_atr() {
    let card = VirtualCard::new();
    let index = card.pcscd().opensc_index(card.reader_name());
    let out = run(
        Command::new("opensc-tool").args(["-r", &index.to_string(), "-a"]),
        Duration::from_secs(60),
    );
    assert_eq!(out.code, 0, "{out:?}");
    let atr: String = out
        .stdout
        .trim()
        .split(':')
        .collect::<String>()
        .to_uppercase();
    assert_eq!(atr, MELLI_ATR, "{out:?}");
}

#[test]
fn opensc_tool_select_and_get_data() {
    let card = VirtualCard::new();
    let index = card.pcscd().opensc_index(card.reader_name());
    let (out, exchanges) = opensc_send(
        index,
        &[SELECT_MELLI, "00CADF0100", "00CADF0200", "00CADF0300"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let answers: Vec<(&str, &str)> = exchanges
        .iter()
        .map(|e| (e.sw.as_str(), e.data.as_str()))
        .collect();
    let serial = hex::encode_upper(card.serial());
    assert_eq!(
        answers,
        [
            ("9000", ""),
            ("9000", serial.as_str()),
            ("9000", "01"),
            ("9000", "0101")
        ],
        "{out:?}"
    );
}

/// A burst of wrong APDUs, each well-formed enough for `opensc-tool` to send: every one gets a
/// status word (the spec's, where it names one), and the card still works afterwards.
#[test]
fn opensc_tool_malformed_burst_gets_status_words() {
    let card = VirtualCard::new();
    let index = card.pcscd().opensc_index(card.reader_name());
    // (APDU, expected status word, or "" for "any status word").
    let burst: &[(&str, &str)] = &[
        // Checked before anything else: class, instruction, length encoding (spec §4.5).
        ("80CADF0100", "6E00"),                // proprietary class
        ("01A4040C07F04D454C4C4901", "6E00"),  // logical channel 1
        ("FF84000008", "6E00"),                // invalid class
        ("00FF000000", "6D00"),                // unknown instruction
        ("0000000000", "6D00"),
        ("00120000", "6D00"),
        ("00A4040C", "6700"),                  // SELECT without data
        ("00A4040C00", "6700"),                // SELECT with Le only
        ("00840000", "6700"),                  // GET CHALLENGE without Le
        // The application is selected from here on.
        (SELECT_MELLI, "9000"),
        ("00CADF0101AA00", "6700"),            // GET DATA with data
        ("00A4080C020101", "6A86"),            // unknown P1
        ("00A404FF07F04D454C4C4901", "6A86"),  // unknown P2
        ("00A4040C07F04D454C4C4902", "6A82"),  // not our AID
        ("00A4000C03010101", "6700"),          // file identifier of 3 bytes
        ("00A4020C02FFFF", "6A82"),            // no such file
        ("00B0000008", "6986"),                // no current file
        ("00B0E00000", "6A86"),                // SFI addressing with bits 7-6 set
        ("00B09F0000", "6A82"),                // no file with SFI 1F
        ("00B0830000", "6982"),                // the fingerprint file is never readable
        ("00B0810100", "6B00"),                // offset beyond the (empty) identity file
        ("00B0810000", "6282"),                // at the end of the empty file already
        ("00CA123400", "6A88"),                // unknown data object
        ("00840100 08", "6A86"),               // GET CHALLENGE P1 != 00
        ("00C0010000", "6A86"),                // GET RESPONSE P1P2 != 0000
        ("00C0000000", "6985"),                // nothing to get
        ("00D6000003AABBCC", ""),              // UPDATE BINARY in plain on a blank card
        ("00200081", ""),                      // VERIFY on a blank card
        ("002000811031323334FFFFFFFFFFFFFFFFFFFFFFFF", ""),
        ("00470081 00", ""),                   // read a public key never generated
        ("0082000038000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F3031323334353637", ""),
        ("0044000000", ""),                    // ACTIVATE FILE in plain
        ("00E6000000", ""),                    // TERMINATE DF without PUK
        ("0C84000008", ""),                    // SM class on a plain command
        ("1084000008", ""),                    // a chain that never ends...
        (SELECT_MELLI, "9000"),                // ...is abandoned by the next command
        ("00CADF0100", "9000"),
    ];
    let apdus: Vec<String> = burst.iter().map(|(a, _)| a.replace(' ', "")).collect();
    let apdu_refs: Vec<&str> = apdus.iter().map(String::as_str).collect();
    let (out, exchanges) = opensc_send(index, &apdu_refs);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(exchanges.len(), burst.len(), "one answer per APDU: {out:?}");
    let mut wrong = Vec::new();
    for ((apdu, expected), got) in burst.iter().zip(&exchanges) {
        assert_eq!(got.sw.len(), 4, "{apdu}: no status word in {out:?}");
        if !expected.is_empty() && got.sw != *expected {
            wrong.push(format!(
                "{apdu}: expected {expected}, got {} {}",
                got.data, got.sw
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "status words differ from the spec:\n{}",
        wrong.join("\n")
    );
    let serial = hex::encode_upper(card.serial());
    assert_eq!(
        exchanges.last().map(|e| e.data.as_str()),
        Some(serial.as_str())
    );

    // The card process is still the same one, and answers a new session.
    let out = melli(&[
        "apdu",
        "--reader",
        card.reader_name(),
        "--json",
        SELECT_MELLI,
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()[0]["sw"], "9000");
}

/// Byte strings that are not APDUs at all (too short, lengths that disagree with the size,
/// oversized, random), sent through PC/SC as they are: the card answers each with a status word
/// and keeps working. (No empty or 1-byte strings: pcscd + vpcd cannot carry them, see below.)
#[test]
fn raw_garbage_gets_status_words() {
    let card = VirtualCard::new();
    let ctx = pcsc::Context::establish(pcsc::Scope::User).expect("PC/SC context");
    let reader = std::ffi::CString::new(card.reader_name()).expect("reader name");
    // Exclusive: nothing else may talk to the card meanwhile. A program of an earlier test on
    // this reader that still lets go of it (a browser's helper process with the PKCS#11 module
    // loaded) makes the reader busy for a moment: wait for it, a while, not for ever.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let pcsc_card = loop {
        match ctx.connect(&reader, pcsc::ShareMode::Exclusive, pcsc::Protocols::ANY) {
            Err(pcsc::Error::SharingViolation) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            other => break other.expect("connect"),
        }
    };
    let mut buffer = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    let mut send = |apdu: &[u8]| -> Option<Vec<u8>> {
        match pcsc_card.transmit(apdu, &mut buffer) {
            Ok(response) => Some(response.to_vec()),
            // pcscd itself may refuse some (e.g. empty) buffers: then the card never saw them.
            Err(pcsc::Error::InvalidParameter) | Err(pcsc::Error::InsufficientBuffer) => None,
            Err(e) => panic!(
                "{} → PC/SC error {e:?}; card log:\n{}",
                hex::encode_upper(apdu),
                card.log()
            ),
        }
    };
    let long_data = {
        let mut apdu = vec![0x00, 0xA4, 0x04, 0x0C, 0x00, 0x04, 0x01];
        apdu.extend(std::iter::repeat_n(0x55, 0x401));
        apdu
    };
    let malformed: Vec<(Vec<u8>, &str)> = vec![
        (vec![0x00, 0xA4], "6700"),
        (vec![0x00, 0xA4, 0x04], "6700"),
        (hex::decode("00A4040C07F04D").expect("hex"), "6700"), // Lc 7, 2 bytes follow
        (
            hex::decode("00A4040C07F04D454C4C49010000").expect("hex"),
            "6700",
        ), // 2 bytes after data
        (hex::decode("00CADF010000").expect("hex"), "6700"),   // extended marker, 1 length byte
        (hex::decode("00A4040C000007F04D").expect("hex"), "6700"), // extended Lc 7, 2 bytes
        (hex::decode("00A4040C0000").expect("hex"), "6700"),   // short Lc 00
        (hex::decode("00A4040C000000").expect("hex"), "6700"), // SELECT, no data, Le 0000
        (long_data, "6700"),                                   // 1025 bytes in one APDU
    ];
    for (apdu, expected) in &malformed {
        if let Some(response) = send(apdu) {
            assert_eq!(
                hex::encode_upper(&response),
                *expected,
                "{}",
                hex::encode_upper(apdu)
            );
        }
    }
    // Pseudo-random byte strings (a fixed seed, so a failure can be replayed).
    let mut seed: u64 = 0x6d65_6c6c_6921;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..200 {
        let len = match (next() % 300) as usize {
            // Never empty: pcscd 1.9.9 with vpcd hangs the reader on an empty SCardTransmit
            // before the card sees anything (measured with a stand-in card). Never 1 byte:
            // vpcd's protocol takes a 1-byte message for a control (power off, on, reset, ATR),
            // so the card rightly does not answer it, and vpcd then waits forever.
            0 | 1 => 2,
            n => n,
        };
        let apdu: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if let Some(response) = send(&apdu) {
            assert!(
                response.len() >= 2,
                "{} → {}",
                hex::encode_upper(&apdu),
                hex::encode_upper(&response)
            );
        }
    }
    let after = send(&hex::decode(SELECT_MELLI).expect("hex")).expect("SELECT is sent");
    assert_eq!(after, [0x90, 0x00], "card log:\n{}", card.log());
    let serial = send(&[0x00, 0xCA, 0xDF, 0x01, 0x00]).expect("GET DATA is sent");
    assert_eq!(serial, [card.serial().as_bytes(), &[0x90, 0x00]].concat());
}

/// melli's generic ISO 7816 layer against a card nobody here wrote: create a file on vicc,
/// write it, read it back.
#[test]
fn melli_apdu_creates_writes_and_reads_a_file_on_vicc() {
    let vicc = Vicc::new();
    let out = melli(&[
        "apdu",
        "--reader",
        vicc.reader_name(),
        "--json",
        // SELECT the MF with P2 = 0C: vicc answers SELECT with FCI wrongly under Python 3.
        "00A4000C023F00",
        // CREATE FILE: FCP 62 { 82 01 01 (transparent EF), 83 02 E101, 80 02 000A (10 bytes) }.
        "00E000000D620B82010183 02E1018002000A",
        "00A4000C02E101",
        // UPDATE BINARY with an Le: vicc crashes on a case 3 UPDATE BINARY (Le None compared
        // with an int), and answers this one 6282 after writing.
        "00D6000005AABBCCDDEE00",
        "00B0000005",
        "00B000000A",
        "0084000008",
    ]);
    assert_eq!(out.code, 0, "{out:?}\nvicc log:\n{}", vicc.log());
    let exchanges = match out.json() {
        Value::Array(list) => list,
        other => panic!("not a list: {other}"),
    };
    let answers: Vec<(String, String)> = exchanges
        .iter()
        .map(|e| {
            (
                e["data"].as_str().unwrap_or_default().to_string(),
                e["sw"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expect = |data: &str, sw: &str| (data.to_string(), sw.to_string());
    assert_eq!(
        answers[..6],
        [
            expect("", "9000"),
            expect("", "9000"),
            expect("", "9000"),
            expect("", "6282"),
            expect("AABBCCDDEE", "9000"),
            expect("AABBCCDDEE0000000000", "9000"),
        ],
        "{out:?}"
    );
    assert_eq!(answers[6].0.len(), 16, "8 random bytes: {:?}", answers[6]);
    assert_eq!(answers[6].1, "9000");
}

#[test]
fn melli_info_on_vicc_is_a_clear_card_error() {
    let vicc = Vicc::new();
    let out = melli(&["info", "--reader", vicc.reader_name()]);
    assert_eq!(out.code, 3, "not a melli card: {out:?}");
    assert!(!out.stderr.is_empty(), "{out:?}");
    let out = melli(&["readers", "--json"]);
    let readers = out.json()["readers"].as_array().cloned().expect("readers");
    let entry = readers
        .iter()
        .find(|r| r["name"] == vicc.reader_name())
        .expect("vicc's reader");
    assert_eq!(entry["atr"], Vicc::ATR);
}

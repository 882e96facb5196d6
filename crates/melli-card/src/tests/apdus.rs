//! APDU scripts: every implemented command and every error path, against the specification
//! section that decides it.

use super::*;

fn identity() -> Vec<u8> {
    pattern(IDENTITY_LEN, 0x01)
}

fn photo() -> Vec<u8> {
    pattern(PHOTO_LEN, 0x02)
}

fn hx(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

/// Expects `data` followed by `sw`.
#[track_caller]
fn expect(card: &mut Card, command: &str, data: &[u8], sw: &str) {
    let response = send(card, command);
    let (got_data, got_sw) = split(&response);
    assert_eq!(got_sw, sw, "status of {command}");
    assert_eq!(got_data, hx(data), "data of {command}");
}

fn selected() -> Card {
    let mut card = card();
    script(&mut card, &[(SELECT_AID, "9000")]);
    card
}

fn selected_on(fid: &str) -> Card {
    let mut card = selected();
    script(&mut card, &[(&format!("00A4000C02{fid}"), "9000")]);
    card
}

// §4.1, §4.2, §4.5: header, class, instruction, lengths, in that order.

#[test]
fn apdus_shorter_than_a_header_are_6700() {
    script(
        &mut card(),
        &[
            ("", "6700"),
            ("00", "6700"),
            ("00A4", "6700"),
            ("00A404", "6700"),
        ],
    );
}

#[test]
fn only_four_classes_are_served() {
    script(
        &mut card(),
        &[
            ("80CADF0100", "6E00"),
            ("01A4040C07F04D454C4C4901", "6E00"), // logical channel 1
            ("04A4040C07F04D454C4C4901", "6E00"), // SM bits 01
            ("08A4040C07F04D454C4C4901", "6E00"), // SM bits 10
            ("40A4040C07F04D454C4C4901", "6E00"), // further interindustry class
            ("FFA4040C07F04D454C4C4901", "6E00"),
            ("80FF0000", "6E00"), // class before instruction
            ("80B0", "6700"),     // but a header first
            ("00A4040C07F04D454C4C4901", "9000"),
        ],
    );
}

#[test]
fn unknown_instructions_are_6d00() {
    let defined: Vec<u8> = INSTRUCTIONS.to_vec();
    for card in [card(), selected()] {
        let mut card = card;
        for ins in (0..=255u8).filter(|i| !defined.contains(i)) {
            for cla in ["00", "0C", "10"] {
                script(&mut card, &[(&format!("{cla}{ins:02X}000000"), "6D00")]);
            }
        }
        // The instruction is judged before the length.
        script(
            &mut card,
            &[("00FF00000501", "6D00"), ("00EE00810000", "6D00")],
        );
    }
}

#[test]
fn malformed_lengths_are_6700() {
    let mut card = selected_on("0101");
    script(
        &mut card,
        &[
            ("00B00000", "6700"),                           // READ BINARY without Le
            ("00A4040C08F04D454C4C4901", "6700"),           // Lc 8, 7 bytes
            ("00A4040C05F04D454C4C4901", "6700"),           // Lc 5, 7 bytes
            ("00B0000000FF", "6700"),                       // 00 then one byte
            ("00A4040C000007F04D454C4C49", "6700"),         // extended Lc 7, 6 bytes
            ("00A4040C000007F04D454C4C490100", "6700"),     // extended, one Le byte
            ("00A4040C000007F04D454C4C49010000AA", "6700"), // extended, three Le bytes
            ("00A4040C00000000", "6700"),                   // extended Lc 0
            ("00A4040C000000", "6700"),                     // case 2E: SELECT needs data
            ("00B0000001FF10", "6700"),                     // READ BINARY with data
        ],
    );
    // More than 1024 data bytes in one APDU (§4.3).
    let long = format!("00A4040C000401{}", "00".repeat(1025));
    script(&mut card, &[(&long, "6700")]);
    let just_fits = format!("00A4040C000400{}", "00".repeat(1024));
    script(&mut card, &[(&just_fits, "6A82")]);
}

#[test]
fn extended_length_forms_are_accepted() {
    let mut card = card();
    script(
        &mut card,
        &[
            ("00A4040C000007F04D454C4C4901", "9000"),      // 3E
            ("00A40404000007F04D454C4C49010000", AID_FCP), // 4E
            ("00A4000C000002010100", "6700"),              // 4E with a one-byte Le: bad
            (
                "00A40004000002010100FF",
                &format!(
                    "{}9000",
                    "6215 8002012C 81020400 820101 83020101 880101 8A0101"
                ),
            ),
        ],
    );
    let mut card = selected_on("0101");
    expect(&mut card, "00B00000000000", &identity(), "9000"); // 2E, Le 65 536
    expect(&mut card, "00B00000000010", &identity()[..16], "9000");
}

// §2: before the application is selected.

#[test]
fn before_selection_only_select_get_challenge_get_response_work() {
    let mut card = card();
    script(
        &mut card,
        &[
            ("00B0000010", "6985"),
            ("00B0810010", "6985"),
            ("00B1010103540100 00", "6985"),
            ("00CADF0100", "6985"),
            ("00CADF02", "6985"),
            ("00A4000C020101", "6A82"), // SELECT by FID: file not found
            ("00A4020C020101", "6A82"),
            ("0084000008", "*9000"),
            ("00C0000000", "6985"), // nothing pending
            ("00B00000", "6700"),   // the length is judged first
            ("0CCADF0100", "6985"), // and the selection before secure messaging
            (SELECT_AID, "9000"),
            ("00CADF0200", "019000"),
        ],
    );
}

// §6.1 SELECT.

#[test]
fn select_the_application() {
    let mut card = card();
    script(
        &mut card,
        &[
            (SELECT_AID_FCP, AID_FCP),
            ("00A4040007F04D454C4C490100", AID_FCP), // P2 00: FCI answered as FCP
            ("00A4040C07F04D454C4C4901", "9000"),
            ("00A4040407F04D454C4C4901", "611C"), // no Le: 61xx
            ("00C0000000", AID_FCP),
            ("00A4040C07F04D454C4C4902", "6A82"), // another AID
            ("00A4040C06F04D454C4C49", "6A82"),   // a prefix of the AID
            ("00A4040C08F04D454C4C490100", "6A82"), // longer than the AID
            ("00CADF0200", "019000"),             // a failed SELECT keeps the selection
            ("00A4010C07F04D454C4C4901", "6A86"),
            ("00A4080C07F04D454C4C4901", "6A86"),
            ("00A4040207F04D454C4C4901", "6A86"),
            ("00A4040D07F04D454C4C4901", "6A86"),
            ("00A405", "6700"),
            ("00A40500", "6700"), // no data: length before P1-P2
            ("00A4040C", "6700"),
        ],
    );
}

/// §6.1: a 1.1 card's application FCP carries its serial in `85`, exactly as GET DATA `DF01`
/// returns it, and the template's length follows it — here the longest serial, 16 characters.
#[test]
fn the_application_fcp_carries_the_serial() {
    let serial = "0123456789ABCDEZ";
    let mut card = Card::manufacture(serial, &MASTER_KEY).unwrap();
    let fcp = format!(
        "6221 820138 8407F04D454C4C4901 8510{} 8A0101 9000",
        hx(serial.as_bytes())
    );
    script(
        &mut card,
        &[
            (SELECT_AID_FCP, &fcp),
            ("00CADF0100", &format!("{}9000", hx(serial.as_bytes()))),
            // P2 00 answers the same; P2 0C still nothing.
            ("00A4040007F04D454C4C490100", &fcp),
            (SELECT_AID, "9000"),
        ],
    );
}

#[test]
fn select_files_by_fid() {
    let mut card = selected();
    script(
        &mut card,
        &[
            ("00A4000C020101", "9000"),
            ("00A4020C020102", "9000"),
            (
                "00A40004020101 00",
                "6215 8002012C 81020400 820101 83020101 880101 8A0101 9000",
            ),
            (
                "00A40204020102 00",
                "6215 80025000 81025000 820101 83020102 880102 8A0101 9000",
            ),
            (
                "00A40004020103 00",
                "6215 80020000 81021000 820101 83020103 880103 8A0101 9000",
            ),
            (
                "00A40004020104 00",
                "6215 80020028 81020100 820101 83020104 880104 8A0101 9000",
            ),
            (
                "00A40004020105 00",
                "6215 80020000 81020080 820101 83020105 880105 8A0101 9000",
            ),
            (
                "00A40004020106 00",
                "6215 80020000 81020800 820101 83020106 880106 8A0101 9000",
            ),
            (
                "00A4000402011D 00",
                "6215 80020000 81021000 820101 8302011D 88011D 8A0101 9000",
            ),
            ("00A4000C020108", "6A82"),
            ("00A4000C023F00", "6A82"), // the MF is not supported
            ("00A4000C02F04D", "6A82"),
            ("00A4000C03010100", "6700"),
            ("00A4000C0101", "6700"),
            ("00A4010C020101", "6A86"),
            ("00A4000D020101", "6A86"),
            ("00A4000D03010101", "6700"), // the FID length is a length rule: before P2
        ],
    );
}

#[test]
fn a_failed_select_keeps_the_current_file_and_reselecting_the_aid_clears_it() {
    let mut card = selected_on("0101");
    script(&mut card, &[("00A4000C020108", "6A82")]);
    expect(&mut card, "00B0000002", &identity()[..2], "9000");
    script(&mut card, &[(SELECT_AID, "9000"), ("00B0000002", "6986")]);
}

// §6.2 READ BINARY, even instruction.

#[test]
fn read_binary_of_the_current_file() {
    let mut card = selected();
    script(&mut card, &[("00B0000010", "6986")]);
    let mut card = selected_on("0101");
    let id = identity();
    expect(&mut card, "00B0000010", &id[..16], "9000");
    expect(&mut card, "00B0000000", &id[..256], "9000"); // Le 00: up to 256
    expect(&mut card, "00B0010000", &id[256..], "9000"); // fewer left, Le 00: no warning
    expect(&mut card, "00B0010040", &id[256..], "6282"); // explicit Le not met
    expect(&mut card, "00B001002C", &id[256..], "9000"); // exactly what is left
    expect(&mut card, "00B0012C00", &[], "6282"); // at the end
    expect(&mut card, "00B0012C01", &[], "6282");
    expect(&mut card, "00B0012D01", &[], "6B00"); // past the end
    expect(&mut card, "00B07FFF01", &[], "6B00");
    expect(&mut card, "00B00000000000", &id, "9000");
    expect(&mut card, "00B00000000200", &id, "6282");
    expect(&mut card, "00B00064000010", &id[100..116], "9000");
}

#[test]
fn read_binary_of_a_large_file_with_extended_le() {
    let mut card = selected_on("0102");
    let photo = photo();
    expect(&mut card, "00B00000000000", &photo, "9000");
    expect(&mut card, "00B04000000000", &photo[0x4000..], "9000");
    expect(
        &mut card,
        "00B04000001001",
        &photo[0x4000..0x5001.min(PHOTO_LEN)],
        "6282",
    );
    expect(&mut card, "00B05000000000", &[], "6282");
    expect(&mut card, "00B05001000000", &[], "6B00");
}

#[test]
fn read_binary_by_short_file_identifier() {
    let mut card = selected();
    let id = identity();
    expect(&mut card, "00B0810010", &id[..16], "9000");
    expect(&mut card, "00B0000004", &id[..4], "9000"); // SFI made DG1 current
    expect(&mut card, "00B081FF10", &id[255..271], "9000");
    expect(&mut card, "00B0840000", &pattern(ADDRESS_LEN, 0x04), "9000");
    expect(&mut card, "00B09D0000", &[], "6282"); // empty security object
    script(
        &mut card,
        &[
            ("00B0800010", "6A82"), // SFI 0
            ("00B0880010", "6A82"),
            ("00B09F0010", "6A82"),
            ("00B0A10010", "6A86"), // P1 bits 7-6 must be 0
            ("00B0C10010", "6A86"),
            ("00B0E10010", "6A86"),
            ("00B0830010", "6982"), // fingerprint: never readable
            ("00B0000010", "6982"), // ... and now current
        ],
    );
}

#[test]
fn the_fingerprint_file_is_never_read() {
    let mut card = card();
    card.state
        .files
        .set_content(ef::FINGERPRINT, pattern(100, 3))
        .unwrap();
    script(
        &mut card,
        &[
            (SELECT_AID, "9000"),
            ("00A4000C020103", "9000"),
            ("00B0000010", "6982"),
            ("00B0000000", "6982"),
            ("00B07FFF00", "6982"),
            ("00B0830000", "6982"),
            ("00B1000003540100 00", "6982"),
            ("00B1010303540100 00", "6982"),
        ],
    );
}

// §6.2 READ BINARY, odd instruction.

#[test]
fn read_binary_odd_with_offset_objects() {
    let mut card = selected();
    let id = identity();
    let with_53 = |bytes: &[u8]| {
        let mut out = match bytes.len() {
            0..=127 => vec![0x53, bytes.len() as u8],
            128..=255 => vec![0x53, 0x81, bytes.len() as u8],
            n => vec![0x53, 0x82, (n >> 8) as u8, n as u8],
        };
        out.extend_from_slice(bytes);
        out
    };
    // Le 00 = 256 bytes in all, the 53 header included.
    expect(
        &mut card,
        "00B1010103540100 00",
        &with_53(&id[..253]),
        "9000",
    );
    expect(
        &mut card,
        "00B1000003540110 10",
        &with_53(&id[0x10..0x1E]),
        "9000",
    ); // current EF
    expect(&mut card, "00B10101045402FF00 00", &[], "6B00");
    expect(
        &mut card,
        "00B101010454020100 00",
        &with_53(&id[256..]),
        "9000",
    );
    expect(
        &mut card,
        "00B101010454020100 40",
        &with_53(&id[256..]),
        "6282",
    );
    expect(
        &mut card,
        "00B101010454020100 2E",
        &with_53(&id[256..]),
        "9000",
    );
    expect(&mut card, "00B10101045402012C 00", &[], "6282");
    expect(&mut card, "00B10101045402012D 00", &[], "6B00");
    expect(&mut card, "00B1010105540300012C 00", &[], "6282"); // three offset bytes
    expect(
        &mut card,
        "00B10101 000005 5403 0000FF 0000",
        &with_53(&id[255..]),
        "9000",
    );
    expect(&mut card, "00B1010103540100 03", &with_53(&id[..1]), "9000");
    script(
        &mut card,
        &[
            ("00B1010103540100 02", "6700"), // Ne below 3
            ("00B1010103540100 01", "6700"),
            ("00B1010102540000", "6A80"), // empty offset
            ("00B1010103530100 00", "6A80"),
            ("00B101010654040000000100", "6A80"), // four offset bytes
            ("00B101010454010000 00", "6A80"),    // trailing byte
            ("00B10101025401 00", "6A80"),        // truncated
            ("00B1010100", "6700"),               // no data
            ("00B1010103540100", "6700"),         // no Le
            ("00B1010803540100 00", "6A82"),
            ("00B13F0003540100 00", "6A82"),
        ],
    );
    // The odd instruction reaches offsets above 32 767 of the largest file.
    let photo = photo();
    expect(
        &mut card,
        "00B10102 000005 5403000000 0000",
        &with_53(&photo),
        "9000",
    );
    expect(&mut card, "00B10102 04 54025001 00", &[], "6B00");
    let mut card = selected();
    script(&mut card, &[("00B1000003540100 00", "6986")]);
    // B1 with a FID makes that file current.
    script(&mut card, &[("00B1010403540100 00", "*9000")]);
    expect(
        &mut card,
        "00B0000002",
        &pattern(ADDRESS_LEN, 0x04)[..2],
        "9000",
    );
}

// §6.6 GET DATA.

#[test]
fn get_data_objects() {
    let mut card = selected();
    let serial = hx(SERIAL.as_bytes());
    script(
        &mut card,
        &[
            ("00CADF0100", &format!("{serial}9000")),
            ("00CADF0200", "019000"),
            ("00CADF0300", "01019000"),
            ("00CADF0400", "030A059000"),
            ("00CA7F6600", "7F66 08 0202 0400 0202 FFFD 9000"),
            ("00CA7F6100", "6A88"), // no finger enrolled
            ("00CADF0500", "6A88"),
            ("00CA000000", "6A88"),
            ("00CA010100", "6A88"),
            ("00CADF0101 00", "6700"), // command data
            ("00CADF01", "6109"),      // no Le: 61xx
            ("00C0000000", &format!("{serial}9000")),
            ("00CADF0102", "4D456107"), // short Le: 61xx
            ("00C0000004", "4C4C49306103"),
            ("00C0000010", "3030319000"),
            ("00CADF01000000", &format!("{serial}9000")), // extended Le
        ],
    );
}

#[test]
fn biometric_information_template_once_a_finger_is_enrolled() {
    let mut card = selected();
    // Not a well-formed ISO/IEC 19794-2 record (§11.1): nothing enrolled.
    card.state
        .files
        .set_content(ef::FINGERPRINT, pattern(64, 3))
        .unwrap();
    script(&mut card, &[("00CA7F6100", "6A88")]);
    // The reference record of §11.4, a right index finger: subtype 09 (§11.3).
    card.state
        .files
        .set_content(ef::FINGERPRINT, finger_record())
        .unwrap();
    script(
        &mut card,
        &[(
            "00CA7F6100",
            "7F61 19 020101 7F60 13 A1 11 810108 820109 87020101 88020002 830183 9000",
        )],
    );
}

// §6.7 GET CHALLENGE.

#[test]
fn get_challenge() {
    let mut card = card();
    for (le, len) in [("01", 1), ("08", 8), ("10", 16), ("20", 32)] {
        let response = send(&mut card, &format!("00840000{le}"));
        assert_eq!(response.len(), 2 * len + 4, "Le {le}");
        assert!(response.ends_with("9000"));
    }
    let first = send(&mut card, "0084000010");
    let second = send(&mut card, "0084000010");
    assert_ne!(first, second);
    script(
        &mut card,
        &[
            ("0084000021", "6C20"),
            ("0084000000", "6C20"), // 00 = 256
            ("00840000000000", "6C20"),
            ("00840000000010", "*9000"),
            ("00840000", "6700"),
            ("00840000010000", "6700"), // data
            ("0084010008", "6A86"),
            ("0084000108", "6A86"),
            ("0C84000008", "6A81"), // plain only
        ],
    );
}

#[test]
fn a_challenge_is_kept_for_the_next_command_only() {
    let mut card = card();
    send(&mut card, "0084000010");
    assert!(card.session.challenge.is_some());
    send(&mut card, "00CADF0100");
    assert!(card.session.challenge.is_none());
    send(&mut card, "0084000008");
    assert!(
        card.session.challenge.is_none(),
        "only 16-byte challenges are kept"
    );
    send(&mut card, "0084000010");
    send(&mut card, "80");
    assert!(
        card.session.challenge.is_none(),
        "even a malformed command clears it"
    );
}

// §4.4 GET RESPONSE.

#[test]
fn get_response_rules() {
    let mut card = selected();
    script(
        &mut card,
        &[
            ("00C0000000", "6985"),
            ("00A4040407F04D454C4C4901", "611C"),
            ("00C0000005", "621A8201386117"),
            ("00C0000003", "8407F06114"),
            ("00C0000007", "4D454C4C490185 610D"),
            ("00C000000D", "094D454C4C4930303031 8A0101 9000"),
            ("00C0000000", "6985"),
            // Any other command discards pending data.
            ("00A4040407F04D454C4C4901", "611C"),
            ("00CADF0200", "019000"),
            ("00C0000000", "6985"),
            // A failing GET RESPONSE keeps them.
            ("00A4040407F04D454C4C4901", "611C"),
            ("00C0010000", "6A86"),
            ("00C00000", "6700"),
            ("00C000000100", "6700"),
            ("0CC0000000", "6A81"),
            ("80C0000000", "6E00"),
            ("10C0000000", "9000"),  // a chained GET RESPONSE APDU...
            ("00C0000000", AID_FCP), // ... and its last one
            ("00C0000000", "6985"),
            // An APDU of another instruction discards them even when it fails.
            ("00A4040407F04D454C4C4901", "611C"),
            ("80A4", "6700"),
            ("00C0000000", "6985"),
            ("00A4040407F04D454C4C4901", "611C"),
            ("00C00000000000", AID_FCP), // extended Le
        ],
    );
}

// §4.3 command chaining.

#[test]
fn a_chain_is_processed_when_its_last_command_arrives() {
    let mut card = card();
    script(
        &mut card,
        &[
            ("10A4040403F04D4500", "9000"), // Le of a non-last command is ignored
            ("10A4040402 4C4C", "9000"),
            ("00A4040402 4901 00", AID_FCP),
            ("00CADF0200", "019000"),
        ],
    );
    // Extended chained APDUs too.
    script(
        &mut card,
        &[
            ("10A4040C000003F04D45", "9000"),
            ("00A4040C0000044C4C4901", "9000"),
        ],
    );
}

#[test]
fn a_chain_continued_with_another_header_is_6883_and_discarded() {
    let mut card = card();
    script(
        &mut card,
        &[
            ("10A4040C03F04D45", "9000"),
            ("00A4040404 4C4C4901", "6883"), // same instruction, other P2
            ("00A4040C044C4C4901", "6A82"),  // the chain is gone: 4 bytes alone
            ("10A4040C03F04D45", "9000"),
            ("00A4000C044C4C4901", "6883"), // other P1
            ("10A4040C03F04D45", "9000"),
            ("1CA4040C03F04D45", "6883"), // other class (secure messaging)
            ("10A4040C03F04D45", "9000"),
            ("10A4040403F04D45", "6883"), // chaining on, other P2
            ("00A4040C044C4C4901", "6A82"),
        ],
    );
}

#[test]
fn another_instruction_abandons_a_chain() {
    let mut card = card();
    script(
        &mut card,
        &[
            ("10A4040C03F04D45", "9000"),
            ("0084000008", "*9000"),
            ("00A4040C044C4C4901", "6A82"),
            ("10A4040C03F04D45", "9000"),
            ("80CA000000", "6E00"), // even a rejected APDU
            ("00A4040C044C4C4901", "6A82"),
            // Another instruction with the chaining bit starts a chain of its own.
            ("10A4040C03F04D45", "9000"),
            ("10CADF0001AA", "9000"),
            ("00CADF0000", "6700"), // GET DATA takes no data: a length rule, before selection
            ("00A4040C044C4C4901", "6A82"),
        ],
    );
}

#[test]
fn a_chain_longer_than_65535_bytes_is_6a84() {
    let mut card = card();
    let part = format!("10A4040C000400{}", "00".repeat(1024));
    for _ in 0..63 {
        script(&mut card, &[(&part, "9000")]); // 64 512 bytes so far
    }
    let last = format!("00A4040C000400{}", "00".repeat(1024));
    script(&mut card, &[(&last, "6A84"), (SELECT_AID, "9000")]);
    // Exactly 65 535 bytes is allowed (and then judged by SELECT).
    for _ in 0..63 {
        script(&mut card, &[(&part, "9000")]);
    }
    let fits = format!("00A4040C0003FF{}", "00".repeat(1023));
    script(&mut card, &[(&fits, "6A82")]);
}

#[test]
fn chained_data_is_judged_as_a_whole() {
    let mut card = selected_on("0101");
    script(
        &mut card,
        &[
            ("10B0000001AA", "9000"),
            ("00B0000010", "6700"), // READ BINARY takes no data, chained or not
        ],
    );
    let too_long = format!("10A4040C000401{}", "00".repeat(1025));
    script(&mut card, &[(&too_long, "6700")]);
    // A chained SELECT by name with the secure-messaging class: plain only.
    script(
        &mut card,
        &[("1CA4040C03F04D45", "9000"), ("0CA4040C044C4C4901", "6A81")],
    );
}

// §10.6 (no channel can be open yet): secure messaging, step 6 of §4.6.

#[test]
fn protected_commands_without_a_channel() {
    let mut card = selected_on("0101");
    script(
        &mut card,
        &[
            ("0CA4040C07F04D454C4C4901", "6A81"), // SELECT by name: plain only
            ("0CA4000C020102", "6988"),           // SELECT by FID: no channel open
            ("0CB0000010", "6988"),
            ("0CB1000003540100 00", "6988"),
            ("0CCADF0100", "6988"),
            ("0C84000008", "6A81"),
            ("0CC0000000", "6A81"),
            // Steps 0 to 5 come first.
            ("0CA4050C07F04D454C4C4901", "6A86"),
            ("0CB0012D10", "6B00"),
            ("0CB0880010", "6A82"),
            ("0CB0830010", "6982"),
            ("0CCA5F2000", "6A88"),
            ("0C84000108", "6A86"),
            ("0CC0010000", "6A86"),
            ("0CFF000000", "6D00"),
            // The length rules of a protected command wait for the unwrapping.
            ("00A4000C020101", "9000"), // 0103 became current above
            ("0CB00000", "6988"),
            ("00CADF0200", "019000"),
        ],
    );
    let mut card = selected();
    script(
        &mut card,
        &[("0CB0000010", "6986"), ("0CB1000003540100 00", "6986")],
    );
}

// §5, §7: a terminated card.

#[test]
fn a_terminated_card_tells_only_its_serial_and_state() {
    let mut card = with_lifecycle(card(), Lifecycle::Terminated);
    let serial = hx(SERIAL.as_bytes());
    script(
        &mut card,
        &[
            (
                SELECT_AID_FCP,
                "621A 820138 8407F04D454C4C4901 85094D454C4C4930303031 8A010C 9000",
            ),
            ("00CADF0100", &format!("{serial}9000")),
            ("00CADF0200", "0C9000"),
            ("00CADF0300", "6985"),
            ("00CADF0400", "6985"),
            ("00CA7F6600", "6985"),
            ("00CA000000", "6985"),
            ("0084000008", "*9000"),
            ("00A4000C020101", "9000"),
            ("00B0000010", "6985"),
            ("00B0810010", "6985"),
            ("00B1010103540100 00", "6985"),
            // The TERMINATED check (§4.6 step 4) comes before P1-P2 and tags.
            ("00B0A10010", "6985"),
            ("00CA5F2000", "6985"),
            ("00A4050C020101", "6A86"),
            ("00C0000000", "6985"), // nothing pending
        ],
    );
}

#[test]
fn the_lifecycle_byte_appears_in_fcp_and_get_data() {
    for (state, byte) in [
        (Lifecycle::Personalizing, "03"),
        (Lifecycle::Operational, "05"),
    ] {
        let mut card = with_lifecycle(card(), state);
        script(
            &mut card,
            &[
                (
                    SELECT_AID_FCP,
                    &format!(
                        "621A 820138 8407F04D454C4C4901 85094D454C4C4930303031 8A01{byte} 9000"
                    ),
                ),
                ("00CADF0200", &format!("{byte}9000")),
            ],
        );
        let mut card = card;
        let fcp = send(&mut card, "00A40004020101 00");
        assert!(fcp.ends_with(&format!("8A01{byte}9000")), "{fcp}");
    }
}

// Session: power and reset.

#[test]
fn power_off_and_reset_end_the_session() {
    let mut card = selected_on("0101");
    card.reset();
    script(
        &mut card,
        &[
            ("00B0000001", "6985"),
            (SELECT_AID, "9000"),
            ("00B0000001", "6986"),
        ],
    );
    card.power_off();
    card.power_on();
    script(&mut card, &[("00CADF0200", "6985")]);
    script(&mut card, &[("00A4040407F04D454C4C4901", "611C")]);
    card.reset();
    script(&mut card, &[("00C0000000", "6985")]);
    script(&mut card, &[("10A4040C03F04D45", "9000")]);
    card.power_off();
    script(&mut card, &[("00A4040C044C4C4901", "6A82")]);
}

#[test]
fn public_accessors() {
    let card = card();
    assert_eq!(card.serial(), SERIAL);
    assert_eq!(card.lifecycle(), 0x01);
    assert_eq!(card.atr(), &crate::spec::ATR[..]);
    let debug = format!("{card:?}");
    assert!(debug.contains(SERIAL) && !debug.contains("enc"), "{debug}");
    assert!(matches!(
        Card::manufacture("bad serial", &MASTER_KEY),
        Err(crate::CardError::InvalidSerial { .. })
    ));
}

//! The secure channel (§10) and the personalization commands (§6.3, §6.4, §6.9 P1 `01`,
//! §6.11, §6.14, §6.15) as APDU scripts, with the worked example of §10.7.

use super::host::{static_keys, Answer};
use super::*;
use crate::commands::mutual_authenticate::authenticate;
use crate::key_pairs;
use crate::secure_messaging::Channel;

fn h(text: &str) -> Vec<u8> {
    hex::decode(compact(text)).unwrap()
}

fn hx(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

fn block(text: &str) -> [u8; 16] {
    h(text).try_into().unwrap()
}

const EXAMPLE_MK: &str = "2B 7E 15 16 28 AE D2 A6 AB F7 15 88 09 CF 4F 3C";
const EXAMPLE_SERIAL: &str = "MELLI0000000001";
const RND_ICC: &str = "46 08 F9 19 88 70 22 12 AE 2F 1B 5C 6D 7E 8F 90";
const RND_IFD: &str = "78 17 23 86 0C 06 C2 26 46 08 F9 19 88 70 22 AB";
const K_IFD: &str = "0B 79 52 40 CB 70 49 B0 1C 19 B3 3E 32 80 4F 0B";
const K_ICC: &str = "0B 4F 80 32 3E B3 19 1C B0 49 70 CB 40 52 79 0B";
const MUTUAL_AUTHENTICATE: &str = "00 82 00 00 38 94 21 A0 49 F4 57 62 B4 7A B8 E4 AA D6 05 83 EE
    2F C5 3C 0F B0 77 52 57 13 F1 62 0F 44 67 D9 E1 6C C2 6B BA D9 1F 3D E3 03 64 04 41 6C 33 04
    09 A5 3F D0 4A 0D F7 F4 A9 00";
const E_ICC_M_ICC: &str = "2C 6A 8C 50 2D 17 4E B6 43 A4 C7 3D E8 2B 00 15 0B 74 EC B2 2C B6 1E
    B5 68 46 4F 63 0D D1 73 2E A0 84 15 B7 74 19 2A 9A 0E C0 22 A8 E7 EB 89 72 4C 81 F8 AA 79 F8
    B6 BF";
const COMMAND_1: &str = "0C A4 02 0C 1D 87 11 01 4E 2D 87 DD 7F F8 63 59 D8 C0 4D C7 8B 4F E6 1C
    8E 08 06 04 66 FA 44 C7 3D AA 00";
const RESPONSE_1: &str = "99 02 90 00 8E 08 B9 38 D4 98 58 FD A7 1F 90 00";
const COMMAND_2: &str = "0C D6 00 00 2D 87 21 01 CA 14 C9 68 EE C8 43 F2 86 0D B8 F8 37 E3 CE 0B
    E9 27 A0 3F 98 38 56 6C C5 00 B9 16 F0 F4 4B F3 8E 08 56 4E E7 48 76 5C 15 BA 00";
const RESPONSE_2: &str = "99 02 90 00 8E 08 8E EE 27 81 09 AF C2 5D 90 00";
const COMMAND_3: &str = "0C B0 00 00 0D 97 01 08 8E 08 4C C6 43 20 E4 26 18 4F 00";
const RESPONSE_3: &str = "87 11 01 19 CF 54 41 20 76 FA 96 88 73 05 CD A7 29 76 5E 99 02 90 00
    8E 08 AF F2 14 62 63 8C 7E 83 90 00";

fn example_card() -> Card {
    let mut card = Card::manufacture(EXAMPLE_SERIAL, &block(EXAMPLE_MK)).unwrap();
    script(&mut card, &[(SELECT_AID, "9000")]);
    card
}

/// §10.7 from end to end, through `Card::process`: the static keys, MUTUAL AUTHENTICATE (the
/// card's K.ICC is random, so its exact answer is checked with the example's K.ICC one level
/// down), the three protected commands and their responses byte for byte, and the replay.
#[test]
fn the_worked_example_of_section_10_7() {
    let mut card = example_card();
    assert_eq!(
        *card.state.static_keys.enc,
        block("94 08 97 10 C4 EB B0 44 A0 37 82 FE 8C C9 25 46")
    );
    assert_eq!(
        *card.state.static_keys.mac,
        block("20 CE DC C3 42 7D 61 AA 59 89 74 A0 75 99 1E 08")
    );

    // The card's answer with the example's K.ICC, exactly.
    let data = &h(MUTUAL_AUTHENTICATE)[5..61];
    let (answer, _) = authenticate(
        &card.state.static_keys,
        &block(RND_ICC),
        data,
        &block(K_ICC),
    )
    .unwrap();
    assert_eq!(hx(&answer), compact(E_ICC_M_ICC));

    // Through the card, with RND.ICC as the stored challenge: a random K.ICC, but R starts
    // with RND.ICC ‖ RND.IFD, and the card is PERSONALIZING.
    card.session.challenge = Some(zeroize::Zeroizing::new(block(RND_ICC)));
    let response = send(&mut card, MUTUAL_AUTHENTICATE);
    let (body, sw) = split(&response);
    assert_eq!(sw, "9000");
    let (k_enc, _) = static_keys(&block(EXAMPLE_MK), EXAMPLE_SERIAL);
    let mut r = hex::decode(&body[..96]).unwrap();
    crate::crypto::cbc_decrypt(&k_enc, &[0; 16], &mut r).unwrap();
    assert_eq!(hx(&r[..32]), compact(&format!("{RND_ICC}{RND_IFD}")));
    assert_eq!(card.lifecycle(), 0x03);

    // The example's channel, then commands 1 to 3 byte for byte.
    card.session.channel = Some(Channel::derive(&block(K_IFD), &block(K_ICC)));
    script(
        &mut card,
        &[
            (COMMAND_1, RESPONSE_1),
            (COMMAND_2, RESPONSE_2),
            (COMMAND_3, RESPONSE_3),
            // The replay: plain 6988, and the channel is closed for good.
            (COMMAND_3, "6988"),
            (COMMAND_1, "6988"),
        ],
    );
    assert!(card.session.channel.is_none());
    let file = card.state.files.content(ef::IDENTITY).unwrap();
    assert_eq!(
        hx(file),
        compact("E1 81 9C DF 00 01 01 DF 01 0A 30 34 39 39 33 37")
    );
}

/// The test host reproduces the example too, so the two sides of every other test are
/// independent readings of §10 that agree on its vector.
#[test]
fn the_test_host_reproduces_the_worked_example() {
    let mut host = Host::from_shares(&block(K_IFD), &block(K_ICC));
    assert_eq!(
        hx(&host.wrap(&h("00 A4 02 0C 02 01 01"), false)),
        compact(COMMAND_1)
    );
    let mut card = example_card();
    assert_eq!(
        host.unwrap(&mut card, h(RESPONSE_1)),
        Answer::Protected(vec![], 0x9000)
    );
    let update = "00 D6 00 00 10 E1 81 9C DF 00 01 01 DF 01 0A 30 34 39 39 33 37";
    assert_eq!(hx(&host.wrap(&h(update), false)), compact(COMMAND_2));
    host.unwrap(&mut card, h(RESPONSE_2));
    assert_eq!(
        hx(&host.wrap(&h("00 B0 00 00 08"), false)),
        compact(COMMAND_3)
    );
    assert_eq!(
        host.unwrap(&mut card, h(RESPONSE_3)),
        Answer::Protected(h("E1 81 9C DF 00 01 01 DF"), 0x9000)
    );
}

// §6.14 MUTUAL AUTHENTICATE.

#[test]
fn mutual_authentication_opens_a_channel_and_starts_personalizing() {
    let mut card = Card::manufacture(SERIAL, &MASTER_KEY).unwrap();
    script(&mut card, &[(SELECT_AID, "9000"), ("00CADF0200", "019000")]);
    let mut host = Host::authenticate(&mut card, &MASTER_KEY).unwrap();
    script(&mut card, &[("00CADF0200", "039000")]);
    host.expect(&mut card, "00CADF0200", "9000");
    // Authenticating again (the resume of §7.2) opens a new channel, state unchanged.
    let mut again = Host::authenticate(&mut card, &MASTER_KEY).unwrap();
    assert_eq!(again.expect(&mut card, "00CADF0200", "9000"), vec![0x03]);
    // The old channel's keys are gone: its MAC is wrong, and that closes the new channel.
    assert_eq!(host.send(&mut card, "00CADF0100"), Answer::Plain(0x6988));
    assert!(card.session.channel.is_none());
}

#[test]
fn a_wrong_master_key_is_6982_and_consumes_the_challenge() {
    let mut card = Card::manufacture(SERIAL, &MASTER_KEY).unwrap();
    script(&mut card, &[(SELECT_AID, "9000")]);
    let mut wrong = MASTER_KEY;
    wrong[0] ^= 1;
    assert_eq!(Host::authenticate(&mut card, &wrong).err(), Some(0x6982));
    assert_eq!(card.lifecycle(), 0x01, "still BLANK");
    assert!(card.session.channel.is_none());
    // The challenge was consumed: the same cryptogram again finds no challenge.
    let replay = format!("0082000038{}00", "00".repeat(56));
    script(&mut card, &[(&replay, "6985")]);
}

#[test]
fn mutual_authenticate_checks_in_order() {
    let data = "00".repeat(56);
    let mut card = Card::manufacture(SERIAL, &MASTER_KEY).unwrap();
    script(
        &mut card,
        &[
            (&format!("0082000038{data}00"), "6985"), // not selected
            (SELECT_AID, "9000"),
            (&format!("0082000037{}00", "00".repeat(55)), "6700"),
            ("0082000000", "6700"),
            ("0084000010", "*9000"),
            (&format!("0082000138{data}00"), "6A86"),
            ("0084000010", "*9000"),
            (&format!("0C82000038{data}00"), "6A81"),
            (&format!("0082000038{data}00"), "6985"), // no fresh challenge
            ("0084000008", "*9000"),
            (&format!("0082000038{data}00"), "6985"), // an 8-byte challenge is none
            ("0084000010", "*9000"),
            ("00CADF0100", "*9000"),
            (&format!("0082000038{data}00"), "6985"), // not the APDU right after
            ("0084000010", "*9000"),
            (&format!("0082000038{data}00"), "6982"), // wrong cryptogram
        ],
    );
    let mut card = personalized();
    script(
        &mut card,
        &[
            ("0084000010", "*9000"),
            (&format!("0082000038{data}00"), "6985"), // OPERATIONAL
        ],
    );
    assert_eq!(
        Host::authenticate(&mut card, &MASTER_KEY).err(),
        Some(0x6985)
    );
}

#[test]
fn a_failed_save_at_mutual_authenticate_opens_no_channel() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("card.json");
    let mut card = Card::create_file(&path, SERIAL, &MASTER_KEY).unwrap();
    script(&mut card, &[(SELECT_AID, "9000")]);
    std::fs::remove_dir_all(&sub).unwrap();
    assert_eq!(
        Host::authenticate(&mut card, &MASTER_KEY).err(),
        Some(0x6581)
    );
    assert!(card.session.channel.is_none());
    assert_eq!(card.lifecycle(), 0x01);
    assert!(card.take_storage_failure().is_some());

    // With the directory back, the change is saved before the answer.
    std::fs::create_dir(&sub).unwrap();
    Host::authenticate(&mut card, &MASTER_KEY).unwrap();
    assert_eq!(Card::open_file(&path).unwrap().lifecycle(), 0x03);
}

// §10.6 error handling.

#[test]
fn a_wrong_mac_is_6988_and_closes_the_channel() {
    let (mut card, mut host) = personalizing();
    let mut apdu = host.wrap(&h("00CADF0100"), false);
    let last = apdu.len() - 2;
    apdu[last] ^= 0x01; // the last MAC byte
    assert_eq!(hx(&card.process(&apdu)), "6988");
    assert!(card.session.channel.is_none());
    // Every protected APDU now answers 6988, even a right one for the old keys.
    assert_eq!(host.send(&mut card, "00CADF0100"), Answer::Plain(0x6988));
    // Plain commands still work.
    script(&mut card, &[("00CADF0200", "039000")]);
}

#[test]
fn a_replayed_or_reordered_command_is_6988() {
    let (mut card, mut host) = personalizing();
    let _first = host.wrap(&h("00CADF0100"), false);
    let second = host.wrap(&h("00CADF0200"), false);
    // Reordered: the second command arrives first.
    assert_eq!(hx(&card.process(&second)), "6988");
    assert!(card.session.channel.is_none());

    let (mut card, mut host) = personalizing();
    let first = host.wrap(&h("00CADF0100"), false);
    let response = card.process(&first);
    assert!(matches!(
        host.unwrap(&mut card, response),
        Answer::Protected(..)
    ));
    assert_eq!(hx(&card.process(&first)), "6988", "replay");
    assert!(card.session.channel.is_none());
}

#[test]
fn malformed_objects_are_6987_and_close_the_channel() {
    for data in [
        "8E08 0102030405060708 00",
        "970100",
        "9701008E0401020304",
        "99029000 8E08 0102030405060708",
    ] {
        let (mut card, _) = personalizing();
        let apdu = format!("0CCADF01{:02X}{data}00", compact(data).len() / 2);
        script(&mut card, &[(&apdu, "6987")]);
        assert!(card.session.channel.is_none(), "{data}");
    }
    // Case 1 and 2 protected APDUs have no data field at all.
    for apdu in ["0CCADF01", "0CCADF0100"] {
        let (mut card, _) = personalizing();
        script(&mut card, &[(apdu, "6987")]);
        assert!(card.session.channel.is_none());
    }
}

#[test]
fn errors_before_the_unwrap_are_plain_and_close_the_channel() {
    for (plain, sw) in [
        ("00D6000501AA", "6B00"), // offset beyond the current length (step 5)
        ("00D6880001AA", "6A82"), // unknown SFI
        ("00D6E10001AA", "6A86"), // P1 bits 7-6 with an SFI
        ("000E800000", "6A86"),   // ERASE with P1 b8
        ("00478301", "6A86"),     // GENERATE P1
        ("00478004", "6A88"),     // GENERATE P2
        ("00840000 10", "6A81"),  // GET CHALLENGE is plain only
        ("002000810110", "6A81"), // VERIFY is plain only
        ("00A4040C07F04D454C4C4901", "6A81"),
        ("00C0000000", "6A81"),
        ("00440001", "6A86"),
        ("00240083 10 313233343536FFFFFFFFFFFFFFFFFFFF", "6A86"),
    ] {
        let (mut card, mut host) = personalizing();
        script(&mut card, &[("00A4000C020101", "9000")]);
        assert_eq!(
            host.send(&mut card, plain),
            Answer::Plain(u16::from_str_radix(sw, 16).unwrap()),
            "{plain}"
        );
        assert!(card.session.channel.is_none(), "{plain}");
    }
    // An unknown instruction, and a protected APDU before the application is selected.
    let (mut card, mut host) = personalizing();
    let apdu = host.wrap(&h("00EE0000"), false);
    assert_eq!(hx(&card.process(&apdu)), "6D00");
    assert!(card.session.channel.is_none());
    let (mut card, mut host) = personalizing();
    card.session.app.selected = false;
    assert_eq!(host.send(&mut card, "00CADF0100"), Answer::Plain(0x6985));
    assert!(card.session.channel.is_none());
}

#[test]
fn errors_after_the_unwrap_are_protected_and_keep_the_channel() {
    let (mut card, mut host) = personalizing();
    host.expect(&mut card, "00A4020C020105", "9000");
    host.expect(&mut card, "00D6000001AA", "6982"); // DG5 is the card's own
    host.expect(&mut card, "000E0000", "6982");
    host.expect(&mut card, "00A4020C020104", "9000");
    let too_long = format!("00D60000 00 0101 {}", "AA".repeat(257));
    host.expect(&mut card, &too_long, "6A84");
    host.expect(&mut card, "00D60000", "6700"); // no data once unwrapped
    host.expect(&mut card, "000E0000 01 AA", "6700"); // ERASE with data
    host.expect(&mut card, "00A4020C 01 01", "6700"); // FID of one byte
    host.expect(&mut card, "00A4020C020108", "6A82"); // unknown FID
    host.expect(&mut card, "00B00000", "6700"); // READ BINARY needs DO97
    host.expect(&mut card, "00440000", "6985"); // incomplete
    host.expect(&mut card, "00478101 00", "6A88"); // no key yet
    host.expect(
        &mut card,
        "0024018110 3132333435FFFFFFFFFFFFFFFFFFFFFF",
        "6A80",
    );
    host.expect(&mut card, "00CA7F6100", "6A88");
    // The channel is still open and in step.
    assert_eq!(host.expect(&mut card, "00CADF0200", "9000"), vec![0x03]);
}

#[test]
fn plain_personalization_commands_are_6982_and_keep_the_channel() {
    let (mut card, mut host) = personalizing();
    script(
        &mut card,
        &[
            ("00A4000C020101", "9000"),
            ("00D6000001AA", "6982"),
            ("00D7000006 540100 5301AA", "6982"),
            ("000E0000", "6982"),
            ("0047800100", "6982"),
            ("0024018110313233343536FFFFFFFFFFFFFFFFFFFF", "6982"),
            ("00440000", "6982"),
            ("0084000008", "*9000"), // plain GET CHALLENGE leaves the channel alone
        ],
    );
    assert_eq!(host.expect(&mut card, "00CADF0200", "9000"), vec![0x03]);
}

// §6.3 UPDATE BINARY, §6.4 ERASE BINARY.

#[test]
fn update_binary_even_and_odd() {
    let (mut card, mut host) = personalizing();
    host.expect(&mut card, "00A4020C020101", "9000");
    host.expect(&mut card, "00D6000003 010203", "9000");
    host.expect(&mut card, "00D6000302 0405", "9000");
    host.expect(&mut card, "00D6000102 AABB", "9000"); // overwrite inside
    script(&mut card, &[("00B0000000", "01AABB04059000")]);
    host.expect(&mut card, "00D6000601 FF", "plain:6B00");
    let mut host = Host::authenticate(&mut card, &MASTER_KEY).unwrap();
    // SFI addressing makes the file current.
    host.expect(&mut card, "00D6840002 E400", "9000");
    host.expect(&mut card, "00D6000201 07", "9000");
    script(&mut card, &[("00B0000000", "E400079000")]);
    // The odd form: FID in P1-P2, offset and bytes in 54 and 53.
    host.expect(&mut card, "00D70106 08 5402 0000 5302 3082", "9000");
    host.expect(&mut card, "00D70000 06 540102 5301 01", "9000");
    host.expect(&mut card, "00D70000 06 540104 5301 01", "6B00");
    host.expect(&mut card, "00D70000 05 540102 5300", "6A80");
    host.expect(&mut card, "00D70000 03 530101", "6A80");
    host.expect(&mut card, "00D70108 06 540100 5301 01", "plain:6A82");
    let mut host = Host::authenticate(&mut card, &MASTER_KEY).unwrap();
    script(&mut card, &[("00B0860000", "3082019000")]);
    // The maximum size of DG4 is 256: 255 + 1 fits, one more does not.
    host.expect(&mut card, "00A4020C020104", "9000");
    host.expect(&mut card, "000E0000", "9000");
    for offset in (0..255).step_by(85) {
        let apdu = format!("00D600{offset:02X}55{}", "11".repeat(85));
        host.expect(&mut card, &apdu, "9000");
    }
    host.expect(&mut card, "00D600FF01 22", "9000");
    host.expect(&mut card, "00D7000007 54020100 530133", "6A84");
    assert_eq!(card.state.files.content(ef::ADDRESS).unwrap().len(), 256);
}

#[test]
fn erase_binary_cuts_the_current_file() {
    let (mut card, mut host) = personalizing();
    host.expect(&mut card, "000E0000", "plain:6986");
    let mut host = Host::authenticate(&mut card, &MASTER_KEY).unwrap();
    host.write_file(&mut card, "0106", &pattern(600, 3));
    host.expect(&mut card, "000E0300", "9000"); // beyond the end: nothing changes
    assert_eq!(
        card.state.files.content(ef::HOLDER_CERT).unwrap().len(),
        600
    );
    host.expect(&mut card, "000E0005", "9000");
    assert_eq!(
        card.state.files.content(ef::HOLDER_CERT).unwrap(),
        &pattern(5, 3)[..]
    );
    script(&mut card, &[("00A4020402010600", "*9000")]);
    let fcp = send(&mut card, "00A4020402010600");
    assert!(fcp.starts_with("62158002000581020800"), "{fcp}");
    host.expect(&mut card, "000E0000", "9000");
    script(&mut card, &[("00B0000000", "6282")]);
}

#[test]
fn a_protected_command_can_be_chained() {
    let (mut card, mut host) = personalizing();
    host.expect(&mut card, "00A4020C020102", "9000");
    let content = pattern(1500, 9);
    let plain = [&h("00D60000 0005DC")[..], &content].concat();
    let apdu = host.wrap(&plain, true);
    // 0C D6 00 00 00 Lc1 Lc2 <data> 00 00: cut the data field into 1024 + the rest.
    let data = &apdu[7..apdu.len() - 2];
    assert!(data.len() > 1024);
    let first = [&h("1CD60000000400")[..], &data[..1024]].concat();
    let rest = &data[1024..];
    let last = [
        &h("0CD6000000")[..],
        &(rest.len() as u16).to_be_bytes(),
        rest,
        &[0, 0],
    ]
    .concat();
    assert_eq!(hx(&card.process(&first)), "9000");
    let response = card.process(&last);
    assert_eq!(
        host.unwrap(&mut card, response),
        Answer::Protected(vec![], 0x9000)
    );
    assert_eq!(card.state.files.content(ef::PHOTO).unwrap(), &content[..]);
}

#[test]
fn a_protected_response_longer_than_ne_waits_for_get_response() {
    let (mut card, mut host) = personalizing();
    host.write_file(&mut card, "0102", &pattern(2000, 5));
    // Inner Ne 256: DO87 of 1 + 272 bytes, more than the outer Le' 00.
    let apdu = host.wrap(&h("00B0000000"), false);
    let response = card.process(&apdu);
    // 256 + 17 + 4 + 4 + 10 = 291 bytes: 256 now, 35 (0x23) behind 6123.
    assert_eq!(hx(&response[256..]), "6123");
    match host.unwrap(&mut card, response) {
        Answer::Protected(data, 0x9000) => assert_eq!(data, pattern(256, 5)),
        other => panic!("{other:X?}"),
    }
    // The plain GET RESPONSE did not disturb the channel.
    let data = host.expect(&mut card, "00B00000 0007D0", "9000");
    assert_eq!(data, pattern(2000, 5));
}

// §6.11 GENERATE ASYMMETRIC KEY PAIR.

#[test]
fn generated_keys_and_their_public_halves() {
    let mut card = Card::manufacture(SERIAL, &MASTER_KEY).unwrap();
    script(
        &mut card,
        &[
            (SELECT_AID, "9000"),
            ("0047810100", "6A88"), // BLANK: no key yet
            ("0047810300", "6A88"),
            ("0047820100", "6A86"),
            ("004781010100", "6700"),
            ("0047800100", "6982"),
        ],
    );
    let mut host = Host::authenticate(&mut card, &MASTER_KEY).unwrap();
    let signing = host.expect(&mut card, "00478001 00", "9000");
    assert_eq!(signing.len(), 70);
    assert_eq!(&signing[..6], &h("7F4943864104")[..]);
    script(
        &mut card,
        &[("0047810100", &format!("{}9000", hx(&signing)))],
    );
    assert_eq!(host.expect(&mut card, "00478101 00", "9000"), signing);
    assert_eq!(
        signing,
        key_pairs::public_key_object(card.state.signing_key.as_ref().unwrap())
    );
    script(&mut card, &[("0047810200", "6A88"), ("00B0850000", "6282")]);

    let chip = host.expect(&mut card, "00478002 00", "9000");
    let spki = card
        .state
        .files
        .content(ef::CHIP_AUTH_KEY)
        .unwrap()
        .to_vec();
    assert_eq!(spki.len(), 91);
    assert_eq!(&spki[26..], &chip[5..], "DG5 holds the generated point");
    script(&mut card, &[("00B0850000", &format!("{}9000", hx(&spki)))]);

    // Generating again replaces the key and DG5.
    let again = host.expect(&mut card, "00478002 00", "9000");
    assert_ne!(again, chip);
    assert_eq!(
        &card.state.files.content(ef::CHIP_AUTH_KEY).unwrap()[26..],
        &again[5..]
    );
    host.expect(&mut card, "00478002 01 00", "6700");
}

// §6.13 INTERNAL AUTHENTICATE.

#[test]
fn internal_authenticate_example_of_section_6_13() {
    let mut card = example_card();
    script(&mut card, &[("00880002080001020304050607 00", "6A88")]);
    card.state.chip_auth_key = Some(key_pairs::tests::example_chip_auth_key());
    let challenge: String = (0u8..32).map(|b| format!("{b:02X}")).collect();
    script(
        &mut card,
        &[
            (
                &format!("0088000220{challenge}00"),
                "55 C6 F7 89 64 FC F3 67 A7 D0 C5 4D AF 37 3E 72 FA 70 3D 3D 9A 38 2D 03 75 FE BB F8
                 7B 63 82 62 F5 1D B3 A1 EE B3 0B C6 4C 0B 37 9E 0A 76 2D 81 5B 0E EC CE E4 E8 C0
                 95 31 86 B6 2E 78 6B A0 DF 90 00",
            ),
            ("00880002070001020304050600", "6700"),
            (&format!("0088000241{}00", "00".repeat(65)), "6700"),
            ("00880001080001020304050607 00", "6A86"),
            ("00880102080001020304050607 00", "6A86"),
        ],
    );
    let digest =
        crate::commands::internal_authenticate::message_digest(EXAMPLE_SERIAL, &h(&challenge));
    assert_eq!(
        hx(&digest),
        compact("3D 6A 36 59 72 B6 3C C3 84 10 02 0A 15 27 0D A8 1E 96 E8 5E 14 E3 11 A5 67 14 04 D6 90 2F A7 1C")
    );
    // Under secure messaging while PERSONALIZING, and 64-byte challenges.
    let (mut card, mut host) = personalizing();
    host.expect(&mut card, "00478002 00", "9000");
    let signature = host.expect(
        &mut card,
        &format!("0088000240{}00", "AB".repeat(64)),
        "9000",
    );
    assert_eq!(signature.len(), 64);
}

// §6.9 CHANGE REFERENCE DATA P1 01.

#[test]
fn setting_the_pin_and_the_puk() {
    let (mut card, mut host) = personalizing();
    for (p2, block, sw) in [
        ("81", "313233343536FFFFFFFFFFFFFFFFFFFF", "9000"),
        ("81", "313233343536373839303132FFFFFFFF", "9000"),
        ("81", "31323334FFFFFFFFFFFFFFFFFFFFFFFF", "6A80"), // 4 digits
        ("81", "3132333435363738393031323334FFFF", "6A80"), // 14 digits
        ("81", "313233343536FFFF37FFFFFFFFFFFFFF", "6A80"), // digit after FF
        ("81", "313233343536FFFFFFFFFFFFFFFFFF", "6A80"),   // 15 bytes
        ("82", "31323334353637383930313233343536", "9000"), // 16-digit PUK, no padding
        ("82", "313233343536FFFFFFFFFFFFFFFFFFFF", "6A80"), // 6-digit PUK
    ] {
        let len = block.len() / 2;
        host.expect(&mut card, &format!("002401{p2}{len:02X}{block}"), sw);
    }
    // The last PIN set is the one that matches; the card keeps only its salted hash.
    let pin = card.state.pin.reference.as_ref().unwrap();
    let secret = &card.state.device_secret;
    assert!(pin.matches(
        secret,
        0x81,
        &hex::decode("313233343536373839303132FFFFFFFF").unwrap()
    ));
    assert!(!pin.matches(
        secret,
        0x81,
        &hex::decode("313233343536FFFFFFFFFFFFFFFFFFFF").unwrap()
    ));
    let puk = card.state.puk.reference.as_ref().unwrap();
    assert!(puk.matches(
        secret,
        0x82,
        &hex::decode("31323334353637383930313233343536").unwrap()
    ));
    assert_eq!(card.state.pin.tries_left, 3);
    assert_eq!(card.state.puk.tries_left, 10);
    host.expect(&mut card, "00240181", "6A80");
    host.expect(&mut card, &format!("00240081 10 {PIN}"), "plain:6A81");
}

// §6.15 ACTIVATE FILE.

#[test]
fn activate_file_needs_everything() {
    type Break = fn(&mut Card);
    let breaks: Vec<(&str, Break)> = vec![
        ("DG1", |c| {
            drop(c.state.files.set_content(ef::IDENTITY, vec![]))
        }),
        ("DG2", |c| {
            drop(c.state.files.set_content(ef::PHOTO, vec![]))
        }),
        ("DG3", |c| {
            drop(c.state.files.set_content(ef::FINGERPRINT, vec![]))
        }),
        ("DG3 malformed", |c| {
            let mut record = finger_record();
            record[4] = 0x21; // version
            c.state.files.set_content(ef::FINGERPRINT, record).unwrap();
        }),
        ("DG4", |c| {
            drop(c.state.files.set_content(ef::ADDRESS, vec![]))
        }),
        ("DG5", |c| {
            drop(c.state.files.set_content(ef::CHIP_AUTH_KEY, vec![]))
        }),
        ("DG6", |c| {
            drop(c.state.files.set_content(ef::HOLDER_CERT, vec![]))
        }),
        ("SO", |c| {
            drop(c.state.files.set_content(ef::SECURITY_OBJECT, vec![]))
        }),
        ("key 01", |c| c.state.signing_key = None),
        ("key 02", |c| c.state.chip_auth_key = None),
        ("PIN", |c| c.state.pin.reference = None),
        ("PUK", |c| c.state.puk.reference = None),
    ];
    for (what, break_it) in breaks {
        let (mut card, mut host) = personalizing();
        personalize_all(&mut card, &mut host);
        break_it(&mut card);
        host.expect(&mut card, "00440000", "6985");
        assert_eq!(card.lifecycle(), 0x03, "{what}");
        assert!(card.session.channel.is_some(), "{what}");
    }
    let (mut card, mut host) = personalizing();
    personalize_all(&mut card, &mut host);
    host.expect(&mut card, "00440000 01 00", "6700");
    host.expect(&mut card, "00440000", "9000");
    assert_eq!(card.lifecycle(), 0x05);
    assert!(card.session.channel.is_none(), "closed after the answer");
    assert_eq!(host.send(&mut card, "00CADF0200"), Answer::Plain(0x6988));
}

#[test]
fn activation_is_saved_before_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    let mut card = Card::create_file(&path, SERIAL, &MASTER_KEY).unwrap();
    script(&mut card, &[(SELECT_AID, "9000")]);
    let mut host = Host::authenticate(&mut card, &MASTER_KEY).unwrap();
    assert_eq!(Card::open_file(&path).unwrap().lifecycle(), 0x03);
    personalize_all(&mut card, &mut host);
    host.expect(&mut card, "00440000", "9000");
    let mut reopened = Card::open_file(&path).unwrap();
    assert_eq!(reopened.lifecycle(), 0x05);
    assert_eq!(reopened.state.files, card.state.files);
    script(
        &mut reopened,
        &[(SELECT_AID, "9000"), ("0047810100", "*9000")],
    );
}

/// §7.3 and issue 3 item 8: after ACTIVATE FILE every write, key generation and
/// personalization command is refused — plain with 6982, protected with 6988 (no channel can
/// open any more: MUTUAL AUTHENTICATE is 6985).
#[test]
fn after_activation_nothing_personal_can_be_done() {
    let mut card = personalized();
    let before = crate::state_file::encode(&card.state).unwrap();
    let commands = [
        "00A4000C020101",
        "00D6000001AA",
        "00D6810001AA",
        "00D7010106540100 5301AA",
        "000E0000",
        "0047800100",
        "0047800200",
        "0024018110313233343536FFFFFFFFFFFFFFFFFFFF",
        "0024018210313233343536FFFFFFFFFFFFFFFFFFFF",
        "00440000",
    ];
    for plain in &commands[1..] {
        script(&mut card, &[(commands[0], "9000"), (plain, "6982")]);
        let protected = format!("0C{}", &compact(plain)[2..]);
        script(&mut card, &[(&protected, "6988")]);
    }
    assert_eq!(
        Host::authenticate(&mut card, &MASTER_KEY).err(),
        Some(0x6985)
    );
    assert_eq!(*crate::state_file::encode(&card.state).unwrap(), *before);
    script(
        &mut card,
        &[("0047810200", "*9000"), ("00CADF0200", "059000")],
    );
}

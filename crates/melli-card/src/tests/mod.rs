//! In-process tests of the whole card: APDU scripts against the specification (`apdus`,
//! `personalization`, `pin_life`), the secrets no command returns (`secrets`), the state file
//! through the public API (`state_files`), and robustness against arbitrary input
//! (`robustness`), and the work each APDU counts for `--timing` (`timing`). `host` is an
//! independent test host for the secure channel.

use super::command::Le;
use super::state::Lifecycle;
use super::Card;
use crate::spec::{ef, ins};

mod apdus;
mod authentication;
pub(super) mod host;
mod personalization;
mod pin_life;
mod robustness;
mod secrets;
mod state_files;
mod timing;

use host::Host;

/// Every instruction the specification defines (§6).
pub(super) const INSTRUCTIONS: [u8; 18] = [
    ins::ERASE_BINARY,
    ins::VERIFY,
    ins::CHANGE_REFERENCE_DATA,
    ins::PERFORM_SECURITY_OPERATION,
    ins::RESET_RETRY_COUNTER,
    ins::ACTIVATE_FILE,
    ins::GENERATE_ASYMMETRIC_KEY_PAIR,
    ins::MUTUAL_AUTHENTICATE,
    ins::GET_CHALLENGE,
    ins::INTERNAL_AUTHENTICATE,
    ins::SELECT,
    ins::READ_BINARY,
    ins::READ_BINARY_ODD,
    ins::GET_RESPONSE,
    ins::GET_DATA,
    ins::UPDATE_BINARY,
    ins::UPDATE_BINARY_ODD,
    ins::TERMINATE_DF,
];

/// PIN 123456 and PUK 12345678 as blocks (§8.2), in hex.
pub(super) const PIN: &str = "313233343536FFFFFFFFFFFFFFFFFFFF";
pub(super) const PUK: &str = "3132333435363738FFFFFFFFFFFFFFFF";
/// A wrong PIN (123457) and a wrong PUK (12345679).
pub(super) const WRONG_PIN: &str = "313233343537FFFFFFFFFFFFFFFFFFFF";
pub(super) const WRONG_PUK: &str = "3132333435363739FFFFFFFFFFFFFFFF";

/// The reference record of §11.4 (114 bytes, one view, right index, 14 minutiae): a
/// well-formed DG3.
pub(super) fn finger_record() -> Vec<u8> {
    hex::decode(compact(
        "46 4D 52 00 20 32 30 00 00 00 00 72 00 00 01 00 01 68 00 C5 00 C5 01 00
         02 00 3C 0E
         80 7A 00 75 18 2C  80 B1 00 58 1D 48  40 5E 00 3B DE 42  40 39 00 A3 D9 2B
         40 BB 00 F3 71 2A  40 72 00 FE 3C 4C  40 87 00 59 1E 4F  80 5C 01 26 A0 45
         40 84 00 C1 5C 54  80 BB 00 C1 AF 56  80 32 00 4F AE 54  80 81 01 26 23 2D
         40 D2 00 49 9E 51  40 D3 00 D9 EC 3E
         00 00",
    ))
    .unwrap()
}

/// The contents a 1.0 personalization writes, by FID: DG1, DG2, DG3, DG4, DG6, security
/// object.
pub(super) fn personal_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("0101", pattern(IDENTITY_LEN, 0x11)),
        ("0102", pattern(1500, 0x12)),
        ("0103", finger_record()),
        ("0104", pattern(ADDRESS_LEN, 0x14)),
        ("0106", pattern(700, 0x16)),
        ("011D", pattern(900, 0x1D)),
    ]
}

/// The content of DG7 (§12.1) personalization writes: certificates of 1 200 bytes.
pub(super) fn auth_cert() -> Vec<u8> {
    pattern(1200, 0x17)
}

/// A blank card (no test contents), its application selected, with a secure channel open:
/// PERSONALIZING.
pub(super) fn personalizing() -> (Card, Host) {
    let mut card = Card::manufacture(SERIAL, &MASTER_KEY).unwrap();
    script(&mut card, &[(SELECT_AID, "9000")]);
    let host = Host::authenticate(&mut card, &MASTER_KEY).unwrap();
    (card, host)
}

/// Everything but ACTIVATE FILE, through the channel, as a 1.1 host does on a 1.1 card: the
/// three keys, every file (DG7 too), PIN and PUK.
pub(super) fn personalize_all(card: &mut Card, host: &mut Host) {
    personalize_1_0(card, host);
    host.expect(card, "00478003 00", "9000");
    host.write_file(card, "0107", &auth_cert());
}

/// Everything but ACTIVATE FILE, as a host of version 1.0 does: keys `01` and `02`, the files
/// of §5 (no DG7), PIN and PUK.
pub(super) fn personalize_1_0(card: &mut Card, host: &mut Host) {
    host.expect(card, "00478001 00", "9000");
    host.expect(card, "00478002 00", "9000");
    for (fid, content) in personal_files() {
        host.write_file(card, fid, &content);
    }
    host.expect(card, &format!("00240181 10 {PIN}"), "9000");
    host.expect(card, &format!("00240182 10 {PUK}"), "9000");
}

/// A card personalized in a state file `card.json` in `dir`, application selected.
pub(super) fn personalized_file(dir: &std::path::Path) -> (Card, std::path::PathBuf) {
    let path = dir.join("card.json");
    let mut card = Card::create_file(&path, SERIAL, &MASTER_KEY).unwrap();
    script(&mut card, &[(SELECT_AID, "9000")]);
    let mut host = Host::authenticate(&mut card, &MASTER_KEY).unwrap();
    personalize_all(&mut card, &mut host);
    host.expect(&mut card, "00440000", "9000");
    script(&mut card, &[(SELECT_AID, "9000")]);
    (card, path)
}

/// A card personalized through the secure channel and activated: OPERATIONAL, application
/// selected again (fresh session).
pub(super) fn personalized() -> Card {
    let (mut card, mut host) = personalizing();
    personalize_all(&mut card, &mut host);
    host.expect(&mut card, "00440000", "9000");
    script(&mut card, &[(SELECT_AID, "9000")]);
    card
}

pub(super) const MASTER_KEY: [u8; 16] = [0x4D; 16];
pub(super) const SERIAL: &str = "MELLI0001";

/// SELECT the application, no response data.
pub(super) const SELECT_AID: &str = "00A4040C07F04D454C4C4901";
/// SELECT the application asking for the FCP.
pub(super) const SELECT_AID_FCP: &str = "00A4040407F04D454C4C490100";
/// The application's FCP on a blank card of version 1.1, with 9000: its serial "MELLI0001"
/// in `85` (§6.1).
pub(super) const AID_FCP: &str =
    "621A 820138 8407F04D454C4C4901 85094D454C4C4930303031 8A0101 9000";

/// Test content: `len` bytes that differ from their neighbours.
pub(super) fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

pub(super) const IDENTITY_LEN: usize = 300;
pub(super) const PHOTO_LEN: usize = 20_480;
pub(super) const ADDRESS_LEN: usize = 40;

/// A blank card with test contents in DG1 (300 bytes), DG2 (20 480, its maximum) and DG4 (40);
/// DG3 (fingerprint), DG5, DG6 and the security object are empty.
pub(super) fn card() -> Card {
    let mut card = Card::manufacture(SERIAL, &MASTER_KEY).unwrap();
    fill(&mut card);
    card
}

pub(super) fn fill(card: &mut Card) {
    let files = &mut card.state.files;
    files
        .set_content(ef::IDENTITY, pattern(IDENTITY_LEN, 0x01))
        .unwrap();
    files
        .set_content(ef::PHOTO, pattern(PHOTO_LEN, 0x02))
        .unwrap();
    files
        .set_content(ef::ADDRESS, pattern(ADDRESS_LEN, 0x04))
        .unwrap();
}

pub(super) fn with_lifecycle(mut card: Card, lifecycle: Lifecycle) -> Card {
    card.state.lifecycle = lifecycle;
    card
}

/// Hex without spaces, upper case.
pub(super) fn compact(hex: &str) -> String {
    hex.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase()
}

/// Sends one APDU written in hex (spaces allowed); the response in upper-case hex.
pub(super) fn send(card: &mut Card, apdu: &str) -> String {
    let bytes = hex::decode(compact(apdu)).unwrap_or_else(|e| panic!("bad test APDU {apdu}: {e}"));
    hex::encode_upper(card.process(&bytes))
}

/// Runs a script of `(command, expected response)`. An expected response starting with `*`
/// checks only the status word after it (any data before it); otherwise the whole response.
#[track_caller]
pub(super) fn script(card: &mut Card, steps: &[(&str, &str)]) {
    for (index, (command, expected)) in steps.iter().enumerate() {
        let response = send(card, command);
        let ok = match expected.strip_prefix('*') {
            Some(sw) => response.ends_with(&compact(sw)) && response.len() >= 4,
            None => response == compact(expected),
        };
        assert!(
            ok,
            "step {index}: {command}\n expected {expected}\n      got {}",
            abbreviate(&response)
        );
    }
}

fn abbreviate(hex: &str) -> String {
    if hex.len() <= 80 {
        hex.to_owned()
    } else {
        format!(
            "{}…{} ({} bytes)",
            &hex[..40],
            &hex[hex.len() - 20..],
            hex.len() / 2
        )
    }
}

/// The response's data in upper-case hex and its status word, split.
pub(super) fn split(response: &str) -> (&str, &str) {
    response.split_at(response.len() - 4)
}

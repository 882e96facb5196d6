//! In-process tests of the whole card: APDU scripts against the specification (`apdus`), the
//! state file through the public API (`state_files`), and robustness against arbitrary input
//! (`robustness`).

use super::state::Lifecycle;
use super::Card;
use crate::spec::ef;

mod apdus;
mod robustness;
mod state_files;

pub(super) const MASTER_KEY: [u8; 16] = [0x4D; 16];
pub(super) const SERIAL: &str = "MELLI0001";

/// SELECT the application, no response data.
pub(super) const SELECT_AID: &str = "00A4040C07F04D454C4C4901";
/// SELECT the application asking for the FCP.
pub(super) const SELECT_AID_FCP: &str = "00A4040407F04D454C4C490100";
/// The application's FCP on a blank card, with 9000.
pub(super) const AID_FCP: &str = "620F 820138 8407F04D454C4C4901 8A0101 9000";

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

//! The desk's one pass over an in-process card: the exact APDU count of `read_card` and
//! `verify_card` on a 1.1 card, answers cut short followed to the end of each file, and cards
//! that answer more than asked, never end a file, or carry a hostile FCP refused as malformed.

use std::path::Path;
use std::time::SystemTime;

use super::*;
use crate::applet::AppletError;
use crate::model::{Secret, SecretKind, ValidRecord};
use crate::ops::personalize::personalize;
use crate::ops::verify::{check, verify_card};
use crate::pki::Issuer;
use crate::spec;
use crate::test_cards::{blank_card, InProcessCard};
use crate::transport::TransportError;

/// A personalized 1.1 card in this process, and the issuer that made it.
fn issued_card(serial: &str) -> (InProcessCard, Issuer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let issuer = Issuer::init_plain(&dir.path().join("issuer")).expect("issuer");
    let record = ValidRecord::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/records/valid-1.json"),
    )
    .expect("record");
    let mut applet =
        Applet::select(InProcessCard::new(blank_card(&issuer, serial))).expect("select");
    let pin = Secret::parse(SecretKind::Pin, "123456").expect("pin");
    let puk = Secret::parse(SecretKind::Puk, "12345678").expect("puk");
    personalize(&mut applet, &record, &issuer, &pin, &puk, &mut |_| {}).expect("personalized");
    (applet.into_transport(), issuer, dir)
}

/// The card behind a transport that changes its answers as `alter` says: a card that does
/// not keep to §6.1 or §6.2, for the host to be tried against.
struct Altered<F> {
    card: InProcessCard,
    alter: F,
}

impl<F: FnMut(&[u8], Vec<u8>) -> Vec<u8>> Transport for Altered<F> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let answer = self.card.transmit(command)?;
        Ok((self.alter)(command, answer))
    }
    fn atr(&self) -> &[u8] {
        self.card.atr()
    }
    fn reader(&self) -> &str {
        "in-process, altered"
    }
}

fn is_read_binary(command: &[u8]) -> bool {
    command.get(1) == Some(&spec::ins::READ_BINARY)
}

/// A READ BINARY answer cut to at most `cap` bytes, with `9000`: a card that runs out of room
/// before the file ends and does not say so.
fn cut_to(cap: usize) -> impl FnMut(&[u8], Vec<u8>) -> Vec<u8> {
    move |command, mut answer| {
        let data = answer.len() - 2;
        if is_read_binary(command) && data > cap {
            answer.truncate(cap);
            answer.extend_from_slice(&[0x90, 0x00]);
        }
        answer
    }
}

#[test]
fn a_1_1_card_is_read_in_8_apdus_and_verified_in_9() {
    let (card, issuer, _dir) = issued_card("MC0000000101");
    let mut applet = Applet::select(card).expect("select");
    let contents = read_card(&mut applet).expect("read");
    assert_eq!(applet.traffic().apdus, 8, "SELECT, then 7 files");
    assert_eq!(contents.serial, "MC0000000101");
    assert!(contents.serial_from_fcp);
    assert_eq!(contents.lifecycle, Lifecycle::Operational);
    assert!(contents.authentication.is_some(), "DG7 is listed, so read");
    assert!(contents.photo.len() > 8_000);

    let verdict = verify_card(
        &mut applet,
        &contents,
        issuer.root_certificate(),
        None,
        SystemTime::now(),
    )
    .expect("verify");
    assert!(verdict.passed(), "{verdict}");
    assert_eq!(applet.traffic().apdus, 9, "and INTERNAL AUTHENTICATE");
    for name in [check::HOLDER_BINDING, "authentication certificate binding"] {
        let binding = verdict.get(name).expect("binding check");
        assert!(
            binding
                .detail
                .contains("the chip proved it holds DG5's key"),
            "{binding}"
        );
    }

    // The same files through a card that gives at most 1 000 bytes an answer: the rest of
    // each file is read from where it stopped, and nothing differs.
    let card = applet.into_transport();
    let mut cut = Applet::select(Altered {
        card,
        alter: cut_to(1000),
    })
    .expect("select");
    let again = read_card(&mut cut).expect("read in pieces");
    assert_eq!(again.data_groups(), contents.data_groups());
    assert_eq!(again.security_object, contents.security_object);
    let pieces = |len: usize| len.div_ceil(1000).max(1) as u64;
    let expected = 1 + [
        contents.security_object.len(),
        contents.identity.len(),
        contents.photo.len(),
        contents.address.len(),
        contents.chip_auth_key.len(),
        contents.certificates.len(),
        contents.authentication.as_ref().map_or(0, |dg7| dg7.len()),
    ]
    .into_iter()
    // A file whose length is a multiple of 1 000 ends with one more answer: 6282.
    .map(|len| pieces(len) + u64::from(len % 1000 == 0))
    .sum::<u64>();
    assert_eq!(cut.traffic().apdus, expected);
}

#[test]
fn a_card_that_never_ends_a_file_or_answers_more_than_asked_is_malformed() {
    let (card, _issuer, _dir) = issued_card("MC0000000102");
    // One byte an answer: the photo would take 14 000 answers; the host stops at what short
    // answers need and one more.
    let mut applet = Applet::select(Altered {
        card,
        alter: cut_to(1),
    })
    .expect("select");
    let error = read_card(&mut applet).expect_err("a card that never ends a file");
    assert!(
        matches!(&error, AppletError::Malformed { what: "READ BINARY answer", detail }
            if detail.contains("still not ended after")),
        "{error}"
    );
    assert!(applet.traffic().apdus < 200, "{:?}", applet.traffic());

    // A byte more than Le asked.
    let card = applet.into_transport().card;
    let mut applet = Applet::select(Altered {
        card,
        alter: |command: &[u8], answer: Vec<u8>| {
            if !is_read_binary(command) {
                return answer;
            }
            let ne = match *command {
                [_, _, _, _, 0] => 256,
                [_, _, _, _, le] => usize::from(le),
                [_, _, _, _, 0, hi, lo] => usize::from(u16::from_be_bytes([hi, lo])),
                _ => panic!("a READ BINARY of another shape: {command:02X?}"),
            };
            let mut longer = vec![0x30; ne + 1];
            longer.extend_from_slice(&[0x62, 0x82]);
            longer
        },
    })
    .expect("select");
    let error = read_card(&mut applet).expect_err("more than asked");
    assert!(
        matches!(&error, AppletError::Malformed { detail, .. } if detail.contains("more than the")),
        "{error}"
    );
}

#[test]
fn a_hostile_application_fcp_is_a_malformed_card() {
    let (card, _issuer, _dir) = issued_card("MC0000000103");
    // The serial's first character made lower case: not what DF01 may hold.
    let mut applet = Applet::select(Altered {
        card,
        alter: |command: &[u8], mut answer: Vec<u8>| {
            if command.get(1) == Some(&spec::ins::SELECT) && answer.len() > 20 {
                let at = answer
                    .windows(2)
                    .position(|w| w[0] == spec::tag::FCP_SERIAL && w[1] == 12)
                    .expect("85 0C in the FCP");
                answer[at + 2] = b'm';
            }
            answer
        },
    })
    .expect("select");
    let error = read_card(&mut applet).expect_err("hostile FCP");
    assert!(
        matches!(&error, AppletError::Malformed { what: "application FCP", detail }
            if detail.contains("serial (tag 85)")),
        "{error}"
    );
    assert_eq!(applet.traffic().apdus, 1, "nothing read after the SELECT");
}

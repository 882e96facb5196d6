//! The holder's commands on an OPERATIONAL card as APDU scripts: VERIFY (§6.8), CHANGE
//! REFERENCE DATA P1 `00` (§6.9), RESET RETRY COUNTER (§6.10), PSO: COMPUTE DIGITAL SIGNATURE
//! (§6.12), TERMINATE DF (§6.16), and the tearing-safe order of §8.3.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};

use super::*;
use crate::dispatch;
use crate::key_pairs;
use crate::state::CardState;
use crate::storage::{Persist, SaveFailed};

const DIGEST: &str = "3B78FC0C837DFD466858E75D0598CC78C5A263298498E931820BA8A153C7B924";

fn verify(block: &str) -> String {
    format!("00200081 10 {block}")
}

fn pso() -> String {
    format!("002A9E9A 20 {DIGEST} 00")
}

// §6.8 VERIFY.

#[test]
fn verify_the_pin_example_of_section_6_8() {
    let mut card = personalized();
    script(
        &mut card,
        &[
            ("00200081", "63C3"),
            (&verify(WRONG_PIN), "63C2"),
            ("00CADF0400", "020A059000"),
            (&verify(PIN), "9000"),
            ("00CADF0400", "030A059000"),
            ("00200081", "9000"),
            ("00200081 06 313233343536", "6A80"),
            ("00200081 10 31323334353637FF37FFFFFFFFFFFFFF", "6A80"),
            ("00CADF0400", "030A059000"), // no try consumed
            ("00200082", "6A86"),         // the PUK is never verified alone
            ("00200181", "6A86"),
            ("00200084", "6A86"),
            ("0C200081", "6A81"),
        ],
    );
    // A failed verification clears the flag.
    script(
        &mut card,
        &[(&verify(WRONG_PIN), "63C2"), ("00200081", "63C2")],
    );
}

#[test]
fn verify_only_when_operational() {
    let (mut card, _) = personalizing();
    script(
        &mut card,
        &[
            ("00200081", "6985"),
            (&verify(PIN), "6985"),
            ("00200083", "6985"),
        ],
    );
}

#[test]
fn three_wrong_pins_block_it() {
    let mut card = personalized();
    script(
        &mut card,
        &[
            (&verify(WRONG_PIN), "63C2"),
            (&verify(WRONG_PIN), "63C1"),
            (&verify(WRONG_PIN), "63C0"),
            (&verify(PIN), "6983"),
            ("00200081", "6983"),
            ("00200081 05 3132333435", "6983"), // blocked comes before the format
            (&format!("00240081 20 {PIN}{PIN}"), "6983"),
            (&pso(), "6982"),
            ("00CADF0400", "000A059000"),
        ],
    );
}

#[test]
fn the_pin_counter_survives_a_power_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let (mut card, path) = personalized_file(dir.path());
    script(&mut card, &[(&verify(WRONG_PIN), "63C2")]);
    // Pull the card: a new process opens the state file.
    drop(card);
    let mut card = Card::open_file(&path).unwrap();
    script(
        &mut card,
        &[
            (SELECT_AID, "9000"),
            ("00CADF0400", "020A059000"),
            ("00200081", "63C2"),
            (&verify(WRONG_PIN), "63C1"),
        ],
    );
    card.power_off();
    card.power_on();
    let mut card = Card::open_file(&path).unwrap();
    script(&mut card, &[(SELECT_AID, "9000"), ("00200081", "63C1")]);
}

/// Counts saves and records the PIN counter of each.
#[derive(Default)]
struct Recorder {
    pin_counters: Vec<u8>,
    fail_from: Option<usize>,
}

impl Persist for Recorder {
    fn save(&mut self, state: &CardState) -> Result<(), SaveFailed> {
        if self.fail_from.is_some_and(|n| self.pin_counters.len() >= n) {
            return Err(SaveFailed);
        }
        self.pin_counters.push(state.pin.tries_left);
        Ok(())
    }
}

fn process(card: &mut Card, store: &mut Recorder, apdu: &str) -> String {
    let bytes = hex::decode(compact(apdu)).unwrap();
    hex::encode_upper(
        dispatch::process(&mut card.state, &mut card.session, store, &bytes).into_bytes(),
    )
}

/// §8.3: the decremented counter is saved before the comparison, for a right PIN too; if that
/// save fails, nothing is compared (6581) and the try is not given back.
#[test]
fn the_try_is_saved_before_the_comparison() {
    let mut card = personalized();
    let mut store = Recorder::default();
    assert_eq!(process(&mut card, &mut store, &verify(PIN)), "9000");
    assert_eq!(store.pin_counters, vec![2, 3]);
    let mut store = Recorder::default();
    assert_eq!(process(&mut card, &mut store, &verify(WRONG_PIN)), "63C2");
    assert_eq!(store.pin_counters, vec![2]);

    // The first save fails: 6581, nothing compared, the counter as it was, not verified.
    let mut store = Recorder {
        fail_from: Some(0),
        ..Recorder::default()
    };
    assert_eq!(process(&mut card, &mut store, &verify(PIN)), "6581");
    assert_eq!(card.state.pin.tries_left, 2);
    assert!(!card.session.app.pin_verified);

    // The second save fails: 6581, the try stays consumed, not verified.
    let mut store = Recorder {
        fail_from: Some(1),
        ..Recorder::default()
    };
    assert_eq!(process(&mut card, &mut store, &verify(PIN)), "6581");
    assert_eq!(card.state.pin.tries_left, 1);
    assert!(!card.session.app.pin_verified);
    script(&mut card, &[(&pso(), "6982"), (&verify(PIN), "9000")]);
}

// §6.9 CHANGE REFERENCE DATA P1 00.

#[test]
fn change_the_pin() {
    let mut card = personalized();
    let new = "363534333231FFFFFFFFFFFFFFFFFFFF";
    script(
        &mut card,
        &[
            (&format!("00240081 20 {PIN}{new}"), "9000"),
            // The flag is set by the change (a choice of §6.9): signing needs no VERIFY.
            (&pso(), "*9000"),
            (&verify(PIN), "63C2"),
            (&pso(), "6982"),
            (&verify(new), "9000"),
            (&format!("00240081 20 {WRONG_PIN}{PIN}"), "63C2"),
            (&pso(), "6982"),
            (&format!("00240081 10 {new}"), "6A80"),
            (
                &format!("00240081 20 {new}3132FFFFFFFFFFFFFFFFFFFFFFFFFFFF"),
                "6A80",
            ),
            ("00CADF0400", "020A059000"),
            (&format!("00240082 20 {new}{PIN}"), "6A86"),
            (&format!("00240083 20 {new}{PIN}"), "6A86"),
            (&format!("0C240081 20 {new}{PIN}"), "6A81"),
        ],
    );
}

// §6.10 RESET RETRY COUNTER.

#[test]
fn the_puk_unblocks_the_pin() {
    let mut card = personalized();
    let new = "313131313131FFFFFFFFFFFFFFFFFFFF";
    for _ in 0..3 {
        send(&mut card, &verify(WRONG_PIN));
    }
    script(
        &mut card,
        &[
            ("00200081", "6983"),
            (&format!("002C0081 20 {WRONG_PUK}{new}"), "63C9"),
            (
                &format!("002C0081 20 {PUK}3131FFFFFFFFFFFFFFFFFFFFFFFFFFFF"),
                "6A80",
            ),
            (&format!("002C0081 10 {PUK}"), "6A80"),
            ("00CADF0400", "0009059000"),
            (&format!("002C0081 20 {PUK}{new}"), "9000"),
            ("00CADF0400", "030A059000"),
            (&pso(), "6982"),
            (&verify(PIN), "63C2"),
            (&verify(new), "9000"),
            (&pso(), "*9000"),
            // The PIN-verified flag is cleared by an unblock (a choice of §6.10).
            (&format!("002C0081 20 {PUK}{PIN}"), "9000"),
            (&pso(), "6982"),
            // Unblocking the finger.
            (&format!("002C0183 10 {PUK}"), "9000"),
            (&format!("002C0083 10 {PUK}"), "6A86"),
            (&format!("002C0082 20 {PUK}{PIN}"), "6A86"),
            (&format!("0C2C0081 20 {PUK}{PIN}"), "6A81"),
        ],
    );
}

#[test]
fn ten_wrong_puks_block_signing_forever() {
    let dir = tempfile::tempdir().unwrap();
    let (mut card, path) = personalized_file(dir.path());
    script(&mut card, &[(&verify(PIN), "9000"), (&pso(), "*9000")]);
    for left in (0..10).rev() {
        let sw = format!("63C{left:X}");
        script(
            &mut card,
            &[(&format!("002C0081 20 {WRONG_PUK}{PIN}"), &sw)],
        );
    }
    script(
        &mut card,
        &[
            (&format!("002C0081 20 {PUK}{PIN}"), "6983"),
            (&format!("002C0183 10 {PUK}"), "6983"),
            ("00E6000010 3132333435363738FFFFFFFFFFFFFFFF", "6983"),
            // The PIN is still verified, but the signing key is blocked.
            (&pso(), "6983"),
            (&verify(PIN), "9000"),
            (&pso(), "6983"),
            // Everything else still works.
            ("00880002080001020304050607 00", "*9000"),
            ("00B0810000", "*9000"),
            ("00CADF0400", "0300059000"),
        ],
    );
    // For good: after a power cycle too.
    let mut card = Card::open_file(&path).unwrap();
    assert!(card.state.signing_key_blocked);
    script(
        &mut card,
        &[
            (SELECT_AID, "9000"),
            (&verify(PIN), "9000"),
            (&pso(), "6983"),
        ],
    );
}

// §6.12 PSO: COMPUTE DIGITAL SIGNATURE.

#[test]
fn signing_needs_the_pin_in_this_session() {
    let mut card = personalized();
    script(&mut card, &[(&pso(), "6982"), (&verify(PIN), "9000")]);
    let response = send(&mut card, &pso());
    let (signature, sw) = split(&response);
    assert_eq!(sw, "9000");
    let signature = Signature::from_slice(&hex::decode(signature).unwrap()).unwrap();
    let public = send(&mut card, "0047810100");
    let point = hex::decode(&public[10..140]).unwrap();
    let key = VerifyingKey::from_sec1_bytes(&point).unwrap();
    key.verify_prehash(&hex::decode(DIGEST).unwrap(), &signature)
        .unwrap();
    script(&mut card, &[(&pso(), "*9000"), (&pso(), "*9000")]); // several per VERIFY

    card.reset();
    script(&mut card, &[(SELECT_AID, "9000"), (&pso(), "6982")]);
    script(
        &mut card,
        &[
            (&verify(PIN), "9000"),
            (SELECT_AID, "9000"),
            (&pso(), "6982"),
        ],
    );
    script(&mut card, &[(&verify(PIN), "9000")]);
    card.power_off();
    card.power_on();
    script(&mut card, &[(SELECT_AID, "9000"), (&pso(), "6982")]);
}

#[test]
fn pso_checks_in_order() {
    let mut card = personalized();
    script(
        &mut card,
        &[
            (&verify(PIN), "9000"),
            (&format!("002A9E9A 1F {} 00", &DIGEST[2..]), "6700"),
            (&format!("002A9E9A 21 {DIGEST}00 00"), "6700"),
            ("002A9E9A 00", "6700"),
            (&format!("002A9E9B 20 {DIGEST} 00"), "6A86"),
            (&format!("0C2A9E9A 20 {DIGEST} 00"), "6A81"),
            (&format!("002A9E9A 20 {DIGEST}"), "6140"), // no Le: 61xx, then GET RESPONSE
            ("00C0000040", "*9000"),
        ],
    );
    let (mut card, _) = personalizing();
    script(&mut card, &[(&pso(), "6985")]);
    // Length comes before "not selected" (§4.6).
    let mut card = personalized();
    card.reset();
    script(
        &mut card,
        &[
            (&format!("002A9E9A 1F {} 00", &DIGEST[2..]), "6700"),
            (&pso(), "6985"),
        ],
    );
}

#[test]
fn pso_example_of_section_6_12() {
    let mut card = personalized();
    card.state.signing_key = Some(key_pairs::tests::example_signing_key());
    script(
        &mut card,
        &[
            (&verify(PIN), "9000"),
            (
                &pso(),
                "47 5B AF 6E 26 0B 2C 1D 2E AB 3F 5F CA EA 67 8E 5C 45 E5 91 67 31 F7 D1 0D 0D F7
                 66 12 83 76 5C 6B 65 84 59 33 96 11 B3 7D 67 40 94 BE FF 31 44 DA A9 2C 85 AD 9C
                 39 6A 67 5A 27 5A 8B 95 08 0E 90 00",
            ),
        ],
    );
}

// §6.16 TERMINATE DF.

#[test]
fn terminate_the_card() {
    let mut card = personalized();
    assert!(!card
        .state
        .files
        .content(ef::FINGERPRINT)
        .unwrap()
        .is_empty());
    let terminate = format!("00E60000 10 {PUK}");
    script(
        &mut card,
        &[
            (&verify(PIN), "9000"),
            (&format!("00E60000 10 {WRONG_PUK}"), "63C9"),
            ("00E60000 10 313233343536FFFFFFFFFFFFFFFFFFFF", "6A80"),
            ("00E60000", "6A80"),
            ("00E60001 10 3132333435363738FFFFFFFFFFFFFFFF", "6A86"),
            (&format!("0CE60000 10 {PUK}"), "6A81"),
            (&terminate, "9000"),
            ("00CADF0200", "0C9000"),
            ("00B0810000", "6985"),
            (&pso(), "6985"),
            (&verify(PIN), "6985"),
            ("00880002080001020304050607 00", "6985"),
            ("0047810100", "6985"),
            (&terminate, "6985"),
            (SELECT_AID_FCP, "*9000"),
        ],
    );
    assert!(card.state.signing_key.is_none() && card.state.chip_auth_key.is_none());
    assert!(card.state.pin.reference.is_none() && card.state.puk.reference.is_none());
    // Issue 11 finding 8: the fingerprint templates go with the keys (§6.16, §8.7).
    assert_eq!(card.state.files.content(ef::FINGERPRINT), Some(&[][..]));
    // The public data groups stay.
    assert!(!card.state.files.content(ef::IDENTITY).unwrap().is_empty());
    let (mut card, _) = personalizing();
    script(&mut card, &[(&terminate, "6985")]);
}

// §6.8, §11: VERIFY of the finger with the live templates of §11.2 and §11.4.

const GENUINE: &str = "7F 2E 6E 81 6C
    46 4D 52 00 20 32 30 00 00 00 00 6C 00 00 01 00 01 68 00 C5 00 C5 01 00
    02 00 37 0D
    80 A5 00 46 27 48  40 4E 00 3E E8 42  40 43 00 AC E3 2B  40 D5 00 DA 7B 2A
    40 90 00 F6 46 4C  40 7D 00 51 28 4F  80 85 01 22 AA 45  40 93 00 B7 66 54
    80 C8 00 A9 B9 56  80 28 00 5C B8 54  80 A9 01 19 2D 2D  40 C2 00 2F A8 51
    40 E6 00 BB F6 3E
    00 00";
const IMPOSTOR: &str = "7F 2E 6E 81 6C
    46 4D 52 00 20 32 30 00 00 00 00 6C 00 00 01 00 01 68 00 C5 00 C5 01 00
    02 00 32 0D
    40 8F 00 EA 5B 32  40 62 00 A7 2C 32  40 68 00 EC FA 32  40 5B 00 FF BF 32
    40 8B 00 94 EC 32  80 D1 00 83 2A 32  80 AF 00 54 A1 32  80 8F 00 3D 03 32
    80 94 00 90 29 32  40 9E 01 31 EC 32  40 35 00 DF 6E 32  40 51 01 0A 5A 32
    40 31 00 60 57 32
    00 00";

#[test]
fn verify_the_finger() {
    let mut card = personalized();
    let genuine = format!("00200083 71 {GENUINE}");
    let impostor = format!("00200083 71 {IMPOSTOR}");
    script(
        &mut card,
        &[
            ("00200083", "63C5"),
            (&impostor, "63C4"),
            (&genuine, "9000"),
            ("00200083", "9000"),
            ("00CADF0400", "030A059000"),
            ("00200083 03 7F2E00", "6A80"),
            ("00CADF0400", "030A059000"),
        ],
    );
    for _ in 0..5 {
        send(&mut card, &impostor);
    }
    script(
        &mut card,
        &[
            ("00200083", "6983"),
            (&genuine, "6983"),
            (&format!("002C0183 10 {PUK}"), "9000"),
            (&genuine, "9000"),
        ],
    );
}

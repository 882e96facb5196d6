//! No input makes the card panic or lose its footing: arbitrary bytes and arbitrary command
//! sequences always get a status word from §4.5, change nothing persistent (no command in this
//! subset writes), and leave a card that still selects its application.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::*;
use crate::card::state_file;
use crate::spec::ins;

/// Every status word §4.5 allows (61xx, 63Cx and 6Cxx by their first byte or nibble).
fn allowed(sw: u16) -> bool {
    const EXACT: [u16; 22] = [
        0x9000, 0x6282, 0x6581, 0x6700, 0x6883, 0x6981, 0x6982, 0x6983, 0x6985, 0x6986, 0x6987,
        0x6988, 0x6A80, 0x6A81, 0x6A82, 0x6A84, 0x6A86, 0x6A88, 0x6B00, 0x6D00, 0x6E00, 0x6F00,
    ];
    EXACT.contains(&sw) || sw >> 8 == 0x61 || sw >> 8 == 0x6C || sw & 0xFFF0 == 0x63C0
}

/// Instruction bytes worth trying often: every one the specification defines.
const INSTRUCTIONS: [u8; 18] = [
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

/// Well-formed commands that move the card into interesting states.
const USEFUL: [&str; 12] = [
    SELECT_AID,
    SELECT_AID_FCP,
    "00A4040407F04D454C4C4901",
    "00A4000C020101",
    "00A4000C020102",
    "00A4000C020103",
    "00B0000000",
    "00B0820000000000",
    "00B1010203540100 00",
    "00C0000000",
    "0084000010",
    "10A4040C03F04D45",
];

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        any::<u8>().prop_map(|le| vec![le]),
        (vec(any::<u8>(), 1..=255), proptest::option::of(any::<u8>())).prop_map(|(data, le)| {
            let mut body = vec![data.len() as u8];
            body.extend(data);
            body.extend(le);
            body
        }),
        any::<u16>().prop_map(|le| [vec![0], le.to_be_bytes().to_vec()].concat()),
        (
            vec(any::<u8>(), 1..1100),
            proptest::option::of(any::<u16>())
        )
            .prop_map(|(data, le)| {
                let mut body = vec![0];
                body.extend((data.len() as u16).to_be_bytes());
                body.extend(data);
                body.extend(le.map(u16::to_be_bytes).into_iter().flatten());
                body
            }),
        // A length byte that need not match what follows.
        (any::<u8>(), vec(any::<u8>(), 0..40)).prop_map(|(lc, rest)| [vec![lc], rest].concat()),
        // Data that mean something to the card: the AID, FIDs, offset objects.
        select(vec![
            hex::decode("07F04D454C4C4901").unwrap(),
            hex::decode("07F04D454C4C490100").unwrap(),
            hex::decode("020101").unwrap(),
            hex::decode("02011D00").unwrap(),
            hex::decode("0354010000").unwrap(),
            hex::decode("055403FFFFFF00").unwrap(),
            hex::decode("00000354020000").unwrap(),
        ]),
    ]
}

fn structured() -> impl Strategy<Value = Vec<u8>> {
    let cla = prop_oneof![4 => select(vec![0x00u8, 0x10, 0x0C, 0x1C]), 1 => any::<u8>()];
    let instruction = prop_oneof![4 => select(INSTRUCTIONS.to_vec()), 1 => any::<u8>()];
    let p = || {
        prop_oneof![
            2 => select(vec![0x00u8, 0x01, 0x02, 0x04, 0x0C, 0x7F, 0x80, 0x81, 0x83, 0x9D, 0xA1, 0xDF]),
            1 => any::<u8>(),
        ]
    };
    (cla, instruction, p(), p(), body())
        .prop_map(|(cla, ins, p1, p2, body)| [vec![cla, ins, p1, p2], body].concat())
}

fn command() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => structured(),
        1 => select(USEFUL.to_vec()).prop_map(|hex| hex::decode(compact(hex)).unwrap()),
        1 => vec(any::<u8>(), 0..300),
    ]
}

/// Feeds `apdus` to a card and checks every answer and the card's footing afterwards.
fn check(apdus: &[Vec<u8>], lifecycle: Lifecycle) -> Result<(), TestCaseError> {
    let mut card = with_lifecycle(card(), lifecycle);
    let before = state_file::encode(&card.state).unwrap();
    for apdu in apdus {
        let response = card.process(apdu);
        prop_assert!(
            response.len() >= 2,
            "no status word for {}",
            hex::encode(apdu)
        );
        prop_assert!(response.len() <= 65_535);
        let sw = u16::from_be_bytes([response[response.len() - 2], response[response.len() - 1]]);
        prop_assert!(allowed(sw), "status {sw:04X} for {}", hex::encode(apdu));
    }
    prop_assert_eq!(&*state_file::encode(&card.state).unwrap(), &*before);

    // The card still selects its application: at once, or right after the command that ends
    // an open chain (6883, or the chain's data judged as SELECT's).
    let chain_open = card.session.chain.is_some();
    let expected = compact(&AID_FCP.replace("8A0101", &format!("8A01{:02X}", card.lifecycle())));
    let first = send(&mut card, SELECT_AID_FCP);
    if first != expected {
        prop_assert!(chain_open, "SELECT answered {first}");
        prop_assert_eq!(send(&mut card, SELECT_AID_FCP), expected.clone());
    }
    let serial = format!("{}9000", hex::encode_upper(SERIAL));
    prop_assert_eq!(send(&mut card, "00CADF0100"), serial);
    card.reset();
    prop_assert_eq!(send(&mut card, SELECT_AID_FCP), expected);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_always_get_a_status_word(apdus in vec(vec(any::<u8>(), 0..300), 1..16)) {
        check(&apdus, Lifecycle::Blank)?;
    }

    #[test]
    fn arbitrary_command_sequences_keep_the_card_sound(
        apdus in vec(command(), 1..24),
        lifecycle in select(vec![Lifecycle::Blank, Lifecycle::Personalizing, Lifecycle::Operational, Lifecycle::Terminated]),
    ) {
        check(&apdus, lifecycle)?;
    }
}

#[test]
fn every_single_byte_header_variation_answers() {
    // Exhaustive over CLA/INS for the smallest APDUs of each case.
    let mut card = card();
    for cla in 0..=255u8 {
        for ins in 0..=255u8 {
            for tail in [
                &[][..],
                &[0x00][..],
                &[0x01, 0xAA][..],
                &[0x00, 0x00, 0x00][..],
            ] {
                let apdu = [&[cla, ins, 0x00, 0x00][..], tail].concat();
                let response = card.process(&apdu);
                assert!(response.len() >= 2);
            }
        }
    }
    script(&mut card, &[(SELECT_AID, "9000")]);
}

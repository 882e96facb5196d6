//! No input makes the card panic or lose its footing: arbitrary bytes and arbitrary command
//! sequences always get a status word from §4.5 and leave a card that still selects its
//! application. On a card without reference data or a channel they change nothing
//! persistent; on personalized cards, mixed with protected commands of an open channel, every
//! protected answer carries a valid MAC, the lifecycle only moves forward, and nothing of an
//! OPERATIONAL card's files and keys ever changes.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::*;
use crate::state_file;

/// Every status word §4.5 allows (61xx, 63Cx and 6Cxx by their first byte or nibble).
fn allowed(sw: u16) -> bool {
    const EXACT: [u16; 22] = [
        0x9000, 0x6282, 0x6581, 0x6700, 0x6883, 0x6981, 0x6982, 0x6983, 0x6985, 0x6986, 0x6987,
        0x6988, 0x6A80, 0x6A81, 0x6A82, 0x6A84, 0x6A86, 0x6A88, 0x6B00, 0x6D00, 0x6E00, 0x6F00,
    ];
    EXACT.contains(&sw) || sw >> 8 == 0x61 || sw >> 8 == 0x6C || sw & 0xFFF0 == 0x63C0
}

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

    still_selects(&mut card)
}

/// The card still selects its application: at once, or right after the command that ends an
/// open chain (6883, or the chain's data judged as SELECT's); and again after a reset.
fn still_selects(card: &mut Card) -> Result<(), TestCaseError> {
    let chain_open = card.session.chain.is_some();
    let expected = compact(&AID_FCP.replace("8A0101", &format!("8A01{:02X}", card.lifecycle())));
    let first = send(card, SELECT_AID_FCP);
    if first != expected {
        prop_assert!(chain_open, "SELECT answered {first}");
        prop_assert_eq!(send(card, SELECT_AID_FCP), expected.clone());
    }
    let serial = format!("{}9000", hex::encode_upper(SERIAL));
    prop_assert_eq!(send(card, "00CADF0100"), serial);
    card.reset();
    prop_assert_eq!(send(card, SELECT_AID_FCP), expected);
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

// Personalized cards and secure messaging.

/// One step of a session with a personalized card.
#[derive(Clone, Debug)]
enum Step {
    /// Any APDU, sent as it is.
    Plain(Vec<u8>),
    /// A plain command (CLA `00`) sent protected by the test host, if it can be encoded.
    Protected(Vec<u8>),
    /// GET CHALLENGE and MUTUAL AUTHENTICATE with the right master key.
    Authenticate,
    Reset,
    SelectApplication,
}

/// Commands worth sending under secure messaging (their plain form).
const PROTECTED: [&str; 24] = [
    "00A4020C020101",
    "00A4020C020103",
    "00A4020C020105",
    "00A4020C02011D",
    "00A4020402010600",
    "00B0000000",
    "00B0000010",
    "00B1000003540100 00",
    "000E0000",
    "000E0005",
    "0047800100",
    "0047800200",
    "0047810100",
    "0047810200",
    "0024018110313233343536FFFFFFFFFFFFFFFFFFFF",
    "0024018210313233343536FFFFFFFFFFFFFFFFFFFF",
    "0024018210 3132333435363738FFFFFFFFFFFFFFFF",
    "00440000",
    "00880002080102030405060708 00",
    "00CADF0200",
    "00CADF0400",
    "00CA7F6100",
    "00D7000006540100530101",
    "00D600000100",
];

/// Holder commands worth sending plain.
const HOLDER: [&str; 10] = [
    "0020008110313233343536FFFFFFFFFFFFFFFFFFFF",
    "0020008110313233343537FFFFFFFFFFFFFFFFFFFF",
    "00200081",
    "002A9E9A20 3B78FC0C837DFD466858E75D0598CC78C5A263298498E931820BA8A153C7B924 00",
    "0024008120 313233343536FFFFFFFFFFFFFFFFFFFF 313233343536FFFFFFFFFFFFFFFFFFFF",
    "002C008120 3132333435363739FFFFFFFFFFFFFFFF 313233343536FFFFFFFFFFFFFFFFFFFF",
    "002C008120 3132333435363738FFFFFFFFFFFFFFFF 313233343536FFFFFFFFFFFFFFFFFFFF",
    "00E6000010 3132333435363739FFFFFFFFFFFFFFFF",
    "00E6000010 3132333435363738FFFFFFFFFFFFFFFF",
    "0084000010",
];

fn update() -> impl Strategy<Value = Vec<u8>> {
    (0u8..8, vec(any::<u8>(), 1..40)).prop_map(|(offset, data)| {
        [&[0x00, 0xD6, 0x00, offset, data.len() as u8][..], &data].concat()
    })
}

fn step() -> impl Strategy<Value = Step> {
    let hex = |list: &'static [&'static str]| {
        select(list.to_vec()).prop_map(|h| hex::decode(compact(h)).unwrap())
    };
    prop_oneof![
        6 => hex(&PROTECTED).prop_map(Step::Protected),
        2 => update().prop_map(Step::Protected),
        1 => structured().prop_map(|mut apdu| {
            apdu[0] = 0x00;
            Step::Protected(apdu)
        }),
        2 => hex(&HOLDER).prop_map(Step::Plain),
        1 => command().prop_map(Step::Plain),
        3 => Just(Step::Authenticate),
        1 => Just(Step::Reset),
        1 => Just(Step::SelectApplication),
    ]
}

/// What must not change once the card is OPERATIONAL: the files and the two private keys.
fn locked_part(card: &Card) -> (crate::files::Files, Option<Vec<u8>>, Option<Vec<u8>>) {
    let key = |k: &Option<p256::SecretKey>| k.as_ref().map(|k| k.to_bytes().to_vec());
    let state = &card.state;
    (
        state.files.clone(),
        key(&state.signing_key),
        key(&state.chip_auth_key),
    )
}

/// The state of a card personalized up to (but not including) ACTIVATE FILE, made once.
fn personalized_state() -> &'static crate::state::CardState {
    static STATE: std::sync::OnceLock<crate::state::CardState> = std::sync::OnceLock::new();
    STATE.get_or_init(|| {
        let (mut card, mut host) = personalizing();
        personalize_all(&mut card, &mut host);
        card.state.clone()
    })
}

/// A new session the way a personalization host starts one: SELECT the application and EF
/// `0101` (plain), then authenticate. A pending chain may take the SELECTs (§4.3).
fn authenticate(card: &mut Card) -> Result<Host, u16> {
    send(card, SELECT_AID);
    send(card, "00A4000C020101");
    Host::authenticate(card, &MASTER_KEY)
}

fn sm_session(steps: &[Step], operational: bool) -> Result<(), TestCaseError> {
    let mut card = Card::manufacture(SERIAL, &MASTER_KEY).unwrap();
    card.state = personalized_state().clone();
    if operational {
        card.state.lifecycle = Lifecycle::Operational;
    }
    let mut host = authenticate(&mut card).ok();
    prop_assert_eq!(host.is_some(), !operational);
    let mut locked = operational.then(|| locked_part(&card));
    let mut lifecycle = card.lifecycle();

    for step in steps {
        match step {
            Step::Plain(apdu) => {
                let response = card.process(apdu);
                let sw = u16::from_be_bytes([
                    response[response.len() - 2],
                    response[response.len() - 1],
                ]);
                prop_assert!(allowed(sw), "status {sw:04X} for {}", hex::encode(apdu));
            }
            Step::Protected(plain) => {
                let decodable = crate::command::Header::split(plain)
                    .and_then(|(_, body)| crate::command::decode_body(body))
                    .is_some();
                if !decodable {
                    continue;
                }
                let mut sender = host
                    .take()
                    .unwrap_or_else(|| Host::from_shares(&[1; 16], &[2; 16]));
                let apdu = sender.wrap(plain, false);
                let response = card.process(&apdu);
                // The host checks the MAC of every protected answer (and panics if it is wrong).
                match sender.unwrap(&mut card, response) {
                    host::Answer::Protected(_, sw) => {
                        prop_assert!(allowed(sw), "inner {sw:04X} for {}", hex::encode(plain));
                        prop_assert!(sw != 0x6F00, "6F00 for {}", hex::encode(plain));
                        host = Some(sender);
                    }
                    host::Answer::Plain(sw) => {
                        prop_assert!(allowed(sw) && sw != 0x9000, "plain {sw:04X}");
                        prop_assert!(sw != 0x6F00, "6F00 for {}", hex::encode(plain));
                        prop_assert!(card.session.channel.is_none());
                    }
                }
            }
            Step::Authenticate => match authenticate(&mut card) {
                Ok(opened) => host = Some(opened),
                Err(sw) => {
                    // OPERATIONAL or TERMINATED (6985), or a GET CHALLENGE that continued a
                    // pending chain of INS 84 (6883, 6700).
                    prop_assert!(
                        matches!(sw, 0x6985 | 0x6883 | 0x6700),
                        "authentication {sw:04X}"
                    );
                    host = None;
                }
            },
            Step::Reset => {
                card.reset();
                host = None;
            }
            Step::SelectApplication => {
                // A pending chain of SELECT takes the first one (§4.3).
                let chain_open = card.session.chain.is_some();
                if send(&mut card, SELECT_AID) != "9000" {
                    prop_assert!(chain_open);
                    script(&mut card, &[(SELECT_AID, "9000")]);
                }
                host = None;
            }
        }
        if host.is_none() {
            prop_assert!(card.session.channel.is_none(), "after {step:?}");
        }
        // The lifecycle only moves forward; once OPERATIONAL, files and keys are locked
        // (TERMINATE DF erases the keys and DG3, never the other files).
        prop_assert!(card.lifecycle() >= lifecycle, "after {step:?}");
        lifecycle = card.lifecycle();
        match (lifecycle, &locked) {
            (0x05, None) => locked = Some(locked_part(&card)),
            (0x05, Some(before)) => prop_assert!(&locked_part(&card) == before, "after {step:?}"),
            (0x0C, Some(before)) => {
                let mut expected = before.0.clone();
                expected.erase(ef::FINGERPRINT);
                prop_assert!(card.state.files == expected);
            }
            _ => {}
        }
        let state = &card.state;
        prop_assert!(state.pin.tries_left <= 3 && state.puk.tries_left <= 10);
        prop_assert!(state.finger_tries_left <= 5);
    }
    still_selects(&mut card)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn personalizing_sessions_with_secure_messaging_stay_sound(steps in vec(step(), 1..48)) {
        sm_session(&steps, false)?;
    }

    #[test]
    fn operational_sessions_stay_sound(steps in vec(step(), 1..48)) {
        sm_session(&steps, true)?;
    }
}

//! The personalization secure channel through pcscd + vpcd, driven with melli's host-side
//! secure messaging: the card takes a properly protected command and refuses a replayed one, a
//! forged MAC, and a personalization command sent in plain.

use melli::apdu::{Command, StatusWord};
use melli::pki::Issuer;
use melli::sm::{Authentication, SecureChannel};
use melli::transport::{CardChannel, PcscTransport};

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::common::{make_plain_issuer, VirtualCard};

/// An issuer with plain key files, made once for this file's tests.
fn plain_issuer() -> &'static Path {
    static ISSUER: OnceLock<PathBuf> = OnceLock::new();
    ISSUER.get_or_init(|| make_plain_issuer("secure-channel-plain"))
}

const SELECT: &str = "00A4040C07F04D454C4C4901";

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("test hex")
}

/// Selects the application and opens the secure channel on a blank card of the test issuer.
fn open(card: &VirtualCard) -> (CardChannel<PcscTransport>, SecureChannel) {
    let transport = PcscTransport::connect(Some(card.reader_name())).expect("connect");
    let mut channel = CardChannel::new(transport);
    let (select, _) = Command::parse(&hex(SELECT)).expect("select");
    assert!(channel.send(&select).expect("select").sw.is_ok());
    let challenge = channel
        .send(&Command::new(0, 0x84, 0, 0).expect(16))
        .expect("challenge");
    let rnd_icc: [u8; 16] = challenge.data.as_slice().try_into().expect("16 bytes");
    // A plain-key issuer: this test drives secure messaging by hand, in this process.
    let issuer = Issuer::load(plain_issuer(), &mut melli::pki::no_secret).expect("the issuer");
    let keys = issuer.card_keys(card.serial()).expect("the card's keys");
    let auth = Authentication::new(&rnd_icc);
    let answer = channel
        .send(
            &Command::new(0, 0x82, 0, 0)
                .data(auth.command_data(&keys).to_vec())
                .expect(256),
        )
        .expect("mutual authenticate");
    assert!(answer.sw.is_ok(), "{:?}", answer.sw);
    let sm = auth
        .finish(&keys, &answer.data)
        .expect("card authenticated");
    (channel, sm)
}

/// UPDATE BINARY of DG4 by its short identifier, offset 0.
fn update() -> Command {
    Command::new(0, 0xD6, 0x84, 0).data(b"ABC".to_vec())
}

#[test]
fn a_protected_command_is_taken_and_its_replay_refused() {
    let card = VirtualCard::for_issuer(plain_issuer());
    let (mut channel, mut sm) = open(&card);
    let wrapped = sm.wrap(&update());
    let response = channel.send(&wrapped).expect("update");
    let inner = sm.unwrap(&response).expect("a valid protected answer");
    assert_eq!(inner.sw, StatusWord::OK);
    // The same bytes again: the card's counter has moved on, so the MAC no longer matches.
    let replay = channel.send(&wrapped).expect("replay");
    assert_eq!(replay.sw, StatusWord(0x6988));
    // And the channel is closed: even a fresh protected command is refused now.
    let after = channel.send(&sm.wrap(&update())).expect("after");
    assert_eq!(after.sw, StatusWord(0x6988));
}

#[test]
fn a_forged_mac_is_refused() {
    let card = VirtualCard::for_issuer(plain_issuer());
    let (mut channel, mut sm) = open(&card);
    let wrapped = sm.wrap(&update());
    let mut bytes = wrapped.to_bytes().expect("encodes").to_vec();
    // The MAC is the 8 bytes before the final Le byte.
    let last_mac_byte = bytes.len() - 2;
    bytes[last_mac_byte] ^= 0x01;
    let (forged, _) = Command::parse(&bytes).expect("still an APDU");
    let response = channel.send(&forged).expect("forged");
    assert_eq!(response.sw, StatusWord(0x6988));
}

#[test]
fn a_personalization_command_in_plain_is_refused_on_an_open_channel() {
    let card = VirtualCard::for_issuer(plain_issuer());
    let (mut channel, _sm) = open(&card);
    let response = channel.send(&update()).expect("plain update");
    assert_eq!(response.sw, StatusWord(0x6982));
    let generate = channel
        .send(&Command::new(0, 0x47, 0x80, 0x01).expect(256))
        .expect("plain generate");
    assert_eq!(generate.sw, StatusWord(0x6982));
}

/// Every instruction byte, with a spread of P1/P2 values and with and without data, sent to a
/// personalized card through pcscd: no answer carries either private key (any 8-byte window of
/// it) or a static personalization key.
#[test]
fn no_instruction_returns_a_private_key() {
    let (card, _) = crate::common::personalized_card();
    let state = crate::common::read_state(&card);
    let secrets: Vec<Vec<u8>> = [
        &state["key_pairs"]["signing"],
        &state["key_pairs"]["chip_auth"],
        &state["static_keys"]["enc"],
        &state["static_keys"]["mac"],
    ]
    .iter()
    .filter_map(|v| v.as_str())
    .map(hex)
    .collect();
    assert!(
        secrets.len() >= 2,
        "no keys found in the state file: {state}"
    );
    let mut channel =
        CardChannel::new(PcscTransport::connect(Some(card.reader_name())).expect("connect"));
    let (select, _) = Command::parse(&hex(SELECT)).expect("select");
    let mut answers = 0;
    for ins in 0..=255u8 {
        for (p1, p2) in [
            (0, 0),
            (0x80, 0x01),
            (0x81, 0x02),
            (0x9E, 0x9A),
            (0, 0x81),
            (0, 0x02),
        ] {
            for data in [&[][..], &[0x01, 0x02][..], &[0x5C, 0x01, 0x01][..]] {
                channel.send(&select).expect("select");
                let command = Command::new(0, ins, p1, p2).data(data.to_vec()).expect(256);
                let response = channel.send(&command).expect("a status word");
                answers += 1;
                for secret in &secrets {
                    for window in secret.windows(8) {
                        assert!(
                            !response.data.windows(8).any(|w| w == window),
                            "INS {ins:02X} P1 {p1:02X} P2 {p2:02X} returned key material"
                        );
                    }
                }
            }
        }
    }
    assert_eq!(answers, 256 * 6 * 3);
}

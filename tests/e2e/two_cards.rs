//! The two implementations of applets-spec side by side — the Rust virtual card and the Java
//! Card applet in jCardSim — each in its own reader of the same pcscd, sent the same APDUs
//! through PC/SC: every answer must be the same, byte for byte (only where the card answers
//! with fresh randomness are the status words compared alone). A difference fails the test and
//! names the APDU.

use melli::transport::{PcscTransport, Transport};

use crate::common::{
    mailer_path, note, personalize_with, pin_block, read_mailer, test_issuer, CardKind,
    CardOptions, VirtualCard,
};

const SELECT_MELLI: &str = "00A4040C07F04D454C4C4901";
const VALID: &str = "fixtures/records/valid-1.json";

/// A Rust card and a Java card with the same serial and the test issuer's keys.
fn pair(serial: &str) -> [VirtualCard; 2] {
    [CardKind::Rust, CardKind::JavaCard].map(|kind| {
        VirtualCard::with_options(CardOptions {
            serial: Some(serial.to_string()),
            issuer: Some(test_issuer().to_path_buf()),
            kind: Some(kind),
            ..CardOptions::default()
        })
    })
}

fn connect(card: &VirtualCard) -> PcscTransport {
    PcscTransport::connect(Some(card.reader_name()))
        .unwrap_or_else(|e| panic!("connect to {}: {e}", card.reader_name()))
}

/// Sends `apdus` to both cards, in order, and collects every difference. `each(i, apdu)` gives
/// the bytes for card `i` (0 Rust, 1 Java: the same but for each card's own PIN and PUK). An
/// APDU marked `true` has an answer that is each card's own — fresh random bytes, or a file
/// holding the card's own keys and the certificates and signatures over them — and is compared
/// by its status word only.
fn compare(
    cards: &[VirtualCard; 2],
    apdus: &[(Vec<u8>, bool)],
    each: impl Fn(usize, &[u8]) -> Vec<u8>,
) {
    let mut links = [connect(&cards[0]), connect(&cards[1])];
    let mut differences = Vec::new();
    for (apdu, own) in apdus {
        let [rust, java] = [0, 1].map(|i| {
            links[i]
                .transmit(&each(i, apdu))
                .unwrap_or_else(|e| panic!("{} on card {i}: {e}", hex::encode_upper(apdu)))
        });
        let same = if *own && rust.len() >= 2 && java.len() >= 2 {
            rust[rust.len() - 2..] == java[java.len() - 2..]
        } else {
            rust == java
        };
        if !same {
            differences.push(format!(
                "{}: Rust card {}, Java card {}",
                hex::encode_upper(apdu),
                hex::encode_upper(&rust),
                hex::encode_upper(&java)
            ));
        }
    }
    note(&format!(
        "{} APDUs to both cards, {} differences",
        apdus.len(),
        differences.len()
    ));
    assert!(
        differences.is_empty(),
        "the two cards answer differently:\n{}",
        differences.join("\n")
    );
}

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).expect("test hex")
}

/// Every instruction byte with plain and protected class bytes, as a header alone and with an
/// Le (and, for the plain class, with a byte of data), before and after SELECT of the
/// application — on blank cards.
#[test]
fn blank_cards_answer_the_whole_instruction_space_alike() {
    let cards = pair("TWIN0000000001");
    let mut apdus = Vec::new();
    for selected in [false, true] {
        if selected {
            apdus.push(hex(SELECT_MELLI));
        }
        for ins in 0..=255u8 {
            for cla in [0x00u8, 0x0C, 0x80] {
                apdus.push(vec![cla, ins, 0x00, 0x00]);
                apdus.push(vec![cla, ins, 0x00, 0x00, 0x00]);
            }
            apdus.push(vec![0x00, ins, 0x00, 0x00, 0x01, 0x5A]);
        }
    }
    // GET CHALLENGE answers random bytes: its status word still must agree.
    let apdus: Vec<(Vec<u8>, bool)> = apdus
        .into_iter()
        .map(|apdu| {
            let random = apdu.get(1) == Some(&0x84);
            (apdu, random)
        })
        .collect();
    compare(&cards, &apdus, |_, apdu| apdu.to_vec());
}

/// Personalized by melli the same way, the two cards answer a desk's and a holder's commands
/// alike: GET DATA, SELECT and READ BINARY of the public files, the PIN's life (wrong PIN,
/// counter, right PIN), reading what must not be read, then TERMINATE DF with the PUK.
#[test]
fn personalized_cards_answer_alike_up_to_termination() {
    let cards = pair("TWIN0000000002");
    for card in &cards {
        let out = personalize_with(card, VALID, test_issuer());
        assert_eq!(out.code, 0, "{out:?}\ncard log:\n{}", card.log());
    }
    // Each card has its own random PIN and PUK: the script writes the Rust card's, and the
    // Java card gets its own in their place.
    let [rust, java] = [0, 1].map(|i| read_mailer(&mailer_path(&cards[i])));
    let (pin, puk) = (pin_block(&rust.pin), pin_block(&rust.puk));
    let java_for = [
        (hex(&pin), hex(&pin_block(&java.pin))),
        (hex(&puk), hex(&pin_block(&java.puk))),
    ];
    let mut apdus: Vec<(Vec<u8>, bool)> = vec![(hex(SELECT_MELLI), false)];
    for tag in ["DF01", "DF02", "DF03", "DF04", "7F61", "DF05", "0000"] {
        apdus.push((hex(&format!("00CA{tag}00")), false));
    }
    // The public files whole, and the fingerprint file, which no one reads. DG5, DG6, DG7 and
    // the security object hold each card's own keys (and certificates and signatures over them).
    for fid in [
        "0101", "0102", "0104", "0105", "0106", "011D", "0103", "0107",
    ] {
        let own = matches!(fid, "0105" | "0106" | "0107" | "011D");
        apdus.push((hex(&format!("00A4020C02{fid}")), false));
        apdus.push((hex("00B0000000"), own));
        apdus.push((hex("00B0000010"), own));
    }
    let script = [
        "0020000100".to_string(),                     // tries left
        format!("0020000110{}", pin_block("000000")), // a wrong PIN
        "0020000100".to_string(),                     // one try fewer
        "002A9E9A20".to_string() + &"11".repeat(32),  // PSO without the PIN
        format!("0020000110{pin}"),                   // the right PIN
        "0020000100".to_string(),
        "00880002".to_string(), // INTERNAL AUTHENTICATE without data
        "0020008300".to_string(),
        format!("00E6000010{}", pin_block("0000000000")), // TERMINATE DF, a wrong PUK
        format!("00E6000010{puk}"),                       // TERMINATE DF
        "00CADF0200".to_string(),
        format!("0020000110{pin}"),
    ];
    apdus.extend(script.iter().map(|s| (hex(s), false)));
    compare(&cards, &apdus, |i, apdu| {
        let mut bytes = apdu.to_vec();
        if i == 1 && bytes.len() == 21 {
            let data = &mut bytes[5..];
            if let Some((_, own)) = java_for.iter().find(|(rust, _)| rust == data) {
                data.copy_from_slice(own);
            }
        }
        bytes
    });
}

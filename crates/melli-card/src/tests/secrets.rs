//! §8.6 and issue 3 item 5: no command returns a private key, the static keys or the session
//! keys. The whole instruction space is swept over a personalized card — every INS, with every
//! P1 for a set of P2 values and every P2 for a set of P1 values, and bodies of each APDU case
//! — and over a PERSONALIZING card under secure messaging, whose protected answers are
//! decrypted before they are searched. No response may contain 8 consecutive bytes of any
//! secret.

use super::host::Answer;
use super::*;

/// Every secret the card holds: the three private scalars, K_enc, K_mac, the session keys, the
/// device secret, the PIN and PUK hashes, and the PIN and PUK values the tests set.
fn secrets(card: &Card) -> Vec<Vec<u8>> {
    let state = &card.state;
    let mut secrets = vec![
        state.static_keys.enc.to_vec(),
        state.static_keys.mac.to_vec(),
    ];
    for key in [&state.signing_key, &state.chip_auth_key, &state.auth_key]
        .into_iter()
        .flatten()
    {
        secrets.push(key.to_bytes().to_vec());
    }
    if let Some(channel) = &card.session.channel {
        secrets.extend(channel.keys().iter().map(|k| k.to_vec()));
    }
    secrets.push(state.device_secret.as_bytes().to_vec());
    for (reference, block) in [(&state.pin.reference, PIN), (&state.puk.reference, PUK)] {
        let Some(hashed) = reference else { continue };
        secrets.push(hashed.hash.to_vec());
        // The digits only: FF padding is no secret.
        let digits: Vec<u8> = hex::decode(block)
            .unwrap()
            .into_iter()
            .filter(|b| *b != 0xFF)
            .collect();
        secrets.push(digits);
    }
    secrets
}

/// Fails if `response` holds a window of 8 bytes of a secret (the whole secret if shorter).
#[track_caller]
fn assert_clean(response: &[u8], secrets: &[Vec<u8>], apdu: &[u8]) {
    for secret in secrets {
        let window = secret.len().min(8);
        for piece in secret.windows(window) {
            assert!(
                !response.windows(window).any(|w| w == piece),
                "the answer to {} contains a secret",
                hex::encode_upper(apdu)
            );
        }
    }
}

const SOME_P1P2: [u8; 12] = [
    0x00, 0x01, 0x02, 0x04, 0x0C, 0x80, 0x81, 0x82, 0x83, 0x86, 0x9A, 0x9E,
];

fn bodies() -> Vec<Vec<u8>> {
    let pin = hex::decode(PIN).unwrap();
    let digest = [0x5A; 32];
    vec![
        vec![],
        vec![0x00],
        vec![0x00, 0x00, 0x00],
        [&[0x10][..], &pin].concat(),
        [&[0x20][..], &digest[..], &[0x00]].concat(),
        [&[0x03, 0x54, 0x01, 0x00, 0x00][..]].concat(),
        [&[0x02, 0x01, 0x01, 0x00][..]].concat(),
    ]
}

/// Every INS; for the 18 of §6 every P1 with a set of P2 values and every P2 with a set of
/// P1 values, for the others (which answer 6D00 before looking further, §4.6) the set only.
fn headers() -> impl Iterator<Item = (u8, u8, u8)> {
    (0..=255u8).flat_map(|ins| {
        let full: Box<dyn Iterator<Item = (u8, u8)>> = if INSTRUCTIONS.contains(&ins) {
            let by_p1 = (0..=255u8).flat_map(|p1| SOME_P1P2.map(move |p2| (p1, p2)));
            let by_p2 = SOME_P1P2
                .into_iter()
                .flat_map(|p1| (0..=255u8).map(move |p2| (p1, p2)));
            Box::new(by_p1.chain(by_p2))
        } else {
            Box::new(
                SOME_P1P2
                    .into_iter()
                    .flat_map(|p1| SOME_P1P2.map(move |p2| (p1, p2))),
            )
        };
        full.map(move |(p1, p2)| (ins, p1, p2))
    })
}

#[test]
fn no_command_returns_a_secret_of_a_personalized_card() {
    let mut card = personalized();
    script(&mut card, &[(&format!("00200081 10 {PIN}"), "9000")]);
    let secrets = secrets(&card);
    assert_eq!(secrets.len(), 10);
    let bodies = bodies();
    let mut answered_with_data = 0usize;
    for (ins, p1, p2) in headers() {
        for body in &bodies {
            let apdu = [&[0x00, ins, p1, p2][..], body].concat();
            let response = card.process(&apdu);
            assert!(!response.ends_with(&[0x6F, 0x00]), "6F00 for {apdu:02X?}");
            answered_with_data += usize::from(response.len() > 2);
            assert_clean(&response, &secrets, &apdu);
        }
        if ins == 0xC0 || p2 == 0xFF {
            // Keep the session as it was: the application selected, the PIN verified.
            script(
                &mut card,
                &[
                    (SELECT_AID, "9000"),
                    (&format!("00200081 10 {PIN}"), "9000"),
                ],
            );
        }
    }
    assert!(answered_with_data > 1000, "{answered_with_data}");
    eprintln!("{answered_with_data} answers with data");
    assert_eq!(card.lifecycle(), 0x05);
}

#[test]
fn no_protected_command_returns_a_secret_while_personalizing() {
    let (mut card, mut host) = personalizing();
    host.expect(&mut card, "00478001 00", "9000");
    host.expect(&mut card, "00478002 00", "9000");
    for (fid, content) in personal_files() {
        host.write_file(&mut card, fid, &content);
    }
    let bodies = bodies();
    let mut protected_answers = 0usize;
    for ins in 0..=255u8 {
        // An unknown INS is answered 6D00 before secure messaging is looked at (§4.6).
        let parameters: &[u8] = if INSTRUCTIONS.contains(&ins) {
            &SOME_P1P2
        } else {
            &[0x00]
        };
        for &p1 in parameters {
            for &p2 in parameters {
                for body in &bodies {
                    let plain = [&[0x00, ins, p1, p2][..], body].concat();
                    let apdu = host.wrap(&plain, false);
                    let response = card.process(&apdu);
                    assert!(!response.ends_with(&[0x6F, 0x00]), "6F00 for {plain:02X?}");
                    let secrets = secrets(&card);
                    assert_clean(&response, &secrets, &apdu);
                    match host.unwrap(&mut card, response) {
                        Answer::Protected(data, _) => {
                            protected_answers += 1;
                            assert_clean(&data, &secrets, &plain);
                        }
                        Answer::Plain(sw) => {
                            if !INSTRUCTIONS.contains(&ins) {
                                assert_eq!(sw, 0x6D00);
                            }
                            script(&mut card, &[(SELECT_AID, "9000")]);
                            host = Host::authenticate(&mut card, &MASTER_KEY).unwrap();
                        }
                    }
                }
            }
        }
    }
    eprintln!("{protected_answers} protected answers");
    assert!(protected_answers > 500, "{protected_answers}");
    assert_eq!(
        card.lifecycle(),
        0x03,
        "the PUK was never set: ACTIVATE cannot succeed"
    );
}

//! The host's APDU layer on bytes from the card. Byte 0 chooses (`% 3`):
//! 0. the rest as one response APDU and as one command APDU (`melli::apdu`: parse, status
//!    word meaning, and parse-encode giving the same bytes back), an FCP, a public key, an ATR;
//! 1. a scripted card behind `CardChannel` (chaining, `61xx` GET RESPONSE, `6Cxx` resend):
//!    ATR length and ATR, a byte choosing the command, then answers with 2-byte lengths;
//! 2. the rest as the answer to a protected command, unwrapped by a real secure channel
//!    (`melli::sm`) opened with a blank virtual card.
#![no_main]

use std::collections::VecDeque;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use melli::apdu::{Command, Response};
use melli::applet::{parse_public_key, FileControl};
use melli_card::Card;
use melli::sm::{Authentication, StaticKeys};
use melli::transport::{Capabilities, CardChannel, Transport, TransportError};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => parsers(rest),
        1 => channel(rest),
        _ => unwrap(rest),
    }
});

fn parsers(bytes: &[u8]) {
    if let Ok(response) = Response::parse(bytes) {
        assert_eq!(response.data.len() + 2, bytes.len());
        let _ = response.sw.meaning();
        let _ = format!("{response:?}");
        let _ = response.into_data();
    }
    if let Ok((command, form)) = Command::parse(bytes) {
        let again = command
            .encode(form)
            .expect("a parsed command encodes in the form it came in");
        assert_eq!(&again[..], bytes, "parse then encode changed the APDU");
        let minimal = command.to_bytes().expect("a parsed command encodes");
        let (back, _) = Command::parse(&minimal).expect("the minimal encoding parses");
        assert_eq!(back.data_bytes(), command.data_bytes());
        assert_eq!(back.ne(), command.ne());
        let _ = format!("{command:?}");
    }
    let _ = FileControl::parse(bytes);
    let _ = parse_public_key(bytes);
    let _ = Capabilities::from_atr(bytes);
}

/// A card that answers from a script and then goes silent.
struct Scripted {
    atr: Vec<u8>,
    answers: VecDeque<Vec<u8>>,
    sent: usize,
}

impl Transport for Scripted {
    fn transmit(&mut self, _command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.sent += 1;
        self.answers
            .pop_front()
            .ok_or(TransportError::CardUnresponsive)
    }
    fn atr(&self) -> &[u8] {
        &self.atr
    }
    fn reader(&self) -> &str {
        "script"
    }
}

fn channel(bytes: &[u8]) {
    let Some((&atr_len, rest)) = bytes.split_first() else {
        return;
    };
    let (atr, rest) = rest.split_at(usize::from(atr_len).min(rest.len()));
    let Some((&choice, mut rest)) = rest.split_first() else {
        return;
    };
    let mut answers = VecDeque::new();
    while let [hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (answer, tail) = tail.split_at(len);
        answers.push_back(answer.to_vec());
        rest = tail;
    }
    let count = answers.len();
    let mut channel = CardChannel::new(Scripted {
        atr: atr.to_vec(),
        answers,
        sent: 0,
    });
    if choice & 0x80 != 0 {
        channel.set_capabilities(Capabilities {
            extended: true,
            chaining: true,
            max_command_data: melli::spec::MAX_COMMAND_DATA,
        });
    }
    let command = match choice % 5 {
        0 => Command::new(0x00, 0xB0, 0x81, 0x00).expect(65_536),
        1 => Command::new(0x00, 0xB0, 0x00, 0x00).expect(256),
        2 => Command::new(0x00, 0xD6, 0x82, 0x00).data(vec![0x5A; 3000]),
        3 => Command::new(0x00, 0x84, 0x00, 0x00).expect(16),
        _ => Command::new(0x00, 0x2A, 0x9E, 0x9A)
            .data(vec![0xA5; 32])
            .expect(256),
    };
    let _ = channel.send(&command);
    let sent = channel.transport().sent;
    assert!(sent <= count + 1, "{sent} APDUs for {count} answers");
}

fn unwrap(bytes: &[u8]) {
    static CARD: OnceLock<(Card, StaticKeys)> = OnceLock::new();
    let (blank, keys) = CARD.get_or_init(|| {
        let master = [0x4Du8; 16];
        let card = Card::manufacture("MCFUZZ000002", &master).expect("manufacture");
        (card, StaticKeys::diversify(&master, "MCFUZZ000002"))
    });
    let mut card = blank.fuzzing_clone();
    card.power_on();
    let select = [
        0x00, 0xA4, 0x04, 0x0C, 0x07, 0xF0, 0x4D, 0x45, 0x4C, 0x4C, 0x49, 0x01,
    ];
    assert_eq!(card.process(&select), [0x90, 0x00]);
    let challenge = card.process(&[0x00, 0x84, 0x00, 0x00, 0x10]);
    let rnd: [u8; 16] = challenge[..16].try_into().expect("challenge");
    let auth = Authentication::new(&rnd);
    let command = Command::new(0x00, 0x82, 0x00, 0x00)
        .data(auth.command_data(keys).to_vec())
        .expect(256);
    let answer =
        Response::parse(&card.process(&command.to_bytes().expect("encodes"))).expect("a response");
    let mut secure = auth.finish(keys, &answer.data).expect("channel");
    let _ = secure.wrap(&Command::new(0x00, 0xB0, 0x81, 0x00).expect(256));
    if let Ok(response) = Response::parse(bytes) {
        let _ = secure.unwrap(&response);
    }
}

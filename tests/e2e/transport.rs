//! melli's PC/SC transport, used as a library, when the card goes away under it.

use melli::transport::{PcscTransport, Transport, TransportError};

use crate::common::{note, VirtualCard};

const SELECT: [u8; 12] = [
    0x00, 0xA4, 0x04, 0x0C, 0x07, 0xF0, 0x4D, 0x45, 0x4C, 0x4C, 0x49, 0x01,
];

fn connect(card: &VirtualCard) -> PcscTransport {
    let mut transport = PcscTransport::connect(Some(card.reader_name()))
        .unwrap_or_else(|e| panic!("connect to {}: {e}", card.reader_name()));
    assert_eq!(transport.reader(), card.reader_name());
    assert_eq!(transport.transmit(&SELECT).expect("SELECT"), [0x90, 0x00]);
    transport
}

/// The card process dies and pcscd has noticed: the next transmit is `CardRemoved`.
#[test]
fn transmit_after_the_card_is_gone_is_card_removed() {
    let mut card = VirtualCard::new();
    let mut transport = connect(&card);
    card.kill();
    let error = transport.transmit(&SELECT).expect_err("the card is gone");
    note(&format!(
        "transmit after removal (pcscd noticed): {error:?} / {error}"
    ));
    assert!(matches!(error, TransportError::CardRemoved), "{error:?}");
    // And a new connection says there is no card there.
    let error = PcscTransport::connect(Some(card.reader_name()))
        .err()
        .expect("no card");
    assert!(
        matches!(error, TransportError::NoCardInReader(_)),
        "{error:?}"
    );
}

/// The card process dies and the very next transmit goes out before pcscd has polled the
/// reader: still a typed error that says the card is gone, not a panic or a generic failure.
#[test]
fn transmit_right_after_the_card_died_is_a_typed_error() {
    let mut card = VirtualCard::new();
    let mut transport = connect(&card);
    card.kill_no_wait();
    let error = transport.transmit(&SELECT).expect_err("the card is gone");
    note(&format!(
        "transmit right after the card died: {error:?} / {error}"
    ));
    assert!(
        matches!(
            error,
            TransportError::CardRemoved
                | TransportError::CardUnresponsive
                | TransportError::CardReset
        ),
        "{error:?}"
    );
}

/// A card that comes back (the same state, a new process) is usable with a new connection.
#[test]
fn a_restarted_card_can_be_connected_again() {
    let mut card = VirtualCard::new();
    let transport = connect(&card);
    card.restart();
    drop(transport);
    let mut transport = connect(&card);
    let serial = transport
        .transmit(&[0x00, 0xCA, 0xDF, 0x01, 0x00])
        .expect("GET DATA");
    assert_eq!(&serial[serial.len() - 2..], [0x90, 0x00]);
    assert_eq!(&serial[..serial.len() - 2], card.serial().as_bytes());
}

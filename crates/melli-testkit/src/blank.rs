//! Blank cards for tests: made with an issuer's master key, as a card
//! factory would make them.

use melli::pki::Issuer;
use melli_card::{Card, CardKeys};

/// A blank in-memory card whose keys `issuer` diversified for `serial`.
pub fn blank_card(issuer: &Issuer, serial: &str) -> Card {
    let (enc, mac) = issuer.card_keys(serial).expect("card keys").to_card_keys();
    Card::manufacture_with_keys(serial, &CardKeys { enc, mac }).expect("manufacture")
}

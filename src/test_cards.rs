//! Blank cards for the host library's own tests: made with an issuer's master key, as a card
//! factory would make them.

use crate::card::{Card, CardKeys};
use crate::pki::Issuer;

/// A blank in-memory card whose keys `issuer` diversified for `serial`.
pub fn blank_card(issuer: &Issuer, serial: &str) -> Card {
    let (enc, mac) = issuer.card_keys(serial).expect("card keys").to_card_keys();
    Card::manufacture_with_keys(serial, &CardKeys { enc, mac }).expect("manufacture")
}

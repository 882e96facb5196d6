//! The virtual card in this process: the same card-side code that `melli card serve` attaches
//! to vpcd, driven directly, for fast tests of everything above the transport.

use melli::transport::{Transport, TransportError};
use melli_card::Card;

/// A [`Transport`] straight into a [`Card`], powered on.
pub struct InProcessCard {
    card: Card,
}

impl InProcessCard {
    pub fn new(mut card: Card) -> Self {
        card.power_on();
        InProcessCard { card }
    }

    /// The card, e.g. to reset it or to inspect its state in a test.
    pub fn card_mut(&mut self) -> &mut Card {
        &mut self.card
    }

    pub fn into_card(self) -> Card {
        self.card
    }
}

impl Transport for InProcessCard {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        Ok(self.card.process(command))
    }

    fn atr(&self) -> &[u8] {
        self.card.atr()
    }

    fn reader(&self) -> &str {
        "in-process"
    }
}

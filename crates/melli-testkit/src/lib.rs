//! melli's test kit (dev-only): the virtual card of `melli-card` behind the host library's
//! transport and batch-reader traits, in this process, with no PC/SC.
//!
//! The host library never depends on the card crate; tests, benches and fuzz targets that want
//! a card without pcscd and vpcd take it from here.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

mod batch;
mod blank;
mod in_process;

pub use batch::{CardPile, InProcessReader, Slot, SlotTransport};
pub use blank::blank_card;
pub use in_process::InProcessCard;

/// The virtual card crate, for tests that build or inspect cards.
pub use melli_card as card;

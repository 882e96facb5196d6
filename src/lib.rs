//! melli — the national smart ID card over PC/SC: personalize, read, verify, sign.
//!
//! Host side: [`apdu`], [`transport`], [`applet`], [`sm`], [`model`], [`pki`], [`ops`],
//! [`journal`]. Card side: the `melli-card` crate (re-exported as `card` with the default
//! feature `virtual-card`), the virtual card that implements `applets-spec/`. The two share only
//! the `melli-spec` crate ([`spec`]), the specification's constants.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

pub mod apdu;
pub mod applet;
pub mod display;
pub mod files;
pub mod input;
pub mod journal;
pub mod model;
pub mod ops;
pub mod pki;
pub mod sm;
pub mod transport;

/// The specification's constants: the only code the host and the card share.
pub use melli_spec as spec;

/// The virtual card (its own crate, which knows nothing of the host): for `melli card …` and
/// for in-process cards in tests.
#[cfg(feature = "virtual-card")]
pub use melli_card as card;

/// Blank in-process cards for the host library's own tests.
#[cfg(test)]
pub(crate) mod test_cards;

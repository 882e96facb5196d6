//! melli — the national smart ID card over PC/SC: personalize, read, verify, sign.
//!
//! Host side: [`apdu`], [`transport`], [`applet`], [`sm`], [`model`], [`pki`], [`ops`],
//! [`journal`]. The card side is another crate (`melli-card`, the virtual card that implements
//! `applets-spec/`), which this library never depends on: the two share only the `melli-spec`
//! crate ([`spec`]), the specification's constants. The `melli` command is the `melli-cli`
//! package; in-process cards for tests are in the dev-only `melli-testkit`.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

pub mod apdu;
pub mod applet;
pub mod cause;
pub mod display;
pub mod files;
pub mod input;
pub mod journal;
pub mod model;
pub mod native_messaging;
pub mod net;
pub mod ops;
pub mod pinentry;
pub mod pki;
pub mod sm;
pub mod transport;

/// The specification's constants: the only code the host and the card share.
pub use melli_spec as spec;

/// In-process cards for this library's own unit tests: the test kit's sources, compiled in here
/// because the unit tests cannot depend on `melli-testkit` (which depends on this crate). They
/// name this crate `melli`, as the test kit does.
#[cfg(test)]
extern crate self as melli;
#[cfg(test)]
#[path = "../../melli-testkit/src/blank.rs"]
mod test_blank;
#[cfg(test)]
#[allow(dead_code)] // the test kit's accessors that these tests do not call
#[path = "../../melli-testkit/src/in_process.rs"]
mod test_in_process;
#[cfg(test)]
mod test_cards {
    pub use super::test_blank::blank_card;
    pub use super::test_in_process::InProcessCard;
}

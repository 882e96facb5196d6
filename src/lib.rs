//! melli — the national smart ID card over PC/SC: personalize, read, verify, sign.
//!
//! Host side: [`apdu`], [`transport`], [`applet`]. Card side: [`card`], the virtual card that
//! implements `applets-spec/`. The two share only [`spec`], the specification's constants.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

pub mod apdu;
pub mod applet;
pub mod card;
pub mod display;
pub mod files;
pub mod input;
pub mod journal;
pub mod model;
pub mod ops;
pub mod pki;
pub mod sm;
pub mod spec;
pub mod transport;

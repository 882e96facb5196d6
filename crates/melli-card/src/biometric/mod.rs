//! Match-on-card (spec §11): the card's own reader of ISO/IEC 19794-2:2005 finger minutiae
//! records and live templates (`record`), and the minutiae matcher of §11.4 (`matcher`).
//!
//! The API, for VERIFY P2 `83` and GET DATA `7F61`:
//! - [`parse_record`] reads the enrolled record (DG3's whole content): 1–10 views;
//! - [`parse_live_template`] reads the command data of VERIFY P2 `83`, `7F2E { 81 <record> }`,
//!   with exactly one view;
//! - [`matches`] compares them: [`MatchOutcome`] `{ score, matched }`;
//! - [`Record::biometric_subtype`] is the `82` value of the BIT (§11.3), from the first view.
//!
//! Every [`RecordError`] means "not well-formed": `6A80` for the live template (no try
//! consumed), `6981` for the enrolled record in VERIFY, `6A88` for GET DATA `7F61` (§11.1).
//! Nothing here panics on any input.

// The VERIFY P2 83 and GET DATA 7F61 handlers are written separately; until they call in,
// nothing outside this module uses it. (Remove these two lines once they do.)
#![cfg_attr(not(test), allow(dead_code))]
#![allow(unused_imports)]

mod matcher;
mod record;

pub(crate) use matcher::{matches, MatchOutcome};
pub(crate) use record::{
    biometric_subtype, parse_live_template, parse_record, Record, RecordError, View,
};

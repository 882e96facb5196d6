//! The virtual card's whole APDU dispatcher (`Card::process`), from a blank, a
//! half-personalized and a personalized card, with sequences of raw APDUs, real secure
//! channels opened with the right keys, protected commands, and resets. The input format and
//! the invariants checked after every APDU are in `melli_fuzz::card_input` and
//! `melli_fuzz::harness`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use melli_fuzz::harness::{run, World};

fuzz_target!(|data: &[u8]| {
    run(World::get(), data);
});

//! The security object (EF.SOD, applets-spec §9): `SecurityObject::parse` and the whole
//! passive-authentication verdict of `melli verify` against the real data groups, serial and
//! root of the seed card (`fuzz/data/`).
#![no_main]

use std::time::SystemTime;

use libfuzzer_sys::fuzz_target;
use melli::pki::{verify_security_object, SecurityObject, VerifyInput};
use melli_fuzz::seed_data;

fuzz_target!(|data: &[u8]| {
    let seed = seed_data::get();
    let groups: Vec<(u8, &[u8])> = seed
        .groups
        .iter()
        .map(|(n, content)| (*n, content.as_slice()))
        .collect();
    let input = VerifyInput {
        trusted_root: &seed.root,
        card_serial: &seed.serial,
        data_groups: &groups,
        at: SystemTime::now(),
    };
    let verdict = verify_security_object(data, &input);
    assert!(!verdict.checks.is_empty());
    if let Ok(so) = SecurityObject::parse(data) {
        let _ = so.card_serial();
        let _ = so.data_group_hashes().count();
        for number in 0..=16 {
            let _ = so.hash_of(number);
        }
        let _ = so.document_signer();
        let _ = so.signing_time();
        let _ = so.signed_data().econtent();
    }
});

//! DG1 (identity) and DG4 (address) as the desk reads them (`Identity::from_dg`,
//! `Address::from_dg`); whatever parses must encode back to something that parses to the
//! same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use melli::model::{Address, Identity};

fuzz_target!(|data: &[u8]| {
    if let Ok(identity) = Identity::from_dg(data) {
        let again = Identity::from_dg(&identity.to_dg()).expect("to_dg of a parsed DG1 parses");
        assert_eq!(again, identity, "DG1 changed through to_dg");
        let _ = identity.birth_date().with_gregorian();
        let _ = identity.expiry_date().to_gregorian();
    }
    if let Ok(address) = Address::from_dg(data) {
        let again = Address::from_dg(&address.to_dg()).expect("to_dg of a parsed DG4 parses");
        assert_eq!(again, address, "DG4 changed through to_dg");
    }
});

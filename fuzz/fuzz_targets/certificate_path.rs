//! DG6, the holder's certificate path (`melli::ops::read::split_certificate_path`), then
//! what `melli verify` and `melli sign` do with the certificates: extensions, subject, public
//! key, and the path check up to the seed issuer's root (`fuzz/data/root.der`).
#![no_main]

use std::time::SystemTime;

use libfuzzer_sys::fuzz_target;
use melli::ops::read::split_certificate_path;
use melli::pki::{cert, verify_path, Certificate, HolderSubject, LeafPurpose};
use melli_fuzz::seed_data;

fn inspect(certificate: &Certificate) {
    let _ = cert::subject_key_identifier(certificate);
    let _ = cert::authority_key_identifier(certificate);
    let _ = cert::basic_constraints(certificate);
    let _ = cert::key_usage(certificate);
    let _ = cert::extended_key_usage(certificate);
    let _ = cert::public_key(certificate);
    let _ = cert::label(certificate);
}

fuzz_target!(|data: &[u8]| {
    let seed = seed_data::get();
    if let Ok((holder, cas)) = split_certificate_path(data) {
        inspect(&holder);
        cas.iter().for_each(inspect);
        let _ = HolderSubject::from_certificate(&holder);
        let _ = verify_path(
            &holder,
            "holder certificate",
            LeafPurpose::DocumentSignature,
            &cas,
            &seed.root,
            SystemTime::now(),
        );
    }
    if let Ok(certificate) = cert::from_pem_or_der(data) {
        inspect(&certificate);
    }
});

//! CMS SignedData (`SignedDataView::parse` and its accessors, signature and digest checks)
//! and `melli verify-signature`'s whole check of a detached signature
//! (`melli::ops::sign::verify_signature`) over the seed document, against the seed root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use melli::ops::sign::verify_signature;
use melli::pki::SignedDataView;
use melli_fuzz::{document_digest, seed_data};

fuzz_target!(|data: &[u8]| {
    let seed = seed_data::get();
    let digest = document_digest();
    if let Ok(view) = SignedDataView::parse(data) {
        let _ = view.econtent_type();
        let _ = view.econtent();
        let _ = view.certificates().len();
        let _ = view.signer_info();
        if let Ok(signer) = view.signer_certificate() {
            let _ = view.verify_signature(signer);
        }
        let _ = view.message_digest();
        let _ = view.check_message_digest(&digest);
        let _ = view.check_encapsulated_digest();
        let _ = view.signing_time();
    }
    let report = verify_signature(data, &digest, &seed.root, std::time::SystemTime::now());
    assert!(!report.verdict.checks.is_empty());
});

//! `melli verify-signature`'s whole verdict (`melli::ops::sign::verify_signature`) on mutated
//! signature files — DER, PEM, anything — over the fixed seed document, against the fixed seed
//! root. Invariant, checked outside the loop: melli says VALID only for a signature that
//! openssl's `cms -verify` (same document, same root) accepts too. So every input melli calls
//! VALID is written once, by its SHA-256, to `fuzz/valid/signature_verdict/` (or
//! `$MELLI_FUZZ_VALID_DIR`), and `fuzz/check_valid.sh` runs openssl on each of them and reports
//! every disagreement.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use melli::ops::sign::verify_signature;
use melli_fuzz::{document_digest, seed_data};
use sha2::Digest;

fn valid_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::var_os("MELLI_FUZZ_VALID_DIR").map_or_else(
            || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/valid/signature_verdict")),
            PathBuf::from,
        );
        std::fs::create_dir_all(&dir).expect("the directory of VALID inputs");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let seed = seed_data::get();
    let report = verify_signature(
        data,
        &document_digest(),
        &seed.root,
        std::time::SystemTime::now(),
    );
    let checks = &report.verdict.checks;
    assert!(!checks.is_empty());
    if report.verdict.passed() {
        // Every check was made: a VALID verdict with fewer checks would be a broken verdict
        // (a seventh, "timestamp", when the signature carries a token).
        let expected = 6 + usize::from(report.verdict.get("timestamp").is_some());
        assert_eq!(checks.len(), expected, "{checks:?}");
        let name = hex::encode(sha2::Sha256::digest(data));
        let path = valid_dir().join(format!("{name}.p7s"));
        if !path.exists() {
            std::fs::write(&path, data).expect("write a VALID input");
        }
    }
});

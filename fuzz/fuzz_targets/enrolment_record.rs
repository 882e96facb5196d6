//! The enrolment record, as `melli check` takes it: JSON text → `EnrolmentRecord` →
//! `validate_on` (every field, as of a fixed day). The photo and fingerprint paths name files:
//! the fixtures' own names are kept (the valid photo swapped for the card's 240x320 JPEG, so
//! that one input costs milliseconds, not tens of them), any other path becomes a missing
//! file, so that no input reads an arbitrary file of the machine.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use melli::model::{EnrolmentRecord, JalaliDate};

/// The directory the paths are resolved from: fuzz/data/record/, with a `photos/` and a
/// `fingerprints/` beside it, made on first use.
fn base_dir() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary directory");
        let fixtures = melli_fuzz::repo_dir().join("fixtures");
        let data = melli_fuzz::seed_data::dir();
        for sub in ["records", "photos", "fingerprints"] {
            std::fs::create_dir(dir.path().join(sub)).expect("mkdir");
        }
        let copies = [
            (data.join("photo.jpg"), "photos/face-1.jpg"),
            (data.join("photo.jpg"), "photos/face-2.png"),
            (
                fixtures.join("photos/not-an-image.jpg"),
                "photos/not-an-image.jpg",
            ),
            (
                fixtures.join("fingerprints/finger-1.fmr"),
                "fingerprints/finger-1.fmr",
            ),
            (
                fixtures.join("fingerprints/finger-2.fmr"),
                "fingerprints/finger-2.fmr",
            ),
            (
                fixtures.join("fingerprints/finger-1-live.fmr"),
                "fingerprints/finger-1-live.fmr",
            ),
            (
                fixtures.join("fingerprints/truncated.fmr"),
                "fingerprints/truncated.fmr",
            ),
        ];
        for (from, to) in copies {
            std::fs::copy(&from, dir.path().join(to))
                .unwrap_or_else(|e| panic!("{}: {e} (run make_seeds first)", from.display()));
        }
        let base = dir.path().join("records");
        (dir, base)
    })
    .1
}

const KNOWN: [&str; 8] = [
    "../photos/face-1.jpg",
    "../photos/face-2.png",
    "../photos/not-an-image.jpg",
    "../fingerprints/finger-1.fmr",
    "../fingerprints/finger-2.fmr",
    "../fingerprints/finger-1-live.fmr",
    "../fingerprints/truncated.fmr",
    "../photos",
];

fn confine(path: &mut String) {
    if !path.trim().is_empty() && !KNOWN.contains(&path.as_str()) {
        *path = "no-such-file".to_owned();
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut record) = EnrolmentRecord::from_json_str(text) else {
        return;
    };
    confine(&mut record.photo);
    confine(&mut record.fingerprint);
    let today = JalaliDate::new(1404, 6, 1).expect("a date");
    match record.validate_on(base_dir(), today) {
        Ok(valid) => {
            let _ = valid.identity_dg();
            let _ = valid.address_dg();
            let _ = valid.fingerprint_dg();
            assert!(valid.photo_dg().len() <= 15_000);
        }
        Err(errors) => assert!(!errors.is_empty()),
    }
});

//! The generator of `fixtures/` and the tests that keep the committed fixtures honest.
//!
//! Everything here is deterministic (a fixed-seed SplitMix64, fixed sine and cosine values).
//! To regenerate the files after changing this generator:
//!
//! ```text
//! MELLI_WRITE_FIXTURES=1 cargo test --lib model::fixtures::write_fixtures -- --ignored
//! ```

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};

use super::enrolment::{EnrolmentRecord, ValidationError};
use super::fingerprint::{CaptureInfo, FingerTemplate, FingerView, Minutia, MinutiaKind};
use super::{Address, FaceImage, Identity, JalaliDate};
use crate::spec::test_support::SplitMix64 as Rng;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

// ---------------------------------------------------------------------------------------------
// Photos

struct Canvas(RgbImage);

impl Canvas {
    fn new(width: u32, height: u32, top: [u8; 3], bottom: [u8; 3]) -> Self {
        Canvas(RgbImage::from_fn(width, height, |_, y| {
            let t = f64::from(y) / f64::from(height);
            let mix = |a: u8, b: u8| (f64::from(a) * (1.0 - t) + f64::from(b) * t) as u8;
            Rgb([
                mix(top[0], bottom[0]),
                mix(top[1], bottom[1]),
                mix(top[2], bottom[2]),
            ])
        }))
    }

    /// Fills an ellipse; `shade` darkens it towards its rim (0 = flat).
    fn ellipse(&mut self, cx: f64, cy: f64, rx: f64, ry: f64, color: [u8; 3], shade: f64) {
        let (w, h) = self.0.dimensions();
        let x0 = (cx - rx).max(0.0) as u32;
        let x1 = ((cx + rx).ceil() as u32).min(w);
        let y0 = (cy - ry).max(0.0) as u32;
        let y1 = ((cy + ry).ceil() as u32).min(h);
        for y in y0..y1 {
            for x in x0..x1 {
                let dx = (f64::from(x) - cx) / rx;
                let dy = (f64::from(y) - cy) / ry;
                let d = dx * dx + dy * dy;
                if d <= 1.0 {
                    let k = 1.0 - shade * d;
                    let c = color.map(|v| (f64::from(v) * k) as u8);
                    self.0.put_pixel(x, y, Rgb(c));
                }
            }
        }
    }

    fn rect(&mut self, x0: u32, y0: u32, x1: u32, y1: u32, color: [u8; 3]) {
        for y in y0..y1.min(self.0.height()) {
            for x in x0..x1.min(self.0.width()) {
                self.0.put_pixel(x, y, Rgb(color));
            }
        }
    }

    /// Adds a little sensor-like noise so that the JPEG is not unrealistically small.
    fn grain(mut self, seed: u64, amount: i64) -> RgbImage {
        let mut rng = Rng(seed);
        for p in self.0.pixels_mut() {
            let n = rng.range(-amount, amount);
            for c in &mut p.0 {
                *c = (i64::from(*c) + n).clamp(0, 255) as u8;
            }
        }
        self.0
    }
}

/// A synthetic passport-style portrait, 600x800 (3:4, so only scaling is exercised):
/// short dark hair, open eyes, neutral mouth, dark jacket, plain light background.
fn face_1() -> RgbImage {
    let skin = [222, 180, 148];
    let mut c = Canvas::new(600, 800, [214, 222, 232], [184, 194, 210]);
    c.ellipse(300.0, 905.0, 340.0, 270.0, [38, 48, 86], 0.2); // shoulders
    c.rect(262, 520, 338, 680, [205, 164, 134]); // neck
    c.ellipse(300.0, 300.0, 168.0, 150.0, [48, 34, 26], 0.1); // hair
    c.ellipse(148.0, 395.0, 22.0, 46.0, skin, 0.1); // ears
    c.ellipse(452.0, 395.0, 22.0, 46.0, skin, 0.1);
    c.ellipse(300.0, 390.0, 150.0, 195.0, skin, 0.18); // face
    for x in [240.0, 360.0] {
        c.ellipse(x, 330.0, 34.0, 7.0, [60, 42, 32], 0.0); // brows
        c.ellipse(x, 365.0, 25.0, 12.0, [245, 245, 240], 0.0); // eyes
        c.ellipse(x, 365.0, 10.0, 10.0, [70, 48, 30], 0.0);
        c.ellipse(x, 365.0, 4.0, 4.0, [15, 10, 8], 0.0);
    }
    c.ellipse(300.0, 425.0, 11.0, 34.0, [206, 162, 132], 0.0); // nose
    c.ellipse(300.0, 495.0, 44.0, 11.0, [168, 86, 84], 0.1); // mouth
    c.grain(0x00FA_CE01, 3)
}

/// A second portrait, 900x1000 (wider than 3:4, so the centred crop is exercised), saved as
/// PNG: a dark head scarf around the face, a different background.
fn face_2() -> RgbImage {
    let skin = [236, 198, 170];
    let mut c = Canvas::new(900, 1000, [226, 226, 220], [200, 204, 200]);
    c.ellipse(450.0, 1120.0, 420.0, 360.0, [30, 30, 36], 0.15); // coat
    c.ellipse(450.0, 470.0, 230.0, 330.0, [24, 24, 30], 0.1); // scarf
    c.ellipse(450.0, 470.0, 150.0, 200.0, skin, 0.15); // face
    for x in [392.0, 508.0] {
        c.ellipse(x, 410.0, 32.0, 6.0, [70, 50, 40], 0.0);
        c.ellipse(x, 445.0, 24.0, 11.0, [248, 248, 244], 0.0);
        c.ellipse(x, 445.0, 10.0, 10.0, [52, 74, 60], 0.0);
        c.ellipse(x, 445.0, 4.0, 4.0, [12, 12, 12], 0.0);
    }
    c.ellipse(450.0, 505.0, 10.0, 32.0, [220, 180, 152], 0.0);
    c.ellipse(450.0, 575.0, 40.0, 10.0, [180, 96, 100], 0.1);
    // No grain: a PNG of a smooth picture stays small in the repository.
    c.0
}

fn jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(image)
        .unwrap();
    out
}

fn png(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

// ---------------------------------------------------------------------------------------------
// Fingerprints

const FINGER_CAPTURE: CaptureInfo = CaptureInfo {
    capture_equipment: 0,
    width: 500,
    height: 500,
    x_resolution: 197,
    y_resolution: 197,
};

/// `count` minutiae inside the elliptic pad of a finger, at least 24 px apart.
fn random_minutiae(seed: u64, count: usize) -> Vec<Minutia> {
    let mut rng = Rng(seed);
    let mut out: Vec<Minutia> = Vec::new();
    while out.len() < count {
        let x = rng.range(60, 440);
        let y = rng.range(40, 470);
        let (dx, dy) = ((x - 250) as f64 / 185.0, (y - 260) as f64 / 225.0);
        if dx * dx + dy * dy > 1.0 {
            continue;
        }
        if out.iter().any(|m| {
            let (ex, ey) = (i64::from(m.x) - x, i64::from(m.y) - y);
            ex * ex + ey * ey < 24 * 24
        }) {
            continue;
        }
        out.push(Minutia {
            kind: if rng.range(0, 2) == 0 {
                MinutiaKind::Bifurcation
            } else {
                MinutiaKind::RidgeEnding
            },
            x: x as u16,
            y: y as u16,
            angle: rng.range(0, 255) as u8,
            quality: rng.range(40, 100) as u8,
        });
    }
    out
}

fn single_view(finger_position: u8, quality: u8, minutiae: Vec<Minutia>) -> FingerTemplate {
    FingerTemplate::new(
        FINGER_CAPTURE,
        vec![FingerView {
            finger_position,
            view_number: 0,
            impression_type: 0, // live-scan plain
            quality,
            minutiae,
            extended_data: vec![],
        }],
    )
    .unwrap()
}

/// Right index finger (position 2), 40 minutiae.
fn finger_1() -> FingerTemplate {
    single_view(2, 82, random_minutiae(0x000F_1A6E_0001, 40))
}

/// The rotation, in degrees, and translation, in pixels, between finger-1 and finger-1-live.
const LIVE_ROTATION_DEGREES: f64 = 6.0;
const LIVE_SHIFT: (f64, f64) = (14.0, -9.0);

/// The same finger presented again: turned 6° (clockwise on screen) about the image centre,
/// shifted 14 px right and 9 px up, each minutia jittered by up to 3 px and 2 angle units; every
/// tenth minutia missed and 3 spurious ones added.
fn finger_1_live() -> FingerTemplate {
    // cos 6° and sin 6°, written out so that the bytes do not depend on the platform's libm.
    let (cos, sin) = (0.994_521_895_368_273_3_f64, 0.104_528_463_267_653_47_f64);
    let rotation_units = (LIVE_ROTATION_DEGREES * 256.0 / 360.0).round() as i64; // 4
    let mut rng = Rng(0x000F_1A6E_11FE);
    let mut out = Vec::new();
    for (i, m) in finger_1().views()[0].minutiae.iter().enumerate() {
        if i % 10 == 9 {
            continue;
        }
        let (x, y) = (f64::from(m.x) - 250.0, f64::from(m.y) - 250.0);
        let nx = 250.0 + x * cos - y * sin + LIVE_SHIFT.0 + rng.range(-3, 3) as f64;
        let ny = 250.0 + x * sin + y * cos + LIVE_SHIFT.1 + rng.range(-3, 3) as f64;
        if !(0.0..500.0).contains(&nx) || !(0.0..500.0).contains(&ny) {
            continue;
        }
        let angle = (i64::from(m.angle) - rotation_units + rng.range(-2, 2)).rem_euclid(256);
        out.push(Minutia {
            kind: m.kind,
            x: nx.round() as u16,
            y: ny.round() as u16,
            angle: angle as u8,
            quality: (i64::from(m.quality) - rng.range(0, 15)).clamp(20, 100) as u8,
        });
    }
    out.extend(random_minutiae(0x000F_1A6E_5EED, 3));
    single_view(2, 71, out)
}

/// A different finger: left index (position 7), 38 minutiae.
fn finger_2() -> FingerTemplate {
    single_view(7, 77, random_minutiae(0x000F_1A6E_0002, 38))
}

/// finger-1 cut off after 120 of its 270 bytes.
fn truncated() -> Vec<u8> {
    finger_1().to_bytes()[..120].to_vec()
}

// ---------------------------------------------------------------------------------------------
// Records

fn valid_1() -> EnrolmentRecord {
    EnrolmentRecord {
        tracking_code: "140309100001".into(),
        national_code: "0081493721".into(),
        given_name_fa: "علی‌رضا".into(),
        surname_fa: "محمدی".into(),
        given_name_latin: "Alireza".into(),
        surname_latin: "Mohammadi".into(),
        father_name_fa: "حسین".into(),
        father_name_latin: "Hossein".into(),
        gender: "M".into(),
        birth_date: "1368/06/15".into(),
        birth_place_fa: "تهران".into(),
        birth_place_latin: Some("Tehran".into()),
        certificate_number: "4821".into(),
        postal_code: "1345613478".into(),
        address: Some("تهران، خیابان آزادی، کوچه شانزدهم، پلاک ۱۲، واحد ۳".into()),
        issue_date: "1403/09/10".into(),
        expiry_date: "1410/09/10".into(),
        photo: "../photos/face-1.jpg".into(),
        fingerprint: "../fingerprints/finger-1.fmr".into(),
    }
}

/// Exercises the edges of valid input: Persian digits in codes, Arabic kaf and yeh in the
/// surname, a hyphenated postal code that draws a warning, a leap-day birth date, the optional
/// fields absent, a PNG photo that needs cropping.
fn valid_2() -> EnrolmentRecord {
    EnrolmentRecord {
        tracking_code: "140403010042".into(),
        national_code: "۲۲۸۱۵۹۶۴۰۰".into(),
        given_name_fa: "زهرا".into(),
        surname_fa: "كريمي".into(),
        given_name_latin: "Zahra".into(),
        surname_latin: "Karimi".into(),
        father_name_fa: "رضا".into(),
        father_name_latin: "Reza".into(),
        gender: "F".into(),
        birth_date: "1379/12/30".into(),
        birth_place_fa: "شیراز".into(),
        birth_place_latin: None,
        certificate_number: "۱۵۲۷".into(),
        postal_code: "71345-59891".into(),
        address: None,
        issue_date: "1404/03/01".into(),
        expiry_date: "1411/03/01".into(),
        photo: "../photos/face-2.png".into(),
        fingerprint: "../fingerprints/finger-2.fmr".into(),
    }
}

fn pretty(record: &EnrolmentRecord) -> String {
    serde_json::to_string_pretty(record).unwrap() + "\n"
}

/// Each invalid record: file name, JSON text, the one-line error `validate` must give.
fn invalid_records() -> Vec<(&'static str, String, &'static str)> {
    let change = |f: &dyn Fn(&mut EnrolmentRecord)| {
        let mut r = valid_1();
        f(&mut r);
        pretty(&r)
    };
    let base = pretty(&valid_1());
    vec![
        (
            "invalid-check-digit.json",
            change(&|r| r.national_code = "0081493724".into()),
            "national_code: check digit is 4, expected 1 — re-type the code from the birth certificate",
        ),
        (
            "invalid-national-code-all-equal.json",
            change(&|r| r.national_code = "5555555555".into()),
            "national_code: has all ten digits the same (5555555555), which is never issued — re-type the code from the birth certificate",
        ),
        (
            "invalid-national-code-number.json",
            base.replace("\"0081493721\"", "81493721"),
            "national_code: is a number, not a string — write it in quotes so leading zeros survive, e.g. \"0012345679\"",
        ),
        (
            "invalid-postal-code-leading-zero.json",
            change(&|r| r.postal_code = "0345613478".into()),
            "postal_code: has the digit 0 at position 1; the first five digits are never 0 or 2 — re-type the code from a utility bill or the post's lookup service",
        ),
        (
            "invalid-issue-date-1404-12-30.json",
            change(&|r| r.issue_date = "1404/12/30".into()),
            "issue_date: 1404/12/30 does not exist: Esfand 1404 has 29 days (it is not a leap year) — check the date on the source document (Solar Hijri, not Gregorian)",
        ),
        (
            "invalid-expiry-before-issue.json",
            change(&|r| r.expiry_date = "1402/09/10".into()),
            "expiry_date: 1402/09/10 is not after the issue date 1403/09/10 — check both dates; a card expires after it is issued",
        ),
        (
            "invalid-latin-in-persian-field.json",
            change(&|r| r.given_name_fa = "Alireza".into()),
            "given_name_fa: contains Latin letters (\"Alireza\"); this field is written in Persian script — write it in Persian letters (spaces and ZWNJ allowed, no digits or punctuation)",
        ),
        (
            "invalid-photo-not-an-image.json",
            change(&|r| r.photo = "../photos/not-an-image.jpg".into()),
            "photo: not a JPEG or PNG image — supply the face photo as a JPEG or PNG file",
        ),
        (
            "invalid-fingerprint-truncated.json",
            change(&|r| r.fingerprint = "../fingerprints/truncated.fmr".into()),
            "fingerprint: the record header says 270 bytes but the record has 120 — the file is cut short or padded: export the template from the scanner again",
        ),
        (
            "invalid-unknown-field.json",
            base.replace(
                "  \"given_name_fa\"",
                "  \"middle_name_fa\": \"محمد\",\n  \"given_name_fa\"",
            ),
            "middle_name_fa: is not a field of an enrolment record — remove it or correct its spelling; the fields are listed in fixtures/README.md",
        ),
        (
            "invalid-malformed-json.json",
            base.replace("\"fingerprint\": \"../fingerprints/finger-1.fmr\"\n", "\"fingerprint\": \"../fingerprints/finger-1.fmr\",\n"),
            "record: ../../fixtures/records/invalid-malformed-json.json:21:1: trailing comma — fix the JSON syntax",
        ),
    ]
}

/// Every fixture file (path under `fixtures/`, bytes), except the photos' JPEG/PNG encodings,
/// which depend on the `image` version; those are listed by [`photo_files`].
fn generated_files() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        (
            "fingerprints/finger-1.fmr".to_owned(),
            finger_1().to_bytes(),
        ),
        (
            "fingerprints/finger-1-live.fmr".to_owned(),
            finger_1_live().to_bytes(),
        ),
        (
            "fingerprints/finger-2.fmr".to_owned(),
            finger_2().to_bytes(),
        ),
        ("fingerprints/truncated.fmr".to_owned(), truncated()),
        (
            "photos/not-an-image.jpg".to_owned(),
            b"This file is plain text with a .jpg name: melli must refuse it as a photo.\n"
                .to_vec(),
        ),
        (
            "records/valid-1.json".to_owned(),
            pretty(&valid_1()).into_bytes(),
        ),
        (
            "records/valid-2.json".to_owned(),
            pretty(&valid_2()).into_bytes(),
        ),
    ];
    for (name, json, _) in invalid_records() {
        files.push((format!("records/{name}"), json.into_bytes()));
    }
    files
}

const PHOTOS: [&str; 2] = ["photos/face-1.jpg", "photos/face-2.png"];

fn photo_files() -> Vec<(String, Vec<u8>)> {
    vec![
        (PHOTOS[0].to_owned(), jpeg(&face_1(), 92)),
        (PHOTOS[1].to_owned(), png(&face_2())),
    ]
}

#[test]
#[ignore = "writes fixtures/; run with MELLI_WRITE_FIXTURES=1 after changing the generator"]
fn write_fixtures() {
    if std::env::var_os("MELLI_WRITE_FIXTURES").is_none() {
        return;
    }
    for (path, bytes) in generated_files().into_iter().chain(photo_files()) {
        let full = root().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, bytes).unwrap();
    }
}

#[test]
fn committed_fixtures_are_what_the_generator_makes() {
    for (path, bytes) in generated_files() {
        let committed = std::fs::read(root().join(&path))
            .unwrap_or_else(|e| panic!("fixtures/{path}: {e}; regenerate the fixtures"));
        assert!(
            committed == bytes,
            "fixtures/{path} differs from the generator's output"
        );
    }
    for path in PHOTOS {
        assert!(root().join(path).is_file(), "fixtures/{path} is missing");
    }
}

/// A fixed "today", so that the fixture tests do not depend on the clock.
fn today() -> JalaliDate {
    JalaliDate::parse("1404/08/01").unwrap()
}

/// The sample records as a user names them: a relative path, here from this crate's directory
/// (where `cargo test` runs the unit tests) to the repository's `fixtures/`.
const RECORDS: &str = "../../fixtures/records";

fn load(name: &str) -> (EnrolmentRecord, PathBuf) {
    let path = Path::new(RECORDS).join(name);
    let record = EnrolmentRecord::from_json_file(&path).unwrap();
    (record, super::enrolment::base_dir_of(&path))
}

#[test]
fn valid_1_validates_and_round_trips() {
    let (record, base) = load("valid-1.json");
    let valid = record.validate_on(&base, today()).unwrap();
    assert!(valid.warnings().is_empty(), "{:?}", valid.warnings());
    let id = valid.identity();
    assert_eq!(id.national_code().to_string(), "0081493721");
    assert_eq!(id.given_name_fa().as_str(), "علی\u{200C}رضا");
    assert_eq!(id.birth_date().with_gregorian(), "1368/06/15 (1989-09-06)");
    assert_eq!(valid.tracking_code().as_str(), "140309100001");
    assert_eq!(Identity::from_dg(&valid.identity_dg()).unwrap(), *id);
    assert_eq!(
        Address::from_dg(&valid.address_dg()).unwrap(),
        *valid.address()
    );
    assert_eq!(
        FaceImage::from_card_bytes(valid.photo_dg())
            .unwrap()
            .as_bytes(),
        valid.photo_dg()
    );
    let finger = std::fs::read(root().join("fingerprints/finger-1.fmr")).unwrap();
    assert_eq!(valid.fingerprint_dg(), finger);
    assert_eq!(valid.fingerprint().minutia_count(), 40);
    // And through the clock-reading entry points.
    assert!(record.validate(&base).is_ok());
    assert!(super::ValidRecord::load(&Path::new(RECORDS).join("valid-1.json")).is_ok());
}

#[test]
fn valid_2_is_normalized_and_warns() {
    let (record, base) = load("valid-2.json");
    let valid = record.validate_on(&base, today()).unwrap();
    let id = valid.identity();
    assert_eq!(id.national_code().to_string(), "2281596400");
    assert_eq!(id.surname_fa().as_str(), "کریمی");
    assert_eq!(id.certificate_number().as_str(), "1527");
    assert_eq!(id.birth_date().to_string(), "1379/12/30");
    assert!(id.birth_place_latin().is_none());
    assert!(valid.address().text().is_none());
    assert_eq!(valid.address().postal_code().to_string(), "7134559891");
    let warnings: Vec<String> = valid.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        ["postal_code: the fifth digit is 5, which some sources say never happens (unconfirmed) — check the code"]
    );
    assert_eq!(Identity::from_dg(&valid.identity_dg()).unwrap(), *id);
}

#[test]
fn each_invalid_record_fails_on_its_one_field() {
    for (name, _, expected) in invalid_records() {
        let path = Path::new(RECORDS).join(name);
        let base = super::enrolment::base_dir_of(&path);
        let result: Result<Vec<ValidationError>, ValidationError> =
            EnrolmentRecord::from_json_file(&path).map(|r| match r.validate_on(&base, today()) {
                Ok(_) => Vec::new(),
                Err(errors) => errors,
            });
        let errors = match result {
            Ok(errors) => errors,
            Err(parse_error) => vec![parse_error],
        };
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(lines, [expected], "{name}");
    }
}

#[test]
fn live_finger_matches_enrolled_one_and_other_finger_does_not() {
    // Undo the known transform and count minutiae of the live template that land within
    // 8 px of an enrolled one: a sanity check of the fixtures for match-on-card.
    let (cos, sin) = (0.994_521_895_368_273_3_f64, 0.104_528_463_267_653_47_f64);
    let close = |enrolled: &FingerTemplate, live: &FingerTemplate| {
        live.minutiae()
            .filter(|m| {
                let (x, y) = (
                    f64::from(m.x) - LIVE_SHIFT.0 - 250.0,
                    f64::from(m.y) - LIVE_SHIFT.1 - 250.0,
                );
                let (ox, oy) = (250.0 + x * cos + y * sin, 250.0 - x * sin + y * cos);
                enrolled
                    .minutiae()
                    .any(|e| (f64::from(e.x) - ox).hypot(f64::from(e.y) - oy) <= 8.0)
            })
            .count()
    };
    let live = finger_1_live();
    assert_eq!(live.minutia_count(), 39);
    assert!(
        close(&finger_1(), &live) >= 34,
        "{}",
        close(&finger_1(), &live)
    );
    assert!(
        close(&finger_2(), &live) <= 8,
        "{}",
        close(&finger_2(), &live)
    );
}

#[test]
fn photos_are_brought_to_the_card_form() {
    for (path, size) in [
        ("photos/face-1.jpg", (600, 800)),
        ("photos/face-2.png", (900, 1000)),
    ] {
        let bytes = std::fs::read(root().join(path)).unwrap();
        let source = image::load_from_memory(&bytes).unwrap();
        assert_eq!((source.width(), source.height()), size, "{path}");
        let face = FaceImage::from_photo(&bytes).unwrap();
        let card = image::load_from_memory(face.as_bytes()).unwrap();
        assert_eq!((card.width(), card.height()), (240, 320));
        assert!(face.as_bytes().len() <= 15_000);
    }
}

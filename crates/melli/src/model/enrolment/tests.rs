use super::*;
use crate::model::fingerprint::{CaptureInfo, FingerView, Minutia, MinutiaKind};
use crate::model::jalali::JalaliDate;
use crate::model::national_code::NationalCode;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn today() -> JalaliDate {
    JalaliDate::parse("1404/08/01").unwrap()
}

/// A folder holding `face.jpg` and `finger.fmr`, and a valid record pointing at them.
fn setup() -> (tempfile::TempDir, EnrolmentRecord) {
    let dir = tempfile::tempdir().unwrap();
    // A small smooth photo already at the card's size keeps these tests fast; the fixture
    // tests and photo.rs exercise real conversions.
    let face = image::RgbImage::from_fn(240, 320, |x, y| {
        image::Rgb([200 - (y / 4) as u8, 180, 150 + (x / 4) as u8])
    });
    face.save_with_format(dir.path().join("face.jpg"), image::ImageFormat::Jpeg)
        .unwrap();
    std::fs::copy(
        fixtures().join("fingerprints/finger-1.fmr"),
        dir.path().join("finger.fmr"),
    )
    .unwrap();
    let record = EnrolmentRecord {
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
        address: Some("تهران، خیابان آزادی".into()),
        issue_date: "1403/09/10".into(),
        expiry_date: "1410/09/10".into(),
        photo: "face.jpg".into(),
        fingerprint: "finger.fmr".into(),
    };
    (dir, record)
}

fn errors_of(record: &EnrolmentRecord, dir: &Path) -> Vec<String> {
    match record.validate_on(dir, today()) {
        Ok(_) => vec![],
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn write_template(dir: &Path, name: &str, minutiae: usize, views: usize) {
    let views = (0..views)
        .map(|v| FingerView {
            finger_position: v as u8 % 11,
            view_number: (v / 11) as u8,
            impression_type: 0,
            quality: 80,
            minutiae: (0..minutiae)
                .map(|i| Minutia {
                    kind: MinutiaKind::RidgeEnding,
                    x: (i * 7 % 500) as u16,
                    y: (i * 13 % 500) as u16,
                    angle: 0,
                    quality: 50,
                })
                .collect(),
            extended_data: vec![],
        })
        .collect();
    let capture = CaptureInfo {
        capture_equipment: 0,
        width: 500,
        height: 500,
        x_resolution: 197,
        y_resolution: 197,
    };
    let t = FingerTemplate::new(capture, views).unwrap();
    std::fs::write(dir.join(name), t.to_bytes()).unwrap();
}

#[test]
fn the_base_record_is_valid() {
    let (dir, record) = setup();
    let valid = record.validate_on(dir.path(), today()).unwrap();
    assert!(valid.warnings().is_empty());
    assert!(valid.identity_dg().len() <= 1024);
    assert!(valid.address_dg().len() <= 256);
    assert!(valid.photo_dg().len() <= 15_000);
    assert_eq!(valid.fingerprint_dg().len(), 270);
    assert_eq!(FINGERPRINT_CAPACITY, 4096);
}

#[test]
fn one_error_per_bad_field() {
    type Change = fn(&mut EnrolmentRecord);
    let cases: Vec<(Change, &str)> = vec![
        (
            |r| r.tracking_code = "14-03".into(),
            "tracking_code: contains '-'; a tracking code has Latin letters and digits only — copy the tracking code from the enrolment receipt",
        ),
        (
            |r| r.national_code = "0081493724".into(),
            "national_code: check digit is 4, expected 1 — re-type the code from the birth certificate",
        ),
        (
            |r| r.national_code = "008149372".into(),
            "national_code: has 9 digits, a national code has 10 — type the 10 digits of the code (leading zeros included)",
        ),
        (
            |r| r.surname_fa = "".into(),
            "surname_fa: is empty — fill it in",
        ),
        (
            |r| r.given_name_latin = "علی".into(),
            "given_name_latin: contains 'ع' (U+0639); only the Latin letters A-Z, a-z, space, hyphen and apostrophe are allowed — transliterate it into plain Latin letters",
        ),
        (
            |r| r.surname_latin = "Mohammadi2".into(),
            "surname_latin: contains '2' (U+0032); only the Latin letters A-Z, a-z, space, hyphen and apostrophe are allowed — transliterate it into plain Latin letters",
        ),
        (
            |r| r.father_name_fa = "حسین1".into(),
            "father_name_fa: contains '1' (U+0031), which is not a Persian letter — write it in Persian letters (spaces and ZWNJ allowed, no digits or punctuation)",
        ),
        (
            |r| r.father_name_latin = "".into(),
            "father_name_latin: is empty — fill it in",
        ),
        (
            |r| r.gender = "male".into(),
            "gender: is \"male\"; write \"M\" or \"F\" — use \"M\" or \"F\" as on the birth certificate",
        ),
        (
            |r| r.birth_date = "15/06/1368".into(),
            "birth_date: is \"15/06/1368\", not a date written YYYY/MM/DD — write the Solar Hijri date as YYYY/MM/DD, e.g. 1370/06/31",
        ),
        (
            |r| r.birth_date = "1989/09/06".into(),
            "birth_date: year 1989 is outside 1200–1599; it looks like a Gregorian year — check the date on the source document (Solar Hijri, not Gregorian)",
        ),
        (
            |r| r.birth_place_fa = "Tehran".into(),
            "birth_place_fa: contains Latin letters (\"Tehran\"); this field is written in Persian script — write it in Persian letters (spaces and ZWNJ allowed, no digits or punctuation)",
        ),
        (
            |r| r.birth_place_latin = Some("تهران".into()),
            "birth_place_latin: contains 'ت' (U+062A); only the Latin letters A-Z, a-z, space, hyphen and apostrophe are allowed — transliterate it into plain Latin letters",
        ),
        (
            |r| r.certificate_number = "48a1".into(),
            "certificate_number: contains 'a'; a certificate number has digits only — copy the number from the birth certificate (digits only)",
        ),
        (
            |r| r.postal_code = "1111613478".into(),
            "postal_code: begins with four equal digits (1111), which no postal code does — re-type the code from a utility bill or the post's lookup service",
        ),
        (
            |r| r.address = Some("  ".into()),
            "address: is empty — fill it in",
        ),
        (
            |r| r.issue_date = "1403/07/31".into(),
            "issue_date: 1403/07/31 does not exist: Mehr 1403 has 30 days — check the date on the source document (Solar Hijri, not Gregorian)",
        ),
        (
            |r| r.expiry_date = "".into(),
            "expiry_date: is empty — write the Solar Hijri date as YYYY/MM/DD, e.g. 1370/06/31",
        ),
        (
            |r| r.issue_date = "1368/06/15".into(),
            "issue_date: 1368/06/15 is not after the birth date 1368/06/15 — check both dates",
        ),
        (
            |r| r.expiry_date = "1403/09/10".into(),
            "expiry_date: 1403/09/10 is not after the issue date 1403/09/10 — check both dates; a card expires after it is issued",
        ),
        (
            |r| r.photo = "".into(),
            "photo: is empty — give the file's path, relative to the record file",
        ),
        (
            |r| r.photo = "finger.fmr".into(),
            "photo: not a JPEG or PNG image — supply the face photo as a JPEG or PNG file",
        ),
        (
            |r| r.fingerprint = "face.jpg".into(),
            "fingerprint: the record does not begin with \"FMR\\0\" (it begins with FF D8 FF E0), so it is not an ISO/IEC 19794-2 finger minutiae record — export the template as ISO/IEC 19794-2:2005 (FMR, version 20)",
        ),
    ];
    let (dir, base) = setup();
    for (change, expected) in cases {
        let mut record = base.clone();
        change(&mut record);
        assert_eq!(errors_of(&record, dir.path()), [expected]);
    }
}

#[test]
fn validate_stops_at_the_first_error() {
    let (dir, mut record) = setup();
    record.gender = "X".into();
    record.national_code = "0081493724".into();
    assert_eq!(
        record.validate(dir.path()).unwrap_err().to_string(),
        "national_code: check digit is 4, expected 1 — re-type the code from the birth certificate"
    );
}

#[test]
fn birth_in_the_future() {
    let (dir, mut record) = setup();
    record.birth_date = "1404/09/01".into();
    assert_eq!(
        errors_of(&record, dir.path()),
        [
            "birth_date: 1404/09/01 (2025-11-22) is in the future (today is 1404/08/01) — check the year; dates are Solar Hijri",
            "issue_date: 1403/09/10 is not after the birth date 1404/09/01 — check both dates",
        ]
    );
}

#[test]
fn files_that_cannot_be_read() {
    let (dir, mut record) = setup();
    record.photo = "missing.jpg".into();
    record.fingerprint = ".".into();
    let errors = errors_of(&record, dir.path());
    assert_eq!(errors.len(), 2, "{errors:?}");
    let missing = dir.path().join("missing.jpg");
    assert!(
        errors[0].starts_with(&format!("photo: cannot read {}: ", missing.display())),
        "{}",
        errors[0]
    );
    assert!(errors[0].ends_with(" — the path is relative to the folder of the record file"));
    assert_eq!(
        errors[1],
        format!(
            "fingerprint: {}: not a regular file (a directory); give the fingerprint record as a file — the path is relative to the folder of the record file",
            dir.path().join(".").display()
        )
    );
}

#[test]
fn every_problem_is_reported_in_field_order() {
    let (dir, mut record) = setup();
    record.national_code = "1111111111".into();
    record.gender = "X".into();
    record.expiry_date = "1400/01/01".into();
    record.fingerprint = "nothing.fmr".into();
    let fields: Vec<String> = record
        .validate_on(dir.path(), today())
        .unwrap_err()
        .iter()
        .map(|e| e.field.to_string())
        .collect();
    assert_eq!(
        fields,
        ["national_code", "gender", "expiry_date", "fingerprint"]
    );
}

#[test]
fn photo_too_small() {
    let (dir, mut record) = setup();
    let small = image::RgbImage::from_pixel(120, 160, image::Rgb([200, 200, 200]));
    small.save(dir.path().join("small.png")).unwrap();
    record.photo = "small.png".into();
    assert_eq!(
        errors_of(&record, dir.path()),
        ["photo: the image is 120x160 px; cropped to 3:4 it is 120x160, smaller than 240x320 — take or scan the photo at a higher resolution"]
    );
}

#[test]
fn fingerprint_limits() {
    let (dir, mut record) = setup();
    write_template(dir.path(), "empty.fmr", 0, 1);
    record.fingerprint = "empty.fmr".into();
    assert_eq!(
        errors_of(&record, dir.path()),
        ["fingerprint: the record holds no minutiae — capture the finger again"]
    );
    // 3 views of 250 minutiae: 24 + 3 * (4 + 1500 + 2) = 4542 bytes.
    write_template(dir.path(), "big.fmr", 250, 3);
    record.fingerprint = "big.fmr".into();
    assert_eq!(
        errors_of(&record, dir.path()),
        ["fingerprint: the record is 4542 bytes, the card's fingerprint file holds 4096 — export fewer views or minutiae from the scanner"]
    );
}

#[test]
fn warnings() {
    let (dir, mut record) = setup();
    write_template(dir.path(), "few.fmr", 5, 1);
    record.fingerprint = "few.fmr".into();
    record.postal_code = "1345612478".into();
    record.issue_date = "1404/09/01".into();
    record.expiry_date = "1404/10/01".into();
    let valid = record.validate_on(dir.path(), today()).unwrap();
    let shown: Vec<String> = valid.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "postal_code: has a 2 at position 7, which some sources say never appears in the last five digits (unconfirmed) — check the code",
            "issue_date: 1404/09/01 is after today (1404/08/01) — check the date",
            "fingerprint: the record holds only 5 minutiae, so match-on-card may fail — capture the finger again if you can",
        ]
    );

    let (dir, mut record) = setup();
    record.expiry_date = "1404/08/01".into();
    let valid = record.validate_on(dir.path(), today()).unwrap();
    let shown: Vec<String> = valid.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        ["expiry_date: 1404/08/01 is not after today (1404/08/01), so the card is issued expired — check the date"]
    );
}

#[test]
fn implausible_values_draw_warnings() {
    let (dir, mut record) = setup();
    record.birth_date = "1204/06/15".into();
    record.expiry_date = "1599/09/10".into();
    // The first code of nine equal digits (one other digit anywhere) that passes the check
    // digit.
    let code = (1..=9u8)
        .flat_map(|d| (0..10).flat_map(move |at| (0..=9u8).map(move |v| (d, at, v))))
        .map(|(d, at, v)| {
            (0..10)
                .map(|i| char::from(b'0' + if i == at { v } else { d }))
                .collect::<String>()
        })
        .find(|c| NationalCode::parse(c).is_ok())
        .unwrap();
    record.national_code = code.clone();
    let valid = record.validate_on(dir.path(), today()).unwrap();
    let shown: Vec<String> = valid.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            format!("national_code: {code} has nine digits {}, which looks typed to fill the field — compare it with the birth certificate before issuing", &code[..1]),
            "birth_date: 1204/06/15 makes the holder 199 years old on the issue date, older than anyone living (more than 120) — check the year; dates are Solar Hijri".to_owned(),
            "expiry_date: 1599/09/10 is 196 years after the issue date 1403/09/10; a card is valid for at most 15 — check the year; dates are Solar Hijri".to_owned(),
        ]
    );
    let (dir, mut record) = setup();
    record.national_code = (0..=9)
        .map(|d| format!("000123456{d}"))
        .find(|c| NationalCode::parse(c).is_ok())
        .unwrap();
    let valid = record.validate_on(dir.path(), today()).unwrap();
    assert_eq!(valid.warnings().len(), 1);
    assert!(valid.warnings()[0]
        .to_string()
        .contains("begins with 000, which no registration office's code does"));
    // 120 years exactly is still plausible; 15 years of validity too.
    let (dir, mut record) = setup();
    record.birth_date = "1283/09/10".into();
    record.expiry_date = "1418/09/10".into();
    assert!(record
        .validate_on(dir.path(), today())
        .unwrap()
        .warnings()
        .is_empty());
}

#[test]
fn json_shape_errors() {
    let (_, record) = setup();
    let good = serde_json::to_string_pretty(&record).unwrap();
    assert_eq!(EnrolmentRecord::from_json_str(&good).unwrap(), record);

    let without_optional = good
        .replace("  \"birth_place_latin\": \"Tehran\",\n", "")
        .replace(
            "  \"address\": \"تهران، خیابان آزادی\",\n",
            "  \"address\": null,\n",
        );
    let parsed = EnrolmentRecord::from_json_str(&without_optional).unwrap();
    assert_eq!(parsed.birth_place_latin, None);
    assert_eq!(parsed.address, None);

    let cases: Vec<(String, &str)> = vec![
        (
            "{".into(),
            "record: line 1, column 1: EOF while parsing an object — fix the JSON syntax",
        ),
        (
            "[1, 2]".into(),
            "record: the JSON is an array, not an object — an enrolment record is one JSON object; see fixtures/README.md",
        ),
        (
            good.replace("\"gender\": \"M\"", "\"gender\": true"),
            "gender: is a boolean, not a string — write it as a JSON string in quotes",
        ),
        (
            good.replace("\"postal_code\": \"1345613478\"", "\"postal_code\": 1345613478"),
            "postal_code: is a number, not a string — write it in quotes so leading zeros survive, e.g. \"1345613478\"",
        ),
        (
            format!("\u{FEFF}{good}"),
            "record: the text begins with a byte-order mark (U+FEFF, bytes EF BB BF), which JSON does not allow — save the record as UTF-8 without a byte-order mark (BOM)",
        ),
        (
            good.replace("\"140309100001\"", "\"14\\ud800\""),
            "record: line 2, column 29: a \\u escape is half of a UTF-16 surrogate pair (\\ud800–\\udfff) without its other half, which is no character — write the character itself, or both halves of the pair (e.g. \\ud83d\\ude00)",
        ),
        (
            good.replace("\"140309100001\"", "\"\\udc00\""),
            "record: line 2, column 26: a \\u escape is half of a UTF-16 surrogate pair (\\ud800–\\udfff) without its other half, which is no character — write the character itself, or both halves of the pair (e.g. \\ud83d\\ude00)",
        ),
        (
            good.replace("\"gender\": \"M\"", "\"gender\": null"),
            "gender: is null, not a string — write it as a JSON string in quotes",
        ),
        (
            good.replace("\"address\": \"تهران، خیابان آزادی\"", "\"address\": [\"x\"]"),
            "address: is an array, not a string — write it as a JSON string in quotes",
        ),
        (
            good.replace("  \"photo\": \"face.jpg\",\n", ""),
            "photo: is missing — add it; the fields are listed in fixtures/README.md",
        ),
        (
            good.replace("\"gender\": \"M\",", "\"gender\": \"M\",\n  \"Gender\": \"M\","),
            "Gender: is not a field of an enrolment record — remove it or correct its spelling; the fields are listed in fixtures/README.md",
        ),
        (
            good.replace("\"gender\": \"M\",", "\"gender\": \"M\",\n  \"gender\": \"F\","),
            "gender: appears twice (line 11, column 10) — keep one of them",
        ),
    ];
    for (json, expected) in cases {
        let err = EnrolmentRecord::from_json_str(&json).unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
}

#[test]
fn json_file_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let err = EnrolmentRecord::from_json_file(&missing).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("record: cannot read {}: ", missing.display())),
        "{err}"
    );
    assert!(err
        .to_string()
        .ends_with(" — check the path of the record file"));

    let err = EnrolmentRecord::from_json_file(dir.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "record: cannot read {}: it is not a file — check the path of the record file",
            dir.path().display()
        )
    );

    let latin1 = dir.path().join("latin1.json");
    std::fs::write(&latin1, b"{\"given_name_fa\": \"\xe9\"}").unwrap();
    assert_eq!(
        EnrolmentRecord::from_json_file(&latin1)
            .unwrap_err()
            .to_string(),
        format!(
            "record: {} is not UTF-8 text — save the record as UTF-8 JSON",
            latin1.display()
        )
    );

    let big = dir.path().join("big.json");
    std::fs::write(&big, vec![b' '; MAX_RECORD_FILE as usize + 1]).unwrap();
    assert_eq!(
        EnrolmentRecord::from_json_file(&big).unwrap_err().to_string(),
        format!(
            "record: {} is 1048577 bytes, too large for an enrolment record — check that this is the record file",
            big.display()
        )
    );

    let bom = dir.path().join("bom.json");
    std::fs::write(&bom, b"\xEF\xBB\xBF{}").unwrap();
    assert_eq!(
        EnrolmentRecord::from_json_file(&bom).unwrap_err().to_string(),
        format!(
            "record: {} begins with a byte-order mark (U+FEFF, bytes EF BB BF), which JSON does not allow — save the record as UTF-8 without a byte-order mark (BOM)",
            bom.display()
        )
    );

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\n  \"a\": 1,\n}\n").unwrap();
    assert_eq!(
        EnrolmentRecord::from_json_file(&bad)
            .unwrap_err()
            .to_string(),
        format!(
            "record: {}:3:1: trailing comma — fix the JSON syntax",
            bad.display()
        )
    );
}

#[test]
fn base_dir_of_a_bare_file_name_is_the_current_folder() {
    assert_eq!(base_dir_of(Path::new("r.json")), PathBuf::from("."));
    assert_eq!(
        base_dir_of(Path::new("fixtures/records/r.json")),
        PathBuf::from("fixtures/records")
    );
}

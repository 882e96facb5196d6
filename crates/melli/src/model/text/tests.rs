use super::*;
use proptest::prelude::*;

#[test]
fn normalization_table() {
    let cases: &[(&str, &str, &str)] = &[
        ("arabic yeh", "علي", "علی"),
        ("alef maksura", "موسى", "موسی"),
        ("arabic kaf", "كريم", "کریم"),
        ("kaf and yeh", "كريمي", "کریمی"),
        ("tatweel removed", "محـــمد", "محمد"),
        ("zwnj kept", "علی\u{200C}رضا", "علی\u{200C}رضا"),
        ("teh marbuta kept", "فاطمة", "فاطمة"),
        ("spaces collapsed", "  سید   محمد\t\n", "سید محمد"),
        ("arabic-indic digits", "پلاک ٣", "پلاک ۳"),
        ("vowel marks removed", "مُحَمَّد", "محمد"),
        ("tanwin removed", "حتماً", "حتما"),
        // YEH + HAMZA ABOVE composes (NFC) before yeh is unified: ئ, not ی + hamza.
        ("nfc before unification", "\u{064A}\u{0654}", "\u{0626}"),
        ("heh with hamza", "خانه\u{0654}", "خان\u{06C0}"),
        (
            "zwnj and hidden characters are not removed",
            "a\u{200C}\u{200C}b\u{200B}",
            "a\u{200C}\u{200C}b\u{200B}",
        ),
        ("persian digits kept", "پلاک ۳", "پلاک ۳"),
        // ALEF (U+0627) + HAMZA ABOVE (U+0654) composes to U+0623 under NFC.
        ("nfc", "\u{0627}\u{0654}حمد", "\u{0623}حمد"),
        // Presentation forms: ARABIC LETTER ALEF ISOLATED, LAM INITIAL, YEH FINAL.
        ("presentation forms", "\u{FE8D}\u{FEDF}\u{FEF2}", "الی"),
        ("empty", "   ", ""),
    ];
    for (name, input, expected) in cases {
        assert_eq!(normalize_persian(input), *expected, "{name}");
    }
}

#[test]
fn ascii_digits_table() {
    assert_eq!(ascii_digits("۰۱۲۳۴۵۶۷۸۹"), "0123456789");
    assert_eq!(ascii_digits("٠١٢٣٤٥٦٧٨٩"), "0123456789");
    assert_eq!(ascii_digits("12/۳٤"), "12/34");
}

#[test]
fn persian_text_accepts() {
    for (input, stored) in [
        ("محمد", "محمد"),
        ("علی‌رضا", "علی\u{200C}رضا"),
        ("سید محمد", "سید محمد"),
        ("كاظم", "کاظم"),
        ("مُحَمَّد", "محمد"),
        ("آ\u{0653}", "آ\u{0653}"),
    ] {
        assert_eq!(
            PersianText::parse(input).unwrap().as_str(),
            stored,
            "{input}"
        );
    }
}

#[test]
fn persian_text_errors() {
    let long = "م".repeat(49); // 98 bytes
    let cases: Vec<(&str, &str)> = vec![
        ("", "is empty"),
        ("   ", "is empty"),
        (
            long.as_str(),
            "is 98 bytes in UTF-8, at most 96 fit on the card",
        ),
        (
            "Ali",
            "contains Latin letters (\"Ali\"); this field is written in Persian script",
        ),
        (
            "علی2",
            "contains '2' (U+0032), which is not a Persian letter",
        ),
        (
            "علی۲",
            "contains '۲' (U+06F2), which is not a Persian letter",
        ),
        (
            "علی، رضا",
            "contains '،' (U+060C), which is not a Persian letter",
        ),
        (
            "\u{200C}علی",
            "begins with ZWNJ (U+200C); a name begins with a letter",
        ),
        (
            "علی\u{200C}",
            "ends with ZWNJ (U+200C); a name ends with a letter",
        ),
        (
            "\u{0654}علی",
            "begins with U+0654; a name begins with a letter",
        ),
        (
            "علی\t\u{0001}",
            "contains U+0001, which is not a Persian letter",
        ),
        (
            "علی\u{200C}\u{200C}رضا",
            "has a ZWNJ (U+200C) next to another ZWNJ; a ZWNJ stands once, between two letters",
        ),
        (
            "علی\u{200C} رضا",
            "has a ZWNJ (U+200C) beside a space; a ZWNJ stands once, between two letters",
        ),
        (
            "علی \u{200C}رضا",
            "has a ZWNJ (U+200C) beside a space; a ZWNJ stands once, between two letters",
        ),
        (
            "علی\u{200B}رضا",
            "contains the invisible character U+200B; only a ZWNJ between two letters may be invisible",
        ),
        (
            "علی\u{E0041}",
            "contains the invisible character U+E0041; only a ZWNJ between two letters may be invisible",
        ),
        (
            "علی\u{200D}رضا",
            "contains the invisible character U+200D; only a ZWNJ between two letters may be invisible",
        ),
        (
            "علی \u{0654}رضا",
            "has the mark U+0654 after a space; a mark follows a letter",
        ),
    ];
    for (input, message) in cases {
        let err = PersianText::parse(input).unwrap_err();
        assert_eq!(err.to_string(), message, "{input:?}");
    }
}

#[test]
fn persian_text_at_limit() {
    let exact = "م".repeat(48); // 96 bytes
    assert!(PersianText::parse(&exact).is_ok());
}

#[test]
fn from_normalized_refuses_unnormalized() {
    let err = PersianText::from_normalized("علي").unwrap_err();
    assert_eq!(
        err.to_string(),
        "is not in normalized form (expected \"علی\")"
    );
    assert!(PersianText::from_normalized("علی").is_ok());
    assert!(LatinName::from_normalized("Ali  Reza").is_err());
    assert!(LatinName::from_normalized("Ali Reza").is_ok());
    assert!(AddressText::from_normalized(" x").is_err());
}

#[test]
fn latin_name_accepts() {
    for (input, stored) in [
        ("Ali", "Ali"),
        ("  Mohammad   Reza ", "Mohammad Reza"),
        ("Ali-Reza", "Ali-Reza"),
        ("O'Hara", "O'Hara"),
        ("O\u{2019}Hara", "O'Hara"),
    ] {
        assert_eq!(LatinName::parse(input).unwrap().as_str(), stored);
    }
}

#[test]
fn latin_name_errors() {
    let long = "a".repeat(97);
    let cases: Vec<(&str, &str)> = vec![
        ("", "is empty"),
        (long.as_str(), "is 97 bytes in UTF-8, at most 96 fit on the card"),
        (
            "علی",
            "contains 'ع' (U+0639); only the Latin letters A-Z, a-z, space, hyphen and apostrophe are allowed",
        ),
        (
            "Ali2",
            "contains '2' (U+0032); only the Latin letters A-Z, a-z, space, hyphen and apostrophe are allowed",
        ),
        (
            "Ézra",
            "contains 'É' (U+00C9); only the Latin letters A-Z, a-z, space, hyphen and apostrophe are allowed",
        ),
        ("-Ali", "begins with '-' (U+002D); a name begins with a letter"),
        ("Ali'", "ends with ''' (U+0027); a name ends with a letter"),
    ];
    for (input, message) in cases {
        let err = LatinName::parse(input).unwrap_err();
        assert_eq!(err.to_string(), message, "{input:?}");
    }
}

#[test]
fn address_text() {
    let a = AddressText::parse("تهران،  خيابان آزادی، پلاک ٣، واحد ۱۲").unwrap();
    assert_eq!(a.as_str(), "تهران، خیابان آزادی، پلاک 3، واحد 12");
    assert_eq!(
        AddressText::parse("کوچه\u{200C}\u{200C}ی")
            .unwrap_err()
            .to_string(),
        "has a ZWNJ (U+200C) next to another ZWNJ; a ZWNJ stands once, between two letters"
    );
    assert_eq!(
        AddressText::parse("\u{200C}تهران").unwrap_err().to_string(),
        "has a ZWNJ (U+200C) at the start; a ZWNJ stands once, between two letters"
    );
    assert_eq!(
        AddressText::parse("پلاک\u{200C}3").unwrap_err().to_string(),
        "has a ZWNJ (U+200C) beside '3' (U+0033); a ZWNJ stands once, between two letters"
    );
    assert_eq!(
        AddressText::parse("تهران\u{E0001}").unwrap_err().to_string(),
        "contains the invisible character U+E0001; only a ZWNJ between two letters may be invisible"
    );
    assert!(AddressText::parse("خانه\u{200C}ی ما").is_ok());
    assert_eq!(AddressText::parse("").unwrap_err(), TextError::Empty);
    assert_eq!(
        AddressText::parse("a\u{202E}b").unwrap_err().to_string(),
        "contains the invisible character U+202E; only a ZWNJ between two letters may be invisible"
    );
    assert_eq!(
        AddressText::parse("a\u{7}b").unwrap_err().to_string(),
        "contains the control character U+0007"
    );
    let long = "آ".repeat(101);
    assert_eq!(
        AddressText::parse(&long).unwrap_err().to_string(),
        "is 202 bytes in UTF-8, at most 200 fit on the card"
    );
}

#[test]
fn every_error_has_a_hint() {
    let errors = [
        TextError::Empty,
        TextError::TooLong { len: 1, max: 0 },
        TextError::LatinInPersian { found: "a".into() },
        TextError::NotPersian { found: 'a' },
        TextError::NotLatin { found: 'a' },
        TextError::BadStart { found: '-' },
        TextError::BadEnd { found: '-' },
        TextError::Control { found: '\0' },
        TextError::NotNormalized {
            expected: String::new(),
        },
        TextError::Hidden { found: '\u{200B}' },
        TextError::Zwnj {
            place: String::new(),
        },
        TextError::StrayMark {
            found: '\u{0654}',
            after: ' ',
        },
    ];
    for e in errors {
        assert!(!e.hint().is_empty());
    }
}

#[test]
fn serde_goes_through_parse() {
    let p: PersianText = serde_json::from_str("\"علي\"").unwrap();
    assert_eq!(p.as_str(), "علی");
    assert!(serde_json::from_str::<LatinName>("\"علی\"").is_err());
    assert_eq!(serde_json::to_string(&p).unwrap(), "\"علی\"");
}

proptest! {
    #[test]
    fn normalization_is_idempotent(s in "\\PC{0,40}") {
        let once = normalize_persian(&s);
        prop_assert_eq!(normalize_persian(&once), once.clone());
    }

    #[test]
    fn parsed_persian_is_normalized(s in "[\u{0621}-\u{064A}\u{06A9}\u{06CC}\u{200C} ]{1,30}") {
        if let Ok(p) = PersianText::parse(&s) {
            prop_assert!(PersianText::from_normalized(p.as_str()).is_ok());
            let stray = ['\u{064A}', '\u{0643}', '\u{0640}'];
            prop_assert!(!p.as_str().contains(stray), "unnormalized letter left");
        }
    }
}

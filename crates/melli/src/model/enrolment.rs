//! The enrolment record: what an issuance centre knows about one applicant, as JSON, and its
//! validation into typed card data before anything touches a card (DESIGN §5, issue 3 item 2).
//!
//! The format is documented field by field on [`EnrolmentRecord`] and in
//! `fixtures/README.md`; `fixtures/records/` holds samples.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::certificate_number::{CertificateNumber, CertificateNumberError};
use super::fingerprint::{FingerTemplate, FingerprintError};
use super::identity::{Gender, GenderError, Identity};
use super::jalali::{JalaliDate, JalaliDateError};
use super::national_code::{NationalCode, NationalCodeError};
use super::photo::{FaceImage, PhotoError, MAX_BYTES as PHOTO_MAX_BYTES};
use super::postal_code::{PostalCode, PostalCodeError};
use super::text::{AddressText, LatinName, PersianText, TextError};
use super::tracking_code::{TrackingCode, TrackingCodeError};
use super::Address;
use crate::input::{self, InputError, Kind};
use crate::spec;

/// Largest record file melli reads.
pub const MAX_RECORD_FILE: u64 = Kind::Record.cap();
/// Largest source photo file melli reads.
pub const MAX_PHOTO_FILE: u64 = Kind::Photo.cap();
/// Largest fingerprint file melli reads (the card holds far less; see [`FINGERPRINT_CAPACITY`]).
pub const MAX_FINGERPRINT_FILE: u64 = Kind::Fingerprint.cap();
/// What the card's fingerprint file (EF 0103) holds, in bytes.
pub const FINGERPRINT_CAPACITY: usize = ef_capacity(spec::ef::FINGERPRINT);
/// Fewer minutiae than this in the whole template draws a warning: matching gets unreliable.
pub const FEW_MINUTIAE: usize = 12;
/// A photo compressed below this JPEG quality draws a warning.
pub const LOW_PHOTO_QUALITY: u8 = 60;
/// A holder older than this many years on the issue date draws a warning.
pub const PLAUSIBLE_AGE: u16 = 120;
/// A card valid for more than this many years (issue to expiry) draws a warning.
pub const PLAUSIBLE_VALIDITY: u16 = 15;

const fn ef_capacity(fid: u16) -> usize {
    let mut i = 0;
    while i < spec::ef::ALL.len() {
        if spec::ef::ALL[i].0 == fid {
            return spec::ef::ALL[i].1;
        }
        i += 1;
    }
    0
}

/// One applicant's enrolment record, as the JSON file holds it: every value a string, checked
/// by [`validate`](Self::validate). Unknown fields are refused.
///
/// Codes and dates accept Persian (۰–۹) and Arabic-Indic (٠–٩) digits. Text in Persian is
/// normalized (Arabic yeh and kaf to their Persian forms, tatweel removed, ZWNJ kept, NFC,
/// white space collapsed) before it is checked and stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentRecord {
    /// Tracking code of the application: 1–32 Latin letters and digits. Stored on the card
    /// (DG1 `DF0F`) and used by `melli status`.
    pub tracking_code: String,
    /// National code (کد ملی): 10 digits with a valid check digit, not all the same. Spaces or
    /// hyphens between digit groups are ignored. Always a JSON string, so leading zeros stay.
    pub national_code: String,
    /// Given name in Persian script (letters, spaces, ZWNJ; ≤ 96 bytes of UTF-8).
    pub given_name_fa: String,
    /// Surname in Persian script.
    pub surname_fa: String,
    /// Given name in Latin letters (A–Z, a–z, space, hyphen, apostrophe; ≤ 96 bytes).
    pub given_name_latin: String,
    /// Surname in Latin letters.
    pub surname_latin: String,
    /// Father's given name in Persian script.
    pub father_name_fa: String,
    /// Father's given name in Latin letters.
    pub father_name_latin: String,
    /// `"M"` or `"F"`, as on the birth certificate.
    pub gender: String,
    /// Birth date, Solar Hijri, `YYYY/MM/DD`; not in the future.
    pub birth_date: String,
    /// Place of birth in Persian script.
    pub birth_place_fa: String,
    /// Place of birth in Latin letters; optional (absent or `null`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_place_latin: Option<String>,
    /// Birth-certificate number (شماره شناسنامه): 1–10 digits.
    pub certificate_number: String,
    /// Postal code of the residence: 10 digits; none of the first five is 0 or 2; the first
    /// four not all the same. A hyphen after the fifth digit is allowed.
    pub postal_code: String,
    /// Residence address, usually Persian, any printable text ≤ 200 bytes; optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Issue date of the card, Solar Hijri `YYYY/MM/DD`; after the birth date.
    pub issue_date: String,
    /// Expiry date of the card, Solar Hijri `YYYY/MM/DD`; after the issue date.
    pub expiry_date: String,
    /// Path of the face photo (JPEG or PNG, at least 240x320 px after a centred 3:4 crop),
    /// relative to the folder of the record file.
    pub photo: String,
    /// Path of the fingerprint template (ISO/IEC 19794-2:2005 finger minutiae record, at most
    /// 4096 bytes), relative to the folder of the record file.
    pub fingerprint: String,
}

/// The fields of a record: (name, required).
const RECORD_FIELDS: [(&str, bool); 19] = [
    ("tracking_code", true),
    ("national_code", true),
    ("given_name_fa", true),
    ("surname_fa", true),
    ("given_name_latin", true),
    ("surname_latin", true),
    ("father_name_fa", true),
    ("father_name_latin", true),
    ("gender", true),
    ("birth_date", true),
    ("birth_place_fa", true),
    ("birth_place_latin", false),
    ("certificate_number", true),
    ("postal_code", true),
    ("address", false),
    ("issue_date", true),
    ("expiry_date", true),
    ("photo", true),
    ("fingerprint", true),
];

/// A record that cannot go on a card, in one line: `FIELD: what is wrong — what to do`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message} — {hint}")]
pub struct ValidationError {
    /// The record field at fault (a JSON key), or `record` for the file as a whole.
    pub field: Cow<'static, str>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl ValidationError {
    fn new(
        field: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        ValidationError {
            field: field.into(),
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// Something odd that does not stop the card being made, in one line:
/// `FIELD: what is odd — what to check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub field: &'static str,
    pub message: String,
    pub hint: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} — {}", self.field, self.message, self.hint)
    }
}

/// A validated record: everything a card needs, each value in its checked type.
#[derive(Debug, Clone)]
pub struct ValidRecord {
    tracking_code: TrackingCode,
    identity: Identity,
    address: Address,
    photo: FaceImage,
    fingerprint: FingerTemplate,
    warnings: Vec<Warning>,
}

impl ValidRecord {
    /// Reads the record file at `path` and validates it against today's date, resolving the
    /// photo and fingerprint paths against the file's folder: what `melli check` does.
    pub fn load(path: &Path) -> Result<ValidRecord, ValidationError> {
        EnrolmentRecord::from_json_file(path)?.validate(&base_dir_of(path))
    }

    pub fn tracking_code(&self) -> &TrackingCode {
        &self.tracking_code
    }
    /// DG1 contents.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }
    /// DG4 contents.
    pub fn address(&self) -> &Address {
        &self.address
    }
    /// DG2 contents: the photo, already 240x320 JPEG within 15 000 bytes.
    pub fn photo(&self) -> &FaceImage {
        &self.photo
    }
    /// DG3 contents.
    pub fn fingerprint(&self) -> &FingerTemplate {
        &self.fingerprint
    }
    /// Odd things that did not stop validation; show them to the operator.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
    /// DG1 bytes for EF 0101: `E1 { DF00 … DF0F }` (applets-spec §5.1).
    pub fn identity_dg(&self) -> Vec<u8> {
        self.identity.to_dg()
    }
    /// DG4 bytes for EF 0104: `E4 { DF00, DF10, [DF11] }` (applets-spec §5.4).
    pub fn address_dg(&self) -> Vec<u8> {
        self.address.to_dg()
    }
    /// DG2 bytes for EF 0102: the JPEG.
    pub fn photo_dg(&self) -> &[u8] {
        self.photo.as_bytes()
    }
    /// DG3 bytes for EF 0103: the ISO/IEC 19794-2:2005 record.
    pub fn fingerprint_dg(&self) -> Vec<u8> {
        self.fingerprint.to_bytes()
    }
}

/// An error of one field's own type, with its advice.
trait FieldError: fmt::Display {
    fn hint(&self) -> &'static str;
}

macro_rules! field_error {
    ($($t:ty),*) => {$(
        impl FieldError for $t {
            fn hint(&self) -> &'static str {
                <$t>::hint(self)
            }
        }
    )*};
}

field_error!(
    NationalCodeError,
    PostalCodeError,
    JalaliDateError,
    TextError,
    CertificateNumberError,
    TrackingCodeError,
    PhotoError,
    FingerprintError
);

impl FieldError for GenderError {
    fn hint(&self) -> &'static str {
        "use \"M\" or \"F\" as on the birth certificate"
    }
}

/// Collects every field's error instead of stopping at the first.
#[derive(Default)]
struct Checker {
    errors: Vec<ValidationError>,
    warnings: Vec<Warning>,
}

impl Checker {
    fn field<T, E: FieldError>(&mut self, name: &'static str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.errors
                    .push(ValidationError::new(name, e.to_string(), e.hint()));
                None
            }
        }
    }

    fn error(&mut self, name: &'static str, message: String, hint: &str) {
        self.errors.push(ValidationError::new(name, message, hint));
    }

    fn warn(&mut self, field: &'static str, message: String, hint: &str) {
        self.warnings.push(Warning {
            field,
            message,
            hint: hint.to_owned(),
        });
    }

    /// Reads a file named by a record field, relative to `base_dir`: a regular file, at most
    /// what its kind may be (`input::read`).
    fn read(
        &mut self,
        name: &'static str,
        base_dir: &Path,
        path: &str,
        kind: Kind,
    ) -> Option<Vec<u8>> {
        if path.trim().is_empty() {
            self.error(
                name,
                "is empty".to_owned(),
                "give the file's path, relative to the record file",
            );
            return None;
        }
        let full = base_dir.join(path);
        match input::read(&full, kind) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                let hint = match &e {
                    InputError::TooLarge { .. } => "use a smaller file",
                    _ => "the path is relative to the folder of the record file",
                };
                let message = match &e {
                    InputError::Io { source, .. } => format!(
                        "cannot read {}: {source}",
                        crate::display::escaped(&full.display().to_string())
                    ),
                    other => other.to_string(),
                };
                self.error(name, message, hint);
                None
            }
        }
    }
}

impl EnrolmentRecord {
    /// Reads a record from a JSON file. Errors name the file and, for bad JSON, the line and
    /// column; a wrong or unknown field is named as the error's field.
    pub fn from_json_file(path: &Path) -> Result<Self, ValidationError> {
        let read_error = |e: &dyn fmt::Display| {
            ValidationError::new(
                "record",
                format!("cannot read {}: {e}", path.display()),
                "check the path of the record file",
            )
        };
        let bytes = input::read(path, Kind::Record).map_err(|e| match e {
            InputError::Io { source, .. } => read_error(&source),
            InputError::NotRegular { .. } => read_error(&"it is not a file"),
            InputError::TooLarge { size, .. } => ValidationError::new(
                "record",
                format!(
                    "{} is {size} bytes, too large for an enrolment record",
                    path.display()
                ),
                "check that this is the record file",
            ),
        })?;
        let text = String::from_utf8(bytes).map_err(|_| {
            ValidationError::new(
                "record",
                format!("{} is not UTF-8 text", path.display()),
                "save the record as UTF-8 JSON",
            )
        })?;
        Self::parse_json(&text, Some(path))
    }

    /// Reads a record from JSON text (one object).
    pub fn from_json_str(text: &str) -> Result<Self, ValidationError> {
        Self::parse_json(text, None)
    }

    fn parse_json(text: &str, origin: Option<&Path>) -> Result<Self, ValidationError> {
        let place = |line: usize, column: usize| match origin {
            Some(p) => format!("{}:{line}:{column}", p.display()),
            None => format!("line {line}, column {column}"),
        };
        if text.starts_with('\u{FEFF}') {
            let what = match origin {
                Some(p) => p.display().to_string(),
                None => "the text".to_owned(),
            };
            return Err(ValidationError::new(
                "record",
                format!("{what} begins with a byte-order mark (U+FEFF, bytes EF BB BF), which JSON does not allow"),
                "save the record as UTF-8 without a byte-order mark (BOM)",
            ));
        }
        let value: Value = serde_json::from_str(text).map_err(|e| syntax_error(&e, &place))?;
        let Value::Object(map) = &value else {
            return Err(ValidationError::new(
                "record",
                format!("the JSON is {}, not an object", json_kind(&value)),
                "an enrolment record is one JSON object; see fixtures/README.md",
            ));
        };
        for (key, v) in map {
            let Some(&(name, required)) = RECORD_FIELDS.iter().find(|(n, _)| n == key) else {
                return Err(ValidationError::new(
                    Cow::Owned(key.clone()),
                    "is not a field of an enrolment record",
                    "remove it or correct its spelling; the fields are listed in fixtures/README.md",
                ));
            };
            match v {
                Value::String(_) => {}
                Value::Null if !required => {}
                other => {
                    let hint = match name {
                        "national_code" | "postal_code" | "certificate_number"
                        | "tracking_code" => match name {
                            "national_code" => {
                                "write it in quotes so leading zeros survive, e.g. \"0012345679\""
                            }
                            "postal_code" => {
                                "write it in quotes so leading zeros survive, e.g. \"1345613478\""
                            }
                            "certificate_number" => {
                                "write it in quotes so leading zeros survive, e.g. \"0012\""
                            }
                            _ => "write it in quotes, e.g. \"140309100001\"",
                        },
                        _ => "write it as a JSON string in quotes",
                    };
                    return Err(ValidationError::new(
                        name,
                        format!("is {}, not a string", json_kind(other)),
                        hint,
                    ));
                }
            }
        }
        if let Some((name, _)) = RECORD_FIELDS
            .iter()
            .find(|(name, required)| *required && !map.contains_key(*name))
        {
            return Err(ValidationError::new(
                *name,
                "is missing",
                "add it; the fields are listed in fixtures/README.md",
            ));
        }
        // The shape is right; the derived deserializer also catches a key given twice.
        serde_json::from_str(text).map_err(|e| {
            let full = e.to_string();
            let what = full
                .rsplit_once(" at line ")
                .map_or(full.as_str(), |(m, _)| m);
            if let Some(name) = what
                .strip_prefix("duplicate field `")
                .and_then(|rest| rest.strip_suffix('`'))
            {
                ValidationError::new(
                    Cow::Owned(name.to_owned()),
                    format!("appears twice ({})", place(e.line(), e.column())),
                    "keep one of them",
                )
            } else {
                ValidationError::new(
                    "record",
                    format!("{}: {what}", place(e.line(), e.column())),
                    "see fixtures/README.md for the format",
                )
            }
        })
    }

    /// Validates the record against today's date in Iran; stops at the first problem.
    /// Photo and fingerprint paths are resolved against `base_dir` (the record file's folder).
    pub fn validate(&self, base_dir: &Path) -> Result<ValidRecord, ValidationError> {
        let today = JalaliDate::today()
            .map_err(|e| ValidationError::new("record", e.to_string(), e.hint()))?;
        self.validate_on(base_dir, today).map_err(|mut errors| {
            // `validate_on` returns at least one error on failure.
            errors.swap_remove(0)
        })
    }

    /// Validates every field, as of `today`, and reports every problem, in field order.
    pub fn validate_on(
        &self,
        base_dir: &Path,
        today: JalaliDate,
    ) -> Result<ValidRecord, Vec<ValidationError>> {
        let mut c = Checker::default();
        let tracking_code = c.field("tracking_code", TrackingCode::parse(&self.tracking_code));
        let national_code = c.field("national_code", NationalCode::parse(&self.national_code));
        let given_name_fa = c.field("given_name_fa", PersianText::parse(&self.given_name_fa));
        let surname_fa = c.field("surname_fa", PersianText::parse(&self.surname_fa));
        let given_name_latin =
            c.field("given_name_latin", LatinName::parse(&self.given_name_latin));
        let surname_latin = c.field("surname_latin", LatinName::parse(&self.surname_latin));
        let father_name_fa = c.field("father_name_fa", PersianText::parse(&self.father_name_fa));
        let father_name_latin = c.field(
            "father_name_latin",
            LatinName::parse(&self.father_name_latin),
        );
        let gender = c.field("gender", Gender::parse(&self.gender));
        let birth_date = c.field("birth_date", JalaliDate::parse(&self.birth_date));
        let birth_place_fa = c.field("birth_place_fa", PersianText::parse(&self.birth_place_fa));
        let birth_place_latin = match &self.birth_place_latin {
            None => Some(None),
            Some(text) => c
                .field("birth_place_latin", LatinName::parse(text))
                .map(Some),
        };
        let certificate_number = c.field(
            "certificate_number",
            CertificateNumber::parse(&self.certificate_number),
        );
        let postal_code = c.field("postal_code", PostalCode::parse(&self.postal_code));
        let address = match &self.address {
            None => Some(None),
            Some(text) => c.field("address", AddressText::parse(text)).map(Some),
        };
        let issue_date = c.field("issue_date", JalaliDate::parse(&self.issue_date));
        let expiry_date = c.field("expiry_date", JalaliDate::parse(&self.expiry_date));
        let photo = c
            .read("photo", base_dir, &self.photo, Kind::Photo)
            .and_then(|bytes| c.field("photo", FaceImage::from_photo(&bytes)));
        let fingerprint = c
            .read(
                "fingerprint",
                base_dir,
                &self.fingerprint,
                Kind::Fingerprint,
            )
            .and_then(|bytes| check_fingerprint(&mut c, &bytes));

        check_dates(&mut c, birth_date, issue_date, expiry_date, today);
        if let Some(code) = &national_code {
            for w in code.warnings() {
                c.warn(
                    "national_code",
                    w,
                    "compare it with the birth certificate before issuing",
                );
            }
        }
        if let Some(code) = &postal_code {
            for w in code.warnings() {
                c.warn("postal_code", w.to_string(), "check the code");
            }
        }
        if let Some(quality) = photo.as_ref().and_then(FaceImage::quality) {
            if quality < LOW_PHOTO_QUALITY {
                c.warn(
                    "photo",
                    format!("compressed at JPEG quality {quality} to fit {PHOTO_MAX_BYTES} bytes"),
                    "a photo against a plain background comes out sharper",
                );
            }
        }

        let (
            Some(tracking_code),
            Some(national_code),
            Some(given_name_fa),
            Some(surname_fa),
            Some(given_name_latin),
            Some(surname_latin),
            Some(father_name_fa),
            Some(father_name_latin),
            Some(gender),
            Some(birth_date),
            Some(birth_place_fa),
            Some(birth_place_latin),
            Some(certificate_number),
            Some(postal_code),
            Some(address),
            Some(issue_date),
            Some(expiry_date),
            Some(photo),
            Some(fingerprint),
            true,
        ) = (
            tracking_code,
            national_code,
            given_name_fa,
            surname_fa,
            given_name_latin,
            surname_latin,
            father_name_fa,
            father_name_latin,
            gender,
            birth_date,
            birth_place_fa,
            birth_place_latin,
            certificate_number,
            postal_code,
            address,
            issue_date,
            expiry_date,
            photo,
            fingerprint,
            c.errors.is_empty(),
        )
        else {
            let mut errors = c.errors;
            errors.sort_by_key(|e| field_rank(&e.field));
            return Err(errors);
        };
        let identity = Identity {
            national_code,
            given_name_fa,
            surname_fa,
            given_name_latin,
            surname_latin,
            father_name_fa,
            father_name_latin,
            gender,
            birth_date,
            birth_place_fa,
            birth_place_latin,
            certificate_number,
            issue_date,
            expiry_date,
            tracking_code: Some(tracking_code.clone()),
        };
        Ok(ValidRecord {
            tracking_code,
            identity,
            address: Address::new(postal_code, address),
            photo,
            fingerprint,
            warnings: {
                let mut warnings = c.warnings;
                warnings.sort_by_key(|w| field_rank(w.field));
                warnings
            },
        })
    }
}

/// A JSON syntax error, with its place; a lone surrogate escape (`"\ud800"`) said in words.
fn syntax_error(e: &serde_json::Error, place: &dyn Fn(usize, usize) -> String) -> ValidationError {
    let full = e.to_string();
    let what = full
        .rsplit_once(" at line ")
        .map_or(full.as_str(), |(m, _)| m);
    let at = place(e.line(), e.column());
    // serde_json says "unexpected end of hex escape" only where a leading surrogate is not
    // followed by a `\u` escape.
    if what.contains("surrogate") || what == "unexpected end of hex escape" {
        return ValidationError::new(
            "record",
            format!(
                "{at}: a \\u escape is half of a UTF-16 surrogate pair (\\ud800–\\udfff) without its other half, which is no character"
            ),
            "write the character itself, or both halves of the pair (e.g. \\ud83d\\ude00)",
        );
    }
    ValidationError::new("record", format!("{at}: {what}"), "fix the JSON syntax")
}

/// Position of a field in the record, for reporting problems in field order (stable sort).
fn field_rank(field: &str) -> usize {
    RECORD_FIELDS
        .iter()
        .position(|(name, _)| *name == field)
        .unwrap_or(RECORD_FIELDS.len())
}

fn check_fingerprint(c: &mut Checker, bytes: &[u8]) -> Option<FingerTemplate> {
    let template = c.field("fingerprint", FingerTemplate::parse(bytes))?;
    if bytes.len() > FINGERPRINT_CAPACITY {
        c.error(
            "fingerprint",
            format!(
                "the record is {} bytes, the card's fingerprint file holds {FINGERPRINT_CAPACITY}",
                bytes.len()
            ),
            "export fewer views or minutiae from the scanner",
        );
        return None;
    }
    match template.minutia_count() {
        0 => {
            c.error(
                "fingerprint",
                "the record holds no minutiae".to_owned(),
                "capture the finger again",
            );
            return None;
        }
        n if n < FEW_MINUTIAE => c.warn(
            "fingerprint",
            format!("the record holds only {n} minutiae, so match-on-card may fail"),
            "capture the finger again if you can",
        ),
        _ => {}
    }
    Some(template)
}

fn check_dates(
    c: &mut Checker,
    birth: Option<JalaliDate>,
    issue: Option<JalaliDate>,
    expiry: Option<JalaliDate>,
    today: JalaliDate,
) {
    if let Some(birth) = birth {
        if birth > today {
            c.error(
                "birth_date",
                format!(
                    "{} is in the future (today is {})",
                    birth.with_gregorian(),
                    today
                ),
                "check the year; dates are Solar Hijri",
            );
        }
    }
    if let (Some(birth), Some(issue)) = (birth, issue) {
        if issue <= birth {
            c.error(
                "issue_date",
                format!("{issue} is not after the birth date {birth}"),
                "check both dates",
            );
        }
    }
    if let (Some(issue), Some(expiry)) = (issue, expiry) {
        if expiry <= issue {
            c.error(
                "expiry_date",
                format!("{expiry} is not after the issue date {issue}"),
                "check both dates; a card expires after it is issued",
            );
        }
    }
    if let (Some(birth), Some(issue)) = (birth, issue) {
        let age = whole_years(birth, issue);
        if issue > birth && age > PLAUSIBLE_AGE {
            c.warn(
                "birth_date",
                format!(
                    "{birth} makes the holder {age} years old on the issue date, older than anyone living (more than {PLAUSIBLE_AGE})"
                ),
                "check the year; dates are Solar Hijri",
            );
        }
    }
    if let (Some(issue), Some(expiry)) = (issue, expiry) {
        let years = whole_years(issue, expiry);
        if expiry > issue && years > PLAUSIBLE_VALIDITY {
            c.warn(
                "expiry_date",
                format!(
                    "{expiry} is {years} years after the issue date {issue}; a card is valid for at most {PLAUSIBLE_VALIDITY}"
                ),
                "check the year; dates are Solar Hijri",
            );
        }
    }
    if let Some(issue) = issue {
        if issue > today {
            c.warn(
                "issue_date",
                format!("{issue} is after today ({today})"),
                "check the date",
            );
        }
    }
    if let Some(expiry) = expiry {
        if expiry <= today {
            c.warn(
                "expiry_date",
                format!("{expiry} is not after today ({today}), so the card is issued expired"),
                "check the date",
            );
        }
    }
}

/// Whole years from `from` to `to` (`to` ≥ `from`): the age of someone born on `from`.
fn whole_years(from: JalaliDate, to: JalaliDate) -> u16 {
    let years = to.year().saturating_sub(from.year());
    if (to.month(), to.day()) < (from.month(), from.day()) {
        years.saturating_sub(1)
    } else {
        years
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The folder a record file's relative paths are resolved against.
pub fn base_dir_of(record_path: &Path) -> PathBuf {
    match record_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

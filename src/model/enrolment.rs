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
mod tests {
    use super::*;
    use crate::model::fingerprint::{CaptureInfo, FingerView, Minutia, MinutiaKind};
    use crate::model::national_code::NationalCode;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
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
}

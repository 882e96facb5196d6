//! The enrolment record: what an issuance centre knows about one applicant, as JSON, and its
//! validation into typed card data before anything touches a card (DESIGN §5, issue 3 item 2).
//!
//! The format is documented field by field on [`EnrolmentRecord`] and in
//! `fixtures/README.md`; `fixtures/records/` holds samples.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use super::fingerprint::FingerTemplate;
use super::identity::Identity;
use super::photo::FaceImage;
use super::tracking_code::TrackingCode;
use super::Address;
use crate::input::Kind;
use crate::spec;

mod checker;
mod package;
mod parse;
mod validate;

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

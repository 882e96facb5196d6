//! The checks of single fields: each field's error with its advice, the files a record names, the fingerprint and the dates.

use super::{
    ValidationError, Warning, FEW_MINUTIAE, FINGERPRINT_CAPACITY, PLAUSIBLE_AGE, PLAUSIBLE_VALIDITY,
};
use crate::input::{self, InputError, Kind};
use crate::model::certificate_number::CertificateNumberError;
use crate::model::fingerprint::{FingerTemplate, FingerprintError};
use crate::model::identity::GenderError;
use crate::model::jalali::{JalaliDate, JalaliDateError};
use crate::model::national_code::NationalCodeError;
use crate::model::photo::PhotoError;
use crate::model::postal_code::PostalCodeError;
use crate::model::text::TextError;
use crate::model::tracking_code::TrackingCodeError;
use std::fmt;
use std::path::Path;

/// An error of one field's own type, with its advice.
pub(super) trait FieldError: fmt::Display {
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
pub(super) struct Checker {
    pub(super) errors: Vec<ValidationError>,
    pub(super) warnings: Vec<Warning>,
}

impl Checker {
    pub(super) fn field<T, E: FieldError>(
        &mut self,
        name: &'static str,
        result: Result<T, E>,
    ) -> Option<T> {
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

    pub(super) fn warn(&mut self, field: &'static str, message: String, hint: &str) {
        self.warnings.push(Warning {
            field,
            message,
            hint: hint.to_owned(),
        });
    }

    /// Reads a file named by a record field, relative to `base_dir`: a regular file, at most
    /// what its kind may be (`input::read`).
    pub(super) fn read(
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

pub(super) fn check_fingerprint(c: &mut Checker, bytes: &[u8]) -> Option<FingerTemplate> {
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

pub(super) fn check_dates(
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

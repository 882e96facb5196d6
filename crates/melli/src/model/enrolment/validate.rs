//! Validating a record into typed card data, every field's error collected.

use super::checker::{check_dates, check_fingerprint, Checker};
use super::parse::field_rank;
use super::{EnrolmentRecord, ValidRecord, ValidationError, LOW_PHOTO_QUALITY};
use crate::input::Kind;
use crate::model::certificate_number::CertificateNumber;
use crate::model::identity::{Gender, Identity};
use crate::model::jalali::JalaliDate;
use crate::model::national_code::NationalCode;
use crate::model::photo::{FaceImage, MAX_BYTES as PHOTO_MAX_BYTES};
use crate::model::postal_code::PostalCode;
use crate::model::text::{AddressText, LatinName, PersianText};
use crate::model::tracking_code::TrackingCode;
use crate::model::Address;
use std::path::Path;

impl EnrolmentRecord {
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

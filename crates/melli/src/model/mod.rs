//! Domain values of the enrolment record, parsed once at the edge (DESIGN.md §5, §8).
//!
//! Each value has its own type that can only hold valid data: [`NationalCode`], [`PostalCode`],
//! [`JalaliDate`], [`PersianText`], [`LatinName`], [`FaceImage`], [`FingerTemplate`], … An
//! [`EnrolmentRecord`] (JSON) becomes a [`ValidRecord`] through
//! [`EnrolmentRecord::validate`], whose errors are one line each: `FIELD: what — what to do`.
//! [`Identity`] and [`Address`] encode and decode the TLV data groups DG1 and DG4 on the host
//! side.

/// The conversions every validated string type has, built from its `parse` and its `Display`:
/// `FromStr`, `TryFrom<String>` (serde's `try_from`), `From<T> for String` (serde's `into`), and
/// a `Debug` that shows the value inside the type's name. Written once here instead of once per
/// type.
macro_rules! validated_string {
    ($ty:ident, $err:ty) => {
        impl std::str::FromStr for $ty {
            type Err = $err;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $err;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> Self {
                value.to_string()
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($ty), "({})"), self)
            }
        }
    };
}

pub mod address;
pub mod certificate_number;
pub mod data_group;
pub mod enrolment;
pub mod fingerprint;
pub mod identity;
pub mod jalali;
pub mod national_code;
pub mod photo;
pub mod postal_code;
pub mod secret;
pub mod text;
pub mod tracking_code;

#[cfg(test)]
mod fixtures;

pub use address::Address;
pub use certificate_number::{CertificateNumber, CertificateNumberError};
pub use data_group::DataGroupError;
pub use enrolment::{EnrolmentRecord, ValidRecord, ValidationError, Warning};
pub use fingerprint::{
    CaptureInfo, FingerTemplate, FingerView, FingerprintError, Minutia, MinutiaKind,
};
pub use identity::{Gender, GenderError, Identity};
pub use jalali::{JalaliDate, JalaliDateError};
pub use national_code::{NationalCode, NationalCodeError};
pub use photo::{FaceImage, PhotoError};
pub use postal_code::{PostalCode, PostalCodeError, PostalCodeWarning};
pub use secret::{Secret, SecretError, SecretKind};
pub use text::{AddressText, LatinName, PersianText, TextError};
pub use tracking_code::{TrackingCode, TrackingCodeError};

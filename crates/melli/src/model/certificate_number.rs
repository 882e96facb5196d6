//! The birth-certificate number (شماره شناسنامه): one to ten digits (applets-spec §5.1 DF0C).

use std::fmt;

use super::text::ascii_digits;

/// Most digits of a birth-certificate number.
pub const MAX_DIGITS: usize = 10;

/// A birth-certificate number: 1 to 10 ASCII digits, leading zeros kept. (Certificates issued
/// since about 1368 carry the national code as their number; older ones a shorter serial.)
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CertificateNumber(String);

/// Why a certificate number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateNumberError {
    #[error("is empty")]
    Empty,
    #[error("contains {found:?}; a certificate number has digits only")]
    NotDigit { found: char },
    #[error("has {count} digits, at most {MAX_DIGITS}")]
    TooLong { count: usize },
}

impl CertificateNumberError {
    /// What the person fixing the record should do.
    pub fn hint(&self) -> &'static str {
        "copy the number from the birth certificate (digits only)"
    }
}

impl CertificateNumber {
    /// Parses a number as typed: Persian and Arabic-Indic digits are accepted; surrounding white
    /// space is ignored.
    pub fn parse(text: &str) -> Result<Self, CertificateNumberError> {
        Self::check(ascii_digits(text.trim()))
    }

    /// Checks the on-card form: 1 to 10 ASCII digits.
    pub fn from_card_bytes(bytes: &[u8]) -> Result<Self, CertificateNumberError> {
        if let Some(&bad) = bytes.iter().find(|b| !b.is_ascii_digit()) {
            return Err(CertificateNumberError::NotDigit {
                found: char::from(bad),
            });
        }
        // All ASCII digits, so valid UTF-8.
        Self::check(String::from_utf8_lossy(bytes).into_owned())
    }

    fn check(text: String) -> Result<Self, CertificateNumberError> {
        if text.is_empty() {
            return Err(CertificateNumberError::Empty);
        }
        if let Some(bad) = text.chars().find(|c| !c.is_ascii_digit()) {
            return Err(CertificateNumberError::NotDigit { found: bad });
        }
        if text.len() > MAX_DIGITS {
            return Err(CertificateNumberError::TooLong { count: text.len() });
        }
        Ok(CertificateNumber(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CertificateNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

validated_string!(CertificateNumber, CertificateNumberError);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        for (input, stored) in [
            ("4821", "4821"),
            (" 0042 ", "0042"),
            ("۴۸۲۱", "4821"),
            ("0012345679", "0012345679"),
        ] {
            assert_eq!(CertificateNumber::parse(input).unwrap().as_str(), stored);
        }
        for (input, message) in [
            ("", "is empty"),
            (
                "48-21",
                "contains '-'; a certificate number has digits only",
            ),
            ("12345678901", "has 11 digits, at most 10"),
        ] {
            let err = CertificateNumber::parse(input).unwrap_err();
            assert_eq!(err.to_string(), message, "{input:?}");
            assert!(!err.hint().is_empty());
        }
        assert!(CertificateNumber::from_card_bytes(b"4821").is_ok());
        assert!(CertificateNumber::from_card_bytes("۴۸".as_bytes()).is_err());
        assert!(CertificateNumber::from_card_bytes(b"").is_err());
    }
}

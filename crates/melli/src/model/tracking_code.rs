//! The tracking code (کد رهگیری) of an enrolment: how the registry and the holder refer to an
//! application before the card exists (applets-spec §5.1 DF0F).

use std::fmt;

use super::text::ascii_digits;

/// Most characters of a tracking code.
pub const MAX_LEN: usize = 32;

/// A tracking code: 1 to 32 ASCII letters and digits (Persian digits accepted and stored as
/// ASCII; case kept).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrackingCode(String);

/// Why a tracking code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackingCodeError {
    #[error("is empty")]
    Empty,
    #[error("contains {found:?}; a tracking code has Latin letters and digits only")]
    BadChar { found: char },
    #[error("is {len} characters long, at most {MAX_LEN}")]
    TooLong { len: usize },
}

impl TrackingCodeError {
    /// What the person fixing the record should do.
    pub fn hint(&self) -> &'static str {
        "copy the tracking code from the enrolment receipt"
    }
}

impl TrackingCode {
    /// Parses a tracking code; surrounding white space is ignored.
    pub fn parse(text: &str) -> Result<Self, TrackingCodeError> {
        let text = ascii_digits(text.trim());
        if text.is_empty() {
            return Err(TrackingCodeError::Empty);
        }
        if let Some(bad) = text.chars().find(|c| !c.is_ascii_alphanumeric()) {
            return Err(TrackingCodeError::BadChar { found: bad });
        }
        if text.len() > MAX_LEN {
            return Err(TrackingCodeError::TooLong { len: text.len() });
        }
        Ok(TrackingCode(text))
    }

    /// Checks the on-card form: ASCII letters and digits only.
    pub fn from_card_bytes(bytes: &[u8]) -> Result<Self, TrackingCodeError> {
        match std::str::from_utf8(bytes) {
            Ok(text) if text.is_ascii() && text.trim() == text => Self::parse(text),
            _ => Err(TrackingCodeError::BadChar {
                found: bytes.iter().find(|b| !b.is_ascii_alphanumeric()).map_or(
                    char::REPLACEMENT_CHARACTER,
                    |&b| {
                        if b.is_ascii() {
                            char::from(b)
                        } else {
                            char::REPLACEMENT_CHARACTER
                        }
                    },
                ),
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrackingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

validated_string!(TrackingCode, TrackingCodeError);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        for (input, stored) in [
            ("140309100001", "140309100001"),
            (" A1b2 ", "A1b2"),
            ("۱۴۰۳", "1403"),
        ] {
            assert_eq!(TrackingCode::parse(input).unwrap().as_str(), stored);
        }
        let long = "A".repeat(33);
        for (input, message) in [
            ("", "is empty"),
            (
                "1403-0910",
                "contains '-'; a tracking code has Latin letters and digits only",
            ),
            (long.as_str(), "is 33 characters long, at most 32"),
        ] {
            let err = TrackingCode::parse(input).unwrap_err();
            assert_eq!(err.to_string(), message, "{input:?}");
            assert!(!err.hint().is_empty());
        }
        assert!(TrackingCode::from_card_bytes(b"AB12").is_ok());
        assert!(TrackingCode::from_card_bytes(b" AB12").is_err());
        assert!(TrackingCode::from_card_bytes("۱۴".as_bytes()).is_err());
        assert!(TrackingCode::from_card_bytes(b"\xff").is_err());
    }
}

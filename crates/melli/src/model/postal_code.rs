//! The ten-digit Iranian postal code (DESIGN §5).

use std::fmt;

use super::text::ascii_digits;

/// A postal code that passed the confirmed rules: ten digits; no 0 or 2 among the first five
/// (on envelopes they are confused with 5 and 3); the first four not all the same.
///
/// Rules reported by the community but not confirmed by the post are not enforced; they are
/// reported by [`warnings`](Self::warnings).
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PostalCode([u8; 10]);

/// Why a postal code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostalCodeError {
    #[error("is empty")]
    Empty,
    #[error("contains {found:?}; a postal code has digits only")]
    NotDigit { found: char },
    #[error("has {count} digits, a postal code has 10")]
    WrongLength { count: usize },
    #[error(
        "has the digit {digit} at position {position}; the first five digits are never 0 or 2"
    )]
    ZeroOrTwoInFirstFive { digit: u8, position: usize },
    #[error("begins with four equal digits ({prefix}), which no postal code does")]
    FirstFourEqual { prefix: String },
}

impl PostalCodeError {
    /// What the person fixing the record should do.
    pub fn hint(&self) -> &'static str {
        match self {
            PostalCodeError::Empty => "fill in the 10-digit postal code",
            _ => "re-type the code from a utility bill or the post's lookup service",
        }
    }
}

/// A rule that the postal code breaks but that is not confirmed, so it is only reported.
/// `Display` says what; the advice is always to check the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostalCodeWarning {
    /// The fifth digit is 5.
    FifthDigitFive,
    /// A 2 appears among the last five digits (at this 1-based position).
    TwoInLastFive { position: usize },
}

impl fmt::Display for PostalCodeWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PostalCodeWarning::FifthDigitFive => f.write_str(
                "the fifth digit is 5, which some sources say never happens (unconfirmed)",
            ),
            PostalCodeWarning::TwoInLastFive { position } => write!(
                f,
                "has a 2 at position {position}, which some sources say never appears in the last five digits (unconfirmed)"
            ),
        }
    }
}

impl PostalCode {
    /// Parses a postal code as typed: Persian and Arabic-Indic digits are accepted; surrounding
    /// white space, and spaces or hyphens between digit groups (`13456-13478`), are ignored.
    pub fn parse(text: &str) -> Result<Self, PostalCodeError> {
        let text = ascii_digits(text.trim());
        if text.is_empty() {
            return Err(PostalCodeError::Empty);
        }
        let mut digits = Vec::with_capacity(10);
        for c in text.chars().filter(|&c| c != '-' && c != ' ') {
            if !c.is_ascii_digit() {
                return Err(PostalCodeError::NotDigit { found: c });
            }
            digits.push(c as u8 - b'0');
        }
        let digits: [u8; 10] = digits
            .try_into()
            .map_err(|v: Vec<u8>| PostalCodeError::WrongLength { count: v.len() })?;
        Self::from_digits(digits)
    }

    /// Checks the exact on-card form: ten ASCII digits (applets-spec §5.4 DF10).
    pub fn from_card_bytes(bytes: &[u8]) -> Result<Self, PostalCodeError> {
        if let Some(&bad) = bytes.iter().find(|b| !b.is_ascii_digit()) {
            return Err(PostalCodeError::NotDigit {
                found: char::from(bad),
            });
        }
        let digits: [u8; 10] = bytes
            .iter()
            .map(|b| b - b'0')
            .collect::<Vec<_>>()
            .try_into()
            .map_err(|v: Vec<u8>| PostalCodeError::WrongLength { count: v.len() })?;
        Self::from_digits(digits)
    }

    fn from_digits(digits: [u8; 10]) -> Result<Self, PostalCodeError> {
        if let Some((i, &d)) = digits[..5]
            .iter()
            .enumerate()
            .find(|(_, &d)| d == 0 || d == 2)
        {
            return Err(PostalCodeError::ZeroOrTwoInFirstFive {
                digit: d,
                position: i + 1,
            });
        }
        if digits[..4].iter().all(|&d| d == digits[0]) {
            return Err(PostalCodeError::FirstFourEqual {
                prefix: digits[..4].iter().map(|d| char::from(b'0' + d)).collect(),
            });
        }
        Ok(PostalCode(digits))
    }

    /// The unconfirmed rules this code breaks (empty for most codes).
    pub fn warnings(&self) -> Vec<PostalCodeWarning> {
        let mut warnings = Vec::new();
        if self.0[4] == 5 {
            warnings.push(PostalCodeWarning::FifthDigitFive);
        }
        for (i, &d) in self.0.iter().enumerate().skip(5) {
            if d == 2 {
                warnings.push(PostalCodeWarning::TwoInLastFive { position: i + 1 });
            }
        }
        warnings
    }

    /// The ten digits as ASCII, the on-card form.
    pub fn to_ascii(&self) -> [u8; 10] {
        self.0.map(|d| d + b'0')
    }
}

impl fmt::Display for PostalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in self.0 {
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

validated_string!(PostalCode, PostalCodeError);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts() {
        for (input, stored) in [
            ("1345613478", "1345613478"),
            ("13456-13478", "1345613478"),
            ("۱۳۴۵۶۱۳۴۷۸", "1345613478"),
            (" 1345613478\n", "1345613478"),
            ("1113613478", "1113613478"),
        ] {
            let code = PostalCode::parse(input).unwrap();
            assert_eq!(code.to_string(), stored, "{input}");
            assert_eq!(code.warnings(), vec![], "{input}");
        }
    }

    #[test]
    fn errors() {
        let cases = [
            ("", "is empty"),
            ("13456x3478", "contains 'x'; a postal code has digits only"),
            ("134561347", "has 9 digits, a postal code has 10"),
            ("13456134781", "has 11 digits, a postal code has 10"),
            (
                "0345613478",
                "has the digit 0 at position 1; the first five digits are never 0 or 2",
            ),
            (
                "1345213478",
                "has the digit 2 at position 5; the first five digits are never 0 or 2",
            ),
            (
                "1305613478",
                "has the digit 0 at position 3; the first five digits are never 0 or 2",
            ),
            (
                "1111613478",
                "begins with four equal digits (1111), which no postal code does",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(
                PostalCode::parse(input).unwrap_err().to_string(),
                message,
                "{input:?}"
            );
        }
    }

    #[test]
    fn warnings_table() {
        let cases: [(&str, Vec<PostalCodeWarning>); 4] = [
            ("1345513478", vec![PostalCodeWarning::FifthDigitFive]),
            (
                "1345612478",
                vec![PostalCodeWarning::TwoInLastFive { position: 7 }],
            ),
            (
                "1345522222",
                vec![
                    PostalCodeWarning::FifthDigitFive,
                    PostalCodeWarning::TwoInLastFive { position: 6 },
                    PostalCodeWarning::TwoInLastFive { position: 7 },
                    PostalCodeWarning::TwoInLastFive { position: 8 },
                    PostalCodeWarning::TwoInLastFive { position: 9 },
                    PostalCodeWarning::TwoInLastFive { position: 10 },
                ],
            ),
            ("1345600000", vec![]),
        ];
        for (input, expected) in cases {
            assert_eq!(PostalCode::parse(input).unwrap().warnings(), expected);
        }
        assert_eq!(
            PostalCodeWarning::FifthDigitFive.to_string(),
            "the fifth digit is 5, which some sources say never happens (unconfirmed)"
        );
        assert_eq!(
            PostalCodeWarning::TwoInLastFive { position: 7 }.to_string(),
            "has a 2 at position 7, which some sources say never appears in the last five digits (unconfirmed)"
        );
    }

    #[test]
    fn card_form() {
        let code = PostalCode::from_card_bytes(b"1345613478").unwrap();
        assert_eq!(&code.to_ascii(), b"1345613478");
        assert!(PostalCode::from_card_bytes(b"13456-13478").is_err());
        assert!(PostalCode::from_card_bytes(b"0345613478").is_err());
    }

    proptest! {
        #[test]
        fn rules_hold_for_every_accepted_code(digits in proptest::array::uniform10(0u8..=9)) {
            let text: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
            match PostalCode::parse(&text) {
                Ok(code) => {
                    prop_assert!(digits[..5].iter().all(|&d| d != 0 && d != 2));
                    prop_assert!(!digits[..4].iter().all(|&d| d == digits[0]));
                    prop_assert_eq!(code.to_string(), text);
                }
                Err(_) => prop_assert!(
                    digits[..5].iter().any(|&d| d == 0 || d == 2)
                        || digits[..4].iter().all(|&d| d == digits[0])
                ),
            }
        }
    }
}

//! The national code (کد ملی): ten digits, the last a check digit (DESIGN §5).

use std::fmt;

use super::text::ascii_digits;

/// A national code that passed every check: ten ASCII digits, not all the same, with a correct
/// check digit.
///
/// Check digit: with `r = Σ d[i]·(10 − i) mod 11` over the first nine digits (`i = 0..=8`),
/// the tenth digit is `r` when `r < 2`, else `11 − r`.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct NationalCode([u8; 10]);

/// Why a national code was refused. `Display` says what is wrong; [`hint`](Self::hint) what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NationalCodeError {
    #[error("is empty")]
    Empty,
    #[error("contains {found:?}; a national code has digits only")]
    NotDigit { found: char },
    #[error("has {count} digits, a national code has 10")]
    WrongLength { count: usize },
    #[error("has all ten digits the same ({code}), which is never issued")]
    AllEqual { code: String },
    #[error("check digit is {found}, expected {expected}")]
    CheckDigit { found: u8, expected: u8 },
}

impl NationalCodeError {
    /// What the person fixing the record should do.
    pub fn hint(&self) -> &'static str {
        match self {
            NationalCodeError::Empty => "fill in the 10-digit national code",
            NationalCodeError::NotDigit { .. } | NationalCodeError::WrongLength { .. } => {
                "type the 10 digits of the code (leading zeros included)"
            }
            NationalCodeError::AllEqual { .. } | NationalCodeError::CheckDigit { .. } => {
                "re-type the code from the birth certificate"
            }
        }
    }
}

impl NationalCode {
    /// Parses a national code as typed: Persian and Arabic-Indic digits are accepted as ASCII
    /// digits; surrounding white space, and spaces or hyphens between digit groups (as printed
    /// on cards: `001-234567-9`), are ignored.
    pub fn parse(text: &str) -> Result<Self, NationalCodeError> {
        let text = ascii_digits(text.trim());
        if text.is_empty() {
            return Err(NationalCodeError::Empty);
        }
        let mut digits = Vec::with_capacity(10);
        for c in text.chars().filter(|&c| c != '-' && c != ' ') {
            match c.to_digit(10) {
                Some(d) if c.is_ascii_digit() => digits.push(d as u8),
                _ => return Err(NationalCodeError::NotDigit { found: c }),
            }
        }
        let digits: [u8; 10] = digits
            .try_into()
            .map_err(|v: Vec<u8>| NationalCodeError::WrongLength { count: v.len() })?;
        Self::from_digits(digits)
    }

    /// Checks the exact on-card form: ten ASCII digits, nothing else (applets-spec §5.1 DF01).
    pub fn from_card_bytes(bytes: &[u8]) -> Result<Self, NationalCodeError> {
        if let Some(&bad) = bytes.iter().find(|b| !b.is_ascii_digit()) {
            return Err(NationalCodeError::NotDigit {
                found: char::from(bad),
            });
        }
        let digits: [u8; 10] = bytes
            .iter()
            .map(|b| b - b'0')
            .collect::<Vec<_>>()
            .try_into()
            .map_err(|v: Vec<u8>| NationalCodeError::WrongLength { count: v.len() })?;
        Self::from_digits(digits)
    }

    fn from_digits(digits: [u8; 10]) -> Result<Self, NationalCodeError> {
        if digits.iter().all(|&d| d == digits[0]) {
            return Err(NationalCodeError::AllEqual {
                code: digits_to_string(&digits),
            });
        }
        let expected = check_digit(&digits[..9]);
        if digits[9] != expected {
            return Err(NationalCodeError::CheckDigit {
                found: digits[9],
                expected,
            });
        }
        Ok(NationalCode(digits))
    }

    /// What makes this code implausible though it passes the rules (empty for most codes):
    /// nine of its ten digits the same (`1111111112`…), or the prefix `000`, which no
    /// registration office has. Each is a warning, not an error: the rules of issuance are not
    /// public.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for d in 0..=9u8 {
            if self.0.iter().filter(|&&x| x == d).count() == 9 {
                warnings.push(format!(
                    "{self} has nine digits {d}, which looks typed to fill the field"
                ));
            }
        }
        if self.0[..3] == [0, 0, 0] {
            warnings.push(format!(
                "{self} begins with 000, which no registration office's code does"
            ));
        }
        warnings
    }

    /// The ten digits as ASCII, the on-card form.
    pub fn to_ascii(&self) -> [u8; 10] {
        self.0.map(|d| d + b'0')
    }

    /// The ten digits, each 0..=9.
    pub fn digits(&self) -> [u8; 10] {
        self.0
    }
}

/// The check digit of the first nine digits of a national code (each 0..=9).
pub fn check_digit(first_nine: &[u8]) -> u8 {
    let sum: u32 = first_nine
        .iter()
        .take(9)
        .zip((2..=10u32).rev())
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    let r = (sum % 11) as u8;
    if r < 2 {
        r
    } else {
        11 - r
    }
}

fn digits_to_string(digits: &[u8]) -> String {
    digits.iter().map(|d| char::from(b'0' + d)).collect()
}

impl fmt::Display for NationalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&digits_to_string(&self.0))
    }
}

validated_string!(NationalCode, NationalCodeError);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts() {
        for (input, stored) in [
            ("0012345679", "0012345679"),
            ("1234567891", "1234567891"),
            ("۰۰۱۲۳۴۵۶۷۹", "0012345679"),
            ("٠٠١٢٣٤٥٦٧٩", "0012345679"),
            (" 001-234567-9 ", "0012345679"),
            ("001 234567 9", "0012345679"),
            // r = 0 and r = 1: the check digit is r itself.
            ("0100000010", "0100000010"),
            ("1000000011", "1000000011"),
        ] {
            let code = NationalCode::parse(input).unwrap();
            assert_eq!(code.to_string(), stored, "{input}");
        }
    }

    #[test]
    fn errors() {
        let cases = [
            ("", "is empty"),
            ("   ", "is empty"),
            (
                "00123456x9",
                "contains 'x'; a national code has digits only",
            ),
            (
                "0012345.79",
                "contains '.'; a national code has digits only",
            ),
            ("012345679", "has 9 digits, a national code has 10"),
            ("00123456790", "has 11 digits, a national code has 10"),
            (
                "1111111111",
                "has all ten digits the same (1111111111), which is never issued",
            ),
            (
                "0000000000",
                "has all ten digits the same (0000000000), which is never issued",
            ),
            ("0012345673", "check digit is 3, expected 9"),
        ];
        for (input, message) in cases {
            assert_eq!(
                NationalCode::parse(input).unwrap_err().to_string(),
                message,
                "{input:?}"
            );
        }
    }

    #[test]
    fn all_equal_codes_have_valid_check_digits_yet_are_refused() {
        for d in 0..=9u8 {
            let digits = [d; 10];
            assert_eq!(check_digit(&digits[..9]), d, "the trap is real for {d}");
            let text = digits_to_string(&digits);
            assert!(matches!(
                NationalCode::parse(&text),
                Err(NationalCodeError::AllEqual { .. })
            ));
        }
    }

    #[test]
    fn card_form() {
        let code = NationalCode::from_card_bytes(b"0012345679").unwrap();
        assert_eq!(&code.to_ascii(), b"0012345679");
        assert!(NationalCode::from_card_bytes("۰۰۱۲۳۴۵۶۷۹".as_bytes()).is_err());
        assert!(NationalCode::from_card_bytes(b"001-234567-9").is_err());
        assert!(NationalCode::from_card_bytes(b"001234567").is_err());
    }

    #[test]
    fn hints() {
        assert_eq!(
            NationalCodeError::CheckDigit {
                found: 3,
                expected: 4
            }
            .hint(),
            "re-type the code from the birth certificate"
        );
        assert!(!NationalCodeError::Empty.hint().is_empty());
        assert!(!NationalCodeError::WrongLength { count: 1 }
            .hint()
            .is_empty());
    }

    proptest! {
        #[test]
        fn correct_check_digit_always_validates(first in proptest::array::uniform9(0u8..=9)) {
            let mut digits = [0u8; 10];
            digits[..9].copy_from_slice(&first);
            digits[9] = check_digit(&first);
            let text = digits_to_string(&digits);
            prop_assume!(!digits.iter().all(|&d| d == digits[0]));
            let code = NationalCode::parse(&text).unwrap();
            prop_assert_eq!(code.to_string(), text);
        }

        #[test]
        fn any_other_last_digit_fails(first in proptest::array::uniform9(0u8..=9), last in 0u8..=9) {
            let expected = check_digit(&first);
            prop_assume!(last != expected);
            let mut digits = [0u8; 10];
            digits[..9].copy_from_slice(&first);
            digits[9] = last;
            prop_assume!(!digits.iter().all(|&d| d == digits[0]));
            let err = NationalCode::parse(&digits_to_string(&digits)).unwrap_err();
            prop_assert_eq!(err, NationalCodeError::CheckDigit { found: last, expected });
        }

        #[test]
        fn never_panics(s in "\\PC{0,20}") {
            let _ = NationalCode::parse(&s);
        }
    }
}

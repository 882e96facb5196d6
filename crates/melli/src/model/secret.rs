//! The holder's PIN and PUK (applets-spec §8): digits only, held in memory that is wiped on
//! drop, never shown by `Debug` or `Display`.

use std::fmt;

use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use crate::spec::pin as rules;

/// Which secret a value is, for messages and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    Pin,
    Puk,
}

impl SecretKind {
    fn range(self) -> (usize, usize) {
        match self {
            SecretKind::Pin => (rules::PIN_MIN, rules::PIN_MAX),
            SecretKind::Puk => (rules::PUK_MIN, rules::PUK_MAX),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SecretKind::Pin => "PIN",
            SecretKind::Puk => "PUK",
        }
    }
}

/// Why a PIN or PUK was refused. The messages never contain the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the {0} must be digits only")]
    NotDigits(&'static str),
    #[error("the {kind} must have {min} to {max} digits, this one has {len}")]
    Length {
        kind: &'static str,
        min: usize,
        max: usize,
        len: usize,
    },
}

/// A validated PIN or PUK.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    kind: SecretKind,
    digits: Zeroizing<String>,
}

impl Secret {
    /// Validates typed or read text; surrounding whitespace (a trailing newline) is ignored.
    pub fn parse(kind: SecretKind, text: &str) -> Result<Secret, SecretError> {
        let digits = text.trim();
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SecretError::NotDigits(kind.name()));
        }
        let (min, max) = kind.range();
        if !(min..=max).contains(&digits.len()) {
            return Err(SecretError::Length {
                kind: kind.name(),
                min,
                max,
                len: digits.len(),
            });
        }
        Ok(Secret {
            kind,
            digits: Zeroizing::new(digits.to_string()),
        })
    }

    /// A random secret of the given number of digits (clamped to the allowed range), drawn
    /// from the operating system's generator without modulo bias.
    pub fn generate(kind: SecretKind, len: usize) -> Secret {
        let (min, max) = kind.range();
        let len = len.clamp(min, max);
        let mut digits = Zeroizing::new(String::with_capacity(len));
        while digits.len() < len {
            let mut byte = [0u8; 1];
            OsRng.fill_bytes(&mut byte);
            // 250 is the largest multiple of 10 below 256: reject above it to stay uniform.
            if byte[0] < 250 {
                digits.push(char::from(b'0' + byte[0] % 10));
            }
        }
        Secret { kind, digits }
    }

    pub fn kind(&self) -> SecretKind {
        self.kind
    }

    /// The digits, for writing a PIN mailer. Handle with care.
    pub fn expose(&self) -> &str {
        &self.digits
    }

    /// The reference-data block the card takes: ASCII digits padded with `FF` to 16 bytes.
    pub fn to_block(&self) -> Zeroizing<[u8; rules::BLOCK_LEN]> {
        let mut block = Zeroizing::new([rules::PAD; rules::BLOCK_LEN]);
        for (slot, digit) in block.iter_mut().zip(self.digits.bytes()) {
            *slot = digit;
        }
        block
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(REDACTED)", self.kind.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_pins_and_puks() {
        assert!(Secret::parse(SecretKind::Pin, "123456\n").is_ok());
        assert!(Secret::parse(SecretKind::Pin, "12345").is_err());
        assert!(Secret::parse(SecretKind::Pin, "1234567890123").is_err());
        assert!(Secret::parse(SecretKind::Pin, "12345a").is_err());
        assert!(Secret::parse(SecretKind::Puk, "1234567").is_err());
        assert!(Secret::parse(SecretKind::Puk, "12345678").is_ok());
    }

    #[test]
    fn never_shows_the_digits() {
        let pin = Secret::parse(SecretKind::Pin, "987654").expect("valid");
        assert_eq!(format!("{pin:?}"), "PIN(REDACTED)");
        let err = Secret::parse(SecretKind::Pin, "98765").expect_err("short");
        assert!(!err.to_string().contains("98765"));
    }

    #[test]
    fn pads_the_block_with_ff() {
        let pin = Secret::parse(SecretKind::Pin, "123456").expect("valid");
        let block = pin.to_block();
        assert_eq!(&block[..6], b"123456");
        assert!(block[6..].iter().all(|b| *b == 0xFF));
    }

    #[test]
    fn generates_valid_secrets() {
        for _ in 0..50 {
            let puk = Secret::generate(SecretKind::Puk, 10);
            assert!(Secret::parse(SecretKind::Puk, puk.expose()).is_ok());
            assert_eq!(puk.expose().len(), 10);
        }
        assert_eq!(Secret::generate(SecretKind::Pin, 2).expose().len(), 6);
    }
}

//! The card's persistent state — what a real card keeps in EEPROM — in its validated in-memory
//! form (spec §8.7). The state file's format is in [`super::state_file`].

use std::fmt;

use super::device_secret::{DeviceSecret, HashedReference};
use super::files::Files;
use super::keys::StaticKeys;
use crate::spec::{self, lifecycle, pin};

/// Lifecycle states (§7), coded as the ISO/IEC 7816-4 life cycle status byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lifecycle {
    Blank,
    Personalizing,
    Operational,
    Terminated,
}

impl Lifecycle {
    const ALL: [Lifecycle; 4] = [
        Lifecycle::Blank,
        Lifecycle::Personalizing,
        Lifecycle::Operational,
        Lifecycle::Terminated,
    ];

    /// The life cycle status byte, as in GET DATA `DF02` and the FCP's `8A` (§6.1, §6.6).
    pub fn byte(self) -> u8 {
        match self {
            Lifecycle::Blank => lifecycle::BLANK,
            Lifecycle::Personalizing => lifecycle::PERSONALIZING,
            Lifecycle::Operational => lifecycle::OPERATIONAL,
            Lifecycle::Terminated => lifecycle::TERMINATED,
        }
    }

    /// The name used in the state file.
    pub fn name(self) -> &'static str {
        match self {
            Lifecycle::Blank => "blank",
            Lifecycle::Personalizing => "personalizing",
            Lifecycle::Operational => "operational",
            Lifecycle::Terminated => "terminated",
        }
    }

    pub fn from_name(name: &str) -> Option<Lifecycle> {
        Lifecycle::ALL
            .into_iter()
            .find(|state| state.name() == name)
    }
}

/// A PIN or PUK: its reference value as a salted hash (absent until set during
/// personalization; the clear block is never kept) and the tries left (§8.1, §8.3, §8.7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ReferenceData {
    pub reference: Option<HashedReference>,
    pub tries_left: u8,
}

/// The rules of one kind of reference data (§8.1).
#[derive(Clone, Copy, Debug)]
pub(super) struct ReferenceRules {
    pub min_digits: usize,
    pub max_digits: usize,
    pub tries: u8,
}

pub(super) const PIN_RULES: ReferenceRules = ReferenceRules {
    min_digits: pin::PIN_MIN,
    max_digits: pin::PIN_MAX,
    tries: pin::PIN_TRIES,
};

pub(super) const PUK_RULES: ReferenceRules = ReferenceRules {
    min_digits: pin::PUK_MIN,
    max_digits: pin::PUK_MAX,
    tries: pin::PUK_TRIES,
};

impl ReferenceRules {
    /// Is `block` a well-formed reference block: between the minimum and maximum number of
    /// ASCII digits, then `FF` up to 16 bytes (§8.2)?
    pub fn is_well_formed(self, block: &[u8]) -> bool {
        if block.len() != pin::BLOCK_LEN {
            return false;
        }
        let digits = block.iter().take_while(|b| b.is_ascii_digit()).count();
        let padded = block.iter().skip(digits).all(|b| *b == pin::PAD);
        padded && (self.min_digits..=self.max_digits).contains(&digits)
    }

    /// Reference data not set yet, with the full number of tries.
    pub fn unset(self) -> ReferenceData {
        ReferenceData {
            reference: None,
            tries_left: self.tries,
        }
    }
}

/// A validated card serial: 1 to 16 characters from `0-9` and `A-Z` (§6.6, `DF01`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Serial(String);

impl Serial {
    pub fn parse(serial: &str) -> Option<Serial> {
        let valid_char = |c: char| c.is_ascii_digit() || c.is_ascii_uppercase();
        let valid = (1..=16).contains(&serial.len()) && serial.chars().all(valid_char);
        valid.then(|| Serial(serial.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Everything the card keeps across power cycles.
#[derive(Clone)]
pub(super) struct CardState {
    pub serial: Serial,
    pub lifecycle: Lifecycle,
    /// The specification version this card implements (§1, GET DATA `DF03`).
    pub spec_version: (u8, u8),
    /// K_enc and K_mac, diversified from the issuer's master key at manufacture (§8.5, §10.1).
    pub static_keys: StaticKeys,
    /// The card's own random secret, drawn at manufacture: it keys the reference-data hashes
    /// and the state file's MAC (§8.7).
    pub device_secret: DeviceSecret,
    pub pin: ReferenceData,
    pub puk: ReferenceData,
    /// Biometric (match-on-card) tries left; the template itself is file DG3 (§8.3, §11.5).
    pub finger_tries_left: u8,
    /// Signing key 01 (§8.5), generated on the card during personalization.
    pub signing_key: Option<p256::SecretKey>,
    /// Set for good when the PUK try counter reaches 0: the signing key is never used again
    /// (§6.10, §8.7).
    pub signing_key_blocked: bool,
    /// Chip-authentication key 02 (§8.5), generated on the card during personalization.
    pub chip_auth_key: Option<p256::SecretKey>,
    /// Authentication (login) key 03 (§12.2), generated on the card during personalization;
    /// only on a card of version 1.1 or later. An exhausted PUK does not block it.
    pub auth_key: Option<p256::SecretKey>,
    pub files: Files,
}

impl CardState {
    /// Does this card implement version 1.1's online identity: key `03`, DG7, INTERNAL
    /// AUTHENTICATE P2 `03` (§12)? A card whose state was made as a 1.0 card stays one.
    pub fn has_online_identity(&self) -> bool {
        self.spec_version >= spec::authentication::SINCE
    }

    /// A blank card (§7 BLANK): serial and static keys only, every file empty.
    pub fn blank(
        serial: Serial,
        static_keys: StaticKeys,
        device_secret: DeviceSecret,
    ) -> CardState {
        CardState {
            serial,
            lifecycle: Lifecycle::Blank,
            spec_version: spec::SPEC_VERSION,
            static_keys,
            device_secret,
            pin: PIN_RULES.unset(),
            puk: PUK_RULES.unset(),
            finger_tries_left: pin::FINGER_TRIES,
            signing_key: None,
            signing_key_blocked: false,
            chip_auth_key: None,
            auth_key: None,
            files: Files::blank(spec::SPEC_VERSION),
        }
    }
}

/// No secret in the output: keys and reference data say REDACTED, the private keys whether
/// they exist, the files only their lengths (DG3 is never readable).
impl fmt::Debug for CardState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let present = |key: &Option<p256::SecretKey>| key.as_ref().map(|_| "REDACTED");
        let lengths: Vec<(String, usize)> = self
            .files
            .iter()
            .map(|(file, content)| (format!("{:04X}", file.fid), content.len()))
            .collect();
        f.debug_struct("CardState")
            .field("serial", &self.serial)
            .field("lifecycle", &self.lifecycle)
            .field("spec_version", &self.spec_version)
            .field("static_keys", &self.static_keys)
            .field("device_secret", &self.device_secret)
            .field("pin", &self.pin)
            .field("puk", &self.puk)
            .field("finger_tries_left", &self.finger_tries_left)
            .field("signing_key", &present(&self.signing_key))
            .field("signing_key_blocked", &self.signing_key_blocked)
            .field("chip_auth_key", &present(&self.chip_auth_key))
            .field("auth_key", &present(&self.auth_key))
            .field("file_lengths", &lengths)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials() {
        for good in ["1", "A", "0123456789ABCDEF", "MELLI0001"] {
            assert!(Serial::parse(good).is_some(), "{good}");
        }
        for bad in ["", "a", "0123456789ABCDEF0", "AB-1", "AB 1", "ÄB", "١٢"] {
            assert!(Serial::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn lifecycle_bytes_and_names() {
        let bytes: Vec<u8> = Lifecycle::ALL.iter().map(|s| s.byte()).collect();
        assert_eq!(bytes, vec![0x01, 0x03, 0x05, 0x0C]);
        for state in Lifecycle::ALL {
            assert_eq!(Lifecycle::from_name(state.name()), Some(state));
        }
        assert_eq!(Lifecycle::from_name("Blank"), None);
    }

    /// Debug of the whole state shows no secret: not the keys, not the device secret, not the
    /// PIN hash, not a file byte.
    #[test]
    fn debug_is_redacted() {
        let serial = Serial::parse("MELLI0001").unwrap();
        let keys = StaticKeys::derive(&[7; 16], &serial);
        let secret = DeviceSecret::generate().unwrap();
        let mut state = CardState::blank(serial, keys, secret);
        let block = [
            b'1', b'2', b'3', b'4', b'5', b'6', 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            0xFF, 0xFF,
        ];
        state.pin.reference =
            Some(HashedReference::new(&state.device_secret, 0x81, &block).unwrap());
        state.signing_key = Some(p256::SecretKey::from_slice(&[0x11; 32]).unwrap());
        state.auth_key = Some(p256::SecretKey::from_slice(&[0x33; 32]).unwrap());
        state
            .files
            .set_content(spec::ef::FINGERPRINT, vec![0xAB; 40])
            .unwrap();
        let shown = format!("{state:?}");
        let hashed = state.pin.reference.as_ref().unwrap();
        for secret in [
            &state.static_keys.enc[..],
            &state.static_keys.mac[..],
            &state.device_secret.as_bytes()[..],
            &hashed.hash[..],
            &hashed.salt[..],
            &[0x11; 32][..],
            &[0x33; 32][..],
        ] {
            for text in [
                hex::encode(secret),
                hex::encode_upper(secret),
                format!("{secret:?}"),
            ] {
                assert!(!shown.contains(&text), "{shown}");
            }
        }
        assert!(
            !shown.contains("171, 171") && !shown.contains("AB"),
            "{shown}"
        );
        assert!(
            shown.contains("REDACTED") && shown.contains("MELLI0001"),
            "{shown}"
        );
    }

    #[test]
    fn reference_blocks() {
        let block = |s: &str| {
            let mut b = [0xFF; 16];
            b[..s.len()].copy_from_slice(s.as_bytes());
            b
        };
        assert!(PIN_RULES.is_well_formed(&block("123456")));
        assert!(PIN_RULES.is_well_formed(&block("123456789012")));
        assert!(!PIN_RULES.is_well_formed(&block("12345")));
        assert!(!PIN_RULES.is_well_formed(&block("1234567890123")));
        assert!(PUK_RULES.is_well_formed(&block("1234567890123456")));
        assert!(!PUK_RULES.is_well_formed(&block("1234567")));
        let mut hole = block("123456");
        hole[8] = b'7';
        assert!(!PIN_RULES.is_well_formed(&hole));
        assert!(!PIN_RULES.is_well_formed(&block("12345a")));
        assert!(!PIN_RULES.is_well_formed(&[b'1'; 15]));
    }
}

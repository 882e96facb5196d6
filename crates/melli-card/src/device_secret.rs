//! The card's own secret and what is derived from it (spec §8.7): a random 32-byte device
//! secret drawn at manufacture, from which the card derives
//!
//! - the reference-data key K_ref = HMAC-SHA256(secret, "melli-card reference data v2"), under
//!   which the PIN and the PUK are kept as salted hashes, never in clear;
//! - the state-file key K_file = HMAC-SHA256(secret, "melli-card state file v2"), under which
//!   the whole state file carries a MAC, so that an edited file is refused.
//!
//! The secret lives in the state file itself: the virtual card has no secure element. So the
//! hashes keep the PIN and the PUK from being read off the file, and the MAC keeps the file from
//! being changed by hand or by a program that does not know this construction; neither stops
//! someone who reads this code and the file (§8.7 says so).

use std::fmt;

use rand_core::{OsRng, RngCore};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::crypto::{self, HMAC_LEN};

/// The length of the device secret.
pub(super) const SECRET_LEN: usize = 32;
/// The length of a reference hash's salt.
pub(super) const SALT_LEN: usize = 16;
/// The length of a reference hash.
pub(super) const HASH_LEN: usize = HMAC_LEN;

const REFERENCE_LABEL: &[u8] = b"melli-card reference data v2";
const FILE_LABEL: &[u8] = b"melli-card state file v2";

/// The operating system's random generator failed.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct NoRandomness;

/// The device secret, wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct DeviceSecret(Zeroizing<[u8; SECRET_LEN]>);

impl fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceSecret(REDACTED)")
    }
}

impl DeviceSecret {
    /// A fresh secret from the operating system's secure generator (at manufacture).
    pub fn generate() -> Result<DeviceSecret, NoRandomness> {
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        OsRng
            .try_fill_bytes(secret.as_mut_slice())
            .map_err(|_| NoRandomness)?;
        Ok(DeviceSecret(secret))
    }

    pub fn from_bytes(bytes: Zeroizing<[u8; SECRET_LEN]>) -> DeviceSecret {
        DeviceSecret(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }

    fn reference_key(&self) -> Zeroizing<[u8; HMAC_LEN]> {
        crypto::hmac_sha256(self.0.as_slice(), &[REFERENCE_LABEL])
    }

    fn file_key(&self) -> Zeroizing<[u8; HMAC_LEN]> {
        crypto::hmac_sha256(self.0.as_slice(), &[FILE_LABEL])
    }

    /// The state file's MAC over its canonical text (§8.7).
    pub fn file_mac(&self, canonical: &[u8]) -> Zeroizing<[u8; HMAC_LEN]> {
        crypto::hmac_sha256(self.file_key().as_slice(), &[canonical])
    }

    /// Is `tag` the state file's MAC over `canonical`? Compared in constant time.
    pub fn file_mac_matches(&self, canonical: &[u8], tag: &[u8]) -> bool {
        crypto::hmac_sha256_matches(self.file_key().as_slice(), &[canonical], tag)
    }
}

/// A PIN or PUK as the card keeps it: a random salt and HMAC-SHA256(K_ref, kind ‖ salt ‖
/// block), where kind is the reference's P2 (`81` PIN, `82` PUK) and block the 16-byte block
/// of §8.2. The block itself is never kept; the hash is wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub(super) struct HashedReference {
    pub salt: [u8; SALT_LEN],
    pub hash: [u8; HASH_LEN],
}

impl fmt::Debug for HashedReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashedReference(REDACTED)")
    }
}

impl HashedReference {
    /// Hashes `block` under a fresh salt.
    pub fn new(
        secret: &DeviceSecret,
        kind: u8,
        block: &[u8],
    ) -> Result<HashedReference, NoRandomness> {
        let mut salt = [0u8; SALT_LEN];
        OsRng.try_fill_bytes(&mut salt).map_err(|_| NoRandomness)?;
        let hash =
            *crypto::hmac_sha256(secret.reference_key().as_slice(), &[&[kind], &salt, block]);
        Ok(HashedReference { salt, hash })
    }

    /// Is `block` the reference value? Compared in constant time.
    pub fn matches(&self, secret: &DeviceSecret, kind: u8, block: &[u8]) -> bool {
        crypto::hmac_sha256_matches(
            secret.reference_key().as_slice(),
            &[&[kind], &self.salt, block],
            &self.hash,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN: &[u8; 16] = b"123456\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF";

    #[test]
    fn a_hashed_reference_matches_its_block_only() {
        let secret = DeviceSecret::generate().unwrap();
        let hashed = HashedReference::new(&secret, 0x81, PIN).unwrap();
        assert!(hashed.matches(&secret, 0x81, PIN));
        let mut other = *PIN;
        other[5] = b'7';
        assert!(!hashed.matches(&secret, 0x81, &other));
        assert!(
            !hashed.matches(&secret, 0x82, PIN),
            "a PIN hash is no PUK hash"
        );
        assert!(!hashed.matches(&secret, 0x81, &PIN[..15]));
        let other_card = DeviceSecret::generate().unwrap();
        assert!(!hashed.matches(&other_card, 0x81, PIN));
    }

    #[test]
    fn each_hash_has_its_own_salt() {
        let secret = DeviceSecret::generate().unwrap();
        let one = HashedReference::new(&secret, 0x81, PIN).unwrap();
        let two = HashedReference::new(&secret, 0x81, PIN).unwrap();
        assert_ne!(one.salt, two.salt);
        assert_ne!(one.hash, two.hash);
        assert!(two.matches(&secret, 0x81, PIN));
    }

    /// The construction as §8.7 writes it down, computed here from the primitives.
    #[test]
    fn hash_and_mac_follow_the_specification() {
        let secret = DeviceSecret::from_bytes(Zeroizing::new([0x42; SECRET_LEN]));
        let hashed = HashedReference::new(&secret, 0x82, PIN).unwrap();
        let k_ref = crypto::hmac_sha256(&[0x42; 32], &[b"melli-card reference data v2"]);
        let expected = crypto::hmac_sha256(k_ref.as_slice(), &[&[0x82], &hashed.salt, PIN]);
        assert_eq!(hashed.hash, *expected);

        let k_file = crypto::hmac_sha256(&[0x42; 32], &[b"melli-card state file v2"]);
        let tag = crypto::hmac_sha256(k_file.as_slice(), &[b"{}"]);
        assert_eq!(*secret.file_mac(b"{}"), *tag);
        assert!(secret.file_mac_matches(b"{}", tag.as_slice()));
        assert!(!secret.file_mac_matches(b"{ }", tag.as_slice()));
    }

    #[test]
    fn debug_is_redacted() {
        let secret = DeviceSecret::from_bytes(Zeroizing::new([0x42; SECRET_LEN]));
        assert_eq!(format!("{secret:?}"), "DeviceSecret(REDACTED)");
        let hashed = HashedReference::new(&secret, 0x81, PIN).unwrap();
        assert_eq!(format!("{hashed:?}"), "HashedReference(REDACTED)");
    }
}

//! The status key: what the shared journal keys a person's national code and birth date with,
//! so that a stolen journal does not hand out the pair that unlocks a citizen's status.
//!
//! It is derived from the issuer's personalization master key (applets-spec §10.1), so it
//! lives wherever that key lives — a key file or an HSM — and needs no file of its own: NIST
//! SP 800-108 in counter mode with AES-CMAC as the PRF, two blocks, the label below. The
//! label's first byte is not one of the card-key diversification constants, so no input here
//! is ever a card key's.
//!
//! A person is then `HMAC-SHA256(status key, national code || 0x1F || birth date)`.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::error::PkiError;
use super::keys::MasterKey;
use crate::model::{JalaliDate, NationalCode};

/// The KDF's label and context (SP 800-108 §5.1: `[i] || Label || 0x00 || Context || [L]`).
const LABEL: &[u8] = b"\x80melli status key";
/// The length of the derived key in bits, the KDF's `[L]`.
const BITS: [u8; 2] = 256u16.to_be_bytes();

/// The key of the journal's `birth_key` column.
pub struct StatusKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for StatusKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatusKey(REDACTED)")
    }
}

impl StatusKey {
    /// Derives the issuer's status key from its master key (in an HSM: two CMACs inside it).
    pub fn derive(master: &MasterKey) -> Result<StatusKey, PkiError> {
        let mut key = Zeroizing::new([0u8; 32]);
        for (i, half) in key.chunks_mut(16).enumerate() {
            let counter = u8::try_from(i + 1).unwrap_or(u8::MAX);
            let input = [&[counter][..], LABEL, &[0x00], &BITS].concat();
            half.copy_from_slice(&*master.cmac(&input)?);
        }
        Ok(StatusKey(key))
    }

    /// A key given as is (tests).
    pub fn from_bytes(bytes: [u8; 32]) -> StatusKey {
        StatusKey(Zeroizing::new(bytes))
    }

    /// The person's keyed hash.
    pub fn person(&self, national_code: &NationalCode, birth_date: &JalaliDate) -> [u8; 32] {
        // HMAC takes a key of any length: new_from_slice cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&*self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(national_code.to_string().as_bytes());
        mac.update(&[0x1F]);
        mac.update(birth_date.to_string().as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_person_hash_depends_on_key_code_and_date() {
        let code = NationalCode::parse("0499370899").unwrap();
        let date = JalaliDate::parse("1370/01/01").unwrap();
        let other_date = JalaliDate::parse("1370/01/02").unwrap();
        let a = StatusKey::from_bytes([1; 32]);
        let b = StatusKey::from_bytes([2; 32]);
        assert_eq!(a.person(&code, &date), a.person(&code, &date));
        assert_ne!(a.person(&code, &date), b.person(&code, &date));
        assert_ne!(a.person(&code, &date), a.person(&code, &other_date));
    }

    #[test]
    fn the_key_is_derived_from_the_master_key_and_differs_from_it() {
        let one = MasterKey::Software(Zeroizing::new([7; 16]));
        let two = MasterKey::Software(Zeroizing::new([8; 16]));
        let k1 = StatusKey::derive(&one).unwrap();
        assert_eq!(*k1.0, *StatusKey::derive(&one).unwrap().0);
        assert_ne!(*k1.0, *StatusKey::derive(&two).unwrap().0);
        assert_ne!(k1.0[..16], k1.0[16..]);
    }
}

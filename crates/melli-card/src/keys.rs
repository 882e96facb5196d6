//! The card's static personalization keys (spec §8.5, §10.1): K_enc = AES-CMAC(MK, 01 || serial) and
//! K_mac = AES-CMAC(MK, 02 || serial), where MK is the issuer's master key. The card keeps the
//! two derived keys and never the master key.

use std::fmt;

use aes::Aes128;
use cmac::{Cmac, Mac};
use zeroize::Zeroizing;

use super::state::Serial;
use crate::spec::secure_channel::{DIVERSIFY_ENC, DIVERSIFY_MAC, KEY_LEN};

/// An AES-128 key, wiped from memory when dropped.
pub(super) type AesKey = Zeroizing<[u8; KEY_LEN]>;

/// K_enc and K_mac of one card.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct StaticKeys {
    pub enc: AesKey,
    pub mac: AesKey,
}

impl fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticKeys(REDACTED)")
    }
}

impl StaticKeys {
    /// Diversifies the issuer's master key for the card with `serial` (§10.1).
    pub fn derive(master_key: &[u8; KEY_LEN], serial: &Serial) -> StaticKeys {
        StaticKeys {
            enc: diversify(master_key, DIVERSIFY_ENC, serial),
            mac: diversify(master_key, DIVERSIFY_MAC, serial),
        }
    }
}

/// AES-CMAC(MK, constant || serial ASCII): a NIST SP 800-108 style PRF with one output block.
fn diversify(master_key: &[u8; KEY_LEN], constant: u8, serial: &Serial) -> AesKey {
    let mut prf = <Cmac<Aes128> as cmac::digest::KeyInit>::new(master_key.into());
    prf.update(&[constant]);
    prf.update(serial.as_str().as_bytes());
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(&prf.finalize().into_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values computed independently with OpenSSL:
    /// `printf '\x01MELLI0001' | openssl mac -cipher AES-128-CBC -macopt hexkey:000102…0F CMAC`.
    #[test]
    fn derivation_matches_openssl() {
        let master: [u8; 16] = core::array::from_fn(|i| i as u8);
        let keys = StaticKeys::derive(&master, &Serial::parse("MELLI0001").unwrap());
        assert_eq!(hex::encode_upper(*keys.enc), EXPECTED_ENC);
        assert_eq!(hex::encode_upper(*keys.mac), EXPECTED_MAC);
        assert_ne!(keys.enc, keys.mac);
        assert_eq!(format!("{keys:?}"), "StaticKeys(REDACTED)");
    }

    const EXPECTED_ENC: &str = "42417C243BF9B5C1DC020138CEF4DAC2";
    const EXPECTED_MAC: &str = "2D9CEA08C18D6B6D016626E211916F4B";
}

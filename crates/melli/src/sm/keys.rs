//! The card's static personalization keys, diversified from the issuer's master key (§10.1).

use super::{cmac, Key};
use crate::spec::secure_channel as sc;
use std::fmt;
use zeroize::Zeroizing;

/// The card's two static personalization keys, diversified from the issuer's master key and
/// the card serial (§8, §10.1): `K = AES-CMAC(MK, constant || serial)`.
pub struct StaticKeys {
    pub(super) enc: Key,
    pub(super) mac: Key,
}

impl fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticKeys(REDACTED)")
    }
}

impl StaticKeys {
    /// The input of one diversification: `constant || serial` (§10.1). An issuer whose master
    /// key lives in an HSM has the token compute the AES-CMAC over it.
    pub fn diversification_input(constant: u8, serial: &str) -> Vec<u8> {
        let mut input = Vec::with_capacity(1 + serial.len());
        input.push(constant);
        input.extend_from_slice(serial.as_bytes());
        input
    }

    /// Keys diversified elsewhere (an HSM's AES-CMAC over [`Self::diversification_input`]
    /// with [`sc::DIVERSIFY_ENC`] and [`sc::DIVERSIFY_MAC`]).
    pub fn from_diversified(enc: [u8; sc::KEY_LEN], mac: [u8; sc::KEY_LEN]) -> StaticKeys {
        StaticKeys {
            enc: Zeroizing::new(enc),
            mac: Zeroizing::new(mac),
        }
    }

    /// The two keys, for a card factory that writes them into a new card (`melli card new
    /// --issuer`): `(K_enc, K_mac)`.
    pub fn to_card_keys(&self) -> (Key, Key) {
        (self.enc.clone(), self.mac.clone())
    }

    pub fn diversify(master: &[u8; sc::KEY_LEN], serial: &str) -> StaticKeys {
        let derive =
            |constant: u8| Zeroizing::new(*cmac(master, &[&[constant], serial.as_bytes()]));
        StaticKeys {
            enc: derive(sc::DIVERSIFY_ENC),
            mac: derive(sc::DIVERSIFY_MAC),
        }
    }
}

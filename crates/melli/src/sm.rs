//! The personalization secure channel, host side (applets-spec §10): per-card key
//! diversification, mutual authentication, session keys, and ISO/IEC 7816-4 secure messaging
//! with AES as ICAO 9303-11 §9.8 constructs it (AES-CBC encryption, AES-CMAC, send sequence
//! counter).
//!
//! The card side implements the same specification in `card::` on its own; the two share no
//! code, only the constants of `spec`.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyInit, KeyIvInit};
use aes::Aes128;
use cmac::{Cmac, Mac};
use zeroize::Zeroizing;

use crate::apdu::{push_ber_len, StatusWord};
use crate::spec::secure_channel as sc;

mod authentication;
mod channel;
mod keys;
mod response;

pub use authentication::Authentication;
pub use channel::SecureChannel;
pub use keys::StaticKeys;
use response::ResponseObjects;

type Key = Zeroizing<[u8; sc::KEY_LEN]>;
const BLOCK: usize = 16;

/// Why secure messaging failed on the host side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmError {
    #[error("the card's authentication cryptogram is wrong: this card was not made with this issuer's master key")]
    CardNotAuthenticated,
    #[error("the card's answer to mutual authentication is malformed ({0} bytes)")]
    MalformedAuthentication(usize),
    #[error(
        "the card's secure-messaging answer has a wrong MAC: the channel is no longer trustworthy"
    )]
    ResponseMac,
    #[error("the card's secure-messaging answer is malformed: {0}")]
    MalformedResponse(&'static str),
    #[error("the card refused secure messaging with status {0}")]
    Refused(StatusWord),
}

pub(crate) fn cmac(key: &[u8; sc::KEY_LEN], parts: &[&[u8]]) -> Zeroizing<[u8; BLOCK]> {
    // A 16-byte key always fits AES-128, so new_from_slice cannot fail here.
    let mut mac = <Cmac<Aes128> as KeyInit>::new(key.into());
    for part in parts {
        mac.update(part);
    }
    Zeroizing::new(mac.finalize().into_bytes().into())
}

/// ISO/IEC 9797-1 padding method 2: `80` then zeros up to a whole block.
fn pad(data: &mut Vec<u8>) {
    data.push(0x80);
    while !data.len().is_multiple_of(BLOCK) {
        data.push(0x00);
    }
}

/// Removes method-2 padding, or `None` if it is malformed.
fn unpad(data: &[u8]) -> Option<&[u8]> {
    let end = data.iter().rposition(|b| *b != 0)?;
    (data.get(end) == Some(&0x80) && data.len() - end <= BLOCK).then(|| &data[..end])
}

fn cbc_encrypt(key: &[u8; sc::KEY_LEN], iv: &[u8; BLOCK], data: &mut [u8]) {
    let len = data.len();
    // `data` is a whole number of blocks, so NoPadding cannot fail.
    let _ = cbc::Encryptor::<Aes128>::new(key.into(), iv.into())
        .encrypt_padded_mut::<NoPadding>(data, len);
}

fn cbc_decrypt(key: &[u8; sc::KEY_LEN], iv: &[u8; BLOCK], data: &mut [u8]) -> Option<()> {
    cbc::Decryptor::<Aes128>::new(key.into(), iv.into())
        .decrypt_padded_mut::<NoPadding>(data)
        .ok()
        .map(|_| ())
}

/// Appends the data object `tag`/`value` with its length in the shortest form, as the
/// specification's conventions require (the card refuses any other). Written here rather than
/// with `iso7816-tlv`, whose 0.4 encoder writes a 127-byte length as `81 7F`.
fn tlv(tag: u8, value: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    push_ber_len(value.len(), out);
    out.extend_from_slice(value);
}

/// Equal bytes, compared in constant time (`subtle`; lengths are public).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(a, b))
}

#[cfg(test)]
mod tests;

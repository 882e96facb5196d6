//! The card's symmetric primitives, each a thin call into the RustCrypto crates (spec README
//! "Conventions"): one AES block, AES-CBC without padding of its own, AES-CMAC (whole and
//! truncated, checked in constant time), SHA-256, HMAC-SHA256 (for the state file's seal and
//! the hashed reference data, §8.7), ISO/IEC 9797-1 padding method 2, and a constant-time
//! comparison.
//!
//! Nothing here is hand-rolled cryptography: the padding and the byte comparisons are the only
//! code of our own, and neither is a cipher.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncrypt, BlockEncryptMut, KeyInit, KeyIvInit};
use aes::Aes128;
use cmac::{Cmac, Mac};
use hmac::Hmac;
use p256::elliptic_curve::subtle::ConstantTimeEq;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::spec::secure_channel::KEY_LEN;
use crate::timing::{self, Work};

/// Counts `blocks` AES blocks as the chip's work ([`crate::timing`]).
fn count_aes(blocks: u32) {
    timing::note(Work {
        aes_blocks: blocks,
        ..Work::default()
    });
}

/// The AES block size, which is also the padding block of §10.
pub(super) const BLOCK: usize = 16;

/// A cipher operation on data whose length is not a whole number of blocks: a caller's bug,
/// never something an APDU can cause (the callers pad or check first).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct NotBlockAligned;

/// AES-128 encryption of one block (used as AES-ECB(KS_enc, SSC) for the IV, §10.4).
pub(super) fn encrypt_block(key: &[u8; KEY_LEN], block: &[u8; BLOCK]) -> [u8; BLOCK] {
    count_aes(1);
    let cipher = Aes128::new(key.into());
    let mut out = (*block).into();
    cipher.encrypt_block(&mut out);
    out.into()
}

/// AES-CBC(K, IV, data) in place; `data` must be a whole number of blocks.
pub(super) fn cbc_encrypt(
    key: &[u8; KEY_LEN],
    iv: &[u8; BLOCK],
    data: &mut [u8],
) -> Result<(), NotBlockAligned> {
    if !data.len().is_multiple_of(BLOCK) {
        return Err(NotBlockAligned);
    }
    let length = data.len();
    count_aes(timing::aes_blocks(length));
    cbc::Encryptor::<Aes128>::new(key.into(), iv.into())
        .encrypt_padded_mut::<NoPadding>(data, length)
        .map(|_| ())
        .map_err(|_| NotBlockAligned)
}

/// AES-CBC⁻¹(K, IV, data) in place; `data` must be a whole number of blocks.
pub(super) fn cbc_decrypt(
    key: &[u8; KEY_LEN],
    iv: &[u8; BLOCK],
    data: &mut [u8],
) -> Result<(), NotBlockAligned> {
    if !data.len().is_multiple_of(BLOCK) {
        return Err(NotBlockAligned);
    }
    count_aes(timing::aes_blocks(data.len()));
    cbc::Decryptor::<Aes128>::new(key.into(), iv.into())
        .decrypt_padded_mut::<NoPadding>(data)
        .map(|_| ())
        .map_err(|_| NotBlockAligned)
}

fn cmac_of(key: &[u8; KEY_LEN], parts: &[&[u8]]) -> Cmac<Aes128> {
    let length = parts
        .iter()
        .map(|part| part.len())
        .fold(0, usize::saturating_add);
    count_aes(timing::aes_blocks(length));
    let mut mac = <Cmac<Aes128> as cmac::digest::KeyInit>::new(key.into());
    for part in parts {
        mac.update(part);
    }
    mac
}

/// CMAC(K, part₀ ‖ part₁ ‖ …), 16 bytes.
pub(super) fn cmac(key: &[u8; KEY_LEN], parts: &[&[u8]]) -> [u8; BLOCK] {
    cmac_of(key, parts).finalize().into_bytes().into()
}

/// Is `tag` the first `tag.len()` bytes of CMAC(K, parts)? Compared in constant time. An
/// empty tag is never right.
pub(super) fn cmac_matches(key: &[u8; KEY_LEN], parts: &[&[u8]], tag: &[u8]) -> bool {
    !tag.is_empty() && cmac_of(key, parts).verify_truncated_left(tag).is_ok()
}

/// SHA-256(part₀ ‖ part₁ ‖ …).
pub(super) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut digest = Sha256::new();
    for part in parts {
        digest.update(part);
    }
    digest.finalize().into()
}

/// The output length of HMAC-SHA256.
pub(super) const HMAC_LEN: usize = 32;

fn hmac_of(key: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
    // HMAC takes a key of any length (a longer one is hashed first), so this never fails.
    let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| <Hmac<Sha256> as hmac::digest::KeyInit>::new(&Default::default()));
    for part in parts {
        mac.update(part);
    }
    mac
}

/// HMAC-SHA256(K, part₀ ‖ part₁ ‖ …), wiped from memory when dropped.
pub(super) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Zeroizing<[u8; HMAC_LEN]> {
    let mut out = Zeroizing::new([0u8; HMAC_LEN]);
    out.copy_from_slice(&hmac_of(key, parts).finalize().into_bytes());
    out
}

/// Is `tag` HMAC-SHA256(K, parts), all 32 bytes? Compared in constant time.
pub(super) fn hmac_sha256_matches(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    hmac_of(key, parts).verify_slice(tag).is_ok()
}

/// `pad(X)`: ISO/IEC 9797-1 padding method 2 — `80`, then `00` up to a multiple of 16; a
/// whole block when X already is one (spec README, Conventions).
pub(super) fn pad(data: &[u8]) -> Zeroizing<Vec<u8>> {
    let fill = BLOCK.saturating_sub(data.len() % BLOCK);
    let mut out = Zeroizing::new(Vec::with_capacity(data.len().saturating_add(fill)));
    out.extend_from_slice(data);
    out.push(0x80);
    out.resize(data.len().saturating_add(fill), 0x00);
    out
}

/// Removes `pad()`: the data must end with `80` followed by zeros, all within the last block
/// (pad adds 1 to 16 bytes). `None` when it does not (§10.6 row 5).
pub(super) fn unpad(data: &[u8]) -> Option<&[u8]> {
    let marker = data.iter().rposition(|b| *b != 0x00)?;
    let padding = data.len().checked_sub(marker)?;
    if data.get(marker) != Some(&0x80) || padding > BLOCK {
        return None;
    }
    data.get(..marker)
}

/// Constant-time equality of two byte strings of the same length (challenges, §10.2). Different lengths are unequal.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(text: &str) -> Vec<u8> {
        hex::decode(text.replace(' ', "")).unwrap()
    }

    /// NIST SP 800-38A F.1.1 (ECB-AES128, block 1) and RFC 4493 example 2.
    #[test]
    fn known_answers() {
        let key: [u8; 16] = h("2b7e151628aed2a6abf7158809cf4f3c").try_into().unwrap();
        let block: [u8; 16] = h("6bc1bee22e409f96e93d7e117393172a").try_into().unwrap();
        assert_eq!(
            encrypt_block(&key, &block).to_vec(),
            h("3ad77bb40d7a3660a89ecaf32466ef97")
        );
        let message = h("6bc1bee22e409f96e93d7e117393172a");
        assert_eq!(
            cmac(&key, &[&message[..7], &message[7..]]).to_vec(),
            h("070a16b46b4d4144f79bdd9dd04a287c")
        );
        assert!(cmac_matches(&key, &[&message], &h("070a16b46b4d4144")));
        assert!(!cmac_matches(&key, &[&message], &h("070a16b46b4d4145")));
        assert!(!cmac_matches(&key, &[&message], &[]));
        assert_eq!(
            sha256(&[b"a", b"bc"]).to_vec(),
            h("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
    }

    /// NIST SP 800-38A F.2.1 / F.2.2 (CBC-AES128), first two blocks.
    #[test]
    fn cbc_round_trip() {
        let key: [u8; 16] = h("2b7e151628aed2a6abf7158809cf4f3c").try_into().unwrap();
        let iv: [u8; 16] = h("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
        let plain = h("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
        let mut data = plain.clone();
        cbc_encrypt(&key, &iv, &mut data).unwrap();
        assert_eq!(
            data,
            h("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2")
        );
        cbc_decrypt(&key, &iv, &mut data).unwrap();
        assert_eq!(data, plain);
        assert_eq!(cbc_encrypt(&key, &iv, &mut [0; 15]), Err(NotBlockAligned));
        assert_eq!(cbc_decrypt(&key, &iv, &mut [0; 17]), Err(NotBlockAligned));
    }

    /// RFC 4231 test case 2 (a key shorter than the block) and test case 6 (a key longer
    /// than the block, which HMAC hashes first).
    #[test]
    fn hmac_known_answers() {
        assert_eq!(
            hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]).to_vec(),
            h("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
        let long_key = [0xAA; 131];
        let message = b"Test Using Larger Than Block-Size Key - Hash Key First";
        let tag = h("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
        assert_eq!(hmac_sha256(&long_key, &[message]).to_vec(), tag);
        assert!(hmac_sha256_matches(&long_key, &[message], &tag));
        let mut wrong = tag.clone();
        wrong[31] ^= 1;
        assert!(!hmac_sha256_matches(&long_key, &[message], &wrong));
        assert!(!hmac_sha256_matches(&long_key, &[message], &tag[..16]));
        assert!(!hmac_sha256_matches(&long_key, &[message], &[]));
    }

    /// Issue 11 finding 9: with the `zeroize` features of `aes`, `cbc` and `cmac`, the
    /// ciphers and the MAC wipe their expanded round keys when dropped. Without them, these
    /// types do not implement `ZeroizeOnDrop` and this test does not compile.
    #[test]
    fn ciphers_wipe_their_round_keys() {
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<Aes128>();
        wiped_on_drop::<aes::Aes128Enc>();
        wiped_on_drop::<aes::Aes128Dec>();
        wiped_on_drop::<cbc::Encryptor<Aes128>>();
        wiped_on_drop::<cbc::Decryptor<Aes128>>();
        wiped_on_drop::<cmac::CmacCore<Aes128>>();
    }

    #[test]
    fn padding_method_2() {
        assert_eq!(*pad(&[]), h("80000000000000000000000000000000"));
        assert_eq!(pad(&[1; 15]).len(), 16);
        assert_eq!(pad(&[1; 16]).len(), 32);
        for n in 0..40 {
            let data = vec![0xA5; n];
            assert_eq!(unpad(&pad(&data)), Some(&data[..]));
        }
        assert_eq!(unpad(&h("0180")), Some(&[1][..]));
        assert_eq!(unpad(&h("01")), None);
        assert_eq!(unpad(&[0; 16]), None);
        assert_eq!(unpad(&h("81000000")), None);
        // The marker must sit in the last 16 bytes.
        let mut long = vec![0x80];
        long.extend([0; 16]);
        assert_eq!(unpad(&long), None);
        long.remove(1);
        assert_eq!(unpad(&long), Some(&[][..]));
    }

    #[test]
    fn constant_time_equality() {
        assert!(constant_time_eq(b"123456", b"123456"));
        assert!(!constant_time_eq(b"123456", b"123457"));
        assert!(!constant_time_eq(b"12345", b"123456"));
        assert!(constant_time_eq(b"", b""));
    }
}

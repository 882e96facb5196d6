//! The card's P-256 key pairs (spec §8.5): generation on the card, the public key as the card
//! shows it (the `7F49` DO of §6.11 and the SubjectPublicKeyInfo of DG5, §5.5), and ECDSA
//! over a hash the card is given (§6.12) or computes (§6.13). The private halves never leave
//! this module except into the state file (§8.6, §8.7).

use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePublicKey;
use p256::SecretKey;
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use super::response::Status;
use super::tlv;
use crate::spec::tag;
use crate::timing::{self, Work};

/// Draws a fresh private key from the operating system's secure generator, by rejection:
/// 32 random bytes that are a valid scalar (1 ≤ d < n). A failing generator is 6F00, not a
/// panic.
pub(super) fn generate() -> Result<SecretKey, Status> {
    timing::note(Work {
        key_generations: 1,
        ..Work::default()
    });
    // A draw fails with probability below 2⁻³²; eight failures in a row mean a broken source.
    for _ in 0..8 {
        let mut candidate = Zeroizing::new([0u8; 32]);
        OsRng
            .try_fill_bytes(candidate.as_mut_slice())
            .map_err(|_| Status::NO_PRECISE_DIAGNOSIS)?;
        if let Ok(key) = SecretKey::from_slice(candidate.as_slice()) {
            return Ok(key);
        }
    }
    Err(Status::NO_PRECISE_DIAGNOSIS)
}

/// `04 ‖ X ‖ Y`, the uncompressed public point (65 bytes).
fn public_point(key: &SecretKey) -> Vec<u8> {
    key.public_key().to_encoded_point(false).as_bytes().to_vec()
}

/// The public key data object of ISO/IEC 7816-8: `7F49 43 { 86 41 04 ‖ X ‖ Y }` (§6.11).
pub(super) fn public_key_object(key: &SecretKey) -> Vec<u8> {
    let point = tlv::object(tag::EC_POINT.into(), &public_point(key));
    tlv::object(tag::PUBLIC_KEY, &point)
}

/// The DER SubjectPublicKeyInfo (RFC 5480) of the public key: 91 bytes (§5.5).
pub(super) fn subject_public_key_info(key: &SecretKey) -> Result<Vec<u8>, Status> {
    key.public_key()
        .to_public_key_der()
        .map(|document| document.as_bytes().to_vec())
        .map_err(|_| Status::NO_PRECISE_DIAGNOSIS)
}

/// ECDSA P-256 over the hash value `digest`, used as it is (no further hashing; FIPS 186-5),
/// with an RFC 6979 nonce: r ‖ s, each 32 bytes big-endian (§6.12, §6.13).
pub(super) fn sign_digest(key: &SecretKey, digest: &[u8; 32]) -> Result<Vec<u8>, Status> {
    timing::note(Work {
        signatures: 1,
        ..Work::default()
    });
    let signer = SigningKey::from(key);
    let signature: Signature = signer
        .sign_prehash(digest)
        .map_err(|_| Status::NO_PRECISE_DIAGNOSIS)?;
    Ok(signature.to_bytes().to_vec())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::crypto::sha256;

    fn h(text: &str) -> Vec<u8> {
        hex::decode(text.split_whitespace().collect::<String>()).unwrap()
    }

    /// The example keys of §6.11: d = SHA-256(text) as a big-endian integer.
    pub(crate) fn example_key(text: &str) -> SecretKey {
        SecretKey::from_slice(&sha256(&[text.as_bytes()])).unwrap()
    }

    pub(crate) fn example_signing_key() -> SecretKey {
        example_key("melli example signing key 01")
    }

    pub(crate) fn example_chip_auth_key() -> SecretKey {
        example_key("melli example chip-auth key 02")
    }

    #[test]
    fn public_key_object_of_the_example_signing_key() {
        assert_eq!(
            public_key_object(&example_signing_key()),
            h(
                "7F 49 43 86 41 04 B8 6D 51 29 5C 29 32 60 60 AA AC D6 66 1F FF 5C 02 FE 16 88
               DC 06 33 ED EE 23 06 5A C6 A6 A4 05 BF DD 93 03 76 87 79 E3 FD 6F 6A 62 29 A3
               14 D3 7C 95 FC 66 8D 8A C6 D8 EC 06 60 0A A8 6D 13 5D"
            )
        );
    }

    #[test]
    fn subject_public_key_info_of_the_example_chip_auth_key() {
        let spki = subject_public_key_info(&example_chip_auth_key()).unwrap();
        assert_eq!(
            spki,
            h(
                "30 59 30 13 06 07 2A 86 48 CE 3D 02 01 06 08 2A 86 48 CE 3D 03 01 07 03 42 00 04
               DC F1 0F 2A 82 BD D7 01 32 3F 27 CC 58 41 40 B3 05 58 D6 E9 E0 71 20 CD 52 C2
               7E 79 0E 00 D8 27 E8 0A E4 91 E9 1D C0 39 E9 71 C2 CC 9C E5 2F 19 15 54 93 3F
               A7 B2 3C 4F B0 0D 8B 08 EE 55 56 77"
            )
        );
        assert_eq!(spki.len(), 91);
    }

    /// §6.12: the example key 01 over SHA-256("hello, melli\n"), RFC 6979 nonce.
    #[test]
    fn signature_of_the_pso_example() {
        let digest = sha256(&[b"hello, melli\n"]);
        assert_eq!(
            digest.to_vec(),
            h(
                "3B 78 FC 0C 83 7D FD 46 68 58 E7 5D 05 98 CC 78 C5 A2 63 29 84 98 E9 31 82 0B
               A8 A1 53 C7 B9 24"
            )
        );
        assert_eq!(
            sign_digest(&example_signing_key(), &digest).unwrap(),
            h(
                "47 5B AF 6E 26 0B 2C 1D 2E AB 3F 5F CA EA 67 8E 5C 45 E5 91 67 31 F7 D1 0D 0D
               F7 66 12 83 76 5C 6B 65 84 59 33 96 11 B3 7D 67 40 94 BE FF 31 44 DA A9 2C 85
               AD 9C 39 6A 67 5A 27 5A 8B 95 08 0E"
            )
        );
    }

    #[test]
    fn generated_keys_differ_and_sign() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a.to_bytes(), b.to_bytes());
        assert_eq!(public_key_object(&a).len(), 70);
        assert_eq!(sign_digest(&a, &[7; 32]).unwrap().len(), 64);
    }
}

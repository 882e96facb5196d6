//! The issuer's keys, wherever they are kept: an HSM through PKCS#11, passphrase-encrypted
//! PKCS#8 files, or (for tests only) plain PKCS#8 files.
//!
//! Everything that signs for the issuer — certificates, security objects — goes through
//! [`IssuerKey`], and everything that diversifies card keys through [`MasterKey`], so the code
//! that issues does not know, and cannot leak, where a key lives. A key in a token never
//! leaves it: signatures and the master key's AES-CMAC are computed inside the token.

use std::fmt;
use std::path::PathBuf;

use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use signature::{Keypair, Signer, Verifier};
use zeroize::Zeroizing;

use super::error::PkiError;
use super::token::TokenKey;
use super::token::TokenMasterKey;
use crate::sm::StaticKeys;
use crate::spec::secure_channel as sc;

/// Length of the personalization master key (AES-128).
pub const MASTER_KEY_LEN: usize = 16;

/// Anything that makes ecdsa-with-SHA256 signatures with a P-256 key: the `signature` crate's
/// `Signer` (over the message; the signer hashes it) and `Keypair`, as `p256`'s `SigningKey`,
/// an HSM key ([`super::token::TokenKey`]) and the card's signing key
/// (`applet::CardSigner`) all are. Certificates, security objects and document signatures
/// are all signed through it (`cert::issue`, `signed_data::sign`).
pub trait EcdsaSigner: Signer<DerSignature> + Keypair<VerifyingKey = VerifyingKey> {}

impl<S: Signer<DerSignature> + Keypair<VerifyingKey = VerifyingKey> + ?Sized> EcdsaSigner for S {}

/// An [`EcdsaSigner`] an issuer keeps for the whole run, shared between threads (a batch on
/// several readers): a key in memory or in a token.
pub trait IssuerKey: EcdsaSigner + Send + Sync {}

impl<S: EcdsaSigner + Send + Sync + ?Sized> IssuerKey for S {}

/// Check a signature a key store made before it is used: a token that answers with a
/// signature that does not verify (a fault, a wrong key behind a label) must not produce a
/// certificate or security object that only a desk would find broken.
pub(crate) fn checked_signature(
    public_key: &VerifyingKey,
    message: &[u8],
    raw: &[u8],
    what: &str,
) -> Result<DerSignature, PkiError> {
    let signature = Signature::from_slice(raw).map_err(|_| {
        PkiError::Store(format!(
            "{what}: the token returned {} bytes instead of an ECDSA P-256 signature",
            raw.len()
        ))
    })?;
    public_key.verify(message, &signature).map_err(|_| {
        PkiError::Store(format!(
            "{what}: the token's signature does not verify with the key of the certificate"
        ))
    })?;
    Ok(signature.to_der())
}

/// SHA-256 of `message`: what a token's CKM_ECDSA signs.
pub(crate) fn sha256(message: &[u8]) -> [u8; 32] {
    Sha256::digest(message).into()
}

/// The personalization master key: per-card keys are `AES-CMAC(MK, constant || serial)`
/// (applets-spec §10.1).
pub enum MasterKey {
    /// The key's bytes, from a file.
    Software(Zeroizing<[u8; MASTER_KEY_LEN]>),
    /// An AES key inside a token; only its CMAC ever comes out.
    Token(TokenMasterKey),
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MasterKey::Software(_) => f.write_str("MasterKey::Software(REDACTED)"),
            MasterKey::Token(t) => write!(f, "MasterKey::Token({t:?})"),
        }
    }
}

impl MasterKey {
    /// AES-CMAC of `data` under the master key, for derivations other than the card keys
    /// (the status key); in a token, computed inside it.
    pub fn cmac(&self, data: &[u8]) -> Result<Zeroizing<[u8; MASTER_KEY_LEN]>, PkiError> {
        match self {
            MasterKey::Software(key) => Ok(crate::sm::cmac(key, &[data])),
            MasterKey::Token(token) => token.cmac(data),
        }
    }

    /// The card's static keys (applets-spec §10.1) for `serial`.
    pub fn card_keys(&self, serial: &str) -> Result<StaticKeys, PkiError> {
        match self {
            MasterKey::Software(key) => Ok(StaticKeys::diversify(key, serial)),
            MasterKey::Token(token) => {
                let enc = token.cmac(&StaticKeys::diversification_input(
                    sc::DIVERSIFY_ENC,
                    serial,
                ))?;
                let mac = token.cmac(&StaticKeys::diversification_input(
                    sc::DIVERSIFY_MAC,
                    serial,
                ))?;
                Ok(StaticKeys::from_diversified(*enc, *mac))
            }
        }
    }
}

/// Where an issuer's (or a root's) private keys are kept: the `keys` entry of `issuer.json`
/// and `root.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "store", rename_all = "kebab-case", deny_unknown_fields)]
pub enum KeyStore {
    /// A PKCS#11 token: `module` is the PKCS#11 library, `token` the token's label.
    Pkcs11 { module: PathBuf, token: String },
    /// PKCS#8 files encrypted with a passphrase (PBES2: scrypt, AES-256-CBC).
    EncryptedFiles,
    /// Unencrypted PKCS#8 files: for tests only (`--insecure-plain-keys`).
    PlainFiles,
}

impl KeyStore {
    /// What the user is asked to unlock, for prompts and errors.
    pub fn describe(&self) -> String {
        match self {
            KeyStore::Pkcs11 { module, token } => {
                format!("token '{}' of {}", token, module.display())
            }
            KeyStore::EncryptedFiles => "the encrypted key files".into(),
            KeyStore::PlainFiles => "plain key files".into(),
        }
    }

    /// Whether opening this store needs a secret (a token PIN or a passphrase).
    pub fn needs_secret(&self) -> bool {
        !matches!(self, KeyStore::PlainFiles)
    }
}

/// What a store asks for to open: a token's user PIN, or the passphrase of encrypted files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretPurpose {
    /// Opening an existing store.
    Open,
    /// Choosing the passphrase of new encrypted key files (ask twice).
    NewPassphrase,
}

/// A request for the secret of a key store.
#[derive(Debug, Clone)]
pub struct SecretRequest<'a> {
    /// `"issuer"` or `"root"`: whose keys.
    pub role: &'static str,
    /// The store.
    pub store: &'a KeyStore,
    /// Open, or choose a new passphrase.
    pub purpose: SecretPurpose,
}

impl SecretRequest<'_> {
    /// `PIN of token 'x' of /usr/lib/...` or `passphrase of the issuer's encrypted key files`.
    pub fn prompt(&self) -> String {
        match (self.store, self.purpose) {
            (KeyStore::Pkcs11 { .. }, _) => {
                format!("user PIN of the {} {}", self.role, self.store.describe())
            }
            (_, SecretPurpose::NewPassphrase) => {
                format!("new passphrase for the {}'s encrypted key files", self.role)
            }
            _ => format!("passphrase of the {}'s encrypted key files", self.role),
        }
    }
}

/// Asks the user (or the environment) for a store's secret. The library never prompts: the
/// CLI passes one of these.
pub type Unlock<'a> = &'a mut dyn FnMut(&SecretRequest<'_>) -> Result<Zeroizing<String>, PkiError>;

/// An [`Unlock`] for stores that need no secret (plain files): asked anyway, it refuses.
pub fn no_secret(request: &SecretRequest<'_>) -> Result<Zeroizing<String>, PkiError> {
    Err(PkiError::Store(format!(
        "the {} is needed and none was given",
        request.prompt()
    )))
}

/// A boxed issuer key: in a token or in memory.
pub enum AnyKey {
    /// A key read from a file (encrypted or plain).
    Software(SigningKey),
    /// A key inside a token.
    Token(TokenKey),
}

impl fmt::Debug for AnyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyKey::Software(_) => f.write_str("AnyKey::Software(REDACTED)"),
            AnyKey::Token(t) => write!(f, "AnyKey::Token({t:?})"),
        }
    }
}

impl Keypair for AnyKey {
    type VerifyingKey = VerifyingKey;

    fn verifying_key(&self) -> VerifyingKey {
        match self {
            AnyKey::Software(k) => *k.verifying_key(),
            AnyKey::Token(k) => k.verifying_key(),
        }
    }
}

impl spki::DynSignatureAlgorithmIdentifier for AnyKey {
    /// ecdsa-with-SHA256 (RFC 5758 §3.2): what every issuer key signs with.
    fn signature_algorithm_identifier(&self) -> spki::Result<spki::AlgorithmIdentifierOwned> {
        Ok(super::asn1::ecdsa_sha256_algorithm())
    }
}

impl Signer<DerSignature> for AnyKey {
    fn try_sign(&self, message: &[u8]) -> Result<DerSignature, signature::Error> {
        match self {
            AnyKey::Software(k) => k.try_sign(message),
            AnyKey::Token(k) => k.try_sign(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn a_software_master_key_diversifies_as_the_spec_vector_says() {
        // applets-spec §10.7: MK 2B7E…3C, serial MELLI0000000001.
        let mut mk = Zeroizing::new([0u8; 16]);
        hex::decode_to_slice("2B7E151628AED2A6ABF7158809CF4F3C", mk.as_mut()).expect("hex");
        let keys = MasterKey::Software(mk)
            .card_keys("MELLI0000000001")
            .expect("keys");
        let (enc, mac) = keys.to_card_keys();
        assert_eq!(hex::encode_upper(*enc), "94089710C4EBB044A03782FE8CC92546");
        assert_eq!(hex::encode_upper(*mac), "20CEDCC3427D61AA598974A075991E08");
    }

    #[test]
    fn a_signature_that_does_not_verify_is_refused() {
        let key = SigningKey::random(&mut OsRng);
        let other = SigningKey::random(&mut OsRng);
        let sig: Signature = signature::Signer::sign(&other, b"tbs");
        let err = checked_signature(key.verifying_key(), b"tbs", &sig.to_bytes(), "test")
            .expect_err("foreign signature");
        assert!(err.to_string().contains("does not verify"), "{err}");
        let good: Signature = signature::Signer::sign(&key, b"tbs");
        checked_signature(key.verifying_key(), b"tbs", &good.to_bytes(), "test").expect("good");
        let err =
            checked_signature(key.verifying_key(), b"tbs", &[1, 2, 3], "test").expect_err("short");
        assert!(err.to_string().contains("3 bytes"), "{err}");
    }

    #[test]
    fn key_store_json_is_tagged_and_strict() {
        let store = KeyStore::Pkcs11 {
            module: "/usr/lib/softhsm/libsofthsm2.so".into(),
            token: "melli-issuer".into(),
        };
        let json = serde_json::to_string(&store).expect("json");
        assert_eq!(
            json,
            r#"{"store":"pkcs11","module":"/usr/lib/softhsm/libsofthsm2.so","token":"melli-issuer"}"#
        );
        assert_eq!(
            serde_json::from_str::<KeyStore>(&json).expect("back"),
            store
        );
        assert!(serde_json::from_str::<KeyStore>(r#"{"store":"keys-in-the-cloud"}"#).is_err());
        assert!(
            serde_json::from_str::<KeyStore>(r#"{"store":"pkcs11","module":"/m.so"}"#).is_err()
        );
    }
}

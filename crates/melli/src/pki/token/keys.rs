//! The keys inside a token: an issuer's P-256 key and the personalization master key.

use super::Token;
use crate::pki::error::PkiError;
use crate::pki::keys::{checked_signature, sha256, MASTER_KEY_LEN};
use cryptoki::error::Error as CkError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::Session;
use p256::ecdsa::{DerSignature, VerifyingKey};
use std::fmt;
use std::sync::Arc;
use zeroize::Zeroizing;

pub(super) fn ec_point_of(session: &Session, handle: ObjectHandle) -> Result<Vec<u8>, CkError> {
    let attrs = session.get_attributes(handle, &[AttributeType::EcPoint])?;
    Ok(attrs
        .into_iter()
        .find_map(|a| match a {
            Attribute::EcPoint(p) => Some(p),
            _ => None,
        })
        .unwrap_or_default())
}

/// A `CKA_EC_POINT`: PKCS#11 says a DER OCTET STRING around the SEC1 point; some tokens give
/// the bare point.
pub(super) fn parse_point(value: &[u8]) -> Option<VerifyingKey> {
    let point = match value {
        [0x04, 0x41, rest @ ..] if rest.len() == 65 => rest,
        _ => value,
    };
    VerifyingKey::from_sec1_bytes(point).ok()
}

/// An issuer's P-256 private key inside a token.
pub struct TokenKey {
    pub(super) token: Arc<Token>,
    pub(super) handle: ObjectHandle,
    pub(super) public: VerifyingKey,
    pub(super) label: String,
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key '{}' in {:?}", self.label, self.token)
    }
}

impl signature::Keypair for TokenKey {
    type VerifyingKey = VerifyingKey;

    fn verifying_key(&self) -> VerifyingKey {
        self.public
    }
}

impl signature::Signer<DerSignature> for TokenKey {
    fn try_sign(&self, message: &[u8]) -> Result<DerSignature, signature::Error> {
        self.sign_checked(message)
            .map_err(signature::Error::from_source)
    }
}

impl TokenKey {
    /// ECDSA over SHA-256 of `message`: the hash is computed here, the signature in the token,
    /// and checked here before it is used.
    pub fn sign_checked(&self, message: &[u8]) -> Result<DerSignature, PkiError> {
        let hash = sha256(message);
        let raw = self.token.sign_raw(
            &Mechanism::Ecdsa,
            self.handle,
            &hash,
            &format!("signing with key '{}'", self.label),
        )?;
        checked_signature(
            &self.public,
            message,
            &raw,
            &format!("token '{}', key '{}'", self.token.label, self.label),
        )
    }
}

/// The personalization master key inside a token.
pub struct TokenMasterKey {
    pub(super) token: Arc<Token>,
    pub(super) handle: ObjectHandle,
}

impl fmt::Debug for TokenMasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "master key in {:?}", self.token)
    }
}

impl TokenMasterKey {
    /// AES-CMAC of `data` under the master key, computed in the token.
    pub fn cmac(&self, data: &[u8]) -> Result<Zeroizing<[u8; MASTER_KEY_LEN]>, PkiError> {
        let out = Zeroizing::new(self.token.sign_raw(
            &Mechanism::AesCMac,
            self.handle,
            data,
            "AES-CMAC with the master key",
        )?);
        let mut block = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        if out.len() != MASTER_KEY_LEN {
            return Err(PkiError::Store(format!(
                "token '{}': AES-CMAC returned {} bytes instead of {MASTER_KEY_LEN}",
                self.token.label,
                out.len()
            )));
        }
        block.copy_from_slice(&out);
        Ok(block)
    }
}

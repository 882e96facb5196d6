//! The card's signing key as a `signature::Signer`, the way yubikey.rs offers its PIV keys: any
//! code that signs with a `Signer<DerSignature> + Keypair` — `pki::signed_data::sign_digest`,
//! the x509-cert and cms builders — signs with the card, as it signs with an HSM key or a key
//! in memory.
//!
//! It exists only over a [`PinVerified`] handle, so only after the PIN was verified in this
//! card session. The card signs a SHA-256 hash (PSO: COMPUTE DIGITAL SIGNATURE, §6.12); the
//! hash is computed here, and every signature is checked against the key of the holder's
//! certificate before it is returned: a card that signed with another key would make
//! signatures nobody can verify.

use std::cell::RefCell;

use p256::ecdsa::{DerSignature, Signature, VerifyingKey};
use sha2::{Digest, Sha256};
use signature::{Keypair, Signer, Verifier};

use super::{AppletError, PinVerified};
use crate::transport::Transport;

/// The card's signing key, behind a verified PIN.
pub struct CardSigner<'a, T: Transport> {
    handle: RefCell<PinVerified<'a, T>>,
    public: VerifyingKey,
    /// Why the last signature failed, kept whole for the caller ([`CardSigner::take_failure`]):
    /// `signature::Error` carries it only as text.
    failure: RefCell<Option<CardSignatureError>>,
}

/// Why the card's signature was not returned.
#[derive(Debug, thiserror::Error)]
pub enum CardSignatureError {
    /// The card refused or went away.
    #[error("the card did not sign: {0}")]
    Card(#[source] AppletError),
    /// The card signed with another key than the certificate's.
    #[error("the card's signature does not verify with the key of its certificate")]
    Mismatch,
}

impl<'a, T: Transport> CardSigner<'a, T> {
    /// The signing key of the card behind `handle`, whose holder certificate certifies
    /// `public`.
    pub fn new(handle: PinVerified<'a, T>, public: VerifyingKey) -> Self {
        CardSigner {
            handle: RefCell::new(handle),
            public,
            failure: RefCell::new(None),
        }
    }

    /// Why the last signature failed, if it did.
    pub fn take_failure(&self) -> Option<CardSignatureError> {
        self.failure.borrow_mut().take()
    }

    fn failed(&self, why: CardSignatureError) -> signature::Error {
        let said = why.to_string();
        *self.failure.borrow_mut() = Some(why);
        signature::Error::from_source(said)
    }
}

impl<T: Transport> Keypair for CardSigner<'_, T> {
    type VerifyingKey = VerifyingKey;

    fn verifying_key(&self) -> VerifyingKey {
        self.public
    }
}

impl<T: Transport> Signer<DerSignature> for CardSigner<'_, T> {
    fn try_sign(&self, message: &[u8]) -> Result<DerSignature, signature::Error> {
        let digest: [u8; 32] = Sha256::digest(message).into();
        let raw = self
            .handle
            .borrow_mut()
            .sign_digest(&digest)
            .map_err(|e| self.failed(CardSignatureError::Card(e)))?;
        let signature =
            Signature::from_slice(&raw).map_err(|_| self.failed(CardSignatureError::Mismatch))?;
        self.public
            .verify(message, &signature)
            .map_err(|_| self.failed(CardSignatureError::Mismatch))?;
        Ok(signature.to_der())
    }
}

impl<T: Transport> spki::DynSignatureAlgorithmIdentifier for CardSigner<'_, T> {
    /// ecdsa-with-SHA256 (RFC 5758 §3.2), no parameters: what the card's P-256 key makes.
    fn signature_algorithm_identifier(&self) -> spki::Result<spki::AlgorithmIdentifierOwned> {
        Ok(crate::pki::asn1::ecdsa_sha256_algorithm())
    }
}

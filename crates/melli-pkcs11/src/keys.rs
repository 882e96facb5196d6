//! The token's two private keys and a signature in progress with one of them.
//!
//! A version 1.1 card (applets-spec §12) has two keys behind one PIN: the **signing key** `01`
//! (PSO: COMPUTE DIGITAL SIGNATURE, document signatures with legal weight) and the
//! **authentication key** `03` (INTERNAL AUTHENTICATE P2 `03`, TLS client login and Web eID
//! tokens). The card asks for the PIN once per card session for both; the module keeps the
//! promise of §12.4 on the host side: the signing key is `CKA_ALWAYS_AUTHENTICATE`, so every
//! signature with it needs its own `C_Login(CKU_CONTEXT_SPECIFIC)`, which the module turns into
//! a fresh VERIFY, and that login is used up by the one signature it was given for.

use cryptoki_sys::*;
use melli::applet::{AppletError, PinVerified};
use melli::transport::Transport;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// One of the card's private keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    /// Key `01`, certificate DG6: document signatures.
    Signing,
    /// Key `03`, certificate DG7 (version 1.1): logins.
    Authentication,
}

impl Key {
    /// CKA_LABEL of the key, its public key and its certificate.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Key::Signing => "Digital Signature",
            Key::Authentication => "Authentication",
        }
    }

    /// CKA_ALWAYS_AUTHENTICATE: a signature with the signing key needs the PIN typed for it
    /// (applets-spec §12.4); the login key stays usable for the session.
    pub(crate) fn always_authenticate(self) -> bool {
        self == Key::Signing
    }

    /// The card signs `digest` with this key, the PIN verified in this card session.
    pub(crate) fn sign_on_card<T: Transport>(
        self,
        card: &mut PinVerified<'_, T>,
        digest: &[u8; 32],
    ) -> Result<[u8; 64], AppletError> {
        match self {
            Key::Signing => card.sign_digest(digest),
            Key::Authentication => card.authenticate(digest),
        }
    }
}

/// What a signature is made of, as it comes in.
pub(crate) enum Input {
    /// CKM_ECDSA: the caller's hash, collected.
    Raw(Zeroizing<Vec<u8>>),
    /// CKM_ECDSA_SHA256: the data hashed as it comes; `parts` once C_SignUpdate was called.
    Sha256 { hasher: Sha256, parts: bool },
}

/// The most a raw ECDSA input may be: a SHA-512 hash.
const RAW_MAX: usize = 64;

impl Input {
    /// The input of `mechanism`, or None when the keys do not do it.
    pub(crate) fn new(mechanism: CK_MECHANISM_TYPE) -> Option<Input> {
        match mechanism {
            CKM_ECDSA => Some(Input::Raw(Zeroizing::new(Vec::new()))),
            CKM_ECDSA_SHA256 => Some(Input::Sha256 {
                hasher: Sha256::new(),
                parts: false,
            }),
            _ => None,
        }
    }

    pub(crate) fn feed(&mut self, data: &[u8]) -> Result<(), CK_RV> {
        match self {
            Input::Raw(buffer) => {
                if buffer.len() + data.len() > RAW_MAX {
                    return Err(CKR_DATA_LEN_RANGE);
                }
                buffer.extend_from_slice(data);
            }
            Input::Sha256 { hasher, parts } => {
                hasher.update(data);
                *parts = true;
            }
        }
        Ok(())
    }

    /// Whether C_SignUpdate was called (C_Sign is then refused).
    pub(crate) fn in_parts(&self) -> bool {
        matches!(self, Input::Sha256 { parts: true, .. })
    }

    /// The 32 bytes the card signs. A raw ECDSA input is a hash: a longer one is cut to its
    /// leftmost 256 bits and a shorter one taken as the same integer (zeros on the left), as
    /// ECDSA does (FIPS 186-5 §6.4.1, bits2int; SEC 1 §4.1.3). Both keys sign these 32 bytes:
    /// INTERNAL AUTHENTICATE would cut a 48- or 64-byte digest the same way (§12.3).
    pub(crate) fn digest(self) -> Result<[u8; 32], CK_RV> {
        match self {
            Input::Raw(buffer) => {
                if buffer.is_empty() {
                    return Err(CKR_DATA_LEN_RANGE);
                }
                let mut digest = [0u8; 32];
                if buffer.len() >= 32 {
                    digest.copy_from_slice(&buffer[..32]);
                } else {
                    digest[32 - buffer.len()..].copy_from_slice(&buffer);
                }
                Ok(digest)
            }
            Input::Sha256 { hasher, .. } => Ok(hasher.finalize().into()),
        }
    }
}

/// A signature in progress in a session: C_SignInit to C_Sign / C_SignFinal.
pub(crate) struct Signing {
    pub(crate) key: Key,
    pub(crate) input: Input,
    /// A context-specific login (a fresh VERIFY) was made for this signature.
    authorized: bool,
}

impl Signing {
    pub(crate) fn new(key: Key, input: Input) -> Signing {
        Signing {
            key,
            input,
            authorized: false,
        }
    }

    /// Whether C_Login(CKU_CONTEXT_SPECIFIC) applies to this operation: only to a key that is
    /// CKA_ALWAYS_AUTHENTICATE (otherwise CKR_OPERATION_NOT_INITIALIZED, PKCS#11 v2.40 §5.5).
    pub(crate) fn wants_context_login(&self) -> bool {
        self.key.always_authenticate()
    }

    /// The context-specific login succeeded: this one signature may be made.
    pub(crate) fn authorize(&mut self) {
        self.authorized = true;
    }

    /// Whether a PIN must be verified before this signature: the session is not logged in,
    /// or the key wants a fresh verification for every signature and has not had it.
    pub(crate) fn needs_pin(&self, logged_in: bool) -> bool {
        !logged_in || (self.key.always_authenticate() && !self.authorized)
    }

    /// Whether the key may sign now: CKR_USER_NOT_LOGGED_IN for a CKA_ALWAYS_AUTHENTICATE key
    /// without its context-specific login (PKCS#11 v2.40 §4.9).
    pub(crate) fn may_sign(&self) -> Result<(), CK_RV> {
        if self.key.always_authenticate() && !self.authorized {
            return Err(CKR_USER_NOT_LOGGED_IN);
        }
        Ok(())
    }

    pub(crate) fn feed(&mut self, data: &[u8]) -> Result<(), CK_RV> {
        self.may_sign()?;
        self.input.feed(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(v: &[u8]) -> Result<[u8; 32], CK_RV> {
        Input::Raw(Zeroizing::new(v.to_vec())).digest()
    }

    #[test]
    fn raw_ecdsa_inputs_are_taken_as_ecdsa_takes_a_hash() {
        assert_eq!(raw(&[1; 32]), Ok([1; 32]));
        let long: Vec<u8> = (0..48).collect();
        assert_eq!(raw(&long).map(|d| d.to_vec()), Ok(long[..32].to_vec()));
        let sha512: Vec<u8> = (0..64).collect();
        assert_eq!(raw(&sha512).map(|d| d.to_vec()), Ok(sha512[..32].to_vec()));
        let mut short = [0u8; 32];
        short[12..].copy_from_slice(&[5; 20]);
        assert_eq!(raw(&[5; 20]), Ok(short));
        assert_eq!(raw(&[]), Err(CKR_DATA_LEN_RANGE));
        let mut input = Input::new(CKM_ECDSA).expect("ECDSA");
        assert_eq!(input.feed(&[0; 65]), Err(CKR_DATA_LEN_RANGE));
        let mut input = Input::new(CKM_ECDSA).expect("ECDSA");
        assert_eq!(input.feed(&[0; 40]), Ok(()));
        assert_eq!(input.feed(&[0; 25]), Err(CKR_DATA_LEN_RANGE));
    }

    #[test]
    fn ecdsa_sha256_hashes_the_data_in_parts() {
        let mut input = Input::new(CKM_ECDSA_SHA256).expect("ECDSA-SHA256");
        assert!(!input.in_parts());
        input.feed(b"part one, ").expect("feed");
        input.feed(b"part two").expect("feed");
        assert!(input.in_parts());
        let want: [u8; 32] = Sha256::digest(b"part one, part two").into();
        assert_eq!(input.digest(), Ok(want));
        assert!(Input::new(CKM_ECDSA_SHA384).is_none());
    }

    #[test]
    fn labels_and_always_authenticate() {
        assert_eq!(Key::Signing.label(), "Digital Signature");
        assert_eq!(Key::Authentication.label(), "Authentication");
        assert!(Key::Signing.always_authenticate());
        assert!(!Key::Authentication.always_authenticate());
    }

    #[test]
    fn the_signing_key_signs_only_after_its_context_login() {
        let input = || Input::new(CKM_ECDSA_SHA256).expect("mechanism");
        let mut signing = Signing::new(Key::Signing, input());
        assert!(signing.wants_context_login());
        assert_eq!(signing.may_sign(), Err(CKR_USER_NOT_LOGGED_IN));
        assert_eq!(signing.feed(b"data"), Err(CKR_USER_NOT_LOGGED_IN));
        signing.authorize();
        assert_eq!(signing.may_sign(), Ok(()));
        assert_eq!(signing.feed(b"data"), Ok(()));
        // The next operation starts without it: one login, one signature.
        let next = Signing::new(Key::Signing, input());
        assert_eq!(next.may_sign(), Err(CKR_USER_NOT_LOGGED_IN));

        let mut login = Signing::new(Key::Authentication, input());
        assert!(!login.wants_context_login());
        assert_eq!(login.may_sign(), Ok(()));
        assert_eq!(login.feed(b"data"), Ok(()));
    }
}

//! The issuer's keys in a PKCS#11 token (an HSM; SoftHSM2 in tests), through `cryptoki`.
//!
//! Keys are made inside the token (`CKA_SENSITIVE`, not `CKA_EXTRACTABLE`) and never leave it:
//! the host sends a SHA-256 hash and gets an ECDSA signature back (`CKM_ECDSA`), or sends a
//! diversification input and gets the master key's AES-CMAC back (`CKM_AES_CMAC`). An EC key
//! is found again by its public key — the public key object whose `CKA_EC_POINT` is the key
//! of the certificate, then the private key with the same `CKA_ID` — so a certificate names
//! its key and a renewed document signer needs no configuration.
//!
//! One module is loaded and initialized once per process; every token opened from it shares
//! that context. A session is used by one thread at a time (a mutex), since PKCS#11 sessions
//! are not meant for concurrent use.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use p256::ecdsa::VerifyingKey;
use rand_core::{OsRng, RngCore};

use super::error::PkiError;
use super::keys::MASTER_KEY_LEN;

mod keys;
mod softhsm;
use keys::ec_point_of;
use keys::parse_point;
use softhsm::StoreTurn;

pub use keys::{TokenKey, TokenMasterKey};
pub use softhsm::{init_token, softhsm_config, softhsm_lock_path};

/// `CKA_LABEL` of the personalization master key.
pub const MASTER_KEY_LABEL: &str = "melli personalization master key";

/// DER of the named curve prime256v1 (1.2.840.10045.3.1.7): `CKA_EC_PARAMS` of a P-256 key.
const P256_EC_PARAMS: [u8; 10] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

/// The modules loaded so far, by path: `C_Initialize` may run once per process.
fn modules() -> &'static Mutex<HashMap<PathBuf, Pkcs11>> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    MODULES.get_or_init(|| Mutex::new(HashMap::new()))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn module(path: &Path) -> Result<Pkcs11, PkiError> {
    let mut loaded = lock(modules());
    let _turn = StoreTurn::take(path);
    if let Some(m) = loaded.get(path) {
        return Ok(m.clone());
    }
    if !path.is_file() {
        return Err(PkiError::Store(format!(
            "{}: no PKCS#11 module there (SoftHSM2's is /usr/lib/softhsm/libsofthsm2.so, in Debian's softhsm2)",
            path.display()
        )));
    }
    let m = Pkcs11::new(path).map_err(|e| {
        PkiError::Store(format!(
            "{}: cannot load it as a PKCS#11 module ({e})",
            path.display()
        ))
    })?;
    match m.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => {
            return Err(PkiError::Store(format!(
                "{}: C_Initialize failed ({e}); for SoftHSM2, check SOFTHSM2_CONF and its token directory",
                path.display()
            )))
        }
    }
    loaded.insert(path.to_path_buf(), m.clone());
    Ok(m)
}

/// A logged-in session on one token.
pub struct Token {
    module: PathBuf,
    label: String,
    /// `None` once dropped (see `Drop`).
    session: Mutex<Option<Session>>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "token '{}' of {}", self.label, self.module.display())
    }
}

impl Token {
    /// Opens the token labelled `label` in `module` and logs in as its user with `pin`.
    pub fn open(module_path: &Path, label: &str, pin: &str) -> Result<Arc<Token>, PkiError> {
        let m = module(module_path)?;
        let _turn = StoreTurn::take(module_path);
        let store = |e: CkError, what: &str| {
            PkiError::Store(format!(
                "token '{label}' of {}: {what} failed ({e})",
                module_path.display()
            ))
        };
        let slots = m
            .get_slots_with_initialized_token()
            .map_err(|e| store(e, "listing its slots"))?;
        let mut found = None;
        for slot in slots {
            // A slot that cannot describe itself is not the one asked for.
            let Ok(info) = m.get_token_info(slot) else {
                continue;
            };
            if info.label().trim_end() == label {
                if info.user_pin_locked() {
                    return Err(PkiError::Store(format!(
                        "token '{label}': its user PIN is locked; the token's security officer must reset it"
                    )));
                }
                found = Some(slot);
                break;
            }
        }
        let slot = found.ok_or_else(|| {
            PkiError::Store(format!(
                "no token labelled '{label}' in {}: initialize one (softhsm2-util --init-token --free --label {label}) or name another",
                module_path.display()
            ))
        })?;
        let session = m
            .open_rw_session(slot)
            .map_err(|e| store(e, "opening a session"))?;
        let pin = AuthPin::new(pin.into());
        match session.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                return Err(PkiError::Store(format!(
                    "token '{label}': wrong user PIN (the token counts failed tries)"
                )))
            }
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => {
                return Err(PkiError::Store(format!(
                    "token '{label}': its user PIN is locked; the token's security officer must reset it"
                )))
            }
            Err(e) => return Err(store(e, "logging in")),
        }
        Ok(Arc::new(Token {
            module: module_path.to_path_buf(),
            label: label.to_string(),
            session: Mutex::new(Some(session)),
        }))
    }

    /// The token's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    fn failed(&self, what: &str, e: CkError) -> PkiError {
        PkiError::Store(format!("token '{}': {what} failed ({e})", self.label))
    }

    /// Generates a P-256 key pair inside the token: the private half sensitive, not
    /// extractable, usable for signing only. `label` names it for people (`p11tool`,
    /// `pkcs11-tool --list-objects`).
    pub fn generate_ec_key(self: &Arc<Self>, label: &str) -> Result<TokenKey, PkiError> {
        let mut id = [0u8; 16];
        OsRng.try_fill_bytes(&mut id).map_err(PkiError::Random)?;
        let public_template = [
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::Encrypt(false),
            Attribute::Wrap(false),
            Attribute::Derive(false),
            Attribute::EcParams(P256_EC_PARAMS.to_vec()),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
        ];
        let private_template = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(false),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
        ];
        let guard = self.session()?;
        let session = &guard.1;
        let (public, private) = session
            .generate_key_pair(
                &Mechanism::EccKeyPairGen,
                &public_template,
                &private_template,
            )
            .map_err(|e| self.failed("generating a P-256 key pair", e))?;
        let point = ec_point_of(session, public)
            .map_err(|e| self.failed("reading the new public key", e))?;
        let public_key = parse_point(&point).ok_or_else(|| {
            PkiError::Store(format!(
                "token '{}': the new key's CKA_EC_POINT is not a P-256 point",
                self.label
            ))
        })?;
        drop(guard);
        Ok(TokenKey {
            token: Arc::clone(self),
            handle: private,
            public: public_key,
            label: label.to_string(),
        })
    }

    /// The private key whose public key is `public_key`.
    pub fn find_ec_key(
        self: &Arc<Self>,
        public_key: &VerifyingKey,
        label: &str,
    ) -> Result<TokenKey, PkiError> {
        let guard = self.session()?;
        let session = &guard.1;
        let publics = session
            .find_objects(&[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::KeyType(KeyType::EC),
            ])
            .map_err(|e| self.failed("listing public keys", e))?;
        let mut id = None;
        for handle in publics {
            let attrs = session
                .get_attributes(handle, &[AttributeType::EcPoint, AttributeType::Id])
                .map_err(|e| self.failed("reading a public key", e))?;
            let mut point = None;
            let mut this_id = None;
            for a in attrs {
                match a {
                    Attribute::EcPoint(p) => point = parse_point(&p),
                    Attribute::Id(i) => this_id = Some(i),
                    _ => {}
                }
            }
            if point.as_ref() == Some(public_key) {
                id = this_id;
                break;
            }
        }
        let not_found = || {
            PkiError::Store(format!(
                "token '{}' holds no private key for the {label} certificate",
                self.label
            ))
        };
        let id = id.ok_or_else(not_found)?;
        let privates = session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::KeyType(KeyType::EC),
                Attribute::Id(id),
            ])
            .map_err(|e| self.failed("finding a private key", e))?;
        let [handle] = privates[..] else {
            return Err(not_found());
        };
        drop(guard);
        Ok(TokenKey {
            token: Arc::clone(self),
            handle,
            public: *public_key,
            label: label.to_string(),
        })
    }

    /// Generates the AES-128 personalization master key inside the token: sensitive, not
    /// extractable, usable for AES-CMAC only. Refuses when the token already has one.
    pub fn generate_master_key(self: &Arc<Self>) -> Result<TokenMasterKey, PkiError> {
        if self.master_key_handles()?.is_empty() {
            let guard = self.session()?;
            let template = [
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(true),
                Attribute::Verify(true),
                Attribute::Encrypt(false),
                Attribute::Decrypt(false),
                Attribute::Wrap(false),
                Attribute::Derive(false),
                Attribute::ValueLen((MASTER_KEY_LEN as u64).into()),
                Attribute::Label(MASTER_KEY_LABEL.as_bytes().to_vec()),
            ];
            let handle = guard
                .1
                .generate_key(&Mechanism::AesKeyGen, &template)
                .map_err(|e| self.failed("generating the AES master key", e))?;
            drop(guard);
            Ok(TokenMasterKey {
                token: Arc::clone(self),
                handle,
            })
        } else {
            Err(PkiError::Store(format!(
                "token '{}' already holds a personalization master key: use a token of its own for each issuer",
                self.label
            )))
        }
    }

    /// The personalization master key.
    pub fn find_master_key(self: &Arc<Self>) -> Result<TokenMasterKey, PkiError> {
        match self.master_key_handles()?[..] {
            [handle] => Ok(TokenMasterKey {
                token: Arc::clone(self),
                handle,
            }),
            [] => Err(PkiError::Store(format!(
                "token '{}' holds no personalization master key ('{MASTER_KEY_LABEL}')",
                self.label
            ))),
            _ => Err(PkiError::Store(format!(
                "token '{}' holds more than one personalization master key",
                self.label
            ))),
        }
    }

    fn master_key_handles(&self) -> Result<Vec<ObjectHandle>, PkiError> {
        self.session()?
            .1
            .find_objects(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Label(MASTER_KEY_LABEL.as_bytes().to_vec()),
            ])
            .map_err(|e| self.failed("finding the master key", e))
    }

    fn sign_raw(
        &self,
        mechanism: &Mechanism,
        key: ObjectHandle,
        data: &[u8],
        what: &str,
    ) -> Result<Vec<u8>, PkiError> {
        self.session()?
            .1
            .sign(mechanism, key, data)
            .map_err(|e| self.failed(what, e))
    }

    /// This process's turn at the store, then the session.
    fn session(&self) -> Result<SessionGuard<'_>, PkiError> {
        let turn = StoreTurn::take(&self.module);
        let session = lock(&self.session);
        if session.is_none() {
            return Err(PkiError::Store(format!(
                "token '{}': the session is closed",
                self.label
            )));
        }
        Ok(SessionGuard(turn, SessionRef(session)))
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        // Closing the last session logs out, which SoftHSM2 writes to the token: in turn too.
        let _turn = StoreTurn::take(&self.module);
        drop(lock(&self.session).take());
    }
}

/// A session held for one operation, during this process's turn at the store.
struct SessionGuard<'a>(#[allow(dead_code)] StoreTurn, SessionRef<'a>);

/// The locked session, known to be open.
struct SessionRef<'a>(MutexGuard<'a, Option<Session>>);

impl std::ops::Deref for SessionRef<'_> {
    type Target = Session;
    fn deref(&self) -> &Session {
        // `Token::session` checked it is `Some` before making this.
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("checked open"))
    }
}

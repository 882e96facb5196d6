//! The issuer: root CA, document signer, signing CA and personalization master key.
//!
//! Two directories, kept apart:
//!
//! - the **issuer directory** is what personalization needs (`melli personalize --issuer DIR`,
//!   `melli batch`): the certificates, and the document signer's, signing CA's and master
//!   keys — inside an HSM token (PKCS#11), or in passphrase-encrypted files;
//! - the **root directory** holds the root CA's key (its own token, or an encrypted file),
//!   needed only to make the issuer and to issue a new document signer. Personalization
//!   never opens it; an issuance centre keeps it offline.
//!
//! # Issuer directory
//!
//! | file                  | content                                                         | mode |
//! |-----------------------|-----------------------------------------------------------------|------|
//! | `README`              | this layout, in words                                           | 0644 |
//! | `issuer.json`         | `{"format": "melli-issuer/2", "keys": STORE}`: where the keys are | 0644 |
//! | `root.pem`            | root CA certificate: the trust anchor verifiers are given       | 0644 |
//! | `document-signer.pem` | document signer certificate, issued by the root                 | 0644 |
//! | `signing-ca.pem`      | signing CA certificate, issued by the root, pathLen 0           | 0644 |
//! | `document-signer.key` | file stores only: PKCS#8 PEM, encrypted (PBES2) unless plain    | 0600 |
//! | `signing-ca.key`      | file stores only: as above                                      | 0600 |
//! | `master.key`          | file stores only: see [`super::key_files`]                      | 0600 |
//!
//! `STORE` is `{"store": "pkcs11", "module": PATH, "token": LABEL}`,
//! `{"store": "encrypted-files"}` or `{"store": "plain-files"}` ([`KeyStore`]). In a token, the
//! EC keys are found by their certificates' public keys and the master key by its label
//! ([`super::token::MASTER_KEY_LABEL`]).
//!
//! # Root directory
//!
//! `root.json` (`{"format": "melli-root/2", "keys": STORE}`), `root.pem`, and for file stores
//! `root.key` (0600).
//!
//! Key files are created with mode 0600 from the start (`open(2)` with `O_CREAT|O_EXCL`), and a
//! key file that group or others can read is refused when loaded. Directories that `init`
//! creates get mode 0700.

use std::fmt;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use p256::ecdsa::{SigningKey, VerifyingKey};
use rand_core::{OsRng, RngCore};
use x509_cert::name::Name;
use x509_cert::Certificate;
use zeroize::Zeroizing;

use super::cert::{self, CertProfile, CertRequest, IssuerRef};
use super::chain;
use super::error::PkiError;
use super::key_files::{self, Protection};
use super::keys::{AnyKey, IssuerKey, KeyStore, MasterKey, SecretPurpose, SecretRequest, Unlock};
use super::name::{NameBuilder, StringKind, COMMON_NAME, COUNTRY, ORGANIZATION};
use super::token::Token;
use crate::sm::StaticKeys;

pub use super::keys::MASTER_KEY_LEN;

/// File names of an issuer directory and a root directory.
pub mod files {
    /// Layout description written by `init`.
    pub const README: &str = "README";
    /// Where the issuer's keys are: `{"format": "melli-issuer/2", "keys": …}`.
    pub const CONFIG: &str = "issuer.json";
    /// Root CA certificate (in both directories).
    pub const ROOT_CERT: &str = "root.pem";
    /// Where the root key is: `{"format": "melli-root/2", "keys": …}` (root directory).
    pub const ROOT_CONFIG: &str = "root.json";
    /// Root CA private key (root directory, file stores).
    pub const ROOT_KEY: &str = "root.key";
    /// Document signer certificate.
    pub const DOCUMENT_SIGNER_CERT: &str = "document-signer.pem";
    /// Document signer private key (file stores).
    pub const DOCUMENT_SIGNER_KEY: &str = "document-signer.key";
    /// Signing CA certificate.
    pub const SIGNING_CA_CERT: &str = "signing-ca.pem";
    /// Signing CA private key (file stores).
    pub const SIGNING_CA_KEY: &str = "signing-ca.key";
    /// Personalization master key (file stores).
    pub const MASTER_KEY: &str = "master.key";
}

/// `format` of `issuer.json`.
pub const ISSUER_FORMAT: &str = "melli-issuer/2";
/// `format` of `root.json`.
pub const ROOT_FORMAT: &str = "melli-root/2";

/// The layout of an issuer directory, as written to its `README`.
pub const LAYOUT: &str = "\
melli issuer directory
======================
All keys are P-256; all certificates X.509 v3, ecdsa-with-SHA256, PEM.

README               this file
issuer.json          where the keys are: {\"store\": \"pkcs11\", \"module\": …, \"token\": …} (an HSM
                     token; keys never leave it), {\"store\": \"encrypted-files\"} (PKCS#8 files
                     encrypted with a passphrase) or {\"store\": \"plain-files\"} (tests only)
root.pem             root CA certificate: the trust anchor (melli verify --trust root.pem)
document-signer.pem  document signer certificate, issued by the root: signs security objects
signing-ca.pem       signing CA certificate, issued by the root, pathLenConstraint 0: issues
                     holder certificates
document-signer.key  (file stores) document signer private key, PKCS#8 PEM, mode 0600
signing-ca.key       (file stores) signing CA private key, PKCS#8 PEM, mode 0600
master.key           (file stores) personalization master key, mode 0600; per-card keys are
                     AES-CMAC(master key, constant || card serial)

The root CA's key is not here: it is in the root directory made beside this one (root.json,
root.pem, and root.key for file stores). Personalization never needs it; keep it offline.
The token PIN or passphrase is asked once per run (or read from MELLI_ISSUER_PIN; the root's
from MELLI_ROOT_PIN).

Check with openssl:
  openssl verify -CAfile root.pem document-signer.pem signing-ca.pem
";

/// Country of every issuer certificate's subject.
pub const ISSUER_COUNTRY: &str = "IR";
/// Organization of every issuer certificate's subject.
pub const ISSUER_ORGANIZATION: &str = "melli test issuer";
/// Common name of the root CA: subject `C=IR, O=melli test issuer, CN=melli Root CA`.
pub const ROOT_CN: &str = "melli Root CA";
/// Common name of the document signer (C and O as the root's).
pub const DOCUMENT_SIGNER_CN: &str = "melli Document Signer";
/// Common name of the signing CA (C and O as the root's).
pub const SIGNING_CA_CN: &str = "melli Signing CA";

/// Root CA validity: 20 years.
pub const ROOT_VALIDITY: Duration = Duration::from_secs(20 * 365 * 24 * 60 * 60 + 5 * 24 * 60 * 60);
/// Document signer and signing CA validity: 10 years.
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60 + 3 * 24 * 60 * 60);

/// Largest `issuer.json` / `root.json` read.
const MAX_CONFIG: u64 = 64 * 1024;

/// `issuer.json` and `root.json`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreConfig {
    format: String,
    keys: KeyStore,
}

/// An opened key store: a logged-in token, or a directory of key files and how they are
/// protected.
enum OpenStore {
    Token(Arc<Token>),
    Files {
        dir: PathBuf,
        passphrase: Option<Zeroizing<String>>,
    },
}

impl OpenStore {
    fn open(
        store: &KeyStore,
        dir: &Path,
        role: &'static str,
        purpose: SecretPurpose,
        unlock: Unlock<'_>,
    ) -> Result<OpenStore, PkiError> {
        match store {
            KeyStore::Pkcs11 { module, token } => {
                let pin = unlock(&SecretRequest {
                    role,
                    store,
                    purpose: SecretPurpose::Open,
                })?;
                Ok(OpenStore::Token(Token::open(module, token, &pin)?))
            }
            KeyStore::EncryptedFiles => Ok(OpenStore::Files {
                dir: dir.to_path_buf(),
                passphrase: Some(unlock(&SecretRequest {
                    role,
                    store,
                    purpose,
                })?),
            }),
            KeyStore::PlainFiles => Ok(OpenStore::Files {
                dir: dir.to_path_buf(),
                passphrase: None,
            }),
        }
    }

    fn protection(&self) -> Protection<'_> {
        match self {
            OpenStore::Files {
                passphrase: Some(p),
                ..
            } => Protection::Passphrase(p),
            _ => Protection::Plain,
        }
    }

    /// A new P-256 key: made in the token, or made here and written to `file` (which must not
    /// exist yet; `replace` writes it beside and renames it over).
    fn new_ec_key(&self, label: &str, file: &str, replace: bool) -> Result<AnyKey, PkiError> {
        match self {
            OpenStore::Token(token) => Ok(AnyKey::Token(token.generate_ec_key(label)?)),
            OpenStore::Files { dir, .. } => {
                let key = SigningKey::random(&mut OsRng);
                let pem = key_files::private_key_pem(&key, self.protection())?;
                if replace {
                    replace_file(dir, file, pem.as_bytes(), 0o600)?;
                } else {
                    write_new(dir, file, pem.as_bytes(), 0o600)?;
                }
                Ok(AnyKey::Software(key))
            }
        }
    }

    /// The key of `certificate`: found in the token by its public key, or read from `file`
    /// and checked against the certificate.
    fn ec_key_of(
        &self,
        certificate: &Certificate,
        cert_file: &str,
        label: &str,
        file: &str,
    ) -> Result<AnyKey, PkiError> {
        match self {
            OpenStore::Token(token) => {
                let public = public_key_of(certificate, cert_file)?;
                Ok(AnyKey::Token(token.find_ec_key(&public, label)?))
            }
            OpenStore::Files { dir, .. } => {
                let path = dir.join(file);
                let key = key_files::read_private_key(&path, self.protection())?;
                check_key_matches(&key, certificate, &path, cert_file)?;
                Ok(AnyKey::Software(key))
            }
        }
    }

    fn new_master_key(&self) -> Result<MasterKey, PkiError> {
        match self {
            OpenStore::Token(token) => Ok(MasterKey::Token(token.generate_master_key()?)),
            OpenStore::Files { dir, .. } => {
                let mut key = Zeroizing::new([0u8; MASTER_KEY_LEN]);
                OsRng
                    .try_fill_bytes(key.as_mut())
                    .map_err(PkiError::Random)?;
                let text = key_files::master_key_file(&key, self.protection())?;
                write_new(dir, files::MASTER_KEY, text.as_bytes(), 0o600)?;
                Ok(MasterKey::Software(key))
            }
        }
    }

    fn master_key(&self) -> Result<MasterKey, PkiError> {
        match self {
            OpenStore::Token(token) => Ok(MasterKey::Token(token.find_master_key()?)),
            OpenStore::Files { dir, .. } => Ok(MasterKey::Software(
                key_files::read_master_key_file(&dir.join(files::MASTER_KEY), self.protection())?,
            )),
        }
    }
}

fn public_key_of(certificate: &Certificate, file: &str) -> Result<VerifyingKey, PkiError> {
    let spki = &certificate.tbs_certificate.subject_public_key_info;
    VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes())
        .map_err(|_| PkiError::invalid("certificate", format!("{file}: not a P-256 public key")))
}

/// How `init` makes an issuer: where the issuer's keys go, where the root directory is and
/// where its key goes.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The issuer's key store.
    pub store: KeyStore,
    /// The root directory (must be new or empty, and not the issuer directory).
    pub root_dir: PathBuf,
    /// The root key's store; a token must not be the issuer's.
    pub root_store: KeyStore,
}

impl InitOptions {
    /// Plain key files for both, the root directory beside `dir` (`DIR-root`): tests only.
    pub fn plain(dir: &Path) -> InitOptions {
        InitOptions {
            store: KeyStore::PlainFiles,
            root_dir: default_root_dir(dir),
            root_store: KeyStore::PlainFiles,
        }
    }
}

/// `DIR-root`, beside `DIR`: where `init` puts the root directory unless told otherwise.
pub fn default_root_dir(dir: &Path) -> PathBuf {
    let mut name = dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "issuer".into());
    name.push("-root");
    dir.with_file_name(name)
}

/// The root CA: its certificate and key, from the root directory.
pub struct RootCa {
    dir: PathBuf,
    cert: Certificate,
    key: AnyKey,
}

impl fmt::Debug for RootCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootCa")
            .field("dir", &self.dir)
            .field("root", &cert::label(&self.cert))
            .field("key", &self.key)
            .finish()
    }
}

impl RootCa {
    /// Opens the root directory `dir` (asking `unlock` for the token PIN or passphrase).
    pub fn load(dir: &Path, unlock: Unlock<'_>) -> Result<RootCa, PkiError> {
        let config = read_config(&dir.join(files::ROOT_CONFIG), ROOT_FORMAT)?;
        let cert = read_certificate(&dir.join(files::ROOT_CERT))?;
        let store = OpenStore::open(&config.keys, dir, "root", SecretPurpose::Open, unlock)?;
        let key = store.ec_key_of(&cert, files::ROOT_CERT, ROOT_CN, files::ROOT_KEY)?;
        Ok(RootCa {
            dir: dir.to_path_buf(),
            cert,
            key,
        })
    }

    /// The root certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// Gives `issuer` a new document signer: a new key in the issuer's store and a
    /// certificate valid from `not_before` to `not_after`, issued by this root; the
    /// certificate (and, for file stores, the key file) replace the old ones (each written to
    /// a temporary file with its final mode, then renamed). A validity in the past makes an
    /// expired document signer for tests.
    pub fn issue_document_signer(
        &self,
        issuer: &mut Issuer,
        not_before: SystemTime,
        not_after: SystemTime,
        unlock: Unlock<'_>,
    ) -> Result<(), PkiError> {
        if issuer.root_cert != self.cert {
            return Err(PkiError::bad_file(
                issuer.dir.join(files::ROOT_CERT),
                format!(
                    "this issuer's root is not the root in {}",
                    self.dir.display()
                ),
            ));
        }
        let store = match &issuer.token {
            Some(token) => OpenStore::Token(Arc::clone(token)),
            None => OpenStore::open(
                &issuer.store,
                &issuer.dir,
                "issuer",
                SecretPurpose::Open,
                unlock,
            )?,
        };
        let key = store.new_ec_key(DOCUMENT_SIGNER_CN, files::DOCUMENT_SIGNER_KEY, true)?;
        let cert = document_signer_certificate(&self.cert, &self.key, &key, not_before, not_after)?;
        replace_file(
            &issuer.dir,
            files::DOCUMENT_SIGNER_CERT,
            cert::to_pem(&cert)?.as_bytes(),
            0o644,
        )?;
        issuer.document_signer_key = key;
        issuer.document_signer_cert = cert;
        Ok(())
    }
}

/// An issuer: certificates, the document signer's and signing CA's keys and the
/// personalization master key, wherever its store keeps them.
pub struct Issuer {
    dir: PathBuf,
    store: KeyStore,
    token: Option<Arc<Token>>,
    root_cert: Certificate,
    document_signer_cert: Certificate,
    document_signer_key: AnyKey,
    signing_ca_cert: Certificate,
    signing_ca_key: AnyKey,
    master_key: MasterKey,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("dir", &self.dir)
            .field("store", &self.store)
            .field("root", &cert::label(&self.root_cert))
            .field("document_signer", &cert::label(&self.document_signer_cert))
            .field("signing_ca", &cert::label(&self.signing_ca_cert))
            .field("private_keys", &"REDACTED")
            .field("master_key", &"REDACTED")
            .finish()
    }
}

impl Issuer {
    /// Makes an issuer in `dir` and its root in `options.root_dir` (both must not exist or be
    /// empty, mode 0700): a root CA, a document signer and a signing CA, each with a new P-256
    /// key made in its store, and a new master key. `unlock` is asked for the token PINs, or to
    /// choose the passphrases of encrypted files.
    ///
    /// Each folder is made as a temporary sibling (`.NAME.tmp-PID-RANDOM`, mode 0700) and
    /// renamed into place at the end, root first. A rename cannot replace a folder that holds
    /// something, so of two runs at once on the same folder exactly one wins; the other says
    /// so ("made by another run meanwhile") and removes only its own temporary folders — never
    /// a file of the winner. Keys that a losing or failing run made in an HSM token stay in the
    /// token (a token has no folder to rename); they are unused and may be deleted there.
    pub fn init(dir: &Path, options: &InitOptions, unlock: Unlock<'_>) -> Result<Issuer, PkiError> {
        check_stores_apart(dir, options)?;
        let root_was_there = check_init_target(&options.root_dir)?;
        check_init_target(dir)?;
        let root_tmp = make_temp_sibling(&options.root_dir)?;
        let tmp = match make_temp_sibling(dir) {
            Ok(tmp) => tmp,
            Err(e) => {
                let _ = fs::remove_dir_all(&root_tmp);
                return Err(e);
            }
        };
        let in_tmp = InitOptions {
            root_dir: root_tmp.clone(),
            ..options.clone()
        };
        let result = Self::make(&tmp, &in_tmp, unlock).and_then(|mut issuer| {
            move_into_place(&root_tmp, &options.root_dir)?;
            if let Err(e) = move_into_place(&tmp, dir) {
                // Our root went into place, the issuer's folder did not: take the root back.
                if fs::rename(&options.root_dir, &root_tmp).is_ok() && root_was_there {
                    let _ = fs::DirBuilder::new().mode(0o700).create(&options.root_dir);
                }
                return Err(e);
            }
            issuer.dir = dir.to_path_buf();
            Ok(issuer)
        });
        if result.is_err() {
            // Only our own temporary folders: whatever is at `dir` now is another run's.
            let _ = fs::remove_dir_all(&tmp);
            let _ = fs::remove_dir_all(&root_tmp);
        }
        result
    }

    /// A test issuer with plain key files (what `melli issuer init --insecure-plain-keys`
    /// makes), its root in `DIR-root`.
    pub fn init_plain(dir: &Path) -> Result<Issuer, PkiError> {
        Self::init(dir, &InitOptions::plain(dir), &mut super::keys::no_secret)
    }

    fn make(dir: &Path, options: &InitOptions, unlock: Unlock<'_>) -> Result<Issuer, PkiError> {
        let now = SystemTime::now();
        let not_before = now - Duration::from_secs(60); // tolerate small clock skew

        let root_store = OpenStore::open(
            &options.root_store,
            &options.root_dir,
            "root",
            SecretPurpose::NewPassphrase,
            unlock,
        )?;
        let root_key = root_store.new_ec_key(ROOT_CN, files::ROOT_KEY, false)?;
        let root_cert = cert::issue(
            &CertRequest {
                profile: CertProfile::RootCa,
                subject: issuer_name(ROOT_CN)?,
                public_key: spki_of_key(&root_key)?,
                not_before,
                not_after: now + ROOT_VALIDITY,
            },
            IssuerRef {
                certificate: None,
                key: &root_key,
            },
        )?;
        let root_pem = cert::to_pem(&root_cert)?;
        write_new(
            &options.root_dir,
            files::ROOT_CERT,
            root_pem.as_bytes(),
            0o644,
        )?;
        write_config(
            &options.root_dir,
            files::ROOT_CONFIG,
            ROOT_FORMAT,
            &options.root_store,
        )?;
        drop(root_store);

        let store = OpenStore::open(
            &options.store,
            dir,
            "issuer",
            SecretPurpose::NewPassphrase,
            unlock,
        )?;
        let document_signer_key =
            store.new_ec_key(DOCUMENT_SIGNER_CN, files::DOCUMENT_SIGNER_KEY, false)?;
        let document_signer_cert = document_signer_certificate(
            &root_cert,
            &root_key,
            &document_signer_key,
            not_before,
            now + CA_VALIDITY,
        )?;
        let signing_ca_key = store.new_ec_key(SIGNING_CA_CN, files::SIGNING_CA_KEY, false)?;
        let signing_ca_cert = cert::issue(
            &CertRequest {
                profile: CertProfile::SubCa { path_len: 0 },
                subject: issuer_name(SIGNING_CA_CN)?,
                public_key: spki_of_key(&signing_ca_key)?,
                not_before,
                not_after: now + CA_VALIDITY,
            },
            IssuerRef {
                certificate: Some(&root_cert),
                key: &root_key,
            },
        )?;
        drop(root_key);
        let master_key = store.new_master_key()?;
        for (file, c) in [
            (files::ROOT_CERT, &root_cert),
            (files::DOCUMENT_SIGNER_CERT, &document_signer_cert),
            (files::SIGNING_CA_CERT, &signing_ca_cert),
        ] {
            write_new(dir, file, cert::to_pem(c)?.as_bytes(), 0o644)?;
        }
        write_new(dir, files::README, LAYOUT.as_bytes(), 0o644)?;
        write_config(dir, files::CONFIG, ISSUER_FORMAT, &options.store)?;
        Ok(Issuer {
            dir: dir.to_path_buf(),
            store: options.store.clone(),
            token: match store {
                OpenStore::Token(t) => Some(t),
                OpenStore::Files { .. } => None,
            },
            root_cert,
            document_signer_cert,
            document_signer_key,
            signing_ca_cert,
            signing_ca_key,
            master_key,
        })
    }

    /// Loads an issuer directory (see the module documentation for its layout), asking
    /// `unlock` for the token PIN or the passphrase. Checks that the document signer and the
    /// signing CA are issued by the root (signature and names; not time) and that every key
    /// matches its certificate. Never opens the root's key.
    pub fn load(dir: &Path, unlock: Unlock<'_>) -> Result<Issuer, PkiError> {
        if !dir.is_dir() {
            return Err(PkiError::Missing {
                path: dir.to_path_buf(),
            });
        }
        let config_path = dir.join(files::CONFIG);
        if !config_path.exists() && dir.join(files::DOCUMENT_SIGNER_KEY).exists() {
            return Err(PkiError::bad_file(
                config_path,
                "missing: this issuer directory was made by an older melli, with every key in plain files; make a new one with melli issuer init",
            ));
        }
        let config = read_config(&config_path, ISSUER_FORMAT)?;
        let root_cert = read_certificate(&dir.join(files::ROOT_CERT))?;
        let document_signer_cert = read_certificate(&dir.join(files::DOCUMENT_SIGNER_CERT))?;
        let signing_ca_cert = read_certificate(&dir.join(files::SIGNING_CA_CERT))?;
        for (c, file) in [
            (&document_signer_cert, files::DOCUMENT_SIGNER_CERT),
            (&signing_ca_cert, files::SIGNING_CA_CERT),
        ] {
            chain::verify_issued_by(c, file, &root_cert).map_err(|e| {
                PkiError::bad_file(dir.join(file), format!("{e} ({})", files::ROOT_CERT))
            })?;
        }
        let store = OpenStore::open(&config.keys, dir, "issuer", SecretPurpose::Open, unlock)?;
        let document_signer_key = store.ec_key_of(
            &document_signer_cert,
            files::DOCUMENT_SIGNER_CERT,
            DOCUMENT_SIGNER_CN,
            files::DOCUMENT_SIGNER_KEY,
        )?;
        let signing_ca_key = store.ec_key_of(
            &signing_ca_cert,
            files::SIGNING_CA_CERT,
            SIGNING_CA_CN,
            files::SIGNING_CA_KEY,
        )?;
        let master_key = store.master_key()?;
        Ok(Issuer {
            dir: dir.to_path_buf(),
            store: config.keys,
            token: match store {
                OpenStore::Token(t) => Some(t),
                OpenStore::Files { .. } => None,
            },
            root_cert,
            document_signer_cert,
            document_signer_key,
            signing_ca_cert,
            signing_ca_key,
            master_key,
        })
    }

    /// The directory this issuer lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where this issuer's keys are.
    pub fn store(&self) -> &KeyStore {
        &self.store
    }

    /// The root CA certificate (the trust anchor).
    pub fn root_certificate(&self) -> &Certificate {
        &self.root_cert
    }

    /// The document signer certificate.
    pub fn document_signer_certificate(&self) -> &Certificate {
        &self.document_signer_cert
    }

    /// The signing CA certificate.
    pub fn signing_ca_certificate(&self) -> &Certificate {
        &self.signing_ca_cert
    }

    /// The personalization master key (in its store).
    pub fn master_key(&self) -> &MasterKey {
        &self.master_key
    }

    /// The static keys of the card with `serial` (applets-spec §10.1), diversified from the
    /// master key in its store.
    pub fn card_keys(&self, serial: &str) -> Result<StaticKeys, PkiError> {
        self.master_key.card_keys(serial)
    }

    pub(crate) fn document_signer_key(&self) -> &dyn IssuerKey {
        &self.document_signer_key
    }

    pub(crate) fn signing_ca_key(&self) -> &dyn IssuerKey {
        &self.signing_ca_key
    }

    /// Check the document signer and the signing CA are valid at `at`, so that nothing is
    /// issued that a desk would refuse at once. Call it before touching a card.
    pub fn check_usable(&self, at: SystemTime) -> Result<(), PkiError> {
        for (cert, what, file) in [
            (
                &self.document_signer_cert,
                "document signer certificate",
                files::DOCUMENT_SIGNER_CERT,
            ),
            (
                &self.signing_ca_cert,
                "signing CA certificate",
                files::SIGNING_CA_CERT,
            ),
        ] {
            chain::check_validity(cert, what, at).map_err(|e| {
                PkiError::bad_file(
                    self.dir.join(file),
                    format!("{e}; issue a new one before personalizing cards"),
                )
            })?;
        }
        Ok(())
    }
}

/// The files of an issuer directory (plain key files), for the tests.
#[cfg(test)]
const ISSUER_FILES: [&str; 8] = [
    files::README,
    files::CONFIG,
    files::ROOT_CERT,
    files::DOCUMENT_SIGNER_CERT,
    files::DOCUMENT_SIGNER_KEY,
    files::SIGNING_CA_CERT,
    files::SIGNING_CA_KEY,
    files::MASTER_KEY,
];

#[cfg(test)]
const ROOT_FILES: [&str; 3] = [files::ROOT_CONFIG, files::ROOT_CERT, files::ROOT_KEY];

/// The root key must be kept apart: not in the issuer's directory, not in the issuer's token.
fn check_stores_apart(dir: &Path, options: &InitOptions) -> Result<(), PkiError> {
    let same_dir = options.root_dir == dir
        || (options.root_dir.exists()
            && dir.exists()
            && fs::canonicalize(&options.root_dir).ok() == fs::canonicalize(dir).ok());
    if same_dir {
        return Err(PkiError::invalid(
            "root directory",
            "must not be the issuer directory: the root key is kept apart from the keys personalization uses",
        ));
    }
    if let (
        KeyStore::Pkcs11 {
            module: m1,
            token: t1,
        },
        KeyStore::Pkcs11 {
            module: m2,
            token: t2,
        },
    ) = (&options.store, &options.root_store)
    {
        if m1 == m2 && t1 == t2 {
            return Err(PkiError::invalid(
                "root token",
                format!("'{t1}' is the issuer's token too: give the root key a token of its own"),
            ));
        }
    }
    Ok(())
}

fn spki_of_key(key: &dyn IssuerKey) -> Result<spki::SubjectPublicKeyInfoOwned, PkiError> {
    Ok(spki::SubjectPublicKeyInfoOwned::from_key(
        key.verifying_key(),
    )?)
}

fn read_config(path: &Path, format: &str) -> Result<StoreConfig, PkiError> {
    let len = fs::metadata(path).map_err(|e| PkiError::io(path, e))?.len();
    if len > MAX_CONFIG {
        return Err(PkiError::bad_file(
            path,
            format!("{len} bytes is too large"),
        ));
    }
    let text = fs::read_to_string(path).map_err(|e| PkiError::io(path, e))?;
    let config: StoreConfig = serde_json::from_str(&text).map_err(|e| {
        PkiError::bad_file(path, format!("not a melli key-store description ({e})"))
    })?;
    if config.format != format {
        return Err(PkiError::bad_file(
            path,
            format!("format {:?}, this melli reads {format:?}", config.format),
        ));
    }
    Ok(config)
}

fn write_config(dir: &Path, name: &str, format: &str, store: &KeyStore) -> Result<(), PkiError> {
    let config = StoreConfig {
        format: format.to_string(),
        keys: store.clone(),
    };
    let mut json = serde_json::to_string_pretty(&config)
        .map_err(|e| PkiError::invalid("key-store description", e.to_string()))?;
    json.push('\n');
    write_new(dir, name, json.as_bytes(), 0o644)
}

fn issuer_name(cn: &str) -> Result<Name, PkiError> {
    Ok(NameBuilder::new()
        .push(COUNTRY, StringKind::Printable, ISSUER_COUNTRY)?
        .push(ORGANIZATION, StringKind::Utf8, ISSUER_ORGANIZATION)?
        .push(COMMON_NAME, StringKind::Utf8, cn)?
        .build())
}

fn document_signer_certificate(
    root_cert: &Certificate,
    root_key: &dyn IssuerKey,
    key: &dyn IssuerKey,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<Certificate, PkiError> {
    cert::issue(
        &CertRequest {
            profile: CertProfile::DocumentSigner,
            subject: issuer_name(DOCUMENT_SIGNER_CN)?,
            public_key: spki_of_key(key)?,
            not_before,
            not_after,
        },
        IssuerRef {
            certificate: Some(root_cert),
            key: root_key,
        },
    )
}

/// Checks that `dir` is absent, or an empty folder of mode 0700 (a real folder, not a
/// symbolic link); says whether it is there.
fn check_init_target(dir: &Path) -> Result<bool, PkiError> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(PkiError::Io {
                path: dir.to_path_buf(),
                source: e,
            })
        }
    };
    if !meta.is_dir() {
        let what = if meta.file_type().is_symlink() {
            "is a symbolic link"
        } else if meta.is_file() {
            "is a file"
        } else {
            "is not a folder"
        };
        return Err(PkiError::bad_file(
            dir,
            format!("{what}; issuer init needs a new or empty directory"),
        ));
    }
    let mut entries = fs::read_dir(dir).map_err(|e| PkiError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    if entries.next().is_some() {
        return Err(PkiError::NotEmpty {
            path: dir.to_path_buf(),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode != 0o700 {
        return Err(PkiError::bad_file(
            dir,
            format!(
                "mode {mode:04o}, but an issuer directory holds keys and must be mode 0700: run chmod 700 {}",
                dir.display()
            ),
        ));
    }
    Ok(true)
}

/// Makes a new folder beside `dir`, `.NAME.tmp-PID-RANDOM`, mode 0700 (and `dir`'s parent
/// folders if they are missing).
fn make_temp_sibling(dir: &Path) -> Result<PathBuf, PkiError> {
    let io = |path: &Path, e| PkiError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dir
        .file_name()
        .ok_or_else(|| PkiError::bad_file(dir, "names no folder; give a new or empty directory"))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&parent)
        .map_err(|e| io(&parent, e))?;
    let mut random = [0u8; 6];
    OsRng
        .try_fill_bytes(&mut random)
        .map_err(PkiError::Random)?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        hex::encode(random)
    ));
    let tmp = parent.join(tmp_name);
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&tmp)
        .map_err(|e| io(&tmp, e))?;
    Ok(tmp)
}

/// Renames the finished `tmp` folder to `dir`, which must be absent or empty: a folder that
/// another run filled meanwhile is left alone.
fn move_into_place(tmp: &Path, dir: &Path) -> Result<(), PkiError> {
    fs::rename(tmp, dir).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOTEMPTY | libc::EEXIST | libc::ENOTDIR | libc::EISDIR) => PkiError::bad_file(
            dir,
            "made by another run meanwhile (this run left it as it is) — use that issuer, or give another directory",
        ),
        _ => PkiError::Io {
            path: dir.to_path_buf(),
            source: e,
        },
    })
}

/// Create `dir/name` (which must not exist) with `mode` from the start, and write `bytes`.
fn write_new(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> Result<(), PkiError> {
    let path = dir.join(name);
    crate::files::write_new(&path, bytes, mode).map_err(|source| PkiError::Io { path, source })
}

/// Replace `dir/name` atomically with `bytes`, mode `mode`.
fn replace_file(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> Result<(), PkiError> {
    let path = dir.join(name);
    crate::files::replace(&path, bytes, mode).map_err(|source| PkiError::Io { path, source })
}

/// Read a PEM or DER certificate file, naming the file in errors. Only a regular file of at
/// most `input::Kind::Certificate`'s size is read.
pub fn read_certificate(path: &Path) -> Result<Certificate, PkiError> {
    let bytes = read_certificate_file(path)?;
    cert::from_pem_or_der(&bytes)
        .map_err(|e| PkiError::bad_file(path, format!("not an X.509 certificate ({e})")))
}

fn read_certificate_file(path: &Path) -> Result<Vec<u8>, PkiError> {
    use crate::input::{self, InputError, Kind};
    input::read(path, Kind::Certificate).map_err(|e| match e {
        InputError::Io { source, .. } => PkiError::io(path, source),
        InputError::NotRegular { found, .. } => {
            PkiError::bad_file(path, format!("not a regular file ({found})"))
        }
        InputError::TooLarge { size, cap, .. } => PkiError::bad_file(
            path,
            format!("{size} bytes is more than a certificate file may be ({cap} bytes at most)"),
        ),
    })
}

/// Read a trust anchor (`--trust ROOT.pem`): one PEM or DER certificate, self-issued (its
/// issuer is its subject). A PEM bundle of several certificates, or a CA certificate issued by
/// another (an intermediate such as the signing CA), is refused by what it is: melli trusts
/// one root, and takes intermediates from the signature or the card.
pub fn read_trust_anchor(path: &Path) -> Result<Certificate, PkiError> {
    let bytes = read_certificate_file(path)?;
    let pems = bytes
        .windows(b"-----BEGIN ".len())
        .filter(|w| *w == b"-----BEGIN ")
        .count();
    if pems > 1 {
        return Err(PkiError::bad_file(
            path,
            format!("holds {pems} PEM blocks (a bundle), melli trusts one root"),
        ));
    }
    let certificate = cert::from_pem_or_der(&bytes)
        .map_err(|e| PkiError::bad_file(path, format!("not an X.509 certificate ({e})")))?;
    let tbs = &certificate.tbs_certificate;
    if der::Encode::to_der(&tbs.subject)? != der::Encode::to_der(&tbs.issuer)? {
        return Err(PkiError::bad_file(
            path,
            format!(
                "\"{}\" is not a root certificate: it is issued by \"{}\"",
                crate::display::escaped_cut(&cert::label(&certificate), 256),
                crate::display::escaped_cut(&super::name::display_name(&tbs.issuer), 256)
            ),
        ));
    }
    Ok(certificate)
}

/// Read a plain master-key file (32 hex digits; mode 0600), as `melli card new --master-key`
/// takes it: a card factory's test key, not an issuer's.
pub fn read_master_key(path: &Path) -> Result<Zeroizing<[u8; MASTER_KEY_LEN]>, PkiError> {
    key_files::read_master_key_file(path, Protection::Plain)
}

fn check_key_matches(
    key: &SigningKey,
    certificate: &Certificate,
    key_path: &Path,
    cert_file: &str,
) -> Result<(), PkiError> {
    let matches = cert::spki_of(key)
        .map(|spki| spki == certificate.tbs_certificate.subject_public_key_info)
        .unwrap_or(false);
    if matches {
        Ok(())
    } else {
        Err(PkiError::bad_file(
            key_path,
            format!("private key does not match the certificate in {cert_file}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::keys::no_secret;
    use std::os::unix::fs::PermissionsExt;

    const DAY: Duration = Duration::from_secs(24 * 60 * 60);

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).expect("metadata").permissions().mode() & 0o777
    }

    fn passphrase(
        pass: &'static str,
    ) -> impl FnMut(&SecretRequest<'_>) -> Result<Zeroizing<String>, PkiError> {
        move |_| Ok(Zeroizing::new(pass.to_string()))
    }

    #[test]
    fn init_keeps_the_root_apart_with_private_modes_and_load_reads_it() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("issuer");
        let issuer = Issuer::init_plain(&dir).expect("init");
        let root_dir = tmp.path().join("issuer-root");
        for f in ISSUER_FILES {
            assert!(dir.join(f).is_file(), "{f}");
        }
        assert!(
            !dir.join(files::ROOT_KEY).exists(),
            "the root key is kept apart"
        );
        for f in ROOT_FILES {
            assert!(root_dir.join(f).is_file(), "{f}");
        }
        for f in [
            files::DOCUMENT_SIGNER_KEY,
            files::SIGNING_CA_KEY,
            files::MASTER_KEY,
        ] {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
        }
        assert_eq!(mode(&root_dir.join(files::ROOT_KEY)), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root_dir), 0o700);

        let loaded = Issuer::load(&dir, &mut no_secret).expect("load");
        assert_eq!(loaded.root_certificate(), issuer.root_certificate());
        assert_eq!(
            loaded.document_signer_certificate(),
            issuer.document_signer_certificate()
        );
        let a = issuer.card_keys("MC1").expect("keys").to_card_keys();
        let b = loaded.card_keys("MC1").expect("keys").to_card_keys();
        assert_eq!((*a.0, *a.1), (*b.0, *b.1));
        let dbg = format!("{loaded:?}");
        assert!(dbg.contains("REDACTED"));
        let master = fs::read_to_string(dir.join(files::MASTER_KEY)).expect("read");
        assert!(!dbg.contains(master.trim()));
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("i");
        Issuer::init_plain(&dir).expect("init");
        for f in [files::MASTER_KEY, files::SIGNING_CA_KEY] {
            let path = dir.join(f);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
            let err = Issuer::load(&dir, &mut no_secret)
                .expect_err("0640")
                .to_string();
            assert!(
                err.contains(&format!("chmod 600 {}", path.display())),
                "{f}: {err}"
            );
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        Issuer::load(&dir, &mut no_secret).expect("0600 again");
    }

    #[test]
    fn encrypted_files_need_the_passphrase() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("i");
        let options = InitOptions {
            store: KeyStore::EncryptedFiles,
            root_dir: tmp.path().join("r"),
            root_store: KeyStore::EncryptedFiles,
        };
        let issuer =
            Issuer::init(&dir, &options, &mut passphrase("a long passphrase")).expect("init");
        for f in [files::DOCUMENT_SIGNER_KEY, files::SIGNING_CA_KEY] {
            let text = fs::read_to_string(dir.join(f)).expect("read");
            assert!(
                text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
                "{f}"
            );
        }
        let err = Issuer::load(&dir, &mut passphrase("wrong")).expect_err("wrong");
        assert!(err.to_string().contains("wrong passphrase"), "{err}");
        let err = Issuer::load(&dir, &mut no_secret).expect_err("none");
        assert!(err.to_string().contains("passphrase"), "{err}");
        let loaded = Issuer::load(&dir, &mut passphrase("a long passphrase")).expect("load");
        assert_eq!(
            loaded.signing_ca_certificate(),
            issuer.signing_ca_certificate()
        );
        RootCa::load(&tmp.path().join("r"), &mut passphrase("a long passphrase"))
            .expect("the root opens with its passphrase");
    }

    #[test]
    fn init_refuses_the_root_in_the_issuer_directory_or_token() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("i");
        let same_dir = InitOptions {
            root_dir: dir.clone(),
            ..InitOptions::plain(&dir)
        };
        let err = Issuer::init(&dir, &same_dir, &mut no_secret).expect_err("same dir");
        assert!(err.to_string().contains("kept apart"), "{err}");
        let token = KeyStore::Pkcs11 {
            module: "/x.so".into(),
            token: "t".into(),
        };
        let same_token = InitOptions {
            store: token.clone(),
            root_dir: tmp.path().join("r"),
            root_store: token,
        };
        let err = Issuer::init(&dir, &same_token, &mut no_secret).expect_err("same token");
        assert!(err.to_string().contains("a token of its own"), "{err}");
        assert!(!dir.exists() || fs::read_dir(&dir).expect("dir").next().is_none());
    }

    #[test]
    fn init_refuses_non_empty_dir_and_accepts_empty_one() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let full = tmp.path().join("full");
        fs::create_dir(&full).expect("mkdir");
        fs::write(full.join("x"), b"x").expect("write");
        let err = Issuer::init_plain(&full).expect_err("non-empty");
        assert!(matches!(err, PkiError::NotEmpty { .. }), "{err}");
        let empty = tmp.path().join("empty");
        fs::create_dir(&empty).expect("mkdir");
        fs::set_permissions(&empty, fs::Permissions::from_mode(0o755)).expect("chmod");
        let err = Issuer::init_plain(&empty).expect_err("mode 0755");
        assert!(
            err.to_string().ends_with(&format!(
                "mode 0755, but an issuer directory holds keys and must be mode 0700: run chmod 700 {}",
                empty.display()
            )),
            "{err}"
        );
        fs::set_permissions(&empty, fs::Permissions::from_mode(0o700)).expect("chmod");
        let issuer = Issuer::init_plain(&empty).expect("empty dir is fine");
        assert_eq!(issuer.dir(), empty);
        Issuer::load(&empty, &mut crate::pki::keys::no_secret).expect("loads");
        let file = tmp.path().join("file");
        fs::write(&file, b"x").expect("write");
        let err = Issuer::init_plain(&file).expect_err("a file");
        assert_eq!(
            err.to_string(),
            format!(
                "{}: is a file; issuer init needs a new or empty directory",
                file.display()
            )
        );
        // Nothing left beside: no temporary folder, no root of a refused run.
        let mut names: Vec<String> = fs::read_dir(tmp.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["empty", "empty-root", "file", "full"]);
    }

    #[test]
    fn the_loser_of_two_inits_at_once_leaves_the_winners_issuer_whole() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("issuer");
        let results: Vec<Result<Issuer, PkiError>> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..2)
                .map(|_| s.spawn(|| Issuer::init_plain(&dir)))
                .collect();
            runs.into_iter().map(|r| r.join().expect("join")).collect()
        });
        let won = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "{results:?}");
        for r in &results {
            if let Err(e) = r {
                let text = e.to_string();
                assert!(
                    text.contains("made by another run meanwhile") || text.contains("not empty"),
                    "{text}"
                );
            }
        }
        Issuer::load(&dir, &mut crate::pki::keys::no_secret).expect("the winner's issuer loads");
        let names: Vec<String> = fs::read_dir(tmp.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
    }

    #[test]
    fn load_names_the_missing_or_bad_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("i");
        Issuer::init_plain(&dir).expect("init");

        fs::write(dir.join(files::MASTER_KEY), "abc\n").expect("write");
        let err = Issuer::load(&dir, &mut no_secret)
            .expect_err("bad master key")
            .to_string();
        assert!(
            err.contains("master.key") && err.contains("32 hex digits"),
            "{err}"
        );

        fs::remove_file(dir.join(files::SIGNING_CA_KEY)).expect("rm");
        let err = Issuer::load(&dir, &mut no_secret)
            .expect_err("missing")
            .to_string();
        assert!(err.contains("signing-ca.key: missing"), "{err}");

        // The document signer's key swapped for the signing CA's: mismatch.
        fs::copy(
            dir.join(files::DOCUMENT_SIGNER_KEY),
            dir.join(files::SIGNING_CA_KEY),
        )
        .expect("copy");
        let err = Issuer::load(&dir, &mut no_secret)
            .expect_err("mismatch")
            .to_string();
        assert!(
            err.contains("signing-ca.key") && err.contains("does not match"),
            "{err}"
        );

        fs::write(dir.join(files::ROOT_CERT), "garbage").expect("write");
        let err = Issuer::load(&dir, &mut no_secret)
            .expect_err("bad cert")
            .to_string();
        assert!(
            err.contains("root.pem") && err.contains("not an X.509"),
            "{err}"
        );

        fs::write(
            dir.join(files::CONFIG),
            r#"{"format":"melli-issuer/9","keys":{"store":"plain-files"}}"#,
        )
        .expect("write");
        let err = Issuer::load(&dir, &mut no_secret)
            .expect_err("format")
            .to_string();
        assert!(
            err.contains("issuer.json") && err.contains("melli-issuer/9"),
            "{err}"
        );
        fs::remove_file(dir.join(files::CONFIG)).expect("rm");
        let err = Issuer::load(&dir, &mut no_secret)
            .expect_err("old layout")
            .to_string();
        assert!(err.contains("older melli"), "{err}");
    }

    #[test]
    fn load_refuses_a_document_signer_from_another_root() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        Issuer::init_plain(&a).expect("init a");
        Issuer::init_plain(&b).expect("init b");
        for f in [files::DOCUMENT_SIGNER_CERT, files::DOCUMENT_SIGNER_KEY] {
            fs::copy(b.join(f), a.join(f)).expect("copy");
        }
        let err = Issuer::load(&a, &mut no_secret)
            .expect_err("foreign DS")
            .to_string();
        assert!(err.contains("document-signer.pem"), "{err}");
    }

    #[test]
    fn the_root_issues_a_new_document_signer_keeping_modes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("i");
        let mut issuer = Issuer::init_plain(&dir).expect("init");
        let root = RootCa::load(&tmp.path().join("i-root"), &mut no_secret).expect("root");
        let old = issuer.document_signer_certificate().clone();
        let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
        root.issue_document_signer(&mut issuer, past, past + DAY, &mut no_secret)
            .expect("rotate");
        assert_ne!(&old, issuer.document_signer_certificate());
        assert_eq!(mode(&dir.join(files::DOCUMENT_SIGNER_KEY)), 0o600);
        let loaded = Issuer::load(&dir, &mut no_secret).expect("load");
        assert_eq!(
            loaded.document_signer_certificate(),
            issuer.document_signer_certificate()
        );
        // Another issuer's root cannot.
        let other_dir = tmp.path().join("o");
        Issuer::init_plain(&other_dir).expect("other");
        let other = RootCa::load(&tmp.path().join("o-root"), &mut no_secret).expect("root");
        let err = other
            .issue_document_signer(&mut issuer, past, past + DAY, &mut no_secret)
            .expect_err("foreign root");
        assert!(err.to_string().contains("not the root"), "{err}");
    }

    #[test]
    fn an_expired_document_signer_makes_the_issuer_unusable() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("i");
        let mut issuer = Issuer::init_plain(&dir).expect("init");
        let root = RootCa::load(&tmp.path().join("i-root"), &mut no_secret).expect("root");
        let now = SystemTime::now();
        issuer.check_usable(now).expect("a new issuer is usable");
        let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000); // 2020-09-13
        root.issue_document_signer(&mut issuer, past, past + DAY, &mut no_secret)
            .expect("rotate");
        let err = issuer.check_usable(now).expect_err("expired").to_string();
        assert!(
            err.contains("document-signer.pem: document signer certificate expired on 2020-09-14"),
            "{err}"
        );
        // Not yet valid is refused as well.
        root.issue_document_signer(&mut issuer, now + DAY, now + 2 * DAY, &mut no_secret)
            .expect("rotate");
        let err = issuer.check_usable(now).expect_err("future").to_string();
        assert!(err.contains("not valid before"), "{err}");
    }
}

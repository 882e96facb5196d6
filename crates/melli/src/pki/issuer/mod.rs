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
//! | `index.txt`           | issued and revoked certificates, `openssl ca`'s format ([`super::revocation`]) | 0644 |
//! | `index.txt.attr`      | `unique_subject = no`, for `openssl ocsp -index` and `openssl ca` | 0644 |
//! | `index.txt.lock`      | the lock writers of `index.txt` and `crlnumber` take            | 0644 |
//! | `crlnumber`           | the last CRL number (hex)                                       | 0644 |
//!
//! `index.txt` appears when first needed: with the first certificate issued, revoked or put on
//! a CRL. The issuer's document signer and signing CA certificates are recorded first; holder
//! certificates issued before it existed are not in it (melli keeps no copy of them), so they
//! cannot be revoked by card — only certificates issued from then on.
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
use super::revocation::Database;
use super::token::Token;
use crate::sm::StaticKeys;

pub use super::keys::MASTER_KEY_LEN;

mod dirs;
mod read;
mod responder;
mod root;
mod store;
#[cfg(test)]
mod tests;

use dirs::*;
pub use read::{read_certificate, read_master_key, read_trust_anchor};
pub use responder::{read_request, MAX_RESPONDER_DAYS, RESPONDER_DAYS};
pub use root::RootCa;
use store::*;

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
index.txt            every certificate issued (the document signer and signing CA, each holder
                     certificate with its card: card-SERIAL) and its revocation, in the format of
                     openssl ca (openssl ocsp -index index.txt serves it); melli issuer revoke
                     writes it, melli issuer crl reads it. crlnumber: the last CRL's number

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
    /// Where holder certificates say their status is published.
    pub urls: RevocationUrls,
}

/// Where an issuer publishes revocation status: written into every holder certificate it
/// issues (`issuer.json`'s `crl_url`, `ocsp_url`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationUrls {
    /// The CRL distribution point (RFC 5280 §4.2.1.13), an http URL.
    pub crl: Option<String>,
    /// The OCSP responder (authorityInfoAccess id-ad-ocsp, RFC 5280 §4.2.2.1), an http URL.
    pub ocsp: Option<String>,
    /// The root's CRL distribution point, an http URL, written into the certificates the root
    /// issues (the signing CA, document signers): where a verifier online finds their status.
    pub root_crl: Option<String>,
}

impl RevocationUrls {
    /// Each URL is http or https, printable ASCII without spaces, at most 512 characters.
    pub fn check(&self) -> Result<(), PkiError> {
        for (what, url) in [
            ("CRL URL", &self.crl),
            ("OCSP URL", &self.ocsp),
            ("root CRL URL", &self.root_crl),
        ] {
            let Some(url) = url else { continue };
            let ok = (url.starts_with("http://") || url.starts_with("https://"))
                && url.len() <= 512
                && url.bytes().all(|b| b.is_ascii_graphic());
            if !ok {
                return Err(PkiError::invalid(
                    what,
                    format!(
                        "{:?} is not an http:// or https:// URL of printable ASCII without spaces (at most 512 characters)",
                        crate::display::escaped(url)
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl RevocationUrls {
    /// The extensions of a certificate the root issues: the root's CRL distribution point.
    fn root_issued_extensions(&self) -> Result<Vec<x509_cert::ext::Extension>, PkiError> {
        cert::revocation_extensions(self.root_crl.as_deref(), None)
    }
}

impl InitOptions {
    /// Plain key files for both, the root directory beside `dir` (`DIR-root`): tests only.
    pub fn plain(dir: &Path) -> InitOptions {
        InitOptions {
            store: KeyStore::PlainFiles,
            root_dir: default_root_dir(dir),
            root_store: KeyStore::PlainFiles,
            urls: RevocationUrls::default(),
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
    urls: RevocationUrls,
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
        options.urls.check()?;
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
                extra_extensions: Vec::new(),
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
            &RevocationUrls::default(),
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
            (not_before, now + CA_VALIDITY),
            &options.urls,
        )?;
        let signing_ca_key = store.new_ec_key(SIGNING_CA_CN, files::SIGNING_CA_KEY, false)?;
        let signing_ca_cert = cert::issue(
            &CertRequest {
                profile: CertProfile::SubCa { path_len: 0 },
                subject: issuer_name(SIGNING_CA_CN)?,
                public_key: spki_of_key(&signing_ca_key)?,
                not_before,
                not_after: now + CA_VALIDITY,
                extra_extensions: options.urls.root_issued_extensions()?,
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
        write_config(
            dir,
            files::CONFIG,
            ISSUER_FORMAT,
            &options.store,
            &options.urls,
        )?;
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
            urls: options.urls.clone(),
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
            return Err(PkiError::OldLayout { path: config_path });
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
        let urls = RevocationUrls {
            crl: config.crl_url,
            ocsp: config.ocsp_url,
            root_crl: config.root_crl_url,
        };
        urls.check()
            .map_err(|e| PkiError::bad_file(&config_path, e.to_string()))?;
        Ok(Issuer {
            urls,
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

    /// Where this issuer's holder certificates say their status is published.
    pub fn revocation_urls(&self) -> &RevocationUrls {
        &self.urls
    }

    /// The issuer's database of issued and revoked certificates (`index.txt`).
    pub fn database(&self) -> Database {
        Database::new(&self.dir)
    }

    /// Records a certificate this issuer issued (`card`: the card of a holder certificate;
    /// `None` for the issuer's own). An `index.txt` made now starts with the document signer
    /// and the signing CA certificates.
    pub fn record_issued(&self, c: &Certificate, card: Option<&str>) -> Result<(), PkiError> {
        self.database().record(
            &[&self.document_signer_cert, &self.signing_ca_cert],
            &[(c, card)],
        )
    }

    /// Makes sure `index.txt` exists (with this issuer's own certificates).
    pub fn ensure_database(&self) -> Result<Database, PkiError> {
        let db = self.database();
        db.ensure(&[&self.document_signer_cert, &self.signing_ca_cert])?;
        Ok(db)
    }

    /// The signing CA's CRL (holder certificates), valid from `now` for `next_update`; DER.
    pub fn signing_ca_crl(
        &self,
        now: SystemTime,
        next_update: Duration,
    ) -> Result<Vec<u8>, PkiError> {
        self.ensure_database()?.crl(
            &self.signing_ca_cert,
            &self.signing_ca_key,
            true,
            now,
            next_update,
        )
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
    (not_before, not_after): (SystemTime, SystemTime),
    urls: &RevocationUrls,
) -> Result<Certificate, PkiError> {
    cert::issue(
        &CertRequest {
            profile: CertProfile::DocumentSigner,
            subject: issuer_name(DOCUMENT_SIGNER_CN)?,
            public_key: spki_of_key(key)?,
            not_before,
            not_after,
            extra_extensions: urls.root_issued_extensions()?,
        },
        IssuerRef {
            certificate: Some(root_cert),
            key: root_key,
        },
    )
}

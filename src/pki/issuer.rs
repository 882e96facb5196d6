//! The issuer: root CA, document signer, signing CA and personalization master key, kept in a
//! directory (`melli issuer init DIR` makes a test one; a real issuer hands its keys to melli
//! in the same layout).
//!
//! # Directory layout
//!
//! | file                  | content                                                        | mode |
//! |-----------------------|----------------------------------------------------------------|------|
//! | `README`              | this layout, in words                                          | 0644 |
//! | `root.pem`            | root CA certificate (PEM); the trust anchor verifiers are given | 0644 |
//! | `root.key`            | root CA private key (PKCS#8 PEM); **optional** for [`Issuer::load`] — only needed to issue a new document signer | 0600 |
//! | `document-signer.pem` | document signer certificate (PEM), issued by the root          | 0644 |
//! | `document-signer.key` | document signer private key (PKCS#8 PEM): signs security objects | 0600 |
//! | `signing-ca.pem`      | signing CA certificate (PEM), issued by the root, pathLen 0    | 0644 |
//! | `signing-ca.key`      | signing CA private key (PKCS#8 PEM): issues holder certificates | 0600 |
//! | `master.key`          | personalization master key: 16 bytes as 32 hex digits and a newline | 0600 |
//!
//! Private-key files are created with mode 0600 from the start (`open(2)` with `O_CREAT|O_EXCL`
//! and mode 0600), so there is no moment when they are readable by others. A directory that
//! `init` creates gets mode 0700.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use der::pem::LineEnding;
use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rand_core::{OsRng, RngCore};
use x509_cert::name::Name;
use x509_cert::Certificate;
use zeroize::Zeroizing;

use super::cert::{self, CertProfile, CertRequest, IssuerRef};
use super::chain;
use super::error::PkiError;
use super::name::{NameBuilder, StringKind, COMMON_NAME, COUNTRY, ORGANIZATION};

/// File names of an issuer directory.
pub mod files {
    /// Layout description written by `init`.
    pub const README: &str = "README";
    /// Root CA certificate.
    pub const ROOT_CERT: &str = "root.pem";
    /// Root CA private key (optional when loading).
    pub const ROOT_KEY: &str = "root.key";
    /// Document signer certificate.
    pub const DOCUMENT_SIGNER_CERT: &str = "document-signer.pem";
    /// Document signer private key.
    pub const DOCUMENT_SIGNER_KEY: &str = "document-signer.key";
    /// Signing CA certificate.
    pub const SIGNING_CA_CERT: &str = "signing-ca.pem";
    /// Signing CA private key.
    pub const SIGNING_CA_KEY: &str = "signing-ca.key";
    /// Personalization master key, 32 hex digits.
    pub const MASTER_KEY: &str = "master.key";
}

/// The layout of an issuer directory, as written to its `README`.
pub const LAYOUT: &str = "\
melli issuer directory
======================
All keys are P-256; all certificates X.509 v3, ecdsa-with-SHA256, PEM.

README               this file
root.pem             root CA certificate: the trust anchor (melli verify --trust root.pem)
root.key             root CA private key, PKCS#8 PEM, mode 0600. Optional for melli: it is only
                     needed to issue a new document signer; keep it offline.
document-signer.pem  document signer certificate, issued by the root
document-signer.key  document signer private key, PKCS#8 PEM, mode 0600: signs security objects
signing-ca.pem       signing CA certificate, issued by the root, pathLenConstraint 0
signing-ca.key       signing CA private key, PKCS#8 PEM, mode 0600: issues holder certificates
master.key           personalization master key: 16 bytes as 32 hex digits, mode 0600;
                     per-card keys are diversified from it with the card serial

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

/// Length of the personalization master key (AES-128).
pub const MASTER_KEY_LEN: usize = 16;

/// An issuer: certificates, private keys and the personalization master key.
///
/// Private keys are `p256::ecdsa::SigningKey` (zeroized on drop) and the master key is
/// `Zeroizing`; `Debug` shows neither.
pub struct Issuer {
    dir: PathBuf,
    root_cert: Certificate,
    root_key: Option<SigningKey>,
    document_signer_cert: Certificate,
    document_signer_key: SigningKey,
    signing_ca_cert: Certificate,
    signing_ca_key: SigningKey,
    master_key: Zeroizing<[u8; MASTER_KEY_LEN]>,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("dir", &self.dir)
            .field("root", &cert::label(&self.root_cert))
            .field("root_key", &self.root_key.as_ref().map(|_| "REDACTED"))
            .field("document_signer", &cert::label(&self.document_signer_cert))
            .field("signing_ca", &cert::label(&self.signing_ca_cert))
            .field("private_keys", &"REDACTED")
            .field("master_key", &"REDACTED")
            .finish()
    }
}

impl Issuer {
    /// Make a test issuer in `dir`, which must not exist or be empty: a root CA, a document
    /// signer and a signing CA, each with a fresh P-256 key, and a random master key.
    pub fn init(dir: &Path) -> Result<Issuer, PkiError> {
        prepare_empty_dir(dir)?;
        let now = SystemTime::now();
        let not_before = now - Duration::from_secs(60); // tolerate small clock skew

        let root_key = SigningKey::random(&mut OsRng);
        let root_cert = cert::issue(
            &CertRequest {
                profile: CertProfile::RootCa,
                subject: issuer_name(ROOT_CN)?,
                public_key: cert::spki_of(&root_key)?,
                not_before,
                not_after: now + ROOT_VALIDITY,
            },
            IssuerRef {
                certificate: None,
                key: &root_key,
            },
        )?;
        let (document_signer_key, document_signer_cert) =
            new_document_signer(&root_cert, &root_key, not_before, now + CA_VALIDITY)?;

        let signing_ca_key = SigningKey::random(&mut OsRng);
        let signing_ca_cert = cert::issue(
            &CertRequest {
                profile: CertProfile::SubCa { path_len: 0 },
                subject: issuer_name(SIGNING_CA_CN)?,
                public_key: cert::spki_of(&signing_ca_key)?,
                not_before,
                not_after: now + CA_VALIDITY,
            },
            IssuerRef {
                certificate: Some(&root_cert),
                key: &root_key,
            },
        )?;

        let mut master_key = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        OsRng
            .try_fill_bytes(master_key.as_mut())
            .map_err(PkiError::Random)?;

        let issuer = Issuer {
            dir: dir.to_path_buf(),
            root_cert,
            root_key: Some(root_key),
            document_signer_cert,
            document_signer_key,
            signing_ca_cert,
            signing_ca_key,
            master_key,
        };
        if let Err(e) = issuer.write_all() {
            // Leave no half-made issuer behind.
            for f in ALL_FILES {
                let _ = fs::remove_file(dir.join(f));
            }
            return Err(e);
        }
        Ok(issuer)
    }

    /// Load an issuer directory (see the module documentation for its layout). `root.key` may
    /// be absent. Checks that every private key matches its certificate and that the document
    /// signer and the signing CA are issued by the root (signature and names; not time).
    pub fn load(dir: &Path) -> Result<Issuer, PkiError> {
        if !dir.is_dir() {
            return Err(PkiError::Missing {
                path: dir.to_path_buf(),
            });
        }
        let root_cert = read_certificate(&dir.join(files::ROOT_CERT))?;
        let root_key_path = dir.join(files::ROOT_KEY);
        let root_key = if root_key_path.exists() {
            let key = read_private_key(&root_key_path)?;
            check_key_matches(&key, &root_cert, &root_key_path, files::ROOT_CERT)?;
            Some(key)
        } else {
            None
        };
        let document_signer_cert = read_certificate(&dir.join(files::DOCUMENT_SIGNER_CERT))?;
        let ds_key_path = dir.join(files::DOCUMENT_SIGNER_KEY);
        let document_signer_key = read_private_key(&ds_key_path)?;
        check_key_matches(
            &document_signer_key,
            &document_signer_cert,
            &ds_key_path,
            files::DOCUMENT_SIGNER_CERT,
        )?;
        let signing_ca_cert = read_certificate(&dir.join(files::SIGNING_CA_CERT))?;
        let ca_key_path = dir.join(files::SIGNING_CA_KEY);
        let signing_ca_key = read_private_key(&ca_key_path)?;
        check_key_matches(
            &signing_ca_key,
            &signing_ca_cert,
            &ca_key_path,
            files::SIGNING_CA_CERT,
        )?;
        for (c, file) in [
            (&document_signer_cert, files::DOCUMENT_SIGNER_CERT),
            (&signing_ca_cert, files::SIGNING_CA_CERT),
        ] {
            chain::verify_issued_by(c, file, &root_cert).map_err(|e| {
                PkiError::bad_file(dir.join(file), format!("{e} ({})", files::ROOT_CERT))
            })?;
        }
        let master_key = read_master_key(&dir.join(files::MASTER_KEY))?;
        Ok(Issuer {
            dir: dir.to_path_buf(),
            root_cert,
            root_key,
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

    /// Whether the root CA's private key was loaded.
    pub fn has_root_key(&self) -> bool {
        self.root_key.is_some()
    }

    /// The personalization master key.
    pub fn master_key(&self) -> &Zeroizing<[u8; MASTER_KEY_LEN]> {
        &self.master_key
    }

    /// Private-key files of this issuer directory (and `master.key`) whose mode lets the
    /// group or others read or write them, for the CLI to warn about. (A test issuer checked
    /// out of git loses its 0600 modes.)
    pub fn key_files_open_to_others(&self) -> Vec<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        [
            files::ROOT_KEY,
            files::DOCUMENT_SIGNER_KEY,
            files::SIGNING_CA_KEY,
            files::MASTER_KEY,
        ]
        .iter()
        .map(|f| self.dir.join(f))
        .filter(|p| {
            fs::metadata(p)
                .map(|m| m.permissions().mode() & 0o077 != 0)
                .unwrap_or(false)
        })
        .collect()
    }

    pub(crate) fn document_signer_key(&self) -> &SigningKey {
        &self.document_signer_key
    }

    pub(crate) fn signing_ca_key(&self) -> &SigningKey {
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

    /// Replace the document signer with a new key and a certificate valid from `not_before`
    /// to `not_after`, issued by the root; the new files replace the old ones in the issuer
    /// directory (each written to a temporary file with its final mode, then renamed).
    /// Needs `root.key`. A validity in the past makes an expired document signer for tests.
    pub fn rotate_document_signer(
        &mut self,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<(), PkiError> {
        let Some(root_key) = &self.root_key else {
            return Err(PkiError::NoRootKey {
                path: self.dir.clone(),
                action: "issue a new document signer",
            });
        };
        let (key, cert) = new_document_signer(&self.root_cert, root_key, not_before, not_after)?;
        let key_pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| PkiError::invalid("document signer key", e.to_string()))?;
        let cert_pem = cert::to_pem(&cert)?;
        replace_file(
            &self.dir,
            files::DOCUMENT_SIGNER_KEY,
            key_pem.as_bytes(),
            0o600,
        )?;
        replace_file(
            &self.dir,
            files::DOCUMENT_SIGNER_CERT,
            cert_pem.as_bytes(),
            0o644,
        )?;
        self.document_signer_key = key;
        self.document_signer_cert = cert;
        Ok(())
    }

    fn write_all(&self) -> Result<(), PkiError> {
        let pem = |k: &SigningKey| {
            k.to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| PkiError::invalid("private key", e.to_string()))
        };
        if let Some(root_key) = &self.root_key {
            write_new(&self.dir, files::ROOT_KEY, pem(root_key)?.as_bytes(), 0o600)?;
        }
        write_new(
            &self.dir,
            files::DOCUMENT_SIGNER_KEY,
            pem(&self.document_signer_key)?.as_bytes(),
            0o600,
        )?;
        write_new(
            &self.dir,
            files::SIGNING_CA_KEY,
            pem(&self.signing_ca_key)?.as_bytes(),
            0o600,
        )?;
        let master_hex = Zeroizing::new(format!("{}\n", hex::encode(self.master_key.as_ref())));
        write_new(&self.dir, files::MASTER_KEY, master_hex.as_bytes(), 0o600)?;
        for (file, c) in [
            (files::ROOT_CERT, &self.root_cert),
            (files::DOCUMENT_SIGNER_CERT, &self.document_signer_cert),
            (files::SIGNING_CA_CERT, &self.signing_ca_cert),
        ] {
            write_new(&self.dir, file, cert::to_pem(c)?.as_bytes(), 0o644)?;
        }
        write_new(&self.dir, files::README, LAYOUT.as_bytes(), 0o644)?;
        Ok(())
    }
}

const ALL_FILES: [&str; 8] = [
    files::README,
    files::ROOT_CERT,
    files::ROOT_KEY,
    files::DOCUMENT_SIGNER_CERT,
    files::DOCUMENT_SIGNER_KEY,
    files::SIGNING_CA_CERT,
    files::SIGNING_CA_KEY,
    files::MASTER_KEY,
];

fn issuer_name(cn: &str) -> Result<Name, PkiError> {
    Ok(NameBuilder::new()
        .push(COUNTRY, StringKind::Printable, ISSUER_COUNTRY)?
        .push(ORGANIZATION, StringKind::Utf8, ISSUER_ORGANIZATION)?
        .push(COMMON_NAME, StringKind::Utf8, cn)?
        .build())
}

fn new_document_signer(
    root_cert: &Certificate,
    root_key: &SigningKey,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<(SigningKey, Certificate), PkiError> {
    let key = SigningKey::random(&mut OsRng);
    let cert = cert::issue(
        &CertRequest {
            profile: CertProfile::DocumentSigner,
            subject: issuer_name(DOCUMENT_SIGNER_CN)?,
            public_key: cert::spki_of(&key)?,
            not_before,
            not_after,
        },
        IssuerRef {
            certificate: Some(root_cert),
            key: root_key,
        },
    )?;
    Ok((key, cert))
}

fn prepare_empty_dir(dir: &Path) -> Result<(), PkiError> {
    match fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(PkiError::NotEmpty {
                    path: dir.to_path_buf(),
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| PkiError::Io {
                path: dir.to_path_buf(),
                source: e,
            }),
        Err(e) => Err(PkiError::Io {
            path: dir.to_path_buf(),
            source: e,
        }),
    }
}

/// Create `dir/name` (which must not exist) with `mode` from the start, and write `bytes`.
fn write_new(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> Result<(), PkiError> {
    let path = dir.join(name);
    let io = |e| PkiError::Io {
        path: path.clone(),
        source: e,
    };
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&path)
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Replace `dir/name` atomically: write `name.new` with `mode`, then rename over.
fn replace_file(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> Result<(), PkiError> {
    let tmp_name = format!("{name}.new");
    let tmp = dir.join(&tmp_name);
    let _ = fs::remove_file(&tmp);
    write_new(dir, &tmp_name, bytes, mode)?;
    fs::rename(&tmp, dir.join(name)).map_err(|e| PkiError::Io {
        path: dir.join(name),
        source: e,
    })
}

fn read_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, PkiError> {
    fs::read(path)
        .map(Zeroizing::new)
        .map_err(|e| PkiError::io(path, e))
}

/// Read a PEM or DER certificate file, naming the file in errors.
pub fn read_certificate(path: &Path) -> Result<Certificate, PkiError> {
    let bytes = read_file(path)?;
    cert::from_pem_or_der(&bytes)
        .map_err(|e| PkiError::bad_file(path, format!("not an X.509 certificate ({e})")))
}

/// Read a trust anchor (`--trust ROOT.pem`): a PEM or DER certificate.
pub fn read_trust_anchor(path: &Path) -> Result<Certificate, PkiError> {
    read_certificate(path)
}

/// Read a PKCS#8 PEM P-256 private key, naming the file in errors.
pub fn read_private_key(path: &Path) -> Result<SigningKey, PkiError> {
    let bytes = read_file(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| PkiError::bad_file(path, "not a PEM file (not UTF-8)"))?;
    SigningKey::from_pkcs8_pem(text)
        .map_err(|e| PkiError::bad_file(path, format!("not a PKCS#8 PEM P-256 private key ({e})")))
}

/// Read a master-key file: 32 hex digits (surrounding whitespace ignored).
pub fn read_master_key(path: &Path) -> Result<Zeroizing<[u8; MASTER_KEY_LEN]>, PkiError> {
    let bytes = read_file(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| PkiError::bad_file(path, "expected 32 hex digits"))?
        .trim();
    let mut key = Zeroizing::new([0u8; MASTER_KEY_LEN]);
    if text.len() != 2 * MASTER_KEY_LEN || hex::decode_to_slice(text, key.as_mut()).is_err() {
        return Err(PkiError::bad_file(
            path,
            format!("expected {} hex digits", 2 * MASTER_KEY_LEN),
        ));
    }
    Ok(key)
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
    use std::os::unix::fs::PermissionsExt;

    const DAY: Duration = Duration::from_secs(24 * 60 * 60);

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn init_writes_layout_with_private_modes_and_load_reads_it() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("issuer");
        let issuer = Issuer::init(&dir).expect("init");
        for f in ALL_FILES {
            assert!(dir.join(f).is_file(), "{f}");
        }
        for f in [
            files::ROOT_KEY,
            files::DOCUMENT_SIGNER_KEY,
            files::SIGNING_CA_KEY,
            files::MASTER_KEY,
        ] {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
        }
        assert_eq!(mode(&dir), 0o700);
        let master = fs::read_to_string(dir.join(files::MASTER_KEY)).expect("read");
        assert_eq!(master.trim().len(), 32);
        assert!(master.trim().bytes().all(|b| b.is_ascii_hexdigit()));

        let loaded = Issuer::load(&dir).expect("load");
        assert_eq!(loaded.root_certificate(), issuer.root_certificate());
        assert_eq!(
            loaded.document_signer_certificate(),
            issuer.document_signer_certificate()
        );
        assert_eq!(loaded.master_key().as_ref(), issuer.master_key().as_ref());
        assert!(loaded.has_root_key());
        assert!(loaded.key_files_open_to_others().is_empty());
        fs::set_permissions(
            dir.join(files::MASTER_KEY),
            fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
        assert_eq!(
            loaded.key_files_open_to_others(),
            [dir.join(files::MASTER_KEY)]
        );
        let dbg = format!("{loaded:?}");
        assert!(dbg.contains("REDACTED"));
        assert!(!dbg.contains(&hex::encode(loaded.master_key().as_ref())));
    }

    #[test]
    fn init_refuses_non_empty_dir_and_accepts_empty_one() {
        let tmp = tempfile::tempdir().expect("tempdir");
        fs::write(tmp.path().join("x"), b"x").expect("write");
        let err = Issuer::init(tmp.path()).expect_err("non-empty");
        assert!(matches!(err, PkiError::NotEmpty { .. }), "{err}");
        let empty = tempfile::tempdir().expect("tempdir");
        Issuer::init(empty.path()).expect("empty dir is fine");
    }

    #[test]
    fn load_names_the_missing_or_bad_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("i");
        Issuer::init(&dir).expect("init");

        fs::remove_file(dir.join(files::ROOT_KEY)).expect("rm root key");
        let issuer = Issuer::load(&dir).expect("root key is optional");
        assert!(!issuer.has_root_key());

        fs::write(dir.join(files::MASTER_KEY), "abc\n").expect("write");
        let err = Issuer::load(&dir).expect_err("bad master key").to_string();
        assert!(
            err.contains("master.key") && err.contains("32 hex digits"),
            "{err}"
        );

        fs::remove_file(dir.join(files::SIGNING_CA_KEY)).expect("rm");
        let err = Issuer::load(&dir).expect_err("missing").to_string();
        assert!(err.contains("signing-ca.key: missing"), "{err}");

        // The document signer's key swapped for the signing CA's: mismatch.
        fs::copy(
            dir.join(files::DOCUMENT_SIGNER_KEY),
            dir.join(files::SIGNING_CA_KEY),
        )
        .expect("copy");
        let err = Issuer::load(&dir).expect_err("mismatch").to_string();
        assert!(
            err.contains("signing-ca.key") && err.contains("does not match"),
            "{err}"
        );

        fs::write(dir.join(files::ROOT_CERT), "garbage").expect("write");
        let err = Issuer::load(&dir).expect_err("bad cert").to_string();
        assert!(
            err.contains("root.pem") && err.contains("not an X.509"),
            "{err}"
        );
    }

    #[test]
    fn load_refuses_a_document_signer_from_another_root() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        Issuer::init(&a).expect("init a");
        Issuer::init(&b).expect("init b");
        for f in [files::DOCUMENT_SIGNER_CERT, files::DOCUMENT_SIGNER_KEY] {
            fs::copy(b.join(f), a.join(f)).expect("copy");
        }
        let err = Issuer::load(&a).expect_err("foreign DS").to_string();
        assert!(err.contains("document-signer.pem"), "{err}");
    }

    #[test]
    fn rotate_document_signer_replaces_files_keeping_mode() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("i");
        let mut issuer = Issuer::init(&dir).expect("init");
        let old = issuer.document_signer_certificate().clone();
        let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
        issuer
            .rotate_document_signer(past, past + DAY)
            .expect("rotate");
        assert_ne!(&old, issuer.document_signer_certificate());
        assert_eq!(mode(&dir.join(files::DOCUMENT_SIGNER_KEY)), 0o600);
        let loaded = Issuer::load(&dir).expect("load");
        assert_eq!(
            loaded.document_signer_certificate(),
            issuer.document_signer_certificate()
        );
    }

    #[test]
    fn an_expired_document_signer_makes_the_issuer_unusable() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("i");
        let mut issuer = Issuer::init(&dir).expect("init");
        let now = SystemTime::now();
        issuer.check_usable(now).expect("a new issuer is usable");
        let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000); // 2020-09-13
        issuer
            .rotate_document_signer(past, past + DAY)
            .expect("rotate");
        let err = issuer.check_usable(now).expect_err("expired").to_string();
        assert!(
            err.contains("document-signer.pem: document signer certificate expired on 2020-09-14"),
            "{err}"
        );
        // Not yet valid is refused as well.
        issuer
            .rotate_document_signer(now + DAY, now + 2 * DAY)
            .expect("rotate");
        let err = issuer.check_usable(now).expect_err("future").to_string();
        assert!(err.contains("not valid before"), "{err}");
    }
}

//! Where an issuer's or a root's keys are, opened: `issuer.json`/`root.json`, a logged-in token
//! or a folder of key files.

use super::*;

/// Largest `issuer.json` / `root.json` read.
pub(super) const MAX_CONFIG: u64 = 64 * 1024;

/// `issuer.json` and `root.json`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StoreConfig {
    pub(super) format: String,
    pub(super) keys: KeyStore,
    /// Written into every holder certificate issued (issuer.json only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) crl_url: Option<String>,
    /// Written into every holder certificate issued (issuer.json only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) ocsp_url: Option<String>,
    /// Written into every certificate the root issues (issuer.json only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) root_crl_url: Option<String>,
}

/// An opened key store: a logged-in token, or a directory of key files and how they are
/// protected.
pub(super) enum OpenStore {
    Token(Arc<Token>),
    Files {
        dir: PathBuf,
        passphrase: Option<Zeroizing<String>>,
    },
}

impl OpenStore {
    pub(super) fn open(
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

    pub(super) fn protection(&self) -> Protection<'_> {
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
    pub(super) fn new_ec_key(
        &self,
        label: &str,
        file: &str,
        replace: bool,
    ) -> Result<AnyKey, PkiError> {
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
    pub(super) fn ec_key_of(
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

    pub(super) fn new_master_key(&self) -> Result<MasterKey, PkiError> {
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

    pub(super) fn master_key(&self) -> Result<MasterKey, PkiError> {
        match self {
            OpenStore::Token(token) => Ok(MasterKey::Token(token.find_master_key()?)),
            OpenStore::Files { dir, .. } => Ok(MasterKey::Software(
                key_files::read_master_key_file(&dir.join(files::MASTER_KEY), self.protection())?,
            )),
        }
    }
}

pub(super) fn public_key_of(
    certificate: &Certificate,
    file: &str,
) -> Result<VerifyingKey, PkiError> {
    let spki = &certificate.tbs_certificate.subject_public_key_info;
    VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes())
        .map_err(|_| PkiError::invalid("certificate", format!("{file}: not a P-256 public key")))
}
pub(super) fn read_config(path: &Path, format: &str) -> Result<StoreConfig, PkiError> {
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

pub(super) fn write_config(
    dir: &Path,
    name: &str,
    format: &str,
    store: &KeyStore,
    urls: &RevocationUrls,
) -> Result<(), PkiError> {
    let config = StoreConfig {
        format: format.to_string(),
        keys: store.clone(),
        crl_url: urls.crl.clone(),
        ocsp_url: urls.ocsp.clone(),
        root_crl_url: urls.root_crl.clone(),
    };
    let mut json = serde_json::to_string_pretty(&config)
        .map_err(|e| PkiError::refused("key-store description", e))?;
    json.push('\n');
    write_new(dir, name, json.as_bytes(), 0o644)
}
pub(super) fn check_key_matches(
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

//! Opening the issuer's key stores from the command line: where the token PIN or the
//! passphrase comes from, and the arguments of `melli issuer init`.
//!
//! The secret is asked once per run: from `MELLI_ISSUER_PIN` (the issuer's store) or
//! `MELLI_ROOT_PIN` (the root's) when set — for scripts and tests — else at the terminal
//! without echo. It is never printed and is wiped after use.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use melli::pki::{Issuer, KeyStore, PkiError, SecretPurpose, SecretRequest};
use melli_card::CardKeys;
use zeroize::Zeroizing;

use crate::cli::Failure;

/// Environment variable with the issuer store's token PIN or passphrase.
pub const ISSUER_PIN_ENV: &str = "MELLI_ISSUER_PIN";
/// Environment variable with the root store's token PIN or passphrase.
pub const ROOT_PIN_ENV: &str = "MELLI_ROOT_PIN";
/// Shortest passphrase accepted for new encrypted key files.
const MIN_PASSPHRASE: usize = 8;
/// Longest secret accepted.
const MAX_SECRET: usize = 256;

/// The token PIN or passphrase a store asks for: from the environment, else the terminal.
pub fn secret(request: &SecretRequest<'_>) -> Result<Zeroizing<String>, PkiError> {
    let env = if request.role == "root" {
        ROOT_PIN_ENV
    } else {
        ISSUER_PIN_ENV
    };
    let given = match std::env::var(env) {
        // Empty is as good as unset (`MELLI_ISSUER_PIN= melli …`).
        Ok(v) if v.is_empty() => None,
        Ok(v) => Some(Zeroizing::new(v)),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(PkiError::Store(format!("{env} is not valid UTF-8")))
        }
    };
    let text = match given {
        Some(v) => v,
        None => {
            if !std::io::stdin().is_terminal() {
                return Err(PkiError::Store(format!(
                    "the {} is needed: run in a terminal to be asked, or set {env}",
                    request.prompt()
                )));
            }
            let first = ask(&request.prompt())?;
            if request.purpose == SecretPurpose::NewPassphrase
                && !matches!(request.store, KeyStore::Pkcs11 { .. })
            {
                let again = ask("the same passphrase again")?;
                if *again != *first {
                    return Err(PkiError::Store(
                        "the two passphrases differ: run it again".into(),
                    ));
                }
            }
            first
        }
    };
    if text.is_empty() || text.len() > MAX_SECRET || text.contains(['\n', '\r', '\0']) {
        return Err(PkiError::Store(format!(
            "the {} must be 1 to {MAX_SECRET} bytes on one line",
            request.prompt()
        )));
    }
    if request.purpose == SecretPurpose::NewPassphrase
        && !matches!(request.store, KeyStore::Pkcs11 { .. })
        && text.chars().count() < MIN_PASSPHRASE
    {
        return Err(PkiError::Store(format!(
            "the {} must have at least {MIN_PASSPHRASE} characters",
            request.prompt()
        )));
    }
    Ok(text)
}

fn ask(prompt: &str) -> Result<Zeroizing<String>, PkiError> {
    rpassword::prompt_password(format!("{prompt}: "))
        .map(Zeroizing::new)
        .map_err(|e| PkiError::Store(format!("reading the {prompt}: {e}")))
}

/// The issuer's status key (its keyed hash of a person in the journals), from the issuer
/// directory `dir`: its master key opened, as [`load_issuer`] does.
pub fn status_key(dir: &Path) -> Result<melli::pki::status_key::StatusKey, Failure> {
    let issuer = load_issuer(dir).map_err(|f| Failure {
        message: melli::display::escaped(&f.message),
        ..f
    })?;
    status_key_of(&issuer)
}

/// The status key of an issuer already loaded.
pub fn status_key_of(issuer: &Issuer) -> Result<melli::pki::status_key::StatusKey, Failure> {
    melli::pki::status_key::StatusKey::derive(issuer.master_key())
        .map_err(|e| Failure::card(format!("the issuer's status key: {e}")))
}

/// Loads the issuer directory `dir`, asking for its token PIN or passphrase once.
pub fn load_issuer(dir: &Path) -> Result<Issuer, Failure> {
    Issuer::load(dir, &mut secret).map_err(|e| {
        let step = match e {
            PkiError::OldLayout { .. } => "; make a new one with melli issuer init",
            _ => "",
        };
        Failure::bad_input(format!("{e}{step}"))
    })
}

/// The static keys of a new virtual card with `serial`, diversified by the issuer's master
/// key in its store.
pub fn card_keys(issuer: &Issuer, serial: &str) -> Result<CardKeys, PkiError> {
    let (enc, mac) = issuer.card_keys(serial)?.to_card_keys();
    Ok(CardKeys { enc, mac })
}

/// `melli issuer init`'s arguments.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The issuer directory to make (new or empty): what personalization needs.
    pub dir: PathBuf,
    /// The root directory to make (new or empty): the root CA's key, kept apart and needed
    /// only to issue document signers. Default: DIR-root beside DIR.
    #[arg(long, value_name = "DIR")]
    pub root_dir: Option<PathBuf>,
    /// Keep the issuer's keys in an HSM: the PKCS#11 module (SoftHSM2:
    /// /usr/lib/softhsm/libsofthsm2.so). Needs --token.
    #[arg(long, value_name = "MODULE", requires = "token")]
    pub hsm: Option<PathBuf>,
    /// The label of the (initialized) token for the issuer's keys.
    #[arg(long, value_name = "LABEL", requires = "hsm")]
    pub token: Option<String>,
    /// The label of another token of the same module for the root key; without it, the root
    /// key goes to a passphrase-encrypted file in the root directory.
    #[arg(long, value_name = "LABEL", requires = "hsm")]
    pub root_token: Option<String>,
    /// Unencrypted key files: for tests only, never for real cards.
    #[arg(long, conflicts_with_all = ["hsm", "token", "root_token"])]
    pub insecure_plain_keys: bool,
}

impl InitArgs {
    /// Where the issuer's and the root's keys go.
    pub fn stores(&self) -> (KeyStore, KeyStore) {
        if self.insecure_plain_keys {
            return (KeyStore::PlainFiles, KeyStore::PlainFiles);
        }
        match (&self.hsm, &self.token) {
            (Some(module), Some(token)) => {
                let root = match &self.root_token {
                    Some(root_token) => KeyStore::Pkcs11 {
                        module: module.clone(),
                        token: root_token.clone(),
                    },
                    None => KeyStore::EncryptedFiles,
                };
                (
                    KeyStore::Pkcs11 {
                        module: module.clone(),
                        token: token.clone(),
                    },
                    root,
                )
            }
            _ => (KeyStore::EncryptedFiles, KeyStore::EncryptedFiles),
        }
    }
}

/// `melli issuer new-document-signer`'s arguments.
#[derive(Debug, clap::Args)]
pub struct NewSignerArgs {
    /// The issuer directory.
    pub dir: PathBuf,
    /// The root directory (made by `melli issuer init`). Default: DIR-root beside DIR.
    #[arg(long, value_name = "DIR")]
    pub root_dir: Option<PathBuf>,
    /// Start of the new certificate's validity, UTC, as 2026-12-01T00:00:00Z. Default: now.
    #[arg(long, value_name = "TIME", value_parser = parse_utc)]
    pub not_before: Option<SystemTime>,
    /// End of its validity, UTC, as 2036-12-01T00:00:00Z. Default: ten years after the start.
    #[arg(long, value_name = "TIME", value_parser = parse_utc)]
    pub not_after: Option<SystemTime>,
}

/// Where holder certificates say their status is published (`issuer init`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct UrlArgs {
    /// The CRL distribution point written into every holder certificate (an http URL where
    /// `melli issuer crl --out` is published).
    #[arg(long, value_name = "URL")]
    pub crl_url: Option<String>,
    /// The OCSP responder written into every holder certificate (authorityInfoAccess).
    #[arg(long, value_name = "URL")]
    pub ocsp_url: Option<String>,
    /// The CRL distribution point written into the signing CA and document signer
    /// certificates (an http URL where `melli issuer crl --root-out` is published), so that
    /// `--online` finds their status too.
    #[arg(long, value_name = "URL")]
    pub root_crl_url: Option<String>,
}

/// An RFC 3339 UTC time to the second: `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn parse_utc(text: &str) -> Result<SystemTime, String> {
    let bad = || format!("{text:?}: give a UTC time as 2026-12-01T09:30:00Z");
    let b = text.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<u16, String> {
        let part = &text[r];
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let small = |r| num(r).and_then(|v| u8::try_from(v).map_err(|_| bad()));
    der::DateTime::new(
        num(0..4)?,
        small(5..7)?,
        small(8..10)?,
        small(11..13)?,
        small(14..16)?,
        small(17..19)?,
    )
    .map(|t| t.to_system_time())
    .map_err(|_| bad())
}

//! Issuer keys in files: PKCS#8 encrypted with a passphrase (PBES2 with scrypt and
//! AES-256-CBC, RFC 8018, through the `pkcs8` crate), or — for tests only — plain PKCS#8.
//!
//! The master key is 16 bytes, not a private key; encrypted, it is kept in the same PBES2
//! envelope as a PKCS#8 key (an `EncryptedPrivateKeyInfo` whose plaintext is the DER OCTET
//! STRING of the key) under the PEM label [`ENCRYPTED_MASTER_KEY_LABEL`]; plain, it is 32 hex
//! digits and a newline (applets-spec §8.5).
//!
//! Every key file must be readable by its owner alone: a file that group or others may read or
//! write is refused with the command that fixes it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use der::asn1::OctetString;
use der::pem::LineEnding;
use der::{Decode, Encode};
use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use pkcs8::pkcs5::pbes2;
use pkcs8::EncryptedPrivateKeyInfo;
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use super::error::PkiError;
use super::keys::MASTER_KEY_LEN;

/// PEM label of an encrypted master-key file.
pub const ENCRYPTED_MASTER_KEY_LABEL: &str = "MELLI ENCRYPTED MASTER KEY";

/// Largest key file read (a PEM P-256 key is under 400 bytes).
const MAX_KEY_FILE: u64 = 16 * 1024;

/// How a key file is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection<'a> {
    /// Encrypted with this passphrase.
    Passphrase(&'a str),
    /// Not encrypted (tests only).
    Plain,
}

/// Refuses a key file that group or others can read or write.
pub fn check_private_mode(path: &Path) -> Result<(), PkiError> {
    let meta = fs::metadata(path).map_err(|e| PkiError::io(path, e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(PkiError::bad_file(
            path,
            format!(
                "mode {mode:04o} lets other users at this key; run chmod 600 {}",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Reads a key file after checking its mode and size.
fn read_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, PkiError> {
    check_private_mode(path)?;
    let len = fs::metadata(path).map_err(|e| PkiError::io(path, e))?.len();
    if len > MAX_KEY_FILE {
        return Err(PkiError::bad_file(
            path,
            format!("{len} bytes is too large for a key file (at most {MAX_KEY_FILE})"),
        ));
    }
    fs::read(path)
        .map(Zeroizing::new)
        .map_err(|e| PkiError::io(path, e))
}

fn utf8<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, PkiError> {
    std::str::from_utf8(bytes).map_err(|_| PkiError::bad_file(path, "not a PEM file (not UTF-8)"))
}

/// scrypt's cost: log2 N = 14, r = 8, p = 1 (16 MiB, about 50 ms) — memory-hard, and within the
/// 32 MiB that OpenSSL 3 allows by default, so `openssl pkey` opens these files too (N = 2^15,
/// the `pkcs8` crate's default, is refused there).
const SCRYPT_LOG_N: u8 = 14;

/// PBES2 parameters (RFC 8018): scrypt as above, AES-256-CBC, a fresh salt and IV. `salt` and
/// `iv` hold them; the parameters borrow them.
fn pbes2<'a>(
    salt: &'a mut [u8; 16],
    iv: &'a mut [u8; 16],
) -> Result<pbes2::Parameters<'a>, PkiError> {
    OsRng.try_fill_bytes(salt).map_err(PkiError::Random)?;
    OsRng.try_fill_bytes(iv).map_err(PkiError::Random)?;
    let cost = pkcs8::pkcs5::scrypt::Params::new(SCRYPT_LOG_N, 8, 1, 32)
        .map_err(|e| PkiError::invalid("key encryption", e.to_string()))?;
    pbes2::Parameters::scrypt_aes256cbc(cost, salt, iv)
        .map_err(|e| PkiError::invalid("key encryption", e.to_string()))
}

/// The PEM of `key`, encrypted or not.
pub fn private_key_pem(
    key: &SigningKey,
    protection: Protection<'_>,
) -> Result<Zeroizing<String>, PkiError> {
    let failed = |e: pkcs8::Error| PkiError::refused("private key", e);
    match protection {
        Protection::Passphrase(p) => {
            let der = key.to_pkcs8_der().map_err(failed)?;
            let info = pkcs8::PrivateKeyInfo::try_from(der.as_bytes()).map_err(failed)?;
            let (mut salt, mut iv) = ([0u8; 16], [0u8; 16]);
            let encrypted = info
                .encrypt_with_params(pbes2(&mut salt, &mut iv)?, p)
                .map_err(failed)?;
            encrypted
                .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
                .map_err(|e| PkiError::refused("private key", e))
        }
        Protection::Plain => key.to_pkcs8_pem(LineEnding::LF).map_err(failed),
    }
}

/// Reads a P-256 private key file, encrypted (PKCS#8 `ENCRYPTED PRIVATE KEY`) or plain
/// (`PRIVATE KEY`), as `protection` says.
pub fn read_private_key(path: &Path, protection: Protection<'_>) -> Result<SigningKey, PkiError> {
    let bytes = read_key_file(path)?;
    let text = utf8(path, &bytes)?;
    match protection {
        Protection::Passphrase(p) => SigningKey::from_pkcs8_encrypted_pem(text, p).map_err(|_| {
            PkiError::bad_file(
                path,
                "cannot decrypt it: wrong passphrase, or not an encrypted PKCS#8 P-256 key",
            )
        }),
        Protection::Plain => SigningKey::from_pkcs8_pem(text).map_err(|e| {
            PkiError::bad_file(path, format!("not a PKCS#8 PEM P-256 private key ({e})"))
        }),
    }
}

/// The file content of a master key: encrypted PEM, or 32 hex digits and a newline.
pub fn master_key_file(
    key: &[u8; MASTER_KEY_LEN],
    protection: Protection<'_>,
) -> Result<Zeroizing<String>, PkiError> {
    match protection {
        Protection::Plain => Ok(Zeroizing::new(format!("{}\n", hex::encode(key)))),
        Protection::Passphrase(p) => {
            let plaintext = Zeroizing::new(OctetString::new(key.as_slice())?.to_der()?);
            let (mut salt, mut iv) = ([0u8; 16], [0u8; 16]);
            let params = pbes2(&mut salt, &mut iv)?;
            let ciphertext = params
                .encrypt(p, &plaintext)
                .map_err(|e| PkiError::invalid("master key encryption", e.to_string()))?;
            let info = EncryptedPrivateKeyInfo {
                encryption_algorithm: params.into(),
                encrypted_data: &ciphertext,
            };
            let der = info.to_der()?;
            Ok(Zeroizing::new(
                der::pem::encode_string(ENCRYPTED_MASTER_KEY_LABEL, LineEnding::LF, &der)
                    .map_err(|e| PkiError::invalid("master key encryption", e.to_string()))?,
            ))
        }
    }
}

/// Reads a master-key file (see [`master_key_file`]).
pub fn read_master_key_file(
    path: &Path,
    protection: Protection<'_>,
) -> Result<Zeroizing<[u8; MASTER_KEY_LEN]>, PkiError> {
    let bytes = read_key_file(path)?;
    let text = utf8(path, &bytes)?;
    let mut key = Zeroizing::new([0u8; MASTER_KEY_LEN]);
    match protection {
        Protection::Plain => {
            let text = text.trim();
            if text.len() != 2 * MASTER_KEY_LEN || hex::decode_to_slice(text, key.as_mut()).is_err()
            {
                return Err(PkiError::bad_file(
                    path,
                    format!("expected {} hex digits", 2 * MASTER_KEY_LEN),
                ));
            }
        }
        Protection::Passphrase(p) => {
            let (label, der) = der::pem::decode_vec(text.as_bytes()).map_err(|_| {
                PkiError::bad_file(path, format!("not a PEM '{ENCRYPTED_MASTER_KEY_LABEL}'"))
            })?;
            if label != ENCRYPTED_MASTER_KEY_LABEL {
                return Err(PkiError::bad_file(
                    path,
                    format!("PEM label '{label}', expected '{ENCRYPTED_MASTER_KEY_LABEL}'"),
                ));
            }
            let info = EncryptedPrivateKeyInfo::from_der(&der)
                .map_err(|e| PkiError::bad_file(path, format!("not an encrypted key ({e})")))?;
            let plaintext = Zeroizing::new(
                info.encryption_algorithm
                    .decrypt(p, info.encrypted_data)
                    .map_err(|_| PkiError::bad_file(path, "cannot decrypt it: wrong passphrase"))?,
            );
            let octets = OctetString::from_der(&plaintext)
                .map_err(|_| PkiError::bad_file(path, "cannot decrypt it: wrong passphrase"))?;
            if octets.as_bytes().len() != MASTER_KEY_LEN {
                return Err(PkiError::bad_file(
                    path,
                    format!("the key inside is not {MASTER_KEY_LEN} bytes"),
                ));
            }
            key.copy_from_slice(octets.as_bytes());
            let mut owned = octets.into_bytes();
            zeroize::Zeroize::zeroize(&mut owned);
        }
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    fn write(path: &Path, text: &str, mode: u32) {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .expect("create");
        f.write_all(text.as_bytes()).expect("write");
    }

    #[test]
    fn encrypted_keys_round_trip_and_a_wrong_passphrase_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = SigningKey::random(&mut OsRng);
        let pem = private_key_pem(&key, Protection::Passphrase("correct horse")).expect("pem");
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        let path = dir.path().join("k.key");
        write(&path, &pem, 0o600);
        let back = read_private_key(&path, Protection::Passphrase("correct horse")).expect("read");
        assert_eq!(back.verifying_key(), key.verifying_key());
        let err = read_private_key(&path, Protection::Passphrase("wrong")).expect_err("wrong");
        assert!(err.to_string().contains("wrong passphrase"), "{err}");

        let mk = [0x5Au8; MASTER_KEY_LEN];
        let text = master_key_file(&mk, Protection::Passphrase("pw")).expect("master");
        assert!(text.contains(ENCRYPTED_MASTER_KEY_LABEL));
        assert!(!text.contains(&hex::encode(mk)));
        let mpath = dir.path().join("master.key");
        write(&mpath, &text, 0o600);
        let back = read_master_key_file(&mpath, Protection::Passphrase("pw")).expect("read");
        assert_eq!(*back, mk);
        let err = read_master_key_file(&mpath, Protection::Passphrase("nope")).expect_err("wrong");
        assert!(err.to_string().contains("wrong passphrase"), "{err}");
    }

    #[test]
    fn a_key_file_others_can_read_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master.key");
        write(&path, &format!("{}\n", "00".repeat(16)), 0o644);
        let err = read_master_key_file(&path, Protection::Plain).expect_err("0644");
        let line = err.to_string();
        assert!(line.contains("mode 0644"), "{line}");
        assert!(
            line.contains(&format!("chmod 600 {}", path.display())),
            "{line}"
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        read_master_key_file(&path, Protection::Plain).expect("0600 is fine");
    }
}

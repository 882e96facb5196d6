//! PIN mailers: the file that carries a new card's PIN and PUK to its holder, made before the
//! card is touched so that the secrets set on a card are never lost.
//!
//! ```text
//! melli PIN mailer
//! card: SERIAL
//! PIN: 123456
//! PUK: 1234567890
//! ```
//!
//! A mailer names its card: a resumed personalization of the same card reuses it (the card may
//! already hold these secrets), and a mailer of another card is never overwritten by
//! [`secrets_for_card`]. Written with mode 0600 and synced to disk.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::model::{Secret, SecretKind};

/// The first line of a PIN mailer, so a file is recognised as one.
pub const HEADER: &str = "melli PIN mailer";
/// Digits of a generated PIN.
pub const PIN_DIGITS: usize = 6;
/// Digits of a generated PUK.
pub const PUK_DIGITS: usize = 10;

/// Why a PIN mailer could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("cannot read the PIN mailer {}: {source} — check its path and permissions", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} exists and is not this card's PIN mailer: choose another file", path.display())]
    OtherCard {
        path: PathBuf,
        /// The card it is for, when it is a mailer at all.
        card: Option<String>,
    },
    #[error("the PIN mailer {} is damaged — restore it from a copy, or give a new file for new secrets", path.display())]
    Damaged { path: PathBuf },
    #[error("cannot write the PIN mailer {}: {source} — check that its folder exists and is writable", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The card a PIN mailer is for: `None` when the file is not a PIN mailer.
pub fn card_of(path: &Path) -> Result<Option<String>, MailerError> {
    let text = read(path)?;
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Ok(None);
    }
    Ok(lines
        .next()
        .and_then(|l| l.strip_prefix("card: "))
        .map(str::to_owned))
}

/// The PIN and PUK of the card `serial`: read from the mailer at `path` when it is this card's
/// (a resumed personalization), or generated and written there first when there is no file.
/// A file that is not this card's mailer is an error.
pub fn secrets_for_card(path: &Path, serial: &str) -> Result<(Secret, Secret), MailerError> {
    if path.exists() {
        return read_secrets(path, serial);
    }
    let pin = Secret::generate(SecretKind::Pin, PIN_DIGITS);
    let puk = Secret::generate(SecretKind::Puk, PUK_DIGITS);
    let text = Zeroizing::new(format!(
        "{HEADER}\ncard: {serial}\nPIN: {}\nPUK: {}\n",
        pin.expose(),
        puk.expose()
    ));
    write_private_file(path, text.as_bytes()).map_err(|source| MailerError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((pin, puk))
}

/// Reads a PIN mailer: a regular file of at most [`Kind::Small`]'s size, UTF-8.
fn read(path: &Path) -> Result<Zeroizing<String>, MailerError> {
    use crate::input::{InputError, Kind};
    let failed = |source| MailerError::Read {
        path: path.to_path_buf(),
        source,
    };
    let bytes = Zeroizing::new(crate::input::read(path, Kind::Small).map_err(|e| match e {
        InputError::Io { source, .. } => failed(source),
        InputError::NotRegular { found, .. } => failed(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a regular file ({found})"),
        )),
        InputError::TooLarge { size, cap, .. } => failed(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{size} bytes, more than a PIN mailer may be ({cap} bytes at most)"),
        )),
    })?);
    match std::str::from_utf8(&bytes) {
        Ok(text) => Ok(Zeroizing::new(text.to_owned())),
        Err(_) => Err(failed(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))),
    }
}

fn read_secrets(path: &Path, serial: &str) -> Result<(Secret, Secret), MailerError> {
    let text = read(path)?;
    let card_line = format!("card: {serial}");
    let mut lines = text.lines();
    let header = lines.next();
    let card = lines.next();
    if header != Some(HEADER) || card != Some(card_line.as_str()) {
        return Err(MailerError::OtherCard {
            path: path.to_path_buf(),
            card: (header == Some(HEADER))
                .then(|| {
                    card.and_then(|l| l.strip_prefix("card: "))
                        .map(str::to_owned)
                })
                .flatten(),
        });
    }
    let damaged = || MailerError::Damaged {
        path: path.to_path_buf(),
    };
    let field = |prefix: &str| text.lines().find_map(|l| l.strip_prefix(prefix));
    let pin = Secret::parse(SecretKind::Pin, field("PIN: ").ok_or_else(damaged)?)
        .map_err(|_| damaged())?;
    let puk = Secret::parse(SecretKind::Puk, field("PUK: ").ok_or_else(damaged)?)
        .map_err(|_| damaged())?;
    Ok((pin, puk))
}

/// Creates a new file readable by its owner only, on the disk before it is said to exist.
fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::files::write_new(path, bytes, 0o600)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn generates_once_then_reuses_for_the_same_card() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("T1.txt");
        let (pin, puk) = secrets_for_card(&path, "CARD1").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (pin2, puk2) = secrets_for_card(&path, "CARD1").unwrap();
        assert_eq!((pin.expose(), puk.expose()), (pin2.expose(), puk2.expose()));
        assert_eq!(card_of(&path).unwrap().as_deref(), Some("CARD1"));
    }

    #[test]
    fn refuses_another_cards_mailer_and_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("T1.txt");
        secrets_for_card(&path, "CARD1").unwrap();
        match secrets_for_card(&path, "CARD2") {
            Err(MailerError::OtherCard { card, .. }) => assert_eq!(card.as_deref(), Some("CARD1")),
            other => panic!("{other:?}"),
        }
        let other = dir.path().join("notes.txt");
        std::fs::write(&other, "hello\n").unwrap();
        assert!(matches!(
            secrets_for_card(&other, "CARD1"),
            Err(MailerError::OtherCard { card: None, .. })
        ));
        assert_eq!(card_of(&other).unwrap(), None);
        let damaged = dir.path().join("damaged.txt");
        std::fs::write(&damaged, format!("{HEADER}\ncard: CARD1\nPIN: 12\n")).unwrap();
        assert!(matches!(
            secrets_for_card(&damaged, "CARD1"),
            Err(MailerError::Damaged { .. })
        ));
    }
}

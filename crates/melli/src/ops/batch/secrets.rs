//! Where a batch gets each card's PIN and PUK: a PIN mailer per record in a folder, named by
//! tracking code, reused when the same card comes back.

use std::path::{Path, PathBuf};

use crate::model::{Secret, TrackingCode};
use crate::ops::pin_mailer::{self, MailerError};

/// Gives the PIN and PUK for a record's card.
pub trait SecretSource: Sync {
    fn secrets(
        &self,
        tracking_code: &TrackingCode,
        serial: &str,
    ) -> Result<(Secret, Secret), MailerError>;
}

/// A folder of PIN mailers, `TRACKING-CODE.txt` each (mode 0600).
///
/// A mailer made for another card of the same record (the record was put back in the queue and
/// went to another card) is kept, renamed `TRACKING-CODE.void-SERIAL.txt`, and a new one made:
/// that other card was never locked with this record, so its secrets mean nothing.
#[derive(Debug, Clone)]
pub struct MailerDir {
    dir: PathBuf,
}

impl MailerDir {
    /// Uses `dir`, creating it (mode 0700) if needed.
    pub fn new(dir: &Path) -> Result<MailerDir, MailerError> {
        crate::files::create_private_dir(dir).map_err(|source| MailerError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(MailerDir {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The mailer of a record.
    pub fn path_for(&self, tracking_code: &TrackingCode) -> PathBuf {
        self.dir.join(format!("{tracking_code}.txt"))
    }

    fn void(
        &self,
        path: &Path,
        tracking_code: &TrackingCode,
        card: &str,
    ) -> Result<(), MailerError> {
        let mut target = self.dir.join(format!("{tracking_code}.void-{card}.txt"));
        let mut n = 1;
        while target.exists() {
            n += 1;
            target = self
                .dir
                .join(format!("{tracking_code}.void-{card}-{n}.txt"));
        }
        std::fs::rename(path, &target).map_err(|source| MailerError::Write {
            path: target,
            source,
        })
    }
}

impl SecretSource for MailerDir {
    fn secrets(
        &self,
        tracking_code: &TrackingCode,
        serial: &str,
    ) -> Result<(Secret, Secret), MailerError> {
        let path = self.path_for(tracking_code);
        match pin_mailer::secrets_for_card(&path, serial) {
            Err(MailerError::OtherCard {
                card: Some(other), ..
            }) if other != serial && safe_in_file_name(&other) => {
                self.void(&path, tracking_code, &other)?;
                pin_mailer::secrets_for_card(&path, serial)
            }
            result => result,
        }
    }
}

fn safe_in_file_name(serial: &str) -> bool {
    !serial.is_empty() && serial.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn one_mailer_per_record_voided_when_the_record_moves_to_another_card() {
        let dir = tempfile::tempdir().unwrap();
        let mailers = MailerDir::new(&dir.path().join("mailers")).unwrap();
        let code = TrackingCode::parse("T1").unwrap();
        let (pin, _) = mailers.secrets(&code, "CARD1").unwrap();
        let (again, _) = mailers.secrets(&code, "CARD1").unwrap();
        assert_eq!(pin.expose(), again.expose());
        mailers.secrets(&code, "CARD2").unwrap();
        assert_eq!(
            pin_mailer::card_of(&mailers.path_for(&code))
                .unwrap()
                .as_deref(),
            Some("CARD2")
        );
        let void = mailers.dir().join("T1.void-CARD1.txt");
        assert_eq!(
            pin_mailer::card_of(&void).unwrap().as_deref(),
            Some("CARD1")
        );
    }
}

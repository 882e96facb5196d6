//! Commands a desk uses on an issued card: chip authentication and match-on-card (§6.8, §6.13).

use zeroize::Zeroizing;

use super::{Applet, AppletError};
use crate::apdu::{push_ber_len, Command, StatusError};
use crate::spec;

/// What the card said about a live fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum FingerMatch {
    Match,
    NoMatch { tries_left: u8 },
    Blocked,
}

/// INTERNAL AUTHENTICATE with the chip-authentication key and `challenge` (§6.13), sent plain at
/// a desk or under secure messaging by the issuer's self-check.
pub(super) fn internal_authenticate_apdu(challenge: &[u8]) -> Command {
    Command::new(
        spec::cla::PLAIN,
        spec::ins::INTERNAL_AUTHENTICATE,
        0x00,
        spec::reference::CHIP_AUTH_KEY,
    )
    .data(challenge.to_vec())
    .expect(256)
}

impl<T: crate::transport::Transport> Applet<T> {
    /// INTERNAL AUTHENTICATE with the chip-authentication key (§6.13): the card signs
    /// SHA-256("MELLI-CA-V1" ‖ serial ‖ challenge); returns the raw `r ‖ s` signature.
    pub fn internal_authenticate(&mut self, challenge: &[u8]) -> Result<[u8; 64], AppletError> {
        let answer = self.run(
            "INTERNAL AUTHENTICATE",
            &internal_authenticate_apdu(challenge),
        )?;
        answer
            .as_slice()
            .try_into()
            .map_err(|_| AppletError::Malformed {
                what: "chip-authentication signature",
                detail: format!("{} bytes instead of 64", answer.len()),
            })
    }

    /// VERIFY against the enrolled fingerprint with a live ISO/IEC 19794-2 record (§6.8, §11):
    /// the card matches it and answers.
    pub fn verify_finger(&mut self, live_record: &[u8]) -> Result<FingerMatch, AppletError> {
        let mut data = Zeroizing::new(Vec::with_capacity(live_record.len() + 8));
        let mut inner = Vec::with_capacity(live_record.len() + 4);
        inner.push(0x81);
        push_ber_len(live_record.len(), &mut inner);
        inner.extend_from_slice(live_record);
        data.extend_from_slice(&spec::tag::BIOMETRIC_DATA.to_be_bytes());
        push_ber_len(inner.len(), &mut data);
        data.extend_from_slice(&inner);
        let apdu = Command::new(
            spec::cla::PLAIN,
            spec::ins::VERIFY,
            0,
            spec::reference::FINGER,
        )
        .data(data.to_vec())
        .sensitive();
        match self.channel().send(&apdu)?.sw.check() {
            Ok(()) => Ok(FingerMatch::Match),
            Err(StatusError::VerificationFailed(0)) | Err(StatusError::AuthenticationBlocked) => {
                Ok(FingerMatch::Blocked)
            }
            Err(StatusError::VerificationFailed(n)) => Ok(FingerMatch::NoMatch { tries_left: n }),
            Err(status) => Err(AppletError::Status {
                command: "VERIFY (fingerprint)",
                status,
            }),
        }
    }
}

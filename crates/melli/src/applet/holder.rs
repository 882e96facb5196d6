//! The holder's commands: PIN status, change and unblock, and signing (§6.8–§6.12).
//!
//! Signing exists only on [`PinVerified`], which only [`Applet::verify_pin`] makes: a signature
//! cannot be asked for before the PIN was verified in this card session.

use super::{Applet, AppletError};
use crate::apdu::{Command, StatusError};
use crate::model::Secret;
use crate::spec;
use crate::transport::Transport;

/// Tries left for each reference (GET DATA `DF04`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RetryCounters {
    pub pin: u8,
    pub puk: u8,
    pub finger: u8,
}

/// A wrong PIN or PUK, or a blocked one, as the holder should hear it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error(
        "wrong {kind}: {tries_left} {tries} left before it is blocked — check it and try again",
        tries = if *.tries_left == 1 { "try" } else { "tries" }
    )]
    Wrong { kind: &'static str, tries_left: u8 },
    #[error("the {0} is blocked{hint}", hint = if *.0 == "PIN" { "" } else { ": the card's signing key is blocked for good — the holder needs a new card" })]
    Blocked(&'static str),
}

/// Why a PIN or PUK command did not succeed: the card refused the secret (wrong, or blocked),
/// or the card itself failed.
#[derive(Debug, thiserror::Error)]
pub enum PinCheckError {
    /// A wrong or blocked PIN or PUK.
    #[error(transparent)]
    Refused(#[from] PinError),
    /// The card or the reader failed.
    #[error(transparent)]
    Card(#[from] AppletError),
}

/// A card on which the PIN was verified in this session.
pub struct PinVerified<'a, T: Transport> {
    pub(super) applet: &'a mut Applet<T>,
}

/// Two reference-data blocks one after the other (§8.2), in a buffer of the right size from the
/// start: it is moved into the command (which wipes it when dropped) and never reallocated, so
/// no copy of a PIN is left behind in freed memory.
fn two_blocks(first: &Secret, second: &Secret) -> Vec<u8> {
    let (a, b) = (first.to_block(), second.to_block());
    let mut data = Vec::with_capacity(a.len() + b.len());
    data.extend_from_slice(&*a);
    data.extend_from_slice(&*b);
    data
}

impl<T: Transport> Applet<T> {
    /// The retry counters (GET DATA `DF04`).
    pub fn retry_counters(&mut self) -> Result<RetryCounters, AppletError> {
        match self.get_data(spec::data_object::RETRY_COUNTERS)?.as_slice() {
            [pin, puk, finger] => Ok(RetryCounters {
                pin: *pin,
                puk: *puk,
                finger: *finger,
            }),
            other => Err(AppletError::Malformed {
                what: "retry counters",
                detail: format!("{} bytes instead of 3", other.len()),
            }),
        }
    }

    /// Sends a PIN-checking command and turns 63Cx / 6983 into a [`PinError`].
    fn pin_command(
        &mut self,
        name: &'static str,
        kind: &'static str,
        apdu: &Command,
    ) -> Result<(), PinCheckError> {
        let response = self.channel().send(apdu).map_err(AppletError::from)?;
        match response.sw.check() {
            Ok(()) => Ok(()),
            Err(StatusError::VerificationFailed(0)) | Err(StatusError::AuthenticationBlocked) => {
                Err(PinError::Blocked(kind).into())
            }
            Err(StatusError::VerificationFailed(n)) => Err(PinError::Wrong {
                kind,
                tries_left: n,
            }
            .into()),
            Err(status) => Err(AppletError::Status {
                command: name,
                status,
            }
            .into()),
        }
    }

    /// VERIFY the PIN (§6.8). On success the card allows signing until it is reset.
    pub fn verify_pin(&mut self, pin: &Secret) -> Result<PinVerified<'_, T>, PinCheckError> {
        let apdu = Command::new(spec::cla::PLAIN, spec::ins::VERIFY, 0, spec::reference::PIN)
            .data(pin.to_block().to_vec())
            .sensitive();
        self.pin_command("VERIFY", "PIN", &apdu)?;
        Ok(PinVerified { applet: self })
    }

    /// CHANGE REFERENCE DATA (§6.9): old PIN and new PIN.
    pub fn change_pin(&mut self, old: &Secret, new: &Secret) -> Result<(), PinCheckError> {
        let data = two_blocks(old, new);
        let apdu = Command::new(
            spec::cla::PLAIN,
            spec::ins::CHANGE_REFERENCE_DATA,
            0,
            spec::reference::PIN,
        )
        .data(data)
        .sensitive();
        self.pin_command("CHANGE REFERENCE DATA", "PIN", &apdu)
    }

    /// RESET RETRY COUNTER (§6.10): the PUK unblocks the PIN and sets a new one.
    pub fn unblock_pin(&mut self, puk: &Secret, new_pin: &Secret) -> Result<(), PinCheckError> {
        let data = two_blocks(puk, new_pin);
        let apdu = Command::new(
            spec::cla::PLAIN,
            spec::ins::RESET_RETRY_COUNTER,
            0,
            spec::reference::PIN,
        )
        .data(data)
        .sensitive();
        self.pin_command("RESET RETRY COUNTER", "PUK", &apdu)
    }

    /// RESET RETRY COUNTER (§6.10): the PUK gives the fingerprint back its tries after too
    /// many misses at a desk.
    pub fn unblock_finger(&mut self, puk: &Secret) -> Result<(), PinCheckError> {
        let apdu = Command::new(
            spec::cla::PLAIN,
            spec::ins::RESET_RETRY_COUNTER,
            spec::reference_data::P1_UNBLOCK_FINGER,
            spec::reference::FINGER,
        )
        .data(puk.to_block().to_vec())
        .sensitive();
        self.pin_command("RESET RETRY COUNTER", "PUK", &apdu)
    }
}

impl<T: Transport> PinVerified<'_, T> {
    /// PSO: COMPUTE DIGITAL SIGNATURE (§6.12): the card signs a SHA-256 digest with the signing
    /// key; returns the raw `r ‖ s` signature.
    pub fn sign_digest(&mut self, digest: &[u8; 32]) -> Result<[u8; 64], AppletError> {
        let apdu = Command::new(
            spec::cla::PLAIN,
            spec::ins::PERFORM_SECURITY_OPERATION,
            0x9E,
            0x9A,
        )
        .data(digest.to_vec())
        .expect(256);
        let answer = match self.applet.run("PSO: COMPUTE DIGITAL SIGNATURE", &apdu) {
            Err(AppletError::Status {
                status: StatusError::AuthenticationBlocked,
                ..
            }) => return Err(AppletError::SigningKeyBlocked),
            other => other?,
        };
        answer
            .as_slice()
            .try_into()
            .map_err(|_| AppletError::Malformed {
                what: "signature",
                detail: format!("{} bytes instead of 64", answer.len()),
            })
    }

    /// INTERNAL AUTHENTICATE with the authentication key `03` (applets-spec §12.3): the card
    /// signs the leftmost 32 bytes of `digest` (32, 48 or 64 bytes) as the hash value; returns
    /// the raw `r ‖ s` signature. A version 1.0 card, without the key, answers `6A88`.
    pub fn authenticate(&mut self, digest: &[u8]) -> Result<[u8; 64], AppletError> {
        let apdu = Command::new(
            spec::cla::PLAIN,
            spec::ins::INTERNAL_AUTHENTICATE,
            0x00,
            spec::reference::AUTHENTICATION_KEY,
        )
        .data(digest.to_vec())
        .expect(256);
        let answer = self.applet.run("INTERNAL AUTHENTICATE (login)", &apdu)?;
        answer
            .as_slice()
            .try_into()
            .map_err(|_| AppletError::Malformed {
                what: "authentication signature",
                detail: format!("{} bytes instead of 64", answer.len()),
            })
    }

    /// The card, for reading files while the PIN stays verified.
    pub fn applet(&mut self) -> &mut Applet<T> {
        self.applet
    }
}

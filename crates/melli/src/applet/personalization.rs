//! Personalization commands, sent only inside the secure channel (applets-spec §6, §10). The
//! type [`Personalization`] exists only after mutual authentication succeeded, so a
//! personalization command outside the channel cannot be written.

use zeroize::Zeroizing;

use super::{Applet, AppletError};
use crate::apdu::{Command, StatusError};
use crate::model::Secret;
use crate::sm::{Authentication, SecureChannel, StaticKeys};
use crate::spec::{self, secure_channel::NONCE_LEN};
use crate::transport::Transport;

/// A P-256 public key as the card returns it: the uncompressed point `04 || X || Y`.
pub type PublicPoint = [u8; 65];

/// The most plaintext bytes one protected READ BINARY asks for: its protected answer (the
/// padded cryptogram in `87`, then `99` and `8E`) stays within one extended response.
const PROTECTED_READ_CHUNK: usize = 32 * 1024;

/// An open personalization session on a card.
pub struct Personalization<'a, T: Transport> {
    applet: &'a mut Applet<T>,
    channel: SecureChannel,
}

impl<T: Transport> Applet<T> {
    /// GET CHALLENGE, then MUTUAL AUTHENTICATE with the card's diversified static keys
    /// (§10.2): both sides prove they hold the keys, and fresh session keys come out.
    pub fn open_secure_channel(
        &mut self,
        keys: &StaticKeys,
    ) -> Result<Personalization<'_, T>, AppletError> {
        let challenge = self.challenge(NONCE_LEN)?;
        let mut rnd_icc = [0u8; NONCE_LEN];
        rnd_icc.copy_from_slice(&challenge);
        let auth = Authentication::new(&rnd_icc);
        let apdu = Command::new(spec::cla::PLAIN, spec::ins::MUTUAL_AUTHENTICATE, 0, 0)
            .data(auth.command_data(keys).to_vec())
            .expect(256)
            .sensitive();
        let answer = self
            .run("MUTUAL AUTHENTICATE", &apdu)
            .map_err(|e| match e {
                AppletError::Status {
                    status: StatusError::SecurityStatusNotSatisfied,
                    ..
                } => AppletError::KeysRefused,
                other => other,
            })?;
        let channel = auth
            .finish(keys, &answer)
            .map_err(AppletError::SecureMessaging)?;
        Ok(Personalization {
            applet: self,
            channel,
        })
    }
}

impl<T: Transport> Personalization<'_, T> {
    /// Wraps, sends and unwraps one command; its data when the inner status is `9000`.
    fn run(
        &mut self,
        command: &'static str,
        apdu: &Command,
    ) -> Result<Zeroizing<Vec<u8>>, AppletError> {
        let wrapped = self.channel.wrap(apdu);
        let response = self.applet.channel().send(&wrapped)?;
        let inner = self
            .channel
            .unwrap(&response)
            .map_err(AppletError::SecureMessaging)?;
        inner
            .into_data()
            .map_err(|status| AppletError::Status { command, status })
    }

    /// Writes a whole elementary file: UPDATE BINARY at offset 0 addressed by its short
    /// identifier, then ERASE BINARY from the end of the new content, so that a rewrite after an
    /// interrupted personalization leaves no old tail (§6.3, §6.4).
    pub fn write_file(&mut self, fid: u16, content: &[u8]) -> Result<(), AppletError> {
        let sfi = (fid & 0x1F) as u8;
        let update = Command::new(spec::cla::PLAIN, spec::ins::UPDATE_BINARY, 0x80 | sfi, 0)
            .data(content.to_vec());
        self.run("UPDATE BINARY", &update)?;
        let [p1, p2] = u16::try_from(content.len())
            .map_err(|_| AppletError::Status {
                command: "UPDATE BINARY",
                status: crate::apdu::StatusError::NotEnoughMemory,
            })?
            .to_be_bytes();
        let erase = Command::new(spec::cla::PLAIN, spec::ins::ERASE_BINARY, p1, p2);
        self.run("ERASE BINARY", &erase)?;
        Ok(())
    }

    /// GENERATE ASYMMETRIC KEY PAIR (§6.11) for a key reference; returns the public point.
    pub fn generate_key(&mut self, key: u8) -> Result<PublicPoint, AppletError> {
        let apdu = Command::new(
            spec::cla::PLAIN,
            spec::ins::GENERATE_ASYMMETRIC_KEY_PAIR,
            0x80,
            key,
        )
        .expect(256);
        let answer = self.run("GENERATE ASYMMETRIC KEY PAIR", &apdu)?;
        super::public_key::parse_public_key(&answer)
    }

    /// CHANGE REFERENCE DATA with P1 = 01 (§6.9): sets the PIN or the PUK.
    pub fn set_secret(&mut self, secret: &Secret) -> Result<(), AppletError> {
        let reference = match secret.kind() {
            crate::model::SecretKind::Pin => spec::reference::PIN,
            crate::model::SecretKind::Puk => spec::reference::PUK,
        };
        let apdu = Command::new(
            spec::cla::PLAIN,
            spec::ins::CHANGE_REFERENCE_DATA,
            0x01,
            reference,
        )
        .data(secret.to_block().to_vec())
        .sensitive();
        self.run("CHANGE REFERENCE DATA", &apdu)?;
        Ok(())
    }

    /// ACTIVATE FILE (§6.15): the card checks it holds everything and locks itself for good.
    pub fn activate(mut self) -> Result<(), AppletError> {
        let apdu = Command::new(spec::cla::PLAIN, spec::ins::ACTIVATE_FILE, 0, 0);
        self.run("ACTIVATE FILE", &apdu)?;
        Ok(())
    }

    /// Reads a whole file under secure messaging (SELECT and READ BINARY protected, §7.3): what
    /// comes back is what the card holds, as no one on the line can change a protected answer.
    pub fn read_file(&mut self, fid: u16) -> Result<Zeroizing<Vec<u8>>, AppletError> {
        super::read_file_with(
            &mut |command, apdu| self.run(command, apdu),
            fid,
            PROTECTED_READ_CHUNK,
        )
    }

    /// INTERNAL AUTHENTICATE with the chip-authentication key (§6.13) under secure messaging,
    /// allowed while PERSONALIZING once key `02` exists (§7.3): the raw `r ‖ s` signature of
    /// SHA-256("MELLI-CA-V1" ‖ serial ‖ challenge).
    pub fn internal_authenticate(&mut self, challenge: &[u8]) -> Result<Vec<u8>, AppletError> {
        let apdu = super::desk::internal_authenticate_apdu(challenge);
        Ok(self.run("INTERNAL AUTHENTICATE", &apdu)?.to_vec())
    }
}

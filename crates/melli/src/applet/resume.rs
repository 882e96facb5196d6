//! Carrying a card session over from one PC/SC transaction to the next, for a host that keeps
//! its connection to the card open between operations (the PKCS#11 module, `melli-pkcs11`).
//!
//! A SELECT of the AID starts a fresh card session and clears the verified PIN (§2.2, §8.4),
//! so a host that selected the application once, verified the PIN and let go of the card
//! between operations must not select again before it signs. These calls send nothing: they
//! only rebuild the host-side handles. The card stays the judge — a PSO without a verified PIN
//! in its session answers `6982` whatever the host believes.

use super::{Applet, PinVerified};
use crate::spec;
use crate::transport::{Capabilities, CardChannel, Transport};

/// Proof that [`Applet::verify_pin`] succeeded: made only from a [`PinVerified`], it lets the
/// same card session be signed in again after the transport was set down and picked up
/// ([`Applet::resume_verified`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinSession(());

impl<T: Transport> PinVerified<'_, T> {
    /// The proof that the PIN was verified in this card session.
    pub fn session(&self) -> PinSession {
        PinSession(())
    }
}

impl<T: Transport> Applet<T> {
    /// The melli application of a card on which an earlier [`Applet::select`] selected it in
    /// the card session that is still running (the same connection, not reset since). Sends
    /// nothing, so the session — a verified PIN — goes on.
    pub fn resume(transport: T) -> Self {
        let mut channel = CardChannel::new(transport);
        channel.set_capabilities(Capabilities {
            extended: true,
            chaining: true,
            max_command_data: spec::MAX_COMMAND_DATA,
        });
        Applet {
            channel,
            selected: None,
        }
    }

    /// Signing again in a card session in which the PIN was verified ([`PinSession`]). The
    /// caller answers for the session still being the one the proof came from; if it is not,
    /// the card refuses to sign (`6982`).
    pub fn resume_verified(&mut self, _proof: PinSession) -> PinVerified<'_, T> {
        PinVerified { applet: self }
    }
}

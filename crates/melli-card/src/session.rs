//! Session state (spec §2.2, §8.4): what the card forgets at power-off, at reset and when the
//! application is selected again.

use zeroize::Zeroizing;

use super::chain::Chain;
use super::fault::Fault;
use super::secure_messaging::Channel;
use crate::spec::secure_channel::NONCE_LEN;

/// The volatile state of one card session. A fresh (default) session has nothing selected.
#[derive(Default)]
pub(super) struct Session {
    pub app: AppSession,
    /// Response data waiting for GET RESPONSE (§4.4). Any APDU whose INS is not GET RESPONSE
    /// discards them on receipt.
    pub pending_response: Option<Vec<u8>>,
    /// The data of an unfinished command chain (§4.3).
    pub chain: Option<Chain>,
    /// The last 16-byte GET CHALLENGE answer, for MUTUAL AUTHENTICATE only (§6.7, §10). Any APDU
    /// whose INS is not MUTUAL AUTHENTICATE clears it on receipt.
    pub challenge: Option<Zeroizing<[u8; NONCE_LEN]>>,
    /// The open secure channel, if any (§10): opened by MUTUAL AUTHENTICATE, closed by the
    /// next MUTUAL AUTHENTICATE, ACTIVATE FILE, any plain error answered to a protected APDU
    /// (§10.6), SELECT of the AID, reset and power-off.
    pub channel: Option<Channel>,
    /// The fault the card commits on purpose, for tests: a property of the card, copied into
    /// the session before each command (so that no reset forgets it).
    pub fault: Option<Fault>,
}

/// The part of the session that commands build up: what a command that fails to save the
/// persistent state must put back as it was (§4.5 `6581`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct AppSession {
    /// The application has been selected by its AID (§2.2).
    pub selected: bool,
    /// The current elementary file, set by SELECT and by SFI or FID addressing (§6.1, §6.2).
    pub current_ef: Option<u16>,
    /// The PIN was verified in this card session (§8.4): the condition of PSO (§6.12).
    pub pin_verified: bool,
    /// The finger was matched in this card session (§8.4, §11.5); grants nothing in v1.
    pub finger_verified: bool,
}

impl Session {
    /// Selecting the application's AID starts a fresh card session (§2.2): the current EF,
    /// verification flags, the secure channel (its keys wiped), pending data, chain and
    /// challenge are gone.
    pub fn start_application(&mut self) {
        *self = Session {
            app: AppSession {
                selected: true,
                ..AppSession::default()
            },
            ..Session::default()
        };
    }
}

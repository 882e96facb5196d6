//! Session state: what the card forgets at power-off, at reset and when the application is
//! selected again (spec §2, §8).

use zeroize::Zeroizing;

use super::chain::Chain;
use crate::spec::secure_channel::NONCE_LEN;

/// The volatile state of one card session. A fresh (default) session has nothing selected.
#[derive(Clone, Default)]
pub(super) struct Session {
    /// The application has been selected by its AID (§2).
    pub selected: bool,
    /// The current elementary file, set by SELECT and by SFI or FID addressing (§6.1, §6.2).
    pub current_ef: Option<u16>,
    /// Response data waiting for GET RESPONSE (§4.4). Offered to the next command only.
    pub pending_response: Option<Vec<u8>>,
    /// The data of an unfinished command chain (§4.3).
    pub chain: Option<Chain>,
    /// The last 16-byte GET CHALLENGE answer, kept for MUTUAL AUTHENTICATE only (§6.7, §10).
    pub challenge: Option<Zeroizing<[u8; NONCE_LEN]>>,
}

impl Session {
    /// Selecting the application's AID starts a fresh application session (§6.1): the current
    /// EF, verification flags and the secure channel are gone.
    pub fn start_application(&mut self) {
        *self = Session {
            selected: true,
            ..Session::default()
        };
    }
}

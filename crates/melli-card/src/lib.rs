//! The card side: a virtual melli card that implements `applets-spec/`.
//!
//! [`Card`] is the card itself — bytes in, bytes out, no I/O except saving its state file —
//! and [`vpcd`] attaches it to vsmartcard's vpcd driver so that PC/SC applications see it in a
//! reader. The card shares nothing with the host side but [`crate::spec`]'s constants: it has
//! its own APDU decoder, TLV encoder and status words, so that a bug on one side cannot hide
//! behind the same bug on the other.
//!
//! Module map (private modules in `code` style):
//! - `command` decodes command APDUs, `response` builds responses and status words;
//! - `dispatch` checks each command in the specification's order (§4.6) and runs it, with
//!   `chain` for command chaining and one module in `commands` per command family;
//! - `secure_messaging` is the secure channel of §10 (session keys, SSC, unwrapping commands
//!   and protecting responses), on the primitives of `crypto`;
//! - `verification` is the tearing-safe try-counter sequence of §8.3 (PIN, PUK, finger);
//! - `session` is what a reset forgets, `state` what the card keeps, `files` its elementary
//!   files, `keys` its static keys, `key_pairs` its P-256 key pairs (generation, public key
//!   encodings, ECDSA); `biometric` reads ISO/IEC 19794-2 records and matches them (§11);
//! - `state_file` is the JSON format of the state, `storage` its atomic saving;
//! - `tlv` is the card's BER-TLV encoding; [`vpcd`] the link to the reader driver, and
//!   [`timing`] how long a real chip would take to answer (`--timing`).
//!
//! Nothing in here may panic on what arrives from outside (APDUs, state files, the network):
//! the lints below forbid the constructs that could.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation,
    )
)]
// Tests may unwrap: a panic there is a failed test, and the lints above still hold the
// non-test build of the same code.
#![cfg_attr(test, allow(clippy::unwrap_used))]
#![forbid(unsafe_code)]

/// The specification's constants, shared with the host side and nothing else.
pub use melli_spec as spec;

use std::fmt;
use std::path::Path;

mod biometric;
mod chain;
mod command;
mod commands;
mod crypto;
mod device_secret;
mod dispatch;
mod error;
mod fault;
pub mod feeder;
mod files;
mod key_pairs;
mod keys;
mod response;
mod secure_messaging;
mod session;
mod state;
mod state_file;
mod storage;
pub mod timing;
mod tlv;
mod verification;
pub mod vpcd;

#[cfg(test)]
mod tests;

pub use error::CardError;
pub use fault::{Fault, UnknownFault};

use device_secret::DeviceSecret;
use keys::StaticKeys;
use session::Session;
use state::{CardState, Serial};
use storage::{Backing, Mode};

/// A virtual melli card: its persistent state, its session, and where the state is kept.
pub struct Card {
    state: CardState,
    session: Session,
    backing: Backing,
    /// A fault the card commits on purpose, for tests ([`Card::set_fault`]); `None` normally.
    fault: Option<Fault>,
    /// What the chip did for the last command APDU ([`Card::last_work`]).
    last_work: timing::Work,
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Card")
            .field("serial", &self.state.serial.as_str())
            .field("lifecycle", &self.state.lifecycle)
            .field("backing", &self.backing)
            .finish_non_exhaustive()
    }
}

/// A new card's two static personalization keys, K_enc and K_mac (§10.1), as a card factory
/// writes them: the card keeps these and never the master key they come from.
#[derive(Clone)]
pub struct CardKeys {
    /// K_enc.
    pub enc: zeroize::Zeroizing<[u8; 16]>,
    /// K_mac.
    pub mac: zeroize::Zeroizing<[u8; 16]>,
}

impl fmt::Debug for CardKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CardKeys(REDACTED)")
    }
}

impl Card {
    /// Manufactures a blank card in memory (§7 BLANK): validates the serial (1–16 characters
    /// `[0-9A-Z]`) and derives the static keys K_enc and K_mac from the issuer's master key
    /// (§8), and draws the card's own random device secret (§8.7). The master key itself is
    /// not kept.
    pub fn manufacture(serial: &str, master_key: &[u8; 16]) -> Result<Card, CardError> {
        let serial = Serial::parse(serial).ok_or_else(|| CardError::InvalidSerial {
            serial: serial.to_owned(),
        })?;
        let StaticKeys { enc, mac } = StaticKeys::derive(master_key, &serial);
        Card::manufacture_with_keys(serial.as_str(), &CardKeys { enc, mac })
    }

    /// Manufactures a blank card in memory with static keys diversified elsewhere — by an
    /// issuer whose master key is in an HSM and never leaves it (§8.5, §10.1).
    pub fn manufacture_with_keys(serial: &str, keys: &CardKeys) -> Result<Card, CardError> {
        let serial = Serial::parse(serial).ok_or_else(|| CardError::InvalidSerial {
            serial: serial.to_owned(),
        })?;
        let static_keys = StaticKeys {
            enc: keys.enc.clone(),
            mac: keys.mac.clone(),
        };
        let device_secret = DeviceSecret::generate().map_err(|_| CardError::NoRandomness)?;
        Ok(Card {
            state: CardState::blank(serial, static_keys, device_secret),
            session: Session::default(),
            backing: Backing::Memory,
            fault: None,
            last_work: timing::Work::default(),
        })
    }

    /// [`Card::manufacture_with_keys`] with its state in a new file at `path` (mode 0600).
    pub fn create_file_with_keys(
        path: &Path,
        serial: &str,
        keys: &CardKeys,
    ) -> Result<Card, CardError> {
        let mut card = Card::manufacture_with_keys(serial, keys)?;
        storage::write(path, &card.state, Mode::Create)?;
        card.backing = Backing::file(path);
        Ok(card)
    }

    /// Manufactures a blank card whose state lives in the file at `path`, created with mode
    /// 0600. Refuses to overwrite an existing file ([`CardError::StateExists`]).
    pub fn create_file(
        path: &Path,
        serial: &str,
        master_key: &[u8; 16],
    ) -> Result<Card, CardError> {
        let mut card = Card::manufacture(serial, master_key)?;
        storage::write(path, &card.state, Mode::Create)?;
        card.backing = Backing::file(path);
        Ok(card)
    }

    /// Loads the card whose state is in the file at `path`; every change is saved back to it.
    /// Refused: a file whose mode is not 0600, of another format version, changed outside the
    /// card (its MAC wrong), or with a faulty field (named).
    pub fn open_file(path: &Path) -> Result<Card, CardError> {
        Ok(Card {
            state: storage::read(path)?,
            session: Session::default(),
            backing: Backing::file(path),
            fault: None,
            last_work: timing::Work::default(),
        })
    }

    /// Tests only: from now on the card commits `fault` (see [`Fault`]). Not saved in the
    /// state file.
    pub fn set_fault(&mut self, fault: Fault) {
        self.fault = Some(fault);
    }

    /// The card serial (GET DATA `DF01`).
    pub fn serial(&self) -> &str {
        self.state.serial.as_str()
    }

    /// The lifecycle state byte (GET DATA `DF02`, §7).
    pub fn lifecycle(&self) -> u8 {
        self.state.lifecycle.byte()
    }

    /// The answer to reset (§3).
    pub fn atr(&self) -> &'static [u8] {
        &crate::spec::ATR
    }

    /// Power-on: a new session with nothing selected (§2).
    pub fn power_on(&mut self) {
        self.session = Session::default();
    }

    /// Power-off: the session is gone; the persistent state stays.
    pub fn power_off(&mut self) {
        self.session = Session::default();
    }

    /// Warm reset: a new session with nothing selected; the persistent state stays (§7).
    pub fn reset(&mut self) {
        self.session = Session::default();
    }

    /// One command APDU in, the response APDU (data, SW1, SW2) out. Never panics. A change to
    /// the persistent state is saved before the response is returned; if saving fails, the
    /// card answers 6581 and stays as it was before the command.
    pub fn process(&mut self, command: &[u8]) -> Vec<u8> {
        self.session.fault = self.fault;
        let _ = timing::take();
        let response = dispatch::process(
            &mut self.state,
            &mut self.session,
            &mut self.backing,
            command,
        )
        .into_bytes();
        self.last_work = timing::take();
        response
    }

    /// The operations a real chip would have spent time on for the last command APDU given to
    /// [`Card::process`] (key generations, signatures, AES blocks, …): what
    /// [`timing::Profile::delay`] charges beside the link.
    pub fn last_work(&self) -> timing::Work {
        self.last_work
    }

    /// Why the last save of the state file failed, if one did (for the operator's log).
    fn take_storage_failure(&mut self) -> Option<CardError> {
        self.backing.take_failure()
    }
}

/// What the fuzz targets (`fuzz/`) compare before and after untrusted input: the lifecycle
/// byte, every file's content, the static keys and the private scalars. Only with the
/// `fuzzing` feature; not part of the card's interface.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[derive(Clone, PartialEq, Eq)]
pub struct FuzzingSnapshot {
    pub lifecycle: u8,
    pub files: Vec<(u16, Vec<u8>)>,
    pub static_enc: zeroize::Zeroizing<[u8; 16]>,
    pub static_mac: zeroize::Zeroizing<[u8; 16]>,
    pub signing_key: Option<zeroize::Zeroizing<Vec<u8>>>,
    pub chip_auth_key: Option<zeroize::Zeroizing<Vec<u8>>>,
    pub auth_key: Option<zeroize::Zeroizing<Vec<u8>>>,
}

#[cfg(feature = "fuzzing")]
impl fmt::Debug for FuzzingSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FuzzingSnapshot")
            .field("lifecycle", &self.lifecycle)
            .field("files", &self.files.len())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "fuzzing")]
impl Card {
    /// A card in memory with this card's persistent state and a fresh session (fuzz targets
    /// start every input from one personalized card without personalizing it again).
    #[doc(hidden)]
    pub fn fuzzing_clone(&self) -> Card {
        Card {
            state: self.state.clone(),
            session: Session::default(),
            backing: Backing::Memory,
            fault: self.fault,
            last_work: timing::Work::default(),
        }
    }

    /// The persistent state the fuzz targets' invariants look at.
    #[doc(hidden)]
    pub fn fuzzing_snapshot(&self) -> FuzzingSnapshot {
        let scalar = |key: &Option<p256::SecretKey>| {
            key.as_ref()
                .map(|key| zeroize::Zeroizing::new(key.to_bytes().to_vec()))
        };
        FuzzingSnapshot {
            lifecycle: self.state.lifecycle.byte(),
            files: self
                .state
                .files
                .iter()
                .map(|(file, content)| (file.fid, content.to_vec()))
                .collect(),
            static_enc: self.state.static_keys.enc.clone(),
            static_mac: self.state.static_keys.mac.clone(),
            signing_key: scalar(&self.state.signing_key),
            chip_auth_key: scalar(&self.state.chip_auth_key),
            auth_key: scalar(&self.state.auth_key),
        }
    }
}

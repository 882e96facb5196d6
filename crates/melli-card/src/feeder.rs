//! A virtual card feeder: the hopper of an issuance machine in front of one vpcd reader. It
//! holds a stack of blank cards (one state file each, made as needed), puts one in the reader,
//! and when that card is issued and the host lets go of it, takes it out to the output tray
//! and puts the next one in. A batch run on several readers gets one feeder per reader.
//!
//! Each card is served with [`vpcd::serve_with`] and [`Options::eject_issued`]; a half-made
//! card stays in the reader (the host resumes it), and so does a card the host never lets go
//! of. Killing the feeder loses nothing: every card's state is in its own file, and a feeder
//! started again on the same folder skips the cards already issued and goes on with the first
//! one that is not.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use super::vpcd::{self, Options, Served};
use super::{Card, CardError, CardKeys};
use crate::spec::lifecycle;

/// The stack of cards a feeder works through.
#[derive(Clone, Debug)]
pub struct Stack {
    /// Folder of the state files, `SERIAL.json`.
    pub dir: PathBuf,
    /// Serials are this prefix and a 4-digit number from 0001.
    pub serial_prefix: String,
    /// How many cards.
    pub count: u32,
    /// Where each new card's static keys come from.
    pub keys: KeySource,
}

/// Gives the static keys of the card with a serial: from a master key here, or from a
/// function (an issuer's HSM diversifies them; its master key never comes out).
#[derive(Clone)]
pub enum KeySource {
    /// The master key itself (a card factory's test key).
    Master(Zeroizing<[u8; 16]>),
    /// Keys diversified elsewhere for each serial; an error is one line.
    Derive(DeriveKeys),
}

/// Gives the static keys of the card with a serial; an error is one line.
pub type DeriveKeys = Arc<dyn Fn(&str) -> Result<CardKeys, String> + Send + Sync>;

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Master(_) => f.write_str("KeySource::Master(REDACTED)"),
            KeySource::Derive(_) => f.write_str("KeySource::Derive"),
        }
    }
}

impl Stack {
    /// The serial of card `n` (from 1).
    pub fn serial(&self, n: u32) -> String {
        format!("{}{n:04}", self.serial_prefix)
    }

    /// The state file of the card with `serial`.
    pub fn state_path(&self, serial: &str) -> PathBuf {
        self.dir.join(format!("{serial}.json"))
    }

    /// The state file of card `n`, made blank (its keys from [`Stack::keys`]) if it does not
    /// exist yet: what a feeder of another implementation of the card (the Java Card applet's
    /// launcher, which takes blank state files) is given.
    pub fn blank_file(&self, n: u32) -> Result<PathBuf, CardError> {
        std::fs::create_dir_all(&self.dir).map_err(|error| CardError::StateIo {
            path: self.dir.clone(),
            action: "create the folder of",
            error,
        })?;
        let card = self.card(n)?;
        Ok(self.state_path(card.serial()))
    }

    /// Opens card `n`, made blank if its state file does not exist yet.
    fn card(&self, n: u32) -> Result<Card, CardError> {
        let serial = self.serial(n);
        let path = self.state_path(&serial);
        if path.exists() {
            Card::open_file(&path)
        } else {
            match &self.keys {
                KeySource::Master(master) => Card::create_file(&path, &serial, master),
                KeySource::Derive(derive) => {
                    let keys = derive(&serial).map_err(|reason| CardError::CardKeys {
                        serial: serial.clone(),
                        reason,
                    })?;
                    Card::create_file_with_keys(&path, &serial, &keys)
                }
            }
        }
    }
}

/// How many cards went through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fed {
    /// Cards issued and taken out in this run.
    pub issued: u32,
    /// Cards found issued already (from an earlier run) and left in the tray.
    pub skipped: u32,
}

/// Feeds the cards of `stack` one after another to the vpcd reader at `addr`, until the stack
/// is empty or `stop` is set. `gap` is how long the reader stays empty between two cards:
/// pcscd polls a vpcd reader every 400 ms, so a gap shorter than that may hide the change from
/// it. `options.tear_at` applies to the first card served only.
pub fn feed(
    stack: &Stack,
    addr: &str,
    stop: &AtomicBool,
    gap: Duration,
    options: Options,
    mut log: impl FnMut(&str),
) -> Result<Fed, CardError> {
    std::fs::create_dir_all(&stack.dir).map_err(|error| CardError::StateIo {
        path: stack.dir.clone(),
        action: "create the folder of",
        error,
    })?;
    let mut options = Options {
        eject_issued: true,
        ..options
    };
    let mut fed = Fed::default();
    for n in 1..=stack.count {
        let mut card = stack.card(n)?;
        if card.lifecycle() >= lifecycle::OPERATIONAL {
            fed.skipped = fed.skipped.saturating_add(1);
            continue;
        }
        let serial = card.serial().to_owned();
        log(&format!(
            "card {serial} ({n} of {}) into the reader",
            stack.count
        ));
        let mut card_log = |line: &str| log(&format!("card {serial}: {line}"));
        let served = vpcd::serve_with(&mut card, addr, stop, &mut card_log, options)?;
        // A fault to inject is for the first card served only.
        options.tear_at = None;
        match served {
            Served::Stopped => return Ok(fed),
            Served::Ejected => fed.issued = fed.issued.saturating_add(1),
        }
        if n < stack.count {
            std::thread::sleep(gap);
        }
    }
    log(&format!(
        "stack empty: {} issued, {} issued before",
        fed.issued, fed.skipped
    ));
    Ok(fed)
}

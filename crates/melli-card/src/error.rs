//! Errors of the virtual card's life outside the APDU exchange: manufacture, the state file and
//! the vpcd link. (Errors inside the APDU exchange are status words, never `CardError`.)

use std::io;
use std::path::PathBuf;

/// What went wrong, in one line that names the problem and what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    /// The serial given at manufacture is not 1–16 characters from `0-9` and `A-Z`.
    #[error("card serial {serial:?} is invalid: use 1 to 16 characters from 0-9 and A-Z")]
    InvalidSerial { serial: String },

    /// The static keys of a new card could not be had (an issuer's HSM refused).
    #[error("the personalization keys of card {serial}: {reason}")]
    CardKeys { serial: String, reason: String },

    /// `create_file` was asked to manufacture a card over an existing state file.
    #[error(
        "state file {} already exists: choose another path, or delete the old card first",
        path.display()
    )]
    StateExists { path: PathBuf },

    /// Reading or writing the state file failed.
    #[error(
        "cannot {action} state file {}: {error}: check the path, its directory and permissions",
        path.display()
    )]
    StateIo {
        path: PathBuf,
        action: &'static str,
        error: io::Error,
    },

    /// The state file is not JSON of the card state's shape (a missing or unknown field, a
    /// wrong type, truncated text).
    #[error(
        "state file {} is not a valid card state ({error}): restore it from a backup or create a new card",
        path.display()
    )]
    StateSyntax {
        path: PathBuf,
        error: serde_json::Error,
    },

    /// A field of the state file holds a value the card cannot accept.
    #[error(
        "state file {}: field `{field}` {problem}: restore it from a backup or create a new card",
        path.display()
    )]
    StateInvalid {
        path: PathBuf,
        field: String,
        problem: String,
    },

    /// The state file's MAC is missing or wrong: it was changed by something other than the
    /// card (§8.7).
    #[error(
        "card state {}: integrity check failed (the file was changed outside the card); make a new card with `melli card new`",
        path.display()
    )]
    StateTampered { path: PathBuf },

    /// The state file is of another format version than this melli reads.
    #[error(
        "card state {}: written in state format version {found} by {}; this melli reads versions {oldest} to {expected} only: {}",
        path.display(),
        if found < expected { "an older melli" } else { "a newer melli" },
        if found < expected { "make a new card with `melli card new`" } else { "serve it with the melli that made it" }
    )]
    StateVersion {
        path: PathBuf,
        found: u64,
        oldest: u64,
        expected: u64,
    },

    /// The state file may be read or changed by others than its owner.
    #[error(
        "card state {}: mode {mode:04o}, but a card state holds the card's keys and must be mode 0600: run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    StatePermissions { path: PathBuf, mode: u32 },

    /// The operating system's secure random generator failed at manufacture.
    #[error("the operating system's random generator failed: check /dev/urandom and try again")]
    NoRandomness,

    /// The vpcd address cannot be resolved.
    #[error(
        "vpcd address {addr:?} is not usable ({reason}): give HOST:PORT, e.g. 127.0.0.1:35963"
    )]
    VpcdAddress { addr: String, reason: String },
}

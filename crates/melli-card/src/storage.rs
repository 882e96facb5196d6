//! Where the persistent state lives: in memory only, or in a state file that is replaced
//! atomically on every change (write a temporary file in the same directory, fsync it, rename
//! it over the old one, fsync the directory), so that a crash leaves the old state or the new
//! one, never half of each. The file is created with mode 0600: it holds the card's keys.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use zeroize::Zeroizing;

use super::error::CardError;
use super::state::CardState;
use super::state_file::{self, DecodeError, FORMAT_VERSION, OLDEST_FORMAT_VERSION};

/// Saves the persistent state after a command changed it.
pub(super) trait Persist {
    fn save(&mut self, state: &CardState) -> Result<(), SaveFailed>;
}

/// A save failed; the card answers 6581 (memory failure). The cause is kept by the backing.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct SaveFailed;

/// The persistence of one card.
#[derive(Debug)]
pub(super) enum Backing {
    /// Nothing outlives the process (a card made with `Card::manufacture`).
    Memory,
    /// A state file, rewritten on every change.
    File {
        path: PathBuf,
        /// Why the last save failed, kept for the operator's log.
        failure: Option<CardError>,
    },
}

impl Backing {
    pub fn file(path: &Path) -> Backing {
        Backing::File {
            path: path.to_owned(),
            failure: None,
        }
    }

    /// Why the last save failed, if one did; forgotten once taken.
    pub fn take_failure(&mut self) -> Option<CardError> {
        match self {
            Backing::Memory => None,
            Backing::File { failure, .. } => failure.take(),
        }
    }
}

impl Persist for Backing {
    fn save(&mut self, state: &CardState) -> Result<(), SaveFailed> {
        match self {
            Backing::Memory => Ok(()),
            Backing::File { path, failure } => write(path, state, Mode::Replace).map_err(|error| {
                *failure = Some(error);
                SaveFailed
            }),
        }
    }
}

/// Whether a write may replace an existing state file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// Manufacture: fail with [`CardError::StateExists`] if the file exists.
    Create,
    /// A state change: replace the file.
    Replace,
}

/// Writes `state` to `path` atomically.
pub(super) fn write(path: &Path, state: &CardState, mode: Mode) -> Result<(), CardError> {
    let io_error = |error| CardError::StateIo {
        path: path.to_owned(),
        action: "write",
        error,
    };
    let bytes = state_file::encode(state).map_err(|e| io_error(io::Error::other(e)))?;
    write_bytes(path, &bytes, mode).map_err(|error| {
        if mode == Mode::Create && error.kind() == io::ErrorKind::AlreadyExists {
            CardError::StateExists {
                path: path.to_owned(),
            }
        } else {
            io_error(error)
        }
    })
}

/// A state file is some tens of kilobytes; anything far larger is not one (and is not read
/// into memory whole).
const MAX_STATE_FILE: u64 = 1 << 20;

/// The only mode a state file may have: it holds the card's keys.
const STATE_FILE_MODE: u32 = 0o600;

/// Reads and validates the state file at `path`: mode 0600 (of the file opened, so that it
/// cannot be swapped between the check and the read), then its content (§8.7).
pub(super) fn read(path: &Path) -> Result<CardState, CardError> {
    let io_error = |error| CardError::StateIo {
        path: path.to_owned(),
        action: "read",
        error,
    };
    let file = File::open(path).map_err(io_error)?;
    let mode = file.metadata().map_err(io_error)?.permissions().mode() & 0o7777;
    if mode != STATE_FILE_MODE {
        return Err(CardError::StatePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_STATE_FILE.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_STATE_FILE {
        return Err(io_error(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {MAX_STATE_FILE} bytes, so not a card state"),
        )));
    }
    state_file::decode(&bytes).map_err(|error| match error {
        DecodeError::Syntax(error) => CardError::StateSyntax {
            path: path.to_owned(),
            error,
        },
        DecodeError::Version(found) => CardError::StateVersion {
            path: path.to_owned(),
            found,
            oldest: OLDEST_FORMAT_VERSION,
            expected: FORMAT_VERSION,
        },
        DecodeError::Integrity => CardError::StateTampered {
            path: path.to_owned(),
        },
        DecodeError::Field { field, problem } => CardError::StateInvalid {
            path: path.to_owned(),
            field,
            problem,
        },
    })
}

/// Distinguishes the temporary files of concurrent writes within one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn write_bytes(path: &Path, bytes: &[u8], mode: Mode) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let (temp_path, temp) = create_temp(directory, &name.to_string_lossy())?;
    let result = fill_and_place(temp, &temp_path, path, bytes, mode);
    if result.is_err() || mode == Mode::Create {
        // Gone already after a rename; after a hard link, the temporary name goes now.
        let _ = fs::remove_file(&temp_path);
    }
    result?;
    File::open(directory)?.sync_all()
}

fn create_temp(directory: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    loop {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp_path = directory.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp_path)
        {
            Ok(file) => return Ok((temp_path, file)),
            // A leftover of a crashed process that had our pid: take the next name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

fn fill_and_place(
    mut temp: File,
    temp_path: &Path,
    path: &Path,
    bytes: &[u8],
    mode: Mode,
) -> io::Result<()> {
    temp.write_all(bytes)?;
    temp.sync_all()?;
    drop(temp);
    match mode {
        Mode::Replace => fs::rename(temp_path, path),
        // A hard link never replaces an existing file: creation without overwrite, atomic.
        Mode::Create => fs::hard_link(temp_path, path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device_secret::DeviceSecret;
    use crate::keys::StaticKeys;
    use crate::state::{Lifecycle, Serial};

    fn state() -> CardState {
        let serial = Serial::parse("S1").unwrap();
        let keys = StaticKeys::derive(&[1; 16], &serial);
        CardState::blank(serial, keys, DeviceSecret::generate().unwrap())
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn create_replace_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        write(&path, &state(), Mode::Create).unwrap();
        assert_eq!(entries(dir.path()), vec!["card.json"]);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let mut changed = state();
        changed.lifecycle = Lifecycle::Personalizing;
        write(&path, &changed, Mode::Replace).unwrap();
        assert_eq!(entries(dir.path()), vec!["card.json"], "temp file left");
        assert_eq!(read(&path).unwrap().lifecycle, Lifecycle::Personalizing);
    }

    #[test]
    fn create_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        fs::write(&path, b"precious").unwrap();
        let error = write(&path, &state(), Mode::Create).unwrap_err();
        assert!(matches!(error, CardError::StateExists { .. }), "{error}");
        assert_eq!(fs::read(&path).unwrap(), b"precious");
        assert_eq!(entries(dir.path()), vec!["card.json"]);
    }

    #[test]
    fn failed_save_is_reported_and_kept_for_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone").join("card.json");
        let mut backing = Backing::file(&path);
        assert_eq!(backing.save(&state()), Err(SaveFailed));
        let error = backing.take_failure().unwrap();
        assert!(matches!(error, CardError::StateIo { .. }), "{error}");
        assert!(backing.take_failure().is_none());
    }

    #[test]
    fn read_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.json");
        let error = read(&path).unwrap_err();
        assert!(error.to_string().contains("missing.json"), "{error}");

        fs::write(&path, vec![b' '; (MAX_STATE_FILE + 1) as usize]).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let error = read(&path).unwrap_err();
        assert!(error.to_string().contains("larger than"), "{error}");

        fs::write(&path, b"{ not json").unwrap();
        let error = read(&path).unwrap_err();
        assert!(matches!(error, CardError::StateSyntax { .. }), "{error}");
    }

    /// Issue 11 finding 8: a state file that others than its owner may read or change is
    /// refused at open, with the command that fixes it; after it, the card opens.
    #[test]
    fn any_mode_but_0600_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        write(&path, &state(), Mode::Create).unwrap();
        for mode in [0o644, 0o640, 0o604, 0o400, 0o700, 0o4600] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let error = read(&path).unwrap_err();
            assert!(
                matches!(error, CardError::StatePermissions { mode: m, .. } if m == mode),
                "{mode:o}: {error}"
            );
            let message = error.to_string();
            assert!(
                message.contains(&format!("chmod 600 {}", path.display())),
                "{message}"
            );
            assert!(message.contains(&format!("{mode:04o}")), "{message}");
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(read(&path).is_ok());
    }

    #[test]
    fn a_saved_file_keeps_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        write(&path, &state(), Mode::Create).unwrap();
        let mut backing = Backing::file(&path);
        backing.save(&state()).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
            0o600
        );
        assert!(read(&path).is_ok());
    }
}

//! A station's own log beside the shared journal: what its workers did to the cards in hand,
//! on the station's disk, so that a card finished while the server was away is never lost.
//!
//! One JSON object per line, appended: a record claimed for a card, each step begun, the card
//! locked (written and synced to disk before the journal is asked to say so), and the journal
//! having said so. A `locked` line without a later `journaled` line for the same record and
//! card is *pending*: the station locked the card while the server could not hear it, and
//! [`StationPool::reconcile`](super::StationPool::reconcile) tells the journal when the
//! station runs again — even if the card has left the reader long since.
//!
//! The file is locked (`flock`) while the station runs: two processes working as one station
//! on one machine are refused. It holds tracking codes, card serials and step names only —
//! never enrolment data, PINs or keys.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

use crate::display::escaped;

/// The most a station's local log may grow to before it is refused as damaged; a station
/// compacts it whenever nothing is pending, so a healthy one stays far below.
pub const MAX_LOCAL_LOG_BYTES: u64 = 64 * 1024 * 1024;

/// Past this size the log is emptied as soon as nothing in it is pending.
const COMPACT_AT_BYTES: u64 = 1024 * 1024;

/// What can go wrong with a station's local log.
#[derive(Debug, thiserror::Error)]
pub enum LocalLogError {
    #[error(
        "station {station} already runs on this machine (its local log {} is locked): stop \
         it first, or give this one another --station name", shown(.path)
    )]
    Busy { station: String, path: PathBuf },
    #[error("the station's local log {}: {source}", shown(.path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the station's local log {} is damaged at line {line}: {reason} — keep the file for \
         inspection and give --local-log a new file", shown(.path)
    )]
    Damaged {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

fn shown(path: &Path) -> String {
    escaped(&path.display().to_string())
}

/// What a line of the log says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum What {
    /// The record was claimed for (or resumed on) the card.
    Claimed,
    /// A step begins; `offline` when the journal could not be told.
    Step,
    /// The card is locked with the record.
    Locked,
    /// The journal has the record done on the card.
    Journaled,
    /// The journal no longer binds the record to the card (released meanwhile): told to the
    /// journal as a conflict to resolve, and no longer pending here.
    Conflict,
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Milliseconds since 1970, the station's clock.
    pub at: i64,
    pub what: What,
    pub tracking_code: String,
    pub serial: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Written while the journal's server could not be reached.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub offline: bool,
}

/// A card locked with a record that the journal does not know as done yet.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Pending {
    pub tracking_code: String,
    pub serial: String,
}

struct Inner {
    file: File,
    pending: BTreeSet<Pending>,
}

/// A station's local log, open and locked for this process.
pub struct LocalLog {
    path: PathBuf,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for LocalLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLog")
            .field("path", &self.path)
            .finish()
    }
}

impl LocalLog {
    /// Opens (or creates, mode 0600 in a folder made 0700) the log of `station` at `path`,
    /// locks it, and reads what is pending in it.
    pub fn open(path: &Path, station: &str) -> Result<LocalLog, LocalLogError> {
        let io = |source| LocalLogError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::files::create_private_dir(dir).map_err(io)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LocalLogError::Busy {
                    station: station.to_owned(),
                    path: path.to_owned(),
                })
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let pending = read_pending(path, &file)?;
        Ok(LocalLog {
            path: path.to_owned(),
            inner: Mutex::new(Inner { file, pending }),
        })
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cards locked with a record the journal does not have as done yet.
    pub fn pending(&self) -> Vec<Pending> {
        self.inner().pending.iter().cloned().collect()
    }

    /// Appends `entry`; a `locked` line is on the disk (synced) before this returns.
    pub fn append(&self, entry: &Entry) -> Result<(), LocalLogError> {
        let io = |source| LocalLogError::Io {
            path: self.path.clone(),
            source,
        };
        let mut line = serde_json::to_vec(entry).map_err(|e| io(e.into()))?;
        line.push(b'\n');
        let mut inner = self.inner();
        inner.file.write_all(&line).map_err(io)?;
        let key = Pending {
            tracking_code: entry.tracking_code.clone(),
            serial: entry.serial.clone(),
        };
        match entry.what {
            What::Locked => {
                inner.file.sync_data().map_err(io)?;
                inner.pending.insert(key);
            }
            What::Journaled | What::Conflict => {
                inner.pending.remove(&key);
                if inner.pending.is_empty() {
                    let size = inner.file.metadata().map_err(io)?.len();
                    if size > COMPACT_AT_BYTES {
                        inner.file.set_len(0).map_err(io)?;
                    }
                }
            }
            What::Claimed | What::Step => {}
        }
        Ok(())
    }
}

/// The pending cards of the log, read from its start; a line that is not one of ours is
/// refused, except a last line cut short by a crash (it was never synced, so never relied on).
fn read_pending(path: &Path, file: &File) -> Result<BTreeSet<Pending>, LocalLogError> {
    let io = |source| LocalLogError::Io {
        path: path.to_owned(),
        source,
    };
    let size = file.metadata().map_err(io)?.len();
    if size > MAX_LOCAL_LOG_BYTES {
        return Err(LocalLogError::Damaged {
            path: path.to_owned(),
            line: 0,
            reason: format!("{size} bytes, over the {MAX_LOCAL_LOG_BYTES} a station writes"),
        });
    }
    let mut reader = file.try_clone().map_err(io)?;
    reader.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut bytes = Vec::new();
    reader.take(size).read_to_end(&mut bytes).map_err(io)?;
    // After the last newline: nothing, or a line cut short by a crash (never synced, never
    // relied on), which is cut off so that the next line starts on its own.
    let mut pieces: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    if let Some(torn) = pieces.pop().filter(|p| !p.is_empty()) {
        let whole = size - u64::try_from(torn.len()).unwrap_or(size);
        file.set_len(whole).map_err(io)?;
    }
    let mut pending = BTreeSet::new();
    for (index, line) in pieces.iter().enumerate() {
        let entry: Entry = serde_json::from_slice(line).map_err(|e| LocalLogError::Damaged {
            path: path.to_owned(),
            line: index + 1,
            reason: escaped(&e.to_string()).replace('`', "'"),
        })?;
        let key = Pending {
            tracking_code: entry.tracking_code,
            serial: entry.serial,
        };
        match entry.what {
            What::Locked => {
                pending.insert(key);
            }
            What::Journaled | What::Conflict => {
                pending.remove(&key);
            }
            What::Claimed | What::Step => {}
        }
    }
    Ok(pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(what: What, code: &str, serial: &str) -> Entry {
        Entry {
            at: 1,
            what,
            tracking_code: code.to_owned(),
            serial: serial.to_owned(),
            step: None,
            offline: false,
        }
    }

    #[test]
    fn a_locked_card_is_pending_until_journaled_across_openings() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("state/west.log");
        let log = LocalLog::open(&path, "west").expect("open");
        log.append(&entry(What::Claimed, "T1", "S1"))
            .expect("append");
        log.append(&entry(What::Locked, "T1", "S1"))
            .expect("append");
        log.append(&entry(What::Locked, "T2", "S2"))
            .expect("append");
        log.append(&entry(What::Journaled, "T2", "S2"))
            .expect("append");
        assert_eq!(log.pending().len(), 1);
        // Another process as the same station is refused while this one holds the log.
        assert!(matches!(
            LocalLog::open(&path, "west"),
            Err(LocalLogError::Busy { .. })
        ));
        drop(log);
        let again = LocalLog::open(&path, "west").expect("open again");
        assert_eq!(
            again.pending(),
            vec![Pending {
                tracking_code: "T1".into(),
                serial: "S1".into()
            }]
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_line_cut_short_at_the_end_is_ignored_and_a_foreign_line_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("west.log");
        let log = LocalLog::open(&path, "west").expect("open");
        log.append(&entry(What::Locked, "T1", "S1"))
            .expect("append");
        drop(log);
        let mut file = OpenOptions::new().append(true).open(&path).expect("open");
        file.write_all(br#"{"at":2,"what":"jour"#).expect("write");
        drop(file);
        let log = LocalLog::open(&path, "west").expect("a torn last line is a crash");
        assert_eq!(log.pending().len(), 1);
        log.append(&entry(What::Journaled, "T1", "S1"))
            .expect("append");
        drop(log);
        let log = LocalLog::open(&path, "west").expect("the torn line was cut off");
        assert!(log.pending().is_empty());
        drop(log);
        std::fs::write(&path, "{\"at\":1}\nnot json\n").expect("write");
        let err = LocalLog::open(&path, "west").expect_err("damaged");
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}

//! Opening a journal to look something up (`melli status`), read-only.
//!
//! A lookup must not change what it is given: not make a journal in an empty file, not switch
//! another program's database to WAL, not fail on a journal it may only read, not wait for the
//! batch's write lock. So the file is checked first as a file (regular, SQLite's magic), then
//! opened with `SQLITE_OPEN_READ_ONLY` and `PRAGMA query_only`, and its `application_id` and
//! `user_version` are read without a transaction of ours. A WAL reader needs no lock the
//! batch holds; the short busy timeout only covers a checkpoint or recovery in progress.
//!
//! When no batch is writing (there is no `-wal` file), the file is opened as immutable: SQLite
//! then makes no `-wal` and `-shm` files beside it — a read-only connection would leave them
//! behind, and could not make them at all in a folder it may not write. A batch that starts
//! meanwhile appends to its own WAL and checkpoints only after many pages, so the lookup of a
//! few milliseconds reads a consistent file.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{schema, Journal, JournalError};
use crate::input::{self, InputError, Kind};

/// How long a lookup waits for a lock (a checkpoint, a recovery) before it says so.
const LOOKUP_BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Opens `path` as a regular file, with the journal's errors.
pub(super) fn regular_file(path: &Path) -> Result<(File, u64), JournalError> {
    input::open_regular(path, Kind::Small).map_err(|e| match e {
        InputError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            JournalError::Missing(path.to_path_buf())
        }
        InputError::NotRegular { found, .. } => JournalError::NotAFile {
            path: path.to_path_buf(),
            found,
        },
        InputError::Io { source, .. } => JournalError::Read {
            path: path.to_path_buf(),
            source,
        },
        InputError::TooLarge { .. } => JournalError::Foreign(path.to_path_buf()),
    })
}

pub(super) fn open(path: &Path) -> Result<Journal, JournalError> {
    let (mut file, _) = regular_file(path)?;
    let mut magic = [0u8; 16];
    let read = file.read_exact(&mut magic);
    drop(file);
    if read.is_err() || &magic != SQLITE_MAGIC {
        // Empty, short, or not SQLite: SQLite is not even asked.
        return Err(JournalError::Foreign(path.to_path_buf()));
    }
    if beside(path, "-wal").exists() {
        // A batch is writing (or was killed): read through its WAL, as SQLite readers do.
        return open_with(path, path, false);
    }
    // No `-wal` file: no batch is writing, and everything is in the file itself. Read as
    // immutable, SQLite makes no `-wal` or `-shm` file beside it (which a read-only connection
    // could not remove after it, and could not make at all in a folder it may not write).
    let uri = format!(
        "file:{}?immutable=1",
        percent_encoded(path.as_os_str().as_encoded_bytes())
    );
    open_with(path, Path::new(&uri), true)
}

fn open_with(path: &Path, name: &Path, uri: bool) -> Result<Journal, JournalError> {
    let failed = |source: rusqlite::Error| match source.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => JournalError::Foreign(path.to_path_buf()),
        _ => JournalError::Open {
            path: path.to_path_buf(),
            source,
        },
    };
    let mut flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if uri {
        flags |= OpenFlags::SQLITE_OPEN_URI;
    }
    let conn = Connection::open_with_flags(name, flags).map_err(failed)?;
    conn.busy_timeout(LOOKUP_BUSY_TIMEOUT).map_err(failed)?;
    conn.pragma_update(None, "query_only", true)
        .map_err(failed)?;
    match schema::check(&conn).map_err(failed)? {
        schema::Found::Current | schema::Found::Old(1 | 2) => {}
        schema::Found::TooNew(found) => {
            return Err(JournalError::TooNew {
                path: path.to_path_buf(),
                found,
            })
        }
        schema::Found::Empty
        | schema::Found::Created
        | schema::Found::Foreign
        | schema::Found::Old(_) => return Err(JournalError::Foreign(path.to_path_buf())),
    }
    Ok(Journal {
        conn,
        path: path.to_path_buf(),
    })
}

/// `path` with `suffix` added to its file name (`journal.db-wal`).
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A path as the path part of an SQLite URI: unreserved bytes and `/` as they are, every other
/// byte `%XX`.
fn percent_encoded(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_paths_escape_what_a_uri_would_read() {
        assert_eq!(
            percent_encoded(b"/tmp/a b?c#d%e.db"),
            "/tmp/a%20b%3Fc%23d%25e.db"
        );
    }
}

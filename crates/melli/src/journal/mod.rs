//! The issuance journal: a SQLite file (WAL, `synchronous=FULL`) that says, for every enrolment
//! record of a batch, where it is — queued, being personalized on which card and up to which
//! step, done, or failed and why — so that a batch killed at any point is finished by running it
//! again, with no record made twice and no card given two records.
//!
//! Each change of state is one transaction, committed (and so on disk) before the card is sent
//! the next step's commands. Nothing secret is kept: no PIN, no PUK, no key, no photo; only the
//! tracking code, the national code and the issuer's keyed hash of the national code and birth
//! date (for `melli status`; never the birth date itself, so that a stolen journal does not
//! give out the pair), the card serial, and what happened when.
//!
//! - `schema`: the tables and the version check (`PRAGMA user_version`);
//! - `queue`: the state changes the batch makes;
//! - `lookup`: reading one record back, for `melli status`;
//! - [`postgres`]: the journal on a PostgreSQL server, shared by many stations.

mod lookup;
pub mod postgres;
mod queue;
mod read_only;
mod schema;
mod store;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags};

use crate::model::{JalaliDate, NationalCode, TrackingCode};

pub use queue::{Counts, Enqueued, Outcome, Released};
pub use schema::SCHEMA_VERSION;
pub use store::Queue;

/// Milliseconds since 1970-01-01 UTC: how the journal keeps time.
pub type Millis = i64;

/// The time now, in journal form.
pub fn now() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A journal time as the Solar Hijri date in Iran that day.
pub fn jalali_date(at: Millis) -> Option<JalaliDate> {
    let ms = u64::try_from(at).ok()?;
    JalaliDate::from_system_time(UNIX_EPOCH + Duration::from_millis(ms)).ok()
}

/// How long a writer waits for another connection's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordState {
    /// Waiting for a card.
    Queued,
    /// Bound to a card that is being (or was being) personalized for it.
    Personalizing,
    /// Its card is locked and made.
    Done,
    /// Given up, with a reason; a later run of the batch queues it again.
    Failed,
}

impl RecordState {
    pub fn name(self) -> &'static str {
        match self {
            RecordState::Queued => "queued",
            RecordState::Personalizing => "personalizing",
            RecordState::Done => "done",
            RecordState::Failed => "failed",
        }
    }

    fn from_name(name: &str) -> Option<RecordState> {
        [
            RecordState::Queued,
            RecordState::Personalizing,
            RecordState::Done,
            RecordState::Failed,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

impl fmt::Display for RecordState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name under which the journal stores the personalization's last step, locking the card.
/// The journal stores step names as the personalization gives them; this one it must know
/// itself: a record whose card began this step may be on a locked card, and is never handed
/// to another card on its own.
pub const LOCK_STEP: &str = "lock";

/// The name of the personalization's first step, opening the secure channel: nothing of the
/// record is on the card yet. On the shared queue, a record whose card went past it is bound
/// to that card ([`Queue::waits_for_card`]).
pub const FIRST_STEP: &str = "secure-channel";

/// One record's row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecordRow {
    pub tracking_code: String,
    pub national_code: String,
    /// Solar Hijri, `YYYY/MM/DD`, in a row of an older journal; empty where the journal keeps
    /// only the keyed hash of the person (every row a batch writes now).
    pub birth_date: String,
    pub state: RecordState,
    /// Why it failed, was put back in the queue, or waits for its card.
    pub reason: Option<String>,
    /// The card it is bound to (personalizing, done), or was on when it failed.
    pub card_serial: Option<String>,
    /// The name of the last personalization step begun on the card (see [`LOCK_STEP`]).
    pub step: Option<String>,
    /// Personalizations begun for it, resumed ones included.
    pub attempts: u32,
    /// Times a card or the issuer refused it since it was last queued by a run.
    pub refusals: u32,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub finished_at: Option<Millis>,
}

impl RecordRow {
    /// Whether the card may already be locked with this record: the lock step was begun and
    /// its outcome is unknown. Such a binding is never released on its own.
    pub fn may_be_locked(&self) -> bool {
        self.state == RecordState::Personalizing && self.step.as_deref() == Some(LOCK_STEP)
    }

    fn from_sql(row: &rusqlite::Row<'_>) -> rusqlite::Result<RecordRow> {
        let state: String = row.get("state")?;
        Ok(RecordRow {
            tracking_code: row.get("tracking_code")?,
            national_code: row.get("national_code")?,
            birth_date: row.get("birth_date")?,
            state: RecordState::from_name(&state).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    0,
                    rusqlite::types::Type::Text,
                    format!("unknown record state {state:?}").into(),
                )
            })?,
            reason: row.get("reason")?,
            card_serial: row.get("card_serial")?,
            step: row.get("step")?,
            attempts: row.get("attempts")?,
            refusals: row.get("refusals")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
            finished_at: row.get("finished_at")?,
        })
    }
}

/// The columns [`RecordRow::from_sql`] reads.
const ROW_COLUMNS: &str = "tracking_code, national_code, birth_date, state, reason, card_serial, \
     step, attempts, refusals, created_at, updated_at, finished_at";

/// One line of a record's history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventRow {
    pub at: Millis,
    pub event: String,
}

/// What the batch puts in the journal for a record: its keys, nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    pub tracking_code: TrackingCode,
    pub national_code: NationalCode,
    pub birth_date: JalaliDate,
}

/// A record of the batch whose tracking code the journal holds for another person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "tracking code {tracking_code} is in the journal for another national code or birth date \
     — check the tracking code, or use another journal"
)]
pub struct Conflict {
    pub tracking_code: String,
}

/// A path from the user, made safe for a terminal.
fn shown(path: &Path) -> String {
    crate::display::escaped(&path.display().to_string())
}

/// What can go wrong with the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot open the journal {}: {source}", shown(.path))]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("there is no journal {}: give the file the batch was run with", shown(.0))]
    Missing(PathBuf),
    #[error("{}: not a regular file ({found})", shown(.path))]
    NotAFile { path: PathBuf, found: &'static str },
    #[error("{} is not a melli journal: give the journal a batch wrote, or a new file name", shown(.0))]
    Foreign(PathBuf),
    #[error(
        "the journal {} has schema version {found}, this melli knows up to {SCHEMA_VERSION}: \
         use a newer melli", shown(.path)
    )]
    TooNew { path: PathBuf, found: i64 },
    #[error("cannot read the journal {}: {source}", shown(.path))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("journal: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("tracking code {} is not in the journal", crate::display::escaped(.0))]
    Unknown(String),
    #[error("record {tracking_code} is no longer bound to card {serial} in the journal")]
    BindingLost {
        tracking_code: String,
        serial: String,
    },
    #[error("record {tracking_code} is {state}: only a record bound to a card can be released")]
    NotBound {
        tracking_code: String,
        state: RecordState,
    },
    #[error("card {serial} is already bound to record {tracking_code}")]
    CardTaken {
        serial: String,
        tracking_code: String,
    },
    #[error(
        "card {serial} is bound to record {tracking_code}, which station {station} holds until \
         its lease ends: leave the card in that station's reader"
    )]
    Leased {
        serial: String,
        tracking_code: String,
        station: String,
    },
    #[error(
        "record {tracking_code} in the journal cannot be made: {reason} — import its records \
         file again, or release it"
    )]
    Damaged {
        tracking_code: String,
        reason: String,
    },
    /// The shared journal's server (its message already redacted and escaped).
    #[error(transparent)]
    Server(#[from] postgres::PgError),
    /// A station's own log beside the shared journal.
    #[error(transparent)]
    LocalLog(#[from] postgres::LocalLogError),
    #[error("{} record(s) conflict with the journal; the first: {}", .0.len(), .0.first().map(ToString::to_string).unwrap_or_default())]
    Conflicts(Vec<Conflict>),
}

/// An open journal: one SQLite connection. Open one per thread; SQLite serializes writers.
pub struct Journal {
    conn: Connection,
    path: PathBuf,
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

/// Whether a database the schema check found is one a batch may write to.
fn usable(path: &Path, found: schema::Found) -> Result<(), JournalError> {
    match found {
        schema::Found::Current | schema::Found::Created | schema::Found::Empty => Ok(()),
        // Brought up to date by `schema::prepare`; one it does not know how to is refused.
        schema::Found::Old(1 | 2) => Ok(()),
        schema::Found::Old(_) => Err(JournalError::Foreign(path.to_path_buf())),
        schema::Found::Foreign => Err(JournalError::Foreign(path.to_path_buf())),
        schema::Found::TooNew(found) => Err(JournalError::TooNew {
            path: path.to_path_buf(),
            found,
        }),
    }
}

impl Journal {
    /// Opens the journal at `path`, creating it (and its schema) if it does not exist.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        Self::open_with(path, OpenFlags::default())
    }

    /// Opens an existing journal for looking up only (`melli status`): read-only, so it never
    /// changes the file nor makes one beside it — no schema, no switch to WAL, no migration —
    /// and it never waits for the batch's write lock (a WAL reader needs none). What is not a
    /// melli journal (an empty file, another program's database, text) is refused by its first
    /// bytes and its `application_id`, read-only. [`JournalError::Missing`] if there is none,
    /// [`JournalError::NotAFile`] for a directory, FIFO or device.
    pub fn open_existing(path: &Path) -> Result<Journal, JournalError> {
        read_only::open(path)
    }

    /// Checks what is at `path` before a batch opens it for writing: nothing, or a regular file
    /// (a directory, FIFO or device is refused, [`JournalError::NotAFile`]).
    pub fn check_path(path: &Path) -> Result<(), JournalError> {
        match read_only::regular_file(path) {
            Ok(_) | Err(JournalError::Missing(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn open_with(path: &Path, flags: OpenFlags) -> Result<Journal, JournalError> {
        let open = |source: rusqlite::Error| match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => JournalError::Foreign(path.to_path_buf()),
            _ => JournalError::Open {
                path: path.to_path_buf(),
                source,
            },
        };
        Self::check_path(path)?;
        let mut conn = Connection::open_with_flags(path, flags).map_err(open)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open)?;
        // Another program's database is refused before anything is changed in it.
        usable(path, schema::check(&conn).map_err(open)?)?;
        // WAL: readers (melli status) never block the batch, and a commit is one append.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(open)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(open(rusqlite::Error::InvalidParameterName(format!(
                "journal_mode is {mode}, WAL is needed"
            ))));
        }
        // FULL: a committed state change survives a power cut, not only a killed process.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open)?;
        usable(path, schema::prepare(&mut conn).map_err(open)?)?;
        // The queue this connection works on; see `Journal::scope`.
        conn.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS scope (tracking_code TEXT PRIMARY KEY)",
        )
        .map_err(open)?;
        Ok(Journal {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the file (`PRAGMA user_version`), for `melli journal migrate`.
    pub fn schema_version(&self) -> Result<i64, JournalError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Every event of a record, oldest first.
    pub fn events(&self, tracking_code: &str) -> Result<Vec<EventRow>, JournalError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.at, e.event FROM events e JOIN records r ON r.id = e.record_id
             WHERE r.tracking_code = ?1 ORDER BY e.id",
        )?;
        let rows = stmt.query_map([tracking_code], |r| {
            Ok(EventRow {
                at: r.get(0)?,
                event: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Events about cards that matched no record (skipped cards), oldest first.
    pub fn card_events(&self) -> Result<Vec<EventRow>, JournalError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT at, event FROM events WHERE record_id IS NULL ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(EventRow {
                at: r.get(0)?,
                event: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every row, in queue order (for tests and reports).
    pub fn rows(&self) -> Result<Vec<RecordRow>, JournalError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {ROW_COLUMNS} FROM records ORDER BY id"))?;
        let rows = stmt.query_map([], RecordRow::from_sql)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests;

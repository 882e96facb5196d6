//! The issuance line: a file of enrolment records made into cards on several readers at once,
//! journaled so that nothing is lost and nothing is made twice, whatever happens.
//!
//! # How a run goes
//!
//! 1. [`records::load`] validates every line of the records file first; the caller refuses to
//!    go on if any is invalid (or journals them as failed).
//! 2. [`Batch::run`] puts the records in the [journal](crate::journal) (new ones queued, failed
//!    ones queued again, done ones left alone) and starts one worker per [`Reader`].
//! 3. Each worker waits for a card. A card bound to a record of this batch resumes it; an
//!    unbound blank or half-personalized card takes the next queued record (in one
//!    transaction: queued → personalizing, with the card's serial); a locked card is left
//!    alone. Each step is journaled before the card is sent its commands; a finished card is
//!    journaled done, and the worker waits for it to be taken out.
//! 4. The run ends when no record of the batch is queued or bound to a card that may still
//!    come back.
//!
//! # The resume rule: one record per card, one card per record
//!
//! A record is *bound* to a card from the moment it is claimed for it until it is done, and
//! the journal lets no card hold two bindings. Personalization is idempotent until the card
//! locks, so the only card that can ever carry a record is a card that was bound to it and
//! locked; everything below keeps that true.
//!
//! - **The bound card comes back** (same serial, in any reader, in this run or a later one):
//!   the same record is resumed on it. If it is already locked, its DG1 must carry the
//!   record's tracking code, and the record is marked done without touching the card.
//! - **A card is pulled, reset or stops answering** mid-way: the record goes back to the
//!   queue, free for any card, with the reason in its history — unless the lock step had
//!   begun (its command may have reached the card, which may then be locked with the record):
//!   then the record stays bound to that card and waits for it (*held*).
//! - **melli is killed**: bindings stay as they were. When the run is started again, each
//!   card finds its own record, and other cards take queued records only. A binding whose
//!   card does not come back within `release_after` (counted from the later of the start of
//!   the run and the binding's last step) is released to the queue, provided the lock step
//!   was never begun. A binding at the lock step is never released by itself: the run stops
//!   waiting for it after the same time and ends with the record reported as waiting for its
//!   card; the operator puts the card back, or releases the record by hand
//!   ([`Journal::release`], `melli batch --release CODE`) once the card is known destroyed.
//! - **On the shared queue** (PostgreSQL, many stations) the same rules hold with one
//!   difference: a binding whose card was already written to (a step after the secure channel)
//!   waits for its card, at any station, instead of going back to the queue when its lease runs
//!   out — so a station that loses the server can finish the card in hand without it
//!   (see [`crate::journal::postgres`]'s `queue` module).
//! - **A card refuses** a command (an error status, the card answered): it is not locked. The
//!   record goes back to the queue and the card is set aside; after `max_refusals` refusals the
//!   record fails. An issuer error counts the same but keeps the card.
//! - **A locked card** whose serial the journal has as done is never touched; a locked card
//!   the journal does not know is left alone too.
//! - Re-running a batch never re-makes a done record; failed records are queued again.
//!
//! The PIN and PUK of each card come from a [`SecretSource`]; [`MailerDir`] writes a PIN mailer
//! per record before the card is touched, and reuses it when the same card comes back.

mod card;
mod events;
mod reader;
pub mod records;
mod secrets;
pub mod status;
mod worker;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::journal::postgres::StationPool;
use crate::journal::{Counts, Enqueued, Journal, JournalError, Queue, RecordRow};
use crate::ops::pin_mailer::MailerError;
use crate::pki::status_key::StatusKey;
use crate::pki::Issuer;
use crate::transport::TransportError;

pub use card::{card_went_away, AppletCard, BatchCard, Flow, Interruptible};
pub use events::{Event, EventKind, Observer, Quiet};
#[cfg(feature = "pcsc")]
pub use reader::PcscReader;
pub use reader::{Presence, Reader};
pub use records::{load, BatchRecord, LineError, LoadError, Loaded, Records};
pub use secrets::{MailerDir, SecretSource};
pub use worker::ReaderReport;

/// How a batch behaves.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Pause between two looks at a reader.
    pub poll: Duration,
    /// How long a binding waits for its card before it is released (never at the lock step).
    pub release_after: Duration,
    /// Refusals (error statuses from cards, issuer errors) after which a record fails.
    pub max_refusals: u32,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            poll: worker::DEFAULT_POLL,
            release_after: Duration::from_secs(10 * 60),
            max_refusals: 3,
        }
    }
}

/// Why a batch stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{0}: the record stays in the journal; fix this and run the batch again")]
    Mailer(#[from] MailerError),
    #[error("no reader to work with")]
    NoReaders,
    #[error("{0}")]
    Readers(#[from] TransportError),
    #[error("the issuer's status key: {0}")]
    StatusKey(#[from] crate::pki::PkiError),
    #[error("a worker stopped unexpectedly (a bug in melli); run the batch again to go on")]
    WorkerPanicked,
}

/// A record that waits for its card at the end of a run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WaitingRecord {
    pub tracking_code: String,
    pub card_serial: String,
    pub step: Option<String>,
    pub reason: Option<String>,
}

impl From<RecordRow> for WaitingRecord {
    fn from(row: RecordRow) -> Self {
        WaitingRecord {
            tracking_code: row.tracking_code,
            card_serial: row.card_serial.unwrap_or_default(),
            step: row.step,
            reason: row.reason,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BatchReport {
    /// Records in the records file (valid ones), or in the shared queue.
    pub records: u64,
    /// What the journal made of them at the start.
    pub enqueued: Enqueued,
    /// Cards finished in this run.
    pub made: u64,
    /// The batch's records by state at the end.
    pub counts: Counts,
    /// Records still bound to a card that did not come back.
    pub waiting: Vec<WaitingRecord>,
    pub seconds: f64,
    /// Cards finished per minute of this run.
    pub cards_per_minute: f64,
    pub readers: Vec<ReaderReport>,
    /// The observer stopped the run.
    pub stopped: bool,
}

impl BatchReport {
    /// Every record of the file is done.
    pub fn complete(&self) -> bool {
        self.counts.done == self.records
    }
}

/// Where a batch journals, and so where its records come from.
#[derive(Debug, Clone, Copy)]
pub enum JournalPlace<'a> {
    /// A SQLite file: the batch's records file is its queue.
    File(&'a Path),
    /// The shared queue on PostgreSQL, worked by this station among others: the records were
    /// imported into it (`melli batch import`), and come from it.
    Shared(&'a StationPool),
}

impl<'a> From<&'a Path> for JournalPlace<'a> {
    fn from(path: &'a Path) -> Self {
        JournalPlace::File(path)
    }
}

impl JournalPlace<'_> {
    /// A worker's own connection, working on `records` (a file's) or on the whole shared
    /// queue.
    fn open(&self, records: &Records) -> Result<Box<dyn Queue>, JournalError> {
        match self {
            JournalPlace::File(path) => {
                let mut journal = Journal::open(path)?;
                journal.scope(records.iter().map(|r| r.record.tracking_code().as_str()))?;
                Ok(Box::new(journal))
            }
            JournalPlace::Shared(pool) => Ok(Box::new(pool.queue())),
        }
    }
}

/// A batch: its records, where it journals, the issuer, the secrets, who watches.
pub struct Batch<'a> {
    pub journal: JournalPlace<'a>,
    pub records: &'a Records,
    pub issuer: &'a Issuer,
    pub secrets: &'a dyn SecretSource,
    pub observer: &'a dyn Observer,
    pub options: BatchOptions,
}

impl Batch<'_> {
    /// Journals the records and works through them with one worker per reader until none is
    /// left to make (see the module documentation for the rules).
    pub fn run<R: Reader>(&self, readers: Vec<R>) -> Result<BatchReport, BatchError> {
        if readers.is_empty() {
            return Err(BatchError::NoReaders);
        }
        let clock = Instant::now();
        let enqueued = match self.journal {
            JournalPlace::File(path) => {
                let key = StatusKey::derive(self.issuer.master_key())?;
                Journal::open(path)?.enqueue(&self.records.keys(), &key)?
            }
            // Imported beforehand, by `melli batch import`.
            JournalPlace::Shared(_) => Enqueued::default(),
        };
        let mut journal = self.journal.open(self.records)?;

        let shared = worker::Shared::new(self);
        let counts = journal.counts()?;
        shared.emit("", EventKind::Started { enqueued, counts });
        let results: Vec<Result<ReaderReport, BatchError>> = std::thread::scope(|s| {
            let handles: Vec<_> = readers
                .into_iter()
                .map(|reader| {
                    let shared = &shared;
                    s.spawn(move || worker::Worker::start(shared, reader)?.run())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        shared.stop();
                        Err(BatchError::WorkerPanicked)
                    })
                })
                .collect()
        });
        let mut readers = Vec::new();
        for result in results {
            readers.push(result?);
        }

        let counts = journal.counts()?;
        let waiting = journal
            .bound()?
            .into_iter()
            .map(WaitingRecord::from)
            .collect();
        let made = readers.iter().map(|r| r.made).sum::<u64>();
        let seconds = clock.elapsed().as_secs_f64();
        let records = match self.journal {
            JournalPlace::File(_) => u64::try_from(self.records.len()).unwrap_or(u64::MAX),
            JournalPlace::Shared(_) => counts.total(),
        };
        Ok(BatchReport {
            records,
            enqueued,
            made,
            counts,
            waiting,
            seconds,
            cards_per_minute: per_minute(made, seconds),
            readers,
            stopped: shared.stopped(),
        })
    }
}

/// `n` per minute over `seconds`.
pub fn per_minute(n: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        // Counts of cards stay far below 2^52: exact as f64.
        #[allow(clippy::cast_precision_loss)]
        let n = n as f64;
        n * 60.0 / seconds
    } else {
        0.0
    }
}

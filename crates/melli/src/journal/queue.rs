//! The state changes of a batch, each one transaction with its event line:
//!
//! ```text
//!            claim_next / resume            mark_done
//!   queued ───────────────────► personalizing ─────────► done
//!     ▲  ▲                        │   │  │
//!     │  └── put_back (pulled) ───┘   │  └── refuse (n-th time) ──► failed
//!     └───── release (operator, timeout) ┘                        (queued again by a new run)
//! ```
//!
//! The queue a connection works on is the *scope*: the tracking codes of the records file the
//! batch was started with ([`Journal::scope`]); records of other files in the same journal are
//! left alone.

use rusqlite::{params, OptionalExtension, Transaction};

use super::{now, Journal, JournalError, Millis, RecordRow, RecordState, ROW_COLUMNS};

mod fill;
mod replace;
mod turn;

/// How many records of the scope are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub queued: u64,
    pub personalizing: u64,
    pub done: u64,
    pub failed: u64,
}

impl Counts {
    /// Counts `n` more records in `state` (a state name from the database; an unknown one is
    /// not counted).
    pub fn add(&mut self, state: &str, n: u64) {
        match RecordState::from_name(state) {
            Some(RecordState::Queued) => self.queued += n,
            Some(RecordState::Personalizing) => self.personalizing += n,
            Some(RecordState::Done) => self.done += n,
            Some(RecordState::Failed) => self.failed += n,
            None => {}
        }
    }

    pub fn total(&self) -> u64 {
        self.queued + self.personalizing + self.done + self.failed
    }

    /// Records still to be made: queued or bound to a card.
    pub fn left(&self) -> u64 {
        self.queued + self.personalizing
    }
}

/// What [`Journal::enqueue`] did with the records of a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Enqueued {
    /// New to the journal, now queued.
    pub new: u64,
    /// Had failed in an earlier run, queued again.
    pub again: u64,
    /// Already queued or bound to a card by an earlier run: picked up where it was.
    pub unfinished: u64,
    /// Already done: left alone.
    pub done: u64,
}

/// Where a record went when its card let it down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Back in the queue, free for any card.
    Queued,
    /// Still bound to its card, which may be locked already: waits for that card.
    Held,
    /// Given up.
    Failed,
}

/// A binding undone by [`Journal::release`] or [`Journal::release_stale`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Released {
    pub tracking_code: String,
    pub card_serial: String,
    /// The step the card had begun.
    pub step: Option<String>,
}

impl Journal {
    /// The scope's records by state.
    pub fn counts(&self) -> Result<Counts, JournalError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.state, COUNT(*) FROM records r JOIN temp.scope s USING (tracking_code)
             GROUP BY r.state",
        )?;
        let mut counts = Counts::default();
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))?;
        for row in rows {
            let (state, n) = row?;
            counts.add(&state, n);
        }
        Ok(counts)
    }

    /// The scope's records that are bound to a card and unfinished.
    pub fn bound(&self) -> Result<Vec<RecordRow>, JournalError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM records r JOIN temp.scope s USING (tracking_code)
             WHERE r.state = 'personalizing' ORDER BY r.id"
        ))?;
        let rows = stmt.query_map([], RecordRow::from_sql)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Notes something about a card that concerns no record of the journal (a card skipped).
    pub fn note_card(&mut self, text: &str) -> Result<(), JournalError> {
        let mut stmt = self
            .conn
            .prepare_cached("INSERT INTO events (record_id, at, event) VALUES (NULL, ?1, ?2)")?;
        stmt.execute(params![now(), text])?;
        Ok(())
    }
}

fn event(tx: &Transaction<'_>, record_id: i64, at: Millis, text: &str) -> rusqlite::Result<()> {
    let mut stmt =
        tx.prepare_cached("INSERT INTO events (record_id, at, event) VALUES (?1, ?2, ?3)")?;
    stmt.execute(params![record_id, at, text])?;
    Ok(())
}

fn requeue(tx: &Transaction<'_>, id: i64, reason: &str, at: Millis) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE records SET state = 'queued', card_serial = NULL, step = NULL, reason = ?2,
                updated_at = ?3
         WHERE id = ?1",
        params![id, reason, at],
    )?;
    Ok(())
}

fn row_by_id(tx: &Transaction<'_>, id: i64) -> rusqlite::Result<RecordRow> {
    tx.query_row(
        &format!("SELECT {ROW_COLUMNS} FROM records WHERE id = ?1"),
        [id],
        RecordRow::from_sql,
    )
}

/// The row of a record still bound to `serial` and unfinished.
fn bound_id(tx: &Transaction<'_>, tracking_code: &str, serial: &str) -> Result<i64, JournalError> {
    tx.query_row(
        "SELECT id FROM records
         WHERE tracking_code = ?1 AND card_serial = ?2 AND state = 'personalizing'",
        [tracking_code, serial],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| binding_lost(tracking_code, serial))
}

fn binding_lost(tracking_code: &str, serial: &str) -> JournalError {
    JournalError::BindingLost {
        tracking_code: tracking_code.to_owned(),
        serial: serial.to_owned(),
    }
}

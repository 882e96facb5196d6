//! What a batch asks of its journal, whichever engine keeps it: [`Queue`], implemented by the
//! SQLite [`Journal`] (one station, one file) and by the PostgreSQL
//! [`PgQueue`](super::postgres::PgQueue) (many stations, one server).
//!
//! Both keep the same states and the same promise: a record is bound to one card from its
//! claim until it is done, no card holds two records, and every change of state is committed
//! before the card is sent the next step's commands.

use std::collections::HashSet;

use super::{Counts, Journal, JournalError, Millis, Outcome, RecordRow, Released};
use crate::model::ValidRecord;

/// The state changes and questions of a batch's worker, one connection per worker.
pub trait Queue: Send {
    /// The queue's records by state.
    fn counts(&mut self) -> Result<Counts, JournalError>;
    /// The queue's records bound to a card and unfinished.
    fn bound(&mut self) -> Result<Vec<RecordRow>, JournalError>;
    /// Whether a bound record waits for its own card however long it takes (and so is never
    /// released by itself): on a SQLite journal once the lock step began, on the shared queue
    /// once the card was written to.
    fn waits_for_card(&self, row: &RecordRow) -> bool {
        row.may_be_locked()
    }
    /// The record a card is bound to (being made for it, or done on it), if any.
    fn binding(&mut self, serial: &str) -> Result<Option<RecordRow>, JournalError>;
    /// Whether a record is one this connection works on.
    fn in_scope(&mut self, tracking_code: &str) -> Result<bool, JournalError>;
    /// Binds the first queued record to the card `serial`; `None` when nothing is queued.
    fn claim_next(&mut self, serial: &str, reader: &str)
        -> Result<Option<RecordRow>, JournalError>;
    /// Starts another personalization of the record bound to `serial` (its card came back).
    fn resume(
        &mut self,
        tracking_code: &str,
        serial: &str,
        reader: &str,
    ) -> Result<RecordRow, JournalError>;
    /// Records that `step` is about to begin on the record's card, committed before it returns.
    fn record_step(
        &mut self,
        tracking_code: &str,
        serial: &str,
        step: &str,
    ) -> Result<(), JournalError>;
    /// The record's card is locked: the record is done.
    fn mark_done(
        &mut self,
        tracking_code: &str,
        serial: &str,
        note: &str,
    ) -> Result<(), JournalError>;
    /// The record's card went away unfinished: back to the queue, or held for the card.
    fn put_back(
        &mut self,
        tracking_code: &str,
        serial: &str,
        reason: &str,
        may_be_locked: bool,
    ) -> Result<Outcome, JournalError>;
    /// A card or the issuer refused the record: back to the queue, or failed.
    fn refuse(
        &mut self,
        tracking_code: &str,
        serial: &str,
        reason: &str,
        max_refusals: u32,
    ) -> Result<Outcome, JournalError>;
    /// Releases the bindings whose card did not come back in time and was never asked to lock.
    fn release_stale(
        &mut self,
        idle_since: Millis,
        in_readers: &HashSet<String>,
    ) -> Result<Vec<Released>, JournalError>;
    /// Card `old_serial` was replaced by card `new_serial`.
    fn mark_replaced(&mut self, old_serial: &str, new_serial: &str) -> Result<(), JournalError>;
    /// Notes something about a card that concerns no record (a card skipped).
    fn note_card(&mut self, text: &str) -> Result<(), JournalError>;
    /// The enrolment data of a record, when the journal keeps it (the shared queue does; a
    /// SQLite journal keeps keys only, and the records file gives the rest).
    fn enrolment(&mut self, tracking_code: &str) -> Result<Option<ValidRecord>, JournalError>;
}

impl Queue for Journal {
    fn counts(&mut self) -> Result<Counts, JournalError> {
        Journal::counts(self)
    }
    fn bound(&mut self) -> Result<Vec<RecordRow>, JournalError> {
        Journal::bound(self)
    }
    fn binding(&mut self, serial: &str) -> Result<Option<RecordRow>, JournalError> {
        Journal::binding(self, serial)
    }
    fn in_scope(&mut self, tracking_code: &str) -> Result<bool, JournalError> {
        Journal::in_scope(self, tracking_code)
    }
    fn claim_next(
        &mut self,
        serial: &str,
        reader: &str,
    ) -> Result<Option<RecordRow>, JournalError> {
        Journal::claim_next(self, serial, reader)
    }
    fn resume(
        &mut self,
        tracking_code: &str,
        serial: &str,
        reader: &str,
    ) -> Result<RecordRow, JournalError> {
        Journal::resume(self, tracking_code, serial, reader)
    }
    fn record_step(
        &mut self,
        tracking_code: &str,
        serial: &str,
        step: &str,
    ) -> Result<(), JournalError> {
        Journal::record_step(self, tracking_code, serial, step)
    }
    fn mark_done(
        &mut self,
        tracking_code: &str,
        serial: &str,
        note: &str,
    ) -> Result<(), JournalError> {
        Journal::mark_done(self, tracking_code, serial, note)
    }
    fn put_back(
        &mut self,
        tracking_code: &str,
        serial: &str,
        reason: &str,
        may_be_locked: bool,
    ) -> Result<Outcome, JournalError> {
        Journal::put_back(self, tracking_code, serial, reason, may_be_locked)
    }
    fn refuse(
        &mut self,
        tracking_code: &str,
        serial: &str,
        reason: &str,
        max_refusals: u32,
    ) -> Result<Outcome, JournalError> {
        Journal::refuse(self, tracking_code, serial, reason, max_refusals)
    }
    fn release_stale(
        &mut self,
        idle_since: Millis,
        in_readers: &HashSet<String>,
    ) -> Result<Vec<Released>, JournalError> {
        Journal::release_stale(self, idle_since, in_readers)
    }
    fn mark_replaced(&mut self, old_serial: &str, new_serial: &str) -> Result<(), JournalError> {
        Journal::mark_replaced(self, old_serial, new_serial)
    }
    fn note_card(&mut self, text: &str) -> Result<(), JournalError> {
        Journal::note_card(self, text)
    }
    fn enrolment(&mut self, _tracking_code: &str) -> Result<Option<ValidRecord>, JournalError> {
        Ok(None)
    }
}

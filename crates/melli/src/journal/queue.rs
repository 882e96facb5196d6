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

use std::collections::HashSet;

use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use super::{
    now, Conflict, Journal, JournalError, Millis, NewRecord, RecordRow, RecordState, ROW_COLUMNS,
};

/// How many records of the scope are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub queued: u64,
    pub personalizing: u64,
    pub done: u64,
    pub failed: u64,
}

impl Counts {
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
    /// Limits the queue this connection works on to these tracking codes.
    pub fn scope<'a>(
        &mut self,
        codes: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), JournalError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM temp.scope", [])?;
        {
            let mut insert =
                tx.prepare("INSERT OR IGNORE INTO temp.scope (tracking_code) VALUES (?1)")?;
            for code in codes {
                insert.execute([code])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The records whose tracking code the journal holds for another national code or birth
    /// date. Reads only.
    pub fn conflicts(&self, records: &[NewRecord]) -> Result<Vec<Conflict>, JournalError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT national_code, birth_date FROM records WHERE tracking_code = ?1",
        )?;
        let mut conflicts = Vec::new();
        for record in records {
            let existing: Option<(String, String)> = stmt
                .query_row([record.tracking_code.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            if let Some((national_code, birth_date)) = existing {
                if national_code != record.national_code.to_string()
                    || birth_date != record.birth_date.to_string()
                {
                    conflicts.push(Conflict {
                        tracking_code: record.tracking_code.to_string(),
                    });
                }
            }
        }
        Ok(conflicts)
    }

    /// Puts a batch's records in the journal, in order: new ones queued, failed ones queued
    /// again, unfinished and done ones left as they are. All or nothing:
    /// [`JournalError::Conflicts`] if a tracking code belongs to someone else in the journal.
    pub fn enqueue(&mut self, records: &[NewRecord]) -> Result<Enqueued, JournalError> {
        let conflicts = self.conflicts(records)?;
        if !conflicts.is_empty() {
            return Err(JournalError::Conflicts(conflicts));
        }
        let at = now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut report = Enqueued::default();
        for record in records {
            let code = record.tracking_code.as_str();
            let existing: Option<(i64, String, Option<String>)> = tx
                .query_row(
                    "SELECT id, state, reason FROM records WHERE tracking_code = ?1",
                    [code],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            match existing {
                None => {
                    tx.execute(
                        "INSERT INTO records (tracking_code, national_code, birth_date,
                                              created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?4)",
                        params![
                            code,
                            record.national_code.to_string(),
                            record.birth_date.to_string(),
                            at
                        ],
                    )?;
                    event(&tx, tx.last_insert_rowid(), at, "queued")?;
                    report.new += 1;
                }
                Some((id, state, reason)) if state == RecordState::Failed.name() => {
                    tx.execute(
                        "UPDATE records SET state = 'queued', card_serial = NULL, step = NULL,
                                reason = NULL, refusals = 0, updated_at = ?2
                         WHERE id = ?1",
                        params![id, at],
                    )?;
                    let had = reason.unwrap_or_else(|| "no reason kept".to_owned());
                    event(
                        &tx,
                        id,
                        at,
                        &format!("queued again by a new run (it had failed: {had})"),
                    )?;
                    report.again += 1;
                }
                Some((_, state, _)) if state == RecordState::Done.name() => report.done += 1,
                Some(_) => report.unfinished += 1,
            }
        }
        tx.commit()?;
        Ok(report)
    }

    /// Journals a record that cannot be made as failed, with the reason, when it is new or had
    /// failed already; a record queued, bound or done is left alone. Returns whether it wrote.
    pub fn fail_invalid(&mut self, record: &NewRecord, reason: &str) -> Result<bool, JournalError> {
        let conflicts = self.conflicts(std::slice::from_ref(record))?;
        if !conflicts.is_empty() {
            return Err(JournalError::Conflicts(conflicts));
        }
        let at = now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let code = record.tracking_code.as_str();
        let existing: Option<(i64, String)> = tx
            .query_row(
                "SELECT id, state FROM records WHERE tracking_code = ?1",
                [code],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let id = match existing {
            None => {
                tx.execute(
                    "INSERT INTO records (tracking_code, national_code, birth_date, state,
                                          reason, created_at, updated_at)
                     VALUES (?1, ?2, ?3, 'failed', ?4, ?5, ?5)",
                    params![
                        code,
                        record.national_code.to_string(),
                        record.birth_date.to_string(),
                        reason,
                        at
                    ],
                )?;
                tx.last_insert_rowid()
            }
            Some((id, state)) if state == RecordState::Failed.name() => {
                tx.execute(
                    "UPDATE records SET reason = ?2, updated_at = ?3 WHERE id = ?1",
                    params![id, reason, at],
                )?;
                id
            }
            Some(_) => return Ok(false),
        };
        event(&tx, id, at, &format!("failed: {reason}"))?;
        tx.commit()?;
        Ok(true)
    }

    /// The record a card is bound to (being personalized for it, or done on it), if any.
    pub fn binding(&self, serial: &str) -> Result<Option<RecordRow>, JournalError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM records WHERE card_serial = ?1 AND state <> 'failed'"
        ))?;
        Ok(stmt.query_row([serial], RecordRow::from_sql).optional()?)
    }

    /// Whether a record is in this connection's scope.
    pub fn in_scope(&self, tracking_code: &str) -> Result<bool, JournalError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM temp.scope WHERE tracking_code = ?1")?;
        Ok(stmt.exists([tracking_code])?)
    }

    /// Binds the first queued record of the scope to the card `serial`, in one transaction;
    /// `None` when nothing is queued.
    pub fn claim_next(
        &mut self,
        serial: &str,
        reader: &str,
    ) -> Result<Option<RecordRow>, JournalError> {
        let at = now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(tracking_code) = tx
            .query_row(
                "SELECT tracking_code FROM records WHERE card_serial = ?1 AND state <> 'failed'",
                [serial],
                |r| r.get::<_, String>(0),
            )
            .optional()?
        {
            return Err(JournalError::CardTaken {
                serial: serial.to_owned(),
                tracking_code,
            });
        }
        let next: Option<i64> = tx
            .query_row(
                "SELECT r.id FROM records r JOIN temp.scope s USING (tracking_code)
                 WHERE r.state = 'queued' ORDER BY r.id LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = next else {
            return Ok(None);
        };
        tx.execute(
            "UPDATE records SET state = 'personalizing', card_serial = ?2, step = NULL,
                    reason = NULL, attempts = attempts + 1, updated_at = ?3
             WHERE id = ?1",
            params![id, serial, at],
        )?;
        event(
            &tx,
            id,
            at,
            &format!("bound to card {serial} in reader {reader}"),
        )?;
        let row = row_by_id(&tx, id)?;
        tx.commit()?;
        Ok(Some(row))
    }

    /// Starts another personalization of the record bound to `serial` (its card came back).
    pub fn resume(
        &mut self,
        tracking_code: &str,
        serial: &str,
        reader: &str,
    ) -> Result<RecordRow, JournalError> {
        let at = now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = bound_id(&tx, tracking_code, serial)?;
        tx.execute(
            "UPDATE records SET attempts = attempts + 1, updated_at = ?2 WHERE id = ?1",
            params![id, at],
        )?;
        event(
            &tx,
            id,
            at,
            &format!("resumed on card {serial} in reader {reader}"),
        )?;
        let row = row_by_id(&tx, id)?;
        tx.commit()?;
        Ok(row)
    }

    /// Records that `step` is about to begin on the record's card. Committed before it returns,
    /// so the card is never ahead of the journal by more than the step under way.
    pub fn record_step(
        &mut self,
        tracking_code: &str,
        serial: &str,
        step: &str,
    ) -> Result<(), JournalError> {
        let mut stmt = self.conn.prepare_cached(
            "UPDATE records SET step = ?3, updated_at = ?4
             WHERE tracking_code = ?1 AND card_serial = ?2 AND state = 'personalizing'",
        )?;
        let changed = stmt.execute(params![tracking_code, serial, step, now()])?;
        if changed == 0 {
            return Err(binding_lost(tracking_code, serial));
        }
        Ok(())
    }

    /// The record's card is locked: the record is done.
    pub fn mark_done(
        &mut self,
        tracking_code: &str,
        serial: &str,
        note: &str,
    ) -> Result<(), JournalError> {
        let at = now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = bound_id(&tx, tracking_code, serial)?;
        tx.execute(
            "UPDATE records SET state = 'done', reason = NULL, updated_at = ?2, finished_at = ?2
             WHERE id = ?1",
            params![id, at],
        )?;
        event(&tx, id, at, &format!("done on card {serial}{note}"))?;
        tx.commit()?;
        Ok(())
    }

    /// The record's card went away (pulled, reset, not answering) before it was finished. If
    /// the card may already be locked (`may_be_locked`: the lock step was under way and its
    /// answer never came), the record stays bound to it and waits for it ([`Outcome::Held`]);
    /// otherwise it goes back to the queue for any card.
    pub fn put_back(
        &mut self,
        tracking_code: &str,
        serial: &str,
        reason: &str,
        may_be_locked: bool,
    ) -> Result<Outcome, JournalError> {
        let at = now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = bound_id(&tx, tracking_code, serial)?;
        let outcome = if may_be_locked {
            tx.execute(
                "UPDATE records SET reason = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, reason, at],
            )?;
            event(
                &tx,
                id,
                at,
                &format!("waits for card {serial}, which may be locked already: {reason}"),
            )?;
            Outcome::Held
        } else {
            requeue(&tx, id, reason, at)?;
            event(&tx, id, at, &format!("back in the queue: {reason}"))?;
            Outcome::Queued
        };
        tx.commit()?;
        Ok(outcome)
    }

    /// A card (or the issuer) refused the record: the card answered, so it is not locked. The
    /// record goes back to the queue, or fails once it has been refused `max_refusals` times.
    pub fn refuse(
        &mut self,
        tracking_code: &str,
        serial: &str,
        reason: &str,
        max_refusals: u32,
    ) -> Result<Outcome, JournalError> {
        let at = now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = bound_id(&tx, tracking_code, serial)?;
        let refusals: u32 = tx.query_row(
            "UPDATE records SET refusals = refusals + 1 WHERE id = ?1 RETURNING refusals",
            [id],
            |r| r.get(0),
        )?;
        let outcome = if refusals >= max_refusals {
            tx.execute(
                "UPDATE records SET state = 'failed', reason = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, reason, at],
            )?;
            event(
                &tx,
                id,
                at,
                &format!(
                    "failed on card {serial} (refusal {refusals} of {max_refusals}): {reason}"
                ),
            )?;
            Outcome::Failed
        } else {
            requeue(&tx, id, reason, at)?;
            event(
                &tx,
                id,
                at,
                &format!(
                    "refused on card {serial} (refusal {refusals} of {max_refusals}), back in the \
                     queue: {reason}"
                ),
            )?;
            Outcome::Queued
        };
        tx.commit()?;
        Ok(outcome)
    }

    /// Undoes a record's binding to its card by the operator's decision, `why` saying whose:
    /// the record goes back to the queue. Refused unless the record is bound and unfinished.
    pub fn release(&mut self, tracking_code: &str, why: &str) -> Result<Released, JournalError> {
        let at = now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row: Option<(i64, String, Option<String>, Option<String>)> = tx
            .query_row(
                "SELECT id, state, card_serial, step FROM records WHERE tracking_code = ?1",
                [tracking_code],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((id, state, serial, step)) = row else {
            return Err(JournalError::Unknown(tracking_code.to_owned()));
        };
        let (Some(serial), RecordState::Personalizing) = (
            serial,
            RecordState::from_name(&state).unwrap_or(RecordState::Failed),
        ) else {
            return Err(JournalError::NotBound {
                tracking_code: tracking_code.to_owned(),
                state: RecordState::from_name(&state).unwrap_or(RecordState::Failed),
            });
        };
        let reason = format!("binding to card {serial} released: {why}");
        requeue(&tx, id, &reason, at)?;
        event(&tx, id, at, &reason)?;
        tx.commit()?;
        Ok(Released {
            tracking_code: tracking_code.to_owned(),
            card_serial: serial,
            step,
        })
    }

    /// Releases the bindings of the scope untouched since `idle_since` whose card cannot be
    /// locked (the lock step was never begun) and is not in a reader now (`in_readers`).
    pub fn release_stale(
        &mut self,
        idle_since: Millis,
        in_readers: &HashSet<String>,
    ) -> Result<Vec<Released>, JournalError> {
        let at = now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let candidates: Vec<(i64, String, String, Option<String>)> = {
            let mut stmt = tx.prepare(
                "SELECT r.id, r.tracking_code, r.card_serial, r.step
                 FROM records r JOIN temp.scope s USING (tracking_code)
                 WHERE r.state = 'personalizing' AND r.step IS NOT ?1 AND r.updated_at <= ?2",
            )?;
            let rows = stmt.query_map(params![super::LOCK_STEP, idle_since], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let mut released = Vec::new();
        for (id, tracking_code, serial, step) in candidates {
            if in_readers.contains(&serial) {
                continue;
            }
            let reason = format!(
                "binding to card {serial} released: the card did not come back in time and was \
                 never locked"
            );
            requeue(&tx, id, &reason, at)?;
            event(&tx, id, at, &reason)?;
            released.push(Released {
                tracking_code,
                card_serial: serial,
                step,
            });
        }
        tx.commit()?;
        Ok(released)
    }

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
            match RecordState::from_name(&state) {
                Some(RecordState::Queued) => counts.queued = n,
                Some(RecordState::Personalizing) => counts.personalizing = n,
                Some(RecordState::Done) => counts.done = n,
                Some(RecordState::Failed) => counts.failed = n,
                None => {}
            }
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

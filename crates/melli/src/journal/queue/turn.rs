//! A card's turn: claimed or resumed, its steps, done, put back, refused or released.

use super::{binding_lost, bound_id, event, requeue, row_by_id, Outcome, Released};
use crate::journal::{now, Journal, JournalError, Millis, RecordRow, RecordState, ROW_COLUMNS};
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use std::collections::HashSet;

impl Journal {
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
            let rows = stmt.query_map(params![crate::journal::LOCK_STEP, idle_since], |r| {
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
}

//! Cards replaced by a later card of the same holder.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::event;
use crate::journal::{now, Journal, JournalError};

impl Journal {
    /// Card `old_serial` was replaced by card `new_serial` (locked) and its certificates were
    /// revoked as superseded: recorded once, with an event on the old card's record when the
    /// journal has it (an earlier card may have been made elsewhere).
    pub fn mark_replaced(
        &mut self,
        old_serial: &str,
        new_serial: &str,
    ) -> Result<(), JournalError> {
        let at = now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let inserted = tx.execute(
            "INSERT INTO replacements (old_serial, new_serial, at) VALUES (?1, ?2, ?3)
             ON CONFLICT (old_serial) DO NOTHING",
            params![old_serial, new_serial, at],
        )?;
        if inserted == 1 {
            let old: Option<i64> = tx
                .query_row(
                    "SELECT id FROM records WHERE card_serial = ?1 AND state = 'done'",
                    [old_serial],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = old {
                event(
                    &tx,
                    id,
                    at,
                    &format!(
                        "replaced by card {new_serial}: its certificates revoked (superseded)"
                    ),
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

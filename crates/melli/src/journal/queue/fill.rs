//! Filling the queue: the scope of a run, conflicts with other files, new records and invalid ones.

use super::{event, Enqueued};
use crate::journal::{now, Conflict, Journal, JournalError, NewRecord, RecordState};
use crate::pki::status_key::StatusKey;
use rusqlite::{params, OptionalExtension, TransactionBehavior};

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
    /// date (compared by `key`'s hash of the person, or by the date an older row kept). Reads
    /// only.
    pub fn conflicts(
        &self,
        records: &[NewRecord],
        key: &StatusKey,
    ) -> Result<Vec<Conflict>, JournalError> {
        let keyed = self.keeps_birth_keys()?;
        let mut stmt = self.conn.prepare_cached(if keyed {
            "SELECT national_code, birth_date, birth_key FROM records WHERE tracking_code = ?1"
        } else {
            "SELECT national_code, birth_date, NULL FROM records WHERE tracking_code = ?1"
        })?;
        let mut conflicts = Vec::new();
        for record in records {
            let existing: Option<(String, String, Option<Vec<u8>>)> = stmt
                .query_row([record.tracking_code.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            if let Some((national_code, birth_date, birth_key)) = existing {
                let same_person = match birth_key {
                    Some(stored) => stored == key.person(&record.national_code, &record.birth_date),
                    None => birth_date == record.birth_date.to_string(),
                };
                if national_code != record.national_code.to_string() || !same_person {
                    conflicts.push(Conflict {
                        tracking_code: record.tracking_code.to_string(),
                    });
                }
            }
        }
        Ok(conflicts)
    }

    /// Whether the file has the `birth_key` column (schema 3); one opened read-only at an
    /// older version has not.
    pub(crate) fn keeps_birth_keys(&self) -> Result<bool, JournalError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('records') WHERE name = 'birth_key'",
        )?;
        Ok(stmt.query_row([], |r| r.get(0))?)
    }

    /// Puts a batch's records in the journal, in order: new ones queued, failed ones queued
    /// again, unfinished and done ones left as they are. All or nothing:
    /// [`JournalError::Conflicts`] if a tracking code belongs to someone else in the journal.
    /// The person is kept as `key`'s hash of the national code and birth date, never the date.
    pub fn enqueue(
        &mut self,
        records: &[NewRecord],
        key: &StatusKey,
    ) -> Result<Enqueued, JournalError> {
        let conflicts = self.conflicts(records, key)?;
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
                        "INSERT INTO records (tracking_code, national_code, birth_date, birth_key,
                                              created_at, updated_at)
                         VALUES (?1, ?2, '', ?3, ?4, ?4)",
                        params![
                            code,
                            record.national_code.to_string(),
                            key.person(&record.national_code, &record.birth_date)
                                .to_vec(),
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
    pub fn fail_invalid(
        &mut self,
        record: &NewRecord,
        reason: &str,
        key: &StatusKey,
    ) -> Result<bool, JournalError> {
        let conflicts = self.conflicts(std::slice::from_ref(record), key)?;
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
                    "INSERT INTO records (tracking_code, national_code, birth_date, birth_key,
                                          state, reason, created_at, updated_at)
                     VALUES (?1, ?2, '', ?3, 'failed', ?4, ?5, ?5)",
                    params![
                        code,
                        record.national_code.to_string(),
                        key.person(&record.national_code, &record.birth_date)
                            .to_vec(),
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
}

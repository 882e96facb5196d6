//! The shared journal's records outside a station's work: importing them (`melli batch
//! import`), a supervisor's release (`melli batch release`), and looking one up (`melli
//! status`).

use ::postgres::GenericClient;
use sha2::{Digest, Sha256};

use super::PgJournal;
use crate::journal::{Conflict, Enqueued, JournalError, RecordState, Released};
use crate::model::{JalaliDate, NationalCode, TrackingCode, ValidRecord};
use crate::pki::status_key::StatusKey;

impl PgJournal {
    /// Imports records, all or nothing, in one transaction: new ones queued; one imported
    /// before with the same content left as it is (failed ones queued again); a tracking code
    /// the journal holds with other content refused ([`JournalError::Conflicts`], nothing
    /// written). The birth date is kept only as the keyed hash `key` makes of the person.
    pub fn import(
        &mut self,
        records: &[&ValidRecord],
        key: &StatusKey,
        station: &str,
    ) -> Result<Enqueued, JournalError> {
        let target = self.target.clone();
        let mut tx = self
            .client
            .transaction()
            .map_err(|e| super::sql_error(&target, &e))?;
        let result = import_in(&mut tx, records, key, station);
        match result {
            Ok(Ok(report)) => {
                tx.commit().map_err(|e| super::sql_error(&target, &e))?;
                Ok(report)
            }
            Ok(Err(e)) => Err(e),
            Err(e) => Err(super::sql_error(&target, &e).into()),
        }
    }

    /// Undoes a record's binding to its card by a supervisor's decision (`why`): the record
    /// goes back to the queue. Refused unless it is bound and unfinished.
    pub fn release(&mut self, tracking_code: &str, why: &str) -> Result<Released, JournalError> {
        let target = self.target.clone();
        let sql = |e: ::postgres::Error| JournalError::from(super::sql_error(&target, &e));
        let mut tx = self.client.transaction().map_err(sql)?;
        let found = tx
            .query_opt(
                "SELECT id, state, card_serial, step FROM records WHERE tracking_code = $1
                 FOR UPDATE",
                &[&tracking_code],
            )
            .map_err(sql)?;
        let Some(r) = found else {
            return Err(JournalError::Unknown(tracking_code.to_owned()));
        };
        let state = RecordState::from_name(r.get("state")).unwrap_or(RecordState::Failed);
        let (Some(serial), RecordState::Personalizing) = (r.get::<_, Option<String>>(2), state)
        else {
            return Err(JournalError::NotBound {
                tracking_code: tracking_code.to_owned(),
                state,
            });
        };
        let id: i64 = r.get("id");
        let reason = format!("binding to card {serial} released: {why}");
        super::queue::requeue(&mut tx, id, &reason).map_err(sql)?;
        tx.execute(
            "INSERT INTO events (record_id, event) VALUES ($1, $2)",
            &[&id, &reason],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(Released {
            tracking_code: tracking_code.to_owned(),
            card_serial: serial,
            step: r.get("step"),
        })
    }
}

/// What a tracking code already holds, to tell the same record from another.
struct Existing {
    id: i64,
    state: String,
    same: bool,
    reason: Option<String>,
}

fn import_in(
    tx: &mut impl GenericClient,
    records: &[&ValidRecord],
    key: &StatusKey,
    station: &str,
) -> Result<Result<Enqueued, JournalError>, ::postgres::Error> {
    // Every tracking code is checked before anything is written.
    let mut conflicts = Vec::new();
    let mut plan = Vec::with_capacity(records.len());
    for &record in records {
        let package = record.to_package();
        let sha: Vec<u8> = Sha256::digest(&package).to_vec();
        let identity = record.identity();
        let birth_key = key
            .person(&identity.national_code(), &identity.birth_date())
            .to_vec();
        let code = record.tracking_code().as_str();
        let existing = tx
            .query_opt(
                "SELECT id, state, content_sha256 = $2 AS same, reason FROM records
                 WHERE tracking_code = $1 FOR UPDATE",
                &[&code, &sha],
            )?
            .map(|r| Existing {
                id: r.get("id"),
                state: r.get("state"),
                same: r.get("same"),
                reason: r.get("reason"),
            });
        if existing.as_ref().is_some_and(|e| !e.same) {
            conflicts.push(Conflict {
                tracking_code: code.to_owned(),
            });
        }
        plan.push((record, package, sha, birth_key, existing));
    }
    if !conflicts.is_empty() {
        return Ok(Err(JournalError::Conflicts(conflicts)));
    }
    let mut report = Enqueued::default();
    for (record, package, sha, birth_key, existing) in plan {
        let code = record.tracking_code().as_str();
        match existing {
            None => {
                let id: i64 = tx
                    .query_one(
                        "INSERT INTO records (tracking_code, national_code, birth_key,
                                              content_sha256, content)
                         VALUES ($1, $2, $3, $4, $5) RETURNING id",
                        &[
                            &code,
                            &record.identity().national_code().to_string(),
                            &birth_key,
                            &sha,
                            &package,
                        ],
                    )?
                    .get(0);
                tx.execute(
                    "INSERT INTO events (record_id, event) VALUES ($1, $2)",
                    &[&id, &format!("imported at station {station}, queued")],
                )?;
                report.new += 1;
            }
            Some(e) if e.state == RecordState::Failed.name() => {
                tx.execute(
                    "UPDATE records SET state = 'queued', card_serial = NULL, step = NULL,
                            reason = NULL, refusals = 0, updated_at = now()
                     WHERE id = $1",
                    &[&e.id],
                )?;
                let had = e.reason.unwrap_or_else(|| "no reason kept".to_owned());
                tx.execute(
                    "INSERT INTO events (record_id, event) VALUES ($1, $2)",
                    &[
                        &e.id,
                        &format!("queued again by an import (it had failed: {had})"),
                    ],
                )?;
                report.again += 1;
            }
            Some(e) if e.state == RecordState::Done.name() => report.done += 1,
            Some(_) => report.unfinished += 1,
        }
    }
    Ok(Ok(report))
}

/// A record as `melli status` shows it from the shared journal.
impl PgJournal {
    /// The record with this tracking code, exactly so or else the only one that differs from
    /// it in letter case alone.
    pub fn by_tracking_code(
        &mut self,
        tracking_code: &TrackingCode,
    ) -> Result<Option<crate::journal::RecordRow>, JournalError> {
        let target = self.target.clone();
        let sql = |e: ::postgres::Error| JournalError::from(super::sql_error(&target, &e));
        let columns = super::queue::COLUMNS;
        if let Some(r) = self
            .client
            .query_opt(
                &format!("SELECT {columns} FROM records WHERE tracking_code = $1"),
                &[&tracking_code.as_str()],
            )
            .map_err(sql)?
        {
            return super::queue::row(&r).map(Some);
        }
        let found = self
            .client
            .query(
                &format!(
                    "SELECT {columns} FROM records WHERE lower(tracking_code) = lower($1) LIMIT 2"
                ),
                &[&tracking_code.as_str()],
            )
            .map_err(sql)?;
        match found.as_slice() {
            [one] => super::queue::row(one).map(Some),
            _ => Ok(None),
        }
    }

    /// The latest record of the person with this national code and birth date, found by the
    /// keyed hash alone: the journal has no birth date to compare.
    pub fn by_person(
        &mut self,
        national_code: &NationalCode,
        birth_date: &JalaliDate,
        key: &StatusKey,
    ) -> Result<Option<crate::journal::RecordRow>, JournalError> {
        let target = self.target.clone();
        let sql = |e: ::postgres::Error| JournalError::from(super::sql_error(&target, &e));
        let birth_key = key.person(national_code, birth_date).to_vec();
        let found = self
            .client
            .query_opt(
                &format!(
                    "SELECT {} FROM records WHERE national_code = $1 AND birth_key = $2
                     ORDER BY id DESC LIMIT 1",
                    super::queue::COLUMNS
                ),
                &[&national_code.to_string(), &birth_key],
            )
            .map_err(sql)?;
        found.as_ref().map(super::queue::row).transpose()
    }

    /// The card that replaced card `serial`, if one did.
    pub fn replaced_by(&mut self, serial: &str) -> Result<Option<String>, JournalError> {
        let target = self.target.clone();
        let found = self
            .client
            .query_opt(
                "SELECT new_serial FROM replacements WHERE old_serial = $1",
                &[&serial],
            )
            .map_err(|e| JournalError::from(super::sql_error(&target, &e)))?;
        Ok(found.map(|r| r.get(0)))
    }
}

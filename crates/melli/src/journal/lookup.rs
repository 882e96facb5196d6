//! Reading one record back: what `melli status` asks.

use rusqlite::{params, OptionalExtension};

use super::{Journal, JournalError, RecordRow, ROW_COLUMNS};
use crate::model::{JalaliDate, NationalCode, TrackingCode};
use crate::pki::status_key::StatusKey;

impl Journal {
    /// The record with this tracking code: the one written exactly so, or else the only one
    /// that differs from it in letter case alone (`ab12cd` typed for `AB12CD`). Two records
    /// that differ in case only are both there to be found, each by its exact spelling.
    pub fn by_tracking_code(
        &self,
        tracking_code: &TrackingCode,
    ) -> Result<Option<RecordRow>, JournalError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM records WHERE tracking_code = ?1"
        ))?;
        if let Some(row) = stmt
            .query_row([tracking_code.as_str()], RecordRow::from_sql)
            .optional()?
        {
            return Ok(Some(row));
        }
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM records WHERE tracking_code = ?1 COLLATE NOCASE LIMIT 2"
        ))?;
        let mut rows = stmt
            .query_map([tracking_code.as_str()], RecordRow::from_sql)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if rows.len() == 1 { rows.pop() } else { None })
    }

    /// The latest record of the person with this national code *and* birth date. Both are
    /// matched in one query — by `key`'s hash of the person, or by the date a row of an older
    /// journal kept — so a wrong birth date and an unknown national code are the same "none"
    /// by the same path.
    pub fn by_person(
        &self,
        national_code: &NationalCode,
        birth_date: &JalaliDate,
        key: &StatusKey,
    ) -> Result<Option<RecordRow>, JournalError> {
        let person = key.person(national_code, birth_date).to_vec();
        let date = birth_date.to_string();
        let code = national_code.to_string();
        if !self.keeps_birth_keys()? {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} FROM records WHERE national_code = ?1 AND birth_date = ?2
                 ORDER BY id DESC LIMIT 1"
            ))?;
            return Ok(stmt
                .query_row(params![code, date], RecordRow::from_sql)
                .optional()?);
        }
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM records
             WHERE national_code = ?1
               AND (birth_key = ?2 OR (birth_key IS NULL AND birth_date = ?3))
             ORDER BY id DESC LIMIT 1"
        ))?;
        Ok(stmt
            .query_row(params![code, person, date], RecordRow::from_sql)
            .optional()?)
    }

    /// Rows of an older journal that still keep a birth date in clear.
    pub fn clear_birth_dates(&self) -> Result<u64, JournalError> {
        if !self.keeps_birth_keys()? {
            return Ok(self.conn.query_row(
                "SELECT COUNT(*) FROM records WHERE birth_date <> ''",
                [],
                |r| r.get(0),
            )?);
        }
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM records WHERE birth_key IS NULL AND birth_date <> ''",
            [],
            |r| r.get(0),
        )?)
    }

    /// Replaces every birth date kept in clear by `key`'s hash of the person, in one
    /// transaction; how many rows it changed. A row whose date or national code does not
    /// parse (written by hand) is left as it is and counted in [`Self::clear_birth_dates`].
    pub fn hash_birth_dates(&mut self, key: &StatusKey) -> Result<u64, JournalError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let rows: Vec<(i64, String, String)> = {
            let mut stmt = tx.prepare(
                "SELECT id, national_code, birth_date FROM records
                 WHERE birth_key IS NULL AND birth_date <> ''",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut changed = 0;
        for (id, code, date) in rows {
            let (Ok(code), Ok(date)) = (NationalCode::parse(&code), JalaliDate::parse(&date))
            else {
                continue;
            };
            tx.execute(
                "UPDATE records SET birth_key = ?2, birth_date = '' WHERE id = ?1",
                params![id, key.person(&code, &date).to_vec()],
            )?;
            changed += 1;
        }
        tx.commit()?;
        Ok(changed)
    }
}

impl Journal {
    /// The card that replaced card `serial`, if one did. A version 1 journal (before
    /// replacements were kept), read without upgrading it, has none.
    pub fn replaced_by(&self, serial: &str) -> Result<Option<String>, JournalError> {
        let kept: bool = self.conn.query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'replacements'",
            [],
            |r| r.get(0),
        )?;
        if !kept {
            return Ok(None);
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT new_serial FROM replacements WHERE old_serial = ?1")?;
        Ok(stmt.query_row([serial], |r| r.get(0)).optional()?)
    }
}

//! Reading one record back: what `melli status` asks.

use rusqlite::OptionalExtension;

use super::{Journal, JournalError, RecordRow, ROW_COLUMNS};
use crate::model::{JalaliDate, NationalCode, TrackingCode};

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
    /// matched in one query, so a wrong birth date and an unknown national code are the same
    /// "none" by the same path.
    pub fn by_person(
        &self,
        national_code: &NationalCode,
        birth_date: &JalaliDate,
    ) -> Result<Option<RecordRow>, JournalError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM records WHERE national_code = ?1 AND birth_date = ?2
             ORDER BY id DESC LIMIT 1"
        ))?;
        Ok(stmt
            .query_row(
                [national_code.to_string(), birth_date.to_string()],
                RecordRow::from_sql,
            )
            .optional()?)
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

//! "Where is my card?": a record's state in plain words, found by tracking code or by national
//! code and birth date together.
//!
//! A national code with a wrong birth date gets exactly the answer an unknown national code
//! gets — the same words, the same JSON, the same exit code — so the lookup cannot be used to
//! learn whether someone has applied, nor to guess a birth date.

use crate::journal::postgres::PgJournal;
use crate::journal::{self, Journal, JournalError, RecordRow, RecordState};
use crate::model::{JalaliDate, NationalCode, TrackingCode};
use crate::pki::status_key::StatusKey;

/// What the citizen gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    TrackingCode(TrackingCode),
    Person {
        national_code: NationalCode,
        birth_date: JalaliDate,
    },
}

/// The answer, in plain words and as data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatusAnswer {
    pub found: bool,
    /// One sentence for the citizen.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<RecordState>,
    /// The card's serial, once it is ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_serial: Option<String>,
    /// When the card was finished, Solar Hijri `YYYY/MM/DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// Why making the card failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The card that replaced this one: this card's certificates are revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
}

/// The answer when nothing matches: the same for every query that matches nothing.
pub const NOT_FOUND: &str =
    "no card application matches these details: check them, or ask the office that enrolled you";

/// Looks the query up in the journal; a query by person through `key`'s hash of it (the
/// journal keeps no birth date).
pub fn lookup(
    journal: &Journal,
    query: &Query,
    key: &StatusKey,
) -> Result<StatusAnswer, JournalError> {
    let row = match query {
        Query::TrackingCode(code) => journal.by_tracking_code(code)?,
        Query::Person {
            national_code,
            birth_date,
        } => journal.by_person(national_code, birth_date, key)?,
    };
    answered(row, |serial| journal.replaced_by(serial))
}

/// Looks the query up in the shared journal on PostgreSQL, as [`lookup`] does.
pub fn lookup_shared(
    journal: &mut PgJournal,
    query: &Query,
    key: &StatusKey,
) -> Result<StatusAnswer, JournalError> {
    let row = match query {
        Query::TrackingCode(code) => journal.by_tracking_code(code)?,
        Query::Person {
            national_code,
            birth_date,
        } => journal.by_person(national_code, birth_date, key)?,
    };
    answered(row, |serial| journal.replaced_by(serial))
}

/// The answer for `row`, asking `replaced_by` for the card that replaced its card when it is
/// done.
fn answered(
    row: Option<RecordRow>,
    replaced_by: impl FnOnce(&str) -> Result<Option<String>, JournalError>,
) -> Result<StatusAnswer, JournalError> {
    let replacement = match row.as_ref() {
        Some(RecordRow {
            state: RecordState::Done,
            card_serial: Some(serial),
            ..
        }) => replaced_by(serial)?,
        _ => None,
    };
    Ok(answer(row.as_ref(), replacement))
}

/// A row (or none) in words; `replaced_by`: the card that replaced the row's card.
pub fn answer(row: Option<&RecordRow>, replaced_by: Option<String>) -> StatusAnswer {
    let Some(row) = row else {
        return StatusAnswer {
            found: false,
            message: NOT_FOUND.to_owned(),
            state: None,
            card_serial: None,
            finished: None,
            reason: None,
            replaced_by: None,
        };
    };
    let mut answer = StatusAnswer {
        found: true,
        message: String::new(),
        state: Some(row.state),
        card_serial: None,
        finished: None,
        reason: None,
        replaced_by: None,
    };
    answer.message = match row.state {
        RecordState::Queued => "your card is waiting to be made".to_owned(),
        RecordState::Personalizing => "your card is being made".to_owned(),
        RecordState::Done => {
            let serial = row.card_serial.clone().unwrap_or_default();
            let finished = row
                .finished_at
                .and_then(journal::jalali_date)
                .map(|d| d.to_string());
            let when = finished
                .as_deref()
                .map_or_else(String::new, |d| format!(", finished {d}"));
            let message = match &replaced_by {
                Some(new) => format!(
                    "your card {serial}{when} was replaced by card {new} and no longer works: \
                     its certificates are revoked"
                ),
                None => format!("your card is ready (card serial {serial}{when})"),
            };
            answer.replaced_by = replaced_by;
            answer.card_serial = Some(serial);
            answer.finished = finished;
            message
        }
        RecordState::Failed => {
            let reason = row
                .reason
                .clone()
                .unwrap_or_else(|| "no reason was recorded".to_owned());
            let message = format!("making your card failed: {reason}; it will be made again");
            answer.reason = Some(reason);
            message
        }
    };
    answer
}

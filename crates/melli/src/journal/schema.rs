//! The journal's tables, and the version check that keeps an old melli away from a newer
//! journal (`PRAGMA user_version`).

use rusqlite::Connection;

/// The schema this melli writes and reads.
pub const SCHEMA_VERSION: i64 = 3;

/// `PRAGMA application_id` of a melli journal: "MLLJ".
pub const APPLICATION_ID: i64 = 0x4D4C_4C4A;

/// Version 1. One row per enrolment record; a card serial is unique among the rows that are
/// not `failed`, so a card can never carry two records. `personalizing` and `done` rows always
/// name their card; `queued` rows never do.
const V1: &str = "
CREATE TABLE records (
    id            INTEGER PRIMARY KEY,
    tracking_code TEXT    NOT NULL UNIQUE,
    national_code TEXT    NOT NULL,
    birth_date    TEXT    NOT NULL,
    state         TEXT    NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'personalizing', 'done', 'failed')),
    reason        TEXT,
    card_serial   TEXT,
    step          TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    refusals      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    CHECK (state NOT IN ('personalizing', 'done') OR card_serial IS NOT NULL),
    CHECK (state <> 'queued' OR card_serial IS NULL)
);
CREATE UNIQUE INDEX records_one_per_card ON records (card_serial) WHERE state <> 'failed';
CREATE INDEX records_by_person ON records (national_code, birth_date);
CREATE INDEX records_by_state ON records (state, id);
CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    record_id INTEGER REFERENCES records (id),
    at        INTEGER NOT NULL,
    event     TEXT    NOT NULL
);
CREATE INDEX events_by_record ON events (record_id, id);
";

/// Version 2: cards replaced by a later card of the same holder, whose certificates the issuer
/// revoked (superseded) when the new card was locked. A version 1 journal gets this table the
/// next time a batch opens it; a lookup reads a version 1 journal as one without replacements.
const V2: &str = "
CREATE TABLE replacements (
    old_serial TEXT    PRIMARY KEY,
    new_serial TEXT    NOT NULL,
    at         INTEGER NOT NULL
);
";

/// Version 3: the person's birth date is no longer kept. `birth_key` is the keyed hash of the
/// national code and birth date under the issuer's status key
/// ([`StatusKey`](crate::pki::status_key::StatusKey)), and a row written so has an empty
/// `birth_date`. Rows of an older journal keep their date until `melli journal migrate
/// --issuer` hashes them (the key is the issuer's: opening the file cannot do it).
const V3: &str = "
ALTER TABLE records ADD COLUMN birth_key BLOB
    CHECK (birth_key IS NULL OR length(birth_key) = 32);
CREATE INDEX records_by_person_key ON records (national_code, birth_key);
";

/// What a database file turned out to hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// Our schema, current version.
    Current,
    /// Nothing yet: the schema was created.
    Created,
    /// Nothing yet, and nothing was created ([`check`]).
    Empty,
    /// Tables of some other program.
    Foreign,
    /// A melli journal of an earlier schema version, which a batch brings up to date.
    Old(i64),
    /// A melli journal of a later schema version.
    TooNew(i64),
}

/// What the database holds, read without changing anything (no transaction is begun that
/// could wait for a writer, nothing is created).
pub fn check(conn: &Connection) -> rusqlite::Result<Found> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let app: i64 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let tables: i64 = conn.query_row(
        "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'",
        [],
        |r| r.get(0),
    )?;
    Ok(classify(version, app, tables))
}

fn classify(version: i64, app: i64, tables: i64) -> Found {
    match (version, app, tables) {
        (0, 0, 0) => Found::Empty,
        (SCHEMA_VERSION, APPLICATION_ID, _) => Found::Current,
        (v, APPLICATION_ID, _) if v > SCHEMA_VERSION => Found::TooNew(v),
        (v, APPLICATION_ID, _) if v >= 1 => Found::Old(v),
        _ => Found::Foreign,
    }
}

/// Creates the schema in an empty database, or checks the one there.
pub fn prepare(conn: &mut Connection) -> rusqlite::Result<Found> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let app: i64 = tx.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let tables: i64 = tx.query_row(
        "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'",
        [],
        |r| r.get(0),
    )?;
    let found = match classify(version, app, tables) {
        Found::Empty => {
            tx.execute_batch(V1)?;
            tx.execute_batch(V2)?;
            tx.execute_batch(V3)?;
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            Found::Created
        }
        Found::Old(1) => {
            tx.execute_batch(V2)?;
            tx.execute_batch(V3)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            Found::Current
        }
        Found::Old(2) => {
            tx.execute_batch(V3)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            Found::Current
        }
        other => other,
    };
    tx.commit()?;
    Ok(found)
}

//! The shared journal's tables, versioned in `melli_schema`, and the migrations that make them.
//!
//! Each migration runs in one transaction that first takes a transaction-scoped advisory lock
//! ([`MIGRATION_LOCK`]): two stations migrating the same database at once take turns, and the
//! second finds the work done. A database whose `melli_schema` names a version this melli does
//! not know is refused, never written to.

use ::postgres::GenericClient;

/// The schema this melli writes and reads.
pub const SCHEMA_VERSION: i32 = 1;

/// The key of the advisory lock every migration holds: "mellijr1" in ASCII, so it is not
/// likely to be another program's.
pub const MIGRATION_LOCK: i64 = 0x6D65_6C6C_696A_7231;

/// The tables version 1 makes; one of them in a database without `melli_schema` means the
/// database is another program's.
const V1_TABLES: &[&str] = &["stations", "records", "events", "replacements"];

/// Version 1: the shared queue.
///
/// - `stations`: each `melli batch run --station NAME` that has worked the queue, and when it
///   was last heard of.
/// - `records`: one row per enrolment record, with the same states, CHECKs and one-card-per-
///   record index as the SQLite journal. Unlike SQLite, the birth date is not kept: `birth_key`
///   is a keyed hash of the national code and birth date (the key is the issuer's), enough for
///   `melli status` to match a person without a stolen database giving the pair away. The
///   record's enrolment content (what the stations personalize from) stays only while the
///   record may still be made: it is cleared when the record is done, and `content_sha256`
///   stays, so that importing the same tracking code again is recognised as the same record or
///   refused as another. A station holds a record by a lease (station, reader, expiry); the
///   lease is whole or absent. `made_by` is the station that finished the card.
/// - `events`: each record's history, and events about cards that matched no record.
/// - `replacements`: cards replaced by a later card of the same holder (as in SQLite v2).
const V1: &str = "
CREATE TABLE stations (
    name       text        PRIMARY KEY CHECK (name <> '' AND length(name) <= 64),
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now(),
    host       text,
    pid        integer,
    readers    integer     CHECK (readers >= 0)
);
CREATE TABLE records (
    id               bigserial   PRIMARY KEY,
    tracking_code    text        NOT NULL UNIQUE,
    national_code    text        NOT NULL,
    birth_key        bytea       NOT NULL CHECK (length(birth_key) = 32),
    content_sha256   bytea       NOT NULL CHECK (length(content_sha256) = 32),
    content          bytea,
    state            text        NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'personalizing', 'done', 'failed')),
    reason           text,
    card_serial      text,
    step             text,
    attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    refusals         integer     NOT NULL DEFAULT 0 CHECK (refusals >= 0),
    lease_station    text        REFERENCES stations (name),
    lease_reader     text,
    lease_expires_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    made_by          text        REFERENCES stations (name),
    CHECK (state NOT IN ('personalizing', 'done') OR card_serial IS NOT NULL),
    CHECK (state <> 'queued' OR card_serial IS NULL),
    CHECK ((state = 'done') = (content IS NULL)),
    CHECK ((lease_station IS NULL) = (lease_expires_at IS NULL)),
    CHECK (lease_reader IS NULL OR lease_station IS NOT NULL)
);
CREATE UNIQUE INDEX records_one_per_card ON records (card_serial) WHERE state <> 'failed';
CREATE INDEX records_by_person ON records (national_code, birth_key);
CREATE INDEX records_by_state ON records (state, id);
CREATE INDEX records_by_lease ON records (lease_expires_at) WHERE lease_station IS NOT NULL;
CREATE TABLE events (
    id        bigserial   PRIMARY KEY,
    record_id bigint      REFERENCES records (id),
    station   text        REFERENCES stations (name),
    at        timestamptz NOT NULL DEFAULT now(),
    event     text        NOT NULL
);
CREATE INDEX events_by_record ON events (record_id, id);
CREATE TABLE replacements (
    old_serial text        PRIMARY KEY,
    new_serial text        NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
";

/// One step of the schema.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The version the schema has once this step ran.
    pub version: i32,
    pub sql: &'static str,
}

/// Every step, in order: version n is made by the n-th.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    sql: V1,
}];

/// What a migration run found and left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Migrated {
    /// The version before (none: no melli schema yet).
    pub before: Option<i32>,
    pub after: i32,
}

/// Why a migration run stopped.
#[derive(Debug)]
pub enum MigrateError {
    /// `melli_schema` names a version newer than the steps known.
    TooNew(i32),
    /// The database holds tables of a melli journal's names but no `melli_schema`.
    Foreign(Vec<String>),
    Sql(::postgres::Error),
}

impl From<::postgres::Error> for MigrateError {
    fn from(e: ::postgres::Error) -> Self {
        MigrateError::Sql(e)
    }
}

/// Whether `steps` go 1, 2, 3 … with no gap and no repeat: a list that does not is a bug.
pub fn in_order(steps: &[Migration]) -> bool {
    steps
        .iter()
        .zip(1..)
        .all(|(step, version)| step.version == version)
}

/// The version in `melli_schema` (none when there is no such table or it is empty), read
/// without changing anything.
pub fn version(client: &mut impl GenericClient) -> Result<Option<i32>, ::postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('melli_schema') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(None);
    }
    client
        .query_one("SELECT max(version) FROM melli_schema", &[])
        .map(|row| row.get(0))
}

/// Brings the schema up to the last of `steps`, one transaction per step under the
/// advisory lock.
pub fn migrate(
    client: &mut ::postgres::Client,
    steps: &[Migration],
) -> Result<Migrated, MigrateError> {
    assert!(in_order(steps), "migrations out of order");
    let latest = steps.last().map_or(0, |s| s.version);
    let mut before = None;
    loop {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        let current = version(&mut tx)?;
        let first = *before.get_or_insert(current);
        let current = current.unwrap_or(0);
        if current > latest {
            return Err(MigrateError::TooNew(current));
        }
        let Some(step) = steps.iter().find(|s| s.version == current + 1) else {
            tx.commit()?;
            return Ok(Migrated {
                before: first,
                after: current,
            });
        };
        if current == 0 {
            let found: Vec<String> = tx
                .query(
                    "SELECT tablename::text FROM pg_tables
                     WHERE schemaname = current_schema() AND tablename = ANY($1)
                     ORDER BY tablename",
                    &[&V1_TABLES],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            if !found.is_empty() {
                return Err(MigrateError::Foreign(found));
            }
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS melli_schema (
                     version    integer     PRIMARY KEY,
                     applied_at timestamptz NOT NULL DEFAULT now()
                 )",
            )?;
        }
        tx.batch_execute(step.sql)?;
        tx.execute(
            "INSERT INTO melli_schema (version) VALUES ($1)",
            &[&step.version],
        )?;
        tx.commit()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_steps_are_in_order_and_end_at_the_schema_version() {
        assert!(in_order(MIGRATIONS));
        assert_eq!(MIGRATIONS.last().map(|s| s.version), Some(SCHEMA_VERSION));
        let step = |version| Migration { version, sql: "" };
        assert!(in_order(&[step(1), step(2)]));
        assert!(!in_order(&[step(2), step(1)]));
        assert!(!in_order(&[step(1), step(3)]));
        assert!(!in_order(&[step(1), step(1)]));
        assert!(!in_order(&[step(0)]));
    }
}

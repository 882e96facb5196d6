//! The shared queue: a station's worker on the PostgreSQL journal ([`Queue`]).
//!
//! What differs from SQLite is that many stations work on one queue and any of them may die,
//! or lose the server, at any moment:
//!
//! - **Claims** take the first queued record with `FOR UPDATE SKIP LOCKED`: two stations never
//!   wait for each other's row, and never take the same one. The unique index on the card
//!   serial (unfinished records) makes a second binding of one card fail in the database
//!   itself, whatever the stations believe.
//! - **Leases.** A claimed record carries the station, the reader and an expiry; every step
//!   renews it. A step is written only while the record is still this station's
//!   (`lease_station`): if another station released it meanwhile, the step finds the binding
//!   lost and the card is set aside, never finished for a record someone else may make.
//! - **A station that died**: its records whose lease has run out go back to the queue,
//!   unless their card was already written to (a step after the secure channel was
//!   journaled): that record is *bound* to its card and waits for it, at any station (the
//!   card's serial and lifecycle decide), or for `melli batch release`.
//! - **The server goes away**: every statement is tried again on a new connection, with
//!   backoff, for as long as [`StationOptions::reconnect_for`] allows, and no record is
//!   claimed meanwhile. A card in hand whose record is bound is *finished*: its steps, and its
//!   lock, go to the station's [`LocalLog`] (synced before the journal is asked), and the
//!   journal is told it is done once the server is back — or, if the station stops first, by
//!   [`StationPool::reconcile`] when it starts again. Nobody else can take a bound record, so
//!   finishing it unheard doubles nothing. Every statement is written so that running it
//!   twice (the first answer lost with the connection) does what running it once does.

use std::collections::HashSet;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ::postgres::error::SqlState;
use ::postgres::{Client, GenericClient, Row};
use r2d2::{NopErrorHandler, Pool};
use r2d2_postgres::PostgresConnectionManager;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::local_log::{Entry, LocalLog, Pending, What};
use super::{sql_error, tls_connector, PgError, PgJournal, PgTarget};
use crate::display::escaped;
use crate::journal::{
    self, Counts, JournalError, Millis, Outcome, Queue, RecordRow, RecordState, Released,
    FIRST_STEP,
};
use crate::model::ValidRecord;

/// How long a claim lasts without a step, unless the station says.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// How long a statement is tried again while the server is away, unless the station says.
pub const DEFAULT_RECONNECT_FOR: Duration = Duration::from_secs(10 * 60);

/// The first and the longest pause between two connection attempts.
const BACKOFF_FIRST: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The columns [`row`] reads, times as milliseconds since 1970.
pub(super) const COLUMNS: &str =
    "tracking_code, national_code, state, reason, card_serial, step, attempts, \
     refusals, (extract(epoch FROM created_at) * 1000)::bigint AS created_ms, \
     (extract(epoch FROM updated_at) * 1000)::bigint AS updated_ms, \
     (extract(epoch FROM finished_at) * 1000)::bigint AS finished_ms";

/// What a worker's connection to the shared queue reports about the connection itself.
pub trait ConnectionWatch: Send + Sync {
    /// The server went away; attempts to reconnect begin.
    fn lost(&self, error: &str);
    /// The server went away while card `serial` was being made for `tracking_code`: the card
    /// is finished, kept in the station's local log until the journal can be told.
    fn finishing(&self, tracking_code: &str, serial: &str, error: &str);
    /// Connected again after `seconds`.
    fn back(&self, seconds: f64);
}

/// A station's connections to the shared journal: one pool (`r2d2`) for all its readers'
/// workers, each worker a [`PgQueue`] drawing from it.
#[derive(Clone)]
pub struct StationPool {
    pool: Pool<PostgresConnectionManager<MakeRustlsConnect>>,
    target: PgTarget,
    options: StationOptions,
    log: Option<Arc<LocalLog>>,
}

impl std::fmt::Debug for StationPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StationPool")
            .field("target", &self.target)
            .field("station", &self.options.station)
            .finish_non_exhaustive()
    }
}

/// The most connections one station opens.
const POOL_SIZE: u32 = 16;

/// How long a worker waits for a connection from the pool before it counts as lost.
const POOL_WAIT: Duration = Duration::from_secs(2);

impl StationPool {
    /// Connects as `options.station` to a migrated journal, registering the station, and
    /// makes the pool its workers draw from. The first connection is made here, alone, so
    /// that a server that refuses, does not answer or has no schema is told as such.
    pub fn open(target: &PgTarget, options: &StationOptions) -> Result<StationPool, JournalError> {
        // Locked first: a second process as this station is refused before it connects.
        let log = options
            .local_log
            .as_deref()
            .map(|path| LocalLog::open(path, &options.station).map(Arc::new))
            .transpose()?;
        let mut journal = PgJournal::open(target)?;
        journal
            .client
            .execute(
                "INSERT INTO stations (name, host, pid) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE
                 SET last_seen = now(), host = EXCLUDED.host, pid = EXCLUDED.pid",
                &[
                    &options.station,
                    &host_name(),
                    &i32::try_from(std::process::id()).ok(),
                ],
            )
            .map_err(|e| sql_error(target, &e))?;
        let manager =
            PostgresConnectionManager::new(target.config().clone(), tls_connector(target)?);
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(0))
            .connection_timeout(POOL_WAIT)
            // A broken connection is found by its failing statement, and tried again.
            .test_on_check_out(false)
            .error_handler(Box::new(NopErrorHandler))
            .build_unchecked(manager);
        Ok(StationPool {
            pool,
            target: target.clone(),
            options: options.clone(),
            log,
        })
    }

    /// A worker's handle on the queue.
    pub fn queue(&self) -> PgQueue {
        PgQueue {
            pool: self.clone(),
            lease_seconds: self.options.lease.as_secs_f64(),
            hand: None,
        }
    }

    /// Tells the journal of the cards this station locked and could not journal (its local
    /// log's pending ones: the server was away, and the station stopped before it came back).
    /// Each is marked done — unless the journal no longer binds the record to its card (a
    /// supervisor released it meanwhile): then the journal gets an event that names both, to
    /// be resolved by revoking the card, and the card is a conflict here.
    pub fn reconcile(&self) -> Result<Reconciled, JournalError> {
        let mut reconciled = Reconciled::default();
        let Some(log) = &self.log else {
            return Ok(reconciled);
        };
        let mut queue = self.queue();
        for pending in log.pending() {
            let (code, serial) = (&pending.tracking_code, &pending.serial);
            match queue.journal_done(
                code,
                serial,
                " (locked while the journal server was away; from the station's local log)",
            ) {
                Ok(()) => reconciled.journaled.push(pending),
                Err(JournalError::BindingLost { .. }) => {
                    queue.note_card(&format!(
                        "card {serial} was locked with record {code} at station {} while the \
                         journal server was away, but the record was released meanwhile: \
                         revoke card {serial}",
                        self.options.station
                    ))?;
                    queue.log(What::Conflict, code, serial, None)?;
                    reconciled.conflicts.push(pending);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(reconciled)
    }
}

/// What [`StationPool::reconcile`] did with the cards of the station's local log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// Journaled done now.
    pub journaled: Vec<Pending>,
    /// Locked with a record the journal had released meanwhile: to be revoked.
    pub conflicts: Vec<Pending>,
}

/// One station worker's handle on the shared queue: its statements, each on a connection of
/// the station's pool.
pub struct PgQueue {
    pool: StationPool,
    /// The lease in seconds, as the server's interval arithmetic takes it.
    lease_seconds: f64,
    /// The card this worker is making, once claimed.
    hand: Option<Hand>,
}

/// The record and card a worker has in hand.
#[derive(Debug)]
struct Hand {
    tracking_code: String,
    serial: String,
    /// The journal has a step after the secure channel: no other station takes the record.
    bound: bool,
    /// The server went away while the record was bound: the card is being finished without
    /// it.
    offline: bool,
}

impl Hand {
    fn is(&self, tracking_code: &str, serial: &str) -> bool {
        self.tracking_code == tracking_code && self.serial == serial
    }
}

impl std::fmt::Debug for PgQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgQueue").field("pool", &self.pool).finish()
    }
}

/// How a station works on the shared queue.
#[derive(Clone)]
pub struct StationOptions {
    /// The station's name (`--station`): unique among the stations of a queue.
    pub station: String,
    pub lease: Duration,
    pub reconnect_for: Duration,
    /// Told when a connection is lost and back.
    pub watch: Option<Arc<dyn ConnectionWatch>>,
    /// The station's own log of its cards ([`LocalLog`]); without it, a card in hand waits
    /// for the server at its next step instead of being finished.
    pub local_log: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for StationOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StationOptions")
            .field("station", &self.station)
            .field("lease", &self.lease)
            .field("reconnect_for", &self.reconnect_for)
            .field("local_log", &self.local_log)
            .finish_non_exhaustive()
    }
}

/// What one statement attempt gives: the server's error (a lost connection is tried again),
/// or the journal's answer.
type Attempt<T> = Result<Result<T, JournalError>, ::postgres::Error>;

impl PgQueue {
    /// Runs `op` (station name and lease in seconds given) once, on a connection of the pool:
    /// the journal's answer, or the error of a server that went away.
    fn run_once<T>(
        &mut self,
        op: &mut impl FnMut(&mut Client, &str, f64) -> Attempt<T>,
    ) -> Result<Result<T, JournalError>, PgError> {
        let StationPool {
            pool,
            target,
            options,
            ..
        } = &self.pool;
        match pool.get() {
            Ok(mut client) => match op(&mut client, &options.station, self.lease_seconds) {
                Ok(answer) => Ok(answer),
                // The connection is closed now: the pool drops it instead of lending it.
                Err(e) if connection_lost(&e) => Err(sql_error(target, &e)),
                Err(e) => Ok(Err(sql_error(target, &e).into())),
            },
            Err(e) => Err(PgError::Unreachable {
                target: target.to_string(),
                reason: escaped(&target.redact(&e.to_string())),
            }),
        }
    }

    /// Runs `op` as [`Self::run_once`] does; when the server went away, again on a new
    /// connection, with backoff, until [`StationOptions::reconnect_for`] has passed.
    fn run<T>(
        &mut self,
        mut op: impl FnMut(&mut Client, &str, f64) -> Attempt<T>,
    ) -> Result<T, JournalError> {
        let mut lost: Option<Instant> = None;
        let mut pause = BACKOFF_FIRST;
        loop {
            let error = match self.run_once(&mut op) {
                Ok(answer) => {
                    if let (Some(since), Some(watch)) = (lost, self.watch()) {
                        watch.back(since.elapsed().as_secs_f64());
                    }
                    return answer;
                }
                Err(error) => error,
            };
            let since = *lost.get_or_insert_with(|| {
                if let Some(watch) = self.watch() {
                    watch.lost(&error.to_string());
                }
                Instant::now()
            });
            if since.elapsed() >= self.pool.options.reconnect_for {
                return Err(error.into());
            }
            thread::sleep(pause);
            pause = (pause * 2).min(BACKOFF_MAX);
        }
    }

    fn watch(&self) -> Option<&dyn ConnectionWatch> {
        self.pool.options.watch.as_deref()
    }

    /// Writes a line of the station's local log about the card in hand, if it keeps one.
    fn log(
        &self,
        what: What,
        tracking_code: &str,
        serial: &str,
        step: Option<&str>,
    ) -> Result<(), JournalError> {
        let Some(log) = &self.pool.log else {
            return Ok(());
        };
        log.append(&Entry {
            at: journal::now(),
            what,
            tracking_code: tracking_code.to_owned(),
            serial: serial.to_owned(),
            step: step.map(str::to_owned),
            offline: self.hand.as_ref().is_some_and(|h| h.offline),
        })?;
        Ok(())
    }

    /// A record claimed for (or resumed on) a card: now in hand.
    fn take_in_hand(&mut self, tracking_code: &str, serial: &str) -> Result<(), JournalError> {
        self.hand = Some(Hand {
            tracking_code: tracking_code.to_owned(),
            serial: serial.to_owned(),
            bound: false,
            offline: false,
        });
        self.log(What::Claimed, tracking_code, serial, None)
    }

    /// Whether the card in hand is `serial` made for `tracking_code`, and its record bound.
    fn bound_in_hand(&self, tracking_code: &str, serial: &str) -> Option<&Hand> {
        self.hand
            .as_ref()
            .filter(|h| h.is(tracking_code, serial) && h.bound)
    }

    /// The journal's statement that the record is done on the card (with backoff while the
    /// server is away), then the local log's line that says the journal has it.
    fn journal_done(
        &mut self,
        tracking_code: &str,
        serial: &str,
        note: &str,
    ) -> Result<(), JournalError> {
        self.run(|c, station, _| done(c, station, tracking_code, serial, note))?;
        self.log(What::Journaled, tracking_code, serial, None)?;
        self.hand = None;
        Ok(())
    }
}

/// Marks the record bound to `serial` done; done already (an answer lost with the connection)
/// is fine.
fn done(
    c: &mut Client,
    station: &str,
    tracking_code: &str,
    serial: &str,
    note: &str,
) -> Attempt<()> {
    let mut tx = c.transaction()?;
    let Some(id) = bound_id(&mut tx, tracking_code, serial)? else {
        let done = tx.query_opt(
            "SELECT 1 FROM records
             WHERE tracking_code = $1 AND card_serial = $2 AND state = 'done'",
            &[&tracking_code, &serial],
        )?;
        return Ok(match done {
            Some(_) => Ok(()),
            None => Err(binding_lost(tracking_code, serial)),
        });
    };
    tx.execute(
        "UPDATE records SET state = 'done', content = NULL, reason = NULL, made_by = $2,
                lease_station = NULL, lease_reader = NULL, lease_expires_at = NULL,
                updated_at = now(), finished_at = now()
         WHERE id = $1",
        &[&id, &station],
    )?;
    event(
        &mut tx,
        Some(id),
        station,
        &format!("done on card {serial} at station {station}{note}"),
    )?;
    tx.commit()?;
    Ok(Ok(()))
}

/// Whether the server went away (or is going, or not yet back) rather than refused the
/// statement: then it is tried again on a new connection.
fn connection_lost(e: &::postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        // Class 08: connection exception; 57P01–57P03: shut down, crash, not yet accepting.
        Some(code) => {
            code.code().starts_with("08")
                || [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                ]
                .contains(code)
        }
        // No server error: the socket failed under the client.
        None => true,
    }
}

fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().chars().take(64).collect())
}

/// A record's row, from the [`COLUMNS`]. The shared journal keeps no birth date: it is empty.
pub(super) fn row(r: &Row) -> Result<RecordRow, JournalError> {
    let state: String = r.get("state");
    let count = |name: &str| u32::try_from(r.get::<_, i32>(name)).unwrap_or(0);
    Ok(RecordRow {
        tracking_code: r.get("tracking_code"),
        national_code: r.get("national_code"),
        birth_date: String::new(),
        state: RecordState::from_name(&state)
            .ok_or_else(|| JournalError::Unknown(format!("state {state}")))?,
        reason: r.get("reason"),
        card_serial: r.get("card_serial"),
        step: r.get("step"),
        attempts: count("attempts"),
        refusals: count("refusals"),
        created_at: r.get::<_, Option<i64>>("created_ms").unwrap_or(0),
        updated_at: r.get::<_, Option<i64>>("updated_ms").unwrap_or(0),
        finished_at: r.get("finished_ms"),
    })
}

fn rows(found: &[Row]) -> Result<Vec<RecordRow>, JournalError> {
    found.iter().map(row).collect()
}

fn event(
    c: &mut impl GenericClient,
    record: Option<i64>,
    station: &str,
    text: &str,
) -> Result<(), ::postgres::Error> {
    c.execute(
        "INSERT INTO events (record_id, station, event) VALUES ($1, $2, $3)",
        &[&record, &station, &text],
    )?;
    Ok(())
}

/// Puts record `id` back in the queue, free for any card and any station.
pub(super) fn requeue(
    c: &mut impl GenericClient,
    id: i64,
    reason: &str,
) -> Result<(), ::postgres::Error> {
    c.execute(
        "UPDATE records SET state = 'queued', card_serial = NULL, step = NULL, reason = $2,
                lease_station = NULL, lease_reader = NULL, lease_expires_at = NULL,
                updated_at = now()
         WHERE id = $1",
        &[&id, &reason],
    )?;
    Ok(())
}

/// The id of the record still bound to `serial` and unfinished, locked for this transaction.
fn bound_id(
    c: &mut impl GenericClient,
    tracking_code: &str,
    serial: &str,
) -> Result<Option<i64>, ::postgres::Error> {
    Ok(c.query_opt(
        "SELECT id FROM records
         WHERE tracking_code = $1 AND card_serial = $2 AND state = 'personalizing'
         FOR UPDATE",
        &[&tracking_code, &serial],
    )?
    .map(|r| r.get(0)))
}

/// Whether a card whose personalization began `step` was written to: then its record is bound
/// to it, and waits for it. (`release_stale`'s statement says the same in SQL: a claim whose
/// step is none or the first one may be released.)
fn written_to(step: &str) -> bool {
    step != FIRST_STEP
}

fn binding_lost(tracking_code: &str, serial: &str) -> JournalError {
    JournalError::BindingLost {
        tracking_code: tracking_code.to_owned(),
        serial: serial.to_owned(),
    }
}

impl Queue for PgQueue {
    fn waits_for_card(&self, row: &RecordRow) -> bool {
        row.step.as_deref().is_some_and(written_to)
    }

    fn counts(&mut self) -> Result<Counts, JournalError> {
        self.run(|c, _, _| {
            let found = c.query("SELECT state, count(*) FROM records GROUP BY state", &[])?;
            let mut counts = Counts::default();
            for r in found {
                counts.add(r.get(0), u64::try_from(r.get::<_, i64>(1)).unwrap_or(0));
            }
            Ok(Ok(counts))
        })
    }

    fn bound(&mut self) -> Result<Vec<RecordRow>, JournalError> {
        self.run(|c, _, _| {
            let found = c.query(
                &format!("SELECT {COLUMNS} FROM records WHERE state = 'personalizing' ORDER BY id"),
                &[],
            )?;
            Ok(rows(&found))
        })
    }

    fn binding(&mut self, serial: &str) -> Result<Option<RecordRow>, JournalError> {
        self.run(|c, _, _| {
            let found = c.query_opt(
                &format!(
                    "SELECT {COLUMNS} FROM records WHERE card_serial = $1 AND state <> 'failed'"
                ),
                &[&serial],
            )?;
            Ok(found.as_ref().map(row).transpose())
        })
    }

    fn in_scope(&mut self, tracking_code: &str) -> Result<bool, JournalError> {
        // Every record of the shared journal is the queue's.
        self.run(|c, _, _| {
            let found = c.query_opt(
                "SELECT 1 FROM records WHERE tracking_code = $1",
                &[&tracking_code],
            )?;
            Ok(Ok(found.is_some()))
        })
    }

    fn claim_next(
        &mut self,
        serial: &str,
        reader: &str,
    ) -> Result<Option<RecordRow>, JournalError> {
        self.hand = None;
        let claimed = self.run(|c, station, lease| {
            let mut tx = c.transaction()?;
            if let Some(r) = tx.query_opt(
                &format!(
                    "SELECT {COLUMNS}, lease_station FROM records
                     WHERE card_serial = $1 AND state <> 'failed'"
                ),
                &[&serial],
            )? {
                let mine = r.get::<_, Option<String>>("lease_station").as_deref() == Some(station)
                    && r.get::<_, String>("state") == RecordState::Personalizing.name();
                // Claimed by this very statement before the connection dropped its answer.
                if mine {
                    return Ok(row(&r).map(Some));
                }
                return Ok(Err(JournalError::CardTaken {
                    serial: serial.to_owned(),
                    tracking_code: r.get("tracking_code"),
                }));
            }
            let Some(next) = tx.query_opt(
                "SELECT id FROM records WHERE state = 'queued' ORDER BY id LIMIT 1
                 FOR UPDATE SKIP LOCKED",
                &[],
            )?
            else {
                return Ok(Ok(None));
            };
            let id: i64 = next.get(0);
            let claimed = tx.query_one(
                &format!(
                    "UPDATE records SET state = 'personalizing', card_serial = $2, step = NULL,
                            reason = NULL, attempts = attempts + 1, updated_at = now(),
                            lease_station = $3, lease_reader = $4,
                            lease_expires_at = now() + $5 * interval '1 second'
                     WHERE id = $1
                     RETURNING {COLUMNS}"
                ),
                &[&id, &serial, &station, &reader, &lease],
            );
            let claimed = match claimed {
                Ok(r) => r,
                // Another station bound this card to a record meanwhile.
                Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                    return Ok(Err(JournalError::CardTaken {
                        serial: serial.to_owned(),
                        tracking_code: "(another station's)".to_owned(),
                    }))
                }
                Err(e) => return Err(e),
            };
            event(
                &mut tx,
                Some(id),
                station,
                &format!("bound to card {serial} in reader {reader} at station {station}"),
            )?;
            tx.execute(
                "UPDATE stations SET last_seen = now() WHERE name = $1",
                &[&station],
            )?;
            tx.commit()?;
            Ok(row(&claimed).map(Some))
        })?;
        if let Some(row) = &claimed {
            self.take_in_hand(&row.tracking_code, serial)?;
        }
        Ok(claimed)
    }

    fn resume(
        &mut self,
        tracking_code: &str,
        serial: &str,
        reader: &str,
    ) -> Result<RecordRow, JournalError> {
        self.hand = None;
        let resumed = self.run(|c, station, lease| {
            let mut tx = c.transaction()?;
            let Some(r) = tx.query_opt(
                "SELECT id, lease_station, lease_expires_at > now() AS live FROM records
                 WHERE tracking_code = $1 AND card_serial = $2 AND state = 'personalizing'
                 FOR UPDATE",
                &[&tracking_code, &serial],
            )?
            else {
                return Ok(Err(binding_lost(tracking_code, serial)));
            };
            let id: i64 = r.get("id");
            let holder: Option<String> = r.get("lease_station");
            let live = r.get::<_, Option<bool>>("live").unwrap_or(false);
            if let Some(other) = holder.filter(|h| h != station && live) {
                return Ok(Err(JournalError::Leased {
                    serial: serial.to_owned(),
                    tracking_code: tracking_code.to_owned(),
                    station: other,
                }));
            }
            let resumed = tx.query_one(
                &format!(
                    "UPDATE records SET attempts = attempts + 1, updated_at = now(),
                            lease_station = $2, lease_reader = $3,
                            lease_expires_at = now() + $4 * interval '1 second'
                     WHERE id = $1
                     RETURNING {COLUMNS}"
                ),
                &[&id, &station, &reader, &lease],
            )?;
            event(
                &mut tx,
                Some(id),
                station,
                &format!("resumed on card {serial} in reader {reader} at station {station}"),
            )?;
            tx.commit()?;
            Ok(row(&resumed))
        })?;
        self.take_in_hand(tracking_code, serial)?;
        Ok(resumed)
    }

    fn record_step(
        &mut self,
        tracking_code: &str,
        serial: &str,
        step: &str,
    ) -> Result<(), JournalError> {
        let mut write = |c: &mut Client, station: &str, lease: f64| -> Attempt<()> {
            let changed = c.execute(
                "UPDATE records SET step = $3, updated_at = now(),
                        lease_expires_at = now() + $5 * interval '1 second'
                 WHERE tracking_code = $1 AND card_serial = $2 AND state = 'personalizing'
                   AND lease_station = $4",
                &[&tracking_code, &serial, &step, &station, &lease],
            )?;
            Ok(if changed == 0 {
                Err(binding_lost(tracking_code, serial))
            } else {
                Ok(())
            })
        };
        // A bound record's card is finished even while the server is away (with a local log
        // to keep it in): one try, then on without the journal.
        let finishing = self.pool.log.is_some();
        match self
            .bound_in_hand(tracking_code, serial)
            .filter(|_| finishing)
        {
            Some(hand) if hand.offline => {}
            Some(_) => match self.run_once(&mut write) {
                Ok(answer) => answer?,
                Err(lost) => {
                    if let Some(watch) = self.watch() {
                        watch.finishing(tracking_code, serial, &lost.to_string());
                    }
                    if let Some(hand) = self.hand.as_mut() {
                        hand.offline = true;
                    }
                }
            },
            None => {
                self.run(write)?;
                if let Some(hand) = self.hand.as_mut().filter(|h| h.is(tracking_code, serial)) {
                    hand.bound = written_to(step);
                }
            }
        }
        self.log(What::Step, tracking_code, serial, Some(step))
    }

    fn mark_done(
        &mut self,
        tracking_code: &str,
        serial: &str,
        note: &str,
    ) -> Result<(), JournalError> {
        // On the station's disk first: if the server is away and the station stops before it
        // is back, the next start tells the journal.
        self.log(What::Locked, tracking_code, serial, None)?;
        let offline = self
            .hand
            .as_ref()
            .is_some_and(|h| h.is(tracking_code, serial) && h.offline);
        let note = if offline {
            format!("{note} (finished while the journal server was away)")
        } else {
            note.to_owned()
        };
        self.journal_done(tracking_code, serial, &note)
    }

    fn put_back(
        &mut self,
        tracking_code: &str,
        serial: &str,
        reason: &str,
        may_be_locked: bool,
    ) -> Result<Outcome, JournalError> {
        self.hand = None;
        self.run(|c, station, _| {
            let mut tx = c.transaction()?;
            let Some(id) = bound_id(&mut tx, tracking_code, serial)? else {
                // No longer bound to this card: put back already (an answer lost with the
                // connection), or released by another station once the lease ran out.
                return Ok(Ok(Outcome::Queued));
            };
            let outcome = if may_be_locked {
                tx.execute(
                    "UPDATE records SET reason = $2, updated_at = now(),
                            lease_station = NULL, lease_reader = NULL, lease_expires_at = NULL
                     WHERE id = $1",
                    &[&id, &reason],
                )?;
                event(
                    &mut tx,
                    Some(id),
                    station,
                    &format!("waits for card {serial}, which may be locked already: {reason}"),
                )?;
                Outcome::Held
            } else {
                requeue(&mut tx, id, reason)?;
                event(
                    &mut tx,
                    Some(id),
                    station,
                    &format!("back in the queue: {reason}"),
                )?;
                Outcome::Queued
            };
            tx.commit()?;
            Ok(Ok(outcome))
        })
    }

    fn refuse(
        &mut self,
        tracking_code: &str,
        serial: &str,
        reason: &str,
        max_refusals: u32,
    ) -> Result<Outcome, JournalError> {
        self.hand = None;
        let max = i32::try_from(max_refusals).unwrap_or(i32::MAX);
        self.run(|c, station, _| {
            let mut tx = c.transaction()?;
            let Some(id) = bound_id(&mut tx, tracking_code, serial)? else {
                return Ok(Ok(Outcome::Queued));
            };
            let refusals: i32 = tx
                .query_one(
                    "UPDATE records SET refusals = refusals + 1 WHERE id = $1 RETURNING refusals",
                    &[&id],
                )?
                .get(0);
            let outcome = if refusals >= max {
                tx.execute(
                    "UPDATE records SET state = 'failed', reason = $2, updated_at = now(),
                            lease_station = NULL, lease_reader = NULL, lease_expires_at = NULL
                     WHERE id = $1",
                    &[&id, &reason],
                )?;
                event(
                    &mut tx,
                    Some(id),
                    station,
                    &format!("failed on card {serial} (refusal {refusals} of {max}): {reason}"),
                )?;
                Outcome::Failed
            } else {
                requeue(&mut tx, id, reason)?;
                event(
                    &mut tx,
                    Some(id),
                    station,
                    &format!(
                        "refused on card {serial} (refusal {refusals} of {max}), back in the \
                         queue: {reason}"
                    ),
                )?;
                Outcome::Queued
            };
            tx.commit()?;
            Ok(Ok(outcome))
        })
    }

    fn release_stale(
        &mut self,
        _idle_since: Millis,
        in_readers: &HashSet<String>,
    ) -> Result<Vec<Released>, JournalError> {
        // The lease says when a claim is stale, whichever station holds it, as long as its card
        // was not written to (then the record is bound to the card, and waits for it); this
        // station's own cards in its readers are never released under it.
        let own: Vec<String> = in_readers.iter().cloned().collect();
        self.run(|c, station, _| {
            let mut tx = c.transaction()?;
            let stale = tx.query(
                "SELECT id, tracking_code, card_serial, step, lease_station FROM records
                 WHERE state = 'personalizing' AND (step IS NULL OR step = $1)
                   AND (lease_expires_at IS NULL OR lease_expires_at < now())
                   AND NOT (lease_station IS NOT DISTINCT FROM $2 AND card_serial = ANY($3))
                 ORDER BY id
                 FOR UPDATE SKIP LOCKED",
                &[&FIRST_STEP, &station, &own],
            )?;
            let mut released = Vec::new();
            for r in stale {
                let id: i64 = r.get("id");
                let serial: String = r.get("card_serial");
                let holder = r
                    .get::<_, Option<String>>("lease_station")
                    .unwrap_or_else(|| "no station".to_owned());
                let reason = format!(
                    "binding to card {serial} released: the lease of station {holder} ran out \
                     before the card was written to"
                );
                requeue(&mut tx, id, &reason)?;
                event(&mut tx, Some(id), station, &reason)?;
                released.push(Released {
                    tracking_code: r.get("tracking_code"),
                    card_serial: serial,
                    step: r.get("step"),
                });
            }
            tx.commit()?;
            Ok(Ok(released))
        })
    }

    fn mark_replaced(&mut self, old_serial: &str, new_serial: &str) -> Result<(), JournalError> {
        self.run(|c, station, _| {
            let mut tx = c.transaction()?;
            let inserted = tx.execute(
                "INSERT INTO replacements (old_serial, new_serial) VALUES ($1, $2)
                 ON CONFLICT (old_serial) DO NOTHING",
                &[&old_serial, &new_serial],
            )?;
            if inserted == 1 {
                if let Some(old) = tx.query_opt(
                    "SELECT id FROM records WHERE card_serial = $1 AND state = 'done'",
                    &[&old_serial],
                )? {
                    event(
                        &mut tx,
                        Some(old.get(0)),
                        station,
                        &format!(
                            "replaced by card {new_serial}: its certificates revoked (superseded)"
                        ),
                    )?;
                }
            }
            tx.commit()?;
            Ok(Ok(()))
        })
    }

    fn note_card(&mut self, text: &str) -> Result<(), JournalError> {
        self.run(|c, station, _| event(c, None, station, text).map(Ok))
    }

    fn enrolment(&mut self, tracking_code: &str) -> Result<Option<ValidRecord>, JournalError> {
        let content: Option<Vec<u8>> = self.run(|c, _, _| {
            let found = c.query_opt(
                "SELECT content FROM records WHERE tracking_code = $1",
                &[&tracking_code],
            )?;
            Ok(Ok(found.and_then(|r| r.get(0))))
        })?;
        content
            .map(|bytes| {
                ValidRecord::from_package(&bytes).map_err(|e| JournalError::Damaged {
                    tracking_code: tracking_code.to_owned(),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }
}

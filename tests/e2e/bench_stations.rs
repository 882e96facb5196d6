//! The figures of issue 20 (`bench/stations.sh`): measurements, not checks, so `#[ignore]`d.
//! Each still refuses to print a figure unless every record was made exactly once.
//!
//! - **Cards per minute**: one station on a SQLite journal (`melli batch`, file mode) beside
//!   1, 2 and 3 stations (`melli batch run`) on one PostgreSQL queue; every station has two
//!   card feeders through pcscd + vpcd, and every run makes the same number of records
//!   (`MELLI_BENCH_RECORDS`, default 24). The clock runs from the start of the station
//!   processes to the last one's exit: the issuer's loading and the queue's last card are in it.
//! - **Claim latency**: 1 000 records, 8 concurrent clients, no card: each client claims the
//!   next record for a made-up card serial and marks it done, until the queue is empty; on
//!   PostgreSQL (one station pool per client) and on SQLite (one connection per client).
//! - **Journal size per 1 000 records**: the same 1 000 records, on PostgreSQL while queued
//!   (the enrolment content is in the queue) and when done (content dropped), and the SQLite
//!   file, which keeps keys only.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use melli::journal::postgres::{
    JournalUrl, PgJournal, PgQueue, PgTarget, StationOptions, StationPool,
};
use melli::journal::{Counts, Journal, Queue, RecordState};
use melli::model::JalaliDate;
use melli::ops::batch::Records;
use melli::pki::status_key::StatusKey;
use melli_testkit::postgres::Postgres;

use crate::common::feeder::{Feeder, FeederOptions};
use crate::common::stations::{migrate_and_import, records, Station};
use crate::common::{run, test_issuer, MELLI};

/// Milliseconds per command APDU in the feeders' cards, like a real chip's.
const APDU_DELAY_MS: u64 = 10;

/// Card feeders per station.
const FEEDERS: usize = 2;

/// Records per run of the cards-per-minute bench, unless `MELLI_BENCH_RECORDS` says.
const RECORDS: usize = 24;

/// The claim bench's records and clients.
const CLAIMS: usize = 1000;
const CLIENTS: usize = 8;

fn bench_records() -> usize {
    std::env::var("MELLI_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| (1..=1000).contains(n))
        .unwrap_or(RECORDS)
}

fn feeder_options(cards: usize) -> FeederOptions {
    FeederOptions {
        apdu_delay_ms: APDU_DELAY_MS,
        ..FeederOptions::new(u32::try_from(cards).expect("cards"), test_issuer())
    }
}

/// One number from the server.
fn count(pg: &Postgres, sql: &str) -> u64 {
    let out = pg.superuser_sql(sql);
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a number from {sql}: {out}"))
}

/// Turns `fsync` back on in a test cluster (the test kit turns it off to spare the tests'
/// disk): a commit then waits for its WAL on disk, as the SQLite journal's (`synchronous =
/// FULL`) does, so that the two are compared at the same durability.
fn durable(pg: &Postgres) {
    pg.superuser_sql("ALTER SYSTEM SET fsync = on");
    pg.superuser_sql("SELECT pg_reload_conf()");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pg.superuser_sql("SHOW fsync").trim() != "on" {
        assert!(Instant::now() < deadline, "fsync stays off");
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(pg.superuser_sql("SHOW synchronous_commit").trim(), "on");
}

/// One run's figures.
struct Run {
    engine: &'static str,
    stations: usize,
    seconds: f64,
    /// Cards made by each station.
    made: Vec<usize>,
}

impl Run {
    fn cards_per_minute(&self) -> f64 {
        self.made.iter().sum::<usize>() as f64 * 60.0 / self.seconds
    }
}

/// One station on a SQLite journal: `melli batch RECORDS --journal FILE.db` on two feeders.
fn sqlite_run(n: usize) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = records(dir.path(), n);
    let journal = dir.path().join("journal.db");
    let feeders: Vec<Feeder> = (0..FEEDERS)
        .map(|_| Feeder::start(feeder_options(n)))
        .collect();
    let readers: Vec<&str> = feeders.iter().map(Feeder::reader_name).collect();
    let mut command = Command::new(MELLI);
    command
        .arg("batch")
        .arg(&path)
        .arg("--issuer")
        .arg(test_issuer())
        .arg("--journal")
        .arg(&journal)
        .args(["--readers", &readers.join(","), "--json"]);
    let started = Instant::now();
    let out = run(&mut command, Duration::from_secs(600));
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(out.code, 0, "{out:?}");

    // Every record done, each on its own card, and as many cards issued.
    let rows = Journal::open_existing(&journal)
        .and_then(|j| j.rows())
        .expect("read the journal");
    assert_eq!(rows.len(), n);
    assert!(
        rows.iter().all(|r| r.state == RecordState::Done),
        "{rows:?}"
    );
    let serials: HashSet<_> = rows.iter().filter_map(|r| r.card_serial.clone()).collect();
    assert_eq!(serials.len(), n, "a card twice");
    let issued: usize = feeders
        .iter()
        .map(|f| {
            f.cards()
                .iter()
                .filter(|(serial, s)| {
                    s["lifecycle"] == "operational" && serials.contains(serial.as_str())
                })
                .count()
        })
        .sum();
    let operational: usize = feeders
        .iter()
        .map(|f| {
            f.cards()
                .iter()
                .filter(|(_, s)| s["lifecycle"] == "operational")
                .count()
        })
        .sum();
    assert_eq!((issued, operational), (n, n), "cards issued");
    Run {
        engine: "SQLite file",
        stations: 1,
        seconds,
        made: vec![issued],
    }
}

/// `stations` stations on one fresh PostgreSQL queue of `n` records, two feeders each.
fn postgres_run(n: usize, stations: usize) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = records(dir.path(), n);
    let pg = Postgres::start_new();
    durable(&pg);
    let url = pg.url();
    let import = migrate_and_import(&url, &path);
    assert_eq!(import["new"], n, "{import}");

    // Each feeder holds enough cards for the whole queue: which station makes how many is
    // the queue's business.
    let mut all: Vec<Station> = (0..stations)
        .map(|i| {
            Station::with_feeders(
                &format!("station-{}", i + 1),
                dir.path(),
                &feeder_options(n),
                FEEDERS,
            )
        })
        .collect();
    let started = Instant::now();
    for s in &mut all {
        s.start(&url);
    }
    let deadline = started + Duration::from_secs(600);
    let mut running: Vec<usize> = (0..stations).collect();
    while !running.is_empty() {
        running.retain(|&i| match all[i].ended() {
            Some(status) => {
                assert!(
                    status.success(),
                    "station {} ({status}):\n{}",
                    all[i].name,
                    all[i].output()
                );
                false
            }
            None => true,
        });
        assert!(Instant::now() < deadline, "the stations did not end");
        thread::sleep(Duration::from_millis(10));
    }
    let seconds = started.elapsed().as_secs_f64();

    // Every record done, each on its own card, and as many cards issued as records.
    assert_eq!(
        count(&pg, "SELECT count(*) FROM records WHERE state = 'done'"),
        n as u64
    );
    assert_eq!(
        count(
            &pg,
            "SELECT count(DISTINCT card_serial) FROM records WHERE state = 'done'"
        ),
        n as u64
    );
    let made: Vec<usize> = all.iter().map(Station::issued).collect();
    assert_eq!(made.iter().sum::<usize>(), n, "cards issued");
    Run {
        engine: "PostgreSQL",
        stations,
        seconds,
        made,
    }
}

#[test]
#[ignore = "a measurement, not a check: bench/stations.sh"]
fn cards_per_minute_on_sqlite_and_one_to_three_stations_on_postgresql() {
    let n = bench_records();
    let mut runs = vec![sqlite_run(n)];
    for stations in 1..=3 {
        runs.push(postgres_run(n, stations));
    }
    println!(
        "cards per minute: {n} records per run, {FEEDERS} card feeders per station \
         (`melli card feed`, {APDU_DELAY_MS} ms per APDU, {} ms card change), pcscd + vpcd; \
         wall time from the stations' start to the last one's exit; PostgreSQL with fsync on",
        FeederOptions::new(1, test_issuer()).gap_ms
    );
    println!(
        "{:<12} {:>8} {:>8} {:>9} {:>10}  cards made per station",
        "journal", "stations", "readers", "seconds", "cards/min"
    );
    for r in &runs {
        println!(
            "{:<12} {:>8} {:>8} {:>9.1} {:>10.1}  {}",
            r.engine,
            r.stations,
            r.stations * FEEDERS,
            r.seconds,
            r.cards_per_minute(),
            r.made
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" + ")
        );
    }
}

/// The claim bench's records, validated as `melli batch` validates them.
fn claim_records(dir: &Path) -> Records {
    let path = records(dir, CLAIMS);
    let today = JalaliDate::today().expect("today");
    let loaded = melli::ops::batch::load(&path, today).expect("load the records");
    assert!(loaded.invalid.is_empty(), "{:?}", loaded.invalid.first());
    assert_eq!(loaded.records.len(), CLAIMS);
    loaded.records
}

/// What one client did: the latency of each claim that took a record, and the records it made
/// with their serials.
#[derive(Default)]
struct Claims {
    latencies: Vec<Duration>,
    made: Vec<(String, String)>,
}

/// `CLIENTS` threads, each with the connection `open(i)` gives, claiming and marking done
/// until the queue is empty; the clients' work and the wall time from their common start.
fn claim_all<Q, F>(open: F) -> (Vec<Claims>, f64)
where
    Q: ClaimQueue,
    F: Fn(usize) -> Q + Sync,
{
    let barrier = Arc::new(Barrier::new(CLIENTS + 1));
    let (clients, seconds) = thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let barrier = Arc::clone(&barrier);
                let open = &open;
                scope.spawn(move || {
                    let mut queue = open(i);
                    let mut claims = Claims::default();
                    // Connected (and, on the server, logged in) before the clock starts: a
                    // station's pool keeps its connections.
                    queue.warm();
                    barrier.wait();
                    for n in 0.. {
                        let serial = format!("C{i}{n:05}");
                        let asked = Instant::now();
                        let Some(tracking_code) = queue.claim(&serial) else {
                            break;
                        };
                        // The claims that took a record; the last, empty one is not counted.
                        claims.latencies.push(asked.elapsed());
                        queue.done(&tracking_code, &serial);
                        claims.made.push((tracking_code, serial));
                    }
                    claims
                })
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        let clients: Vec<Claims> = handles
            .into_iter()
            .map(|h| h.join().expect("client"))
            .collect();
        (clients, started.elapsed().as_secs_f64())
    });
    // Exactly once, as the clients saw it: every record made by one client, on its own serial.
    let codes: HashSet<&str> = clients
        .iter()
        .flat_map(|c| c.made.iter().map(|(code, _)| code.as_str()))
        .collect();
    let serials: HashSet<&str> = clients
        .iter()
        .flat_map(|c| c.made.iter().map(|(_, serial)| serial.as_str()))
        .collect();
    let made: usize = clients.iter().map(|c| c.made.len()).sum();
    assert_eq!((made, codes.len(), serials.len()), (CLAIMS, CLAIMS, CLAIMS));
    (clients, seconds)
}

/// The two calls of the claim bench, on either journal.
trait ClaimQueue {
    /// Claims the next record for card `serial`: its tracking code, `None` when none is left.
    fn claim(&mut self, serial: &str) -> Option<String>;
    fn done(&mut self, tracking_code: &str, serial: &str);
    /// Asks the queue's counts once, so that the connection is made.
    fn warm(&mut self) {
        assert!(self.counts().total() > 0, "an empty queue");
    }
    fn counts(&mut self) -> Counts;
}

impl ClaimQueue for PgQueue {
    fn claim(&mut self, serial: &str) -> Option<String> {
        Queue::claim_next(self, serial, "bench reader")
            .expect("claim")
            .map(|r| r.tracking_code)
    }

    fn done(&mut self, tracking_code: &str, serial: &str) {
        Queue::mark_done(self, tracking_code, serial, "").expect("done");
    }

    fn counts(&mut self) -> Counts {
        Queue::counts(self).expect("counts")
    }
}

impl ClaimQueue for Journal {
    fn claim(&mut self, serial: &str) -> Option<String> {
        self.claim_next(serial, "bench reader")
            .expect("claim")
            .map(|r| r.tracking_code)
    }

    fn done(&mut self, tracking_code: &str, serial: &str) {
        self.mark_done(tracking_code, serial, "").expect("done");
    }

    fn counts(&mut self) -> Counts {
        Journal::counts(self).expect("counts")
    }
}

/// p50, p95, p99 and the longest claim, in milliseconds, and claims (each with its mark done)
/// per second of wall time.
fn latency_line(engine: &str, clients: &[Claims], seconds: f64) -> String {
    let mut all: Vec<Duration> = clients
        .iter()
        .flat_map(|c| c.latencies.iter().copied())
        .collect();
    all.sort();
    let at = |q: f64| {
        let i = ((all.len() as f64 * q).ceil() as usize).clamp(1, all.len()) - 1;
        all[i].as_secs_f64() * 1000.0
    };
    format!(
        "{engine:<12} {:>7} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>10.0}",
        all.len(),
        at(0.50),
        at(0.95),
        at(0.99),
        at(1.0),
        CLAIMS as f64 / seconds
    )
}

fn pg_target(url: &str) -> PgTarget {
    match JournalUrl::parse(url).expect("the cluster's URL") {
        JournalUrl::Postgres(target) => target,
        other => panic!("not PostgreSQL: {other:?}"),
    }
}

/// The size in bytes of the shared journal's records and events, indexes and TOAST included.
fn pg_size(pg: &Postgres) -> u64 {
    count(
        pg,
        "SELECT pg_total_relation_size('records') + pg_total_relation_size('events')",
    )
}

#[test]
#[ignore = "a measurement, not a check: bench/stations.sh"]
fn claim_latency_and_journal_size_per_thousand_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = claim_records(dir.path());
    let codes: HashSet<String> = records
        .iter()
        .map(|r| r.record.tracking_code().to_string())
        .collect();

    // Both journals keep the person as a keyed hash only; a bench key (a test one).
    let status_key = StatusKey::from_bytes([0x5A; 32]);

    // PostgreSQL: the records imported (content and keyed person), then claimed.
    let pg = Postgres::start_new();
    durable(&pg);
    let target = pg_target(&pg.url());
    PgJournal::connect(&target)
        .and_then(|mut j| j.migrate())
        .expect("migrate");
    let valid: Vec<_> = records.iter().map(|r| &r.record).collect();
    let imported = PgJournal::open(&target)
        .expect("open")
        .import(&valid, &status_key, "bench")
        .expect("import");
    assert_eq!(imported.new, CLAIMS as u64);
    pg.superuser_sql("VACUUM ANALYZE");
    let pg_queued = pg_size(&pg);
    let (pg_clients, pg_seconds) = claim_all(|i| {
        StationPool::open(
            &target,
            &StationOptions {
                station: format!("client-{i}"),
                lease: Duration::from_secs(600),
                reconnect_for: Duration::from_secs(10),
                watch: None,
                local_log: None,
            },
        )
        .expect("station pool")
        .queue()
    });
    // Exactly once, as the server sees it.
    assert_eq!(
        count(&pg, "SELECT count(*) FROM records WHERE state = 'done'"),
        CLAIMS as u64
    );
    assert_eq!(
        count(
            &pg,
            "SELECT count(DISTINCT card_serial) FROM records WHERE state = 'done'"
        ),
        CLAIMS as u64
    );
    let pg_done = pg_size(&pg);
    pg.superuser_sql("VACUUM FULL records");
    pg.superuser_sql("VACUUM FULL events");
    let pg_compacted = pg_size(&pg);

    // SQLite: the records' keys enqueued, then claimed by one connection per client.
    let journal = dir.path().join("journal.db");
    let keys = records.keys();
    Journal::open(&journal)
        .and_then(|mut j| j.enqueue(&keys, &status_key))
        .expect("enqueue");
    let (sqlite_clients, sqlite_seconds) = claim_all(|_| {
        let mut j = Journal::open(&journal).expect("open the journal");
        j.scope(codes.iter().map(String::as_str)).expect("scope");
        j
    });
    let rows = Journal::open_existing(&journal)
        .and_then(|j| j.rows())
        .expect("rows");
    assert_eq!(rows.len(), CLAIMS);
    assert!(rows.iter().all(|r| r.state == RecordState::Done));
    let serials: HashSet<_> = rows
        .iter()
        .filter_map(|r| r.card_serial.as_deref())
        .collect();
    assert_eq!(serials.len(), CLAIMS);
    // A clean close checkpoints the WAL into the main file; make sure of it.
    let conn = rusqlite::Connection::open(&journal).expect("sqlite");
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")
        .expect("checkpoint");
    drop(conn);
    let sqlite_done = std::fs::metadata(&journal).expect("journal").len();

    println!(
        "claim latency: {CLAIMS} records, {CLIENTS} concurrent clients, no card: each claims the \
         next record for a made-up serial and marks it done, until the queue is empty \
         (milliseconds per claim; claims/s: {CLAIMS} claims, each with its mark done, over the \
         wall time); every commit waits for the disk (PostgreSQL fsync on, SQLite WAL with \
         synchronous FULL)"
    );
    println!(
        "{:<12} {:>7} {:>8} {:>8} {:>8} {:>8} {:>10}",
        "journal", "claims", "p50", "p95", "p99", "max", "claims/s"
    );
    println!("{}", latency_line("PostgreSQL", &pg_clients, pg_seconds));
    println!(
        "{}",
        latency_line("SQLite file", &sqlite_clients, sqlite_seconds)
    );
    let kb = |bytes: u64| bytes as f64 / 1000.0;
    println!("journal size per {CLAIMS} records (records and events, indexes included):");
    println!(
        "PostgreSQL, queued (enrolment content in the queue): {:.0} KB",
        kb(pg_queued)
    );
    println!(
        "PostgreSQL, done (content dropped; dead row versions not yet vacuumed): {:.0} KB",
        kb(pg_done)
    );
    println!(
        "PostgreSQL, done, after VACUUM FULL: {:.0} KB",
        kb(pg_compacted)
    );
    println!(
        "SQLite file, done (keys only; WAL checkpointed): {:.0} KB",
        kb(sqlite_done)
    );
}

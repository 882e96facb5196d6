//! The shared queue's rules against a real PostgreSQL server: claims by many connections at
//! once, leases that run out, a card that may be locked, statements run twice.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use melli_testkit::postgres::Postgres;

use super::*;
use crate::journal::{JournalError, Outcome, Queue, RecordState, FIRST_STEP, LOCK_STEP};
use crate::model::ValidRecord;
use crate::pki::status_key::StatusKey;

fn target(url: &str) -> PgTarget {
    match JournalUrl::parse(url).expect("parses") {
        JournalUrl::Postgres(t) => t,
        other => panic!("not PostgreSQL: {other:?}"),
    }
}

fn record() -> ValidRecord {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/records/valid-1.json");
    ValidRecord::load(&path).expect("fixture record")
}

/// A migrated journal holding the fixture record; its tracking code.
fn journal_with_one_record(pg: &Postgres) -> (PgTarget, String) {
    let t = target(&pg.url());
    let mut journal = PgJournal::connect(&t).expect("connect");
    journal.migrate().expect("migrate");
    let record = record();
    let report = journal
        .import(&[&record], &StatusKey::from_bytes([3; 32]), "test")
        .expect("import");
    assert_eq!(report.new, 1);
    (t, record.tracking_code().to_string())
}

fn station(t: &PgTarget, name: &str, lease: Duration) -> PgQueue {
    StationPool::open(
        t,
        &StationOptions {
            station: name.to_owned(),
            lease,
            reconnect_for: Duration::ZERO,
            watch: None,
            local_log: None,
        },
    )
    .expect("station")
    .queue()
}

#[test]
fn a_record_is_claimed_once_by_many_stations_at_once() {
    let pg = Postgres::start_new();
    let (t, code) = journal_with_one_record(&pg);
    let winners: Vec<Option<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let t = t.clone();
                s.spawn(move || {
                    let mut q = station(&t, &format!("s{i}"), Duration::from_secs(60));
                    q.claim_next(&format!("CARD{i}"), "r")
                        .expect("claim")
                        .map(|row| row.tracking_code)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let claimed: Vec<&String> = winners.iter().flatten().collect();
    assert_eq!(claimed, [&code], "{winners:?}");
}

#[test]
fn a_card_holds_one_record_and_a_claim_run_twice_is_one_claim() {
    let pg = Postgres::start_new();
    let (t, code) = journal_with_one_record(&pg);
    let mut north = station(&t, "north", Duration::from_secs(60));
    let row = north
        .claim_next("CARD1", "r")
        .expect("claim")
        .expect("a record");
    assert_eq!(row.tracking_code, code);
    // The same claim again (its first answer lost with the connection): the same record.
    let again = north
        .claim_next("CARD1", "r")
        .expect("claim")
        .expect("a record");
    assert_eq!(again.tracking_code, code);
    // Another station with the same card serial: refused.
    let mut east = station(&t, "east", Duration::from_secs(60));
    assert!(matches!(
        east.claim_next("CARD1", "r"),
        Err(JournalError::CardTaken { .. })
    ));
    // And it cannot resume the card while north's lease lives.
    assert!(matches!(
        east.resume(&code, "CARD1", "r"),
        Err(JournalError::Leased { station, .. }) if station == "north"
    ));
    // Done twice (an answer lost) is done once.
    north.record_step(&code, "CARD1", LOCK_STEP).expect("step");
    north.mark_done(&code, "CARD1", "").expect("done");
    north.mark_done(&code, "CARD1", "").expect("done again");
    let counts = north.counts().expect("counts");
    assert_eq!((counts.done, counts.total()), (1, 1));
    assert_eq!(
        pg.superuser_sql("SELECT made_by, content IS NULL FROM records"),
        "north|t\n"
    );
}

#[test]
fn a_lease_that_runs_out_sends_the_record_back_unless_its_card_was_written_to() {
    let pg = Postgres::start_new();
    let (t, code) = journal_with_one_record(&pg);
    let mut dead = station(&t, "dead", Duration::from_secs(1));
    dead.claim_next("CARD1", "r")
        .expect("claim")
        .expect("a record");
    dead.record_step(&code, "CARD1", FIRST_STEP).expect("step");
    let mut east = station(&t, "east", Duration::from_secs(60));
    // Still leased: nothing to release.
    assert!(east
        .release_stale(0, &HashSet::new())
        .expect("release")
        .is_empty());
    std::thread::sleep(Duration::from_millis(1200));
    // Nothing of the record is on the card yet: back to the queue.
    let released = east.release_stale(0, &HashSet::new()).expect("release");
    assert_eq!(released.len(), 1, "{released:?}");
    assert_eq!(released[0].card_serial, "CARD1");
    // The dead station's next step finds its binding gone.
    assert!(matches!(
        dead.record_step(&code, "CARD1", "identity"),
        Err(JournalError::BindingLost { .. })
    ));
    // Claimed again for another card, which is written to; the lease runs out again.
    let mut dying = station(&t, "dying", Duration::from_secs(1));
    bind(&mut dying, &code, "CARD2");
    std::thread::sleep(Duration::from_millis(1200));
    // Bound to its card now: it waits for it.
    assert!(east
        .release_stale(0, &HashSet::new())
        .expect("release")
        .is_empty());
    let row = east
        .binding("CARD2")
        .expect("binding")
        .expect("still bound");
    assert_eq!(row.state, RecordState::Personalizing);
    assert!(east.waits_for_card(&row));
    // The card comes back at east: east resumes it.
    east.resume(&code, "CARD2", "r")
        .expect("resume at another station");
    east.mark_done(&code, "CARD2", "").expect("done");
    assert_eq!(east.counts().expect("counts").done, 1);
}

#[test]
fn a_card_pulled_at_the_lock_step_is_held_and_a_supervisor_releases_it() {
    let pg = Postgres::start_new();
    let (t, code) = journal_with_one_record(&pg);
    let mut north = station(&t, "north", Duration::from_secs(60));
    north
        .claim_next("CARD1", "r")
        .expect("claim")
        .expect("a record");
    north
        .record_step(&code, "CARD1", LOCK_STEP)
        .expect("lock step");
    let outcome = north
        .put_back(&code, "CARD1", "card pulled", true)
        .expect("put back");
    assert_eq!(outcome, Outcome::Held);
    // No lease now, and it is never released by itself.
    assert!(north
        .release_stale(0, &HashSet::new())
        .expect("release")
        .is_empty());
    let mut supervisor = PgJournal::open(&t).expect("open");
    let released = supervisor
        .release(&code, "card destroyed (test)")
        .expect("release");
    assert_eq!(released.step.as_deref(), Some(LOCK_STEP));
    assert_eq!(north.counts().expect("counts").queued, 1);
    // Released twice: refused, the record is not bound any more.
    assert!(matches!(
        supervisor.release(&code, "again"),
        Err(JournalError::NotBound { .. })
    ));
}

#[test]
fn importing_again_changes_nothing_and_other_content_is_refused() {
    let pg = Postgres::start_new();
    let (t, code) = journal_with_one_record(&pg);
    let mut journal = PgJournal::open(&t).expect("open");
    let key = StatusKey::from_bytes([3; 32]);
    let record = record();
    let again = journal.import(&[&record], &key, "test").expect("import");
    assert_eq!((again.new, again.unfinished), (0, 1));
    // The same tracking code, another person's record.
    let other = {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/records");
        let text = std::fs::read_to_string(dir.join("valid-2.json")).expect("fixture");
        let mut other = crate::model::EnrolmentRecord::from_json_str(&text).expect("json");
        other.tracking_code = code.clone();
        other.validate(&dir).expect("valid")
    };
    let before = pg.superuser_sql("SELECT content_sha256 FROM records");
    assert!(matches!(
        journal.import(&[&other], &key, "test"),
        Err(JournalError::Conflicts(c)) if c.len() == 1
    ));
    assert_eq!(
        pg.superuser_sql("SELECT content_sha256 FROM records"),
        before
    );
    // The person is found by the keyed hash, with the key only.
    let identity = record.identity();
    let found = journal
        .by_person(&identity.national_code(), &identity.birth_date(), &key)
        .expect("look-up");
    assert_eq!(found.map(|r| r.tracking_code), Some(code.clone()));
    let other_key = StatusKey::from_bytes([4; 32]);
    assert!(journal
        .by_person(
            &identity.national_code(),
            &identity.birth_date(),
            &other_key
        )
        .expect("look-up")
        .is_none());
    // The stored record gives back the card data it was made from.
    let mut q = station(&t, "north", Duration::from_secs(60));
    let back = q.enrolment(&code).expect("enrolment").expect("kept");
    assert_eq!(back.identity_dg(), record.identity_dg());
    assert_eq!(back.photo_dg(), record.photo_dg());
}

/// A station keeping its local log at `log`, giving up on a server away at once.
fn station_with_log(t: &PgTarget, name: &str, log: &Path) -> StationPool {
    StationPool::open(
        t,
        &StationOptions {
            station: name.to_owned(),
            lease: Duration::from_secs(1),
            reconnect_for: Duration::ZERO,
            watch: None,
            local_log: Some(log.to_owned()),
        },
    )
    .expect("station")
}

/// Claims the record for card `serial` and writes to the card: the record is bound to it.
fn bind(queue: &mut PgQueue, code: &str, serial: &str) {
    queue
        .claim_next(serial, "r")
        .expect("claim")
        .expect("a record");
    queue.record_step(code, serial, FIRST_STEP).expect("step");
    queue.record_step(code, serial, "identity").expect("step");
}

/// Station west with a local log, its queue holding the journal's one record bound to CARD1.
struct West {
    t: PgTarget,
    code: String,
    dir: tempfile::TempDir,
    log: std::path::PathBuf,
    pool: StationPool,
    queue: PgQueue,
}

impl West {
    fn with_card1_bound(pg: &Postgres) -> West {
        let (t, code) = journal_with_one_record(pg);
        let dir = tempfile::tempdir().expect("dir");
        let log = dir.path().join("west.log");
        let pool = station_with_log(&t, "west", &log);
        let mut queue = pool.queue();
        bind(&mut queue, &code, "CARD1");
        West {
            t,
            code,
            dir,
            log,
            pool,
            queue,
        }
    }

    /// The station stopped (its local log let go) and started again: its new pool, and the
    /// folder of its local log.
    fn restarted(self) -> (StationPool, tempfile::TempDir) {
        let West {
            t,
            dir,
            log,
            pool,
            queue,
            ..
        } = self;
        drop(queue);
        drop(pool);
        (station_with_log(&t, "west", &log), dir)
    }
}

#[test]
fn a_bound_card_is_finished_while_the_server_is_away_and_journaled_from_the_local_log() {
    let pg = Postgres::start_new();
    let mut west = West::with_card1_bound(&pg);
    let code = west.code.clone();
    pg.stop();
    // The record is bound: its card goes on without the journal …
    west.queue
        .record_step(&code, "CARD1", "photo")
        .expect("a step without the server");
    west.queue
        .record_step(&code, "CARD1", LOCK_STEP)
        .expect("the lock step without the server");
    // … and is locked; the journal cannot be told (no time to wait for it here).
    assert!(matches!(
        west.queue.mark_done(&code, "CARD1", ""),
        Err(JournalError::Server(PgError::Unreachable { .. }))
    ));
    pg.start();
    assert_eq!(
        pg.superuser_sql("SELECT state, step FROM records"),
        "personalizing|identity\n"
    );
    let (pool, _dir) = west.restarted();
    let reconciled = pool.reconcile().expect("reconcile");
    assert_eq!(reconciled.journaled.len(), 1, "{reconciled:?}");
    assert!(reconciled.conflicts.is_empty());
    assert_eq!(
        pg.superuser_sql("SELECT state, card_serial, made_by FROM records"),
        "done|CARD1|west\n"
    );
    // Nothing is left to tell.
    assert_eq!(pool.reconcile().expect("again"), Reconciled::default());
}

#[test]
fn a_card_locked_unheard_whose_record_was_released_meanwhile_is_a_conflict_in_the_journal() {
    let pg = Postgres::start_new();
    let mut west = West::with_card1_bound(&pg);
    let code = west.code.clone();
    // A supervisor releases the record (wrongly: its card is being finished).
    PgJournal::open(&west.t)
        .expect("open")
        .release(&code, "test")
        .expect("release");
    assert!(matches!(
        west.queue.mark_done(&code, "CARD1", ""),
        Err(JournalError::BindingLost { .. })
    ));
    let (pool, _dir) = west.restarted();
    let reconciled = pool.reconcile().expect("reconcile");
    assert_eq!(reconciled.conflicts.len(), 1, "{reconciled:?}");
    let events = pg.superuser_sql("SELECT event FROM events WHERE record_id IS NULL");
    assert!(events.contains("revoke card CARD1"), "{events}");
    // Told once: no longer pending.
    assert_eq!(pool.reconcile().expect("again"), Reconciled::default());
}

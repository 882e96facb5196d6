#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use super::*;
use crate::pki::status_key::StatusKey;

/// The issuer's status key, for tests.
fn status_key() -> StatusKey {
    StatusKey::from_bytes([9; 32])
}

fn key(code: &str, national: &str, birth: &str) -> NewRecord {
    NewRecord {
        tracking_code: TrackingCode::parse(code).unwrap(),
        national_code: NationalCode::parse(national).unwrap(),
        birth_date: JalaliDate::parse(birth).unwrap(),
    }
}

/// Three people, valid national codes.
fn people() -> Vec<NewRecord> {
    vec![
        key("A1", "0081493721", "1368/06/15"),
        key("A2", "0013542419", "1370/01/01"),
        key("A3", "1234567891", "1380/12/29"),
    ]
}

fn open(dir: &tempfile::TempDir) -> Journal {
    let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
    j.enqueue(&people(), &status_key()).unwrap();
    j.scope(["A1", "A2", "A3"]).unwrap();
    j
}

fn state(j: &Journal, code: &str) -> RecordRow {
    j.by_tracking_code(&TrackingCode::parse(code).unwrap())
        .unwrap()
        .unwrap()
}

#[test]
fn creates_a_versioned_wal_journal_with_full_sync() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let j = Journal::open(&path).unwrap();
    let pragma = |name: &str| -> String {
        j.conn
            .pragma_query_value(None, name, |r| {
                r.get::<_, rusqlite::types::Value>(0)
                    .map(|v| format!("{v:?}"))
            })
            .unwrap()
    };
    assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
    assert_eq!(pragma("synchronous"), "Integer(2)");
    assert_eq!(pragma("user_version"), format!("Integer({SCHEMA_VERSION})"));
    drop(j);
    // Reopening finds the schema; a newer one is refused, a foreign database too.
    Journal::open(&path).unwrap();
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    assert!(matches!(
        Journal::open(&path),
        Err(JournalError::TooNew { found, .. }) if found == SCHEMA_VERSION + 1
    ));

    let other = dir.path().join("other.db");
    let conn = Connection::open(&other).unwrap();
    conn.execute_batch("CREATE TABLE t (x)").unwrap();
    drop(conn);
    assert!(matches!(
        Journal::open(&other),
        Err(JournalError::Foreign(_))
    ));
    let text = dir.path().join("text.db");
    std::fs::write(
        &text,
        "not a database at all, just some text of some length",
    )
    .unwrap();
    assert!(matches!(
        Journal::open(&text),
        Err(JournalError::Foreign(_))
    ));
    assert!(matches!(
        Journal::open_existing(&dir.path().join("none.db")),
        Err(JournalError::Missing(_))
    ));
}

#[test]
fn the_schema_holds_nothing_secret() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(&dir.path().join("j.db")).unwrap();
    let mut columns = Vec::new();
    for table in ["records", "events"] {
        let mut stmt = j
            .conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap();
        let names: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        columns.extend(names);
    }
    assert_eq!(
        columns,
        [
            "id",
            "tracking_code",
            "national_code",
            "birth_date",
            "state",
            "reason",
            "card_serial",
            "step",
            "attempts",
            "refusals",
            "created_at",
            "updated_at",
            "finished_at",
            "birth_key",
            "id",
            "record_id",
            "at",
            "event",
        ]
    );
}

#[test]
fn enqueue_is_idempotent_and_requeues_failed_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let again = j.enqueue(&people(), &status_key()).unwrap();
    assert_eq!(
        again,
        Enqueued {
            unfinished: 3,
            ..Enqueued::default()
        }
    );
    let a1 = j.claim_next("S1", "r").unwrap().unwrap();
    assert_eq!(a1.tracking_code, "A1");
    j.mark_done("A1", "S1", "").unwrap();
    let a2 = j.claim_next("S2", "r").unwrap().unwrap();
    assert_eq!(
        j.refuse(&a2.tracking_code, "S2", "6A80", 1).unwrap(),
        Outcome::Failed
    );
    let report = j.enqueue(&people(), &status_key()).unwrap();
    assert_eq!(
        report,
        Enqueued {
            new: 0,
            again: 1,
            unfinished: 1,
            done: 1
        }
    );
    let a2 = state(&j, "A2");
    assert_eq!(a2.state, RecordState::Queued);
    assert_eq!(a2.card_serial, None);
    assert_eq!(a2.refusals, 0);
    let events = j.events("A2").unwrap();
    assert!(events
        .last()
        .unwrap()
        .event
        .starts_with("queued again by a new run (it had failed: 6A80"));
}

#[test]
fn a_tracking_code_of_someone_else_is_a_conflict_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let mut other = people();
    other[1].birth_date = JalaliDate::parse("1370/01/02").unwrap();
    other.push(key("A4", "0081493721", "1368/06/15"));
    assert_eq!(j.conflicts(&other, &status_key()).unwrap().len(), 1);
    assert!(
        matches!(j.enqueue(&other, &status_key()), Err(JournalError::Conflicts(c)) if c.len() == 1)
    );
    assert!(j
        .by_tracking_code(&TrackingCode::parse("A4").unwrap())
        .unwrap()
        .is_none());
}

#[test]
fn claims_in_order_within_scope_and_never_twice_per_card() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    j.scope(["A2", "A3"]).unwrap();
    assert_eq!(
        j.claim_next("S1", "r").unwrap().unwrap().tracking_code,
        "A2"
    );
    assert!(matches!(
        j.claim_next("S1", "r"),
        Err(JournalError::CardTaken { tracking_code, .. }) if tracking_code == "A2"
    ));
    let a3 = j.claim_next("S2", "r").unwrap().unwrap();
    assert_eq!(a3.tracking_code, "A3");
    assert_eq!(a3.state, RecordState::Personalizing);
    assert_eq!(a3.attempts, 1);
    assert!(
        j.claim_next("S3", "r").unwrap().is_none(),
        "A1 is out of scope"
    );
    assert_eq!(
        j.counts().unwrap(),
        Counts {
            personalizing: 2,
            ..Counts::default()
        }
    );
    assert_eq!(j.binding("S2").unwrap().unwrap().tracking_code, "A3");
    assert!(j.binding("S9").unwrap().is_none());
    // The database itself refuses a second live row on one card.
    let clash = j.conn.execute(
        "UPDATE records SET state = 'personalizing', card_serial = 'S1' WHERE tracking_code = 'A1'",
        [],
    );
    assert!(clash.is_err());
}

#[test]
fn steps_are_recorded_only_while_bound() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    j.claim_next("S1", "r").unwrap();
    j.record_step("A1", "S1", "photo").unwrap();
    assert_eq!(state(&j, "A1").step.as_deref(), Some("photo"));
    assert!(matches!(
        j.record_step("A1", "S2", "address"),
        Err(JournalError::BindingLost { .. })
    ));
    j.release("A1", "by the operator").unwrap();
    assert!(matches!(
        j.record_step("A1", "S1", "address"),
        Err(JournalError::BindingLost { .. })
    ));
}

#[test]
fn a_card_gone_mid_way_requeues_unless_the_lock_may_have_happened() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    j.claim_next("S1", "r").unwrap();
    j.record_step("A1", "S1", "photo").unwrap();
    assert_eq!(
        j.put_back("A1", "S1", "card removed", false).unwrap(),
        Outcome::Queued
    );
    let row = state(&j, "A1");
    assert_eq!(
        (row.state, row.card_serial, row.step),
        (RecordState::Queued, None, None)
    );
    assert_eq!(row.reason.as_deref(), Some("card removed"));

    // Claimed again (it is first in the queue), now pulled while locking.
    assert_eq!(
        j.claim_next("S2", "r").unwrap().unwrap().tracking_code,
        "A1"
    );
    j.record_step("A1", "S2", "lock").unwrap();
    assert!(state(&j, "A1").may_be_locked());
    assert_eq!(
        j.put_back("A1", "S2", "card removed", true).unwrap(),
        Outcome::Held
    );
    let row = state(&j, "A1");
    assert_eq!(row.state, RecordState::Personalizing);
    assert_eq!(row.card_serial.as_deref(), Some("S2"));
    // Another card never gets it; its own card resumes it.
    assert_eq!(
        j.claim_next("S3", "r").unwrap().unwrap().tracking_code,
        "A2"
    );
    assert_eq!(j.resume("A1", "S2", "r").unwrap().attempts, 3);
    j.mark_done("A1", "S2", " (found locked after an interruption)")
        .unwrap();
    let events: Vec<String> = j
        .events("A1")
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        events,
        [
            "queued",
            "bound to card S1 in reader r",
            "back in the queue: card removed",
            "bound to card S2 in reader r",
            "waits for card S2, which may be locked already: card removed",
            "resumed on card S2 in reader r",
            "done on card S2 (found locked after an interruption)",
        ]
    );
}

#[test]
fn refusals_requeue_then_fail() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    for (serial, expected) in [
        ("S1", Outcome::Queued),
        ("S2", Outcome::Queued),
        ("S3", Outcome::Failed),
    ] {
        let row = j.claim_next(serial, "r").unwrap().unwrap();
        assert_eq!(row.tracking_code, "A1");
        assert_eq!(j.refuse("A1", serial, "6982", 3).unwrap(), expected);
    }
    let row = state(&j, "A1");
    assert_eq!(row.state, RecordState::Failed);
    assert_eq!(row.refusals, 3);
    assert_eq!(row.card_serial.as_deref(), Some("S3"));
    // A failed row does not hold its card: the card may take another record.
    assert!(j.binding("S3").unwrap().is_none());
    assert_eq!(
        j.claim_next("S3", "r").unwrap().unwrap().tracking_code,
        "A2"
    );
}

#[test]
fn stale_bindings_are_released_except_at_the_lock_step_or_in_a_reader() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    j.claim_next("S1", "r").unwrap();
    j.record_step("A1", "S1", "identity").unwrap();
    j.claim_next("S2", "r").unwrap();
    j.record_step("A2", "S2", "lock").unwrap();
    j.claim_next("S3", "r").unwrap();
    let future = now() + 1000;
    let in_readers: HashSet<String> = ["S3".to_owned()].into();
    let released = j.release_stale(now() - 60_000, &in_readers).unwrap();
    assert!(released.is_empty(), "nothing is old enough");
    let released = j.release_stale(future, &in_readers).unwrap();
    assert_eq!(
        released,
        [Released {
            tracking_code: "A1".into(),
            card_serial: "S1".into(),
            step: Some("identity".into()),
        }]
    );
    assert_eq!(state(&j, "A1").state, RecordState::Queued);
    assert_eq!(state(&j, "A2").state, RecordState::Personalizing);
    assert_eq!(state(&j, "A3").state, RecordState::Personalizing);
    // The operator may release what the timeout may not; not a record that is done.
    let by_hand = j.release("A2", "by the operator").unwrap();
    assert_eq!(by_hand.step.as_deref(), Some("lock"));
    j.mark_done("A3", "S3", "").unwrap();
    assert!(matches!(
        j.release("A3", "x"),
        Err(JournalError::NotBound {
            state: RecordState::Done,
            ..
        })
    ));
    assert!(matches!(
        j.release("ZZ", "x"),
        Err(JournalError::Unknown(_))
    ));
}

#[test]
fn invalid_records_are_journaled_as_failed_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
    let record = key("B1", "0081493721", "1368/06/15");
    assert!(j
        .fail_invalid(&record, "photo: not a JPEG", &status_key())
        .unwrap());
    assert!(j
        .fail_invalid(&record, "photo: still not a JPEG", &status_key())
        .unwrap());
    let row = j.by_tracking_code(&record.tracking_code).unwrap().unwrap();
    assert_eq!(row.state, RecordState::Failed);
    assert_eq!(row.reason.as_deref(), Some("photo: still not a JPEG"));
    // Queued again by a valid line, done: an invalid line later leaves it alone.
    j.enqueue(std::slice::from_ref(&record), &status_key())
        .unwrap();
    j.scope(["B1"]).unwrap();
    j.claim_next("S1", "r").unwrap();
    j.mark_done("B1", "S1", "").unwrap();
    assert!(!j
        .fail_invalid(&record, "photo: broken", &status_key())
        .unwrap());
}

#[test]
fn finds_a_person_only_by_national_code_and_birth_date_together() {
    let dir = tempfile::tempdir().unwrap();
    let j = open(&dir);
    let nc = NationalCode::parse("0013542419").unwrap();
    let right = JalaliDate::parse("1370/01/01").unwrap();
    let wrong = JalaliDate::parse("1370/01/02").unwrap();
    assert_eq!(
        j.by_person(&nc, &right, &status_key())
            .unwrap()
            .unwrap()
            .tracking_code,
        "A2"
    );
    assert!(j.by_person(&nc, &wrong, &status_key()).unwrap().is_none());
}

#[test]
fn two_connections_claim_distinct_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    {
        let mut j = Journal::open(&path).unwrap();
        let many: Vec<NewRecord> = (0..40)
            .map(|i| NewRecord {
                tracking_code: TrackingCode::parse(&format!("R{i}")).unwrap(),
                national_code: NationalCode::parse("0081493721").unwrap(),
                birth_date: JalaliDate::parse("1368/06/15").unwrap(),
            })
            .collect();
        j.enqueue(&many, &status_key()).unwrap();
    }
    let codes: Vec<String> = (0..40).map(|i| format!("R{i}")).collect();
    let claimed: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|w| {
                let path = &path;
                let codes = &codes;
                s.spawn(move || {
                    let mut j = Journal::open(path).unwrap();
                    j.scope(codes.iter().map(String::as_str)).unwrap();
                    let mut mine = Vec::new();
                    for n in 0.. {
                        let serial = format!("W{w}N{n}");
                        match j.claim_next(&serial, "r").unwrap() {
                            Some(row) => {
                                j.mark_done(&row.tracking_code, &serial, "").unwrap();
                                mine.push(row.tracking_code);
                            }
                            None => break,
                        }
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<String> = claimed.into_iter().flatten().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 40);
}

#[test]
fn a_lookup_changes_nothing_and_refuses_what_is_not_a_journal() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        Journal::open_existing(&empty),
        Err(JournalError::Foreign(_))
    ));
    assert_eq!(std::fs::read(&empty).unwrap(), b"");
    assert!(matches!(
        Journal::open_existing(dir.path()),
        Err(JournalError::NotAFile {
            found: "a directory",
            ..
        })
    ));
    // Another program's database: refused by the batch too, before it is switched to WAL.
    let other = dir.path().join("other.db");
    let conn = Connection::open(&other).unwrap();
    conn.execute_batch("CREATE TABLE t (x)").unwrap();
    drop(conn);
    for open in [Journal::open, Journal::open_existing] {
        assert!(matches!(open(&other), Err(JournalError::Foreign(_))));
    }
    let conn = Connection::open(&other).unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
    // A lookup connection may not write.
    drop(open(&dir));
    let reader = Journal::open_existing(&dir.path().join("j.db")).unwrap();
    assert!(reader.conn.execute("DELETE FROM records", []).is_err());
}

#[test]
fn tracking_codes_are_found_whatever_their_case_unless_two_differ_in_case_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
    j.enqueue(
        &[
            key("Ab1", "0081493721", "1368/06/15"),
            key("XY7", "0013542419", "1370/01/01"),
            key("xy7", "1234567891", "1380/12/29"),
        ],
        &status_key(),
    )
    .unwrap();
    let find = |code: &str| {
        j.by_tracking_code(&TrackingCode::parse(code).unwrap())
            .unwrap()
            .map(|r| r.tracking_code)
    };
    assert_eq!(find("AB1").as_deref(), Some("Ab1"));
    assert_eq!(find("ab1").as_deref(), Some("Ab1"));
    assert_eq!(find("xy7").as_deref(), Some("xy7"));
    assert_eq!(find("XY7").as_deref(), Some("XY7"));
    assert_eq!(find("Xy7"), None, "two records differ in case only");
}

#[test]
fn a_version_1_journal_is_read_as_is_and_brought_up_to_date_by_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let mut j = open(&dir);
    j.claim_next("MC01", "reader 0").unwrap();
    drop(j);
    // As melli wrote it before replacements were kept.
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE replacements; DROP INDEX records_by_person_key;
         ALTER TABLE records DROP COLUMN birth_key",
    )
    .unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    drop(conn);
    let looked_up = Journal::open_existing(&path).unwrap();
    assert_eq!(looked_up.replaced_by("MC01").unwrap(), None);
    drop(looked_up);
    let mut j = Journal::open(&path).unwrap();
    j.mark_replaced("MC01", "MC02").unwrap();
    j.mark_replaced("MC01", "MC03").unwrap(); // recorded once: the first replacement stands
    assert_eq!(j.replaced_by("MC01").unwrap().as_deref(), Some("MC02"));
    let version: i64 = j
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}

#[test]
fn a_version_2_journal_keeps_its_birth_dates_until_they_are_hashed_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    drop(Journal::open(&path).unwrap());
    // As melli wrote it before the keyed hash: the birth date in clear.
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP INDEX records_by_person_key; ALTER TABLE records DROP COLUMN birth_key;
         INSERT INTO records (tracking_code, national_code, birth_date, created_at, updated_at)
         VALUES ('OLD1', '0081493721', '1368/06/15', 0, 0)",
    )
    .unwrap();
    conn.pragma_update(None, "user_version", 2).unwrap();
    drop(conn);
    let person = |j: &Journal, date: &str| {
        j.by_person(
            &NationalCode::parse("0081493721").unwrap(),
            &JalaliDate::parse(date).unwrap(),
            &status_key(),
        )
        .unwrap()
        .map(|r| r.tracking_code)
    };
    // Read as it is, then brought to version 3 by a batch: found by its date either way.
    let looked_up = Journal::open_existing(&path).unwrap();
    assert_eq!(person(&looked_up, "1368/06/15").as_deref(), Some("OLD1"));
    assert_eq!(looked_up.clear_birth_dates().unwrap(), 1);
    drop(looked_up);
    let mut j = Journal::open(&path).unwrap();
    assert_eq!(person(&j, "1368/06/15").as_deref(), Some("OLD1"));
    assert_eq!(j.clear_birth_dates().unwrap(), 1);
    // Hashed with the issuer's key: no date left, found by the key alone.
    assert_eq!(j.hash_birth_dates(&status_key()).unwrap(), 1);
    assert_eq!(j.clear_birth_dates().unwrap(), 0);
    let dates: String = j
        .conn
        .query_row(
            "SELECT group_concat(birth_date, '|') FROM records",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(dates, "");
    assert_eq!(person(&j, "1368/06/15").as_deref(), Some("OLD1"));
    assert_eq!(person(&j, "1368/06/16"), None);
    let other_key = StatusKey::from_bytes([1; 32]);
    assert_eq!(
        j.by_person(
            &NationalCode::parse("0081493721").unwrap(),
            &JalaliDate::parse("1368/06/15").unwrap(),
            &other_key,
        )
        .unwrap(),
        None
    );
}

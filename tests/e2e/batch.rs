//! The issuance line through pcscd: `melli batch` on several readers, each fed blank cards by a
//! `melli card feed`; the journal after a `kill -9` and a rerun; a card pulled mid-way; the
//! citizen's `melli status`.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use melli::journal::{Journal, RecordRow, RecordState};

use crate::common::feeder::{batch_records, Feeder, FeederOptions};
use crate::common::{melli, run, test_issuer, Output, MELLI};

/// `melli batch RECORDS --issuer ISSUER --journal DIR/journal.db --readers R1,R2… --json`.
fn batch_command(records: &Path, journal: &Path, feeders: &[&Feeder]) -> Command {
    let readers: Vec<&str> = feeders.iter().map(|f| f.reader_name()).collect();
    let mut command = Command::new(MELLI);
    command
        .arg("batch")
        .arg(records)
        .arg("--issuer")
        .arg(test_issuer())
        .arg("--journal")
        .arg(journal)
        .args(["--readers", &readers.join(","), "--json"]);
    command
}

fn run_batch(records: &Path, journal: &Path, feeders: &[&Feeder]) -> Output {
    run(
        &mut batch_command(records, journal, feeders),
        Duration::from_secs(180),
    )
}

fn rows(journal: &Path) -> Vec<RecordRow> {
    Journal::open_existing(journal)
        .and_then(|j| j.rows())
        .expect("read the journal")
}

/// Every record done exactly once: each on its own card, each card issued with its record's
/// national code in DG1, and no card issued that the journal does not account for.
fn assert_each_record_once(journal: &Path, records: usize, feeders: &[&Feeder]) {
    let rows = rows(journal);
    assert_eq!(rows.len(), records, "{rows:#?}");
    let mut serials = HashSet::new();
    let by_serial: HashMap<String, &RecordRow> = rows
        .iter()
        .map(|r| {
            assert_eq!(r.state, RecordState::Done, "{r:#?}");
            let serial = r.card_serial.clone().expect("a done record names its card");
            assert!(
                serials.insert(serial.clone()),
                "card {serial} has two records"
            );
            (serial, r)
        })
        .collect();
    let mut issued = 0;
    for feeder in feeders {
        for (serial, mut state) in feeder.cards() {
            if state["lifecycle"] == "blank" {
                continue;
            }
            assert_eq!(state["lifecycle"], "operational", "card {serial}");
            issued += 1;
            let row = by_serial
                .get(&serial)
                .unwrap_or_else(|| panic!("card {serial} is issued but has no record"));
            let dg1 = crate::common::state_file_content(&mut state, "0101")
                .as_str()
                .expect("hex")
                .to_string();
            assert!(
                dg1.contains(&hex::encode_upper(row.national_code.as_bytes())),
                "card {serial} does not carry record {}",
                row.tracking_code
            );
        }
    }
    assert_eq!(issued, records, "cards issued");
}

#[test]
fn a_batch_on_two_readers_makes_every_record_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = batch_records(dir.path(), 6);
    let journal = dir.path().join("journal.db");
    let a = Feeder::start(FeederOptions::new(4, test_issuer()));
    let b = Feeder::start(FeederOptions::new(4, test_issuer()));

    let out = run_batch(&records, &journal, &[&a, &b]);
    assert_eq!(
        out.code,
        0,
        "{out:?}\nfeeder a:\n{}\nfeeder b:\n{}",
        a.log(),
        b.log()
    );
    let report = out.json();
    assert_eq!(report["made"], 6, "{report}");
    assert_eq!(report["counts"]["done"], 6, "{report}");
    let per_reader: Vec<u64> = report["readers"]
        .as_array()
        .expect("readers")
        .iter()
        .map(|r| r["made"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(per_reader.iter().sum::<u64>(), 6, "{report}");
    assert!(
        per_reader.iter().all(|&n| n > 0),
        "one reader did all: {report}"
    );
    assert_each_record_once(&journal, 6, &[&a, &b]);

    // Running it again makes nothing twice.
    let again = run_batch(&records, &journal, &[&a, &b]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.json()["made"], 0, "{again:?}");
    assert_each_record_once(&journal, 6, &[&a, &b]);

    // The citizen asks; a wrong birth date reveals nothing.
    let journal_s = journal.to_str().expect("utf-8");
    let row = &rows(&journal)[0];
    let found = melli(&[
        "status",
        "--journal",
        journal_s,
        "--tracking-code",
        &row.tracking_code,
    ]);
    assert_eq!(found.code, 0, "{found:?}");
    assert!(found.stdout.contains("your card is ready"), "{found:?}");
    // The journal keeps no birth date: the issuer's keyed hash of the person only.
    assert!(rows(&journal).iter().all(|r| r.birth_date.is_empty()));
    let birth_date = std::fs::read_to_string(&records)
        .expect("records")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("record"))
        .find(|r| r["tracking_code"] == row.tracking_code.as_str())
        .map(|r| r["birth_date"].as_str().expect("date").to_owned())
        .expect("the record's line");
    let issuer = test_issuer().to_str().expect("utf-8");
    let by_person = melli(&[
        "status",
        "--journal",
        journal_s,
        "--issuer",
        issuer,
        "--national-code",
        &row.national_code,
        "--birth-date",
        &birth_date,
    ]);
    assert_eq!(by_person.stdout, found.stdout);
    let wrong_date = melli(&[
        "status",
        "--journal",
        journal_s,
        "--issuer",
        issuer,
        "--national-code",
        &row.national_code,
        "--birth-date",
        "1368/06/16",
    ]);
    let unknown = melli(&[
        "status",
        "--journal",
        journal_s,
        "--issuer",
        issuer,
        "--national-code",
        "0013542419",
        "--birth-date",
        "1368/06/16",
    ]);
    assert_eq!(wrong_date.code, 1, "{wrong_date:?}");
    assert_eq!(
        (wrong_date.code, &wrong_date.stdout, &wrong_date.stderr),
        (unknown.code, &unknown.stdout, &unknown.stderr)
    );
}

#[test]
fn a_feeder_swapping_cards_faster_than_pcscd_looks_does_not_hold_the_batch() {
    // pcscd looks at a vpcd reader every 400 ms: a feeder that puts the next card in 50 ms
    // after taking one out hides the swap from it, and the batch must find out by itself.
    let dir = tempfile::tempdir().expect("tempdir");
    let records = batch_records(dir.path(), 3);
    let journal = dir.path().join("journal.db");
    let feeder = Feeder::start(FeederOptions {
        gap_ms: 50,
        ..FeederOptions::new(4, test_issuer())
    });
    let out = run_batch(&records, &journal, &[&feeder]);
    assert_eq!(out.code, 0, "{out:?}\nfeeder:\n{}", feeder.log());
    assert_eq!(out.json()["made"], 3, "{out:?}");
    assert_each_record_once(&journal, 3, &[&feeder]);
}

/// Starts the batch, waits until the journal shows `when`, then kills it with SIGKILL.
fn kill_when(
    records: &Path,
    journal: &Path,
    feeders: &[&Feeder],
    what: &str,
    when: impl Fn(&[RecordRow]) -> bool,
) {
    let log_path = journal.with_extension("log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .expect("batch log");
    let mut child: Child = batch_command(records, journal, feeders)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .spawn()
        .expect("spawn melli batch");
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the batch ended ({status}) before {what}:\n{}", log());
        }
        if journal.exists() {
            if let Ok(rows) = Journal::open_existing(journal).and_then(|j| j.rows()) {
                if when(&rows) {
                    break;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "never reached {what}; batch output:\n{}\njournal: {:#?}\nfeeders:\n{}",
            log(),
            rows(journal),
            feeders
                .iter()
                .map(|f| f.log())
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("kill -9 the batch");
    let _ = child.wait();
}

/// A record on its card, past the secure channel and before locking: far from the one step
/// (lock) whose answer decides whether the card holds the record.
fn mid_way(rows: &[RecordRow]) -> usize {
    rows.iter()
        .filter(|r| {
            r.state == RecordState::Personalizing
                && r.step
                    .as_deref()
                    .is_some_and(|s| !matches!(s, "secure-channel" | "pin-puk" | "lock"))
        })
        .count()
}

fn done(rows: &[RecordRow]) -> usize {
    rows.iter().filter(|r| r.state == RecordState::Done).count()
}

#[test]
fn kill_9_mid_batch_then_the_same_command_finishes_every_record_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = batch_records(dir.path(), 5);
    let journal = dir.path().join("journal.db");
    // Cards as slow as real chips (20 ms an APDU): a personalization takes about a second.
    let options = FeederOptions {
        apdu_delay_ms: 20,
        ..FeederOptions::new(4, test_issuer())
    };
    let a = Feeder::start(options.clone());
    let b = Feeder::start(options);
    let feeders = [&a, &b];

    // Killed while the first cards are half-made…
    kill_when(&records, &journal, &feeders, "a card half-made", |rows| {
        mid_way(rows) >= 1
    });
    let after_first = rows(&journal);
    assert!(mid_way(&after_first) >= 1, "{after_first:#?}");
    // …then again once some are done and others half-made…
    kill_when(
        &records,
        &journal,
        &feeders,
        "two done and one half-made",
        |rows| done(rows) >= 2 && mid_way(rows) >= 1,
    );
    // …then the same command to the end.
    let out = run_batch(&records, &journal, &feeders);
    assert_eq!(
        out.code,
        0,
        "{out:?}\nfeeder a:\n{}\nfeeder b:\n{}",
        a.log(),
        b.log()
    );
    assert_each_record_once(&journal, 5, &feeders);
    // A half-made card was finished with its own record, not given another.
    let resumed = rows(&journal).iter().filter(|r| r.attempts >= 2).count();
    assert!(resumed >= 1, "no record was resumed: {:#?}", rows(&journal));
}

#[test]
fn a_card_pulled_mid_way_sends_its_record_back_to_the_queue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = batch_records(dir.path(), 2);
    let journal = dir.path().join("journal.db");
    // The first card is pulled after its 12th command (writing the photo), back a second later.
    let feeder = Feeder::start(FeederOptions {
        tear_at: Some(12),
        ..FeederOptions::new(3, test_issuer())
    });
    let out = run_batch(&records, &journal, &[&feeder]);
    assert_eq!(out.code, 0, "{out:?}\nfeeder:\n{}", feeder.log());
    assert!(feeder.log().contains("card pulled after command APDU 12"));
    assert_each_record_once(&journal, 2, &[&feeder]);
    let journal_rows = rows(&journal);
    let first = &journal_rows[0];
    let events = Journal::open_existing(&journal)
        .and_then(|j| j.events(&first.tracking_code))
        .expect("events");
    let text: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert!(
        text.iter().any(|e| e.contains("back in the queue")),
        "{text:#?}"
    );
}

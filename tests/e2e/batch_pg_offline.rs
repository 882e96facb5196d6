//! A station that loses the shared journal's server in the middle of a card (issue 20): it
//! finishes the card in hand, keeping it in its local log, takes no new record, reconnects
//! with backoff and journals the card when the server is back. Killed before the server comes
//! back, it journals the card from its local log when it starts again — though the card has
//! left the reader — and meanwhile no other station takes the record, however long its lease
//! has run out. Real PostgreSQL (a private cluster), real pcscd + vpcd, slow virtual chips so
//! that the server goes away while a card is being written.

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

use melli::journal::postgres::LocalLog;
use melli_testkit::postgres::Postgres;

use crate::common::feeder::FeederOptions;
use crate::common::stations::{migrate_and_import, records, wait_until, Station};
use crate::common::test_issuer;

const RECORDS: usize = 8;

/// The record west is writing to its card now, early in the card (its DG1 or DG2 being
/// written): tracking code and card serial.
fn being_written(pg: &Postgres, west: &mut Station, not: &[String]) -> (String, String) {
    let mut found = None;
    wait_until(&mut [west], 120, "west writing a card", |_| {
        let rows = pg.superuser_sql(
            "SELECT tracking_code, card_serial FROM records
             WHERE state = 'personalizing' AND lease_station = 'west'
               AND step IN ('identity', 'photo')",
        );
        found = rows
            .lines()
            .filter_map(|l| l.split_once('|'))
            .map(|(c, s)| (c.to_owned(), s.to_owned()))
            .find(|(c, _)| !not.contains(c));
        found.is_some()
    });
    found.expect("found")
}

/// Cards of the station's feeders that are not blank.
fn touched(station: &Station) -> usize {
    station.cards().len() - station.count_in("blank")
}

#[test]
fn a_station_finishes_the_card_in_hand_without_the_server_and_journals_it_later() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = records(dir.path(), RECORDS);
    let pg = Postgres::start_new();
    let url = pg.url();
    migrate_and_import(&url, &records);

    // Slow chips: a card takes seconds.
    let slow = FeederOptions {
        apdu_delay_ms: 60,
        ..FeederOptions::new(RECORDS as u32, test_issuer())
    };
    let mut west = Station::with_feeders("west", dir.path(), &slow, 1);
    west.start(&url);

    // 1. The server stops while west writes a card: the card is finished and locked all the
    // same, no other card is touched, and the journal has it done once the server is back.
    let (first, first_serial) = being_written(&pg, &mut west, &[]);
    pg.stop();
    let touched_at_stop = touched(&west);
    wait_until(
        &mut [&mut west],
        60,
        "the card finished without the server",
        |s| s[0].lifecycle(&first_serial) == "operational",
    );
    thread::sleep(Duration::from_secs(2));
    assert_eq!(
        touched(&west),
        touched_at_stop,
        "a card taken while the server is away"
    );
    assert!(
        west.output().contains(&format!(
            "finishing card {first_serial} for record {first} in the station's local log"
        )),
        "{}",
        west.output()
    );
    pg.start();
    let done_on = |code: &str, serial: &str| {
        let sql = format!(
            "SELECT count(*) FROM records WHERE tracking_code = '{code}' AND state = 'done'
               AND card_serial = '{serial}' AND made_by = 'west'"
        );
        pg.superuser_sql(&sql).trim() == "1"
    };
    wait_until(&mut [&mut west], 60, "the first card journaled", |_| {
        done_on(&first, &first_serial)
    });
    let events = pg.superuser_sql(&format!(
        "SELECT e.event FROM events e JOIN records r ON r.id = e.record_id
         WHERE r.tracking_code = '{first}' ORDER BY e.id"
    ));
    assert!(
        events.contains("(finished while the journal server was away)"),
        "{events}"
    );

    // 2. Again, and west is killed before the server is back (the feeder takes the issued card
    // out when west lets go of it).
    let (second, second_serial) = being_written(&pg, &mut west, std::slice::from_ref(&first));
    pg.stop();
    wait_until(&mut [&mut west], 60, "the second card finished", |s| {
        s[0].lifecycle(&second_serial) == "operational"
    });
    // Its lock is on the station's disk before the journal is asked.
    thread::sleep(Duration::from_millis(500));
    west.kill_9();
    pg.start();

    // Another station starts meanwhile: the record stays bound to its card, though the lease
    // ran out long ago, and east makes other records.
    let mut east = Station::with_feeders(
        "east",
        dir.path(),
        &FeederOptions {
            apdu_delay_ms: 30,
            ..FeederOptions::new(RECORDS as u32, test_issuer())
        },
        1,
    );
    east.start(&url);
    thread::sleep(Duration::from_secs(6));
    let row = pg.superuser_sql(&format!(
        "SELECT state, card_serial FROM records WHERE tracking_code = '{second}'"
    ));
    assert_eq!(
        row.trim(),
        format!("personalizing|{second_serial}"),
        "east released it"
    );

    // West starts again: its local log journals the card first.
    west.start(&url);
    let deadline = Instant::now() + Duration::from_secs(240);
    for station in [&mut west, &mut east] {
        let code = station.wait(deadline);
        assert_eq!(code, 0, "station {}:\n{}", station.name, station.output());
    }
    assert!(done_on(&second, &second_serial));
    assert!(
        west.output().contains(&format!(
            "record {second} on card {second_serial}, locked while the journal server was away, \
             is journaled done now"
        )),
        "{}",
        west.output()
    );
    let events = pg.superuser_sql(&format!(
        "SELECT e.event FROM events e JOIN records r ON r.id = e.record_id
         WHERE r.tracking_code = '{second}' ORDER BY e.id"
    ));
    assert!(events.contains("from the station's local log"), "{events}");

    // Every record done once, each on its own card, and every issued card is a done record's.
    assert_eq!(
        pg.superuser_sql(
            "SELECT count(*), count(DISTINCT card_serial) FROM records WHERE state = 'done'"
        )
        .trim(),
        format!("{RECORDS}|{RECORDS}")
    );
    let journaled: HashSet<String> = pg
        .superuser_sql("SELECT card_serial FROM records")
        .lines()
        .map(str::to_owned)
        .collect();
    let mut issued = 0;
    for station in [&west, &east] {
        for (serial, state) in station.cards() {
            if state["lifecycle"] == "operational" {
                assert!(
                    journaled.contains(&serial),
                    "card {serial} issued without a record"
                );
                issued += 1;
            }
        }
    }
    assert_eq!(issued, RECORDS, "cards issued");

    // Nothing is pending in west's local log; it names cards and steps, never a PIN.
    let log = LocalLog::open(&west.local_log, "west").expect("west's local log");
    assert!(log.pending().is_empty(), "{:?}", log.pending());
    let text = std::fs::read_to_string(&west.local_log).expect("local log");
    assert!(
        text.contains(&format!("\"tracking_code\":\"{second}\"")),
        "{text}"
    );
    assert!(text.contains("\"offline\":true"), "{text}");
    for line in text.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let keys: Vec<&str> = entry
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert!(
            keys.iter()
                .all(|k| ["at", "what", "tracking_code", "serial", "step", "offline"].contains(k)),
            "{line}"
        );
    }
}

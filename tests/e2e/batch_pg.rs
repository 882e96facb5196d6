//! Many stations, one queue: three `melli batch run` stations, each with two card feeders
//! through pcscd + vpcd, share 60 records in a real PostgreSQL server (a private cluster of the
//! test kit). One station is killed with SIGKILL twice while a card is half-made, and the
//! server is restarted once mid-batch; at the end every record is issued exactly once, every
//! issued card passes passive authentication against the issuer's root, and the journal's
//! counts are the cards'.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::time::{Duration, Instant, SystemTime};

use melli_testkit::postgres::Postgres;

use crate::common::stations::{national_code, records, wait_until, Station};
use crate::common::{assert_secret_absent, melli, path_str, test_issuer, Output};

/// One number from the server.
fn count(pg: &Postgres, sql: &str) -> u64 {
    pg.superuser_sql(sql).trim().parse().unwrap_or(0)
}

/// Waits until `sql` counts at least `least`, every station still running.
fn wait_for(pg: &Postgres, stations: &mut [Station], what: &str, sql: &str, least: u64) {
    let mut all: Vec<&mut Station> = stations.iter_mut().collect();
    wait_until(&mut all, 120, what, |_| count(pg, sql) >= least);
}

/// Records of station `name` on a card past the secure channel and before the lock step.
fn half_made_at(name: &str) -> String {
    format!(
        "SELECT count(*) FROM records WHERE state = 'personalizing' AND lease_station = '{name}'
           AND step IS NOT NULL AND step NOT IN ('secure-channel', 'pin-puk', 'lock')"
    )
}

const DONE: &str = "SELECT count(*) FROM records WHERE state = 'done'";

#[test]
fn three_stations_share_sixty_records_through_kills_and_a_server_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The 40 of the batch fixture, and 20 more made from them with their own tracking and
    // national codes.
    let records = records(dir.path(), 60);
    let pg = Postgres::start_new();
    let url = pg.url();

    let migrated = melli(&["journal", "migrate", "--journal", &url]);
    assert_eq!(migrated.code, 0, "{migrated:?}");
    let import = |extra: &[&str]| -> Output {
        let mut args = vec!["batch", "import", path_str(&records), "--issuer"];
        args.push(path_str(test_issuer()));
        args.extend_from_slice(&["--journal", &url]);
        args.extend_from_slice(extra);
        melli(&args)
    };
    let first = import(&["--json"]);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(first.json()["new"], 60, "{first:?}");
    // Imported again: nothing new, nothing doubled.
    let again = import(&["--json"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.json()["new"], 0, "{again:?}");
    assert_eq!(again.json()["unfinished"], 60, "{again:?}");
    assert_eq!(count(&pg, "SELECT count(*) FROM records"), 60);
    // No birth date in the journal: the birth_key column only, 32 bytes of keyed hash.
    assert_eq!(
        count(
            &pg,
            "SELECT count(*) FROM records WHERE length(birth_key) = 32 AND content IS NOT NULL"
        ),
        60
    );

    // 60 records, 6 readers: 14 cards each leaves spares for the cards a kill spoils.
    let mut stations: Vec<Station> = ["north", "east", "south"]
        .iter()
        .map(|name| Station::new(name, dir.path(), 14))
        .collect();
    for s in &mut stations {
        s.start(&url);
    }
    let started = Instant::now();

    // Station north is killed while a card is half-made, and started again at once …
    wait_for(
        &pg,
        &mut stations,
        "north half-way",
        &half_made_at("north"),
        1,
    );
    stations[0].kill_9();
    stations[0].start(&url);
    // … the server restarts once a third of the queue is done …
    wait_for(&pg, &mut stations, "20 done", DONE, 20);
    pg.restart();
    // … and north is killed again half-way through a later card.
    wait_for(&pg, &mut stations, "35 done", DONE, 35);
    wait_for(
        &pg,
        &mut stations,
        "north half-way again",
        &half_made_at("north"),
        1,
    );
    stations[0].kill_9();
    stations[0].start(&url);

    let deadline = Instant::now() + Duration::from_secs(240);
    for s in &mut stations {
        let code = s.wait(deadline);
        assert_eq!(code, 0, "station {}:\n{}", s.name, s.output());
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("60 cards on 3 stations (6 readers) in {seconds:.1} s");

    // Every record done, each on its own card.
    assert_eq!(
        count(&pg, DONE),
        60,
        "{}",
        pg.superuser_sql("SELECT * FROM records")
    );
    assert_eq!(
        count(
            &pg,
            "SELECT count(DISTINCT card_serial) FROM records WHERE state = 'done'"
        ),
        60
    );
    assert_eq!(
        count(
            &pg,
            "SELECT count(*) FROM records WHERE content IS NOT NULL"
        ),
        0,
        "a done record keeps no enrolment data"
    );
    let by_serial: HashMap<String, (String, String)> = pg
        .superuser_sql("SELECT card_serial, tracking_code, national_code FROM records")
        .lines()
        .map(|line| {
            let parts: Vec<&str> = line.split('|').collect();
            (
                parts[0].to_owned(),
                (parts[1].to_owned(), parts[2].to_owned()),
            )
        })
        .collect();

    // Every issued card is in the journal with its record, and its data passes passive
    // authentication against the issuer's root.
    let root = melli::pki::cert::from_pem_or_der(
        &fs::read(test_issuer().join("root.pem")).expect("root.pem"),
    )
    .expect("root certificate");
    let mut issued = HashSet::new();
    for station in &stations {
        for (serial, state) in station.cards() {
            if state["lifecycle"] == "blank" {
                continue;
            }
            assert_eq!(state["lifecycle"], "operational", "card {serial}: {state}");
            let (tracking_code, national_code) = by_serial
                .get(&serial)
                .unwrap_or_else(|| panic!("card {serial} is issued but has no record"));
            let file = |fid: &str| -> Vec<u8> {
                let mut state = state.clone();
                hex::decode(
                    crate::common::state_file_content(&mut state, fid)
                        .as_str()
                        .expect("hex"),
                )
                .expect("hex content")
            };
            let dg1 = file("0101");
            let text = String::from_utf8_lossy(&dg1);
            assert!(text.contains(national_code.as_str()), "card {serial}");
            assert!(text.contains(tracking_code.as_str()), "card {serial}");
            // Every readable group: DG3 (the fingerprint) never leaves the chip.
            let groups: Vec<(u8, Vec<u8>)> = [1u8, 2, 4, 5, 6, 7]
                .into_iter()
                .map(|n| (n, file(&format!("010{n}"))))
                .collect();
            let borrowed: Vec<(u8, &[u8])> =
                groups.iter().map(|(n, b)| (*n, b.as_slice())).collect();
            let verdict = melli::ops::verify::passive_authentication(
                &file("011D"),
                &serial,
                &borrowed,
                &root,
                SystemTime::now(),
            );
            assert!(verdict.passed(), "card {serial}: {verdict:?}");
            assert!(issued.insert(serial), "a card twice");
        }
    }
    assert_eq!(issued.len(), 60, "cards issued");

    // The journal's counts are the cards', station by station.
    let watch = melli(&["batch", "watch", "--journal", &url, "--once", "--json"]);
    assert_eq!(watch.code, 0, "{watch:?}");
    let progress = watch.json();
    assert_eq!(progress["counts"]["done"], 60, "{progress}");
    assert_eq!(progress["counts"]["queued"], 0, "{progress}");
    assert_eq!(progress["counts"]["personalizing"], 0, "{progress}");
    let made: u64 = progress["stations"]
        .as_array()
        .expect("stations")
        .iter()
        .map(|s| s["made"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(made, 60, "{progress}");
    for station in &stations {
        let issued_here = station.issued();
        let row = progress["stations"]
            .as_array()
            .expect("stations")
            .iter()
            .find(|s| s["station"] == station.name.as_str())
            .unwrap_or_else(|| panic!("no station {} in {progress}", station.name));
        assert_eq!(
            row["made"].as_u64(),
            Some(issued_here as u64),
            "station {}",
            station.name
        );
    }

    // The restart was noticed and outlived; the password never printed.
    let all: String = stations.iter().map(Station::output).collect();
    assert!(
        all.contains("lost the journal server") && all.contains("is back after"),
        "{all}"
    );
    let outputs: Vec<Output> = stations
        .iter()
        .map(|s| Output {
            code: 0,
            stdout: s.output(),
            stderr: String::new(),
        })
        .collect();
    let mut refs: Vec<&Output> = outputs.iter().collect();
    refs.extend([&first, &again, &watch, &migrated]);
    assert_secret_absent(pg.password(), &refs);

    // The citizen's status from the shared journal: by tracking code; by national code and
    // birth date with the issuer's key (the journal has only its keyed hash), where a wrong
    // birth date answers exactly as an unknown person.
    let line: serde_json::Value = serde_json::from_str(
        fs::read_to_string(&records)
            .expect("records")
            .lines()
            .nth(44)
            .expect("record 45"),
    )
    .expect("record JSON");
    let code = line["tracking_code"].as_str().expect("tracking code");
    let by_code = melli(&[
        "status",
        "--journal",
        &url,
        "--tracking-code",
        code,
        "--json",
    ]);
    assert_eq!(by_code.code, 0, "{by_code:?}");
    let (serial, _) = by_serial
        .iter()
        .find(|(_, (c, _))| c == code)
        .expect("record 45's card");
    assert_eq!(by_code.json()["state"], "done", "{by_code:?}");
    assert_eq!(
        by_code.json()["card_serial"],
        serial.as_str(),
        "{by_code:?}"
    );
    let person = |birth_date: &str, issuer: bool| {
        let mut args = vec![
            "status",
            "--journal",
            &url,
            "--national-code",
            line["national_code"].as_str().expect("national code"),
            "--birth-date",
            birth_date,
        ];
        if issuer {
            args.extend(["--issuer", path_str(test_issuer())]);
        }
        melli(&args)
    };
    let found = person(line["birth_date"].as_str().expect("birth date"), true);
    assert_eq!(found.code, 0, "{found:?}");
    assert!(found.stdout.contains(serial.as_str()), "{found:?}");
    let wrong_date = person("1300/01/01", true);
    let unknown = melli(&[
        "status",
        "--journal",
        &url,
        "--national-code",
        &national_code(999),
        "--birth-date",
        "1300/01/01",
        "--issuer",
        path_str(test_issuer()),
    ]);
    assert_eq!(wrong_date.code, 1, "{wrong_date:?}");
    assert_eq!(
        (wrong_date.code, &wrong_date.stdout, &wrong_date.stderr),
        (unknown.code, &unknown.stdout, &unknown.stderr)
    );
    let keyless = person(line["birth_date"].as_str().expect("birth date"), false);
    assert_eq!(keyless.code, 2, "{keyless:?}");
    assert!(keyless.stderr.contains("give --issuer DIR"), "{keyless:?}");
}

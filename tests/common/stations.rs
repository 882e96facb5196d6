//! Stations on a shared queue: `melli batch run` processes, each with its own card feeders, and
//! records files of any length made from the batch fixture (`tests/e2e/batch_pg.rs`, and the
//! benches of `tests/e2e/bench_stations.rs`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use melli_testkit::process::stop_child;

use super::feeder::{batch_records, Feeder, FeederOptions};
use super::{melli, path_str, test_issuer, MELLI};

/// Records in `fixtures/records/batch-40.jsonl`.
pub const FIXTURE_RECORDS: usize = 40;

/// `count` records in `dir/records.jsonl`: the batch fixture's (at most 40), then copies of
/// them, in turn, each with its own tracking code (`PG` and ten digits, from 41 on) and
/// national code ([`national_code`] of 500 on). Returns the file's path.
pub fn records(dir: &Path, count: usize) -> PathBuf {
    let path = batch_records(dir, count.min(FIXTURE_RECORDS));
    let lines: Vec<String> = fs::read_to_string(&path)
        .expect("records")
        .lines()
        .map(str::to_owned)
        .collect();
    let mut all = lines.clone();
    for i in 0..count.saturating_sub(FIXTURE_RECORDS) {
        let mut record: serde_json::Value =
            serde_json::from_str(&lines[i % lines.len()]).expect("record JSON");
        record["tracking_code"] = format!("PG{:010}", i + FIXTURE_RECORDS + 1).into();
        record["national_code"] = national_code(500 + u32::try_from(i).expect("count")).into();
        all.push(record.to_string());
    }
    fs::write(&path, all.join("\n") + "\n").expect("write records");
    path
}

/// A valid national code (its check digit by the standard's weights 10…2, mod 11) from `n`
/// (below 877 000 000, so that it keeps nine digits before the check digit).
pub fn national_code(n: u32) -> String {
    let first_nine = format!("{:09}", 123_000_000 + n);
    let sum: u32 = first_nine
        .bytes()
        .zip((2..=10u32).rev())
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let r = sum % 11;
    let check = if r < 2 { r } else { 11 - r };
    format!("{first_nine}{check}")
}

/// One station: its feeders, and its `melli batch run` while it runs.
pub struct Station {
    pub name: String,
    pub feeders: Vec<Feeder>,
    child: Option<Child>,
    log: PathBuf,
    mailers: PathBuf,
    /// The station's own log (`--local-log`).
    pub local_log: PathBuf,
}

impl Station {
    /// A station with two feeders of `cards` cards each, 10 ms per APDU.
    pub fn new(name: &str, dir: &Path, cards: u32) -> Station {
        let options = FeederOptions {
            apdu_delay_ms: 10,
            ..FeederOptions::new(cards, test_issuer())
        };
        Station::with_feeders(name, dir, &options, 2)
    }

    /// A station with `feeders` feeders started with `options`.
    pub fn with_feeders(
        name: &str,
        dir: &Path,
        options: &FeederOptions,
        feeders: usize,
    ) -> Station {
        Station {
            name: name.to_owned(),
            feeders: (0..feeders)
                .map(|_| Feeder::start(options.clone()))
                .collect(),
            child: None,
            log: dir.join(format!("{name}.log")),
            mailers: dir.join(format!("{name}-mailers")),
            local_log: dir.join(format!("{name}-local.log")),
        }
    }

    /// The feeders' readers, comma-separated as `--readers` takes them.
    pub fn readers(&self) -> String {
        let names: Vec<&str> = self.feeders.iter().map(Feeder::reader_name).collect();
        names.join(",")
    }

    /// Starts `melli batch run`, the journal named by MELLI_JOURNAL (the password kept off the
    /// command line).
    pub fn start(&mut self, url: &str) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("station log");
        let child = Command::new(MELLI)
            .args(["batch", "run", "--station", &self.name, "--issuer"])
            .arg(test_issuer())
            .args(["--readers", &self.readers()])
            .arg("--pin-mailers")
            .arg(&self.mailers)
            .arg("--local-log")
            .arg(&self.local_log)
            .args(["--lease", "3", "--reconnect-for", "120", "--json"])
            .env("MELLI_JOURNAL", url)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn melli batch run");
        self.child = Some(child);
    }

    pub fn kill_9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9 the station");
            let _ = child.wait();
        }
    }

    /// How the station ended, if it has (it stays "running" for [`Station::wait`] otherwise).
    pub fn ended(&mut self) -> Option<ExitStatus> {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(Some(status))) => Some(status),
            _ => None,
        }
    }

    /// Waits for the station to end by itself; its exit code.
    pub fn wait(&mut self, deadline: Instant) -> i32 {
        let child = self.child.as_mut().expect("the station runs");
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "station {} did not end:\n{}",
                self.name,
                self.output()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// What the station printed so far (stdout and stderr).
    pub fn output(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Every card of the station's feeders made so far: serial and state (as JSON).
    pub fn cards(&self) -> Vec<(String, serde_json::Value)> {
        self.feeders.iter().flat_map(Feeder::cards).collect()
    }

    /// The lifecycle of card `serial` (empty if no feeder has made it).
    pub fn lifecycle(&self, serial: &str) -> String {
        self.cards()
            .into_iter()
            .find(|(s, _)| s == serial)
            .map(|(_, state)| state["lifecycle"].as_str().unwrap_or("?").to_owned())
            .unwrap_or_default()
    }

    /// Cards the station's feeders hold in lifecycle `state` ("blank", "operational", …).
    pub fn count_in(&self, state: &str) -> usize {
        self.cards()
            .iter()
            .filter(|(_, s)| s["lifecycle"] == state)
            .count()
    }

    /// Cards the station's feeders hold that are issued (operational).
    pub fn issued(&self) -> usize {
        self.count_in("operational")
    }
}

impl Drop for Station {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child, Duration::ZERO);
        }
    }
}

/// Migrates the shared journal at `url` and imports the records file at `records` into it;
/// the import's JSON report.
pub fn migrate_and_import(url: &str, records: &Path) -> serde_json::Value {
    let migrated = melli(&["journal", "migrate", "--journal", url]);
    assert_eq!(migrated.code, 0, "{migrated:?}");
    let import = melli(&[
        "batch",
        "import",
        path_str(records),
        "--issuer",
        path_str(test_issuer()),
        "--journal",
        url,
        "--json",
    ]);
    assert_eq!(import.code, 0, "{import:?}");
    import.json()
}

/// Waits up to `seconds` (looking every 10 ms) until `done`, failing with the end of every
/// station's output if one of them ends first or time runs out.
pub fn wait_until(
    stations: &mut [&mut Station],
    seconds: u64,
    what: &str,
    mut done: impl FnMut(&[&mut Station]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done(&*stations) {
        for s in stations.iter_mut() {
            if let Some(status) = s.ended() {
                panic!(
                    "station {} ended ({status}) before {what}:\n{}",
                    s.name,
                    s.output()
                );
            }
        }
        assert!(
            Instant::now() < deadline,
            "never {what}; stations:\n{}",
            stations
                .iter()
                .map(|s| format!("--- {}:\n{}", s.name, tail(&s.output(), 3000)))
                .collect::<String>()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// The end of a long text.
pub fn tail(text: &str, bytes: usize) -> &str {
    let mut start = text.len().saturating_sub(bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

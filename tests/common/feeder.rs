//! A card feeder on one of our readers: `melli card feed`, a stack of blank virtual cards put
//! in the reader one at a time, each leaving when it is issued and the host lets go of it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use melli_testkit::pcscd::{Pcscd, Slot};
use melli_testkit::process::{next_id, stop_child};
use melli_testkit::readers::{
    card_absent_from, reader_statuses, stop_leaving_reader_empty, wait_card_of, POLL, READY_TIMEOUT,
};

use super::{path_str, process, MELLI};

/// How to start a [`Feeder`].
#[derive(Debug, Clone)]
pub struct FeederOptions {
    /// Cards in the stack.
    pub count: u32,
    /// The issuer whose master key (in its token) diversifies the cards' keys.
    pub issuer: PathBuf,
    /// Milliseconds between two cards (`--gap-ms`).
    pub gap_ms: u64,
    /// Milliseconds per command APDU (`--apdu-delay-ms`), like a real chip.
    pub apdu_delay_ms: u64,
    /// Pull the first card after its K-th command APDU (`--tear-at`).
    pub tear_at: Option<u64>,
}

impl FeederOptions {
    pub fn new(count: u32, issuer: &Path) -> FeederOptions {
        FeederOptions {
            count,
            issuer: issuer.to_path_buf(),
            gap_ms: 600,
            apdu_delay_ms: 0,
            tear_at: None,
        }
    }
}

/// A running `melli card feed`; killed on drop.
pub struct Feeder {
    child: Option<Child>,
    dir: tempfile::TempDir,
    slot: Slot,
    reader: String,
    prefix: String,
    log: PathBuf,
    options: FeederOptions,
}

impl Feeder {
    /// Starts a feeder on a free reader and waits until its first card is in.
    pub fn start(options: FeederOptions) -> Feeder {
        let pcscd = Pcscd::acquire();
        let slot = pcscd.take_slot();
        let dir = tempfile::Builder::new()
            .prefix("feeder-")
            .tempdir_in(process().work_dir())
            .expect("feeder temp dir");
        let prefix = format!("F{:05}{:02}", std::process::id() % 100_000, next_id() % 100);
        let mut feeder = Feeder {
            child: None,
            reader: slot.reader_name(),
            log: dir.path().join("feed.log"),
            dir,
            slot,
            prefix,
            options,
        };
        feeder.spawn();
        feeder
    }

    fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("feeder log");
        let o = &self.options;
        let mut command = Command::new(MELLI);
        command
            .args(["card", "feed", "--dir"])
            .arg(self.cards_dir())
            .args(["--count", &o.count.to_string()])
            .args(["--serial-prefix", &self.prefix])
            .arg("--issuer")
            .arg(&o.issuer)
            .args(["--vpcd", &format!("127.0.0.1:{}", self.slot.port())])
            .args(["--gap-ms", &o.gap_ms.to_string()])
            .args(["--apdu-delay-ms", &o.apdu_delay_ms.to_string()]);
        if let Some(k) = o.tear_at {
            command.args(["--tear-at", &k.to_string()]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn melli card feed");
        self.child = Some(child);
        let pcscd = std::sync::Arc::clone(self.slot.pcscd());
        wait_card_of(
            &mut self.child,
            &self.reader,
            "melli card feed",
            &self.log,
            &pcscd,
        );
    }

    pub fn reader_name(&self) -> &str {
        &self.reader
    }

    /// The feeder's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn pcscd(&self) -> &std::sync::Arc<Pcscd> {
        self.slot.pcscd()
    }

    /// The folder of the cards' state files.
    pub fn cards_dir(&self) -> PathBuf {
        self.dir.path().join("cards")
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Every card of the stack made so far: serial and state (as JSON), in stack order.
    pub fn cards(&self) -> Vec<(String, serde_json::Value)> {
        (1..=self.options.count)
            .filter_map(|n| {
                let serial = format!("{}{n:04}", self.prefix);
                let path = self.cards_dir().join(format!("{serial}.json"));
                let text = fs::read_to_string(&path).ok()?;
                Some((
                    serial,
                    serde_json::from_str(&text).expect("card state JSON"),
                ))
            })
            .collect()
    }

    /// Kills the feeder (SIGKILL) and waits until the reader is empty.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child, Duration::ZERO);
        }
        let deadline = Instant::now() + READY_TIMEOUT;
        while !matches!(reader_statuses(), Ok(r) if card_absent_from(&r, &self.reader)) {
            assert!(Instant::now() < deadline, "the reader did not empty");
            thread::sleep(POLL);
        }
    }

    /// Starts the feeder again on the same stack; it goes on with the first card not issued.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        stop_leaving_reader_empty(&mut self.child, &self.reader);
    }
}

/// Writes `count` records of `fixtures/records/batch-40.jsonl` to `dir/records.jsonl`, with the
/// photo and fingerprint paths made absolute; returns its path.
pub fn batch_records(dir: &Path, count: usize) -> PathBuf {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let text = fs::read_to_string(fixtures.join("records/batch-40.jsonl")).expect("batch fixture");
    let lines: Vec<String> = text
        .lines()
        .take(count)
        .map(|line| line.replace("\"../", &format!("\"{}/", path_str(&fixtures))))
        .collect();
    assert_eq!(lines.len(), count, "the fixture has fewer records");
    let path = dir.join("records.jsonl");
    fs::write(&path, lines.join("\n") + "\n").expect("write records");
    path
}

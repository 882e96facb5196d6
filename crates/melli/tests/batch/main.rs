//! Library tests of the issuance line with virtual cards in this process: the scheduler, the
//! journal it keeps, pulled cards, refusals, and kills at every step followed by a rerun.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod crash;
mod fake;
mod line;
mod real;
mod status;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use melli::applet::Lifecycle;
use melli::journal::{Journal, RecordRow, RecordState};
use melli::model::national_code::check_digit;
use melli::model::{JalaliDate, Secret, SecretKind, TrackingCode};
use melli::ops::pin_mailer::MailerError;
use melli::pki::Issuer;

use fake::{Chip, FakePile, FakeReader, FakeSlot, Pull};
use melli::ops::batch::{
    Batch, BatchOptions, BatchReport, Event, EventKind, Flow, Observer, Records, SecretSource,
};

pub(crate) fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// A valid national code made from a number.
pub(crate) fn national_code(n: u32) -> String {
    let first: Vec<u8> = format!("{:09}", 100_000_000 + n)
        .bytes()
        .map(|b| b - b'0')
        .collect();
    let mut code: String = first.iter().map(|d| char::from(b'0' + d)).collect();
    code.push(char::from(b'0' + check_digit(&first)));
    code
}

pub(crate) fn tracking_code(i: usize) -> String {
    format!("T{i:04}")
}

/// One JSON line: `fixtures/records/valid-1.json` with its own tracking and national codes.
pub(crate) fn record_line(i: usize) -> String {
    let text = std::fs::read_to_string(fixtures().join("records/valid-1.json")).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let map = value.as_object_mut().unwrap();
    map.insert("tracking_code".into(), tracking_code(i).into());
    map.insert(
        "national_code".into(),
        national_code(u32::try_from(i).unwrap()).into(),
    );
    for (field, file) in [
        ("photo", "photos/face-1.jpg"),
        ("fingerprint", "fingerprints/finger-1.fmr"),
    ] {
        map.insert(
            field.into(),
            fixtures().join(file).to_string_lossy().into_owned().into(),
        );
    }
    serde_json::to_string(&value).unwrap()
}

pub(crate) fn write_records(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join("records.jsonl");
    let lines: Vec<String> = (1..=n).map(record_line).collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

pub(crate) fn today() -> JalaliDate {
    JalaliDate::new(1403, 10, 1).unwrap()
}

pub(crate) fn load_records(path: &Path) -> Records {
    let loaded = melli::ops::batch::load(path, today()).unwrap();
    assert!(loaded.invalid.is_empty(), "{:?}", loaded.invalid);
    loaded.records
}

/// Same PIN and PUK for every card, counted.
pub(crate) struct Fixed {
    pub asked: Mutex<Vec<(String, String)>>,
}

impl Fixed {
    pub fn new() -> Fixed {
        Fixed {
            asked: Mutex::new(Vec::new()),
        }
    }
}

pub(crate) const PUK: &str = "8642097531";

impl SecretSource for Fixed {
    fn secrets(
        &self,
        tracking_code: &TrackingCode,
        serial: &str,
    ) -> Result<(Secret, Secret), MailerError> {
        self.asked
            .lock()
            .unwrap()
            .push((tracking_code.to_string(), serial.to_owned()));
        Ok((
            Secret::parse(SecretKind::Pin, "246810").unwrap(),
            Secret::parse(SecretKind::Puk, PUK).unwrap(),
        ))
    }
}

/// A test bench: an issuer, a records file, a journal path, model chips and readers.
pub(crate) struct Bench {
    pub _dir: tempfile::TempDir,
    pub issuer: Issuer,
    pub records: Records,
    pub journal: PathBuf,
    pub pile: FakePile,
    pub slots: Vec<FakeSlot>,
    pub secrets: Fixed,
    pub options: BatchOptions,
}

/// After this, a model reader says it is gone: a test that would wait for ever ends instead.
const DEADLINE: Duration = Duration::from_secs(60);

impl Bench {
    pub fn new(records: usize, chips: usize, readers: usize) -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let issuer = Issuer::init_plain(&dir.path().join("issuer")).unwrap();
        let path = write_records(dir.path(), records);
        let records = load_records(&path);
        let pile = FakePile::default();
        for i in 1..=chips {
            pile.push(Chip::blank(&format!("C{i:04}")));
        }
        Bench {
            journal: dir.path().join("journal.db"),
            _dir: dir,
            issuer,
            records,
            pile,
            slots: (0..readers).map(|_| FakeSlot::default()).collect(),
            secrets: Fixed::new(),
            options: BatchOptions {
                poll: Duration::from_millis(1),
                release_after: Duration::from_secs(600),
                max_refusals: 3,
            },
        }
    }

    pub fn readers(&self) -> Vec<FakeReader> {
        let deadline = Instant::now() + DEADLINE;
        self.slots
            .iter()
            .enumerate()
            .map(|(i, slot)| FakeReader {
                name: format!("reader {i}"),
                slot: slot.clone(),
                pile: self.pile.clone(),
                deadline,
            })
            .collect()
    }

    pub fn run(&self, observer: &dyn Observer) -> BatchReport {
        self.batch(observer).run(self.readers()).unwrap()
    }

    pub fn batch<'a>(&'a self, observer: &'a dyn Observer) -> Batch<'a> {
        Batch {
            journal: self.journal.as_path().into(),
            records: &self.records,
            issuer: &self.issuer,
            secrets: &self.secrets,
            observer,
            options: self.options.clone(),
        }
    }

    /// The bench's journal, for writing too (`open_existing` is for lookups only).
    pub fn journal(&self) -> Journal {
        assert!(self.journal.is_file());
        Journal::open(&self.journal).unwrap()
    }

    pub fn rows(&self) -> Vec<RecordRow> {
        self.journal().rows().unwrap()
    }

    pub fn row(&self, tracking_code: &str) -> RecordRow {
        self.rows()
            .into_iter()
            .find(|r| r.tracking_code == tracking_code)
            .unwrap()
    }

    pub fn events(&self, tracking_code: &str) -> Vec<String> {
        self.journal()
            .events(tracking_code)
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect()
    }

    /// Every chip that exists: taken out, in the slots (the blank stack is left).
    pub fn chips(&self) -> Vec<Chip> {
        let mut chips = self.pile.take_out();
        for slot in &self.slots {
            chips.extend(slot.remove());
            chips.extend(slot.take_pulled());
        }
        chips
    }

    /// The invariants of a finished batch: each record done on exactly one chip, each locked
    /// chip carrying exactly the record the journal gives it, no chip with two records, no
    /// chip locked twice, nothing secret in the journal.
    pub fn assert_all_done_once(&self, chips: &[Chip]) {
        let rows = self.rows();
        assert_eq!(rows.len(), self.records.len());
        let mut by_serial: HashMap<String, String> = HashMap::new();
        for row in &rows {
            assert_eq!(row.state, RecordState::Done, "{row:?}");
            let serial = row.card_serial.clone().unwrap();
            assert!(
                by_serial
                    .insert(serial, row.tracking_code.clone())
                    .is_none(),
                "a card with two records"
            );
        }
        let locked: Vec<&Chip> = chips
            .iter()
            .filter(|c| c.lifecycle == Lifecycle::Operational)
            .collect();
        assert_eq!(
            locked.len(),
            rows.len(),
            "one locked chip per record: {chips:?}"
        );
        for chip in locked {
            assert_eq!(chip.relocks, 0, "{chip:?}");
            assert_eq!(
                by_serial.get(&chip.serial),
                chip.locked_with.as_ref(),
                "chip {chip:?} and the journal disagree"
            );
        }
        assert_nothing_secret(&self.journal);
    }
}

/// The PUK never reaches the journal (nor its WAL).
pub(crate) fn assert_nothing_secret(journal: &Path) {
    for suffix in ["", "-wal"] {
        let mut path = journal.to_path_buf().into_os_string();
        path.push(suffix);
        if let Ok(bytes) = std::fs::read(&path) {
            assert!(
                !bytes.windows(PUK.len()).any(|w| w == PUK.as_bytes()),
                "the PUK is in {path:?}"
            );
        }
    }
}

/// Records every event; stops the batch when `stop_at` says so.
pub(crate) struct Recorder<F: Fn(&Event, usize) -> Flow + Sync> {
    pub events: Mutex<Vec<Event>>,
    pub stop_at: F,
}

impl<F: Fn(&Event, usize) -> Flow + Sync> Recorder<F> {
    pub fn new(stop_at: F) -> Self {
        Recorder {
            events: Mutex::new(Vec::new()),
            stop_at,
        }
    }

    pub fn kinds(&self) -> Vec<EventKind> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.kind.clone())
            .collect()
    }
}

impl<F: Fn(&Event, usize) -> Flow + Sync> Observer for Recorder<F> {
    fn event(&self, event: &Event) -> Flow {
        if std::env::var_os("MELLI_TEST_EVENTS").is_some() {
            eprintln!("{event:?}");
        }
        let mut events = self.events.lock().unwrap();
        events.push(event.clone());
        let n = events.len();
        drop(events);
        (self.stop_at)(event, n)
    }
}

pub(crate) fn go(_: &Event, _: usize) -> Flow {
    Flow::Go
}

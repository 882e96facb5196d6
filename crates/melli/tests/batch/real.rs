//! The issuance line with real virtual cards in this process (`card::Card` behind
//! `InProcessReader`s): full personalization, a card pulled as it locks, kills and reruns.

use super::*;
use melli::ops::batch::{BatchCard, Presence, Reader};
use melli::ops::personalize::Step;
use melli_testkit::card::Card;
use melli_testkit::{CardPile, InProcessReader, Slot};

struct RealBench {
    _dir: tempfile::TempDir,
    issuer: Issuer,
    records: Records,
    journal: PathBuf,
    pile: CardPile,
    slots: Vec<Slot>,
    secrets: Fixed,
    options: BatchOptions,
}

use melli_testkit::blank_card;

impl RealBench {
    fn new(records: usize, cards: usize, readers: usize) -> RealBench {
        let dir = tempfile::tempdir().unwrap();
        let issuer = Issuer::init_plain(&dir.path().join("issuer")).unwrap();
        let path = write_records(dir.path(), records);
        let records = load_records(&path);
        let pile = CardPile::default();
        for i in 1..=cards {
            pile.push(blank_card(&issuer, &format!("V{i:04}")));
        }
        RealBench {
            journal: dir.path().join("journal.db"),
            _dir: dir,
            issuer,
            records,
            pile,
            slots: (0..readers).map(|_| Slot::new()).collect(),
            secrets: Fixed::new(),
            options: BatchOptions {
                poll: Duration::from_millis(2),
                release_after: Duration::from_secs(600),
                max_refusals: 3,
            },
        }
    }

    fn run(&self, observer: &dyn Observer) -> BatchReport {
        let deadline = Instant::now() + Duration::from_secs(120);
        let readers = self
            .slots
            .iter()
            .enumerate()
            .map(|(i, slot)| Deadline {
                reader: InProcessReader::new(
                    format!("virtual {i}"),
                    slot.clone(),
                    Some(self.pile.clone()),
                ),
                deadline,
            })
            .collect();
        Batch {
            journal: self.journal.as_path().into(),
            records: &self.records,
            issuer: &self.issuer,
            secrets: &self.secrets,
            observer,
            options: self.options.clone(),
        }
        .run(readers)
        .unwrap()
    }

    fn rows(&self) -> Vec<RecordRow> {
        Journal::open_existing(&self.journal)
            .unwrap()
            .rows()
            .unwrap()
    }

    fn cards(&self) -> Vec<Card> {
        let mut cards = self.pile.take_out();
        for slot in &self.slots {
            cards.extend(slot.remove());
            cards.extend(slot.take_pulled());
        }
        cards
    }

    /// Each record done once; each locked card carries the record the journal gives it.
    fn assert_all_done_once(&self, cards: Vec<Card>) {
        let rows = self.rows();
        assert_eq!(rows.len(), self.records.len());
        let mut by_serial: HashMap<String, String> = HashMap::new();
        for row in &rows {
            assert_eq!(row.state, RecordState::Done, "{row:?}");
            assert!(by_serial
                .insert(row.card_serial.clone().unwrap(), row.tracking_code.clone())
                .is_none());
        }
        let mut locked = 0;
        for card in cards {
            if card.lifecycle() != melli::spec::lifecycle::OPERATIONAL {
                continue;
            }
            locked += 1;
            let serial = card.serial().to_owned();
            let on_card = tracking_code_on(card);
            assert_eq!(by_serial.get(&serial), Some(&on_card), "card {serial}");
        }
        assert_eq!(locked, rows.len(), "one locked card per record");
        assert_nothing_secret(&self.journal);
    }
}

/// A reader that is gone after its deadline, so that no test waits for ever.
struct Deadline {
    reader: InProcessReader,
    deadline: Instant,
}

impl Reader for Deadline {
    type Card = <InProcessReader as Reader>::Card;

    fn name(&self) -> &str {
        self.reader.name()
    }

    fn connect(&mut self) -> Result<Presence<Self::Card>, melli::transport::TransportError> {
        if Instant::now() > self.deadline {
            return Err(melli::transport::TransportError::NoReaders);
        }
        self.reader.connect()
    }

    fn card_present(&mut self) -> Result<bool, melli::transport::TransportError> {
        self.reader.card_present()
    }

    fn set_aside(&mut self) {
        self.reader.set_aside();
    }
}

/// The tracking code in a locked card's DG1, read through the host side.
fn tracking_code_on(card: Card) -> String {
    let slot = Slot::new();
    assert!(slot.insert(card).is_none());
    let mut reader = InProcessReader::new("look", slot, None);
    let Presence::Card(mut card) = reader.connect().unwrap() else {
        panic!("no card");
    };
    card.tracking_code()
        .unwrap()
        .map(|c| c.to_string())
        .unwrap_or_default()
}

#[test]
fn two_readers_personalize_real_virtual_cards() {
    let bench = RealBench::new(3, 3, 2);
    let report = bench.run(&Recorder::new(go));
    assert!(report.complete(), "{report:?}");
    assert_eq!(report.made, 3);
    bench.assert_all_done_once(bench.cards());
}

#[test]
fn a_real_card_pulled_as_it_locks_is_found_locked_and_recovered() {
    let bench = RealBench::new(1, 2, 2);
    // The ACTIVATE FILE reaches the card; its answer is lost with the card, which the operator
    // puts back on the stack (the other reader holds the spare card meanwhile).
    let slots = bench.slots.clone();
    let pile = bench.pile.clone();
    let sabotaged = std::sync::atomic::AtomicBool::new(false);
    let observer = move |e: &Event, _: usize| {
        match &e.kind {
            EventKind::Step {
                step: Step::Lock, ..
            } if !sabotaged.swap(true, std::sync::atomic::Ordering::SeqCst) => {
                let reader: usize = e.reader.trim_start_matches("virtual ").parse().unwrap();
                slots[reader].pull_after(1);
            }
            EventKind::Setback { .. } => {
                for slot in &slots {
                    if let Some(card) = slot.take_pulled() {
                        pile.push(card);
                    }
                }
            }
            _ => {}
        }
        Flow::Go
    };
    let recorder = Recorder::new(observer);
    let report = bench.run(&recorder);
    assert!(report.complete(), "{report:?}");
    let kinds = recorder.kinds();
    assert!(kinds.iter().any(|k| matches!(
        k,
        EventKind::Setback {
            outcome: melli::journal::Outcome::Held,
            ..
        }
    )));
    assert!(kinds.iter().any(|k| matches!(
        k,
        EventKind::Done {
            recovered: true,
            ..
        }
    )));
    let cards = bench.cards();
    let blank = cards
        .iter()
        .filter(|c| c.lifecycle() == melli::spec::lifecycle::BLANK)
        .count();
    assert_eq!((cards.len(), blank), (2, 1), "the spare card stayed blank");
    bench.assert_all_done_once(cards);
}

#[test]
fn real_cards_survive_a_kill_at_every_step() {
    let steps = Step::ALL.len();
    // Kill points: the claim, each step, the lock before it is journaled.
    for k in 1..=steps + 2 {
        let bench = RealBench::new(1, 2, 1);
        let seen = std::sync::atomic::AtomicUsize::new(0);
        let killer = move |e: &Event, _: usize| {
            let point = matches!(
                e.kind,
                EventKind::Claimed { .. } | EventKind::Step { .. } | EventKind::Locked { .. }
            );
            if point && seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == k {
                Flow::Stop
            } else {
                Flow::Go
            }
        };
        assert!(bench.run(&Recorder::new(killer)).stopped, "kill {k}");
        let report = bench.run(&Recorder::new(go));
        assert!(report.complete(), "kill {k}: {report:?}");
        // The card in the reader at the kill took the record; the spare stayed blank.
        assert_eq!(
            bench.rows()[0].card_serial.as_deref(),
            Some("V0001"),
            "kill {k}"
        );
        bench.assert_all_done_once(bench.cards());
    }
}

/// The figures of issue 6: cards per minute with 1, 2 and 4 in-process readers, and the
/// journal's size per 1 000 records. Run with
/// `cargo test --release --lib figures -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn figures() {
    let cards = 24;
    for readers in [1, 2, 4] {
        let bench = RealBench::new(cards, cards, readers);
        let report = bench.run(&Recorder::new(go));
        assert!(report.complete());
        println!(
            "{readers} reader(s): {cards} cards in {:.2} s = {:.1} cards/min",
            report.seconds, report.cards_per_minute
        );
    }
    let bench = Bench::new(1000, 1000, 4);
    let report = bench.run(&Recorder::new(go));
    assert!(report.complete());
    let journal = bench.journal();
    drop(journal);
    // A clean close checkpoints the WAL into the main file.
    let conn = rusqlite::Connection::open(&bench.journal).unwrap();
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")
        .unwrap();
    drop(conn);
    let size = std::fs::metadata(&bench.journal).unwrap().len();
    println!(
        "journal: {size} bytes for 1000 records ({:.0} bytes per record), model chips: {:.0} cards/min",
        size as f64 / 1000.0,
        report.cards_per_minute
    );
}

/// A card that writes into DG5 a key it does not hold fails the issuer's check: it is not
/// locked, the journal says why, and the record is made on the next card.
#[test]
fn a_card_with_a_foreign_dg5_is_refused_and_the_journal_says_why() {
    let bench = RealBench::new(1, 0, 1);
    let mut liar = blank_card(&bench.issuer, "V0001");
    liar.set_fault(melli_testkit::card::Fault::ForeignDg5);
    bench.pile.push(liar);
    bench.pile.push(blank_card(&bench.issuer, "V0002"));

    let report = bench.run(&Recorder::new(go));
    assert!(report.complete(), "{report:?}");
    let why = "self-check: DG5 on the card is not the chip-authentication key the card \
               generated; the card was not locked";
    let rows = bench.rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, RecordState::Done, "{rows:?}");
    assert_eq!(rows[0].card_serial.as_deref(), Some("V0002"));
    let events = Journal::open_existing(&bench.journal)
        .unwrap()
        .events(&rows[0].tracking_code)
        .unwrap();
    assert!(
        events.iter().any(|e| e.event.contains("card V0001")
            && e.event.ends_with(&format!("back in the queue: {why}"))),
        "{events:?}"
    );
    let cards = bench.cards();
    let liar = cards.iter().find(|c| c.serial() == "V0001").unwrap();
    assert_eq!(liar.lifecycle(), melli::spec::lifecycle::PERSONALIZING);
    bench.assert_all_done_once(cards);
}

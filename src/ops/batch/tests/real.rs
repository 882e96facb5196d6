//! The issuance line with real virtual cards in this process (`card::Card` behind
//! `InProcessReader`s): full personalization, a card pulled as it locks, kills and reruns.

use super::*;
use crate::card::Card;
use crate::ops::batch::{BatchCard, CardPile, InProcessReader, Presence, Reader, Slot};
use crate::ops::personalize::Step;

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

impl RealBench {
    fn new(records: usize, cards: usize, readers: usize) -> RealBench {
        let dir = tempfile::tempdir().unwrap();
        let issuer = Issuer::init(&dir.path().join("issuer")).unwrap();
        let path = write_records(dir.path(), records);
        let records = load_records(&path);
        let pile = CardPile::default();
        for i in 1..=cards {
            pile.push(Card::manufacture(&format!("V{i:04}"), issuer.master_key()).unwrap());
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
        let readers = self
            .slots
            .iter()
            .enumerate()
            .map(|(i, slot)| {
                InProcessReader::new(
                    format!("virtual {i}"),
                    slot.clone(),
                    Some(self.pile.clone()),
                )
            })
            .collect();
        Batch {
            journal: &self.journal,
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
            if card.lifecycle() != crate::spec::lifecycle::OPERATIONAL {
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
    let bench = RealBench::new(1, 2, 1);
    // The ACTIVATE FILE reaches the card; its answer is lost with the card.
    let slot = bench.slots[0].clone();
    let pile = bench.pile.clone();
    let sabotaged = std::sync::atomic::AtomicBool::new(false);
    let observer = move |e: &Event, _: usize| {
        match &e.kind {
            EventKind::Step {
                step: Step::Lock, ..
            } if !sabotaged.swap(true, std::sync::atomic::Ordering::SeqCst) => {
                slot.pull_after(1);
            }
            EventKind::Setback { .. } => {
                if let Some(card) = slot.take_pulled() {
                    pile.push(card);
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
            outcome: crate::journal::Outcome::Held,
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
    let row = &bench.rows()[0];
    assert_eq!(row.card_serial.as_deref(), Some("V0001"));
    assert_eq!(bench.pile.waiting(), 1, "the spare card was not used");
    bench.assert_all_done_once(bench.cards());
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

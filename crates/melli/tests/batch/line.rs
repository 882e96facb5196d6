//! The scheduler with model chips: runs that go through, several readers, pulled cards,
//! refusals, locked cards, lost cards and the release rule.

use super::*;
use melli::journal::Outcome;
use melli::ops::batch::BatchError;
use melli::ops::personalize::Step;

fn count(kinds: &[EventKind], pred: impl Fn(&EventKind) -> bool) -> usize {
    kinds.iter().filter(|k| pred(k)).count()
}

#[test]
fn one_reader_makes_every_record() {
    let bench = Bench::new(3, 3, 1);
    let recorder = Recorder::new(go);
    let report = bench.run(&recorder);
    assert!(report.complete(), "{report:?}");
    assert_eq!(report.made, 3);
    assert_eq!(report.enqueued.new, 3);
    assert!(!report.stopped);
    assert!(report.waiting.is_empty());
    assert_eq!(bench.secrets.asked.lock().unwrap().len(), 3);
    let kinds = recorder.kinds();
    assert_eq!(
        count(&kinds, |k| matches!(k, EventKind::Step { .. })),
        3 * Step::ALL.len()
    );
    assert_eq!(count(&kinds, |k| matches!(k, EventKind::Done { .. })), 3);
    for row in bench.rows() {
        assert_eq!(row.step.as_deref().and_then(Step::named), Some(Step::Lock));
        assert_eq!(row.attempts, 1);
        assert!(row.finished_at.is_some());
    }
    assert_eq!(
        bench.events("T0002"),
        [
            "queued",
            "bound to card C0002 in reader reader 0",
            "done on card C0002"
        ]
    );
    bench.assert_all_done_once(&bench.chips());
}

#[test]
fn several_readers_share_the_queue() {
    let bench = Bench::new(9, 9, 3);
    let report = bench.run(&Recorder::new(go));
    assert!(report.complete(), "{report:?}");
    assert_eq!(report.readers.len(), 3);
    assert_eq!(report.readers.iter().map(|r| r.made).sum::<u64>(), 9);
    bench.assert_all_done_once(&bench.chips());
}

#[test]
fn spare_blank_cards_stay_blank() {
    let bench = Bench::new(2, 5, 2);
    let report = bench.run(&Recorder::new(go));
    assert!(report.complete());
    let chips = bench.chips();
    let blank = bench.pile.waiting()
        + chips
            .iter()
            .filter(|c| c.lifecycle == Lifecycle::Blank)
            .count();
    assert_eq!(blank, 3);
    bench.assert_all_done_once(&chips);
}

#[test]
fn a_rerun_makes_nothing_twice_and_never_touches_a_locked_card() {
    let mut bench = Bench::new(2, 2, 1);
    assert!(bench.run(&Recorder::new(go)).complete());
    let first = bench.chips();
    assert_eq!(first.len(), 2);

    // The same file again: nothing to do, no card even looked at.
    let report = bench.run(&Recorder::new(go));
    assert_eq!((report.made, report.enqueued.done), (0, 2));

    // A longer file, with the two locked cards and a card locked elsewhere put back first.
    let path = write_records(bench._dir.path(), 3);
    bench.records = load_records(&path);
    for chip in &first {
        bench.pile.push(chip.clone());
    }
    let mut foreign = Chip::blank("F0001");
    foreign.lifecycle = Lifecycle::Operational;
    foreign.locked_with = Some("X1".into());
    bench.pile.push(foreign.clone());
    bench.pile.push(Chip::blank("C0003"));
    let recorder = Recorder::new(go);
    let report = bench.run(&recorder);
    assert_eq!((report.made, report.enqueued.new), (1, 1));
    let skipped: Vec<(Option<String>, String)> = recorder
        .kinds()
        .into_iter()
        .filter_map(|k| match k {
            EventKind::CardSkipped { serial, why, .. } => Some((serial, why)),
            _ => None,
        })
        .collect();
    assert_eq!(
        skipped,
        [
            (Some("C0001".into()), "already made for record T0001".into()),
            (Some("C0002".into()), "already made for record T0002".into()),
            (
                Some("F0001".into()),
                "already operational and not made by this journal".into()
            ),
        ]
    );
    let mut chips = bench.chips();
    assert!(chips.contains(&foreign), "the foreign card is untouched");
    chips.retain(|c| c.serial != "F0001");
    for chip in &first {
        assert!(chips.contains(chip), "a locked card was changed");
    }
    bench.assert_all_done_once(&chips);
    let notes = bench.journal().card_events().unwrap();
    assert_eq!(notes.len(), 3);
    assert!(notes[0]
        .event
        .starts_with("card C0001 in reader reader 0 skipped: already made"));
}

/// An operator who puts a pulled card back on the blank stack.
fn put_back_pulled(bench: &Bench) -> impl Fn(&Event, usize) -> Flow + Sync + '_ {
    move |event, _| {
        if let EventKind::Setback { .. } = event.kind {
            for slot in &bench.slots {
                if let Some(chip) = slot.take_pulled() {
                    bench.pile.push(chip);
                }
            }
        }
        Flow::Go
    }
}

#[test]
fn a_card_pulled_mid_way_sends_its_record_back_to_the_queue() {
    let bench = Bench::new(2, 2, 1);
    bench.slots[0].pull(Pull::Before(Step::Photo));
    let recorder = Recorder::new(put_back_pulled(&bench));
    let report = bench.run(&recorder);
    assert!(report.complete(), "{report:?}");
    let setbacks: Vec<(Outcome, String)> = recorder
        .kinds()
        .into_iter()
        .filter_map(|k| match k {
            EventKind::Setback {
                outcome, reason, ..
            } => Some((outcome, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(setbacks.len(), 1);
    assert_eq!(setbacks[0].0, Outcome::Queued);
    assert!(setbacks[0]
        .1
        .starts_with("write DG2 photo: the card was removed"));
    let events = bench.events("T0001");
    assert!(events[2].starts_with("back in the queue: write DG2 photo: the card was removed"));
    // The record went to the next card; the pulled, half-written one came back for the other.
    let row = bench.row("T0001");
    assert_eq!(row.card_serial.as_deref(), Some("C0002"));
    assert_eq!(row.attempts, 2);
    assert_eq!(bench.row("T0002").card_serial.as_deref(), Some("C0001"));
    bench.assert_all_done_once(&bench.chips());
}

#[test]
fn a_card_pulled_while_locking_keeps_its_record_until_it_comes_back() {
    for pull in [Pull::Before(Step::Lock), Pull::After(Step::Lock)] {
        let bench = Bench::new(2, 2, 1);
        bench.slots[0].pull(pull);
        let recorder = Recorder::new(put_back_pulled(&bench));
        let report = bench.run(&recorder);
        assert!(report.complete(), "{pull:?}: {report:?}");
        let setback = recorder.kinds().into_iter().find_map(|k| match k {
            EventKind::Setback { outcome, .. } => Some(outcome),
            _ => None,
        });
        assert_eq!(setback, Some(Outcome::Held), "{pull:?}");
        // Record 2 went to the other card meanwhile; record 1 waited for its own card.
        assert_eq!(bench.row("T0001").card_serial.as_deref(), Some("C0001"));
        assert_eq!(bench.row("T0002").card_serial.as_deref(), Some("C0002"));
        let events = bench.events("T0001");
        assert!(events[2].starts_with("waits for card C0001, which may be locked already"));
        let last = events.last().unwrap();
        match pull {
            Pull::After(_) => assert_eq!(
                last,
                "done on card C0001 (found locked after an interruption)"
            ),
            Pull::Before(_) => assert_eq!(
                last,
                "done on card C0001 (finished a half-personalized card)"
            ),
        }
        bench.assert_all_done_once(&bench.chips());
    }
}

#[test]
fn a_card_lost_while_locking_is_waited_for_then_released_by_hand() {
    let mut bench = Bench::new(2, 3, 1);
    bench.options.release_after = Duration::from_millis(50);
    bench.slots[0].pull(Pull::Before(Step::Lock));
    let report = bench.run(&Recorder::new(go));
    // The run does not wait for ever, and it does not give the record to another card.
    assert!(!report.complete());
    assert_eq!(report.counts.personalizing, 1);
    assert_eq!(report.waiting.len(), 1);
    assert_eq!(report.waiting[0].tracking_code, "T0001");
    assert_eq!(report.waiting[0].card_serial, "C0001");
    assert_eq!(report.waiting[0].step.as_deref(), Some("lock"));
    // The spare card was not given T0001: it waits, blank, in the reader — or is still on
    // its way there when the run gives up waiting (50 ms is short on a loaded machine).
    let spare = bench.slots[0].serial();
    assert!(
        matches!(spare.as_deref(), None | Some("C0003")),
        "{spare:?}"
    );
    let lost = bench.slots[0].take_pulled().unwrap();
    assert_eq!(lost.lifecycle, Lifecycle::Personalizing);

    // The operator knows the card is destroyed and releases the record.
    bench
        .journal()
        .release("T0001", "by the operator: card destroyed")
        .unwrap();
    let report = bench.run(&Recorder::new(go));
    assert!(report.complete(), "{report:?}");
    assert_eq!(bench.row("T0001").card_serial.as_deref(), Some("C0003"));
    bench.assert_all_done_once(&bench.chips());
}

#[test]
fn a_card_lost_before_locking_is_released_after_the_timeout() {
    let mut bench = Bench::new(2, 3, 1);
    // Killed while card C0001 was at the photo step.
    let stop = |e: &Event, _: usize| match &e.kind {
        EventKind::Step {
            step: Step::Photo, ..
        } => Flow::Stop,
        _ => Flow::Go,
    };
    assert!(bench.run(&Recorder::new(stop)).stopped);
    assert_eq!(
        bench.row("T0001").step.as_deref().and_then(Step::named),
        Some(Step::Photo)
    );
    // The card is lost.
    let lost = bench.slots[0].remove().unwrap();
    bench.options.release_after = Duration::from_millis(30);
    let recorder = Recorder::new(go);
    let report = bench.run(&recorder);
    assert!(report.complete(), "{report:?}");
    assert!(recorder.kinds().iter().any(|k| matches!(
        k,
        EventKind::Released { released } if released.tracking_code == "T0001"
    )));
    let events = bench.events("T0001");
    assert!(events.iter().any(|e| {
        e
        == "binding to card C0001 released: the card did not come back in time and was never locked"
    }));
    let mut chips = bench.chips();
    chips.push(lost);
    bench.assert_all_done_once(&chips);
}

#[test]
fn a_bound_card_of_another_records_file_is_left_alone() {
    let mut bench = Bench::new(2, 2, 1);
    let stop = |e: &Event, _: usize| match &e.kind {
        EventKind::Step {
            step: Step::Identity,
            ..
        } => Flow::Stop,
        _ => Flow::Go,
    };
    assert!(bench.run(&Recorder::new(stop)).stopped);
    // Another file holding only record 2; card C0001 (bound to record 1) is still in the reader.
    let only_second = bench._dir.path().join("second.jsonl");
    std::fs::write(&only_second, record_line(2) + "\n").unwrap();
    bench.records = load_records(&only_second);
    let recorder = Recorder::new(go);
    let report = bench.run(&recorder);
    assert!(report.complete());
    assert!(recorder.kinds().contains(&EventKind::CardSkipped {
        serial: Some("C0001".into()),
        why: "bound to record T0001 of another records file: run that batch to finish it".into(),
        release: None,
    }));
    assert_eq!(bench.row("T0001").state, RecordState::Personalizing);
    assert_eq!(bench.row("T0002").card_serial.as_deref(), Some("C0002"));
}

#[test]
fn refusing_cards_are_set_aside_and_the_record_fails_after_three() {
    let bench = Bench::new(1, 0, 1);
    for i in 1..=3 {
        let mut chip = Chip::blank(&format!("R{i:04}"));
        chip.refuses = true;
        bench.pile.push(chip);
    }
    bench.pile.push(Chip::blank("G0001"));
    let recorder = Recorder::new(go);
    let report = bench.run(&recorder);
    assert_eq!(report.counts.failed, 1);
    assert_eq!(report.made, 0);
    assert_eq!(bench.pile.waiting(), 1, "the good card was not needed");
    let outcomes: Vec<Outcome> = recorder
        .kinds()
        .into_iter()
        .filter_map(|k| match k {
            EventKind::Setback { outcome, .. } => Some(outcome),
            _ => None,
        })
        .collect();
    assert_eq!(
        outcomes,
        [Outcome::Queued, Outcome::Queued, Outcome::Failed]
    );
    let row = bench.row("T0001");
    assert_eq!(row.state, RecordState::Failed);
    assert!(row.reason.unwrap().starts_with(
        "open the secure channel: MUTUAL AUTHENTICATE: security status not satisfied"
    ));
    assert_eq!(bench.chips().len(), 3, "each refusing card was set aside");

    // The next run queues it again and the good card makes it.
    let report = bench.run(&Recorder::new(go));
    assert_eq!(report.enqueued.again, 1);
    assert!(report.complete());
    assert_eq!(bench.row("T0001").card_serial.as_deref(), Some("G0001"));
}

struct Broken;

impl SecretSource for Broken {
    fn secrets(&self, _: &TrackingCode, _: &str) -> Result<(Secret, Secret), MailerError> {
        Err(MailerError::Write {
            path: "/nowhere/T0001.txt".into(),
            source: std::io::Error::other("disk full"),
        })
    }
}

#[test]
fn a_pin_mailer_that_cannot_be_written_stops_the_batch_before_the_card_is_touched() {
    let bench = Bench::new(1, 1, 1);
    let quiet = melli::ops::batch::Quiet;
    let batch = Batch {
        secrets: &Broken,
        ..bench.batch(&quiet)
    };
    let err = batch.run(bench.readers()).unwrap_err();
    assert!(matches!(err, BatchError::Mailer(_)), "{err}");
    assert!(err.to_string().contains("disk full"));
    let row = bench.row("T0001");
    assert_eq!(row.state, RecordState::Queued);
    assert!(row.reason.unwrap().starts_with("PIN mailer: cannot write"));
    let chip = bench.chips().pop().unwrap();
    assert_eq!(chip.lifecycle, Lifecycle::Blank);
}

#[test]
fn two_cards_with_one_serial_never_get_two_records() {
    let bench = Bench::new(2, 0, 2);
    bench.pile.push(Chip::blank("D0001"));
    bench.pile.push(Chip::blank("D0001"));
    bench.pile.push(Chip::blank("C0003"));
    let report = bench.run(&Recorder::new(go));
    assert!(report.complete(), "{report:?}");
    let chips = bench.chips();
    let locked_d = chips
        .iter()
        .filter(|c| c.serial == "D0001" && c.lifecycle == Lifecycle::Operational)
        .count();
    assert_eq!(locked_d, 1);
    let mut serials: Vec<String> = bench
        .rows()
        .into_iter()
        .map(|r| r.card_serial.unwrap())
        .collect();
    serials.sort();
    assert_eq!(serials, ["C0003", "D0001"]);
}

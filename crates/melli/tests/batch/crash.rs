//! `kill -9` at every point of a batch, then the same batch again: every record made exactly
//! once, no card with two records, no card locked twice.
//!
//! A kill is an observer that answers `Stop`: the workers send nothing more to the cards and
//! write nothing more to the journal, and the cards stay where they were — in their readers,
//! half-written or locked. The rerun builds new readers on the same slots.

use super::*;
use melli::ops::personalize::Step;

/// Events of a run that mark a point a kill can fall on (the rest only report waiting).
fn is_kill_point(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Claimed { .. }
            | EventKind::Step { .. }
            | EventKind::Locked { .. }
            | EventKind::Done { .. }
            | EventKind::TakeOut { .. }
    )
}

/// The number of kill points in an undisturbed run.
fn kill_points(records: usize, readers: usize) -> usize {
    let bench = Bench::new(records, records, readers);
    let recorder = Recorder::new(go);
    assert!(bench.run(&recorder).complete());
    recorder.kinds().iter().filter(|k| is_kill_point(k)).count()
}

/// Kills the run at its `k`-th kill point.
fn killer(k: usize) -> impl Fn(&Event, usize) -> Flow + Sync {
    let seen = std::sync::atomic::AtomicUsize::new(0);
    move |event, _| {
        if is_kill_point(&event.kind)
            && seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == k
        {
            Flow::Stop
        } else {
            Flow::Go
        }
    }
}

fn kill_then_rerun(records: usize, readers: usize, kills: &[usize]) {
    let bench = Bench::new(records, records + kills.len(), readers);
    for &k in kills {
        let report = bench.run(&Recorder::new(killer(k)));
        if !report.stopped {
            // Fewer kill points than k in this run: it simply finished.
            assert!(report.complete(), "kill {k}: {report:?}");
        }
    }
    let report = bench.run(&Recorder::new(go));
    assert!(report.complete(), "kills {kills:?}: {report:?}");
    bench.assert_all_done_once(&bench.chips());
    for row in bench.rows() {
        assert!(row.attempts >= 1, "{row:?}");
    }
}

#[test]
fn a_kill_at_any_point_of_a_one_reader_batch_loses_nothing_and_makes_nothing_twice() {
    let points = kill_points(2, 1);
    assert!(points >= 2 * (Step::ALL.len() + 3), "{points}");
    for k in 1..=points {
        kill_then_rerun(2, 1, &[k]);
    }
}

#[test]
fn a_kill_at_any_point_with_three_readers_loses_nothing_and_makes_nothing_twice() {
    let points = kill_points(4, 3);
    for k in 1..=points {
        kill_then_rerun(4, 3, &[k]);
    }
}

#[test]
fn kills_in_the_rerun_too() {
    for (a, b) in [(3, 3), (5, 12), (13, 1), (14, 14), (2, 27), (20, 5)] {
        kill_then_rerun(3, 2, &[a, b]);
    }
}

#[test]
fn a_kill_after_the_lock_is_recovered_from_the_card_itself() {
    let bench = Bench::new(1, 2, 1);
    let stop_at_lock = |e: &Event, _: usize| match e.kind {
        EventKind::Locked { .. } => Flow::Stop,
        _ => Flow::Go,
    };
    assert!(bench.run(&Recorder::new(stop_at_lock)).stopped);
    let row = bench.row("T0001");
    assert_eq!(
        row.state,
        RecordState::Personalizing,
        "the journal missed the lock"
    );
    assert_eq!(row.step.as_deref().and_then(Step::named), Some(Step::Lock));
    let recorder = Recorder::new(go);
    let report = bench.run(&recorder);
    assert!(report.complete());
    assert!(recorder.kinds().iter().any(|k| matches!(
        k,
        EventKind::Done {
            recovered: true,
            ..
        }
    )));
    assert_eq!(bench.pile.waiting(), 1, "the spare card was not used");
    assert_eq!(
        bench.events("T0001").last().map(String::as_str),
        Some("done on card C0001 (found locked after an interruption)")
    );
    bench.assert_all_done_once(&bench.chips());
}

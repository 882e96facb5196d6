//! Reader state through PC/SC (the `pcsc` crate, independent of melli's own transport), and
//! waiting for a card process's card to come into its reader or leave it.
//!
//! Readiness is always polled (reader list, card presence), never slept for.

use std::fs;
use std::path::Path;
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

use crate::pcscd::{pcscd_state, Pcscd};
use crate::process::{process, stop_child};

/// How long pcscd's readers, and a card in one, may take to appear.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// The pause between two polls.
pub const POLL: Duration = Duration::from_millis(10);

/// A reader as pcscd reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderStatus {
    pub name: String,
    pub card_present: bool,
    pub atr: Vec<u8>,
}

/// Every reader of the pcscd this process uses, in pcscd's order.
pub fn reader_statuses() -> Result<Vec<ReaderStatus>, pcsc::Error> {
    process();
    let ctx = pcsc::Context::establish(pcsc::Scope::User)?;
    let names = match ctx.list_readers_owned() {
        Ok(names) => names,
        Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut states: Vec<pcsc::ReaderState> = names
        .into_iter()
        .map(|n| pcsc::ReaderState::new(n, pcsc::State::UNAWARE))
        .collect();
    if !states.is_empty() {
        ctx.get_status_change(Duration::ZERO, &mut states)?;
    }
    Ok(states
        .iter()
        .map(|s| ReaderStatus {
            name: s.name().to_string_lossy().into_owned(),
            card_present: s.event_state().contains(pcsc::State::PRESENT),
            atr: s.atr().to_vec(),
        })
        .collect())
}

/// Polls until `check` holds for the reader list, or panics after `timeout` with `what`.
pub fn wait_for_readers(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut(&[ReaderStatus]) -> bool,
) -> Vec<ReaderStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = reader_statuses();
        if let Ok(readers) = &last {
            if check(readers) {
                return readers.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}; readers: {last:?}; {}",
            pcscd_state()
        );
        thread::sleep(POLL);
    }
}

/// Whether `readers` shows a card in `reader`.
pub fn card_present_in(readers: &[ReaderStatus], reader: &str) -> bool {
    readers.iter().any(|r| r.name == reader && r.card_present)
}

/// Whether `readers` shows `reader` with no card in it.
pub fn card_absent_from(readers: &[ReaderStatus], reader: &str) -> bool {
    readers.iter().any(|r| r.name == reader && !r.card_present)
}

/// For `Drop`: kills the card's process, if it runs, and waits up to 10 s for `reader` to show
/// no card, so the slot is empty for the next test. Never panics.
pub fn stop_leaving_reader_empty(child: &mut Option<Child>, reader: &str) {
    if let Some(mut child) = child.take() {
        stop_child(&mut child, Duration::ZERO);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(reader_statuses(), Ok(r) if card_absent_from(&r, reader)) {
                break;
            }
            thread::sleep(POLL);
        }
    }
}

/// Whether the card of `child` shows in `reader` within `patience` (false also when the process
/// ended first).
pub fn wait_card_quietly(child: &mut Option<Child>, reader: &str, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    while Instant::now() < deadline {
        if let Some(Ok(Some(_))) = child.as_mut().map(Child::try_wait) {
            return false;
        }
        if matches!(reader_statuses(), Ok(r) if card_present_in(&r, reader)) {
            return true;
        }
        thread::sleep(POLL);
    }
    false
}

/// Waits until `reader` shows a card, the one the process `child` (`what`, logging to `log`)
/// serves; panics if the process exits first or the card never comes.
pub fn wait_card_of(
    child: &mut Option<Child>,
    reader: &str,
    what: &str,
    log: &Path,
    pcscd: &Pcscd,
) {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(Ok(Some(status))) = child.as_mut().map(Child::try_wait) {
            panic!(
                "{what} exited ({status}) before its card appeared; its log:\n{}",
                fs::read_to_string(log).unwrap_or_default()
            );
        }
        if matches!(reader_statuses(), Ok(r) if card_present_in(&r, reader)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the card of {what} did not appear in {reader} within {READY_TIMEOUT:?}; its log:\n{}\npcscd log:\n{}",
            fs::read_to_string(log).unwrap_or_default(),
            pcscd.log_tail(20)
        );
        thread::sleep(POLL);
    }
}

//! One worker per reader: wait for a card, find or claim its record, personalize, journal,
//! wait for the card to be taken out; again until the batch's queue is empty.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::applet::{AppletError, Lifecycle};
use crate::journal::{self, JournalError, Millis, Queue, RecordRow, RecordState};
use crate::ops::personalize::{self, PersonalizeError, Step};
use crate::transport::TransportError;

use super::card::{card_went_away, BatchCard, Flow};
use super::events::{Event, EventKind};
use super::reader::{Presence, Reader};
use super::{Batch, BatchError};

/// What the workers of one run share.
pub(super) struct Shared<'a> {
    pub batch: &'a Batch<'a>,
    /// When this run began (journal time).
    pub started: Millis,
    stop: AtomicBool,
    /// Serials of the cards a worker is handling now: their bindings are not stale.
    in_readers: Mutex<HashSet<String>>,
}

impl<'a> Shared<'a> {
    pub fn new(batch: &'a Batch<'a>) -> Self {
        Shared {
            batch,
            started: journal::now(),
            stop: AtomicBool::new(false),
            in_readers: Mutex::new(HashSet::new()),
        }
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    fn in_readers(&self) -> MutexGuard<'_, HashSet<String>> {
        self.in_readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Tells the observer; a `Stop` stops every worker.
    pub fn emit(&self, reader: &str, kind: EventKind) -> Flow {
        let flow = self.batch.observer.event(&Event {
            reader: reader.to_owned(),
            kind,
        });
        if flow == Flow::Stop {
            self.stop();
        }
        flow
    }

    /// How long a binding waits for its card before it is released (or, at the lock step,
    /// before the run stops waiting for it).
    fn patience(&self) -> Millis {
        Millis::try_from(self.batch.options.release_after.as_millis()).unwrap_or(Millis::MAX)
    }

    /// Whether this run has waited long enough for a binding last touched at `updated_at`.
    fn waited_for(&self, updated_at: Millis, now: Millis) -> bool {
        now.saturating_sub(updated_at.max(self.started)) >= self.patience()
    }
}

/// Marks a card as handled by a worker while it lives.
struct InReader<'s, 'a> {
    shared: &'s Shared<'a>,
    serial: String,
}

impl Drop for InReader<'_, '_> {
    fn drop(&mut self) {
        self.shared.in_readers().remove(&self.serial);
    }
}

/// What a worker did at its reader.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReaderReport {
    pub reader: String,
    /// Cards finished (records done) at this reader in this run.
    pub made: u64,
}

/// What to do after a card was handled.
enum After {
    /// Done with this card: wait for it to be taken out.
    Remove(Option<String>),
    /// Look at the reader again (the card went away, or may be used again).
    Retry,
    /// A card with nothing to do now.
    Idle(String),
    /// The batch is stopping.
    Stop,
}

/// A repeated situation, told once.
#[derive(PartialEq, Eq)]
enum Notice {
    Waiting,
    Idle(String),
    Trouble(String),
}

pub(super) struct Worker<'s, 'a, R: Reader> {
    shared: &'s Shared<'a>,
    reader: R,
    name: String,
    journal: Box<dyn Queue>,
    notice: Option<Notice>,
    last_release_check: Millis,
    made: u64,
}

impl<'s, 'a, R: Reader> Worker<'s, 'a, R> {
    pub fn start(shared: &'s Shared<'a>, reader: R) -> Result<Self, BatchError> {
        let journal = shared.batch.journal.open(shared.batch.records)?;
        Ok(Worker {
            name: reader.name().to_owned(),
            shared,
            reader,
            journal,
            notice: None,
            last_release_check: 0,
            made: 0,
        })
    }

    pub fn run(mut self) -> Result<ReaderReport, BatchError> {
        let result = self.work();
        if result.is_err() {
            self.shared.stop();
        }
        result.map(|()| ReaderReport {
            reader: self.name.clone(),
            made: self.made,
        })
    }

    fn work(&mut self) -> Result<(), BatchError> {
        loop {
            if self.shared.stopped() {
                return Ok(());
            }
            if !self.work_left()? {
                self.emit(EventKind::Finished);
                return Ok(());
            }
            self.release_stale()?;
            let presence = match self.reader.connect() {
                Ok(presence) => presence,
                Err(e) if reader_gone(&e) => {
                    self.emit(EventKind::ReaderGone {
                        error: e.to_string(),
                    });
                    return Ok(());
                }
                Err(e) => {
                    self.notice(Notice::Trouble(e.to_string()));
                    self.pause(1);
                    continue;
                }
            };
            match presence {
                Presence::Empty => {
                    self.notice(Notice::Waiting);
                    self.watch(1);
                }
                Presence::Unusable(why) => {
                    self.skip(None, why)?;
                    self.wait_removal(None)?;
                }
                Presence::Card(card) => match self.handle(card)? {
                    After::Remove(serial) => self.wait_removal(serial)?,
                    After::Retry => self.pause(1),
                    After::Idle(serial) => {
                        self.notice(Notice::Idle(serial));
                        self.watch(4);
                    }
                    After::Stop => return Ok(()),
                },
            }
        }
    }

    fn emit(&mut self, kind: EventKind) -> Flow {
        self.notice = None;
        self.shared.emit(&self.name, kind)
    }

    /// Tells a situation once, however long it lasts.
    fn notice(&mut self, notice: Notice) {
        if self.notice.as_ref() == Some(&notice) {
            return;
        }
        let kind = match &notice {
            Notice::Waiting => EventKind::Waiting,
            Notice::Idle(serial) => EventKind::CardIdle {
                serial: serial.clone(),
            },
            Notice::Trouble(error) => EventKind::ReaderTrouble {
                error: error.clone(),
            },
        };
        self.shared.emit(&self.name, kind);
        self.notice = Some(notice);
    }

    fn pause(&self, polls: u32) {
        std::thread::sleep(self.shared.batch.options.poll.saturating_mul(polls));
    }

    /// Like [`pause`](Self::pause), but over as soon as the reader changes (a card put in or
    /// taken out).
    fn watch(&mut self, polls: u32) {
        let timeout = self.shared.batch.options.poll.saturating_mul(polls);
        self.reader.wait_for_change(timeout);
    }

    /// Whether any record of the batch is still to be made: queued, or bound to a card that is
    /// being handled or may still come back. A binding that waits for its card (at the lock
    /// step; on the shared queue, once the card was written to) whose card has not come back
    /// within the patience stops counting (it stays bound, for the next run).
    fn work_left(&mut self) -> Result<bool, BatchError> {
        let counts = self.journal.counts()?;
        if counts.queued > 0 {
            return Ok(true);
        }
        if counts.personalizing == 0 {
            return Ok(false);
        }
        let now = journal::now();
        let bound = self.journal.bound()?;
        let in_readers = self.shared.in_readers();
        Ok(bound.iter().any(|row| {
            let handled = row
                .card_serial
                .as_ref()
                .is_some_and(|s| in_readers.contains(s));
            handled
                || !self.journal.waits_for_card(row)
                || !self.shared.waited_for(row.updated_at, now)
        }))
    }

    /// Releases the bindings whose card has not come back within the patience and was never
    /// asked to lock (checked about once a second).
    fn release_stale(&mut self) -> Result<(), BatchError> {
        let now = journal::now();
        if now.saturating_sub(self.last_release_check) < 1000
            || !self.shared.waited_for(self.shared.started, now)
        {
            return Ok(());
        }
        self.last_release_check = now;
        let cutoff = now.saturating_sub(self.shared.patience());
        let released = {
            // Held while releasing, so that no worker starts on one of these cards meanwhile.
            let in_readers = self.shared.in_readers();
            self.journal.release_stale(cutoff, &in_readers)?
        };
        for released in released {
            self.emit(EventKind::Released { released });
        }
        Ok(())
    }

    /// Marks the card as handled here; `None` if a card of the same serial is handled in
    /// another reader (a duplicated serial: neither may take a second record).
    fn hold(&self, serial: &str) -> Option<InReader<'s, 'a>> {
        if !self.shared.in_readers().insert(serial.to_owned()) {
            return None;
        }
        Some(InReader {
            shared: self.shared,
            serial: serial.to_owned(),
        })
    }

    /// A card the batch leaves alone: told, journaled, then waited out.
    fn skip(&mut self, serial: Option<&str>, why: String) -> Result<After, BatchError> {
        self.skip_releasable(serial, why, None)
    }

    /// [`Self::skip`], for a card bound to record `release`, which the operator may release.
    fn skip_releasable(
        &mut self,
        serial: Option<&str>,
        why: String,
        release: Option<String>,
    ) -> Result<After, BatchError> {
        let card = serial.map_or_else(|| "a card".to_owned(), |s| format!("card {s}"));
        self.journal
            .note_card(&format!("{card} in reader {} skipped: {why}", self.name))?;
        self.emit(EventKind::CardSkipped {
            serial: serial.map(str::to_owned),
            why,
            release,
        });
        Ok(After::Remove(serial.map(str::to_owned)))
    }

    fn handle(&mut self, mut card: R::Card) -> Result<After, BatchError> {
        let serial = match card.serial() {
            Ok(serial) => serial,
            Err(AppletError::Transport(_)) => return Ok(After::Retry),
            Err(e) => return self.skip(None, format!("its serial cannot be read: {e}")),
        };
        let lifecycle = match card.lifecycle() {
            Ok(lifecycle) => lifecycle,
            Err(AppletError::Transport(_)) => return Ok(After::Retry),
            Err(e) => {
                return self.skip(Some(&serial), format!("its lifecycle cannot be read: {e}"))
            }
        };
        let Some(_held) = self.hold(&serial) else {
            return self.skip(
                Some(&serial),
                "a card with the same serial is in another reader".to_owned(),
            );
        };
        match self.journal.binding(&serial)? {
            Some(row) if row.state == RecordState::Done => self.skip(
                Some(&serial),
                format!("already made for record {}", row.tracking_code),
            ),
            Some(row) if !self.journal.in_scope(&row.tracking_code)? => self.skip(
                Some(&serial),
                format!(
                    "bound to record {} of another records file: run that batch to finish it",
                    row.tracking_code
                ),
            ),
            Some(row) => match lifecycle {
                Lifecycle::Blank | Lifecycle::Personalizing => self.make(card, serial, row, true),
                Lifecycle::Operational => self.recover(card, serial, row),
                Lifecycle::Terminated => self.skip_releasable(
                    Some(&serial),
                    format!(
                        "terminated, yet bound to record {}: release the record",
                        row.tracking_code
                    ),
                    Some(row.tracking_code.clone()),
                ),
            },
            None if lifecycle >= Lifecycle::Operational => self.skip(
                Some(&serial),
                format!("already {lifecycle} and not made by this journal"),
            ),
            None => match self.journal.claim_next(&serial, &self.name) {
                Ok(Some(row)) => self.make(card, serial, row, false),
                Ok(None) => Ok(After::Idle(serial)),
                // Bound meanwhile by another process working on the same journal.
                Err(JournalError::CardTaken { tracking_code, .. }) => self.skip(
                    Some(&serial),
                    format!("bound to record {tracking_code} by another run"),
                ),
                Err(e) => Err(e.into()),
            },
        }
    }

    /// The holder's earlier cards, revoked when `serial` was locked for `tracking_code`: kept
    /// in the journal (for `melli status`) and told.
    fn replaced(
        &mut self,
        serial: &str,
        tracking_code: &str,
        replacement: personalize::Replacement,
    ) -> Result<(), BatchError> {
        for old in &replacement.replaced {
            self.journal.mark_replaced(old, serial)?;
        }
        if !replacement.replaced.is_empty() || replacement.failed.is_some() {
            self.emit(EventKind::Replaced {
                serial: serial.to_string(),
                tracking_code: tracking_code.to_string(),
                replaced: replacement.replaced,
                failed: replacement.failed.map(|e| e.to_string()),
            });
        }
        Ok(())
    }

    /// A card bound to a record and found locked: it was locked before an interruption let
    /// the journal say so. Its DG1 must carry the record's tracking code.
    fn recover(
        &mut self,
        mut card: R::Card,
        serial: String,
        row: RecordRow,
    ) -> Result<After, BatchError> {
        match card.tracking_code() {
            Ok(Some(code)) if code.as_str() == row.tracking_code => {
                self.journal.mark_done(
                    &row.tracking_code,
                    &serial,
                    " (found locked after an interruption)",
                )?;
                self.made += 1;
                let counts = self.journal.counts()?;
                self.emit(EventKind::Done {
                    serial: serial.clone(),
                    tracking_code: row.tracking_code.clone(),
                    seconds: 0.0,
                    recovered: true,
                    counts,
                });
                let replacement = personalize::supersede_others(
                    self.shared.batch.issuer,
                    &row.national_code,
                    &serial,
                );
                self.replaced(&serial, &row.tracking_code, replacement)?;
                Ok(After::Remove(Some(serial)))
            }
            Ok(other) => {
                let found = other.map_or_else(
                    || "no tracking code".to_owned(),
                    |c| format!("tracking code {c}"),
                );
                self.skip(
                    Some(&serial),
                    format!(
                        "locked with {found}, but the journal binds it to record {}: set it aside \
                         for inspection",
                        row.tracking_code
                    ),
                )
            }
            Err(AppletError::Transport(_)) => Ok(After::Retry),
            Err(e) => self.skip(Some(&serial), format!("its DG1 cannot be read: {e}")),
        }
    }

    /// Personalizes `card` for the record bound to it.
    fn make(
        &mut self,
        mut card: R::Card,
        serial: String,
        row: RecordRow,
        resumed: bool,
    ) -> Result<After, BatchError> {
        let code = row.tracking_code;
        if resumed {
            match self.journal.resume(&code, &serial, &self.name) {
                Ok(_) => {}
                // Another station works on this card (the same serial in two stations).
                Err(e @ JournalError::Leased { .. }) => {
                    return self.skip(Some(&serial), e.to_string())
                }
                Err(e) => return Err(e.into()),
            }
        }
        if self.emit(EventKind::Claimed {
            serial: serial.clone(),
            tracking_code: code.clone(),
            resumed,
        }) == Flow::Stop
        {
            return Ok(After::Stop);
        }
        let shared = self.shared;
        let record = match shared.batch.records.get(&code) {
            Some(entry) => std::borrow::Cow::Borrowed(&entry.record),
            // The shared queue keeps the record itself.
            None => match self.journal.enrolment(&code) {
                Ok(Some(record)) => std::borrow::Cow::Owned(record),
                // In scope means in the records file or the shared journal: cannot happen.
                Ok(None) => return Err(BatchError::Journal(JournalError::Unknown(code))),
                Err(e @ JournalError::Damaged { .. }) => {
                    // Nothing was sent to the card; the record can never be made as it is.
                    let reason = e.to_string();
                    let outcome = self.journal.refuse(&code, &serial, &reason, 1)?;
                    self.setback(serial, code, outcome, reason)?;
                    return Ok(After::Retry);
                }
                Err(e) => return Err(e.into()),
            },
        };
        let (pin, puk) = match shared
            .batch
            .secrets
            .secrets(record.tracking_code(), &serial)
        {
            Ok(secrets) => secrets,
            Err(e) => {
                // Nothing was sent to the card in this attempt, and it is not locked.
                self.journal
                    .put_back(&code, &serial, &format!("PIN mailer: {e}"), false)?;
                return Err(BatchError::Mailer(e));
            }
        };

        let mut last_step = None;
        let mut journal_error = None;
        let result = {
            let journal = &mut self.journal;
            let name = self.name.as_str();
            let mut progress = |step: Step| -> Flow {
                if shared.stopped() {
                    return Flow::Stop;
                }
                if let Err(e) = journal.record_step(&code, &serial, step.name()) {
                    journal_error = Some(e);
                    return Flow::Stop;
                }
                last_step = Some(step);
                shared.emit(
                    name,
                    EventKind::Step {
                        serial: serial.clone(),
                        tracking_code: code.clone(),
                        step,
                    },
                )
            };
            card.personalize(&record, shared.batch.issuer, &pin, &puk, &mut progress)
        };
        self.notice = None;
        match journal_error {
            Some(JournalError::BindingLost { .. }) => {
                return self.skip(
                    Some(&serial),
                    format!("record {code} was released while its card was being made"),
                )
            }
            Some(e) => return Err(e.into()),
            None => {}
        }
        match result {
            Ok(summary) => {
                if self.emit(EventKind::Locked {
                    serial: serial.clone(),
                    tracking_code: code.clone(),
                }) == Flow::Stop
                {
                    return Ok(After::Stop);
                }
                let note = if summary.resumed {
                    " (finished a half-personalized card)"
                } else {
                    ""
                };
                self.journal.mark_done(&code, &serial, note)?;
                self.made += 1;
                let counts = self.journal.counts()?;
                self.emit(EventKind::Done {
                    serial: serial.clone(),
                    tracking_code: code.clone(),
                    seconds: summary.seconds,
                    recovered: false,
                    counts,
                });
                self.replaced(&serial, &code, summary.replacement)?;
                Ok(After::Remove(Some(serial)))
            }
            Err(_) if shared.stopped() => Ok(After::Stop),
            // The card turned out locked after all: the next look at it finds it so.
            Err(PersonalizeError::AlreadyIssued { .. }) => Ok(After::Retry),
            Err(e) if card_went_away(&e) => {
                // The lock step's command may have reached the card before it went: then the
                // card may be locked with this record, and the record must wait for it.
                let may_be_locked = last_step == Some(Step::Lock);
                let reason = e.to_string();
                let outcome = self
                    .journal
                    .put_back(&code, &serial, &reason, may_be_locked)?;
                self.setback(serial, code, outcome, reason)?;
                Ok(After::Retry)
            }
            Err(e) => {
                // The card (or the issuer) answered and said no: the card is not locked.
                let issuer = matches!(e, PersonalizeError::Issuer { .. });
                let reason = e.to_string();
                let outcome = self.journal.refuse(
                    &code,
                    &serial,
                    &reason,
                    shared.batch.options.max_refusals,
                )?;
                self.setback(serial.clone(), code, outcome, reason)?;
                // A card that refused is set aside; after an issuer error the card is fine.
                Ok(if issuer {
                    After::Retry
                } else {
                    After::Remove(Some(serial))
                })
            }
        }
    }

    fn setback(
        &mut self,
        serial: String,
        tracking_code: String,
        outcome: journal::Outcome,
        reason: String,
    ) -> Result<(), BatchError> {
        let counts = self.journal.counts()?;
        self.emit(EventKind::Setback {
            serial,
            tracking_code,
            outcome,
            reason,
            counts,
        });
        Ok(())
    }

    /// Waits for the card to be taken out, or for the batch to end. pcscd looks at a reader
    /// a few times a second: a card swapped for the next faster than that (a card feeder)
    /// looks as if it never left, so every [`SWAP_CHECK`] the card in the reader is asked
    /// its serial.
    fn wait_removal(&mut self, serial: Option<String>) -> Result<(), BatchError> {
        self.reader.set_aside();
        let mut told = false;
        let mut checked = Instant::now();
        loop {
            if self.shared.stopped() || !self.work_left()? {
                return Ok(());
            }
            match self.reader.card_present() {
                Ok(false) => return Ok(()),
                Ok(true) if !told => {
                    self.emit(EventKind::TakeOut {
                        serial: serial.clone(),
                    });
                    told = true;
                }
                Ok(true) if checked.elapsed() >= SWAP_CHECK => {
                    checked = Instant::now();
                    if let Some(serial) = &serial {
                        if self.swapped(serial) {
                            return Ok(());
                        }
                    }
                }
                Ok(true) => {}
                Err(e) if reader_gone(&e) => return Ok(()),
                Err(e) => self.notice(Notice::Trouble(e.to_string())),
            }
            self.watch(1);
        }
    }

    /// Whether the card in the reader is another than `serial` (or none): asked, not
    /// assumed; a card that cannot be asked now counts as the same.
    fn swapped(&mut self, serial: &str) -> bool {
        match self.reader.connect() {
            Ok(Presence::Card(mut card)) => card.serial().is_ok_and(|now| now != serial),
            Ok(Presence::Empty | Presence::Unusable(_)) => true,
            Err(_) => false,
        }
    }
}

/// How often a card waited out is asked whether it is still the same card.
const SWAP_CHECK: Duration = Duration::from_secs(2);

/// Errors after which a reader will not come back by waiting.
fn reader_gone(error: &TransportError) -> bool {
    matches!(
        error,
        TransportError::ReaderNotFound { .. } | TransportError::NoReaders
    )
}

/// The default pause between two looks at a reader.
pub const DEFAULT_POLL: Duration = Duration::from_millis(200);

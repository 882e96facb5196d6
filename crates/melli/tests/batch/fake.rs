//! A model card for the scheduler's tests: lifecycle, serial, the record it was written for,
//! and faults on demand (a refusal, a pull before or after a step). Behaves as
//! `ops::personalize` promises the real card does: idempotent until locked, the lock final.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use melli::apdu::StatusError;
use melli::applet::{AppletError, Lifecycle};
use melli::model::{Secret, TrackingCode, ValidRecord};
use melli::ops::batch::{BatchCard, Flow, Presence, Reader};
use melli::ops::personalize::{PersonalizeError, Step, Summary};
use melli::pki::Issuer;
use melli::transport::{Traffic, TransportError};

/// A model chip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chip {
    pub serial: String,
    pub lifecycle: Lifecycle,
    /// The record whose data the chip holds now.
    pub written_for: Option<String>,
    /// The record it was locked with.
    pub locked_with: Option<String>,
    /// Times a lock was attempted on it while already locked (must stay 0).
    pub relocks: u32,
    /// Refuses the secure channel (a card of another issuer).
    pub refuses: bool,
}

impl Chip {
    pub fn blank(serial: &str) -> Chip {
        Chip {
            serial: serial.to_owned(),
            lifecycle: Lifecycle::Blank,
            written_for: None,
            locked_with: None,
            relocks: 0,
            refuses: false,
        }
    }
}

/// When a pull happens relative to a step's commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pull {
    /// The card goes before the step's commands reach it.
    Before(Step),
    /// The step's commands take effect, then the card goes before the answer comes back.
    After(Step),
}

#[derive(Default)]
struct SlotInner {
    chip: Option<Chip>,
    generation: u64,
    pull: Option<Pull>,
    pulled: Option<Chip>,
}

/// A reader's slot for model chips.
#[derive(Clone, Default)]
pub struct FakeSlot(Arc<Mutex<SlotInner>>);

impl FakeSlot {
    fn lock(&self) -> MutexGuard<'_, SlotInner> {
        self.0.lock().unwrap()
    }

    pub fn remove(&self) -> Option<Chip> {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.chip.take()
    }

    pub fn serial(&self) -> Option<String> {
        self.lock().chip.as_ref().map(|c| c.serial.clone())
    }

    pub fn has_chip(&self) -> bool {
        self.lock().chip.is_some()
    }

    /// Arms a pull for the next personalization on this slot.
    pub fn pull(&self, pull: Pull) {
        self.lock().pull = Some(pull);
    }

    pub fn take_pulled(&self) -> Option<Chip> {
        self.lock().pulled.take()
    }
}

#[derive(Default)]
struct PileInner {
    blank: VecDeque<Chip>,
    out: Vec<Chip>,
}

/// The operator's stacks of model chips.
#[derive(Clone, Default)]
pub struct FakePile(Arc<Mutex<PileInner>>);

impl FakePile {
    pub fn push(&self, chip: Chip) {
        self.0.lock().unwrap().blank.push_back(chip);
    }

    pub fn take_out(&self) -> Vec<Chip> {
        std::mem::take(&mut self.0.lock().unwrap().out)
    }

    pub fn waiting(&self) -> usize {
        self.0.lock().unwrap().blank.len()
    }
}

pub struct FakeReader {
    pub name: String,
    pub slot: FakeSlot,
    pub pile: FakePile,
    /// After this the reader is gone, so that no test waits for ever.
    pub deadline: std::time::Instant,
}

impl Reader for FakeReader {
    type Card = FakeCard;

    fn name(&self) -> &str {
        &self.name
    }

    fn connect(&mut self) -> Result<Presence<FakeCard>, TransportError> {
        if std::time::Instant::now() > self.deadline {
            return Err(TransportError::NoReaders);
        }
        let mut inner = self.slot.lock();
        if inner.chip.is_none() {
            if let Some(chip) = self.pile.0.lock().unwrap().blank.pop_front() {
                inner.chip = Some(chip);
            }
        }
        if inner.chip.is_none() {
            return Ok(Presence::Empty);
        }
        inner.generation += 1;
        Ok(Presence::Card(FakeCard {
            slot: self.slot.clone(),
            generation: inner.generation,
        }))
    }

    fn card_present(&mut self) -> Result<bool, TransportError> {
        Ok(self.slot.has_chip())
    }

    fn set_aside(&mut self) {
        if let Some(chip) = self.slot.remove() {
            self.pile.0.lock().unwrap().out.push(chip);
        }
    }
}

/// A connection to a model chip.
pub struct FakeCard {
    slot: FakeSlot,
    generation: u64,
}

fn gone() -> AppletError {
    AppletError::Transport(TransportError::CardRemoved)
}

impl FakeCard {
    fn with<R>(&self, f: impl FnOnce(&mut Chip) -> R) -> Result<R, AppletError> {
        let mut inner = self.slot.lock();
        if inner.generation != self.generation {
            return Err(gone());
        }
        inner.chip.as_mut().map(f).ok_or_else(gone)
    }

    /// Runs one step's commands, with the armed pull if it is for this step.
    fn step(&self, step: Step, record: &str) -> Result<(), AppletError> {
        let pull = {
            let mut inner = self.slot.lock();
            match inner.pull {
                Some(Pull::Before(s) | Pull::After(s)) if s == step => inner.pull.take(),
                _ => None,
            }
        };
        if pull == Some(Pull::Before(step)) {
            self.pull_now();
            return Err(gone());
        }
        self.with(|chip| {
            if chip.lifecycle >= Lifecycle::Operational {
                chip.relocks += 1;
                return Err(AppletError::Status {
                    command: "fake",
                    status: StatusError::ConditionsNotSatisfied,
                });
            }
            match step {
                Step::SecureChannel if chip.refuses => {
                    return Err(AppletError::Status {
                        command: "MUTUAL AUTHENTICATE",
                        status: StatusError::SecurityStatusNotSatisfied,
                    })
                }
                Step::SecureChannel => chip.lifecycle = Lifecycle::Personalizing,
                Step::Identity => chip.written_for = Some(record.to_owned()),
                Step::Lock => {
                    chip.lifecycle = Lifecycle::Operational;
                    chip.locked_with = chip.written_for.clone();
                }
                _ => {}
            }
            Ok(())
        })??;
        if pull == Some(Pull::After(step)) {
            self.pull_now();
            return Err(gone());
        }
        Ok(())
    }

    fn pull_now(&self) {
        let mut inner = self.slot.lock();
        inner.generation += 1;
        inner.pulled = inner.chip.take();
    }
}

impl BatchCard for FakeCard {
    fn serial(&mut self) -> Result<String, AppletError> {
        self.with(|c| c.serial.clone())
    }

    fn lifecycle(&mut self) -> Result<Lifecycle, AppletError> {
        self.with(|c| c.lifecycle)
    }

    fn tracking_code(&mut self) -> Result<Option<TrackingCode>, AppletError> {
        self.with(|c| {
            c.locked_with
                .as_deref()
                .and_then(|t| TrackingCode::parse(t).ok())
        })
    }

    fn personalize(
        &mut self,
        record: &ValidRecord,
        _issuer: &Issuer,
        _pin: &Secret,
        _puk: &Secret,
        progress: &mut dyn FnMut(Step) -> Flow,
    ) -> Result<Summary, PersonalizeError> {
        let (serial, lifecycle) = self
            .with(|c| (c.serial.clone(), c.lifecycle))
            .map_err(PersonalizeError::Start)?;
        if lifecycle >= Lifecycle::Operational {
            return Err(PersonalizeError::AlreadyIssued { serial, lifecycle });
        }
        let code = record.tracking_code().to_string();
        for step in Step::ALL {
            if progress(step) == Flow::Stop {
                return Err(PersonalizeError::Card {
                    step,
                    source: AppletError::Transport(TransportError::Pcsc("stopped".into())),
                });
            }
            self.step(step, &code)
                .map_err(|source| PersonalizeError::Card { step, source })?;
        }
        Ok(Summary {
            serial,
            holder: String::new(),
            national_code: String::new(),
            resumed: lifecycle == Lifecycle::Personalizing,
            replacement: Default::default(),
            seconds: 0.001,
            traffic: Traffic::default(),
        })
    }
}

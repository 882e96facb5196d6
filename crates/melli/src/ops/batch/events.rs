//! What a batch tells its observer as it goes (the CLI draws its progress from these; a test
//! can stop the batch at any of them, as `kill -9` would).

use crate::journal::{Counts, Enqueued, Outcome, Released};
use crate::ops::personalize::Step;

pub use super::card::Flow;

/// Something that happened at one reader.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The reader's name; empty for what concerns the whole batch.
    pub reader: String,
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// The run begins (reader ""): the records journaled, and the batch's counts.
    Started { enqueued: Enqueued, counts: Counts },
    /// The reader is empty: put a blank card in.
    Waiting,
    /// The reader could not be asked; the worker tries again.
    ReaderTrouble { error: String },
    /// The reader is gone: its worker stops.
    ReaderGone { error: String },
    /// A card the batch does not touch; it waits for the card to be taken out. `release`: the
    /// record whose release (by the operator) would let the batch go on with it.
    CardSkipped {
        serial: Option<String>,
        why: String,
        release: Option<String>,
    },
    /// A blank card, but no record is free for it now (the rest wait for their own cards).
    CardIdle { serial: String },
    /// A record bound to the card; `resumed` when it was bound to it before.
    Claimed {
        serial: String,
        tracking_code: String,
        resumed: bool,
    },
    /// The journal has recorded that `step` begins; the card gets its commands next.
    Step {
        serial: String,
        tracking_code: String,
        step: Step,
    },
    /// The card is locked; the journal does not say so yet.
    Locked {
        serial: String,
        tracking_code: String,
    },
    /// The record is done, and the journal says so. `recovered`: the card had been locked
    /// before an interruption and was found so.
    Done {
        serial: String,
        tracking_code: String,
        seconds: f64,
        recovered: bool,
        counts: Counts,
    },
    /// A record's card is done and it replaces the holder's earlier cards: `replaced` were
    /// revoked (superseded); `failed` says why they could not be, when they could not.
    Replaced {
        serial: String,
        tracking_code: String,
        replaced: Vec<String>,
        failed: Option<String>,
    },
    /// The card let the record down: back in the queue, held for the card, or failed.
    Setback {
        serial: String,
        tracking_code: String,
        outcome: Outcome,
        reason: String,
        counts: Counts,
    },
    /// A record's binding to a card that did not come back was released.
    Released { released: Released },
    /// The card in the reader is finished with: take it out.
    TakeOut { serial: Option<String> },
    /// Nothing left for this reader to do.
    Finished,
}

/// Watches a batch. Called from every worker thread; returning [`Flow::Stop`] stops the whole
/// batch at once, writing nothing more to the journal: what a killed melli leaves behind.
pub trait Observer: Sync {
    fn event(&self, event: &Event) -> Flow;
}

impl<F: Fn(&Event) -> Flow + Sync> Observer for F {
    fn event(&self, event: &Event) -> Flow {
        self(event)
    }
}

/// An observer that watches nothing.
pub struct Quiet;

impl Observer for Quiet {
    fn event(&self, _: &Event) -> Flow {
        Flow::Go
    }
}

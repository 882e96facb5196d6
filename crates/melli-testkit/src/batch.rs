//! Readers without PC/SC: virtual cards of this process in [`Slot`]s, fed from a [`CardPile`]
//! the way an operator feeds a reader. For tests and demos of the batch.
//!
//! A [`Slot`] outlives its reader, as a real reader outlives a killed melli: a test can stop a
//! batch, build new readers on the same slots and find each card where it was. Taking a card
//! out of a slot ([`Slot::remove`]) while the batch talks to it makes the next command fail as
//! a pulled card does.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use melli::ops::batch::{AppletCard, Presence, Reader};
use melli::transport::{Transport, TransportError};
use melli_card::Card;

#[derive(Default)]
struct SlotInner {
    card: Option<Card>,
    /// Changes whenever the card is inserted, removed or reset: an older connection is dead.
    generation: u64,
    /// Commands still to process before the card is pulled out, its answer lost.
    pull_after: Option<u32>,
    /// A card pulled that way, in the operator's hand.
    pulled: Option<Card>,
}

#[derive(Default)]
struct SlotShared {
    inner: Mutex<SlotInner>,
    /// Told whenever a card goes in or comes out.
    changed: Condvar,
}

/// The place in a reader where a card sits.
#[derive(Clone, Default)]
pub struct Slot(Arc<SlotShared>);

impl Slot {
    pub fn new() -> Slot {
        Slot::default()
    }

    fn lock(&self) -> MutexGuard<'_, SlotInner> {
        // A panic while holding the lock leaves the card as it was; go on with it.
        self.0
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits at most `timeout` while the slot holds a card (`present`) or none.
    fn wait_while(&self, present: bool, timeout: Duration) {
        let inner = self.lock();
        let _ = self
            .0
            .changed
            .wait_timeout_while(inner, timeout, |inner| inner.card.is_some() == present);
    }

    /// Puts a card in the reader (powered on); gives it back if a card is there already.
    #[must_use = "a card given back was not inserted"]
    pub fn insert(&self, mut card: Card) -> Option<Card> {
        let mut inner = self.lock();
        if inner.card.is_some() {
            return Some(card);
        }
        card.power_on();
        inner.card = Some(card);
        inner.generation += 1;
        self.0.changed.notify_all();
        None
    }

    /// Takes the card out (powered off).
    pub fn remove(&self) -> Option<Card> {
        let mut inner = self.lock();
        inner.generation += 1;
        let mut card = inner.card.take()?;
        self.0.changed.notify_all();
        card.power_off();
        Some(card)
    }

    /// Pulls the card out right after it has processed `commands` more commands, before the
    /// last one's answer is delivered: a card pulled at the worst moment.
    pub fn pull_after(&self, commands: u32) {
        self.lock().pull_after = Some(commands);
    }

    /// The card [`pull_after`](Self::pull_after) pulled out.
    pub fn take_pulled(&self) -> Option<Card> {
        self.lock().pulled.take()
    }

    pub fn has_card(&self) -> bool {
        self.lock().card.is_some()
    }

    /// The serial of the card in the slot.
    pub fn serial(&self) -> Option<String> {
        self.lock().card.as_ref().map(|c| c.serial().to_owned())
    }

    /// Runs `f` on the card in the slot (to look at it in a test).
    pub fn with_card<R>(&self, f: impl FnOnce(&mut Card) -> R) -> Option<R> {
        self.lock().card.as_mut().map(f)
    }

    /// Resets the card and returns a connection to it, as a PC/SC connect does.
    fn connect(&self, reader: &str) -> Option<SlotTransport> {
        let mut inner = self.lock();
        inner.generation += 1;
        let generation = inner.generation;
        let card = inner.card.as_mut()?;
        card.reset();
        let atr = card.atr().to_vec();
        Some(SlotTransport {
            slot: self.clone(),
            generation,
            atr,
            reader: reader.to_owned(),
        })
    }
}

/// A connection to the card in a [`Slot`], valid until the card is removed or reset.
pub struct SlotTransport {
    slot: Slot,
    generation: u64,
    atr: Vec<u8>,
    reader: String,
}

impl Transport for SlotTransport {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut inner = self.slot.lock();
        if inner.generation != self.generation {
            return Err(if inner.card.is_some() {
                TransportError::CardReset
            } else {
                TransportError::CardRemoved
            });
        }
        let card = inner.card.as_mut().ok_or(TransportError::CardRemoved)?;
        let response = card.process(command);
        match inner.pull_after {
            Some(n) if n <= 1 => {
                inner.pull_after = None;
                inner.generation += 1;
                let mut pulled = inner.card.take();
                if let Some(card) = pulled.as_mut() {
                    card.power_off();
                }
                inner.pulled = pulled;
                self.slot.0.changed.notify_all();
                Err(TransportError::CardRemoved)
            }
            Some(n) => {
                inner.pull_after = Some(n - 1);
                Ok(response)
            }
            None => Ok(response),
        }
    }

    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn reader(&self) -> &str {
        &self.reader
    }
}

#[derive(Default)]
struct PileInner {
    blank: VecDeque<Card>,
    out: Vec<Card>,
}

/// The operator's two stacks: cards to put in readers, and cards taken out of them.
#[derive(Clone, Default)]
pub struct CardPile(Arc<Mutex<PileInner>>);

impl CardPile {
    pub fn new(cards: impl IntoIterator<Item = Card>) -> CardPile {
        let pile = CardPile::default();
        for card in cards {
            pile.push(card);
        }
        pile
    }

    fn lock(&self) -> MutexGuard<'_, PileInner> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a card to the stack still to go in a reader.
    pub fn push(&self, card: Card) {
        self.lock().blank.push_back(card);
    }

    fn next(&self) -> Option<Card> {
        self.lock().blank.pop_front()
    }

    fn put_out(&self, card: Card) {
        self.lock().out.push(card);
    }

    /// Cards not yet put in a reader.
    pub fn waiting(&self) -> usize {
        self.lock().blank.len()
    }

    /// Takes the cards that came out of readers.
    pub fn take_out(&self) -> Vec<Card> {
        std::mem::take(&mut self.lock().out)
    }
}

/// A reader holding a [`Slot`]; with a [`CardPile`], it feeds itself the next card when empty
/// and moves a card it is finished with to the pile's out stack.
pub struct InProcessReader {
    name: String,
    slot: Slot,
    pile: Option<CardPile>,
    /// Whether the slot held a card when last looked at, for [`Reader::wait_for_change`].
    seen: Option<bool>,
}

impl InProcessReader {
    pub fn new(name: impl Into<String>, slot: Slot, pile: Option<CardPile>) -> InProcessReader {
        InProcessReader {
            name: name.into(),
            slot,
            pile,
            seen: None,
        }
    }

    pub fn slot(&self) -> &Slot {
        &self.slot
    }
}

impl Reader for InProcessReader {
    type Card = AppletCard<SlotTransport>;

    fn name(&self) -> &str {
        &self.name
    }

    fn connect(&mut self) -> Result<Presence<Self::Card>, TransportError> {
        if !self.slot.has_card() {
            if let Some(card) = self.pile.as_ref().and_then(CardPile::next) {
                if let Some(card) = self.slot.insert(card) {
                    // Someone else filled the slot meanwhile: keep the card for later.
                    if let Some(pile) = &self.pile {
                        pile.push(card);
                    }
                }
            }
        }
        let connected = self.slot.connect(&self.name);
        self.seen = Some(connected.is_some());
        let Some(transport) = connected else {
            return Ok(Presence::Empty);
        };
        Presence::of(transport)
    }

    fn card_present(&mut self) -> Result<bool, TransportError> {
        let present = self.slot.has_card();
        self.seen = Some(present);
        Ok(present)
    }

    fn wait_for_change(&mut self, timeout: Duration) {
        match self.seen {
            Some(present) => self.slot.wait_while(present, timeout),
            None => std::thread::sleep(timeout),
        }
    }

    fn set_aside(&mut self) {
        if let Some(pile) = &self.pile {
            if let Some(card) = self.slot.remove() {
                pile.put_out(card);
            }
        }
    }
}

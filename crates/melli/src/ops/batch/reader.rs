//! Readers a batch works with: one worker per reader. [`PcscReader`] is a real (or vpcd)
//! reader through pcscd; the test kit (`melli-testkit`) has readers without PC/SC for tests.

use std::time::Duration;

use crate::applet::AppletError;
#[cfg(feature = "pcsc")]
use crate::transport::{list_readers, resolve_reader, wait_for_change, PcscTransport, ReaderInfo};
use crate::transport::{Transport, TransportError};

use super::card::{AppletCard, BatchCard};

/// What a reader holds.
pub enum Presence<C> {
    /// No card.
    Empty,
    /// A melli card, connected.
    Card(C),
    /// A card the batch cannot use (not a melli card, not answering SELECT): why.
    Unusable(String),
}

impl<T: Transport> Presence<AppletCard<T>> {
    /// What a reader holds, from a connection to the card in it: a melli card with its
    /// application selected, no card after all (it left or was reset while we connected), or
    /// a card the batch cannot use. An error of the reader itself is the error.
    pub fn of(transport: T) -> Result<Self, TransportError> {
        match AppletCard::open(transport) {
            Ok(card) => Ok(Presence::Card(card)),
            Err(AppletError::Transport(
                TransportError::CardRemoved | TransportError::CardReset,
            )) => Ok(Presence::Empty),
            Err(AppletError::Transport(e)) => Err(e),
            Err(other) => Ok(Presence::Unusable(other.to_string())),
        }
    }
}

/// A reader the batch can wait on.
pub trait Reader: Send {
    type Card: BatchCard;

    fn name(&self) -> &str;
    /// Connects to the card in the reader, if there is one.
    fn connect(&mut self) -> Result<Presence<Self::Card>, TransportError>;
    /// Whether the card last connected to is still in the reader: false once it was taken out,
    /// even if another card went in since.
    fn card_present(&mut self) -> Result<bool, TransportError>;
    /// The batch is finished with the card in the reader and waits for it to be taken out. A
    /// person does that with a real reader; a simulated one moves it out itself.
    fn set_aside(&mut self) {}
    /// Waits at most `timeout` for the reader to change since [`connect`](Self::connect) or
    /// [`card_present`](Self::card_present) last looked — a card put in or taken out — and
    /// returns early when it does. A reader that cannot tell waits the whole `timeout`.
    fn wait_for_change(&mut self, timeout: Duration) {
        std::thread::sleep(timeout);
    }
}

/// A PC/SC reader, by its full name.
#[cfg(feature = "pcsc")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcscReader {
    name: String,
    /// pcscd's event count when the card was connected to (see [`ReaderInfo::events`]).
    connected_at_event: Option<u32>,
    /// The reader as it was last looked at, for [`Reader::wait_for_change`].
    seen: Option<ReaderInfo>,
}

#[cfg(feature = "pcsc")]
impl PcscReader {
    /// Every reader the PC/SC service knows.
    pub fn all() -> Result<Vec<PcscReader>, TransportError> {
        let readers = list_readers()?;
        if readers.is_empty() {
            return Err(TransportError::NoReaders);
        }
        Ok(readers
            .into_iter()
            .map(|r| PcscReader {
                name: r.name,
                connected_at_event: None,
                seen: None,
            })
            .collect())
    }

    /// The readers named: each by its full name or a part of it that matches one reader only.
    pub fn named(names: &[String]) -> Result<Vec<PcscReader>, TransportError> {
        let readers = list_readers()?;
        let mut chosen: Vec<PcscReader> = Vec::new();
        for name in names {
            let found = resolve_reader(&readers, name)?;
            if !chosen.iter().any(|r| r.name == found) {
                chosen.push(PcscReader {
                    name: found,
                    connected_at_event: None,
                    seen: None,
                });
            }
        }
        Ok(chosen)
    }
}

#[cfg(feature = "pcsc")]
impl PcscReader {
    fn info(&mut self) -> Result<ReaderInfo, TransportError> {
        self.seen = None;
        let readers = list_readers()?;
        let info = readers
            .into_iter()
            .find(|r| r.name == self.name)
            .ok_or_else(|| TransportError::ReaderNotFound {
                name: self.name.clone(),
                present: String::new(),
            })?;
        self.seen = Some(info.clone());
        Ok(info)
    }
}

#[cfg(feature = "pcsc")]
impl Reader for PcscReader {
    type Card = AppletCard<PcscTransport>;

    fn name(&self) -> &str {
        &self.name
    }

    fn connect(&mut self) -> Result<Presence<Self::Card>, TransportError> {
        let info = self.info()?;
        if !info.card_present {
            return Ok(Presence::Empty);
        }
        self.connected_at_event = Some(info.events);
        let transport = match PcscTransport::connect(Some(&self.name)) {
            Ok(t) => t,
            Err(
                TransportError::CardRemoved
                | TransportError::NoCard
                | TransportError::NoCardInReader(_),
            ) => return Ok(Presence::Empty),
            Err(e) => return Err(e),
        };
        Presence::of(transport)
    }

    fn card_present(&mut self) -> Result<bool, TransportError> {
        let info = self.info()?;
        // A card swapped between two looks leaves the reader present but counts two events.
        let same = self.connected_at_event.is_none_or(|at| at == info.events);
        Ok(info.card_present && same)
    }

    /// pcscd tells of the change (`SCardGetStatusChange`); without a look to compare with, or
    /// when pcscd cannot be asked, this waits the whole `timeout`.
    fn wait_for_change(&mut self, timeout: Duration) {
        let told = self
            .seen
            .as_ref()
            .is_some_and(|seen| wait_for_change(std::slice::from_ref(seen), timeout).is_ok());
        if !told {
            std::thread::sleep(timeout);
        }
    }
}

#[cfg(all(test, feature = "pcsc"))]
mod tests {
    use super::*;

    fn info(name: &str) -> ReaderInfo {
        ReaderInfo {
            name: name.to_owned(),
            card_present: false,
            atr: None,
            events: 0,
        }
    }

    #[test]
    fn resolves_names_like_the_other_commands() {
        let readers = [info("Virtual PCD 00 00"), info("Virtual PCD 00 01")];
        assert_eq!(
            resolve_reader(&readers, "Virtual PCD 00 00")
                .ok()
                .as_deref(),
            Some("Virtual PCD 00 00")
        );
        assert_eq!(
            resolve_reader(&readers, "pcd 00 01").ok().as_deref(),
            Some("Virtual PCD 00 01")
        );
        assert!(matches!(
            resolve_reader(&readers, "virtual"),
            Err(TransportError::AmbiguousReader { .. })
        ));
        assert!(matches!(
            resolve_reader(&readers, "nope"),
            Err(TransportError::ReaderNotFound { .. })
        ));
        assert!(matches!(
            resolve_reader(&[], "x"),
            Err(TransportError::NoReaders)
        ));
    }
}

//! Moving raw APDUs to a card and back.
//!
//! A [`Transport`] has one job: one raw command APDU in, the card's full response out. Everything
//! above — chaining, `61xx`/`6Cxx` handling ([`CardChannel`]), secure messaging, SELECT — is
//! written once for every transport.

mod channel;
#[cfg(feature = "pcsc")]
mod pcsc;
mod readers;

pub use channel::{Capabilities, CardChannel, Traffic};
#[cfg(feature = "pcsc")]
pub use pcsc::{list_readers, transmit_on, wait_for_change, PcscTransport};
pub use readers::{resolve_reader, ReaderInfo};

/// A link to one card.
pub trait Transport {
    /// Sends one command APDU and returns the whole response APDU (data and SW1 SW2).
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError>;
    /// The card's answer to reset.
    fn atr(&self) -> &[u8];
    /// A name for where the card is (the PC/SC reader name, or "in-process").
    fn reader(&self) -> &str;
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(command)
    }
    fn atr(&self) -> &[u8] {
        (**self).atr()
    }
    fn reader(&self) -> &str {
        (**self).reader()
    }
}

/// Why a card could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("the PC/SC service is not running: start pcscd (as root: pcscd) and try again")]
    NoService,
    #[error("no card reader found: connect a reader, or start vpcd's virtual reader with pcscd")]
    NoReaders,
    #[error("no card in any reader: insert a card")]
    NoCard,
    #[error("no card in reader \"{0}\": insert a card and try again")]
    NoCardInReader(String),
    #[error("no reader named \"{name}\" — give one of the readers present, or a part of its name: {present}")]
    ReaderNotFound { name: String, present: String },
    #[error("cards are present in several readers ({0})")]
    SeveralCards(String),
    #[error(
        "the reader name \"{name}\" matches several readers ({matches}): give more of the name"
    )]
    AmbiguousReader { name: String, matches: String },
    #[error("the card is in use by another program: close it and try again")]
    CardInUse,
    #[error("the card was removed: put it back and start again")]
    CardRemoved,
    #[error("the card was reset by another program or by the reader: its security state is lost; start again")]
    CardReset,
    #[error("the card does not answer: take it out, put it back and try again")]
    CardUnresponsive,
    #[error("the card answered with a malformed response ({0} bytes): it may not be a melli card")]
    MalformedResponse(usize),
    #[error("the command could not be encoded: {0}")]
    Encoding(#[from] crate::apdu::ApduError),
    #[error("PC/SC error: {0}")]
    Pcsc(String),
    /// A failure the PC/SC service reported that has no meaning of its own here.
    #[cfg(feature = "pcsc")]
    #[error("PC/SC error: {0}")]
    Service(#[source] ::pcsc::Error),
}

//! The desk screen: a web page on this machine that shows, for every card reader of a bank or
//! post-office desk, the card holder's photo and data and a green or red verdict, updated as
//! cards go in and out.
//!
//! The pieces:
//!
//! - [`monitor`]: one thread watches the readers through pcscd; a card put in is read and
//!   verified on a thread of its own by the front end's [`CardChecker`] (the same checks as
//!   `melli verify`), and the result becomes that reader's panel; a card taken out clears it.
//! - [`state`]: the panels, and the JSON of all of them that every change publishes.
//! - [`server`]: HTTP on a loopback port (axum): the page, its script, style sheet and font,
//!   compiled in; the panels as server-sent events; the photo re-encoded as PNG; a fingerprint
//!   match on the card in a reader. Every route lives under a random token in the path.
//! - [`photo`]: the card's JPEG decoded within limits and encoded again as PNG, so that the
//!   browser never parses bytes that came from the card.
//!
//! The library reads no files and names no command-line options: the front end (`melli desk`)
//! loads the trust anchor and CRLs and decides how a card is checked.

pub mod monitor;
pub mod photo;
pub mod server;
pub mod state;

use melli::applet::Applet;
use melli::ops::read::CardContents;
use melli::pki::Verdict;
use melli::transport::PcscTransport;

pub use server::{Bound, Config, DeskError};

/// How the desk reads and verifies the card in a reader: the front end's policy (trust anchor,
/// revocation sources, lifecycle rules), run on a thread of its own for each card put in.
pub trait CardChecker: Send + Sync + 'static {
    /// Connects to the card in the reader named exactly `reader`, reads it and verifies it. An
    /// error is one line that says what is wrong (it is shown in the reader's panel, escaped).
    fn check(&self, reader: &str) -> Result<Checked, String>;
}

/// A card read and verified: its connection is kept for the fingerprint match, so the match
/// goes to the very card whose data the panel shows.
pub struct Checked {
    pub applet: Applet<PcscTransport>,
    pub contents: CardContents,
    pub verdict: Verdict,
}

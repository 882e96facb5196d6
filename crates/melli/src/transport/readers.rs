//! Readers as the user names them: what PC/SC reports of each, and the one rule that turns a
//! name the user typed into a reader (without PC/SC itself, so it is tested on its own).

use super::TransportError;

/// A reader and what it holds, as `melli readers` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReaderInfo {
    pub name: String,
    pub card_present: bool,
    /// The ATR of the card in the reader, hex, when there is one.
    pub atr: Option<String>,
    /// pcscd's count of card events (insertions and removals) in this reader: when it changes,
    /// the card is not the one that was there before, even if a card is present again.
    #[serde(skip)]
    pub events: u32,
}

/// The reader a user means by `wanted`: its full name, or a part of it (any case) that only
/// one reader's name contains. The one resolver of reader names, for every command (`--reader`)
/// and for `melli batch --readers`.
pub fn resolve_reader(readers: &[ReaderInfo], wanted: &str) -> Result<String, TransportError> {
    if readers.is_empty() {
        return Err(TransportError::NoReaders);
    }
    if let Some(exact) = readers.iter().find(|r| r.name == wanted) {
        return Ok(exact.name.clone());
    }
    let lower = wanted.to_lowercase();
    let matches: Vec<&ReaderInfo> = readers
        .iter()
        .filter(|r| r.name.to_lowercase().contains(&lower))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.name.clone()),
        [] => Err(TransportError::ReaderNotFound {
            name: wanted.to_owned(),
            present: quoted(readers.iter()),
        }),
        many => Err(TransportError::AmbiguousReader {
            name: wanted.to_owned(),
            matches: quoted(many.iter().copied()),
        }),
    }
}

/// Reader names as messages list them: `"A", "B"`.
pub(super) fn quoted<'a>(readers: impl Iterator<Item = &'a ReaderInfo>) -> String {
    readers
        .map(|r| format!("\"{}\"", r.name))
        .collect::<Vec<_>>()
        .join(", ")
}

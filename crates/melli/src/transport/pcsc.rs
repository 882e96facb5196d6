//! Real readers through the PC/SC service (pcsc-lite's pcscd on Linux), with the `pcsc` crate.

use std::ffi::CString;
use std::time::{Duration, Instant};

use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};

use super::readers::quoted;
use super::{resolve_reader, ReaderInfo, Transport, TransportError};

impl From<pcsc::Error> for TransportError {
    fn from(e: pcsc::Error) -> Self {
        match e {
            pcsc::Error::NoService | pcsc::Error::ServiceStopped => TransportError::NoService,
            pcsc::Error::NoReadersAvailable | pcsc::Error::UnknownReader => {
                TransportError::NoReaders
            }
            pcsc::Error::RemovedCard | pcsc::Error::NoSmartcard => TransportError::CardRemoved,
            pcsc::Error::ResetCard => TransportError::CardReset,
            pcsc::Error::SharingViolation => TransportError::CardInUse,
            // pcscd reports a transaction it no longer has when the card vanished mid-session,
            // before it noticed the removal.
            pcsc::Error::UnresponsiveCard
            | pcsc::Error::UnpoweredCard
            | pcsc::Error::NotTransacted => TransportError::CardUnresponsive,
            other => TransportError::Service(other),
        }
    }
}

fn establish() -> Result<Context, TransportError> {
    Ok(Context::establish(Scope::User)?)
}

fn reader_states(ctx: &Context) -> Result<Vec<ReaderState>, TransportError> {
    let names = match ctx.list_readers_owned() {
        Ok(names) => names,
        Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut states: Vec<ReaderState> = names
        .into_iter()
        .map(|name| ReaderState::new(name, State::UNAWARE))
        .collect();
    if !states.is_empty() {
        ctx.get_status_change(Duration::ZERO, &mut states)?;
    }
    Ok(states)
}

fn info(state: &ReaderState) -> ReaderInfo {
    let present = state.event_state().contains(State::PRESENT);
    ReaderInfo {
        name: state.name().to_string_lossy().into_owned(),
        card_present: present,
        atr: (present && !state.atr().is_empty()).then(|| hex::encode_upper(state.atr())),
        events: state.event_count(),
    }
}

/// Every reader the PC/SC service knows, with whether a card is in it.
pub fn list_readers() -> Result<Vec<ReaderInfo>, TransportError> {
    let ctx = establish()?;
    Ok(reader_states(&ctx)?.iter().map(info).collect())
}

/// Waits until one of the readers `seen` (as [`list_readers`] showed them) counts a new event —
/// a card put in or taken out — or a reader comes or goes, for at most `timeout`; at once if
/// that happened since `seen` was taken. pcscd tells of the change (`SCardGetStatusChange`)
/// instead of being asked again and again. Either way the caller looks at the readers again.
pub fn wait_for_change(seen: &[ReaderInfo], timeout: Duration) -> Result<(), TransportError> {
    let deadline = Instant::now() + timeout;
    let ctx = establish()?;
    let mut states = Vec::with_capacity(seen.len() + 1);
    for reader in seen {
        let name =
            CString::new(reader.name.as_str()).map_err(|_| TransportError::ReaderNotFound {
                name: reader.name.clone(),
                present: String::new(),
            })?;
        states.push(ReaderState::new(name, State::UNAWARE));
    }
    states.push(ReaderState::new(pcsc::PNP_NOTIFICATION(), State::UNAWARE));
    ctx.get_status_change(Duration::ZERO, &mut states)?;
    let changed = |states: &[ReaderState]| {
        seen.iter().zip(states).any(|(before, now)| {
            let gone = now.event_state().intersects(State::UNKNOWN | State::IGNORE);
            gone || now.event_count() != before.events
                || now.event_state().contains(State::PRESENT) != before.card_present
        })
    };
    if changed(&states) {
        return Ok(());
    }
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        for state in states.iter_mut() {
            state.sync_current_state();
        }
        match ctx.get_status_change(left, &mut states) {
            Err(pcsc::Error::Timeout) => return Ok(()),
            Err(e) => return Err(e.into()),
            Ok(()) => {}
        }
        // The notification "reader" is CHANGED when a reader came or went (where pcscd does not
        // know it, UNKNOWN: then only the readers themselves count).
        let pnp = states[seen.len()].event_state();
        let readers_changed =
            pnp.contains(State::CHANGED) && !pnp.intersects(State::UNKNOWN | State::IGNORE);
        if changed(&states) || readers_changed {
            return Ok(());
        }
        // Told of a change that is none: look again a little later rather than spin.
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// The reader to connect to: the one `wanted` names ([`resolve_reader`]), which must hold a
/// card, or else the only reader that holds one.
fn choose_reader(readers: &[ReaderInfo], wanted: Option<&str>) -> Result<String, TransportError> {
    let chosen = match wanted {
        Some(name) => resolve_reader(readers, name)?,
        None => {
            if readers.is_empty() {
                return Err(TransportError::NoReaders);
            }
            let with_card: Vec<&ReaderInfo> = readers.iter().filter(|r| r.card_present).collect();
            match with_card.as_slice() {
                [one] => one.name.clone(),
                [] => return Err(TransportError::NoCard),
                many => return Err(TransportError::SeveralCards(quoted(many.iter().copied()))),
            }
        }
    };
    let holds_card = readers.iter().any(|r| r.name == chosen && r.card_present);
    if !holds_card {
        return Err(TransportError::NoCardInReader(chosen));
    }
    Ok(chosen)
}

/// A card in a PC/SC reader, held exclusively: no other program can send it APDUs (and so
/// interleave with a PIN session or a secure channel) until this is dropped. Dropping it resets
/// the card, so a verified PIN does not outlive the program that verified it.
pub struct PcscTransport {
    card: Option<pcsc::Card>,
    reader: String,
    atr: Vec<u8>,
    buffer: Vec<u8>,
    // Declared last: the context must outlive the card handle.
    _context: Context,
}

impl PcscTransport {
    /// Connects to the card in the reader named `reader`, or in the only reader holding one.
    pub fn connect(reader: Option<&str>) -> Result<Self, TransportError> {
        let context = establish()?;
        let readers: Vec<ReaderInfo> = reader_states(&context)?.iter().map(info).collect();
        let name = choose_reader(&readers, reader)?;
        let cname = CString::new(name.clone()).map_err(|_| TransportError::ReaderNotFound {
            name: name.clone(),
            present: String::new(),
        })?;
        let card = context.connect(&cname, ShareMode::Exclusive, Protocols::ANY)?;
        let atr = card.status2_owned()?.atr().to_vec();
        Ok(PcscTransport {
            card: Some(card),
            reader: name,
            atr,
            buffer: vec![0; pcsc::MAX_BUFFER_SIZE_EXTENDED],
            _context: context,
        })
    }
}

impl Transport for PcscTransport {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let card = self.card.as_ref().ok_or(TransportError::CardRemoved)?;
        transmit_on(card, command, &mut self.buffer)
    }

    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn reader(&self) -> &str {
        &self.reader
    }
}

impl Drop for PcscTransport {
    fn drop(&mut self) {
        if let Some(card) = self.card.take() {
            // Nothing useful can be done if the reset fails: the card is gone anyway.
            let _ = card.disconnect(Disposition::ResetCard);
        }
    }
}

/// One APDU on a connected PC/SC card, for every transport over `pcsc` (this one, and those of
/// consumers that hold their own connection, such as the PKCS#11 module): the response copied
/// out of `buffer`, which is then wiped (it may hold a signature's input), and an empty answer —
/// vpcd's when its card went away in the middle of the command — taken as a removed card.
pub fn transmit_on(
    card: &pcsc::Card,
    command: &[u8],
    buffer: &mut [u8],
) -> Result<Vec<u8>, TransportError> {
    let response = card.transmit(command, buffer)?;
    if response.is_empty() {
        return Err(TransportError::CardRemoved);
    }
    let out = response.to_vec();
    zeroize::Zeroize::zeroize(&mut buffer[..out.len()]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(name: &str, card: bool) -> ReaderInfo {
        ReaderInfo {
            name: name.to_string(),
            card_present: card,
            atr: None,
            events: 0,
        }
    }

    #[test]
    fn picks_the_only_card() {
        let readers = [reader("A 00 00", false), reader("B 00 00", true)];
        assert_eq!(choose_reader(&readers, None).expect("one card"), "B 00 00");
    }

    #[test]
    fn refuses_to_guess_between_cards() {
        let readers = [reader("A 00 00", true), reader("B 00 00", true)];
        let err = choose_reader(&readers, None).expect_err("two cards");
        // The library names the readers; the command line adds how to choose (`--reader`,
        // the `two-cards` row of docs/bad-input.md).
        assert!(
            matches!(&err, TransportError::SeveralCards(list)
                if list.contains("A 00 00") && list.contains("B 00 00")),
            "{err}"
        );
    }

    #[test]
    fn matches_reader_by_part_of_its_name() {
        let readers = [
            reader("Virtual PCD 00 00", true),
            reader("Virtual PCD 00 01", true),
        ];
        assert_eq!(
            choose_reader(&readers, Some("pcd 00 01")).expect("unique part"),
            "Virtual PCD 00 01"
        );
        assert!(matches!(
            choose_reader(&readers, Some("Virtual")),
            Err(TransportError::AmbiguousReader { .. })
        ));
        assert!(matches!(
            choose_reader(&readers, Some("nope")),
            Err(TransportError::ReaderNotFound { .. })
        ));
        assert!(matches!(
            choose_reader(&[], None),
            Err(TransportError::NoReaders)
        ));
    }

    #[test]
    fn reports_empty_named_reader() {
        let readers = [reader("A", false)];
        assert!(matches!(
            choose_reader(&readers, Some("A")),
            Err(TransportError::NoCardInReader(_))
        ));
        assert!(matches!(
            choose_reader(&readers, None),
            Err(TransportError::NoCard)
        ));
    }
}

//! A virtual card feeder: the hopper of an issuance machine in front of one vpcd reader. It
//! holds a stack of blank cards (one state file each, made as needed), puts one in the reader,
//! and when that card is issued and the host lets go of it, takes it out to the output tray
//! and puts the next one in. A batch run on several readers gets one feeder per reader.
//!
//! Each card is served with [`vpcd::serve_with`] and [`Options::eject_issued`]; a half-made
//! card stays in the reader (the host resumes it), and so does a card the host never lets go
//! of. Killing the feeder loses nothing: every card's state is in its own file, and a feeder
//! started again on the same folder skips the cards already issued and goes on with the first
//! one that is not.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use super::vpcd::{self, Options, Served};
use super::{Card, CardError, CardKeys};
use crate::spec::lifecycle;

/// The stack of cards a feeder works through.
#[derive(Clone, Debug)]
pub struct Stack {
    /// Folder of the state files, `SERIAL.json`.
    pub dir: PathBuf,
    /// Serials are this prefix and a 4-digit number from 0001.
    pub serial_prefix: String,
    /// How many cards.
    pub count: u32,
    /// Where each new card's static keys come from.
    pub keys: KeySource,
}

/// Gives the static keys of the card with a serial: from a master key here, or from a
/// function (an issuer's HSM diversifies them; its master key never comes out).
#[derive(Clone)]
pub enum KeySource {
    /// The master key itself (a card factory's test key).
    Master(Zeroizing<[u8; 16]>),
    /// Keys diversified elsewhere for each serial; an error is one line.
    Derive(DeriveKeys),
}

/// Gives the static keys of the card with a serial; an error is one line.
pub type DeriveKeys = Arc<dyn Fn(&str) -> Result<CardKeys, String> + Send + Sync>;

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Master(_) => f.write_str("KeySource::Master(REDACTED)"),
            KeySource::Derive(_) => f.write_str("KeySource::Derive"),
        }
    }
}

impl Stack {
    /// The serial of card `n` (from 1).
    pub fn serial(&self, n: u32) -> String {
        format!("{}{n:04}", self.serial_prefix)
    }

    /// The state file of the card with `serial`.
    pub fn state_path(&self, serial: &str) -> PathBuf {
        self.dir.join(format!("{serial}.json"))
    }

    /// The state file of card `n`, made blank (its keys from [`Stack::keys`]) if it does not
    /// exist yet: what a feeder of another implementation of the card (the Java Card applet's
    /// launcher, which takes blank state files) is given.
    pub fn blank_file(&self, n: u32) -> Result<PathBuf, CardError> {
        std::fs::create_dir_all(&self.dir).map_err(|error| CardError::StateIo {
            path: self.dir.clone(),
            action: "create the folder of",
            error,
        })?;
        let card = self.card(n)?;
        Ok(self.state_path(card.serial()))
    }

    /// Opens card `n`, made blank if its state file does not exist yet.
    fn card(&self, n: u32) -> Result<Card, CardError> {
        let serial = self.serial(n);
        let path = self.state_path(&serial);
        if path.exists() {
            Card::open_file(&path)
        } else {
            match &self.keys {
                KeySource::Master(master) => Card::create_file(&path, &serial, master),
                KeySource::Derive(derive) => {
                    let keys = derive(&serial).map_err(|reason| CardError::CardKeys {
                        serial: serial.clone(),
                        reason,
                    })?;
                    Card::create_file_with_keys(&path, &serial, &keys)
                }
            }
        }
    }
}

/// How many cards went through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fed {
    /// Cards issued and taken out in this run.
    pub issued: u32,
    /// Cards found issued already (from an earlier run) and left in the tray.
    pub skipped: u32,
}

/// The options for the cards after one served with `options`: the same, but a fault to inject
/// (`tear_at`) is for the first card served only. A timing profile stays, so that every card
/// of the stack answers in a real chip's time, not only the first.
pub fn next_card_options(options: Options) -> Options {
    Options {
        tear_at: None,
        ..options
    }
}

/// Feeds the cards of `stack` one after another to the vpcd reader at `addr`, until the stack
/// is empty or `stop` is set. `gap` is how long the reader stays empty between two cards:
/// pcscd polls a vpcd reader every 400 ms, so a gap shorter than that may hide the change from
/// it. `options.tear_at` applies to the first card served only; everything else in `options`
/// (the timing profile, the per-APDU delay) to every card ([`next_card_options`]).
pub fn feed(
    stack: &Stack,
    addr: &str,
    stop: &AtomicBool,
    gap: Duration,
    options: Options,
    mut log: impl FnMut(&str),
) -> Result<Fed, CardError> {
    std::fs::create_dir_all(&stack.dir).map_err(|error| CardError::StateIo {
        path: stack.dir.clone(),
        action: "create the folder of",
        error,
    })?;
    let mut options = Options {
        eject_issued: true,
        ..options
    };
    let mut fed = Fed::default();
    for n in 1..=stack.count {
        let mut card = stack.card(n)?;
        if card.lifecycle() >= lifecycle::OPERATIONAL {
            fed.skipped = fed.skipped.saturating_add(1);
            continue;
        }
        let serial = card.serial().to_owned();
        log(&format!(
            "card {serial} ({n} of {}) into the reader",
            stack.count
        ));
        let mut card_log = |line: &str| log(&format!("card {serial}: {line}"));
        let served = vpcd::serve_with(&mut card, addr, stop, &mut card_log, options)?;
        options = next_card_options(options);
        match served {
            Served::Stopped => return Ok(fed),
            Served::Ejected => fed.issued = fed.issued.saturating_add(1),
        }
        if n < stack.count {
            std::thread::sleep(gap);
        }
    }
    log(&format!(
        "stack empty: {} issued, {} issued before",
        fed.issued, fed.skipped
    ));
    Ok(fed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timing::{Profile, Work};
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::Ordering;
    use std::sync::Mutex;
    use std::time::Instant;

    /// One vpcd message: a 2-byte length, then the bytes.
    fn send(stream: &mut TcpStream, message: &[u8]) {
        let length = u16::try_from(message.len()).unwrap().to_be_bytes();
        stream.write_all(&length).unwrap();
        stream.write_all(message).unwrap();
    }

    fn receive(stream: &mut TcpStream) -> Vec<u8> {
        let mut length = [0u8; 2];
        stream.read_exact(&mut length).unwrap();
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(length))];
        stream.read_exact(&mut body).unwrap();
        body
    }

    #[test]
    fn later_cards_keep_the_timing_and_lose_the_fault() {
        let first = Options {
            tear_at: Some(3),
            timing: Profile::t1(115_200),
            apdu_delay: Duration::from_millis(5),
            ..Options::default()
        };
        let next = next_card_options(first);
        assert_eq!(next.tear_at, None);
        assert_eq!(next.timing, Profile::t1(115_200));
        assert_eq!(next.apdu_delay, Duration::from_millis(5));
        assert_eq!(next_card_options(next).timing, Profile::t1(115_200));
    }

    /// A blank card from the stack answers no sooner than the feeder's profile says, and says
    /// so in its log line.
    #[test]
    fn a_fed_card_answers_in_its_profiles_time() {
        let dir = tempfile::tempdir().unwrap();
        let stack = Stack {
            dir: dir.path().join("cards"),
            serial_prefix: "TIME".into(),
            count: 2,
            keys: KeySource::Master(Zeroizing::new([7; 16])),
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = AtomicBool::new(false);
        let profile = Profile::t1(9_600);
        let options = Options {
            timing: profile,
            ..Options::default()
        };
        let lines = Mutex::new(Vec::<String>::new());
        // SELECT of the applet by its AID; a blank card answers with its FCP and 9000.
        let select = hex::decode("00A4040007F04D454C4C490100").unwrap();
        std::thread::scope(|scope| {
            let feeder = scope.spawn(|| {
                feed(&stack, &addr, &stop, Duration::ZERO, options, |line| {
                    lines.lock().unwrap().push(line.to_owned());
                })
            });
            let (mut vpcd, _) = listener.accept().unwrap();
            vpcd.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            send(&mut vpcd, &[0x01]); // power on
            send(&mut vpcd, &[0x04]); // the ATR
            assert!(!receive(&mut vpcd).is_empty());
            let started = Instant::now();
            send(&mut vpcd, &select);
            let response = receive(&mut vpcd);
            let waited = started.elapsed();
            stop.store(true, Ordering::Relaxed);
            assert_eq!(response[response.len() - 2..], [0x90, 0x00]);
            let expected = profile.delay(select.len(), response.len(), &Work::default());
            assert!(expected >= Duration::from_millis(40), "{expected:?}");
            assert!(
                waited >= expected,
                "answered in {waited:?}, modelled {expected:?}"
            );
            let fed = feeder.join().unwrap().unwrap();
            assert_eq!(fed, Fed::default(), "the card was not issued");
        });
        let lines = lines.into_inner().unwrap();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("card TIME0001: timing: 13 + ")),
            "{lines:?}"
        );
    }
}

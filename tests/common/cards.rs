//! melli's virtual cards in our readers: the Rust card (`melli card serve`) or the Java Card
//! applet's launcher, each with its own state file made by `melli card new`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use melli_testkit::pcscd::{Pcscd, Slot};
use melli_testkit::process::{next_id, note, stop_child};
use melli_testkit::readers::{
    card_absent_from, stop_leaving_reader_empty, wait_card_of, wait_card_quietly, wait_for_readers,
    POLL, READY_TIMEOUT,
};

use super::{melli, path_str, process, write_private, MELLI, SELECT_MELLI};

/// The issuer master key written for every test card.
pub const TEST_MASTER_KEY: &str = "000102030405060708090A0B0C0D0E0F";

/// Which implementation of applets-spec the tests' cards are: the Rust virtual card
/// (`melli card serve`) or the Java Card applet in jCardSim (`scripts/javacard-card`). Chosen
/// for the whole test process by `MELLI_E2E_CARD=rust|javacard` (default `rust`): `scripts/test`
/// runs the end-to-end suite once per kind, the same tests against both cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardKind {
    Rust,
    JavaCard,
}

/// The card kind of this test process (see [`CardKind`]).
pub fn card_kind() -> CardKind {
    static KIND: OnceLock<CardKind> = OnceLock::new();
    *KIND.get_or_init(|| match std::env::var("MELLI_E2E_CARD").as_deref() {
        Err(_) | Ok("") | Ok("rust") => CardKind::Rust,
        Ok("javacard") => CardKind::JavaCard,
        Ok(other) => panic!("MELLI_E2E_CARD={other:?}: expected rust or javacard"),
    })
}

/// The Java Card applet's launcher (builds the applet with Maven when it is not built yet).
const JAVACARD_CARD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/javacard-card");

/// A melli virtual card: its own state file, made by `melli card new`, served to one of our
/// readers by `melli card serve`. The card process is killed and waited for on drop.
pub struct VirtualCard {
    // Field order matters on drop: the child is stopped in `Drop`, then the directory is
    // removed, then the slot is freed (which may stop pcscd and tidy the process directory).
    child: Option<Child>,
    /// The Java Card launcher's control input (`pull`, `insert`): jCardSim keeps the card's
    /// persistent memory in its process, so the card is pulled out of its reader and put back
    /// instead of being killed and started again.
    control: Option<std::process::ChildStdin>,
    dir: tempfile::TempDir,
    slot: Slot,
    reader: String,
    serial: String,
    state: PathBuf,
    log: PathBuf,
    tear_at: Option<u64>,
    fault: Option<String>,
    kind: CardKind,
}

/// How to make a [`VirtualCard`]; `Default` is a blank card with [`TEST_MASTER_KEY`].
#[derive(Debug, Clone, Default)]
pub struct CardOptions {
    /// The serial; unique to this run when `None`.
    pub serial: Option<String>,
    /// A master key file instead of [`TEST_MASTER_KEY`].
    pub master_key: Option<PathBuf>,
    /// An issuer directory whose master key (in its token) makes the card's keys.
    pub issuer: Option<PathBuf>,
    /// `melli card serve --tear-at K`: the card drops the connection on its K-th command APDU
    /// (counted from the start of each serve process) and comes back 1 s later.
    pub tear_at: Option<u64>,
    /// `melli card serve --fault NAME`: a card that lies on purpose (e.g. "foreign-dg5").
    pub fault: Option<String>,
    /// This card's implementation instead of the process's [`card_kind`] (benches compare both).
    pub kind: Option<CardKind>,
}

fn unique_serial() -> String {
    format!(
        "E2E{:05}{:03}",
        std::process::id() % 100_000,
        next_id() % 1000
    )
}

impl VirtualCard {
    /// A blank card with a serial unique to this test run.
    pub fn new() -> VirtualCard {
        VirtualCard::with_options(CardOptions::default())
    }

    /// A blank card with the given serial, inserted and ready.
    pub fn with_serial(serial: &str) -> VirtualCard {
        VirtualCard::with_options(CardOptions {
            serial: Some(serial.to_string()),
            ..CardOptions::default()
        })
    }

    /// A blank card whose personalization master key is the test issuer's (see
    /// [`test_issuer`]), so `melli personalize --issuer` works on it.
    pub fn for_issuer(issuer: &Path) -> VirtualCard {
        VirtualCard::with_options(CardOptions {
            issuer: Some(issuer.to_path_buf()),
            ..CardOptions::default()
        })
    }

    /// A blank card made and served as `options` say.
    pub fn with_options(options: CardOptions) -> VirtualCard {
        let serial = options.serial.clone().unwrap_or_else(unique_serial);
        let serial = serial.as_str();
        let pcscd = Pcscd::acquire();
        let slot = pcscd.take_slot();
        let dir = tempfile::Builder::new()
            .prefix("card-")
            .tempdir_in(process().work_dir())
            .expect("card temp dir");
        let key_args = match (&options.issuer, &options.master_key) {
            (Some(issuer), _) => ["--issuer".to_string(), path_str(issuer).to_string()],
            (None, Some(key)) => ["--master-key".to_string(), path_str(key).to_string()],
            (None, None) => {
                let key = dir.path().join("master.key");
                write_private(&key, &format!("{TEST_MASTER_KEY}\n"));
                ["--master-key".to_string(), path_str(&key).to_string()]
            }
        };
        let state = dir.path().join("card.state.json");
        let made = melli(&[
            "card",
            "new",
            "--state",
            path_str(&state),
            "--serial",
            serial,
            &key_args[0],
            &key_args[1],
        ]);
        assert_eq!(made.code, 0, "melli card new failed: {made:?}");
        let mut card = VirtualCard {
            child: None,
            control: None,
            reader: slot.reader_name(),
            slot,
            serial: serial.to_string(),
            state,
            log: dir.path().join("serve.log"),
            tear_at: options.tear_at,
            fault: options.fault.clone(),
            kind: options.kind.unwrap_or_else(card_kind),
            dir,
        };
        card.restart();
        // A reader that an earlier test left in a bad state (a card killed at the wrong
        // moment) can show the new card without letting it answer: put it in again until it
        // does. Not for a card that tears itself: the probe would count as one of its APDUs.
        if card.tear_at.is_none() {
            for _ in 0..3 {
                if card.answers() {
                    break;
                }
                note(&format!(
                    "the card in {} did not answer; putting it in again",
                    card.reader
                ));
                card.restart();
            }
        }
        card
    }

    /// Whether the card answers SELECT of the melli application with 9000.
    fn answers(&self) -> bool {
        use melli::transport::{PcscTransport, Transport};
        let Ok(select) = hex::decode(SELECT_MELLI) else {
            return false;
        };
        PcscTransport::connect(Some(&self.reader))
            .and_then(|mut t| t.transmit(&select))
            .is_ok_and(|answer| answer.ends_with(&[0x90, 0x00]))
    }

    pub fn reader_name(&self) -> &str {
        &self.reader
    }

    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The card's own temporary directory (removed on drop): a place for per-test files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Serves the card again without `--tear-at` from now on (takes effect at the next
    /// [`VirtualCard::restart`]).
    pub fn clear_tear(&mut self) {
        self.tear_at = None;
    }

    pub fn state_path(&self) -> &Path {
        &self.state
    }

    pub fn port(&self) -> u16 {
        self.slot.port()
    }

    pub fn pcscd(&self) -> &Arc<Pcscd> {
        self.slot.pcscd()
    }

    /// The card's own log (stderr of `melli card serve`).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the card process (SIGKILL: no chance to tidy up) and waits until pcscd sees the
    /// reader empty.
    pub fn kill(&mut self) {
        self.kill_no_wait();
        wait_for_readers("the card to leave its reader", READY_TIMEOUT, |r| {
            card_absent_from(r, &self.reader)
        });
    }

    /// Kills the card process without waiting for pcscd to notice. A Java card is pulled out of
    /// its reader instead (the same power loss for the card), so that it keeps its memory.
    pub fn kill_no_wait(&mut self) {
        if self.pull_java_card() {
            return;
        }
        self.control = None;
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child, Duration::ZERO);
        }
    }

    /// Takes a Java card out of its reader and waits until its launcher says the link to vpcd
    /// is closed — as prompt as killing a process; false when there is no launcher to ask.
    fn pull_java_card(&mut self) -> bool {
        const PULLED: &str = "card out of the reader (control input: pull)";
        let before = self.log().matches(PULLED).count();
        let Some(control) = self.control.as_mut() else {
            return false;
        };
        if control
            .write_all(b"pull\n")
            .and_then(|()| control.flush())
            .is_err()
        {
            return false;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.log().matches(PULLED).count() == before {
            assert!(
                Instant::now() < deadline,
                "the Java card did not leave its reader within 10 s; its log:\n{}",
                self.log()
            );
            thread::sleep(POLL);
        }
        true
    }

    /// Starts `melli card serve` on the same state file (killing a running one first) and
    /// waits until the reader shows the card.
    pub fn restart(&mut self) {
        // A vpcd slot that an earlier card left at a bad moment can take the card's connection
        // and never power it on (pcscd: "Card not transacted"): take the card out and put it
        // in again, a few times, before calling it a failure.
        for _ in 0..3 {
            self.start_serving();
            if wait_card_quietly(&mut self.child, &self.reader, Duration::from_secs(8)) {
                return;
            }
            note(&format!(
                "the card in {} did not appear; putting it in again",
                self.reader
            ));
        }
        self.start_serving();
        self.wait_present();
    }

    fn start_serving(&mut self) {
        if self.kind == CardKind::JavaCard && self.insert_java_card() {
            return;
        }
        if self.child.is_some() {
            self.kill();
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("card log");
        let tear = self
            .tear_at
            .map(|k| vec!["--tear-at".to_string(), k.to_string()])
            .unwrap_or_default();
        let mut command = match self.kind {
            CardKind::Rust => {
                let mut command = Command::new(MELLI);
                command
                    .args(["card", "serve", "--state"])
                    .arg(&self.state)
                    .args(self.fault.iter().flat_map(|f| ["--fault", f.as_str()]))
                    .stdin(Stdio::null());
                command
            }
            CardKind::JavaCard => {
                assert!(
                    self.fault.is_none(),
                    "the Java Card applet has no test faults; this test is for the Rust card only"
                );
                let mut command = Command::new(JAVACARD_CARD);
                command.arg("--card").arg(&self.state).stdin(Stdio::piped());
                command
            }
        };
        let mut child = command
            .arg("--vpcd")
            .arg(format!("127.0.0.1:{}", self.port()))
            .args(tear)
            .current_dir(self.dir.path())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn the virtual card");
        self.control = child.stdin.take();
        self.child = Some(child);
    }

    /// Puts a Java card back in its reader — taken out first, and gone from the reader, if it
    /// is in — as a Rust card is killed and started again; false when there is no running
    /// launcher to ask.
    fn insert_java_card(&mut self) -> bool {
        let running = matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)));
        if !running || self.control.is_none() {
            return false;
        }
        self.kill();
        match self.control.as_mut() {
            Some(control) => control
                .write_all(b"insert\n")
                .and_then(|()| control.flush())
                .is_ok(),
            None => false,
        }
    }

    /// After a `--tear-at` tear: waits until the card process has connected to vpcd again
    /// (its log says so after the "card pulled" line) and pcscd shows the card.
    pub fn wait_reinserted(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let log = self.log();
            let back = log
                .find("card pulled")
                .is_some_and(|at| log[at..].contains("connected to vpcd"));
            if back {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the card did not come back after its tear within {READY_TIMEOUT:?}; its log:\n{log}"
            );
            thread::sleep(POLL);
        }
        self.wait_present();
    }

    fn wait_present(&mut self) {
        let pcscd = Arc::clone(self.pcscd());
        wait_card_of(
            &mut self.child,
            &self.reader,
            "melli card serve",
            &self.log,
            &pcscd,
        );
    }
}

impl Default for VirtualCard {
    fn default() -> Self {
        VirtualCard::new()
    }
}

impl Drop for VirtualCard {
    fn drop(&mut self) {
        // A card killed while it is out after a `--tear-at` pull leaves vpcd's slot powered
        // off, and the next card in that reader fails its reset: let it come back first.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let log = self.log();
            match log.rfind("card pulled") {
                Some(at) if !log[at..].contains("connected to vpcd") => thread::sleep(POLL),
                _ => break,
            }
        }
        stop_leaving_reader_empty(&mut self.child, &self.reader);
    }
}

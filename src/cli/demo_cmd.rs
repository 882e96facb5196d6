//! `melli demo`: the whole life of a card on a machine without a reader, through pcscd and
//! vpcd — a test issuer, card feeders with blank virtual cards, a small batch, then one of the
//! new cards at a desk (read, verify with a live finger) and in its holder's hands (sign, verify
//! the signature), and the citizen's status lookup. Each step says what it runs.
//!
//! The enrolment data (photo, fingerprints, one record) are built into the binary, so the demo
//! runs from any folder.
//!
//! The cards are melli's Rust virtual card (feeders in this process) or, with `--card
//! javacard`, the Java Card applet of `javacard/` in jCardSim: one launcher process per reader
//! (`scripts/javacard-card --card FILE… --eject-issued`) holds that reader's stack of blank
//! cards and an output tray, and its control input brings the first record's card back.

use std::fs;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use melli::applet::Applet;
use melli::journal::Journal;
use melli::ops::pin_mailer;
use melli::ops::sign::{hash_file, sign_digest};
use melli::pki::token;
use melli::transport::{list_readers, wait_for_change, PcscTransport, ReaderInfo};
use melli_card::feeder::{self, KeySource, Stack};
use melli_card::{vpcd, Card};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use crate::cli::batch_cmd::{self, BatchArgs, StatusArgs};
use crate::cli::issuer_keys::{self, InitArgs, ISSUER_PIN_ENV, ROOT_PIN_ENV};
use crate::cli::{check_cmd, desk_cmd, issuer_cmd, sign_cmd, Failure};

/// Where Debian's softhsm2 puts its PKCS#11 module (and where multiarch layouts do).
pub const SOFTHSM_MODULES: [&str; 2] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
];
/// The demo issuer's token, and its root's.
const DEMO_TOKEN: &str = "melli-demo";
const DEMO_ROOT_TOKEN: &str = "melli-demo-root";

/// Makes the demo's own SoftHSM2 (a configuration and token folder inside the demo's folder,
/// nothing system-wide) with two tokens — the issuer's and the root's — whose PINs are random
/// and live only in this process (handed to the key stores through MELLI_ISSUER_PIN and
/// MELLI_ROOT_PIN). Returns the module's path.
fn softhsm_tokens(dir: &Path) -> Result<PathBuf, Failure> {
    let module = SOFTHSM_MODULES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Failure::bad_input(
                "the demo keeps the issuer's keys in SoftHSM2, which is not installed: install Debian's softhsm2 (scripts/setup does)",
            )
        })?;
    let hsm = dir.join("softhsm");
    let conf = token::softhsm_config(&hsm).map_err(|e| io_failure("make", &hsm, e))?;
    let tokens = hsm.join("tokens");
    // Before the module is loaded, and while the demo runs on this one thread.
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let random = || {
        let mut bytes = Zeroizing::new([0u8; 12]);
        OsRng.fill_bytes(bytes.as_mut());
        Zeroizing::new(hex::encode(bytes.as_ref()))
    };
    let (pin, so_pin) = (random(), random());
    for label in [DEMO_TOKEN, DEMO_ROOT_TOKEN] {
        token::init_token(&module, label, &so_pin, &pin)
            .map_err(|e| Failure::bad_input(e.to_string()))?;
    }
    std::env::set_var(ISSUER_PIN_ENV, pin.as_str());
    std::env::set_var(ROOT_PIN_ENV, pin.as_str());
    println!(
        "SoftHSM2 tokens '{DEMO_TOKEN}' and '{DEMO_ROOT_TOKEN}' in {} (random PINs, kept in this process only)",
        tokens.display()
    );
    Ok(module)
}

const RECORD: &str = include_str!("../../fixtures/records/valid-1.json");
const PHOTO: &[u8] = include_bytes!("../../fixtures/photos/face-1.jpg");
const FINGER: &[u8] = include_bytes!("../../fixtures/fingerprints/finger-1.fmr");
const LIVE_FINGER: &[u8] = include_bytes!("../../fixtures/fingerprints/finger-1-live.fmr");

/// How long a vpcd reader may take to show a card put in it.
const READER_PATIENCE: Duration = Duration::from_secs(20);
/// Between two cards of a feeder: more than pcscd's 400 ms look at a vpcd reader.
const FEED_GAP: Duration = Duration::from_millis(500);
/// How long a Java Card launcher may take to show its first card: the first run builds the
/// applet with Maven.
const LAUNCHER_PATIENCE: Duration = Duration::from_secs(300);

/// Which card the demo's feeders hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoCard {
    /// melli's Rust virtual card, fed by feeders in this process.
    Rust,
    /// the Java Card applet in jCardSim, one launcher process per reader.
    Javacard,
}

/// `melli demo`'s arguments.
pub struct DemoArgs {
    /// vpcd addresses, one reader and one card feeder each.
    pub vpcd: Vec<String>,
    /// The reader of each vpcd address, in the same order; found by watching when absent.
    pub readers: Vec<String>,
    pub cards: u32,
    /// Where to work and leave the results; a temporary folder, removed at the end, if none.
    pub dir: Option<PathBuf>,
    /// Which card the feeders hold.
    pub card: DemoCard,
    /// The Java Card applet's launcher (`scripts/javacard-card`), for `DemoCard::Javacard`.
    pub javacard_launcher: PathBuf,
}

/// Prints a step's heading.
fn step(n: u32, total: u32, what: &str) {
    println!("\n── step {n}/{total}: {what}");
}

fn io_failure(what: &str, path: &Path, e: std::io::Error) -> Failure {
    Failure::bad_input(format!("cannot {what} {}: {e}", path.display()))
}

fn require(code: ExitCode, what: &str) -> Result<(), Failure> {
    if code == ExitCode::SUCCESS {
        Ok(())
    } else {
        Err(Failure::card(format!(
            "the demo stopped: {what} did not succeed"
        )))
    }
}

pub fn demo(args: &DemoArgs) -> Result<ExitCode, Failure> {
    if args.cards == 0 || args.cards > 50 {
        return Err(Failure::bad_input(format!(
            "--cards {}: give 1 to 50",
            args.cards
        )));
    }
    if args.vpcd.is_empty() {
        return Err(Failure::bad_input("give at least one --vpcd HOST:PORT"));
    }
    if !args.readers.is_empty() && args.readers.len() != args.vpcd.len() {
        return Err(Failure::bad_input(format!(
            "{} --reader for {} --vpcd: give one reader name per vpcd address, or none",
            args.readers.len(),
            args.vpcd.len()
        )));
    }
    let launcher = match args.card {
        DemoCard::Rust => None,
        DemoCard::Javacard => Some(launcher_path(&args.javacard_launcher)?),
    };
    let (dir, temporary) = match &args.dir {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("melli-demo-{}", std::process::id())),
            true,
        ),
    };
    if dir.exists()
        && fs::read_dir(&dir)
            .map_err(|e| io_failure("read", &dir, e))?
            .next()
            .is_some()
    {
        return Err(Failure::bad_input(format!(
            "{} is not empty: give --dir a new or empty folder",
            dir.display()
        )));
    }
    fs::create_dir_all(&dir).map_err(|e| io_failure("create", &dir, e))?;
    let result = run(args, &dir, launcher.as_deref());
    match (&result, temporary) {
        (Ok(_), true) => {
            let _ = fs::remove_dir_all(&dir);
        }
        (Ok(_), false) => println!("\nEverything the demo made is in {}", dir.display()),
        (Err(_), _) => eprintln!("melli: the demo's files are kept in {}", dir.display()),
    }
    result
}

/// `--javacard-launcher`, from the current folder when relative; it must exist.
fn launcher_path(given: &Path) -> Result<PathBuf, Failure> {
    let path = if given.is_absolute() {
        given.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| Failure::bad_input(format!("cannot tell the current folder: {e}")))?
            .join(given)
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(Failure::bad_input(format!(
            "--javacard-launcher {}: no such file; give the path of melli's scripts/javacard-card \
             (the default is relative to the current folder: run the demo from melli's source folder)",
            path.display()
        )))
    }
}

fn run(args: &DemoArgs, dir: &Path, launcher: Option<&Path>) -> Result<ExitCode, Failure> {
    const TOTAL: u32 = 8;
    let issuer = dir.join("issuer");
    step(
        1,
        TOTAL,
        "an issuer with its keys in an HSM (SoftHSM2) — melli issuer init issuer --hsm … --token melli-demo --root-token melli-demo-root",
    );
    let module = softhsm_tokens(dir)?;
    require(
        issuer_cmd::issuer_init(&InitArgs {
            dir: issuer.clone(),
            root_dir: None,
            hsm: Some(module),
            token: Some(DEMO_TOKEN.into()),
            root_token: Some(DEMO_ROOT_TOKEN.into()),
            insecure_plain_keys: false,
        })?,
        "issuer init",
    )?;

    step(2, TOTAL, "enrolment records — melli check");
    let records = write_records(dir, args.cards)?;
    println!(
        "{} records in {} (photo and fingerprints in {}/enrolment)",
        args.cards,
        records.display(),
        dir.display()
    );
    require(
        check_cmd::check(&dir.join("enrolment/record-1.json"), false)?,
        "check",
    )?;

    match launcher {
        None => step(
            3,
            TOTAL,
            &format!(
                "blank cards — melli card feed on {} reader(s)",
                args.vpcd.len()
            ),
        ),
        Some(_) => step(
            3,
            TOTAL,
            &format!(
                "blank cards with the Java Card applet (jCardSim) — scripts/javacard-card --card … \
                 --eject-issued on {} reader(s)",
                args.vpcd.len()
            ),
        ),
    }
    // The feeders' card factory diversifies each card's keys with the issuer's master key,
    // inside the token.
    let loaded = Arc::new(issuer_keys::load_issuer(&issuer)?);
    let keys = KeySource::Derive(Arc::new(move |serial: &str| {
        issuer_keys::card_keys(&loaded, serial).map_err(|e| e.to_string())
    }));
    let mut feeders = Vec::new();
    // Java Card launchers are stopped when dropped: on every way out of this function.
    let mut launchers: Vec<Launcher> = Vec::new();
    let mut readers = Vec::new();
    for (i, addr) in args.vpcd.iter().enumerate() {
        let stack = Stack {
            dir: dir.join("cards"),
            serial_prefix: format!("DEMO{}", i + 1),
            count: args.cards,
            keys: keys.clone(),
        };
        // Readers already holding a card are not this feeder's.
        let mut busy: Vec<String> = list_readers()?
            .into_iter()
            .filter(|r| r.card_present)
            .map(|r| r.name)
            .collect();
        busy.extend(readers.iter().cloned());
        let log = dir.join(format!("feeder-{}.log", i + 1));
        if let Some(program) = launcher {
            let mut started = Launcher::start(program, &stack, addr, &log)?;
            // Its own word that its card is on the line first: a reader that still shows an
            // earlier card (or a launcher that died at once) must not pass for this one's.
            started.wait_connected(LAUNCHER_PATIENCE)?;
            let mut alive = || started.alive();
            let reader = match args.readers.get(i) {
                Some(name) => wait_for_reader(name, true, LAUNCHER_PATIENCE, &mut alive)
                    .map(|()| name.clone()),
                None => wait_for_new_card(&busy, addr, LAUNCHER_PATIENCE, &mut alive),
            }?;
            println!(
                "launcher {} (Java Card applet in jCardSim, {} blank cards {}0001…) → vpcd {addr} → reader \"{reader}\"",
                i + 1,
                args.cards,
                stack.serial_prefix
            );
            readers.push(reader);
            launchers.push(started);
            continue;
        }
        let feeder = Background::feed(stack, addr.clone(), log);
        let found = match args.readers.get(i) {
            Some(name) => {
                wait_for_reader(name, true, READER_PATIENCE, &mut || Ok(())).map(|()| name.clone())
            }
            None => wait_for_new_card(&busy, addr, READER_PATIENCE, &mut || Ok(())),
        };
        let reader = match found {
            Ok(reader) => reader,
            Err(e) => {
                feeder.stop();
                for f in feeders {
                    Background::stop(f);
                }
                return Err(e);
            }
        };
        println!("feeder {} → vpcd {addr} → reader \"{reader}\"", i + 1);
        readers.push(reader);
        feeders.push(feeder);
    }

    step(
        4,
        TOTAL,
        "the batch — melli batch records.jsonl --issuer issuer --journal journal.db",
    );
    let journal = dir.join("journal.db");
    let batch = batch_cmd::batch(&BatchArgs {
        command: None,
        records: Some(records.clone()),
        issuer: Some(issuer.clone()),
        journal: Some(journal.clone()),
        readers: readers.clone(),
        pin_mailers: None,
        skip_invalid: false,
        release: Vec::new(),
        release_after: 10.0,
        json: false,
    });
    for f in feeders {
        Background::stop(f);
    }
    require(batch?, "the batch")?;

    // The first record's card goes back into the first reader, for the desk and the holder.
    let row = Journal::open_existing(&journal)
        .and_then(|j| j.rows())
        .map_err(|e| Failure::card(e.to_string()))?
        .into_iter()
        .next()
        .ok_or_else(|| Failure::card("the journal holds no record"))?;
    let serial = row
        .card_serial
        .clone()
        .ok_or_else(|| Failure::card("the first record has no card"))?;
    let mailer = dir
        .join("pin-mailers")
        .join(format!("{}.txt", row.tracking_code));
    let outcome = if launchers.is_empty() {
        let state = dir.join("cards").join(format!("{serial}.json"));
        let reader = &readers[0];
        wait_for_reader(reader, false, READER_PATIENCE, &mut || Ok(()))?;
        let card = Background::serve(&state, args.vpcd[0].clone(), dir.join("card.log"))?;
        wait_for_reader(reader, true, READER_PATIENCE, &mut || Ok(()))?;
        let outcome = holder_and_desk(dir, &issuer, reader, &serial, &mailer, TOTAL);
        Background::stop(card);
        outcome
    } else {
        // The card is in the output tray of the launcher whose stack it came from (the first
        // reader's when that reader took the first record). Every reader is emptied, as the
        // Rust feeders are stopped, and the card goes back into its reader from the tray.
        let k = launchers
            .iter()
            .position(|l| l.holds(&serial))
            .ok_or_else(|| Failure::card(format!("card {serial} is in no launcher's tray")))?;
        for l in &mut launchers {
            l.control("pull")?;
        }
        let reader = &readers[k];
        wait_for_reader(reader, false, READER_PATIENCE, &mut || launchers[k].alive())?;
        launchers[k].control(&format!("tray {serial}"))?;
        println!(
            "card {serial} from launcher {}'s output tray back into reader \"{reader}\" (control input: tray {serial})",
            k + 1
        );
        wait_for_reader(reader, true, READER_PATIENCE, &mut || launchers[k].alive())?;
        let outcome = holder_and_desk(dir, &issuer, reader, &serial, &mailer, TOTAL);
        launchers.clear();
        outcome
    };
    outcome?;

    step(8, TOTAL, "the citizen asks — melli status --tracking-code");
    require(
        batch_cmd::status(&StatusArgs {
            journal: Some(journal.to_string_lossy().into_owned()),
            issuer: None,
            tracking_code: Some(row.tracking_code.clone()),
            national_code: None,
            birth_date: None,
            json: false,
        })?,
        "status",
    )?;
    println!(
        "\nDemo finished: {} cards personalized in a batch, then read → verify → sign → verify \
         signature, all through pcscd + vpcd.",
        args.cards
    );
    Ok(ExitCode::SUCCESS)
}

/// Steps 5 to 7 on the card in `reader`.
fn holder_and_desk(
    dir: &Path,
    issuer: &Path,
    reader: &str,
    serial: &str,
    mailer: &Path,
    total: u32,
) -> Result<(), Failure> {
    let root = issuer.join("root.pem");
    step(
        5,
        total,
        &format!("card {serial} at a desk — melli read --out card-out --png"),
    );
    require(
        desk_cmd::read(Some(reader), Some(&dir.join("card-out")), true, false)?,
        "read",
    )?;

    step(
        6,
        total,
        "proving it genuine — melli verify --trust issuer/root.pem --finger live.fmr",
    );
    let live = dir.join("enrolment/finger-1-live.fmr");
    require(
        desk_cmd::verify(Some(reader), &root, Some(&live), false)?,
        "verify",
    )?;

    step(
        7,
        total,
        "the holder signs — melli sign contract.txt; melli verify-signature",
    );
    let contract = dir.join("contract.txt");
    fs::write(
        &contract,
        "I, the holder, agree to the terms of this contract.\n",
    )
    .map_err(|e| io_failure("write", &contract, e))?;
    let (pin, _puk) =
        pin_mailer::secrets_for_card(mailer, serial).map_err(|e| Failure::card(e.to_string()))?;
    println!(
        "(the PIN comes from the PIN mailer {}; it is never printed)",
        mailer.display()
    );
    let digest = hash_file(&contract).map_err(|e| io_failure("read", &contract, e))?;
    let mut applet = Applet::select(PcscTransport::connect(Some(reader))?)?;
    let p7s = sign_digest(&mut applet, &pin, &digest, SystemTime::now())
        .map_err(sign_cmd::sign_failure)?;
    drop(applet);
    let signature = dir.join("contract.txt.p7s");
    fs::write(&signature, p7s).map_err(|e| io_failure("write", &signature, e))?;
    println!("signed {} → {}", contract.display(), signature.display());
    require(
        sign_cmd::verify_signature_cmd(&contract, &signature, &root, false)?,
        "verify-signature",
    )
}

fn write_records(dir: &Path, count: u32) -> Result<PathBuf, Failure> {
    let enrolment = dir.join("enrolment");
    fs::create_dir_all(&enrolment).map_err(|e| io_failure("create", &enrolment, e))?;
    for (name, bytes) in [
        ("face-1.jpg", PHOTO),
        ("finger-1.fmr", FINGER),
        ("finger-1-live.fmr", LIVE_FINGER),
    ] {
        let path = enrolment.join(name);
        fs::write(&path, bytes).map_err(|e| io_failure("write", &path, e))?;
    }
    let mut base: serde_json::Value =
        serde_json::from_str(RECORD).map_err(|e| Failure::bad_input(e.to_string()))?;
    base["photo"] = "face-1.jpg".into();
    base["fingerprint"] = "finger-1.fmr".into();
    let mut lines = String::new();
    for n in 1..=count {
        let mut record = base.clone();
        record["tracking_code"] = format!("14030940{n:04}").into();
        record["national_code"] = national_code(n).into();
        let line = record.to_string();
        let single = enrolment.join(format!("record-{n}.json"));
        fs::write(&single, &line).map_err(|e| io_failure("write", &single, e))?;
        lines.push_str(&line);
        lines.push('\n');
    }
    let path = enrolment.join("records.jsonl");
    fs::write(&path, lines).map_err(|e| io_failure("write", &path, e))?;
    Ok(path)
}

/// A valid national code for demo record `n`: nine digits and their check digit.
fn national_code(n: u32) -> String {
    let nine = format!("{:09}", 400_000_000u32.saturating_add(n.saturating_mul(13)));
    let sum: u32 = nine
        .bytes()
        .zip((2..=10u32).rev())
        .map(|(d, w)| u32::from(d.saturating_sub(b'0')) * w)
        .sum();
    let r = sum % 11;
    let check = if r < 2 { r } else { 11 - r };
    format!("{nine}{check}")
}

/// What a wait checks on each look besides the readers: that the card side still runs.
type Alive<'a> = &'a mut dyn FnMut() -> Result<(), Failure>;

/// Waits until a reader not in `busy` shows a card: the one the feeder at `addr` filled.
fn wait_for_new_card(
    busy: &[String],
    addr: &str,
    patience: Duration,
    alive: Alive<'_>,
) -> Result<String, Failure> {
    let started = Instant::now();
    loop {
        let list = list_readers().ok();
        if let Some(r) = list
            .iter()
            .flatten()
            .find(|r| r.card_present && !busy.contains(&r.name))
        {
            return Ok(r.name.clone());
        }
        alive()?;
        if started.elapsed() > patience {
            return Err(Failure::card(format!(
                "no reader showed the card put into vpcd at {addr}: is pcscd running with a \
                 vpcd reader on that port? (scripts/demo starts one)"
            )));
        }
        wait_for_readers(list.as_deref(), started, patience);
    }
}

/// Waits until `reader` shows a card (`present`) or is empty.
fn wait_for_reader(
    reader: &str,
    present: bool,
    patience: Duration,
    alive: Alive<'_>,
) -> Result<(), Failure> {
    let started = Instant::now();
    loop {
        alive()?;
        let list = list_readers().ok();
        if list
            .iter()
            .flatten()
            .any(|r| r.name == reader && r.card_present == present)
        {
            return Ok(());
        }
        if started.elapsed() > patience {
            return Err(Failure::card(format!(
                "reader \"{reader}\" did not become {} within {} s",
                if present { "full" } else { "empty" },
                patience.as_secs()
            )));
        }
        wait_for_readers(list.as_deref(), started, patience);
    }
}

/// Waits, at most until the patience that began at `started` runs out, for pcscd to tell of a
/// change in the readers `seen` (a card put in or taken out, a reader added); without a list
/// to compare with, or when pcscd cannot be asked, a short pause as before a look again.
fn wait_for_readers(seen: Option<&[ReaderInfo]>, started: Instant, patience: Duration) {
    // A second at most, so that the card side is looked at now and then.
    let left = patience
        .saturating_sub(started.elapsed())
        .min(Duration::from_secs(1));
    let told = seen.is_some_and(|seen| wait_for_change(seen, left).is_ok());
    if !told {
        thread::sleep(Duration::from_millis(50));
    }
}

/// A card-side thread (a feeder, or one card served), stopped on request.
struct Background {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Background {
    fn feed(stack: Stack, addr: String, log: PathBuf) -> Background {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut lines = String::new();
            let result = feeder::feed(
                &stack,
                &addr,
                &flag,
                FEED_GAP,
                vpcd::Options::default(),
                |line| {
                    lines.push_str(line);
                    lines.push('\n');
                },
            );
            if let Err(e) = result {
                lines.push_str(&format!("feeder stopped: {e}\n"));
            }
            let _ = fs::write(&log, lines);
        });
        Background { stop, thread }
    }

    fn serve(state: &Path, addr: String, log: PathBuf) -> Result<Background, Failure> {
        let mut card = Card::open_file(state).map_err(|e| Failure::card(e.to_string()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut lines = String::new();
            let _ = vpcd::serve(&mut card, &addr, &flag, |line| {
                lines.push_str(line);
                lines.push('\n');
            });
            let _ = fs::write(&log, lines);
        });
        Ok(Background { stop, thread })
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// A Java Card launcher (`scripts/javacard-card --card FILE… --eject-issued --vpcd ADDR`): one
/// reader's stack of blank cards and its output tray, in a process of its own (and its own
/// process group, which holds a Maven build when the launcher builds the applet first). Its
/// standard input is its control input; its output goes to the demo folder's log. Stopped
/// (the whole group killed and waited for) when dropped.
struct Launcher {
    child: Child,
    control: Option<ChildStdin>,
    log: PathBuf,
    serial_prefix: String,
    /// `child` is waited for already.
    done: bool,
}

impl Launcher {
    /// Makes the stack's blank card files (keys from its `KeySource`, as the Rust feeder
    /// makes them) and starts the launcher on them.
    fn start(program: &Path, stack: &Stack, addr: &str, log: &Path) -> Result<Launcher, Failure> {
        let mut command = Command::new(program);
        for n in 1..=stack.count {
            let file = stack
                .blank_file(n)
                .map_err(|e| Failure::card(e.to_string()))?;
            command.arg("--card").arg(file);
        }
        let out = fs::File::create(log).map_err(|e| io_failure("create", log, e))?;
        let err = out.try_clone().map_err(|e| io_failure("open", log, e))?;
        command
            .arg("--eject-issued")
            .arg("--vpcd")
            .arg(addr)
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let mut child = command.spawn().map_err(|e| {
            Failure::bad_input(format!(
                "--javacard-launcher {}: cannot run it: {e}",
                program.display()
            ))
        })?;
        let control = child.stdin.take();
        Ok(Launcher {
            child,
            control,
            log: log.to_path_buf(),
            serial_prefix: stack.serial_prefix.clone(),
            done: false,
        })
    }

    /// Whether the card `serial` is one of this launcher's.
    fn holds(&self, serial: &str) -> bool {
        serial.len() == self.serial_prefix.len() + 4
            && serial.starts_with(&self.serial_prefix)
            && serial[self.serial_prefix.len()..]
                .bytes()
                .all(|b| b.is_ascii_digit())
    }

    /// Waits until the launcher's log says its first card is connected to vpcd; fails when it
    /// stops first or `patience` (which covers a first Maven build) runs out.
    fn wait_connected(&mut self, patience: Duration) -> Result<(), Failure> {
        let started = Instant::now();
        loop {
            self.alive()?;
            let text = fs::read_to_string(&self.log).unwrap_or_default();
            if text.contains("connected to vpcd") {
                return Ok(());
            }
            if started.elapsed() > patience {
                return Err(self.stopped(&format!(
                    "did not connect to vpcd within {} s",
                    patience.as_secs()
                )));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Fails when the launcher has stopped, with the last line of its log.
    fn alive(&mut self) -> Result<(), Failure> {
        if self.done {
            return Err(self.stopped("stopped"));
        }
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => {
                self.done = true;
                Err(self.stopped(&format!("stopped ({status})")))
            }
            Err(e) => Err(self.stopped(&format!("cannot be asked ({e})"))),
        }
    }

    fn stopped(&self, how: &str) -> Failure {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        Failure::card(format!(
            "the Java Card launcher {how}: {last} (its log: {})",
            self.log.display()
        ))
    }

    /// Sends one line of the control input (`pull`, `insert`, `tray SERIAL`).
    fn control(&mut self, line: &str) -> Result<(), Failure> {
        self.alive()?;
        let sent = match self.control.as_mut() {
            Some(input) => writeln!(input, "{line}").and_then(|()| input.flush()),
            None => Err(std::io::Error::other("no control input")),
        };
        sent.map_err(|e| self.stopped(&format!("did not take \"{line}\" ({e})")))
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        self.control = None;
        if self.done || matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // The launcher's whole process group: a build it started goes too.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

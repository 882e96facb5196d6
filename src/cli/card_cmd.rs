//! `melli card new`, `melli card serve` and `melli card feed`: the virtual card's factory, its
//! socket, and a feeder of many cards for one reader.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use std::sync::Arc;

use melli::pki::read_master_key;
use melli_card::feeder::{self, KeySource, Stack};
use melli_card::timing::Profile;
use melli_card::{vpcd, Card, Fault};

use crate::cli::issuer_keys;
use crate::cli::Failure;

pub fn new(
    state: &Path,
    serial: &str,
    master_key: Option<&Path>,
    issuer: Option<&Path>,
) -> Result<ExitCode, Failure> {
    let card = match key_source(master_key, issuer)? {
        KeySource::Master(key) => Card::create_file(state, serial, &key),
        KeySource::Derive(derive) => {
            let keys = derive(serial).map_err(Failure::bad_input)?;
            Card::create_file_with_keys(state, serial, &keys)
        }
    }
    .map_err(|e| Failure::bad_input(e.to_string()))?;
    println!(
        "manufactured blank card {} in {}",
        card.serial(),
        state.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Where new cards' keys come from: a factory master-key file, or an issuer's store.
fn key_source(master_key: Option<&Path>, issuer: Option<&Path>) -> Result<KeySource, Failure> {
    match (master_key, issuer) {
        (Some(file), _) => Ok(KeySource::Master(
            read_master_key(file).map_err(|e| Failure::bad_input(e.to_string()))?,
        )),
        (None, Some(dir)) => {
            let issuer = Arc::new(issuer_keys::load_issuer(dir)?);
            Ok(KeySource::Derive(Arc::new(move |serial: &str| {
                issuer_keys::card_keys(&issuer, serial).map_err(|e| e.to_string())
            })))
        }
        (None, None) => Err(Failure::bad_input(
            "give --master-key FILE or --issuer DIR: where the cards' keys come from",
        )),
    }
}

pub fn serve(
    state: &Path,
    vpcd_addr: &str,
    tear_at: Option<u64>,
    apdu_delay_ms: u64,
    timing: &str,
    fault: Option<&str>,
) -> Result<ExitCode, Failure> {
    let timing = timing_profile(timing)?;
    let fault = fault
        .map(str::parse::<Fault>)
        .transpose()
        .map_err(|e| Failure::bad_input(format!("--fault: {e}")))?;
    let mut card = Card::open_file(state).map_err(|e| Failure::bad_input(e.to_string()))?;
    if let Some(fault) = fault {
        card.set_fault(fault);
        eprintln!("card {}: testing fault {fault} on", card.serial());
    }
    let stop = AtomicBool::new(false);
    eprintln!(
        "card {} serving vpcd at {vpcd_addr} (state in {}); stop with Ctrl-C",
        card.serial(),
        state.display()
    );
    let options = vpcd::Options {
        tear_at,
        apdu_delay: Duration::from_millis(apdu_delay_ms),
        timing,
        ..vpcd::Options::default()
    };
    vpcd::serve_with(
        &mut card,
        vpcd_addr,
        &stop,
        |line| eprintln!("card: {line}"),
        options,
    )
    .map_err(|e| Failure::card(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

/// `--timing PROFILE`: a built-in profile's name, or a JSON profile file.
fn timing_profile(name: &str) -> Result<Profile, Failure> {
    if let Some(profile) = Profile::built_in(name) {
        return Ok(profile);
    }
    let names: Vec<&str> = Profile::BUILT_IN.iter().map(|(name, _)| *name).collect();
    let path = Path::new(name);
    if !path.is_file() {
        return Err(Failure::bad_input(format!(
            "--timing {name:?}: neither a built-in profile ({}) nor a profile file",
            names.join(", ")
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::bad_input(format!("--timing {}: {e}", path.display())))?;
    Profile::from_json(&text)
        .map_err(|e| Failure::bad_input(format!("--timing {}: {e}", path.display())))
}

/// `melli card feed`'s arguments.
#[derive(Debug, clap::Args)]
pub struct FeedArgs {
    /// Folder of the cards' state files (created if missing).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// How many cards in the stack.
    #[arg(long, value_name = "N")]
    pub count: u32,
    /// Serial prefix; card n is PREFIX and n in 4 digits (1 to 12 characters, 0-9 A-Z).
    #[arg(long, value_name = "PREFIX", default_value = "MF")]
    pub serial_prefix: String,
    /// A card factory's master key: a file with 32 hex digits, mode 0600.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "issuer",
        conflicts_with = "issuer"
    )]
    pub master_key: Option<PathBuf>,
    /// Or the issuer directory: its master key (in its HSM token or encrypted file)
    /// diversifies each card's keys, and never leaves its store.
    #[arg(long, value_name = "DIR")]
    pub issuer: Option<PathBuf>,
    /// Where vpcd listens (the reader's port; 35963 is vpcd's first reader).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:35963")]
    pub vpcd: String,
    /// Milliseconds the reader stays empty between two cards; pcscd looks at a vpcd reader
    /// every 400 ms, so less may hide a card change from it.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub gap_ms: u64,
    /// Milliseconds each card takes for each command APDU, like a real chip (0: at once).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub apdu_delay_ms: u64,
    /// Give every card of the stack a real contact card's time, as `melli card serve --timing`
    /// does for one: before each answer a card sleeps the link time of the command and response
    /// bytes and the chip's time for what it did (key generation, signature, AES blocks, PIN
    /// check, file writes; docs/card-timing.md). So a batch on these readers runs at the pace of
    /// real cards. PROFILE: `fast` (no delay), `t1-9600`, `t1-115200` or `t1-230400` (T=1 at
    /// that bit rate, JCOP4-class chip figures), or a JSON profile file. Each card logs one line
    /// per APDU: its lengths and modelled time.
    #[arg(long, value_name = "PROFILE", default_value = "fast")]
    pub timing: String,
    /// Testing: pull the first card once, right after its K-th command APDU (the answer
    /// is never sent), then put it back a second later.
    #[arg(long, value_name = "K", hide = true)]
    pub tear_at: Option<u64>,
}

pub fn feed(args: &FeedArgs) -> Result<ExitCode, Failure> {
    let prefix = &args.serial_prefix;
    if prefix.is_empty()
        || prefix.len() > 12
        || !prefix
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return Err(Failure::bad_input(format!(
            "--serial-prefix {prefix:?}: use 1 to 12 characters from 0-9 and A-Z"
        )));
    }
    if args.count == 0 || args.count > 9999 {
        return Err(Failure::bad_input(format!(
            "--count {}: give 1 to 9999 cards",
            args.count
        )));
    }
    let timing = timing_profile(&args.timing)?;
    // Only now, with the arguments good, is the issuer's store opened.
    let keys = key_source(args.master_key.as_deref(), args.issuer.as_deref())?;
    let stack = Stack {
        dir: args.dir.clone(),
        serial_prefix: prefix.clone(),
        count: args.count,
        keys,
    };
    let stop = AtomicBool::new(false);
    eprintln!(
        "feeding {} cards ({}0001 …) to vpcd at {} (state files in {}, timing {}); stop with Ctrl-C",
        args.count,
        prefix,
        args.vpcd,
        args.dir.display(),
        args.timing.escape_debug()
    );
    let options = vpcd::Options {
        tear_at: args.tear_at,
        apdu_delay: Duration::from_millis(args.apdu_delay_ms),
        timing,
        ..vpcd::Options::default()
    };
    feeder::feed(
        &stack,
        &args.vpcd,
        &stop,
        Duration::from_millis(args.gap_ms),
        options,
        |line| eprintln!("feeder: {line}"),
    )
    .map_err(|e| Failure::card(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

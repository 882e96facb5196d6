//! `melli batch import | run | watch | release`: many stations on one queue in PostgreSQL.
//!
//! A supervisor imports the records once (`import`, idempotent by tracking code); every station
//! runs `run --station NAME` on its readers until the queue is empty; `watch` shows every
//! station's progress from the database; `release` hands a record bound to a lost card back
//! to the queue. The journal is named by `--journal` or `MELLI_JOURNAL`, and shown with `***`
//! for its password.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, Subcommand};

use melli::display::{escaped, escaped_cut};
use melli::journal::postgres::{
    ConnectionWatch, JournalUrl, PgJournal, PgTarget, Progress as QueueProgress, StationOptions,
    StationPool, DEFAULT_LEASE, DEFAULT_RECONNECT_FOR,
};
use melli::journal::{Journal, Queue, Released};
use melli::model::JalaliDate;
use melli::ops::batch::{self, Batch, BatchOptions, JournalPlace, MailerDir, PcscReader, Records};

use super::{journal_failure, typed_tracking_code, Progress};
use crate::cli::journal_cmd::{journal_arg, pg_failure};
use crate::cli::{exit, output, Failure};

#[derive(Debug, Subcommand)]
pub enum StationCommand {
    /// Load a records file into the shared queue on PostgreSQL, once.
    ///
    /// Every line is validated first, and nothing is imported if one is invalid. Importing the same file again changes nothing
    /// (failed records are queued again); a tracking code already in the queue with other
    /// content is refused. The birth date is kept only as a keyed hash (the key is derived
    /// from the issuer's master key).
    ///
    /// Example: MELLI_JOURNAL='postgres://melli:PASSWORD@db/melli' melli batch import
    /// records.jsonl --issuer issuer
    Import(ImportArgs),
    /// Work the shared queue at this station until it is empty.
    ///
    /// One worker per reader, until the queue is empty (exit 0) or nothing is left that this station can do (exit 3: records failed or wait for
    /// their card). Each record is claimed with a lease that every step renews; a station
    /// that dies leaves its records to the queue once their lease runs out, except one whose
    /// card was written to: that one waits for its card, at any station, or for `release`.
    /// If the server goes away, the card in hand is finished (kept in the station's --local-log
    /// until the journal has it), no record is claimed, and the station reconnects with
    /// backoff. A card finished while the server was away is journaled when it is back, or
    /// when the station starts again.
    Run(RunArgs),
    /// Show every station's progress from the shared queue.
    ///
    /// Cards per minute, queue left, failures with their reasons. Redrawn every --interval seconds until interrupted, or
    /// printed once with --once.
    Watch(WatchArgs),
    /// Release a record from the card it is bound to (a card known lost or destroyed).
    ///
    /// The record goes back to the queue for another card. Works on a shared queue and on a
    /// SQLite journal alike.
    Release(ReleaseArgs),
}

/// The journal argument of every station command.
#[derive(Debug, Args)]
pub struct JournalArg {
    /// The shared journal: postgres://USER:PASSWORD@HOST[:PORT]/DATABASE or key=value pairs.
    /// Default: the MELLI_JOURNAL environment variable (keeps the password out of `ps`).
    #[arg(long, value_name = "URL")]
    pub journal: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The records: JSON Lines, one enrolment record per line.
    pub records: PathBuf,
    /// The issuer directory (for the key of the birth-date hash).
    #[arg(long, value_name = "DIR")]
    pub issuer: PathBuf,
    #[command(flatten)]
    pub journal: JournalArg,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// This station's name, unique among the stations of the queue: letters, digits, '.',
    /// '_' and '-', at most 64.
    #[arg(long, value_name = "NAME")]
    pub station: String,
    /// The issuer directory.
    #[arg(long, value_name = "DIR")]
    pub issuer: PathBuf,
    #[command(flatten)]
    pub journal: JournalArg,
    /// Readers to use, comma-separated (full names or unambiguous parts); default: all.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub readers: Vec<String>,
    /// Folder for this station's PIN mailers (TRACKING-CODE.txt, mode 0600).
    #[arg(long, value_name = "DIR", default_value = "pin-mailers")]
    pub pin_mailers: PathBuf,
    /// Seconds a claim lasts without a step before other stations may take the record back
    /// (only while its card was not written to: then the record waits for that card).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_LEASE.as_secs_f64())]
    pub lease: f64,
    /// Seconds to keep trying to reach a server that went away before the station stops.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_RECONNECT_FOR.as_secs_f64())]
    pub reconnect_for: f64,
    /// This station's own log of its cards (JSON Lines, mode 0600): a card finished while the
    /// server was away is kept there until the journal has it. Default:
    /// $XDG_STATE_HOME/melli/station-NAME.log (or ~/.local/state/melli/…).
    #[arg(long, value_name = "FILE")]
    pub local_log: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub journal: JournalArg,
    /// Seconds between two looks.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub interval: f64,
    /// Minutes over which cards per minute are counted.
    #[arg(long, value_name = "MINUTES", default_value_t = 5.0)]
    pub window: f64,
    /// Print once and exit.
    #[arg(long)]
    pub once: bool,
    /// Print JSON (one document per look).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The record's tracking code.
    pub tracking_code: String,
    /// Why (kept in the record's history): who decided, and what became of the card.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// The journal: a postgres:// URL, key=value pairs or a SQLite file. Default:
    /// MELLI_JOURNAL.
    #[arg(long, value_name = "URL|FILE.db")]
    pub journal: Option<String>,
}

pub fn station(command: &StationCommand) -> Result<ExitCode, Failure> {
    match command {
        StationCommand::Import(args) => import(args),
        StationCommand::Run(args) => run(args),
        StationCommand::Watch(args) => watch(args),
        StationCommand::Release(args) => release(args),
    }
}

/// The shared journal, or a clear refusal for a SQLite file.
fn shared_journal(arg: &JournalArg, command: &str) -> Result<PgTarget, Failure> {
    match journal_arg(arg.journal.as_deref())? {
        JournalUrl::Postgres(target) => Ok(target),
        JournalUrl::Sqlite(_) => Err(Failure::bad_input(format!(
            "melli batch {command} works on a shared queue (--journal postgres://…); a SQLite \
             journal works from its records file: melli batch RECORDS.jsonl --issuer DIR \
             --journal FILE.db"
        ))),
    }
}

/// Seconds from the command line as a duration, or a clear refusal.
fn seconds(value: f64, option: &str, least: f64) -> Result<Duration, Failure> {
    if !value.is_finite() || value < least {
        return Err(Failure::bad_input(format!(
            "{option} {value}: give a number of seconds, at least {least}"
        )));
    }
    Duration::try_from_secs_f64(value)
        .map_err(|_| Failure::bad_input(format!("{option} {value}: too large")))
}

/// Longest station name.
const MAX_STATION: usize = 64;

fn station_name(name: &str) -> Result<String, Failure> {
    let ok = !name.is_empty()
        && name.len() <= MAX_STATION
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(name.to_owned())
    } else {
        Err(Failure::bad_input(format!(
            "--station {}: give 1 to {MAX_STATION} letters, digits, '.', '_' or '-'",
            escaped_cut(name, 80)
        )))
    }
}

fn load_issuer(dir: &std::path::Path) -> Result<melli::pki::issuer::Issuer, Failure> {
    let issuer = crate::cli::issuer_keys::load_issuer(dir).map_err(|f| Failure {
        message: escaped(&f.message),
        ..f
    })?;
    issuer
        .check_usable(std::time::SystemTime::now())
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    Ok(issuer)
}

#[derive(serde::Serialize)]
struct ImportReport {
    journal: String,
    records: u64,
    #[serde(flatten)]
    enqueued: melli::journal::Enqueued,
}

fn import(args: &ImportArgs) -> Result<ExitCode, Failure> {
    let target = shared_journal(&args.journal, "import")?;
    let issuer = load_issuer(&args.issuer)?;
    let key = crate::cli::issuer_keys::status_key_of(&issuer)?;
    let today =
        JalaliDate::today().map_err(|e| Failure::bad_input(format!("today's date: {e}")))?;
    let loaded = batch::load(&args.records, today)
        .map_err(|e| Failure::bad_input(escaped(&e.to_string())))?;
    for (line, warning) in &loaded.warnings {
        eprintln!("warning: line {line}: {warning}");
    }
    let shown = escaped(&args.records.display().to_string());
    if !loaded.invalid.is_empty() {
        for e in &loaded.invalid {
            eprintln!("melli: {e}");
        }
        return Err(Failure::bad_input(format!(
            "{} of {} records in {shown} are invalid: nothing was imported; fix them and \
             import again",
            loaded.invalid_lines(),
            loaded.invalid_lines() + loaded.records.len(),
        )));
    }
    if loaded.records.is_empty() {
        return Err(Failure::bad_input(format!(
            "{shown} holds no record: nothing to import"
        )));
    }
    let mut journal = PgJournal::open(&target).map_err(pg_failure)?;
    let records: Vec<_> = loaded.records.iter().map(|r| &r.record).collect();
    let enqueued = journal.import(&records, &key, "import").map_err(|e| {
        if let melli::journal::JournalError::Conflicts(conflicts) = &e {
            let first = conflicts.first().map_or("", |c| c.tracking_code.as_str());
            let line = loaded.records.get(first).map_or(0, |r| r.line);
            let others = match conflicts.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            return Failure::bad_input(format!(
                "{shown}: line {line}: tracking code {} is in the queue with other \
                 content{others}: nothing was imported — give each record its own tracking \
                 code, or fix the file",
                escaped(first)
            ));
        }
        journal_failure(e)
    })?;
    let report = ImportReport {
        journal: target.to_string(),
        records: u64::try_from(records.len()).unwrap_or(u64::MAX),
        enqueued,
    };
    if args.json {
        output::json(&report)?;
    } else {
        println!(
            "{shown} into {}: {} new, {} queued again, {} already queued or under way, {} \
             already done",
            report.journal, enqueued.new, enqueued.again, enqueued.unfinished, enqueued.done
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Tells the operator, once per outage, that the station lost the server and got it back.
struct StderrWatch {
    station: String,
    down: Mutex<bool>,
}

impl StderrWatch {
    /// Whether the server is known away.
    fn down(&self) -> std::sync::MutexGuard<'_, bool> {
        self.down
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ConnectionWatch for StderrWatch {
    fn lost(&self, error: &str) {
        let mut down = self.down();
        if !*down {
            *down = true;
            eprintln!(
                "melli: station {}: lost the journal server ({error}); no record is taken; \
                 reconnecting",
                self.station
            );
        }
    }

    fn finishing(&self, tracking_code: &str, serial: &str, error: &str) {
        let mut down = self.down();
        *down = true;
        eprintln!(
            "melli: station {}: lost the journal server ({error}); finishing card {serial} for \
             record {tracking_code} in the station's local log; no record is taken; reconnecting",
            self.station
        );
    }

    fn back(&self, seconds: f64) {
        let mut down = self.down();
        if *down {
            *down = false;
            eprintln!(
                "melli: station {}: the journal server is back after {seconds:.1} s; going on",
                self.station
            );
        }
    }
}

fn run(args: &RunArgs) -> Result<ExitCode, Failure> {
    let target = shared_journal(&args.journal, "run")?;
    let station = station_name(&args.station)?;
    let lease = seconds(args.lease, "--lease", 1.0)?;
    let reconnect_for = seconds(args.reconnect_for, "--reconnect-for", 0.0)?;
    let issuer = load_issuer(&args.issuer)?;
    let local_log = match &args.local_log {
        Some(path) => path.clone(),
        None => default_local_log(&station)?,
    };
    let options = StationOptions {
        station: station.clone(),
        lease,
        reconnect_for,
        watch: Some(Arc::new(StderrWatch {
            station: station.clone(),
            down: Mutex::new(false),
        })),
        local_log: Some(local_log),
    };
    // The server, the schema and the station's name, checked before any reader is touched.
    let pool = StationPool::open(&target, &options).map_err(journal_failure)?;
    // Cards this station locked while the server was away, journaled before anything else.
    let reconciled = pool.reconcile().map_err(journal_failure)?;
    for done in &reconciled.journaled {
        eprintln!(
            "melli: station {station}: record {} on card {}, locked while the journal server \
             was away, is journaled done now (from the station's local log)",
            done.tracking_code, done.serial
        );
    }
    for conflict in &reconciled.conflicts {
        eprintln!(
            "melli: station {station}: WARNING: card {serial} was locked with record {code} \
             while the journal server was away, but the record was released meanwhile: revoke \
             card {serial} (the journal has this as an event)",
            serial = conflict.serial,
            code = conflict.tracking_code
        );
    }
    let counts = pool.queue().counts().map_err(journal_failure)?;
    let readers = if args.readers.is_empty() {
        PcscReader::all()?
    } else {
        PcscReader::named(&args.readers)?
    };
    let mailers =
        MailerDir::new(&args.pin_mailers).map_err(|e| Failure::bad_input(e.to_string()))?;
    let progress = Progress::new(counts.total(), std::io::stderr().is_terminal());
    let records = Records::default();
    let batch = Batch {
        journal: JournalPlace::Shared(&pool),
        records: &records,
        issuer: &issuer,
        secrets: &mailers,
        observer: &progress,
        options: BatchOptions {
            release_after: lease,
            ..BatchOptions::default()
        },
    };
    let report = batch.run(readers).map_err(|e| {
        progress.finish();
        super::batch_failure(e)
    })?;
    progress.finish();
    if args.json {
        output::json(&report)?;
    } else {
        super::print_summary(
            &PathBuf::from(format!("station {station} on {target}")),
            &report,
            mailers.dir(),
        );
    }
    Ok(if report.counts.left() == 0 && report.counts.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::CARD_ERROR)
    })
}

/// Where a station keeps its local log unless told: the XDG state folder.
fn default_local_log(station: &str) -> Result<PathBuf, Failure> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|home| home.join(".local/state"))
        })
        .ok_or_else(|| {
            Failure::bad_input(
                "no folder for the station's local log (neither XDG_STATE_HOME nor HOME is \
                 set): give --local-log FILE",
            )
        })?;
    Ok(state.join("melli").join(format!("station-{station}.log")))
}

fn watch(args: &WatchArgs) -> Result<ExitCode, Failure> {
    let target = shared_journal(&args.journal, "watch")?;
    let interval = seconds(args.interval, "--interval", 0.1)?;
    let window = seconds(args.window * 60.0, "--window", 1.0)?;
    let mut journal = PgJournal::open(&target).map_err(pg_failure)?;
    let terminal = std::io::stdout().is_terminal() && !args.json && !args.once;
    loop {
        let progress = journal.progress(window, 10).map_err(journal_failure)?;
        let mut out = std::io::stdout().lock();
        let text = if args.json {
            serde_json::to_string(&shown(progress))
                .map_err(|e| Failure::card(format!("could not format JSON: {e}")))?
        } else {
            render(&target, &shown(progress))
        };
        if terminal {
            // Home and clear, then the new picture.
            write!(out, "\x1b[H\x1b[2J").ok();
        }
        writeln!(out, "{text}").map_err(|e| Failure::card(format!("writing: {e}")))?;
        out.flush().ok();
        if args.once {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(interval);
    }
}

/// What came from the database, made safe for a terminal.
fn shown(mut p: QueueProgress) -> QueueProgress {
    for s in &mut p.stations {
        s.station = escaped_cut(&s.station, 64);
    }
    for f in &mut p.failures {
        f.tracking_code = escaped_cut(&f.tracking_code, 64);
        f.reason = f.reason.as_deref().map(|r| escaped_cut(r, 300));
    }
    p
}

fn render(target: &PgTarget, p: &QueueProgress) -> String {
    let c = p.counts;
    let mut text = format!(
        "queue {target}: {} records — {} queued, {} being made, {} done, {} failed; {} bound \
         to a card no station holds\n",
        c.total(),
        c.queued,
        c.personalizing,
        c.done,
        c.failed,
        p.waiting_for_cards
    );
    text.push_str(&format!(
        "{:<24} {:>10} {:>6} {:>8} {:>10}\n",
        "station",
        format!("cards/min"),
        "made",
        "working",
        "seen"
    ));
    for s in &p.stations {
        text.push_str(&format!(
            "{:<24} {:>10.1} {:>6} {:>8} {:>8.0} s\n",
            s.station, s.cards_per_minute, s.made, s.working, s.seen_seconds_ago
        ));
    }
    text.push_str(&format!(
        "(cards/min over the last {:.0} min)\n",
        p.window_seconds / 60.0
    ));
    if !p.failures.is_empty() {
        text.push_str("failures, latest first:\n");
        for f in &p.failures {
            text.push_str(&format!(
                "  {}: {}\n",
                f.tracking_code,
                f.reason.as_deref().unwrap_or("no reason kept")
            ));
        }
    }
    text.trim_end().to_owned()
}

/// Longest reason kept.
const MAX_REASON: usize = 200;

fn release(args: &ReleaseArgs) -> Result<ExitCode, Failure> {
    let url = journal_arg(args.journal.as_deref())?;
    let typed = typed_tracking_code(&args.tracking_code).map_err(|e| {
        Failure::bad_input(format!(
            "{}: {e} — {}",
            escaped_cut(&args.tracking_code, 80),
            e.hint()
        ))
    })?;
    let reason = args.reason.trim();
    if reason.is_empty() || reason.len() > MAX_REASON || reason.chars().any(char::is_control) {
        return Err(Failure::bad_input(format!(
            "--reason: give one line of at most {MAX_REASON} bytes saying who decided and why"
        )));
    }
    let why = format!("by a supervisor (melli batch release): {reason}");
    let released: Released = match &url {
        JournalUrl::Postgres(target) => {
            let mut journal = PgJournal::open(target).map_err(pg_failure)?;
            let stored = journal
                .by_tracking_code(&typed)
                .map_err(journal_failure)?
                .map_or_else(|| typed.to_string(), |row| row.tracking_code);
            journal.release(&stored, &why).map_err(journal_failure)?
        }
        JournalUrl::Sqlite(path) => {
            if !path.exists() {
                return Err(journal_failure(melli::journal::JournalError::Missing(
                    path.clone(),
                )));
            }
            let mut journal = Journal::open(path).map_err(journal_failure)?;
            let stored = journal
                .by_tracking_code(&typed)
                .map_err(journal_failure)?
                .map_or_else(|| typed.to_string(), |row| row.tracking_code);
            journal.release(&stored, &why).map_err(journal_failure)?
        }
    };
    println!(
        "record {} released from card {}; it goes to the next blank card",
        escaped(&released.tracking_code),
        escaped(&released.card_serial)
    );
    if released.step.as_deref() == Some(melli::journal::LOCK_STEP) {
        eprintln!(
            "warning: card {} had begun locking: if it turns up, it may be a finished card for \
             {}; destroy it",
            escaped(&released.card_serial),
            escaped(&released.tracking_code)
        );
    }
    Ok(ExitCode::SUCCESS)
}

//! `melli batch` (the issuance line) and `melli status` (where is my card).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use melli::display::{escaped, escaped_cut};
use melli::journal::postgres::{JournalUrl, PgJournal};
use melli::journal::{Counts, Journal, JournalError, Outcome};
use melli::model::{JalaliDate, NationalCode, TrackingCode};
use melli::ops::batch::status::{self, Query};
use melli::ops::batch::{
    self, Batch, BatchError, BatchOptions, BatchReport, Event, EventKind, Flow, Loaded, MailerDir,
    Observer, PcscReader,
};
use melli::pki::status_key::StatusKey;

use crate::cli::{exit, output, Failure};

mod station;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BatchArgs {
    /// The shared queue on PostgreSQL, for many stations.
    #[command(subcommand)]
    pub command: Option<station::StationCommand>,
    /// The records: JSON Lines, one enrolment record per line (photo and fingerprint paths
    /// relative to this file's folder).
    #[arg(required = true)]
    pub records: Option<PathBuf>,
    /// The issuer directory.
    #[arg(long, value_name = "DIR", required = true)]
    pub issuer: Option<PathBuf>,
    /// The journal (SQLite); created if missing. Run the same command with the same journal
    /// to finish an interrupted batch.
    #[arg(long, value_name = "FILE.db", required = true)]
    pub journal: Option<PathBuf>,
    /// Readers to use, comma-separated (full names or unambiguous parts); default: all.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub readers: Vec<String>,
    /// Folder for the PIN mailers, one per record (TRACKING-CODE.txt, mode 0600); default:
    /// pin-mailers beside the journal.
    #[arg(long, value_name = "DIR")]
    pub pin_mailers: Option<PathBuf>,
    /// Journal invalid records as failed (with the reason) and make the valid ones, instead of
    /// refusing the whole file.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Release this record from the card it is bound to before the run (repeatable): only for
    /// a card known lost or destroyed; the record is made again on another card.
    #[arg(long, value_name = "CODE")]
    pub release: Vec<String>,
    /// Minutes (decimals allowed) a record bound to a card waits for that card to come back
    /// before it goes to another card; never once the card had begun locking: then the run
    /// stops waiting after this time and reports the record as waiting for its card.
    #[arg(long, value_name = "MINUTES", default_value_t = 10.0)]
    pub release_after: f64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The journal of the batches: a SQLite file, or the shared journal (postgres://…).
    /// Default: the MELLI_JOURNAL environment variable.
    #[arg(long, value_name = "FILE.db|URL")]
    pub journal: Option<String>,
    /// The issuer directory: a journal keeps no birth date, only the issuer's keyed hash of
    /// the person, so a look-up by national code and birth date needs it.
    #[arg(long, value_name = "DIR")]
    pub issuer: Option<PathBuf>,
    /// The tracking code on the enrolment receipt.
    #[arg(
        long,
        value_name = "CODE",
        required_unless_present_any = ["national_code", "birth_date"],
        conflicts_with_all = ["national_code", "birth_date"]
    )]
    pub tracking_code: Option<String>,
    /// The national code (with --birth-date).
    #[arg(long, value_name = "N", requires = "birth_date")]
    pub national_code: Option<String>,
    /// The birth date, Solar Hijri (with --national-code).
    #[arg(long, value_name = "YYYY/MM/DD", requires = "national_code")]
    pub birth_date: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn journal_failure(e: JournalError) -> Failure {
    let text = journal_message(&e);
    match e {
        JournalError::Open { .. }
        | JournalError::Missing(_)
        | JournalError::NotAFile { .. }
        | JournalError::Read { .. }
        | JournalError::Foreign(_)
        | JournalError::TooNew { .. }
        | JournalError::Unknown(_)
        | JournalError::NotBound { .. }
        | JournalError::Conflicts(_)
        | JournalError::LocalLog(_) => Failure::bad_input(text),
        JournalError::Server(e) => crate::cli::journal_cmd::pg_failure(e),
        _ => Failure::card(text),
    }
}

/// A journal error in one line, escaped for the terminal, with the next step the command line
/// knows.
pub fn journal_message(e: &JournalError) -> String {
    let step = match e {
        JournalError::NotAFile { .. } => "; give --journal the journal file of the batches",
        _ => "",
    };
    format!("{}{step}", escaped(&e.to_string()))
}

pub fn status(args: &StatusArgs) -> Result<ExitCode, Failure> {
    // A journal keeps no birth date, only the issuer's keyed hash of the person: a look-up
    // by person needs the issuer's status key.
    let key = match (&args.national_code, &args.issuer) {
        (None, _) | (Some(_), None) => None,
        (Some(_), Some(dir)) => Some(crate::cli::issuer_keys::status_key(dir)?),
    };
    let mut out = std::io::stdout().lock();
    status_to(args, key.as_ref(), &mut out)
}

/// `melli status`, writing to `out`, `key` the issuer's status key (needed by a look-up by
/// person): the answer for an unknown person and for a known one with a wrong birth date are
/// the same bytes and the same exit code (1).
pub fn status_to(
    args: &StatusArgs,
    key: Option<&StatusKey>,
    out: &mut dyn Write,
) -> Result<ExitCode, Failure> {
    let bad = |e: &dyn std::fmt::Display, what: &str| Failure::bad_input(format!("{what}: {e}"));
    let query = match (&args.tracking_code, &args.national_code, &args.birth_date) {
        (Some(code), _, _) => {
            Query::TrackingCode(typed_tracking_code(code).map_err(|e| bad(&e, "--tracking-code"))?)
        }
        (None, Some(n), Some(d)) => Query::Person {
            national_code: NationalCode::parse(n).map_err(|e| bad(&e, "--national-code"))?,
            birth_date: JalaliDate::parse(d).map_err(|e| bad(&e, "--birth-date"))?,
        },
        _ => {
            return Err(Failure::bad_input(
                "give --tracking-code, or --national-code with --birth-date",
            ))
        }
    };
    // A look-up by tracking code uses no key.
    let unused = StatusKey::from_bytes([0; 32]);
    let key = match (&query, key) {
        (Query::Person { .. }, None) => {
            return Err(Failure::bad_input(
                "the journal keeps no birth date, only the issuer's keyed hash of the person: \
                 give --issuer DIR to look a person up, or look up by --tracking-code",
            ))
        }
        (_, Some(key)) => key,
        (Query::TrackingCode(_), None) => &unused,
    };
    let answer = match crate::cli::journal_cmd::journal_arg(args.journal.as_deref())? {
        JournalUrl::Sqlite(path) => {
            let journal = Journal::open_existing(&path).map_err(journal_failure)?;
            status::lookup(&journal, &query, key).map_err(journal_failure)?
        }
        JournalUrl::Postgres(target) => {
            let mut journal =
                PgJournal::open(&target).map_err(crate::cli::journal_cmd::pg_failure)?;
            status::lookup_shared(&mut journal, &query, key).map_err(journal_failure)?
        }
    };
    let answer = shown_answer(answer);
    let text = if args.json {
        serde_json::to_string_pretty(&answer)
            .map_err(|e| Failure::card(format!("could not format JSON: {e}")))?
    } else {
        answer.message.clone()
    };
    writeln!(out, "{text}").map_err(|e| Failure::card(format!("writing the answer: {e}")))?;
    Ok(if answer.found {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::CHECK_FAILED)
    })
}

/// Longest journal text (a failure's reason) shown whole.
const MAX_REASON_BYTES: usize = 500;

/// The answer with what came from the journal (a reason, a card serial) made safe for a
/// terminal, in text and JSON alike.
fn shown_answer(mut answer: status::StatusAnswer) -> status::StatusAnswer {
    answer.message = escaped_cut(&answer.message, MAX_REASON_BYTES + 200);
    answer.reason = answer.reason.map(|r| escaped_cut(&r, MAX_REASON_BYTES));
    answer.card_serial = answer.card_serial.map(|s| escaped_cut(&s, 64));
    answer.replaced_by = answer.replaced_by.map(|s| escaped_cut(&s, 64));
    answer
}

/// A tracking code as people type it: spaces and dashes between its groups are dropped
/// (receipts print it in groups), Persian digits read as ASCII; the case is matched by the
/// journal lookup.
fn typed_tracking_code(text: &str) -> Result<TrackingCode, melli::model::TrackingCodeError> {
    let kept: String = text
        .chars()
        .filter(|&c| {
            !(c.is_whitespace()
                || c == '-'
                || ('\u{2010}'..='\u{2015}').contains(&c)
                || c == '\u{2212}')
        })
        .collect();
    TrackingCode::parse(&kept)
}

pub fn batch(args: &BatchArgs) -> Result<ExitCode, Failure> {
    if let Some(command) = &args.command {
        return station::station(command);
    }
    // clap requires these without a subcommand.
    let given = |p: &Option<PathBuf>, what: &str| {
        p.clone()
            .ok_or_else(|| Failure::bad_input(format!("give {what}")))
    };
    let records = given(&args.records, "the records file")?;
    let issuer_dir = given(&args.issuer, "--issuer DIR")?;
    let journal_path = given(&args.journal, "--journal FILE.db")?;
    // Everything is checked before any card or the journal is touched.
    let release_after = Duration::try_from_secs_f64(args.release_after * 60.0).map_err(|_| {
        Failure::bad_input(format!(
            "--release-after {}: give a number of minutes, 0 or more",
            args.release_after
        ))
    })?;
    let issuer = crate::cli::issuer_keys::load_issuer(&issuer_dir).map_err(|f| Failure {
        message: escaped(&f.message),
        ..f
    })?;
    issuer
        .check_usable(std::time::SystemTime::now())
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    let today =
        JalaliDate::today().map_err(|e| Failure::bad_input(format!("today's date: {e}")))?;
    let loaded =
        batch::load(&records, today).map_err(|e| Failure::bad_input(escaped(&e.to_string())))?;
    for (line, warning) in &loaded.warnings {
        eprintln!("warning: line {line}: {warning}");
    }
    let status_key = crate::cli::issuer_keys::status_key_of(&issuer)?;
    check_against_journal(&journal_path, &loaded, &status_key)?;
    if !loaded.invalid.is_empty() && !args.skip_invalid {
        for e in &loaded.invalid {
            eprintln!("melli: {e}");
        }
        return Err(Failure::bad_input(format!(
            "{} of {} records in {} are invalid: no card was touched; fix them, or run with \
             --skip-invalid to journal them as failed and make the others",
            loaded.invalid_lines(),
            loaded.invalid_lines() + loaded.records.len(),
            escaped(&records.display().to_string())
        )));
    }

    let mut journal = Journal::open(&journal_path).map_err(journal_failure)?;
    for code in &args.release {
        let typed = typed_tracking_code(code).map_err(|e| {
            Failure::bad_input(format!("--release {}: {e} — {}", escaped(code), e.hint()))
        })?;
        // As written in the journal, when it differs from what was typed in case only.
        let stored = journal
            .by_tracking_code(&typed)
            .map_err(journal_failure)?
            .map_or_else(|| typed.to_string(), |row| row.tracking_code);
        let released = journal
            .release(&stored, "by the operator (--release)")
            .map_err(journal_failure)?;
        eprintln!(
            "record {} released from card {}; it goes to the next blank card",
            escaped(&released.tracking_code),
            escaped(&released.card_serial)
        );
        if released.step.as_deref() == Some("lock") {
            eprintln!(
                "warning: card {} had begun locking: if it turns up, it may be a finished card \
                 for {}; destroy it",
                escaped(&released.card_serial),
                escaped(&released.tracking_code)
            );
        }
    }
    if args.skip_invalid {
        journal_invalid(&mut journal, &loaded, &status_key)?;
    }
    drop(journal);
    if loaded.records.is_empty() {
        return Err(Failure::bad_input(format!(
            "{} holds no valid record: nothing to make",
            escaped(&records.display().to_string())
        )));
    }

    let readers = if args.readers.is_empty() {
        PcscReader::all()?
    } else {
        PcscReader::named(&args.readers)?
    };
    let mailer_dir = args
        .pin_mailers
        .clone()
        .unwrap_or_else(|| melli::model::enrolment::base_dir_of(&journal_path).join("pin-mailers"));
    let mailers = MailerDir::new(&mailer_dir).map_err(|e| Failure::bad_input(e.to_string()))?;
    let progress = Progress::new(
        u64::try_from(loaded.records.len()).unwrap_or(u64::MAX),
        std::io::stderr().is_terminal(),
    );
    let batch = Batch {
        journal: journal_path.as_path().into(),
        records: &loaded.records,
        issuer: &issuer,
        secrets: &mailers,
        observer: &progress,
        options: BatchOptions {
            release_after,
            ..BatchOptions::default()
        },
    };
    let report = batch.run(readers).map_err(|e| {
        progress.finish();
        batch_failure(e)
    })?;
    progress.finish();
    if args.json {
        output::json(&report)?;
    } else {
        print_summary(&records, &report, mailers.dir());
    }
    Ok(if report.complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::CARD_ERROR)
    })
}

/// Why a batch (or a station) stopped, as the command line tells it.
fn batch_failure(e: BatchError) -> Failure {
    match e {
        BatchError::Mailer(_) => Failure::bad_input(escaped(&e.to_string())),
        BatchError::NoReaders => Failure::bad_input(format!(
            "{}: name one with --readers, or connect one",
            escaped(&e.to_string())
        )),
        BatchError::Journal(j) => journal_failure(j),
        other => Failure::card(escaped(&other.to_string())),
    }
}

/// Tracking codes the journal holds for someone else: reported with their lines, before
/// anything is written.
fn check_against_journal(path: &Path, loaded: &Loaded, key: &StatusKey) -> Result<(), Failure> {
    if !path.exists() {
        return Ok(());
    }
    let journal = Journal::open_existing(path).map_err(journal_failure)?;
    let conflicts = journal
        .conflicts(&loaded.records.keys(), key)
        .map_err(journal_failure)?;
    if conflicts.is_empty() {
        return Ok(());
    }
    for c in &conflicts {
        let line = loaded.records.get(&c.tracking_code).map_or(0, |r| r.line);
        eprintln!("melli: line {line}: {c}");
    }
    Err(Failure::bad_input(format!(
        "{} record(s) conflict with the journal {}: no card was touched",
        conflicts.len(),
        escaped(&path.display().to_string())
    )))
}

/// `--skip-invalid`: each invalid line with a usable key is journaled as failed.
fn journal_invalid(
    journal: &mut Journal,
    loaded: &Loaded,
    status_key: &StatusKey,
) -> Result<(), Failure> {
    let mut lines: Vec<usize> = loaded.invalid.iter().map(|e| e.line).collect();
    lines.dedup();
    for line in lines {
        let errors: Vec<&batch::LineError> =
            loaded.invalid.iter().filter(|e| e.line == line).collect();
        for e in &errors {
            eprintln!("melli: {e}");
        }
        let reasons: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.error.field, e.error.message))
            .collect();
        let reason = format!("invalid enrolment record: {}", reasons.join("; "));
        match errors.first().and_then(|e| e.key.as_ref()) {
            Some(key) => {
                if journal
                    .fail_invalid(key, &reason, status_key)
                    .map_err(journal_failure)?
                {
                    eprintln!(
                        "line {line}: record {} journaled as failed",
                        key.tracking_code
                    );
                } else {
                    eprintln!(
                        "line {line}: record {} is already queued, being made or done: left as it is",
                        key.tracking_code
                    );
                }
            }
            None => eprintln!(
                "line {line}: not journaled: its tracking code, national code or birth date is \
                 not valid (or the tracking code is on another line)"
            ),
        }
    }
    Ok(())
}

fn print_summary(records: &Path, report: &BatchReport, mailers: &Path) {
    let c = report.counts;
    println!(
        "{}: {} records — {} done ({} in this run), {} failed, {} left",
        escaped(&records.display().to_string()),
        report.records,
        c.done,
        report.made,
        c.failed,
        c.left()
    );
    println!(
        "{} card(s) in {}: {:.1} cards/min on {} reader(s); PIN mailers in {}",
        report.made,
        minutes_seconds(report.seconds),
        report.cards_per_minute,
        report.readers.len(),
        escaped(&mailers.display().to_string())
    );
    for w in &report.waiting {
        println!(
            "record {} waits for card {} (step {}): put the card back and run again, or, if it \
             is destroyed, run again with --release {}",
            w.tracking_code,
            w.card_serial,
            w.step.as_deref().unwrap_or("none"),
            w.tracking_code
        );
    }
    if c.failed > 0 {
        println!(
            "{} record(s) failed: see `melli status --journal … --tracking-code CODE`; the next \
             run queues them again",
            c.failed
        );
    }
}

fn minutes_seconds(seconds: f64) -> String {
    let whole = Duration::from_secs_f64(seconds.max(0.0)).as_secs();
    if whole >= 60 {
        format!("{}m {:02}s", whole / 60, whole % 60)
    } else {
        format!("{seconds:.1} s")
    }
}

/// The progress bar: elapsed, bar, done+failed of total, then the tally.
const BAR_TEMPLATE: &str = "{elapsed_precise} [{wide_bar}] {pos}/{len} {msg}";

/// The batch's progress on stderr: a bar on a terminal, plain lines otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    state: Mutex<ProgressState>,
}

struct ProgressState {
    total: u64,
    counts: Counts,
    made: u64,
    started: Instant,
}

impl Progress {
    fn new(total: u64, terminal: bool) -> Progress {
        let bar = terminal.then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(BAR_TEMPLATE) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.enable_steady_tick(Duration::from_millis(500));
            bar
        });
        Progress {
            bar,
            state: Mutex::new(ProgressState {
                total,
                counts: Counts::default(),
                made: 0,
                started: Instant::now(),
            }),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    /// "done D, failed F, left L, R cards/min, ETA …"
    fn tally(state: &ProgressState) -> String {
        let rate = batch::per_minute(state.made, state.started.elapsed().as_secs_f64());
        let left = state
            .total
            .saturating_sub(state.counts.done + state.counts.failed);
        let eta = if rate > 0.0 && left > 0 {
            // Whole cards: exact in f64.
            #[allow(clippy::cast_precision_loss)]
            let minutes = left as f64 / rate;
            format!(", ETA {}", minutes_seconds(minutes * 60.0))
        } else {
            String::new()
        };
        format!(
            "done {}, failed {}, left {left}, {rate:.1} cards/min{eta}",
            state.counts.done, state.counts.failed
        )
    }

    fn update(&self, counts: Option<Counts>, made: bool) -> String {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(counts) = counts {
            state.counts = counts;
        }
        if made {
            state.made += 1;
        }
        let tally = Self::tally(&state);
        if let Some(bar) = &self.bar {
            bar.set_position(state.counts.done + state.counts.failed);
            bar.set_message(tally.clone());
        }
        tally
    }
}

impl Observer for Progress {
    fn event(&self, event: &Event) -> Flow {
        // Reader names (from pcscd), card serials, reasons and errors are from outside.
        let at = &escaped(&event.reader);
        match &event.kind {
            EventKind::Started { enqueued, counts } => {
                let tally = self.update(Some(*counts), false);
                self.line(format!(
                    "batch: {} new, {} queued again, {} unfinished from before, {} done before; {tally}",
                    enqueued.new, enqueued.again, enqueued.unfinished, enqueued.done
                ));
            }
            EventKind::Waiting => self.line(format!("[{at}] waiting for a blank card")),
            EventKind::ReaderTrouble { error } => {
                self.line(format!(
                    "[{at}] reader trouble, trying again: {}",
                    escaped(&error.to_string())
                ));
            }
            EventKind::ReaderGone { error } => self.line(format!(
                "[{at}] reader gone: {}",
                escaped(&error.to_string())
            )),
            EventKind::CardSkipped {
                serial,
                why,
                release,
            } => self.line(format!(
                "[{at}] {} skipped: {}{}",
                serial
                    .as_ref()
                    .map_or_else(|| "a card".to_owned(), |s| format!("card {}", escaped(s))),
                escaped(&why.to_string()),
                release
                    .as_ref()
                    .map(|r| format!(" (--release {})", escaped(r)))
                    .unwrap_or_default()
            )),
            EventKind::CardIdle { serial } => self.line(format!(
                "[{at}] card {serial}: no record is free for it now (the rest wait for their own cards)"
            )),
            EventKind::Claimed {
                serial,
                tracking_code,
                resumed,
            } => {
                let what = if *resumed { "resuming" } else { "making" };
                if let Some(bar) = &self.bar {
                    bar.set_message(format!("[{at}] {what} {tracking_code} on card {serial}"));
                } else {
                    self.line(format!(
                        "[{at}] card {serial}: {what} record {tracking_code}"
                    ));
                }
            }
            EventKind::Step { .. } | EventKind::Locked { .. } => {}
            EventKind::Done {
                serial,
                tracking_code,
                seconds,
                recovered,
                counts,
            } => {
                let tally = self.update(Some(*counts), true);
                let how = if *recovered {
                    "found locked: done".to_owned()
                } else {
                    format!("done in {seconds:.2} s")
                };
                if self.bar.is_none() {
                    self.line(format!(
                        "[{at}] card {serial}: record {tracking_code} {how} ({tally})"
                    ));
                }
            }
            EventKind::Replaced {
                serial,
                tracking_code,
                replaced,
                failed,
            } => {
                for old in replaced {
                    self.line(format!(
                        "[{at}] card {serial}: record {tracking_code} replaces card {old}, whose certificates are now revoked (superseded)"
                    ));
                }
                if let Some(why) = failed {
                    self.line(format!(
                        "[{at}] card {serial}: warning: the holder's earlier cards could not be revoked: {} — revoke them with melli issuer revoke --national-code",
                        escaped(why)
                    ));
                }
            }
            EventKind::Setback {
                serial,
                tracking_code,
                outcome,
                reason,
                counts,
            } => {
                self.update(Some(*counts), false);
                let what = match outcome {
                    Outcome::Queued => "back in the queue",
                    Outcome::Held => "waits for this card, which may be locked already",
                    Outcome::Failed => "failed",
                };
                self.line(format!(
                    "[{at}] card {serial}: record {tracking_code} {what}: {}",
                    escaped(&reason.to_string())
                ));
            }
            EventKind::Released { released } => self.line(format!(
                "record {} released from card {}, which did not come back and never began locking",
                released.tracking_code, released.card_serial
            )),
            EventKind::TakeOut { serial } => self.line(format!(
                "[{at}] take {} out",
                serial
                    .as_ref()
                    .map_or_else(|| "the card".to_owned(), |s| format!("card {s}"))
            )),
            EventKind::Finished => self.line(format!("[{at}] finished")),
        }
        Flow::Go
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

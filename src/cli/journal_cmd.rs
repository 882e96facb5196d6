//! `melli journal migrate`: creates or upgrades a journal's schema, SQLite or PostgreSQL.
//!
//! The journal is named by `--journal` or, when it is not given, by `MELLI_JOURNAL`: a
//! connection string may hold a password, and an environment variable keeps it out of the
//! shell's history and of `ps`. It is read by hand rather than by clap's `env`, which would
//! show its value — the password — in `--help`. Nothing here prints the password: the journal
//! is shown by `JournalUrl`'s Display (`***` for it), and errors are built from redacted parts.

use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use melli::display::escaped;
use melli::journal::postgres::{JournalUrl, PgError, PgJournal};
use melli::journal::Journal;

use crate::cli::{batch_cmd, Failure};

/// The environment variable that names the journal when `--journal` is not given.
pub const JOURNAL_ENV: &str = "MELLI_JOURNAL";

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Create the journal's schema, or bring it up to this melli's version; prints the version
    /// before and after. Safe to run from several stations at once, and again: a current
    /// journal is left as it is. A journal of a newer schema is refused (use a newer melli).
    ///
    /// Example, the password kept off the command line (and out of `ps`):
    /// MELLI_JOURNAL='postgres://melli:PASSWORD@db.example/melli' melli journal migrate
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The journal: a SQLite file, or a PostgreSQL database as
    /// postgres://USER:PASSWORD@HOST[:PORT]/DATABASE or key=value pairs (host=/socket/dir
    /// user=… dbname=…). Default: the MELLI_JOURNAL environment variable.
    #[arg(long, value_name = "URL|FILE.db")]
    pub journal: Option<String>,
    /// The issuer directory: a SQLite journal of an older melli keeps birth dates in clear,
    /// and with the issuer they are replaced by its keyed hash of the person (what the journal
    /// keeps now). Not needed otherwise.
    #[arg(long, value_name = "DIR")]
    pub issuer: Option<std::path::PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The journal `--journal` or `MELLI_JOURNAL` names.
pub fn journal_arg(given: Option<&str>) -> Result<JournalUrl, Failure> {
    let (text, source) = match given {
        Some(text) => (text.to_string(), "--journal"),
        None => match std::env::var(JOURNAL_ENV) {
            Ok(text) if !text.trim().is_empty() => (text, JOURNAL_ENV),
            Ok(_) | Err(std::env::VarError::NotPresent) => {
                return Err(Failure::bad_input(format!(
                    "no journal: give --journal URL or FILE.db, or set {JOURNAL_ENV}"
                )))
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Failure::bad_input(format!(
                    "{JOURNAL_ENV} is not UTF-8: give the journal in UTF-8"
                )))
            }
        },
    };
    JournalUrl::parse(&text).map_err(|e| Failure::bad_input(format!("{source}: {e}")))
}

/// A PostgreSQL journal's failure: a server that does not answer or refuses is like a reader
/// that fails (3); a journal melli cannot use is bad input (2).
pub fn pg_failure(e: PgError) -> Failure {
    let text = e.to_string();
    match e {
        PgError::Unreachable { .. }
        | PgError::Refused { .. }
        | PgError::Sql { .. }
        | PgError::Tls { .. } => Failure::card(text),
        PgError::TooNew { .. }
        | PgError::NotMigrated { .. }
        | PgError::Foreign { .. }
        | PgError::TlsSetup { .. } => Failure::bad_input(text),
    }
}

pub fn journal(command: &JournalCommand) -> Result<ExitCode, Failure> {
    match command {
        JournalCommand::Migrate(args) => migrate(args),
    }
}

#[derive(serde::Serialize)]
struct Report {
    journal: String,
    engine: &'static str,
    /// The schema version before (null: there was no journal, or no schema in it).
    before: Option<i64>,
    after: i64,
    changed: bool,
    /// Birth dates replaced by the keyed hash in this run (with --issuer).
    hashed: u64,
    /// Records that still keep a birth date in clear.
    clear_birth_dates: u64,
}

fn migrate(args: &MigrateArgs) -> Result<ExitCode, Failure> {
    let url = journal_arg(args.journal.as_deref())?;
    let report = match &url {
        JournalUrl::Sqlite(path) => migrate_sqlite(path, args.issuer.as_deref())?,
        JournalUrl::Postgres(target) => {
            let migrated = PgJournal::connect(target)
                .and_then(|mut j| j.migrate())
                .map_err(pg_failure)?;
            Report {
                journal: target.to_string(),
                engine: "postgresql",
                before: migrated.before.map(i64::from),
                after: i64::from(migrated.after),
                changed: migrated.before != Some(migrated.after),
                // The shared journal never kept one.
                hashed: 0,
                clear_birth_dates: 0,
            }
        }
    };
    if args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Failure::card(format!("could not format JSON: {e}")))?;
        println!("{text}");
    } else {
        let before = match report.before {
            None => "none".to_string(),
            Some(v) => v.to_string(),
        };
        let what = if report.changed {
            "migrated"
        } else {
            "up to date"
        };
        println!(
            "journal {} ({}): schema version {} (before: {before}) — {what}",
            report.journal, report.engine, report.after
        );
        if report.hashed > 0 {
            println!(
                "{} birth date(s) replaced by the issuer's keyed hash of the person",
                report.hashed
            );
        }
        if report.clear_birth_dates > 0 {
            eprintln!(
                "warning: {} record(s) keep their birth date in clear: run again with --issuer DIR \
                 to replace them by the keyed hash",
                report.clear_birth_dates
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A SQLite journal: made or upgraded as a batch does when it opens one; with the issuer, its
/// clear birth dates hashed.
fn migrate_sqlite(path: &Path, issuer: Option<&Path>) -> Result<Report, Failure> {
    let key = issuer
        .map(crate::cli::issuer_keys::status_key)
        .transpose()?;
    Journal::check_path(path).map_err(batch_cmd::journal_failure)?;
    let empty = std::fs::metadata(path).map_or(true, |m| m.len() == 0);
    let before = if empty {
        None
    } else {
        let journal = Journal::open_existing(path).map_err(batch_cmd::journal_failure)?;
        Some(
            journal
                .schema_version()
                .map_err(batch_cmd::journal_failure)?,
        )
    };
    let mut journal = Journal::open(path).map_err(batch_cmd::journal_failure)?;
    let after = journal
        .schema_version()
        .map_err(batch_cmd::journal_failure)?;
    let hashed = match &key {
        Some(key) => journal
            .hash_birth_dates(key)
            .map_err(batch_cmd::journal_failure)?,
        None => 0,
    };
    let clear_birth_dates = journal
        .clear_birth_dates()
        .map_err(batch_cmd::journal_failure)?;
    Ok(Report {
        journal: escaped(&path.display().to_string()),
        engine: "sqlite",
        before,
        after,
        changed: before != Some(after) || hashed > 0,
        hashed,
        clear_birth_dates,
    })
}

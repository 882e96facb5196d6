//! `melli issuer init`, `melli check` and `melli personalize`: the issuance centre's commands.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use melli::applet::{Applet, AppletError};
use melli::display::escaped;
use melli::model::{
    enrolment::base_dir_of, EnrolmentRecord, JalaliDate, Secret, SecretKind, ValidRecord,
};
use melli::ops::personalize::{self, PersonalizeError, Step};
use melli::ops::pin_mailer;
use melli::pki::issuer::default_root_dir;
use melli::pki::{InitOptions, Issuer, PkiError, RootCa, LAYOUT};
use melli::transport::PcscTransport;
use std::time::SystemTime;

use crate::cli::holder_cmd::SecretInput;
use melli::display::escaped_cut;

use crate::cli::issuer_keys;
use crate::cli::output;
use crate::cli::{Failure, PinSource};

pub fn issuer_init(args: &issuer_keys::InitArgs) -> Result<ExitCode, Failure> {
    let (store, root_store) = args.stores();
    let root_dir = args
        .root_dir
        .clone()
        .unwrap_or_else(|| default_root_dir(&args.dir));
    let options = InitOptions {
        store,
        root_dir,
        root_store,
    };
    let issuer = Issuer::init(&args.dir, &options, &mut issuer_keys::secret)
        .map_err(|e| Failure::bad_input(escaped(&e.to_string())))?;
    println!(
        "made an issuer in {}: keys in {}",
        escaped(&args.dir.display().to_string()),
        escaped(&issuer.store().describe())
    );
    println!(
        "the root CA's key is in {} ({}): personalization never needs it; keep it offline",
        escaped(&options.root_dir.display().to_string()),
        escaped(&options.root_store.describe())
    );
    if args.insecure_plain_keys {
        eprintln!("warning: the keys are in plain files (--insecure-plain-keys): for tests only");
    }
    println!("{LAYOUT}");
    Ok(ExitCode::SUCCESS)
}

pub fn new_document_signer(args: &issuer_keys::NewSignerArgs) -> Result<ExitCode, Failure> {
    let mut issuer = issuer_keys::load_issuer(&args.dir)?;
    let root_dir = args
        .root_dir
        .clone()
        .unwrap_or_else(|| default_root_dir(&args.dir));
    let root = RootCa::load(&root_dir, &mut issuer_keys::secret)
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    let not_before = args.not_before.unwrap_or_else(SystemTime::now);
    let not_after = args
        .not_after
        .unwrap_or(not_before + melli::pki::issuer::CA_VALIDITY);
    if not_after <= not_before {
        return Err(Failure::bad_input("--not-after must be after --not-before"));
    }
    root.issue_document_signer(&mut issuer, not_before, not_after, &mut issuer_keys::secret)
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    let validity = &issuer
        .document_signer_certificate()
        .tbs_certificate
        .validity;
    println!(
        "new document signer for {}: valid {} to {}, key in {}",
        args.dir.display(),
        validity.not_before,
        validity.not_after,
        issuer.store().describe()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Serialize)]
struct CheckReport {
    record: String,
    valid: bool,
    /// Whether the warnings, if any, were accepted (`--allow-warnings`).
    warnings_allowed: bool,
    errors: Vec<String>,
    warnings: Vec<String>,
}

/// `melli check` as the demo runs it: warnings allowed.
pub fn check(record_path: &Path, json: bool) -> Result<ExitCode, Failure> {
    check_with(record_path, json, true)
}

/// Validates a record and reports every problem, not only the first. Exit 2 when it is
/// invalid (an error line per problem, or the error object with `--json`, also when the file
/// is not a record at all); exit 1 when it is valid but draws warnings and `allow_warnings` is
/// false (each warning a `FAIL  warning: …` line of the verdict on stdout); 0 otherwise.
pub fn check_with(
    record_path: &Path,
    json: bool,
    allow_warnings: bool,
) -> Result<ExitCode, Failure> {
    // Every line quotes the record (its keys, its values, its path): shown escaped, in text
    // and in JSON alike.
    let shown_path = escaped(&record_path.display().to_string());
    let (errors, warnings): (Vec<String>, Vec<String>) =
        match EnrolmentRecord::from_json_file(record_path) {
            Err(e) => (vec![e.to_string()], Vec::new()),
            Ok(record) => {
                let today = JalaliDate::today()
                    .map_err(|e| Failure::bad_input(format!("today's date: {e}")))?;
                match record.validate_on(&base_dir_of(record_path), today) {
                    Ok(valid) => (
                        Vec::new(),
                        valid.warnings().iter().map(ToString::to_string).collect(),
                    ),
                    Err(errors) => (errors.iter().map(ToString::to_string).collect(), Vec::new()),
                }
            }
        };
    let shown = |lines: Vec<String>| -> Vec<String> {
        lines.iter().map(|l| escaped_cut(l, 1024)).collect()
    };
    let (errors, warnings) = (shown(errors), shown(warnings));
    let report = CheckReport {
        record: shown_path,
        valid: errors.is_empty(),
        warnings_allowed: allow_warnings,
        errors,
        warnings,
    };
    let held = report.valid && !report.warnings.is_empty() && !allow_warnings;
    if json {
        output::json(&report)?;
    } else if held {
        for w in &report.warnings {
            println!("FAIL  warning: {w}");
        }
        println!(
            "{}: valid, but with {} warning{} — check {}, then accept with --allow-warnings",
            report.record,
            report.warnings.len(),
            if report.warnings.len() == 1 { "" } else { "s" },
            if report.warnings.len() == 1 {
                "it"
            } else {
                "them"
            },
        );
    } else {
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
        for e in &report.errors {
            eprintln!("melli: {e}");
        }
        if report.valid {
            println!("{}: valid", report.record);
        }
    }
    Ok(if !report.valid {
        ExitCode::from(crate::cli::exit::BAD_INPUT)
    } else if held {
        ExitCode::from(crate::cli::exit::CHECK_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// PIN and PUK for a card: from the operator, from stdin, or generated into a PIN mailer.
fn secrets(source: &PinSource, serial: &str) -> Result<(Secret, Secret), Failure> {
    match source {
        PinSource::Mailer(path) => mailer_secrets(path, serial),
        PinSource::Stdin => {
            let mut input = SecretInput::new(true)?;
            Ok((
                input.read(SecretKind::Pin, "PIN")?,
                input.read(SecretKind::Puk, "PUK")?,
            ))
        }
        PinSource::Prompt => {
            if !std::io::stdin().is_terminal() {
                return Err(Failure::bad_input(
                    "no terminal to ask for the PIN: use --pin-mailer FILE or --secrets-stdin",
                ));
            }
            let mut input = SecretInput::new(false)?;
            Ok((
                confirmed(&mut input, SecretKind::Pin)?,
                confirmed(&mut input, SecretKind::Puk)?,
            ))
        }
    }
}

/// Asks for a new secret twice without echo.
fn confirmed(input: &mut SecretInput, kind: SecretKind) -> Result<Secret, Failure> {
    let secret = input.read(kind, &format!("new {}", kind.name()))?;
    let again = input.read(kind, &format!("repeat the {}", kind.name()))?;
    if again != secret {
        return Err(Failure::bad_input(format!(
            "the two {}s differ: nothing was written",
            kind.name()
        )));
    }
    Ok(secret)
}

/// Reuses the PIN and PUK of an existing mailer for the same card (a resumed
/// personalization), or generates new ones and writes the mailer (mode 0600) before the card is
/// touched, so they are never lost.
fn mailer_secrets(path: &Path, serial: &str) -> Result<(Secret, Secret), Failure> {
    pin_mailer::secrets_for_card(path, serial).map_err(|e| Failure::bad_input(e.to_string()))
}

pub fn personalize(
    record_path: &Path,
    issuer_dir: &Path,
    reader: Option<&str>,
    pins: &PinSource,
    json: bool,
) -> Result<ExitCode, Failure> {
    // Everything is checked before the card is touched.
    let record = ValidRecord::load(record_path).map_err(|e| Failure::bad_input(e.to_string()))?;
    for w in record.warnings() {
        eprintln!("warning: {w}");
    }
    let issuer = issuer_keys::load_issuer(issuer_dir)?;
    issuer
        .check_usable(std::time::SystemTime::now())
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    let mut applet = Applet::select(PcscTransport::connect(reader)?)?;
    let serial = applet.serial()?;
    // A mailer this run makes is removed again if the card turns out to be issued already:
    // its secrets were never set on the card, and a mailer naming the card must not say so.
    let new_mailer = match pins {
        PinSource::Mailer(path) if !path.exists() => Some(path),
        _ => None,
    };
    let (pin, puk) = secrets(pins, &serial)?;

    let total = Step::ALL.len();
    let mut progress = |step: Step| {
        let n = Step::ALL
            .iter()
            .position(|s| *s == step)
            .map_or(0, |i| i + 1);
        eprintln!("[{n:>2}/{total}] {step}");
    };
    let summary =
        personalize::personalize(&mut applet, &record, &issuer, &pin, &puk, &mut progress)
            .map_err(|e| match e {
                PersonalizeError::AlreadyIssued { .. } => {
                    if let Some(path) = new_mailer {
                        let _ = std::fs::remove_file(path);
                    }
                    Failure::card(e.to_string())
                }
                // Found before the card is touched (ops::personalize checks it first).
                PersonalizeError::Issuer {
                    source:
                        PkiError::InvalidInput {
                            what: "card expiry",
                            ref reason,
                        },
                    ..
                } => Failure::bad_input(format!(
                    "expiry_date: {}: no holder certificate can be issued for it ({reason}) — \
                     correct the expiry date in the record",
                    record.identity().expiry_date()
                )),
                PersonalizeError::Issuer { .. } => Failure::bad_input(e.to_string()),
                // Running again cannot help: the card was made for another issuer.
                PersonalizeError::Card {
                    source: AppletError::KeysRefused,
                    ..
                } => Failure::card(e.to_string()),
                // The card is not what the issuer made: running again cannot help.
                PersonalizeError::SelfCheck { .. } => {
                    Failure::card(format!("{e} — set this card aside, it cannot be issued"))
                }
                other if other.step().is_some() => Failure::card(format!(
                    "{other} — the card is not locked; run the same command again to finish it"
                )),
                other => Failure::card(other.to_string()),
            })?;
    if json {
        output::json(&summary)?;
    } else {
        println!(
            "personalized card {} for {} ({}) in {:.2} s, {} APDUs{}",
            summary.serial,
            summary.holder,
            summary.national_code,
            summary.seconds,
            summary.traffic.apdus,
            if summary.resumed { " (resumed)" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Where `--pin-mailer` points, as a path (for the CLI definition).
pub fn mailer_path(path: Option<PathBuf>, stdin: bool) -> PinSource {
    match (path, stdin) {
        (Some(p), _) => PinSource::Mailer(p),
        (None, true) => PinSource::Stdin,
        (None, false) => PinSource::Prompt,
    }
}

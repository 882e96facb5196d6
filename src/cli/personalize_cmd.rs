//! `melli personalize`: one blank card made a citizen's card.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use melli::applet::{Applet, AppletError};
use melli::model::{Secret, SecretKind, ValidRecord};
use melli::ops::personalize::{self, PersonalizeError, Step};
use melli::ops::pin_mailer;
use melli::pki::PkiError;
use melli::transport::PcscTransport;

use crate::cli::secret_input::SecretInput;

use crate::cli::issuer_keys;
use crate::cli::output;
use crate::cli::{Failure, PinSource};

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
                    source: ref refused @ AppletError::KeysRefused,
                    ..
                } => Failure::card(crate::cli::with_next_step(
                    &e.to_string(),
                    crate::cli::applet_next_step(refused),
                )),
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
            melli::display::escaped(&summary.holder),
            summary.national_code,
            summary.seconds,
            summary.traffic.apdus,
            if summary.resumed { " (resumed)" } else { "" }
        );
        for old in &summary.replacement.replaced {
            println!("replaced card {old}: its certificates are revoked (superseded); publish a new CRL with melli issuer crl");
        }
    }
    if let Some(e) = &summary.replacement.failed {
        eprintln!(
            "warning: the holder's earlier cards could not be revoked: {} — revoke them with melli issuer revoke --national-code {} --reason superseded",
            melli::display::escaped(&e.to_string()),
            summary.national_code
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

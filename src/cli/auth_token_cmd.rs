//! `melli auth-token` and `melli verify-auth-token`: a citizen logs in to a web service with the
//! card (a Web eID-style token), and the service checks the token.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use melli::applet::Applet;
use melli::display::{escaped, escaped_cut};
use melli::model::SecretKind;
use melli::ops::auth_token::{self, TokenError};
use melli::pki::{Check, HolderSubject};
use melli::transport::PcscTransport;

use crate::cli::desk_cmd::trust_anchor;
use crate::cli::secret_input::SecretInput;
use crate::cli::{exit, output, Failure, ReaderArg};

/// `melli auth-token`.
#[derive(Debug, clap::Args)]
pub struct AuthTokenArgs {
    /// The web service's origin, as the browser shows it: https://host[:port].
    #[arg(long, value_name = "URL")]
    pub origin: String,
    /// The challenge nonce the service sent for this login.
    #[arg(long, value_name = "NONCE")]
    pub nonce: String,
    #[command(flatten)]
    pub reader: ReaderArg,
    /// Read the PIN from the first line of stdin (for scripts).
    #[arg(long)]
    pub pin_stdin: bool,
}

/// `melli verify-auth-token`.
#[derive(Debug, clap::Args)]
pub struct VerifyAuthTokenArgs {
    /// The token (JSON) in a file, or - for stdin.
    pub token: PathBuf,
    /// This service's own origin: https://host[:port].
    #[arg(long, value_name = "URL")]
    pub origin: String,
    /// The nonce this service sent for this login.
    #[arg(long, value_name = "NONCE")]
    pub nonce: String,
    /// The trusted root certificate (PEM or DER).
    #[arg(long, value_name = "ROOT.pem")]
    pub trust: PathBuf,
    /// The certificate of the CA that issues login certificates (the issuer's signing CA;
    /// `melli read --out` writes it as signing-ca.pem).
    #[arg(long, value_name = "CA.pem")]
    pub ca: Vec<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The origin and nonce a service gave, checked before anything else is done.
fn check_origin_and_nonce(origin: &str, nonce: &str) -> Result<(), Failure> {
    auth_token::check_origin(origin).map_err(|why| {
        Failure::bad_input(format!(
            "--origin {}: {why} — give the service's origin as the browser shows it, e.g. \
             https://e.gov.ir",
            escaped(origin)
        ))
    })?;
    auth_token::check_nonce(nonce).map_err(|why| {
        Failure::bad_input(format!(
            "--nonce {}: {why} — give the nonce the service sent for this login",
            escaped_cut(nonce, 80)
        ))
    })
}

fn token_failure(e: TokenError) -> Failure {
    match e {
        TokenError::Pin(pin) => crate::cli::pin_refused(&pin),
        TokenError::BadInput(why) => Failure::bad_input(why),
        TokenError::NoLoginKey => Failure::card(format!(
            "{e} — log in with a card issued since specification 1.1"
        )),
        other => Failure::card(other.to_string()),
    }
}

pub fn auth_token(args: &AuthTokenArgs) -> Result<ExitCode, Failure> {
    // What the service sent is checked before the card is touched.
    check_origin_and_nonce(&args.origin, &args.nonce)?;
    let mut secrets = SecretInput::new(args.pin_stdin)?;
    let mut applet = Applet::select(PcscTransport::connect(args.reader.reader.as_deref())?)?;
    let pin = secrets.read(SecretKind::Pin, "PIN")?;
    let app_version = concat!("melli/", env!("CARGO_PKG_VERSION"));
    let token = auth_token::make_token(&mut applet, &pin, &args.origin, &args.nonce, app_version)
        .map_err(token_failure)?;
    drop(pin);
    output::json(&token)?;
    Ok(ExitCode::SUCCESS)
}

fn read_token(path: &Path) -> Result<Vec<u8>, Failure> {
    let cap = auth_token::MAX_TOKEN as u64;
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .take(cap + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::bad_input(format!("reading the token from stdin: {e}")))?;
        return Ok(bytes);
    }
    melli::input::read(path, melli::input::Kind::Small).map_err(|e| {
        Failure::bad_input(format!(
            "{e} — give the token file melli auth-token printed"
        ))
    })
}

pub fn verify_auth_token(args: &VerifyAuthTokenArgs) -> Result<ExitCode, Failure> {
    check_origin_and_nonce(&args.origin, &args.nonce)?;
    let root = trust_anchor(&args.trust)?;
    let cas = args
        .ca
        .iter()
        .map(|path| {
            melli::pki::issuer::read_certificate(path).map_err(|e| {
                Failure::bad_input(format!(
                    "--ca: {} — give the certificate of the CA that issued the login \
                     certificates (signing-ca.pem from melli read --out)",
                    escaped(&e.to_string())
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let token = read_token(&args.token)?;
    let report = auth_token::verify_token(
        &token,
        &args.origin,
        &args.nonce,
        &root,
        &cas,
        SystemTime::now(),
    );
    let passed = report.verdict.passed();
    let name = |s: &str| escaped_cut(s, 256);
    let holder = report.holder.as_ref().map(|s| HolderSubject {
        given_name: name(&s.given_name),
        surname: name(&s.surname),
        national_code: name(&s.national_code),
        full_name_fa: name(&s.full_name_fa),
    });
    let checks: Vec<Check> = report
        .verdict
        .checks
        .iter()
        .map(|c| Check {
            detail: escaped_cut(&c.detail, 1024),
            ..c.clone()
        })
        .collect();
    if args.json {
        output::json(&serde_json::json!({
            "passed": passed,
            "holder": holder,
            "holder_verified": passed,
            "checks": checks,
        }))?;
    } else {
        if let Some(h) = &holder {
            let label = if passed {
                "holder"
            } else {
                "holder (unverified)"
            };
            println!(
                "{label} \u{2067}{}\u{2069}  ({} {}), national code {}",
                h.full_name_fa, h.given_name, h.surname, h.national_code
            );
        }
        for check in &checks {
            println!("{check}");
        }
        println!(
            "verdict: {}",
            if passed {
                "VALID login"
            } else {
                "INVALID login"
            }
        );
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::CHECK_FAILED)
    })
}

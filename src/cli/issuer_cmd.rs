//! `melli issuer init`, `new-document-signer`, `revoke` and `crl`: making the issuer, and
//! revoking what it issued.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use melli::pki::issuer::{files, read_certificate};
use melli::pki::revocation::{Database, Reason, Target};

use melli::display::escaped;
use melli::pki::issuer::default_root_dir;
use melli::pki::{InitOptions, Issuer, RootCa, LAYOUT};
use std::time::SystemTime;

use crate::cli::issuer_keys;
use crate::cli::Failure;

pub fn issuer_init(args: &issuer_keys::InitArgs) -> Result<ExitCode, Failure> {
    issuer_init_with(args, &issuer_keys::UrlArgs::default())
}

/// `melli issuer init`, with the URLs holder certificates carry.
pub fn issuer_init_with(
    args: &issuer_keys::InitArgs,
    urls: &issuer_keys::UrlArgs,
) -> Result<ExitCode, Failure> {
    let (store, root_store) = args.stores();
    let root_dir = args
        .root_dir
        .clone()
        .unwrap_or_else(|| default_root_dir(&args.dir));
    let options = InitOptions {
        urls: melli::pki::issuer::RevocationUrls {
            crl: urls.crl_url.clone(),
            ocsp: urls.ocsp_url.clone(),
            root_crl: urls.root_crl_url.clone(),
        },
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

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["card", "certificate", "national_code"])))]
#[command(group(clap::ArgGroup::new("action").required(true).args(["reason", "remove_hold"])))]
pub struct RevokeArgs {
    /// The issuer directory.
    pub dir: PathBuf,
    /// Every certificate issued for the card with this serial (e.g. MC0000000001).
    #[arg(long, value_name = "SERIAL")]
    pub card: Option<String>,
    /// The certificate with this serial number (hex, as index.txt and `openssl x509 -serial`
    /// show it).
    #[arg(long, value_name = "SERIAL")]
    pub certificate: Option<String>,
    /// Every holder certificate of the person with this 10-digit national code, on whichever
    /// cards (a holder who reports all their cards lost).
    #[arg(long, value_name = "CODE")]
    pub national_code: Option<String>,
    /// Why (RFC 5280): keyCompromise, CACompromise, affiliationChanged, superseded,
    /// cessationOfOperation, certificateHold, unspecified.
    #[arg(long, value_name = "REASON")]
    pub reason: Option<String>,
    /// Take a certificate on hold (certificateHold) off hold.
    #[arg(long)]
    pub remove_hold: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn revoke(args: &RevokeArgs) -> Result<ExitCode, Failure> {
    let reason = match &args.reason {
        Some(r) => Some(Reason::parse(r).ok_or_else(|| {
            Failure::bad_input(format!(
                "--reason {}: not an RFC 5280 reason — give keyCompromise, CACompromise, \
                 affiliationChanged, superseded, cessationOfOperation, certificateHold or \
                 unspecified",
                escaped(r)
            ))
        })?),
        None => None,
    };
    let target = match (&args.card, &args.certificate, &args.national_code) {
        (Some(card), _, _) => Target::Card(card.clone()),
        (None, None, Some(code)) => {
            let code = melli::model::NationalCode::parse(code).map_err(|e| {
                Failure::bad_input(format!(
                    "--national-code {}: {e} — give the 10 digits on the holder's card",
                    escaped(code)
                ))
            })?;
            Target::NationalCode(code.to_string())
        }
        (None, Some(serial), _) => {
            let hex = serial.trim_start_matches("0x");
            if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Failure::bad_input(format!(
                    "--certificate {}: not a hex serial number — give it as index.txt shows it",
                    escaped(serial)
                )));
            }
            Target::Certificate(hex.to_string())
        }
        (None, None, None) => {
            return Err(Failure::bad_input(
                "give --card, --certificate or --national-code",
            ))
        }
    };
    if !args.dir.join(files::CONFIG).is_file() {
        return Err(Failure::bad_input(format!(
            "{}: not an issuer directory (no {}) — give the directory melli issuer init made",
            escaped(&args.dir.display().to_string()),
            files::CONFIG
        )));
    }
    let bad = |e: melli::pki::PkiError| Failure::bad_input(escaped(&e.to_string()));
    // An issuer made before index.txt: its own certificates go in first.
    let document_signer =
        read_certificate(&args.dir.join(files::DOCUMENT_SIGNER_CERT)).map_err(bad)?;
    let signing_ca = read_certificate(&args.dir.join(files::SIGNING_CA_CERT)).map_err(bad)?;
    let db = Database::new(&args.dir);
    db.ensure(&[&document_signer, &signing_ca]).map_err(bad)?;
    let changed = db.revoke(&target, reason, SystemTime::now()).map_err(bad)?;
    if args.json {
        let entries: Vec<_> = changed
            .iter()
            .map(|e| {
                serde_json::json!({
                    "serial": e.serial,
                    "status": e.status.to_string(),
                    "revocation_date": e.revoked.as_ref().map(|(d, _)| d.clone()),
                    "reason": e.revoked.as_ref().and_then(|(_, r)| r.map(|r| r.name())),
                    "subject": e.subject,
                })
            })
            .collect();
        crate::cli::output::json(&serde_json::json!({ "changed": entries }))?;
    } else {
        for e in &changed {
            match &e.revoked {
                Some((date, r)) => println!(
                    "revoked {} ({}) on {date}: {}",
                    e.serial,
                    escaped(&e.subject),
                    r.map_or("unspecified", |r| r.name())
                ),
                None => println!("taken off hold: {} ({})", e.serial, escaped(&e.subject)),
            }
        }
        println!("run melli issuer crl to publish it");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("outputs").required(true).multiple(true).args(["out", "root_out"])))]
pub struct CrlArgs {
    /// The issuer directory.
    pub dir: PathBuf,
    /// Write the signing CA's CRL (holder certificates) here, DER.
    #[arg(long, value_name = "FILE.crl")]
    pub out: Option<PathBuf>,
    /// Write the root's CRL (document signers, the signing CA) here, DER; needs the root's key.
    #[arg(long, value_name = "FILE.crl")]
    pub root_out: Option<PathBuf>,
    /// The root directory (made by `melli issuer init`). Default: DIR-root beside DIR.
    #[arg(long, value_name = "DIR")]
    pub root_dir: Option<PathBuf>,
    /// Hours from now to nextUpdate (when verifiers stop trusting this CRL).
    #[arg(long, value_name = "HOURS", default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=8784))]
    pub next_update: u32,
    /// thisUpdate, UTC, as 2026-12-01T00:00:00Z (nextUpdate counts from it). Default: now. A
    /// time in the past makes a stale CRL, for tests.
    #[arg(long, value_name = "TIME", value_parser = issuer_keys::parse_utc)]
    pub this_update: Option<SystemTime>,
}

pub fn crl(args: &CrlArgs) -> Result<ExitCode, Failure> {
    let issuer = issuer_keys::load_issuer(&args.dir)?;
    let now = args.this_update.unwrap_or_else(SystemTime::now);
    let validity = Duration::from_secs(u64::from(args.next_update) * 3600);
    let bad = |e: melli::pki::PkiError| Failure::bad_input(escaped(&e.to_string()));
    let write = |path: &std::path::Path, der: &[u8]| {
        melli::files::replace(path, der, 0o644).map_err(|e| {
            Failure::bad_input(format!(
                "cannot write {}: {e}",
                escaped(&path.display().to_string())
            ))
        })
    };
    if let Some(out) = &args.out {
        let der = issuer.signing_ca_crl(now, validity).map_err(bad)?;
        write(out, &der)?;
        println!(
            "wrote {}: the signing CA's CRL, next update in {} hours",
            escaped(&out.display().to_string()),
            args.next_update
        );
    }
    if let Some(out) = &args.root_out {
        let root_dir = args
            .root_dir
            .clone()
            .unwrap_or_else(|| default_root_dir(&args.dir));
        let root = RootCa::load(&root_dir, &mut issuer_keys::secret).map_err(bad)?;
        let der = root.crl(&issuer, now, validity).map_err(bad)?;
        write(out, &der)?;
        println!(
            "wrote {}: the root's CRL, next update in {} hours",
            escaped(&out.display().to_string()),
            args.next_update
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct OcspResponderArgs {
    /// The issuer directory.
    pub dir: PathBuf,
    /// The responder's PKCS#10 request (PEM or DER), for a P-256 key: `openssl req -new -key
    /// responder.key -subj '/CN=…' -out responder.csr`.
    #[arg(long, value_name = "RESPONDER.csr")]
    pub csr: PathBuf,
    /// Where to write the responder's certificate (PEM), for `openssl ocsp -rsigner`.
    #[arg(long, value_name = "RESPONDER.pem")]
    pub out: PathBuf,
    /// Issue it from the root (it then answers for the signing CA and document signers, with
    /// `openssl ocsp -CA root.pem`); opens the root directory's key.
    #[arg(long)]
    pub root: bool,
    /// The root directory (made by `melli issuer init`), with --root. Default: DIR-root.
    #[arg(long, value_name = "DIR", requires = "root")]
    pub root_dir: Option<PathBuf>,
    /// Days the certificate is valid (it is never checked for revocation: keep it short).
    #[arg(long, value_name = "DAYS", default_value_t = melli::pki::issuer::RESPONDER_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(melli::pki::issuer::MAX_RESPONDER_DAYS)))]
    pub days: u32,
}

/// `melli issuer ocsp-responder`: a delegated OCSP responder's certificate.
pub fn ocsp_responder(args: &OcspResponderArgs) -> Result<ExitCode, Failure> {
    let shown = |p: &std::path::Path| escaped(&p.display().to_string());
    let bytes = melli::input::read(&args.csr, melli::input::Kind::Certificate).map_err(|e| {
        Failure::bad_input(format!(
            "--csr {} — give the responder's request (openssl req -new)",
            escaped(&e.to_string())
        ))
    })?;
    let request = melli::pki::issuer::read_request(&bytes).map_err(|e| {
        Failure::bad_input(format!(
            "--csr {}: {} — make it with openssl req -new -key RESPONDER.key (a P-256 key)",
            shown(&args.csr),
            escaped(&e.to_string())
        ))
    })?;
    let bad = |e: melli::pki::PkiError| Failure::bad_input(escaped(&e.to_string()));
    let not_before = SystemTime::now() - Duration::from_secs(60);
    let not_after = not_before + Duration::from_secs(u64::from(args.days) * 24 * 3600);
    let (certificate, by) = if args.root {
        let root_dir = args
            .root_dir
            .clone()
            .unwrap_or_else(|| default_root_dir(&args.dir));
        let issuer_root = read_certificate(&args.dir.join(files::ROOT_CERT)).map_err(bad)?;
        let root = RootCa::load(&root_dir, &mut issuer_keys::secret).map_err(bad)?;
        if *root.certificate() != issuer_root {
            return Err(Failure::bad_input(format!(
                "{}: not the root of {} — give its --root-dir",
                shown(&root_dir),
                shown(&args.dir)
            )));
        }
        let c = root
            .certify_ocsp_responder(&request, not_before, not_after)
            .map_err(bad)?;
        (c, "the root: it answers for the signing CA and document signers (openssl ocsp -CA root.pem)")
    } else {
        let issuer = issuer_keys::load_issuer(&args.dir)?;
        let c = issuer
            .certify_ocsp_responder(&request, not_before, not_after)
            .map_err(bad)?;
        (
            c,
            "the signing CA: it answers for holder certificates (openssl ocsp -CA signing-ca.pem)",
        )
    };
    let pem =
        melli::pki::cert::to_pem(&certificate).map_err(|e| Failure::bad_input(e.to_string()))?;
    melli::files::replace(&args.out, pem.as_bytes(), 0o644).map_err(|e| {
        Failure::bad_input(format!(
            "cannot write {}: {e} — choose another --out path",
            shown(&args.out)
        ))
    })?;
    println!(
        "wrote {}: an OCSP responder certificate for {}, valid {} days, issued by {by}",
        shown(&args.out),
        escaped(&melli::pki::name::display_name(
            &certificate.tbs_certificate.subject
        )),
        args.days
    );
    Ok(ExitCode::SUCCESS)
}

//! `melli sign` and `melli verify-signature`: the citizen signs with the card, anyone checks.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use melli::applet::Applet;
use melli::display::{escaped, escaped_cut};
use melli::input::{self, InputError};
use melli::model::SecretKind;
use melli::ops::sign::{
    hash_file, sign_digest, signature_der, signature_revocation_at, verify_timestamped_signature,
    SignError,
};
use melli::ops::timestamp::{timestamp_signature, tsa_limits};
use melli::pki::{Check, HolderSubject};
use melli::transport::PcscTransport;

use crate::cli::desk_cmd::{require_issued, trust_anchor};
use crate::cli::output;
use crate::cli::secret_input::SecretInput;
use crate::cli::{exit, Failure};

pub fn sign_failure(e: SignError) -> Failure {
    match e {
        SignError::Pin(pin) => crate::cli::pin_refused(&pin),
        other => Failure::card(other.to_string()),
    }
}

/// `melli sign`, with `--ocsp-embed` when asked.
pub fn sign(
    file: &Path,
    out: Option<&Path>,
    tsa: Option<&str>,
    reader: Option<&str>,
    pin_stdin: bool,
    ocsp_embed: bool,
    json: bool,
) -> Result<ExitCode, Failure> {
    let out: PathBuf = out.map_or_else(
        || {
            let mut name = file.as_os_str().to_owned();
            name.push(".p7s");
            PathBuf::from(name)
        },
        Path::to_path_buf,
    );
    // Where the signature goes is checked before the card is asked to sign.
    let folder = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if out.is_dir() || !folder.is_dir() {
        return Err(Failure::bad_input(format!(
            "cannot write {}: {} — choose another --out path",
            shown_path(&out),
            if out.is_dir() {
                "it is a folder"
            } else {
                "its folder does not exist"
            }
        )));
    }
    // A TSA URL that cannot work is refused before the card signs.
    if let Some(url) = tsa {
        melli::net::check_url(url).map_err(|e| {
            Failure::bad_input(format!(
                "--tsa {}: {e} — give the http(s) URL of an RFC 3161 time-stamping authority",
                escaped_cut(url, 200)
            ))
        })?;
    }
    let digest = hash_file(file).map_err(|e| {
        Failure::bad_input(format!(
            "cannot read {}: {e} — check the path of the file to sign",
            shown_path(file)
        ))
    })?;
    let mut secrets = SecretInput::new(pin_stdin)?;
    let mut applet = Applet::select(PcscTransport::connect(reader)?)?;
    let pin = secrets.read(SecretKind::Pin, "PIN")?;
    let p7s = match sign_digest(&mut applet, &pin, &digest, SystemTime::now()) {
        Ok(p7s) => p7s,
        Err(e @ (SignError::Certificates(_) | SignError::HolderKey(_))) => {
            // No usable certificates: most often a card that was never personalized.
            let serial = applet.serial()?;
            require_issued(&serial, applet.lifecycle()?)?;
            return Err(Failure::card(format!(
                "{e} — the card's data are damaged or not genuine: check the card with \
                 `melli verify`"
            )));
        }
        Err(e) => return Err(sign_failure(e)),
    };
    drop(pin);
    drop(applet);
    let p7s = if ocsp_embed {
        melli::ops::ocsp_embed::embed_signer_ocsp(&p7s, SystemTime::now()).map_err(|e| Failure {
            code: exit::CHECK_FAILED,
            message: format!(
                "--ocsp-embed: {} — nothing written; sign again once the responder answers, \
                     or without --ocsp-embed",
                escaped(&e.to_string())
            ),
        })?
    } else {
        p7s
    };
    let (p7s, stamp) = match tsa {
        None => (p7s, None),
        Some(url) => {
            let (p7s, info) = timestamp_signature(&p7s, url, tsa_limits(), SystemTime::now())
                .map_err(|e| {
                    Failure::bad_input(format!(
                        "{} — no signature written; check the --tsa URL, or sign without --tsa",
                        escaped(&e.to_string())
                    ))
                })?;
            (p7s, Some(info))
        }
    };
    write_atomically(&out, &p7s)?;
    let stamp = stamp.map(|info| {
        serde_json::json!({
            "time": info.gen_time_text,
            "tsa": escaped_cut(&info.tsa_name, NAME_MAX),
            "serial": info.serial,
        })
    });
    if json {
        output::json(&serde_json::json!({
            "file": shown_path(file),
            "signature": shown_path(&out),
            "sha256": hex::encode(digest),
            "timestamp": stamp,
        }))?;
    } else {
        println!("signed {} → {}", shown_path(file), shown_path(&out));
        if let Some(stamp) = stamp {
            println!(
                "timestamped {} by the TSA \"{}\" (a claim until a verifier trusts the TSA)",
                stamp["time"].as_str().unwrap_or_default(),
                stamp["tsa"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A path from the user, made safe for a terminal.
fn shown_path(path: &Path) -> String {
    melli::display::escaped(&path.display().to_string())
}

/// Writes through a temporary file and a rename, so a half-written signature never exists.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let fail = |e: std::io::Error| {
        Failure::bad_input(format!(
            "cannot write {}: {e} — choose another --out path",
            shown_path(path)
        ))
    };
    melli::files::replace(path, bytes, 0o644).map_err(fail)
}

/// The longest name from a certificate shown whole, in bytes; longer ones are cut.
const NAME_MAX: usize = 256;
/// The longest check detail shown whole, in bytes.
const DETAIL_MAX: usize = 1024;

pub fn verify_signature_cmd(
    file: &Path,
    p7s: &Path,
    trust: &Path,
    json: bool,
) -> Result<ExitCode, Failure> {
    let none = crate::cli::RevocationArgs::default();
    verify_signature_with(file, p7s, trust, &[], &none, json)
}

/// The TSA roots of `--tsa-trust`.
fn tsa_anchors(paths: &[PathBuf]) -> Result<Vec<melli::pki::Certificate>, Failure> {
    paths
        .iter()
        .map(|path| {
            crate::cli::desk_cmd::anchor_of(
                "--tsa-trust",
                path,
                "the root certificate of the time-stamping authority (PEM or DER)",
            )
        })
        .collect()
}

/// `melli verify-signature`, with `--crl` when given.
pub fn verify_signature_with(
    file: &Path,
    p7s: &Path,
    trust: &Path,
    tsa_trust: &[PathBuf],
    revocation: &crate::cli::RevocationArgs,
    json: bool,
) -> Result<ExitCode, Failure> {
    let root = trust_anchor(trust)?;
    let tsa_roots = tsa_anchors(tsa_trust)?;
    let crls = crate::cli::desk_cmd::read_crls(&revocation.crl)?;
    let shown = escaped(&p7s.display().to_string());
    let signature = input::read(p7s, input::Kind::Signature).map_err(|e| match e {
        InputError::Io { source, .. } => Failure::bad_input(format!(
            "cannot read {shown}: {source} — check the path of the signature"
        )),
        other => Failure::bad_input(other.to_string()),
    })?;
    // Not a signature at all, or one in a form to convert first: bad input, not a verdict.
    if let Err(e) = signature_der(&signature) {
        return Err(Failure::bad_input(format!(
            "{shown}: {e} — {}",
            e.remedy(&shown)
        )));
    }
    let digest = hash_file(file).map_err(|e| {
        Failure::bad_input(format!(
            "cannot read {}: {e} — check the path of the signed file",
            escaped(&file.display().to_string())
        ))
    })?;
    let now = SystemTime::now();
    let mut report = verify_timestamped_signature(&signature, &digest, &root, &tsa_roots, now);
    let existed_at = report.existed_at();
    let sources = revocation.sources(&crls);
    if sources.any() {
        let check = signature_revocation_at(
            &signature,
            &root,
            &sources,
            now,
            existed_at.as_ref().map(|(at, proof)| (*at, proof.as_str())),
            revocation.allow_unknown_revocation,
        )
        .map_err(crate::cli::desk_cmd::crl_refused)?;
        if let Some(check) = check {
            report.verdict.push(check);
            crate::cli::revocation_remedy(&mut report.verdict);
        }
    }
    let passed = report.verdict.passed();
    // Everything below that came from the signature (names, and details that quote them) is
    // escaped and cut, in text and in JSON alike.
    let name = |s: &str| escaped_cut(s, NAME_MAX);
    let checks: Vec<Check> = report
        .verdict
        .checks
        .iter()
        .map(|c| Check {
            name: c.name.clone(),
            passed: c.passed,
            detail: escaped_cut(&c.detail, DETAIL_MAX),
            unknown: c.unknown,
            remedy: c.remedy,
        })
        .collect();
    let signer = report.signer.as_ref().map(|s| HolderSubject {
        given_name: name(&s.given_name),
        surname: name(&s.surname),
        national_code: name(&s.national_code),
        full_name_fa: name(&s.full_name_fa),
    });
    let signer_name = report.signer_name.as_deref().map(name);
    if json {
        output::json(&serde_json::json!({
            "passed": passed,
            "signer": signer,
            "signer_name": signer_name,
            "signer_verified": passed,
            "claimed_signing_time": report.claimed_signing_time,
            "chain_checked_at": {
                "time": report.chain_checked_at.time,
                "reason": escaped_cut(&report.chain_checked_at.reason, DETAIL_MAX),
            },
            "timestamp": report.timestamp.as_ref().map(|t| serde_json::json!({
                "time": t.time,
                "tsa": name(&t.tsa),
                "trusted": t.trusted,
            })),
            "checks": checks,
        }))?;
    } else {
        // A name is the certificate's claim until every check passed.
        let label = if passed {
            "signer       "
        } else {
            "signer (unverified)"
        };
        match (&signer, &signer_name) {
            (Some(signer), _) => println!(
                "{label} \u{2067}{}\u{2069}  ({} {}), national code {}",
                signer.full_name_fa, signer.given_name, signer.surname, signer.national_code
            ),
            (None, Some(signer_name)) => println!("{label} {signer_name}"),
            (None, None) => {}
        }
        match &report.claimed_signing_time {
            Some(time) => {
                println!("signing time claimed by the signer: {time} (a claim, not used to judge)")
            }
            None => println!("signing time claimed by the signer: none"),
        }
        if let Some(t) = &report.timestamp {
            println!(
                "timestamp: {} by the TSA \"{}\"{}",
                t.time,
                name(&t.tsa),
                if t.trusted {
                    " (trusted)"
                } else {
                    " (a claim: the TSA is not trusted)"
                }
            );
        }
        println!(
            "chain checked at {} ({})",
            report.chain_checked_at.time,
            escaped_cut(&report.chain_checked_at.reason, DETAIL_MAX)
        );
        for check in &checks {
            println!("{check}");
        }
        println!(
            "verdict: {}",
            if passed {
                "VALID signature"
            } else {
                "INVALID signature"
            }
        );
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::CHECK_FAILED)
    })
}

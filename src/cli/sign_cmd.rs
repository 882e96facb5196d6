//! `melli sign` and `melli verify-signature`: the citizen signs with the card, anyone checks.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use melli::applet::Applet;
use melli::display::{escaped, escaped_cut};
use melli::input::{self, InputError};
use melli::model::SecretKind;
use melli::ops::pdf::{self, PdfError};
use melli::ops::sign::{
    hash_file, sign_digest_with, signature_der, signature_revocation_at, signer_subject,
    verify_timestamped_signature, SignError, SignatureReport,
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

/// What `melli sign` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The PDF signed inside (PAdES-B-B; B-T with --tsa).
    Pdf,
    /// A detached CMS signature of any file.
    Cms,
}

/// `melli sign`, with `--ocsp-embed` when asked: a PDF is signed inside (see [`sign_pdf`]),
/// any other file gets a detached signature.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    file: &Path,
    out: Option<&Path>,
    format: Option<Format>,
    tsa: Option<&str>,
    reader: Option<&str>,
    pin_stdin: bool,
    ocsp_embed: bool,
    visible: Option<&str>,
    json: bool,
) -> Result<ExitCode, Failure> {
    let format = match format {
        Some(format) => format,
        None => {
            if pdf::looks_like_pdf(file).map_err(|e| {
                Failure::bad_input(format!(
                    "cannot read {e} — check the path of the file to sign"
                ))
            })? {
                Format::Pdf
            } else {
                Format::Cms
            }
        }
    };
    let card = CardArgs { reader, pin_stdin };
    if format == Format::Pdf {
        return sign_pdf(file, out, tsa, card, ocsp_embed, visible, json);
    }
    if visible.is_some() {
        return Err(Failure::bad_input(
            "--visible is for PDFs: a detached signature has no page to show it on — sign \
             without --visible, or give a PDF",
        ));
    }
    let out: PathBuf = out.map_or_else(
        || {
            let mut name = file.as_os_str().to_owned();
            name.push(".p7s");
            PathBuf::from(name)
        },
        Path::to_path_buf,
    );
    // Where the signature goes is checked before the card is asked to sign.
    let _ = output_folder(&out)?;
    check_tsa_url(tsa)?;
    let digest = hash_file(file).map_err(|e| {
        Failure::bad_input(format!(
            "cannot read {}: {e} — check the path of the file to sign",
            shown_path(file)
        ))
    })?;
    let p7s = card_sign(card, &digest, Some(SystemTime::now()))?;
    let p7s = if ocsp_embed {
        melli::ops::ocsp_embed::embed_signer_ocsp(&p7s, SystemTime::now())
            .map_err(|e| ocsp_embed_failure(&e))?
    } else {
        p7s
    };
    let (p7s, stamp) = timestamp(p7s, tsa)?;
    write_atomically(&out, &p7s)?;
    if json {
        output::json(&serde_json::json!({
            "file": shown_path(file),
            "signature": shown_path(&out),
            "sha256": hex::encode(digest),
            "timestamp": stamp,
        }))?;
    } else {
        println!("signed {} → {}", shown_path(file), shown_path(&out));
        print_stamp(stamp.as_ref());
    }
    Ok(ExitCode::SUCCESS)
}

/// `--ocsp-embed` without a good answer: nothing is written.
fn ocsp_embed_failure(e: &dyn std::fmt::Display) -> Failure {
    Failure {
        code: exit::CHECK_FAILED,
        message: format!(
            "--ocsp-embed: {} — nothing written; sign again once the responder answers, \
             or without --ocsp-embed",
            escaped(&e.to_string())
        ),
    }
}

fn print_stamp(stamp: Option<&serde_json::Value>) {
    if let Some(stamp) = stamp {
        println!(
            "timestamped {} by the TSA \"{}\" (a claim until a verifier trusts the TSA)",
            stamp["time"].as_str().unwrap_or_default(),
            stamp["tsa"].as_str().unwrap_or_default()
        );
    }
}

/// The card to sign with and where the PIN comes from.
#[derive(Debug, Clone, Copy)]
struct CardArgs<'a> {
    reader: Option<&'a str>,
    pin_stdin: bool,
}

/// The folder `out` goes in, checked before the card is asked to sign.
fn output_folder(out: &Path) -> Result<&Path, Failure> {
    let folder = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if out.is_dir() || !folder.is_dir() {
        return Err(Failure::bad_input(format!(
            "cannot write {}: {} — choose another --out path",
            shown_path(out),
            if out.is_dir() {
                "it is a folder"
            } else {
                "its folder does not exist"
            }
        )));
    }
    Ok(folder)
}

/// A TSA URL that cannot work is refused before the card signs.
fn check_tsa_url(tsa: Option<&str>) -> Result<(), Failure> {
    if let Some(url) = tsa {
        melli::net::check_url(url).map_err(|e| {
            Failure::bad_input(format!(
                "--tsa {}: {e} — give the http(s) URL of an RFC 3161 time-stamping authority",
                escaped_cut(url, 200)
            ))
        })?;
    }
    Ok(())
}

/// The card signs `digest` after its PIN: a detached CMS SignedData, with signingTime only
/// when `signing_time` is given.
fn card_sign(
    card: CardArgs<'_>,
    digest: &[u8; 32],
    signing_time: Option<SystemTime>,
) -> Result<Vec<u8>, Failure> {
    let mut session = CardSession::open(card)?;
    session.sign(digest, signing_time)
}

/// A card selected for signing, and where its PIN comes from.
struct CardSession {
    secrets: SecretInput,
    applet: Applet<PcscTransport>,
}

impl CardSession {
    fn open(card: CardArgs<'_>) -> Result<Self, Failure> {
        let secrets = SecretInput::new(card.pin_stdin)?;
        let applet = Applet::select(PcscTransport::connect(card.reader)?)?;
        Ok(CardSession { secrets, applet })
    }

    /// Who the card's certificate names (no PIN needed).
    fn holder(&mut self) -> Result<HolderSubject, Failure> {
        match signer_subject(&mut self.applet) {
            Ok(subject) => Ok(subject),
            Err(e) => self.unusable_certificates(e),
        }
    }

    /// The card's failure to give usable certificates, as the error it is.
    fn unusable_certificates<R>(&mut self, e: SignError) -> Result<R, Failure> {
        match e {
            e @ (SignError::Certificates(_) | SignError::HolderKey(_) | SignError::Subject(_)) => {
                // No usable certificates: most often a card that was never personalized.
                let serial = self.applet.serial()?;
                require_issued(&serial, self.applet.lifecycle()?)?;
                Err(Failure::card(format!(
                    "{} — the card's data are damaged or not genuine: check the card with \
                     `melli verify`",
                    escaped(&e.to_string())
                )))
            }
            other => Err(sign_failure(other)),
        }
    }

    /// The card signs `digest` after its PIN.
    fn sign(
        &mut self,
        digest: &[u8; 32],
        signing_time: Option<SystemTime>,
    ) -> Result<Vec<u8>, Failure> {
        let pin = self.secrets.read(SecretKind::Pin, "PIN")?;
        match sign_digest_with(&mut self.applet, &pin, digest, signing_time) {
            Ok(p7s) => Ok(p7s),
            Err(e) => self.unusable_certificates(e),
        }
    }
}

/// `p7s` with a timestamp token from `tsa` as an unsigned attribute, and what the token says
/// (for the output), when a TSA is given.
fn timestamp(
    p7s: Vec<u8>,
    tsa: Option<&str>,
) -> Result<(Vec<u8>, Option<serde_json::Value>), Failure> {
    let Some(url) = tsa else {
        return Ok((p7s, None));
    };
    let (p7s, info) =
        timestamp_signature(&p7s, url, tsa_limits(), SystemTime::now()).map_err(|e| {
            Failure::bad_input(format!(
                "{} — no signature written; check the --tsa URL, or sign without --tsa",
                escaped(&e.to_string())
            ))
        })?;
    let stamp = serde_json::json!({
        "time": info.gen_time_text,
        "tsa": escaped_cut(&info.tsa_name, NAME_MAX),
        "serial": info.serial,
    });
    Ok((p7s, Some(stamp)))
}

/// The default name of a signed PDF: `NAME-signed.pdf` beside `NAME.pdf`.
fn signed_pdf_name(file: &Path) -> PathBuf {
    let stem = file.file_stem().unwrap_or_default().to_owned();
    let mut name = stem;
    name.push("-signed.");
    match file.extension() {
        Some(ext) => name.push(ext),
        None => name.push("pdf"),
    }
    file.with_file_name(name)
}

/// A PDF problem as one line: the file, what is wrong, what to do.
fn pdf_failure(file: &Path, e: &PdfError) -> Failure {
    Failure::bad_input(format!("{} — {}", pdf_problem(file, e), e.remedy()))
}

/// A signed PDF that cannot be read, as one line: a verifier cannot repair it.
fn signed_pdf_failure(file: &Path, e: &PdfError) -> Failure {
    let remedy = match e {
        PdfError::Unreadable(_) | PdfError::BrokenXref(_) | PdfError::Incomplete(_) => {
            "ask the signer for an undamaged copy of the signed PDF"
        }
        PdfError::Encrypted => "melli verifies signatures of unencrypted PDFs only",
        other => other.remedy(),
    };
    Failure::bad_input(format!("{} — {remedy}", pdf_problem(file, e)))
}

fn pdf_problem(file: &Path, e: &PdfError) -> String {
    match e {
        // The input error names the path itself.
        PdfError::Input(input) => escaped(&input.to_string()),
        other => format!("{}: {}", shown_path(file), escaped(&other.to_string())),
    }
}

/// `--visible TEXT` that cannot be placed, as one line.
fn visible_failure(text: &str, e: &pdf::VisibleError) -> Failure {
    Failure::bad_input(format!(
        "--visible {}: {e} — {}",
        escaped_cut(text, 40),
        e.remedy()
    ))
}

/// `melli sign FILE.pdf`: the signed PDF, an incremental update of the original. Everything
/// about the PDF (and where a `--visible` box goes) is checked before the card is asked; the
/// card's certificate gives the names a box shows, then the update is written to a temporary
/// file and the card signs it after its PIN; the file appears under its name only once the
/// signature is in it.
fn sign_pdf(
    file: &Path,
    out: Option<&Path>,
    tsa: Option<&str>,
    card: CardArgs<'_>,
    ocsp_embed: bool,
    visible: Option<&str>,
    json: bool,
) -> Result<ExitCode, Failure> {
    let out = out.map_or_else(|| signed_pdf_name(file), Path::to_path_buf);
    let folder = output_folder(&out)?;
    check_tsa_url(tsa)?;
    let request = visible
        .map(|text| {
            text.parse::<pdf::VisibleRequest>()
                .map_err(|e| visible_failure(text, &e))
        })
        .transpose()?;
    let prepare_failure = |e: PdfError| match e {
        PdfError::Write(io) => Failure::bad_input(format!(
            "cannot write {}: {io} — choose another --out path",
            shown_path(&out)
        )),
        other => pdf_failure(file, &other),
    };
    let opened = pdf::open(file).map_err(prepare_failure)?;
    // The box must fit on its page before the card is asked anything.
    let placement = match (request, visible) {
        (Some(request), Some(text)) => Some(
            opened
                .place(&request)
                .map_err(|e| visible_failure(text, &e))?,
        ),
        _ => None,
    };
    let mut session = CardSession::open(card)?;
    let visible = match placement {
        Some(placement) => Some(pdf::VisibleSignature {
            placement,
            holder: pdf::HolderText::new(&session.holder()?),
        }),
        None => None,
    };
    let mut prepared = opened
        .prepare(folder, SystemTime::now(), visible.as_ref())
        .map_err(prepare_failure)?;
    let digest = prepared.digest().map_err(|e| pdf_failure(&out, &e))?;
    let cms = session.sign(&digest, None)?;
    let (cms, stamp) = timestamp(cms, tsa)?;
    // PAdES-B-LT: the validation data, asked after the timestamp, in a second update.
    let dss = if ocsp_embed {
        Some(pdf::dss::gather(&cms, SystemTime::now()).map_err(|e| ocsp_embed_failure(&e))?)
    } else {
        None
    };
    let range = prepared.byte_range();
    let field = prepared.field_name().to_string();
    let shown_box = visible.as_ref().map(|v| {
        serde_json::json!({
            "page": v.placement.page,
            "rect": v.placement.rect,
        })
    });
    let written = prepared.fill(&cms).and_then(|()| match &dss {
        Some(data) => pdf::dss::append(&mut prepared, &cms, data, SystemTime::now()),
        None => Ok(()),
    });
    written
        .and_then(|()| prepared.persist(&out))
        .map_err(|e| match e {
            PdfError::Write(io) => Failure::bad_input(format!(
                "cannot write {}: {io} — choose another --out path",
                shown_path(&out)
            )),
            other => Failure::bad_input(format!(
                "{} — nothing written; {}",
                escaped(&other.to_string()),
                other.remedy()
            )),
        })?;
    if json {
        output::json(&serde_json::json!({
            "file": shown_path(file),
            "signed": shown_path(&out),
            "format": "pdf",
            "field": field,
            "byte_range": range,
            "visible": shown_box,
            "sha256": hex::encode(digest),
            "timestamp": stamp,
            "dss": dss.as_ref().map(|d| serde_json::json!({
                "certificates": d.certificates.len(),
                "ocsp_responses": d.ocsps.len(),
                "crls": d.crls.len(),
                "notes": d.notes,
            })),
        }))?;
    } else {
        let kind = match &visible {
            Some(v) => format!("visible on page {}", v.placement.page),
            None => "invisible".to_string(),
        };
        println!(
            "signed {} → {} (PAdES, {kind} signature field {field})",
            shown_path(file),
            shown_path(&out)
        );
        print_stamp(stamp.as_ref());
        if let Some(d) = &dss {
            println!(
                "validation data in the PDF's DSS (PAdES-B-LT): {} certificate(s), {} OCSP \
                 answer(s), {} CRL(s)",
                d.certificates.len(),
                d.ocsps.len(),
                d.crls.len()
            );
            for note in &d.notes {
                println!("note: {note}");
            }
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
    verify_signature_with(file, Some(p7s), trust, &[], &none, json)
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

/// `melli verify-signature`, with `--crl` when given: a detached signature of `file`, or,
/// with no signature file, every signature inside the PDF `file`.
pub fn verify_signature_with(
    file: &Path,
    p7s: Option<&Path>,
    trust: &Path,
    tsa_trust: &[PathBuf],
    revocation: &crate::cli::RevocationArgs,
    json: bool,
) -> Result<ExitCode, Failure> {
    let root = trust_anchor(trust)?;
    let tsa_roots = tsa_anchors(tsa_trust)?;
    let crls = crate::cli::desk_cmd::read_crls(&revocation.crl)?;
    let Some(p7s) = p7s else {
        let is_pdf = pdf::looks_like_pdf(file).map_err(|e| {
            Failure::bad_input(format!(
                "cannot read {e} — check the path of the signed file"
            ))
        })?;
        if !is_pdf {
            return Err(Failure::bad_input(format!(
                "{}: not a PDF, so its signature is not inside it — give the detached \
                 signature too: melli verify-signature FILE FILE.p7s --trust ROOT.pem",
                shown_path(file)
            )));
        }
        let ctx = Verification {
            root: &root,
            revocation,
            crls: &crls,
            now: SystemTime::now(),
        };
        return verify_pdf_signatures(file, &tsa_roots, &ctx, json);
    };
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
    let ctx = Verification {
        root: &root,
        revocation,
        crls: &crls,
        now: SystemTime::now(),
    };
    let mut report = verify_timestamped_signature(&signature, &digest, &root, &tsa_roots, ctx.now);
    ctx.add_revocation(&mut report, &signature, None)?;
    let passed = report.verdict.passed();
    if json {
        let mut value = report_json(&report);
        value["passed"] = passed.into();
        output::json(&value)?;
    } else {
        print_report(&report);
        print_verdict(passed);
    }
    Ok(exit_of(passed))
}

/// What every signature of one verification is judged against.
struct Verification<'a> {
    root: &'a melli::pki::Certificate,
    revocation: &'a crate::cli::RevocationArgs,
    crls: &'a [melli::pki::revocation::CrlInput],
    now: SystemTime,
}

impl Verification<'_> {
    /// The "revocation" check of `report`'s signer, when --crl or --online asks for it.
    ///
    /// `dss`, a signed PDF's document security store, counts as a source, and asks for the
    /// check by itself: then, without --crl or --online, a certificate whose status it does
    /// not give is shown as UNKNOWN without failing the verdict (nobody asked for its status).
    fn add_revocation(
        &self,
        report: &mut SignatureReport,
        signature: &[u8],
        dss: Option<&pdf::dss::Material>,
    ) -> Result<(), Failure> {
        let mut sources = self.revocation.sources(self.crls);
        let asked = sources.any();
        if let Some(dss) = dss {
            sources.carried_ocsps = &dss.ocsps;
            sources.carried_crls = &dss.crls;
            sources.carried_in = pdf::dss::PLACE;
        }
        if !asked && !sources.carries_any() {
            return Ok(());
        }
        let existed_at = report.existed_at();
        let check = signature_revocation_at(
            signature,
            self.root,
            &sources,
            self.now,
            existed_at.as_ref().map(|(at, proof)| (*at, proof.as_str())),
            self.revocation.allow_unknown_revocation || !asked,
        )
        .map_err(crate::cli::desk_cmd::crl_refused)?;
        if let Some(check) = check {
            report.verdict.push(check);
            crate::cli::revocation_remedy(&mut report.verdict);
        }
        Ok(())
    }
}

fn exit_of(passed: bool) -> ExitCode {
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::CHECK_FAILED)
    }
}

/// `melli verify-signature FILE.pdf`: every signature in the PDF, each judged on its own;
/// VALID only when every check of every signature passed.
fn verify_pdf_signatures(
    file: &Path,
    tsa_roots: &[melli::pki::Certificate],
    ctx: &Verification<'_>,
    json: bool,
) -> Result<ExitCode, Failure> {
    let mut reports = pdf::verify_pdf(file, ctx.root, tsa_roots, ctx.now)
        .map_err(|e| signed_pdf_failure(file, &e))?;
    if reports.is_empty() {
        return Err(Failure::bad_input(format!(
            "{}: the PDF has no signature (no signature field with a value) — give a signed \
             PDF, or the detached signature of this one as the second argument",
            shown_path(file)
        )));
    }
    for signature in &mut reports {
        ctx.add_revocation(&mut signature.report, &signature.cms, Some(&signature.dss))?;
    }
    let passed = reports.iter().all(|r| r.report.verdict.passed());
    let count = reports.len();
    if json {
        let signatures: Vec<serde_json::Value> = reports
            .iter()
            .map(|r| {
                let mut value = report_json(&r.report);
                value["passed"] = r.report.verdict.passed().into();
                value["field"] = escaped_cut(&r.field, NAME_MAX).into();
                value["sub_filter"] = r
                    .sub_filter
                    .as_deref()
                    .map(|s| escaped_cut(s, NAME_MAX))
                    .into();
                value["claimed_time_m"] = r
                    .claimed_time
                    .as_deref()
                    .map(|s| escaped_cut(s, NAME_MAX))
                    .into();
                value["byte_range"] = r.byte_range.map(|b| b.to_vec()).into();
                value
            })
            .collect();
        output::json(&serde_json::json!({
            "file": shown_path(file),
            "format": "pdf",
            "passed": passed,
            "signatures": signatures,
        }))?;
    } else {
        for (i, r) in reports.iter().enumerate() {
            println!(
                "signature {} of {count}: field \"{}\"{}",
                i + 1,
                escaped_cut(&r.field, NAME_MAX),
                r.sub_filter
                    .as_deref()
                    .map(|s| format!(" (/{})", escaped_cut(s, NAME_MAX)))
                    .unwrap_or_default()
            );
            if let Some(m) = &r.claimed_time {
                println!(
                    "signing time in /M: {} (a claim, not used to judge)",
                    escaped_cut(m, NAME_MAX)
                );
            }
            print_report(&r.report);
            println!(
                "signature {}: {}",
                i + 1,
                if r.report.verdict.passed() {
                    "VALID"
                } else {
                    "INVALID"
                }
            );
            println!();
        }
        println!(
            "verdict: {}",
            if passed {
                format!("VALID PDF: {count} signature(s), every check of each passed")
            } else {
                format!(
                    "INVALID PDF: {} of {count} signature(s) failed a check",
                    reports
                        .iter()
                        .filter(|r| !r.report.verdict.passed())
                        .count()
                )
            }
        );
    }
    Ok(exit_of(passed))
}

/// Everything below that came from the signature (names, and details that quote them) is
/// escaped and cut, in text and in JSON alike.
fn shown_checks(report: &SignatureReport) -> Vec<Check> {
    report
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
        .collect()
}

fn shown_signer(report: &SignatureReport) -> (Option<HolderSubject>, Option<String>) {
    let name = |s: &str| escaped_cut(s, NAME_MAX);
    let signer = report.signer.as_ref().map(|s| HolderSubject {
        given_name: name(&s.given_name),
        surname: name(&s.surname),
        national_code: name(&s.national_code),
        full_name_fa: name(&s.full_name_fa),
    });
    (signer, report.signer_name.as_deref().map(name))
}

/// The JSON of one signature's report (its "passed" is set by the caller).
fn report_json(report: &SignatureReport) -> serde_json::Value {
    let passed = report.verdict.passed();
    let (signer, signer_name) = shown_signer(report);
    serde_json::json!({
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
            "tsa": escaped_cut(&t.tsa, NAME_MAX),
            "trusted": t.trusted,
        })),
        "checks": shown_checks(report),
    })
}

/// One signature's report as text, without the verdict line.
fn print_report(report: &SignatureReport) {
    let passed = report.verdict.passed();
    let (signer, signer_name) = shown_signer(report);
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
            escaped_cut(&t.tsa, NAME_MAX),
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
    for check in shown_checks(report) {
        println!("{check}");
    }
}

fn print_verdict(passed: bool) {
    println!(
        "verdict: {}",
        if passed {
            "VALID signature"
        } else {
            "INVALID signature"
        }
    );
}

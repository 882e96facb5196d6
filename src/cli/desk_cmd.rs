//! `melli read` and `melli verify`: what a desk does with a citizen's card.

use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

use melli::applet::{Applet, Lifecycle};
use melli::display::escaped;
use melli::model::{Identity, JalaliDate};
use melli::ops::read::{read_card, CardContents};
use melli::ops::verify::{revocation, verify_card};
use melli::pki::revocation::{parse_crl, CrlInput, CrlRefused};
use melli::pki::{cert, read_trust_anchor, Certificate, PkiError, Remedy, Verdict};
use melli::transport::{PcscTransport, Transport};

use crate::cli::output;
use crate::cli::{exit, Failure};

/// Wraps right-to-left text from the card in Unicode bidi isolates (U+2067 … U+2069), so a
/// terminal that implements the bidirectional algorithm shows it right to left without
/// disturbing the line. The card's text is escaped first: its own bidi controls, control and
/// invisible characters are shown as escapes, and only the isolates melli adds stay.
fn rtl(text: &str) -> String {
    format!("\u{2067}{}\u{2069}", escaped(text))
}

/// A value from the card, made safe for a terminal.
fn shown(value: impl std::fmt::Display) -> String {
    escaped(&value.to_string())
}

/// A path from the user, made safe for a terminal.
fn shown_path(path: &Path) -> String {
    escaped(&path.display().to_string())
}

fn date(d: JalaliDate) -> String {
    d.with_gregorian()
}

#[derive(serde::Serialize)]
struct DateJson {
    solar_hijri: String,
    gregorian: String,
}

impl From<JalaliDate> for DateJson {
    fn from(d: JalaliDate) -> Self {
        let (y, m, day) = d.to_gregorian();
        DateJson {
            solar_hijri: d.to_string(),
            gregorian: format!("{y:04}-{m:02}-{day:02}"),
        }
    }
}

#[derive(serde::Serialize)]
struct ReadJson<'a> {
    serial: &'a str,
    lifecycle: String,
    identity: &'a Identity,
    birth_date: DateJson,
    issue_date: DateJson,
    expiry_date: DateJson,
    address: melli::model::Address,
    photo_bytes: usize,
    holder_certificate: Option<String>,
    /// DG7's login certificate (a version 1.1 card), PEM.
    #[serde(skip_serializing_if = "Option::is_none")]
    authentication_certificate: Option<String>,
    /// What crossed the reader: APDUs and bytes each way.
    traffic: melli::transport::Traffic,
}

/// Data on the card that do not parse: one line, and what to do about it.
fn card_error(e: impl std::fmt::Display) -> Failure {
    Failure::card(format!(
        "{} — the card's data are damaged or not genuine: check the card with `melli verify`",
        escaped(&e.to_string())
    ))
}

/// Refuses a card that holds no holder data yet, before its empty files are taken for damaged
/// ones.
pub fn require_issued(serial: &str, lifecycle: Lifecycle) -> Result<(), Failure> {
    match lifecycle {
        Lifecycle::Blank => Err(Failure::card(format!(
            "card {serial} is blank: it holds no holder data yet — personalize it first \
             (`melli personalize`)"
        ))),
        Lifecycle::Personalizing => Err(Failure::card(format!(
            "card {serial} is only partly personalized — finish it: run the same \
             `melli personalize` again"
        ))),
        Lifecycle::Operational | Lifecycle::Terminated => Ok(()),
    }
}

/// The `--trust` root certificate, with one line that says what is wrong with the file.
pub fn trust_anchor(path: &Path) -> Result<Certificate, Failure> {
    anchor_of(
        "--trust",
        path,
        "the issuer's root certificate (root.pem of the issuer directory, PEM or DER)",
    )
}

/// The root certificate an option (`flag`) names, or one line that says what is wrong with the
/// file and asks for `wanted`.
pub fn anchor_of(flag: &str, path: &Path, wanted: &str) -> Result<Certificate, Failure> {
    read_trust_anchor(path).map_err(|e| {
        let what = match &e {
            PkiError::Missing { .. } => "no such file".to_string(),
            PkiError::Io { source, .. } => source.to_string(),
            PkiError::BadFile { reason, .. } => reason.clone(),
            other => other.to_string(),
        };
        Failure::bad_input(format!(
            "{flag} {}: {} — give {wanted}",
            shown_path(path),
            escaped(&what)
        ))
    })
}

pub fn read(
    reader: Option<&str>,
    out: Option<&Path>,
    png: bool,
    json: bool,
) -> Result<ExitCode, Failure> {
    let mut applet = Applet::select(PcscTransport::connect(reader)?)?;
    let contents = read_card(&mut applet)?;
    require_issued(&contents.serial, contents.lifecycle)?;
    let identity = contents.parse_identity().map_err(card_error)?;
    let address = contents.parse_address().map_err(card_error)?;
    if let Some(dir) = out {
        write_out(dir, &contents, &identity, png)?;
    }
    if json {
        let holder = contents
            .parse_certificates()
            .ok()
            .and_then(|(holder, _)| cert::to_pem(&holder).ok());
        // Every string of the card escaped; then the certificate, PEM that melli wrote from
        // its DER, whose line breaks are meant.
        let mut value = output::json_from_outside(&ReadJson {
            serial: &contents.serial,
            lifecycle: contents.lifecycle.to_string(),
            identity: &identity,
            birth_date: identity.birth_date().into(),
            issue_date: identity.issue_date().into(),
            expiry_date: identity.expiry_date().into(),
            address,
            photo_bytes: contents.photo.len(),
            holder_certificate: None,
            authentication_certificate: None,
            traffic: applet.traffic(),
        })?;
        value["holder_certificate"] = holder.into();
        if let Some(Ok((login, _))) = contents.parse_authentication() {
            if let Ok(pem) = cert::to_pem(&login) {
                value["authentication_certificate"] = pem.into();
            }
        }
        output::json(&value)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![
        (
            "card",
            format!("{} ({})", shown(&contents.serial), contents.lifecycle),
        ),
        ("national code", shown(identity.national_code())),
        (
            "name",
            format!(
                "{}  ({} {})",
                rtl(&format!(
                    "{} {}",
                    identity.given_name_fa(),
                    identity.surname_fa()
                )),
                shown(identity.given_name_latin()),
                shown(identity.surname_latin())
            ),
        ),
        (
            "father's name",
            format!(
                "{}  ({})",
                rtl(identity.father_name_fa().as_str()),
                shown(identity.father_name_latin())
            ),
        ),
        ("gender", format!("{:?}", identity.gender())),
        ("birth date", date(identity.birth_date())),
        (
            "birth place",
            match identity.birth_place_latin() {
                Some(latin) => format!(
                    "{}  ({})",
                    rtl(identity.birth_place_fa().as_str()),
                    shown(latin)
                ),
                None => rtl(identity.birth_place_fa().as_str()),
            },
        ),
        ("certificate no.", shown(identity.certificate_number())),
        ("issued", date(identity.issue_date())),
        ("expires", date(identity.expiry_date())),
        ("postal code", shown(address.postal_code())),
    ];
    if let Some(text) = address.text() {
        rows.push(("address", rtl(text.as_str())));
    }
    rows.push(("photo", format!("{} bytes JPEG", contents.photo.len())));
    output::rows(&rows);
    Ok(ExitCode::SUCCESS)
}

/// Writes the photo, certificates and identity into `dir` (created if missing). Everything is
/// decoded first, so a card whose data do not parse leaves nothing behind.
fn write_out(
    dir: &Path,
    contents: &CardContents,
    identity: &Identity,
    png: bool,
) -> Result<(), Failure> {
    let mut files: Vec<(String, Vec<u8>)> = vec![("photo.jpg".into(), contents.photo.to_vec())];
    if png {
        let image = image::load_from_memory_with_format(&contents.photo, image::ImageFormat::Jpeg)
            .map_err(|e| card_error(format!("the card's photo does not decode as JPEG: {e}")))?;
        let mut bytes = Vec::new();
        image
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .map_err(|e| Failure::card(format!("could not encode the photo as PNG: {e}")))?;
        files.push(("photo.png".into(), bytes));
    }
    let (holder, cas) = contents.parse_certificates().map_err(card_error)?;
    let pem = |c: &melli::pki::Certificate| cert::to_pem(c).map_err(card_error);
    files.push(("holder.pem".into(), pem(&holder)?.into_bytes()));
    for (i, ca) in cas.iter().enumerate() {
        let name = if i == 0 {
            "signing-ca.pem".to_string()
        } else {
            format!("ca-{i}.pem")
        };
        files.push((name, pem(ca)?.into_bytes()));
    }
    // DG7 (a version 1.1 card): the login certificate, for a TLS client or a service.
    if let Some(parsed) = contents.parse_authentication() {
        let (login, _) = parsed.map_err(card_error)?;
        files.push(("authentication.pem".into(), pem(&login)?.into_bytes()));
    }
    let identity_json =
        serde_json::to_vec_pretty(identity).map_err(|e| Failure::card(e.to_string()))?;
    files.push(("identity.json".into(), identity_json));

    let io = |what: &Path, e: std::io::Error| {
        Failure::bad_input(format!(
            "cannot write {}: {e} — choose another --out folder",
            shown_path(what)
        ))
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    for (name, bytes) in &files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| io(&path, e))?;
    }
    Ok(())
}

/// The CRLs of `--crl`, each read through `input` (capped) and parsed: bad input otherwise.
pub fn read_crls(paths: &[std::path::PathBuf]) -> Result<Vec<CrlInput>, Failure> {
    paths
        .iter()
        .map(|path| {
            let bytes = melli::input::read(path, melli::input::Kind::Crl).map_err(|e| match e {
                melli::input::InputError::Io { source, .. } => Failure::bad_input(format!(
                    "--crl {}: {source} — check the path of the CRL",
                    shown_path(path)
                )),
                other => Failure::bad_input(format!("--crl {other}")),
            })?;
            let crl = parse_crl(&bytes).map_err(|e| {
                Failure::bad_input(format!(
                    "--crl {}: {} — give a CRL file (melli issuer crl)",
                    shown_path(path),
                    escaped(&e)
                ))
            })?;
            Ok(CrlInput {
                label: shown_path(path),
                crl,
            })
        })
        .collect()
}

/// A CRL refused by the revocation check: bad input.
pub fn crl_refused(e: CrlRefused) -> Failure {
    Failure::bad_input(format!(
        "--crl {} — give the CRLs this issuer published (melli issuer crl)",
        escaped(&e.to_string())
    ))
}

pub fn verify(
    reader: Option<&str>,
    trust: &Path,
    finger: Option<&Path>,
    json: bool,
) -> Result<ExitCode, Failure> {
    let none = crate::cli::RevocationArgs::default();
    verify_with(reader, trust, finger, &none, json)
}

/// `melli verify`, with `--crl` when given.
pub fn verify_with(
    reader: Option<&str>,
    trust: &Path,
    finger: Option<&Path>,
    revocation_args: &crate::cli::RevocationArgs,
    json: bool,
) -> Result<ExitCode, Failure> {
    let root = trust_anchor(trust)?;
    let crls = read_crls(&revocation_args.crl)?;
    let live = match finger {
        Some(path) => {
            let bytes = melli::input::read(path, melli::input::Kind::Fingerprint).map_err(|e| {
                let next = match e {
                    melli::input::InputError::Io { .. } => {
                        "check the path of the live fingerprint record"
                    }
                    _ => "give the scanner's ISO/IEC 19794-2 record",
                };
                Failure::bad_input(format!("--finger {e} — {next}"))
            })?;
            melli::model::FingerTemplate::parse(&bytes).map_err(|e| {
                Failure::bad_input(format!(
                    "--finger {}: {e} — scan the finger again and give the scanner's \
                     ISO/IEC 19794-2 record",
                    shown_path(path)
                ))
            })?;
            Some(bytes)
        }
        None => None,
    };
    let mut applet = Applet::select(PcscTransport::connect(reader)?)?;
    let (contents, verdict) =
        check_card(&mut applet, &root, &crls, revocation_args, live.as_deref())?;
    if json {
        output::json(&output::json_from_outside(&serde_json::json!({
            "serial": contents.serial,
            "passed": verdict.passed(),
            "checks": verdict.checks,
            "traffic": applet.traffic(),
        }))?)?;
    } else {
        println!("card {}", shown(&contents.serial));
        // One line per check, whatever its detail quotes from the card.
        for check in &verdict.checks {
            println!("{}", shown(check));
        }
        println!(
            "verdict: {}",
            if verdict.passed() {
                "GENUINE — every check passed"
            } else {
                "NOT VERIFIED — see the failed checks"
            }
        );
    }
    Ok(if verdict.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::CHECK_FAILED)
    })
}

/// Reads the card in one pass and verifies it as `melli verify` does: an issued card (not
/// blank, not half-personalized), every check of [`verify_card`] now (with the live finger when
/// given), and "revocation" when `revocation_args` name a source (`crls`: the `--crl` files
/// read by [`read_crls`]). Also the checks of `melli desk` for each card put in.
pub fn check_card<T: Transport>(
    applet: &mut Applet<T>,
    root: &Certificate,
    crls: &[CrlInput],
    revocation_args: &crate::cli::RevocationArgs,
    live: Option<&[u8]>,
) -> Result<(CardContents, Verdict), Failure> {
    let contents = read_card(applet)?;
    require_issued(&contents.serial, contents.lifecycle)?;
    let now = SystemTime::now();
    let mut verdict = verify_card(applet, &contents, root, live, now)?;
    name_remedies(&mut verdict);
    let sources = revocation_args.sources(crls);
    if sources.any() {
        verdict.push(
            revocation(
                &contents,
                root,
                &sources,
                now,
                revocation_args.allow_unknown_revocation,
            )
            .map_err(crl_refused)?,
        );
        crate::cli::revocation_remedy(&mut verdict);
    }
    Ok((contents, verdict))
}

/// Each failed check that has a remedy of its own gets the command for it.
fn name_remedies(verdict: &mut Verdict) {
    for check in &mut verdict.checks {
        match check.remedy {
            Some(Remedy::UnblockFinger) => check.detail.push_str(" (melli pin unblock-finger)"),
            None => {}
        }
    }
}

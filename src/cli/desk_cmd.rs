//! `melli read` and `melli verify`: what a desk does with a citizen's card. Both read the card
//! once (`read_card`: the SELECT, then one READ BINARY per file); `verify --show` prints what
//! `read` would from that same reading.

use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

use melli::applet::{Applet, Lifecycle};
use melli::display::escaped;
use melli::model::{Address, Identity, JalaliDate};
use melli::ops::read::{read_card, CardContents};
use melli::ops::verify::{revocation, verify_card};
use melli::pki::revocation::{parse_crl, CrlInput, CrlRefused};
use melli::pki::{cert, read_trust_anchor, Certificate, PkiError, Remedy, Verdict};
use melli::transport::PcscTransport;

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

/// The holder's data as `melli read --json` shows them.
#[derive(serde::Serialize)]
struct HolderJson<'a> {
    serial: &'a str,
    lifecycle: String,
    identity: &'a Identity,
    birth_date: DateJson,
    issue_date: DateJson,
    expiry_date: DateJson,
    address: &'a Address,
    photo_bytes: usize,
    holder_certificate: Option<String>,
    /// DG7's login certificate (a version 1.1 card), PEM.
    #[serde(skip_serializing_if = "Option::is_none")]
    authentication_certificate: Option<String>,
}

/// The holder's data decoded from the card's DG1 and DG4: what `read` shows, and `verify
/// --show` above its verdict.
struct Holder {
    identity: Identity,
    address: Address,
}

impl Holder {
    /// DG1 and DG4 of `contents`, or the first that does not decode.
    fn of(contents: &CardContents) -> Result<Holder, melli::ops::read::GroupError> {
        Ok(Holder {
            identity: contents.parse_identity()?,
            address: contents.parse_address()?,
        })
    }

    /// As JSON, every string from the card escaped; then the certificates, PEM that melli
    /// wrote from their DER, whose line breaks are meant.
    fn json(&self, contents: &CardContents) -> Result<serde_json::Value, Failure> {
        let identity = &self.identity;
        let mut value = output::json_from_outside(&HolderJson {
            serial: &contents.serial,
            lifecycle: contents.lifecycle.to_string(),
            identity,
            birth_date: identity.birth_date().into(),
            issue_date: identity.issue_date().into(),
            expiry_date: identity.expiry_date().into(),
            address: &self.address,
            photo_bytes: contents.photo.len(),
            holder_certificate: None,
            authentication_certificate: None,
        })?;
        value["holder_certificate"] = contents
            .parse_certificates()
            .ok()
            .and_then(|(holder, _)| cert::to_pem(&holder).ok())
            .into();
        if let Some(Ok((login, _))) = contents.parse_authentication() {
            if let Ok(pem) = cert::to_pem(&login) {
                value["authentication_certificate"] = pem.into();
            }
        }
        Ok(value)
    }

    /// As `label  value` rows, every value from the card escaped and Persian text isolated.
    fn rows(&self, contents: &CardContents) -> Vec<(&'static str, String)> {
        let (identity, address) = (&self.identity, &self.address);
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
        rows
    }
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
    let holder = Holder::of(&contents).map_err(card_error)?;
    if let Some(dir) = out {
        write_out(dir, &contents, &holder.identity, png)?;
    }
    if json {
        let mut value = holder.json(&contents)?;
        // What crossed the reader: APDUs and bytes each way.
        value["traffic"] = serde_json::to_value(applet.traffic())
            .map_err(|e| Failure::card(format!("could not format JSON: {e}")))?;
        output::json(&value)?;
        return Ok(ExitCode::SUCCESS);
    }
    output::rows(&holder.rows(&contents));
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
    verify_with(reader, trust, finger, &none, false, json)
}

/// `melli verify`, with `--crl` when given, and with `show` (`--show`) the holder's data as
/// `melli read` prints them, above the verdict, from the same reading of the card.
pub fn verify_with(
    reader: Option<&str>,
    trust: &Path,
    finger: Option<&Path>,
    revocation_args: &crate::cli::RevocationArgs,
    show: bool,
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
    let contents = read_card(&mut applet)?;
    require_issued(&contents.serial, contents.lifecycle)?;
    let now = SystemTime::now();
    let mut verdict = verify_card(&mut applet, &contents, &root, live.as_deref(), now)?;
    name_remedies(&mut verdict);
    let sources = revocation_args.sources(&crls);
    if sources.any() {
        verdict.push(
            revocation(
                &contents,
                &root,
                &sources,
                now,
                revocation_args.allow_unknown_revocation,
            )
            .map_err(crl_refused)?,
        );
        crate::cli::revocation_remedy(&mut verdict);
    }
    // The holder's data, when asked: a DG1 or DG4 that does not decode is said in their place
    // (the verdict names it too), and the verdict is given all the same.
    let holder = show.then(|| Holder::of(&contents));
    if json {
        let mut value = output::json_from_outside(&serde_json::json!({
            "serial": contents.serial,
            "passed": verdict.passed(),
            "checks": verdict.checks,
            "traffic": applet.traffic(),
        }))?;
        match &holder {
            Some(Ok(holder)) => value["holder"] = holder.json(&contents)?,
            Some(Err(e)) => {
                value["holder"] = serde_json::Value::Null;
                value["holder_error"] = escaped(&e.to_string()).into();
            }
            None => {}
        }
        output::json(&value)?;
    } else {
        match &holder {
            Some(Ok(holder)) => {
                output::rows(&holder.rows(&contents));
                println!();
            }
            Some(Err(e)) => println!("holder: cannot be shown — {}\n", escaped(&e.to_string())),
            None => {}
        }
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

/// Each failed check that has a remedy of its own gets the command for it.
fn name_remedies(verdict: &mut Verdict) {
    for check in &mut verdict.checks {
        match check.remedy {
            Some(Remedy::UnblockFinger) => check.detail.push_str(" (melli pin unblock-finger)"),
            None => {}
        }
    }
}

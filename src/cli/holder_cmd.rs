//! `melli sign`, `melli verify-signature` and `melli pin`: the citizen's commands.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use zeroize::Zeroizing;

use melli::applet::Applet;
use melli::model::{Secret, SecretKind};
use melli::ops::sign::{hash_file, sign_digest, verify_signature, SignError};
use melli::transport::PcscTransport;

use crate::cli::desk_cmd::{require_issued, trust_anchor};
use crate::cli::output;
use crate::cli::{exit, Failure};

/// Where secrets come from: the terminal without echo, or stdin one per line (scripts).
pub struct SecretInput {
    stdin: bool,
    lines: Option<std::io::Lines<std::io::StdinLock<'static>>>,
}

impl SecretInput {
    pub fn new(stdin: bool) -> Result<Self, Failure> {
        if !stdin && !std::io::stdin().is_terminal() {
            return Err(Failure::bad_input(
                "no terminal to ask for the PIN: pass it on stdin with --pin-stdin",
            ));
        }
        Ok(SecretInput { stdin, lines: None })
    }

    /// Reads one secret, checked for its kind. `label` names it in the prompt.
    pub fn read(&mut self, kind: SecretKind, label: &str) -> Result<Secret, Failure> {
        let text = if self.stdin {
            let lines = self
                .lines
                .get_or_insert_with(|| std::io::stdin().lock().lines());
            Zeroizing::new(
                lines
                    .next()
                    .transpose()
                    .map_err(|e| Failure::bad_input(format!("reading stdin: {e}")))?
                    .ok_or_else(|| {
                        Failure::bad_input(format!(
                            "stdin ended before the {label} — give each secret on its own line, \
                             in the order they are asked"
                        ))
                    })?,
            )
        } else {
            Zeroizing::new(
                rpassword::prompt_password(format!("{label}: "))
                    .map_err(|e| Failure::bad_input(format!("reading the {label}: {e}")))?,
            )
        };
        Secret::parse(kind, &text).map_err(|e| Failure::bad_input(format!("{label}: {e}")))
    }
}

fn sign_failure(e: SignError) -> Failure {
    match e {
        SignError::Pin(pin) => Failure::card(pin.to_string()),
        other => Failure::card(other.to_string()),
    }
}

pub fn sign(
    file: &Path,
    out: Option<&Path>,
    reader: Option<&str>,
    pin_stdin: bool,
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
        Err(e @ SignError::Certificates(_)) => {
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
    write_atomically(&out, &p7s)?;
    if json {
        output::json(&serde_json::json!({
            "file": shown_path(file),
            "signature": shown_path(&out),
            "sha256": hex::encode(digest),
        }))?;
    } else {
        println!("signed {} → {}", shown_path(file), shown_path(&out));
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
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

pub fn verify_signature_cmd(
    file: &Path,
    p7s: &Path,
    trust: &Path,
    json: bool,
) -> Result<ExitCode, Failure> {
    let root = trust_anchor(trust)?;
    let signature = std::fs::read(p7s).map_err(|e| {
        Failure::bad_input(format!(
            "cannot read {}: {e} — check the path of the signature",
            p7s.display()
        ))
    })?;
    let digest = hash_file(file).map_err(|e| {
        Failure::bad_input(format!(
            "cannot read {}: {e} — check the path of the signed file",
            file.display()
        ))
    })?;
    let report = verify_signature(&signature, &digest, &root, SystemTime::now());
    let passed = report.verdict.passed();
    if json {
        output::json(&serde_json::json!({
            "passed": passed,
            "signer": report.signer,
            "claimed_signing_time": report.claimed_signing_time,
            "chain_checked_at": report.chain_checked_at,
            "checks": report.verdict.checks,
        }))?;
    } else {
        if let Some(signer) = &report.signer {
            println!(
                "signer        \u{2067}{}\u{2069}  ({}), national code {}",
                escaped(&signer.full_name_fa),
                escaped(&signer.common_name()),
                escaped(&signer.national_code)
            );
        }
        match &report.claimed_signing_time {
            Some(time) => {
                println!("signing time claimed by the signer: {time} (a claim, not used to judge)")
            }
            None => println!("signing time claimed by the signer: none"),
        }
        println!(
            "chain checked at {} ({})",
            report.chain_checked_at.time, report.chain_checked_at.reason
        );
        for check in &report.verdict.checks {
            println!("{}", escaped(&check.to_string()));
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

/// Text that came inside a signature (names in certificates, and details quoting them) as
/// printed on a terminal: control characters, line and paragraph separators and the
/// invisible direction and format marks that could disguise it are shown as `\u{…}`. ZWNJ,
/// which Persian names need, stays.
fn escaped(text: &str) -> String {
    text.chars()
        .map(|c| {
            let hidden = c.is_control()
                || matches!(
                    c,
                    '\u{200B}'
                        | '\u{200E}'
                        | '\u{200F}'
                        | '\u{2028}'..='\u{202E}'
                        | '\u{2066}'..='\u{2069}'
                        | '\u{FEFF}'
                );
            if hidden {
                format!("\\u{{{:04X}}}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `melli pin status|change|unblock|unblock-finger`.
pub fn pin(
    action: PinAction,
    reader: Option<&str>,
    stdin: bool,
    json: bool,
) -> Result<ExitCode, Failure> {
    let mut applet = Applet::select(PcscTransport::connect(reader)?)?;
    if !matches!(action, PinAction::Status) {
        // A card without PIN and PUK would only answer "conditions of use not satisfied".
        let serial = applet.serial()?;
        require_issued(&serial, applet.lifecycle()?)?;
    }
    match action {
        PinAction::Status => {
            let counters = applet.retry_counters()?;
            if json {
                output::json(&counters)?;
            } else {
                output::rows(&[
                    ("PIN tries left", counters.pin.to_string()),
                    ("PUK tries left", counters.puk.to_string()),
                    ("fingerprint tries left", counters.finger.to_string()),
                ]);
            }
        }
        PinAction::Change => {
            let mut secrets = SecretInput::new(stdin)?;
            let old = secrets.read(SecretKind::Pin, "current PIN")?;
            let new = secrets.read(SecretKind::Pin, "new PIN")?;
            applet
                .change_pin(&old, &new)?
                .map_err(|e| Failure::card(e.to_string()))?;
            println!("PIN changed");
        }
        PinAction::Unblock => {
            let mut secrets = SecretInput::new(stdin)?;
            let puk = secrets.read(SecretKind::Puk, "PUK")?;
            let new = secrets.read(SecretKind::Pin, "new PIN")?;
            applet
                .unblock_pin(&puk, &new)?
                .map_err(|e| Failure::card(e.to_string()))?;
            println!("PIN unblocked and set");
        }
        PinAction::UnblockFinger => {
            let mut secrets = SecretInput::new(stdin)?;
            let puk = secrets.read(SecretKind::Puk, "PUK")?;
            applet
                .unblock_finger(&puk)?
                .map_err(|e| Failure::card(e.to_string()))?;
            println!("fingerprint unblocked: its tries are back");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PinAction {
    /// Tries left for the PIN, the PUK and the fingerprint.
    Status,
    /// Change the PIN (asks for the current one and the new one).
    Change,
    /// Unblock the PIN with the PUK and set a new PIN.
    Unblock,
    /// Give the fingerprint its tries back with the PUK, after too many misses at a desk.
    UnblockFinger,
}

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn text_from_a_signature_is_shown_escaped() {
        // A right-to-left override would show "Ali Rezaei\u{202E}gpj.exe" reversed; a newline
        // would forge a line of the verdict. ZWNJ stays: Persian names need it.
        assert_eq!(
            escaped("Ali\u{202E}gpj\nPASS  signature"),
            "Ali\\u{202E}gpj\\u{000A}PASS  signature"
        );
        assert_eq!(escaped("علی‌رضا"), "علی‌رضا");
        assert_eq!(escaped("a\u{2069}b\u{FEFF}"), "a\\u{2069}b\\u{FEFF}");
    }
}

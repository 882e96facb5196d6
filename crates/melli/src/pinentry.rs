//! Asking the holder for a PIN through a pinentry program (GnuPG's PIN dialog), for programs
//! whose stdin and stdout are not a terminal: the Web eID native-messaging host (the browser
//! owns its stdin and stdout) and the PKCS#11 module's protected authentication path.
//!
//! A pinentry speaks the Assuan protocol on its stdin and stdout, one line at a time: it
//! greets with `OK`; each command (`SETTITLE`, `SETDESC`, `SETPROMPT`, `SETERROR`,
//! `SETTIMEOUT`, `GETPIN`, `BYE`) is answered with `OK` or `ERR CODE TEXT`; `GETPIN` first sends
//! the typed PIN as one or more `D` lines. In both directions `%`, CR and LF (here: every
//! control character) are written as `%XX`. Lines starting with `#` (comments) and `S` (status)
//! may come at any time and are skipped.
//!
//! Everything the program answers is treated as hostile: lines are capped at
//! [`MAX_LINE`] bytes, an answer at [`MAX_LINES`] lines, the PIN at [`MAX_PIN`] bytes; it
//! lives in zeroizing buffers only; a program that does not answer within the request's
//! timeout (plus a grace period) is killed. The child is always reaped.
//!
//! Debian's `pinentry` is an alternatives link to pinentry-gnome3, -qt, -gtk2, -curses or
//! -tty. The graphical ones need `DISPLAY` or `WAYLAND_DISPLAY` in the environment, which the
//! child inherits.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use zeroize::{Zeroize, Zeroizing};

/// Longest line read from the program, in bytes (Assuan's own limit is 1 000).
pub const MAX_LINE: usize = 4096;
/// Most lines one answer may take (comments and status lines included).
pub const MAX_LINES: usize = 64;
/// Longest PIN taken, in bytes after percent-decoding.
pub const MAX_PIN: usize = 256;
/// Longest text of one command sent (title, description, prompt, error), in bytes before
/// escaping; longer text is cut at a character boundary and ends in `…`.
pub const MAX_TEXT: usize = 600;
/// How long the holder has when the request names no timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a program may take beyond the timeout it was given before it is killed.
const GRACE: Duration = Duration::from_secs(5);

/// What the dialog shows. Every text is plain text (any characters; it is escaped here), so
/// a caller may put strings from outside in it; it should still say which key and what for
/// (for example "log in to https://e.gov.ir").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinRequest {
    /// The window title.
    pub title: String,
    /// The explanation above the entry field; `\n` starts a new line.
    pub description: String,
    /// The label of the entry field, such as `PIN:`.
    pub prompt: String,
    /// Shown as an error above the field (for example after a wrong PIN), if any.
    pub error: Option<String>,
    /// How long the holder has; the pinentry cancels after it. [`DEFAULT_TIMEOUT`] when
    /// `None`.
    pub timeout: Option<Duration>,
}

/// Why no PIN came back.
#[derive(Debug, thiserror::Error)]
pub enum PinentryError {
    /// The holder pressed Cancel or closed the dialog.
    #[error("the PIN entry was cancelled")]
    Cancelled,
    /// Nobody answered within the timeout.
    #[error("no PIN was entered in time")]
    TimedOut,
    /// The program does not exist.
    #[error(
        "the pinentry program {program} was not found — install one (Debian: apt install \
         pinentry-gnome3, or pinentry-qt, pinentry-curses) or name another"
    )]
    NotFound { program: String },
    /// The program could not be started or talked to.
    #[error("the pinentry program {program} failed: {detail}")]
    Failed { program: String, detail: String },
    /// The program answered something that is not the Assuan protocol.
    #[error("the pinentry program {program} does not speak the pinentry protocol: {detail}")]
    Protocol { program: String, detail: String },
    /// The program refused a command with an error other than cancel or timeout.
    #[error("the pinentry program {program} refused {command}: {detail}")]
    Refused {
        program: String,
        command: &'static str,
        detail: String,
    },
}

/// Assuan error codes (libgpg-error): the low 16 bits of the code `ERR` carries; the source
/// (pinentry: 5) is in the high byte.
mod code {
    pub const TIMEOUT: u32 = 62;
    pub const CANCELED: u32 = 99;
    pub const FULLY_CANCELED: u32 = 198;
}

/// Asks for a PIN with the pinentry `program` (a path, or a name looked up in `PATH`), showing
/// `request`; returns what the holder typed, unchecked (the caller knows the PIN's rules), in
/// memory that is wiped when dropped.
///
/// Blocks until the holder answers, cancels ([`PinentryError::Cancelled`]) or the timeout ends
/// ([`PinentryError::TimedOut`]). A missing program is [`PinentryError::NotFound`]. The
/// program is ended (`BYE`, then killed if it lingers) and reaped before this returns.
///
/// Free of any terminal, card or PC/SC concern: a CLI, the native-messaging host and the
/// PKCS#11 module call it alike. One caveat for a library loaded into another program: a
/// write to a pinentry that died raises `SIGPIPE`, which Rust programs ignore but a C host
/// program may not; such a host should ignore `SIGPIPE` (most browsers do).
pub fn ask(program: &Path, request: &PinRequest) -> Result<Zeroizing<String>, PinentryError> {
    let name = crate::display::escaped(&program.display().to_string());
    let mut child = Command::new(program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => PinentryError::NotFound {
                program: name.clone(),
            },
            _ => PinentryError::Failed {
                program: name.clone(),
                detail: e.to_string(),
            },
        })?;
    let result = converse(&mut child, &name, request);
    finish(&mut child);
    result
}

/// The conversation, once the child runs.
fn converse(
    child: &mut Child,
    name: &str,
    request: &PinRequest,
) -> Result<Zeroizing<String>, PinentryError> {
    let failed = |detail: String| PinentryError::Failed {
        program: name.to_string(),
        detail,
    };
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(failed("no pipe to the program".into()));
    };
    let timeout = request.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let mut session = Session {
        name,
        stdin,
        lines: spawn_reader(stdout),
        deadline: Instant::now() + timeout + GRACE,
    };
    session.answer("the greeting")?;
    session.command("SETTITLE", &request.title)?;
    session.command("SETDESC", &request.description)?;
    session.command("SETPROMPT", &request.prompt)?;
    if let Some(error) = &request.error {
        session.command("SETERROR", error)?;
    }
    session.command("SETTIMEOUT", &timeout.as_secs().max(1).to_string())?;
    session.send("GETPIN", None)?;
    let pin = session.answer("GETPIN")?;
    // Polite end; the child is killed anyway if it does not go.
    let _ = session.send("BYE", None);
    let pin = String::from_utf8(pin.to_vec()).map_err(|e| {
        let mut bytes = e.into_bytes();
        bytes.zeroize();
        PinentryError::Protocol {
            program: name.to_string(),
            detail: "the PIN it returned is not UTF-8".into(),
        }
    })?;
    Ok(Zeroizing::new(pin))
}

/// One line from the program, or why there is none.
enum Line {
    Text(Zeroizing<Vec<u8>>),
    TooLong,
    Failed(String),
}

/// Reads the program's lines on a thread of its own, so that the caller can wait with a
/// deadline. The thread ends when the program closes its stdout (it is killed at the end).
fn spawn_reader(stdout: std::process::ChildStdout) -> Receiver<Line> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut line = Zeroizing::new(Vec::new());
            let read = (&mut reader)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut line);
            let item = match read {
                Ok(0) => break,
                Ok(_) if line.len() > MAX_LINE => Line::TooLong,
                Ok(_) => {
                    while matches!(line.last(), Some(b'\n' | b'\r')) {
                        line.pop();
                    }
                    Line::Text(line)
                }
                Err(e) => Line::Failed(e.to_string()),
            };
            let stop = !matches!(item, Line::Text(_));
            if sender.send(item).is_err() || stop {
                break;
            }
        }
    });
    receiver
}

struct Session<'a> {
    name: &'a str,
    stdin: ChildStdin,
    lines: Receiver<Line>,
    deadline: Instant,
}

impl Session<'_> {
    fn protocol(&self, detail: impl Into<String>) -> PinentryError {
        PinentryError::Protocol {
            program: self.name.to_string(),
            detail: detail.into(),
        }
    }

    /// Sends `VERB` or `VERB escaped-text` as one line.
    fn send(&mut self, verb: &'static str, text: Option<&str>) -> Result<(), PinentryError> {
        let mut line = Zeroizing::new(String::from(verb));
        if let Some(text) = text {
            line.push(' ');
            line.push_str(&escape(&cut(text, MAX_TEXT)));
        }
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .and_then(|()| self.stdin.flush())
            .map_err(|e| PinentryError::Failed {
                program: self.name.to_string(),
                detail: format!("writing {verb}: {e}"),
            })
    }

    /// Sends a command with text and waits for its `OK`.
    fn command(&mut self, verb: &'static str, text: &str) -> Result<(), PinentryError> {
        self.send(verb, Some(text))?;
        self.answer(verb).map(drop)
    }

    /// Reads an answer up to its `OK` (returning the data of its `D` lines, decoded) or its
    /// `ERR`.
    fn answer(&mut self, command: &'static str) -> Result<Zeroizing<Vec<u8>>, PinentryError> {
        let mut data = Zeroizing::new(Vec::new());
        for _ in 0..MAX_LINES {
            let wait = self.deadline.saturating_duration_since(Instant::now());
            let line = match self.lines.recv_timeout(wait) {
                Ok(Line::Text(line)) => line,
                Ok(Line::TooLong) => {
                    return Err(self.protocol(format!("a line longer than {MAX_LINE} bytes")))
                }
                Ok(Line::Failed(e)) => return Err(self.protocol(format!("reading: {e}"))),
                Err(RecvTimeoutError::Timeout) => return Err(PinentryError::TimedOut),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.protocol(format!("it ended before answering {command}")))
                }
            };
            if line.as_slice() == b"OK" || line.starts_with(b"OK ") {
                return Ok(data);
            }
            if let Some(payload) = line.strip_prefix(b"D ") {
                unescape_into(payload, &mut data).map_err(|why| self.protocol(why))?;
                if data.len() > MAX_PIN {
                    return Err(self.protocol(format!("more than {MAX_PIN} bytes of data")));
                }
                continue;
            }
            if line.as_slice() == b"ERR" || line.starts_with(b"ERR ") {
                return Err(self.error(command, &line[3..]));
            }
            if line.starts_with(b"#") || line.as_slice() == b"S" || line.starts_with(b"S ") {
                continue;
            }
            if line.starts_with(b"INQUIRE") {
                // Nothing here asks for inquiries; end it so the program goes on.
                self.send("CAN", None)?;
                continue;
            }
            let shown = crate::display::escaped_cut(&String::from_utf8_lossy(&line), 80);
            return Err(self.protocol(format!("unexpected line {shown:?} after {command}")));
        }
        Err(self.protocol(format!(
            "more than {MAX_LINES} lines in answer to {command}"
        )))
    }

    /// The error of an `ERR CODE TEXT` line.
    fn error(&self, command: &'static str, rest: &[u8]) -> PinentryError {
        let rest = String::from_utf8_lossy(rest);
        let rest = rest.trim();
        let (number, text) = rest.split_once(' ').unwrap_or((rest, ""));
        match number.parse::<u32>().map(|n| n & 0xFFFF) {
            Ok(code::CANCELED | code::FULLY_CANCELED) => PinentryError::Cancelled,
            Ok(code::TIMEOUT) => PinentryError::TimedOut,
            _ => PinentryError::Refused {
                program: self.name.to_string(),
                command,
                detail: crate::display::escaped_cut(&format!("ERR {number} {text}"), 200),
            },
        }
    }
}

/// Ends the program: its stdin closed (it sees end of file), a short wait, then a kill; always
/// reaped.
fn finish(child: &mut Child) {
    drop(child.stdin.take());
    let until = Instant::now() + Duration::from_millis(500);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return,
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(10)),
            _ => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `text`, cut to at most `max` bytes at a character boundary (then ending in `…`).
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Assuan's percent-escaping of a command's text: `%` and every control character (CR and LF
/// included) as `%XX`; hidden Unicode characters (bidi overrides and the like) are shown by
/// code point, so a hostile string cannot rearrange the dialog's text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '%' || c.is_control() && (c as u32) < 0x100 {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else if crate::display::is_hidden(c) {
            out.push_str(&format!("<U+{:04X}>", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Decodes the `%XX` escapes of a `D` line's payload, appending to `out`.
fn unescape_into(payload: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut i = 0;
    while i < payload.len() {
        if payload[i] == b'%' {
            let hex = payload
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a broken %XX escape in its data")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(payload[i]);
            i += 1;
        }
    }
    Ok(())
}

/// The pinentry program to use: `configured` when given, else the `MELLI_PINENTRY`
/// environment variable when set and not empty, else `pinentry` (found in `PATH`).
pub fn program(configured: Option<&Path>) -> PathBuf {
    if let Some(path) = configured {
        return path.to_path_buf();
    }
    match std::env::var_os("MELLI_PINENTRY") {
        Some(value) if !value.is_empty() => PathBuf::from(value),
        _ => PathBuf::from("pinentry"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pinentry in sh: greets, logs every command to `log`, answers GETPIN with the
    /// content of `pin` (a file), or with `ERR` when the file holds `cancel` or `timeout`.
    fn fake_pinentry(dir: &Path, behaviour: &str) -> PathBuf {
        let script = dir.join("pinentry");
        let text = format!(
            r#"#!/bin/sh
cd "{dir}"
{behaviour}
"#,
            dir = dir.display()
        );
        std::fs::write(&script, text).expect("write the script");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .expect("chmod the script");
        script
    }

    const SPEAKS_ASSUAN: &str = r##"echo "OK Pleased to meet you"
while IFS= read -r line; do
  printf '%s\n' "$line" >> log
  case "$line" in
    GETPIN)
      answer=$(cat pin)
      case "$answer" in
        cancel) echo "ERR 83886179 Operation cancelled <Pinentry>" ;;
        timeout) echo "ERR 83886142 Timeout <Pinentry>" ;;
        *) echo "# a comment"; echo "S PROGRESS x"; printf 'D %s\n' "$answer"; echo OK ;;
      esac ;;
    BYE) echo "OK closing connection"; exit 0 ;;
    *) echo OK ;;
  esac
done"##;

    fn request() -> PinRequest {
        PinRequest {
            title: "melli".into(),
            description: "Log in to https://e.gov.ir\n100% sure".into(),
            prompt: "PIN:".into(),
            error: None,
            timeout: Some(Duration::from_secs(30)),
        }
    }

    #[test]
    fn pinentry_returns_the_typed_pin_and_escapes_what_it_shows() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("pin"), "12%2534\n").expect("pin file");
        let program = fake_pinentry(dir.path(), SPEAKS_ASSUAN);
        let mut req = request();
        req.error = Some("wrong PIN\u{202E}: 2 tries left".into());
        let pin = ask(&program, &req).expect("a PIN");
        assert_eq!(pin.as_str(), "12%34");
        let log = std::fs::read_to_string(dir.path().join("log")).expect("log");
        assert!(log.contains("SETTITLE melli\n"), "{log}");
        assert!(
            log.contains("SETDESC Log in to https://e.gov.ir%0A100%25 sure\n"),
            "{log}"
        );
        assert!(log.contains("SETPROMPT PIN:\n"), "{log}");
        assert!(
            log.contains("SETERROR wrong PIN<U+202E>: 2 tries left\n"),
            "{log}"
        );
        assert!(log.contains("SETTIMEOUT 30\n"), "{log}");
        assert!(log.contains("GETPIN\n"), "{log}");
    }

    #[test]
    fn pinentry_cancel_and_timeout_are_told_apart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let program = fake_pinentry(dir.path(), SPEAKS_ASSUAN);
        std::fs::write(dir.path().join("pin"), "cancel").expect("pin file");
        assert!(matches!(
            ask(&program, &request()),
            Err(PinentryError::Cancelled)
        ));
        std::fs::write(dir.path().join("pin"), "timeout").expect("pin file");
        assert!(matches!(
            ask(&program, &request()),
            Err(PinentryError::TimedOut)
        ));
    }

    #[test]
    fn pinentry_missing_program_says_so() {
        let e = ask(Path::new("/nonexistent/pinentry-none"), &request()).expect_err("missing");
        assert!(matches!(e, PinentryError::NotFound { .. }), "{e}");
        assert!(e.to_string().contains("/nonexistent/pinentry-none"), "{e}");
        assert!(e.to_string().contains("apt install"), "{e}");
    }

    #[test]
    fn pinentry_that_is_not_one_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let program = fake_pinentry(dir.path(), "echo 'hello there'; sleep 5");
        let e = ask(&program, &request()).expect_err("not a pinentry");
        assert!(matches!(e, PinentryError::Protocol { .. }), "{e}");
        assert!(e.to_string().contains("hello there"), "{e}");
    }

    #[test]
    fn pinentry_endless_line_is_capped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let program = fake_pinentry(dir.path(), "head -c 100000 /dev/zero | tr '\\0' 'A'");
        let e = ask(&program, &request()).expect_err("too long");
        assert!(e.to_string().contains("longer than"), "{e}");
    }

    #[test]
    fn pinentry_that_dies_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().expect("temp dir");
        let program = fake_pinentry(dir.path(), "echo OK; read line; exit 0");
        let e = ask(&program, &request()).expect_err("died");
        assert!(e.to_string().contains("ended before"), "{e}");
    }

    #[test]
    fn pinentry_silent_program_times_out() {
        let dir = tempfile::tempdir().expect("temp dir");
        let program = fake_pinentry(dir.path(), "exec sleep 60");
        let mut req = request();
        // The deadline is the timeout plus the grace period.
        req.timeout = Some(Duration::from_millis(1));
        let started = Instant::now();
        let e = ask(&program, &req).expect_err("silent");
        assert!(matches!(e, PinentryError::TimedOut), "{e}");
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn pinentry_escape_and_unescape() {
        assert_eq!(escape("a%b\r\nc\u{7}"), "a%25b%0D%0Ac%07");
        assert_eq!(escape("ورود"), "ورود");
        let mut out = Vec::new();
        unescape_into(b"1%0A%25x", &mut out).expect("decodes");
        assert_eq!(out, b"1\n%x");
        assert!(unescape_into(b"1%G0", &mut Vec::new()).is_err());
        assert!(unescape_into(b"1%0", &mut Vec::new()).is_err());
    }
}

//! The bad-input table, `docs/bad-input.md`, row by row: every class of bad input a user, a file
//! or a card can give, run through the real `melli` against virtual cards behind pcscd + vpcd.
//!
//! The table is the single source of the expected messages: each test reads it, finds its rows
//! by id, checks that the command it runs is the one the row shows (with the volatile parts put
//! back as placeholders), and compares the exit code and the message (with the placeholders
//! filled in). An error must be exactly one line on stderr with nothing on stdout; a row with
//! exit 1 is a failed check, a `FAIL` line of the verdict on stdout with stderr empty. Where a
//! refusal must leave nothing behind (a card's state, a PIN mailer, a signature, an `--out`
//! folder), the test checks that too. `every_row_of_the_table_is_run` ties the table's ids to the
//! tests' lists, so a row without a test (or a test of a row that is gone) fails.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use crate::common::{
    mailer_path, melli, melli_stdin, note, other_issuer, personalize_with, personalized_card,
    read_mailer, read_state, root_pem, run_with_input, state_file_content, test_issuer,
    write_state, CardOptions, Mailer, Output, Pcscd, Vicc, VirtualCard, MELLI,
};

const TABLE: &str = "docs/bad-input.md";
const VALID: &str = "fixtures/records/valid-1.json";

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

/// One row of the table.
#[derive(Debug, Clone)]
struct Row {
    id: String,
    command: String,
    exit: i32,
    message: String,
}

fn rows() -> &'static [Row] {
    static ROWS: OnceLock<Vec<Row>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let text = fs::read_to_string(TABLE).unwrap_or_else(|e| panic!("cannot read {TABLE}: {e}"));
        parse_table(&text)
    })
}

/// The rows of every table whose first column is an id in backticks (the placeholder table has
/// two columns and is left out).
fn parse_table(text: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if !line.starts_with("| `") {
            continue;
        }
        let cells = split_cells(line);
        if cells.len() != 5 {
            continue;
        }
        let at = format!("{TABLE}:{}", n + 1);
        let id = code_span(&cells[0], &at);
        assert!(
            !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{at}: id {id:?} is not a slug"
        );
        let exit = cells[3]
            .parse()
            .unwrap_or_else(|_| panic!("{at}: exit code {:?} is not a number", cells[3]));
        rows.push(Row {
            id,
            command: code_span(&cells[2], &at),
            exit,
            message: code_span(&cells[4], &at),
        });
    }
    rows
}

/// The cells of a table line: split at `|` (not at `\|`, which is a `|` inside a cell), trimmed.
fn split_cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                cells.last_mut().expect("a cell").push('|');
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut().expect("a cell").push(c),
        }
    }
    cells.iter().map(|c| c.trim().to_string()).collect()
}

/// The text of a cell that is one code span: `` `text` ``, or ``` `` text `` ``` when the text
/// holds backticks (one space on each side is removed when both are there, as in CommonMark).
fn code_span(cell: &str, at: &str) -> String {
    let ticks = cell.chars().take_while(|&c| c == '`').count();
    assert!(
        ticks > 0 && cell.len() > 2 * ticks && cell.ends_with(&"`".repeat(ticks)),
        "{at}: {cell:?} is not one code span"
    );
    let inner = &cell[ticks..cell.len() - ticks];
    match inner.strip_prefix(' ').and_then(|s| s.strip_suffix(' ')) {
        Some(stripped) if !stripped.trim().is_empty() => stripped.to_string(),
        _ => inner.to_string(),
    }
}

fn row(id: &str) -> &'static Row {
    rows()
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no row {id:?} in {TABLE}"))
}

// ---------------------------------------------------------------------------------------------
// Placeholders
// ---------------------------------------------------------------------------------------------

/// What a placeholder stands for in one run.
#[derive(Debug, Clone)]
enum Var {
    /// Exactly this text.
    Is(String),
    /// A list of quoted reader names, `"a", "b"`, that includes each of these.
    Readers(Vec<String>),
}

enum Token<'a> {
    Text(&'a str),
    Var(&'a Var),
}

/// Splits a pattern at the placeholders that `vars` defines; other `<…>` stay text.
fn tokens<'a>(pattern: &'a str, vars: &'a [(&'static str, Var)]) -> Vec<Token<'a>> {
    let mut out = Vec::new();
    let mut text_start = 0;
    let mut i = 0;
    while i < pattern.len() {
        let hit = vars.iter().find(|(name, _)| {
            pattern[i..].starts_with('<') && pattern[i + 1..].starts_with(name) && {
                let end = i + 1 + name.len();
                pattern[end..].starts_with('>')
            }
        });
        match hit {
            Some((name, var)) => {
                if text_start < i {
                    out.push(Token::Text(&pattern[text_start..i]));
                }
                out.push(Token::Var(var));
                i += name.len() + 2;
                text_start = i;
            }
            None => i += pattern[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    if text_start < pattern.len() {
        out.push(Token::Text(&pattern[text_start..]));
    }
    out
}

/// Whether `text` is what `pattern` says once its placeholders are filled in from `vars`.
fn matches(pattern: &str, text: &str, vars: &[(&'static str, Var)]) -> bool {
    fn go(tokens: &[Token<'_>], text: &str) -> bool {
        let Some((first, rest)) = tokens.split_first() else {
            return text.is_empty();
        };
        match first {
            Token::Text(t) => text.strip_prefix(t).is_some_and(|r| go(rest, r)),
            Token::Var(Var::Is(value)) => text
                .strip_prefix(value.as_str())
                .is_some_and(|r| go(rest, r)),
            Token::Var(Var::Readers(required)) => text
                .char_indices()
                .map(|(i, c)| i + c.len_utf8())
                .any(|end| is_reader_list(&text[..end], required) && go(rest, &text[end..])),
        }
    }
    go(&tokens(pattern, vars), text)
}

fn is_reader_list(text: &str, required: &[String]) -> bool {
    let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
        return false;
    };
    let names: Vec<&str> = inner.split("\", \"").collect();
    names.iter().all(|n| !n.is_empty() && !n.contains('"'))
        && required.iter().all(|r| names.contains(&r.as_str()))
}

/// `text` with every exact value of `vars` written back as its placeholder (longest first).
fn placeholders(text: &str, vars: &[(&'static str, Var)]) -> String {
    let mut exact: Vec<(&str, &str)> = vars
        .iter()
        .filter_map(|(name, var)| match var {
            Var::Is(value) if !value.is_empty() => Some((*name, value.as_str())),
            _ => None,
        })
        .collect();
    exact.sort_by_key(|(_, value)| std::cmp::Reverse(value.len()));
    let mut out = text.to_string();
    for (name, value) in exact {
        out = out.replace(value, &format!("<{name}>"));
    }
    out
}

fn shell_word(word: &str) -> String {
    if word.is_empty() || word.contains(char::is_whitespace) {
        format!("\"{word}\"")
    } else {
        word.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Running a row
// ---------------------------------------------------------------------------------------------

/// A command line for a row: arguments, stdin, environment, and what the placeholders mean.
struct Case {
    args: Vec<String>,
    stdin: Option<Vec<String>>,
    env: Vec<(String, String)>,
    vars: Vec<(&'static str, Var)>,
}

fn case(args: &[&str]) -> Case {
    Case {
        args: args.iter().map(|a| a.to_string()).collect(),
        stdin: None,
        env: Vec::new(),
        vars: Vec::new(),
    }
}

impl Case {
    /// Lines on stdin (none: an empty stdin, as opposed to a closed one).
    fn stdin(mut self, lines: &[&str]) -> Self {
        self.stdin = Some(lines.iter().map(|l| l.to_string()).collect());
        self
    }

    fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    fn var(mut self, name: &'static str, value: impl AsRef<str>) -> Self {
        self.vars.push((name, Var::Is(value.as_ref().to_string())));
        self
    }

    fn readers(mut self, name: &'static str, required: &[&str]) -> Self {
        self.vars.push((
            name,
            Var::Readers(required.iter().map(|r| r.to_string()).collect()),
        ));
        self
    }

    /// The command as the table writes it.
    fn rendered(&self) -> String {
        let mut words: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_word(&placeholders(v, &self.vars))))
            .collect();
        words.push("melli".to_string());
        words.extend(
            self.args
                .iter()
                .map(|a| shell_word(&placeholders(a, &self.vars))),
        );
        let command = words.join(" ");
        match &self.stdin {
            None => command,
            Some(lines) if lines.is_empty() => format!("printf '' | {command}"),
            Some(lines) => {
                let lines: Vec<String> = lines
                    .iter()
                    .map(|l| shell_word(&placeholders(l, &self.vars)))
                    .collect();
                format!("printf '%s\\n' {} | {command}", lines.join(" "))
            }
        }
    }
}

/// A progress line of `melli personalize`: `[ 3/11] write DG2 photo`.
fn is_progress(line: &str) -> bool {
    line.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .is_some_and(|(count, _)| {
            count
                .trim()
                .split_once('/')
                .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok())
        })
}

/// The rows one test runs: it must run exactly these, each as its row says.
struct Table {
    ids: &'static [&'static str],
    ran: BTreeSet<&'static str>,
}

impl Table {
    fn new(ids: &'static [&'static str]) -> Self {
        Table {
            ids,
            ran: BTreeSet::new(),
        }
    }

    /// Runs row `id` as `case` says and checks it against the table; returns the output.
    fn run(&mut self, id: &'static str, case: Case) -> Output {
        assert!(
            self.ids.contains(&id),
            "{id} is not in this test's list of rows"
        );
        let row = row(id);
        let rendered = case.rendered();
        assert_eq!(
            rendered, row.command,
            "{id}: the command run differs from the table's"
        );
        let mut command = Command::new(MELLI);
        command.args(&case.args);
        for (k, v) in &case.env {
            command.env(k, v);
        }
        let input = case
            .stdin
            .as_ref()
            .map(|lines| lines.iter().map(|l| format!("{l}\n")).collect::<String>());
        let out = run_with_input(&mut command, input.as_deref(), Duration::from_secs(60));
        let shown = |line: &str| placeholders(line, &case.vars);
        assert_eq!(
            out.code, row.exit,
            "{id}: exit code {} instead of {}; {out:?}",
            out.code, row.exit
        );
        if row.exit == 1 {
            assert!(
                out.stderr.is_empty(),
                "{id}: a verdict with stderr: {out:?}"
            );
            assert!(
                out.stdout
                    .lines()
                    .any(|l| matches(&row.message, l, &case.vars)),
                "{id}: no line of the verdict is\n  {}\nverdict:\n{}",
                row.message,
                shown(&out.stdout)
            );
        } else {
            assert!(out.stdout.is_empty(), "{id}: an error with stdout: {out:?}");
            let errors: Vec<&str> = out
                .stderr
                .lines()
                .filter(|l| !is_progress(l) && !l.starts_with("warning: "))
                .collect();
            assert_eq!(
                errors.len(),
                1,
                "{id}: the error is not exactly one line: {out:?}"
            );
            assert!(
                matches(&row.message, errors[0], &case.vars),
                "{id}: the message differs from the table's\n table: {}\nactual: {}",
                row.message,
                shown(errors[0])
            );
        }
        self.ran.insert(id);
        out
    }

    /// A row this environment cannot run (said on stderr), counted as done.
    fn skip(&mut self, id: &'static str, why: &str) {
        note(&format!("bad_input: row {id} not run: {why}"));
        self.ran.insert(id);
    }

    /// Every row of the list was run.
    fn finish(self) {
        let wanted: BTreeSet<&str> = self.ids.iter().copied().collect();
        let missing: Vec<&&str> = wanted.difference(&self.ran).collect();
        assert!(missing.is_empty(), "rows not run: {missing:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

fn valid_record() -> serde_json::Value {
    let text = fs::read_to_string(VALID).expect("valid-1.json");
    serde_json::from_str(&text).expect("valid-1.json is JSON")
}

/// Writes `record` as `NAME.json` into `dir`, with absolute photo and fingerprint paths unless
/// the record sets its own; returns the path.
fn write_record(dir: &Path, name: &str, mut record: serde_json::Value) -> PathBuf {
    let here = std::env::current_dir().expect("cwd");
    for (field, fixture) in [
        ("photo", "fixtures/photos/face-1.jpg"),
        ("fingerprint", "fixtures/fingerprints/finger-1.fmr"),
    ] {
        if record[field].as_str().is_some_and(|p| p.starts_with("../")) {
            record[field] = path_str(&here.join(fixture)).into();
        }
    }
    let path = dir.join(format!("{name}.json"));
    fs::write(&path, serde_json::to_string_pretty(&record).expect("JSON")).expect("write record");
    path
}

/// `valid-1.json` with `field` set to `value`.
fn record_with(dir: &Path, name: &str, field: &str, value: &str) -> PathBuf {
    let mut record = valid_record();
    record[field] = value.into();
    write_record(dir, name, record)
}

/// A PNG that says it is `width`x`height` pixels of grey: enough for its header to be read
/// (the huge one is refused before its pixels are).
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut image = image::GrayImage::new(width.min(200), height.min(200));
    for p in image.pixels_mut() {
        p.0 = [128];
    }
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .expect("encode PNG");
    if width > 200 || height > 200 {
        // Rewrite IHDR's size (bytes 16..24) and its CRC (bytes 29..33).
        bytes[16..20].copy_from_slice(&width.to_be_bytes());
        bytes[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    }
    bytes
}

/// A 16-bit RGBA PNG whose header says `width`x`height` (its pixels are those of a 64x64
/// image): 8 bytes a pixel once decoded.
fn png16_rgba(width: u32, height: u32) -> Vec<u8> {
    let image = image::ImageBuffer::<image::Rgba<u16>, Vec<u16>>::from_pixel(
        64,
        64,
        image::Rgba([30_000, 20_000, 10_000, 65_535]),
    );
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgba16(image)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .expect("encode PNG");
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// A PNG of one grey level.
fn flat_png(width: u32, height: u32, level: u8) -> Vec<u8> {
    let image = image::GrayImage::from_pixel(width, height, image::Luma([level]));
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .expect("encode PNG");
    bytes
}

/// A JPEG whose frame header (SOF0) is rewritten to say `width`x`height`.
fn with_sof_size(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut jpeg = jpeg.to_vec();
    let sof = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline JPEG");
    // FF C0, length (2), precision (1), height (2), width (2).
    jpeg[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    jpeg
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn state_bytes(card: &VirtualCard) -> Vec<u8> {
    fs::read(card.state_path()).expect("state file")
}

fn lifecycle(card: &VirtualCard) -> String {
    let out = melli(&["info", "--reader", card.reader_name(), "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    out.json()["lifecycle"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn pin_tries(card: &VirtualCard) -> serde_json::Value {
    let out = melli(&["pin", "status", "--reader", card.reader_name(), "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    out.json()
}

/// A secret of `len` digits that is not `right`.
fn wrong(right: &str, len: usize) -> String {
    let zeros = "0".repeat(len);
    if right == zeros {
        "1".repeat(len)
    } else {
        zeros
    }
}

/// Replaces the content of file `fid` in a card's state (the card is stopped meanwhile).
fn put_file(card: &mut VirtualCard, fid: &str, hex: &str) {
    let mut state = read_state(card);
    *state_file_content(&mut state, fid) = serde_json::Value::String(hex.to_string());
    card.kill();
    write_state(card, &state);
    card.restart();
}

/// The personalize command the record rows are cross-checked with.
fn personalize_args<'a>(
    record: &'a str,
    issuer: &'a str,
    card: &'a VirtualCard,
    mailer: &'a str,
) -> Vec<&'a str> {
    vec![
        "personalize",
        record,
        "--issuer",
        issuer,
        "--reader",
        card.reader_name(),
        "--pin-mailer",
        mailer,
    ]
}

// ---------------------------------------------------------------------------------------------
// The table and the tests agree
// ---------------------------------------------------------------------------------------------

const ALL: &[&[&str]] = &[
    REVOCATION,
    USAGE_AND_FILES,
    RECORDS,
    RECORD_WARNINGS,
    READERS,
    NO_CARD,
    NO_SERVICE,
    NOT_MELLI,
    BLANK_CARDS,
    PIN_ROWS,
    PUK_ROWS,
    DAMAGED,
    PULLED,
    LINE,
    CARD_STATE,
    ISSUER_KEYS,
    FILES,
    JOURNAL_SERVER,
    SIGNATURE_FILES,
    TIMESTAMP_INPUTS,
    LOGIN_INPUTS,
    PDF_INPUTS,
    DESK_AND_TIMING_INPUTS,
];

/// PDFs that cannot be signed or verified, refused before a card is asked (signed PDFs that
/// fail a check need a card: `tests/e2e/pdf.rs`).
const PDF_INPUTS: &[&str] = &[
    "pdf-not-a-pdf",
    "pdf-encrypted",
    "pdf-truncated",
    "pdf-broken-xref",
    "pdf-too-large",
    "pdf-visible-no-page",
    "pdf-visible-not-page-x-y",
    "pdf-verify-unsigned",
    "pdf-verify-damaged",
    "verify-signature-not-a-pdf-alone",
];

#[test]
fn pdf_inputs_are_refused() {
    use crate::common::pdf::{encrypted_pdf, ghostscript_pdf};
    let mut t = Table::new(PDF_INPUTS);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let root = root_pem(crate::common::plain_issuer());
    let good = ghostscript_pdf(d, "good", 1);
    let bytes = fs::read(&good).expect("read");
    let sign = |file: &str| {
        case(&["sign", file, "--pin-stdin"])
            .stdin(&["123456"])
            .var("FILE", file)
    };
    let nothing_written = |what: &str| {
        let names: Vec<String> = fs::read_dir(d)
            .expect("list")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("-signed") || n.starts_with(".melli-"))
            .collect();
        assert!(names.is_empty(), "{what}: written {names:?}");
    };

    t.run(
        "pdf-not-a-pdf",
        case(&["sign", "README.md", "--format", "pdf", "--pin-stdin"]).stdin(&["123456"]),
    );
    assert!(
        !Path::new("README-signed.md").exists(),
        "a signed file was written"
    );

    let encrypted = encrypted_pdf(d, "encrypted", &good);
    t.run("pdf-encrypted", sign(path_str(&encrypted)));
    nothing_written("pdf-encrypted");

    let truncated = d.join("truncated.pdf");
    fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    t.run("pdf-truncated", sign(path_str(&truncated)));
    nothing_written("pdf-truncated");

    // startxref made to point 40 bytes before the table.
    let at = bytes
        .windows(10)
        .rposition(|w| w == b"startxref\n")
        .expect("startxref")
        + 10;
    let end = at + bytes[at..].iter().position(|&b| b == b'\n').expect("line");
    let offset: usize = std::str::from_utf8(&bytes[at..end])
        .expect("digits")
        .trim()
        .parse()
        .expect("offset");
    let mut broken = bytes.clone();
    broken.splice(at..end, (offset - 40).to_string().into_bytes());
    let broken_xref = d.join("broken-xref.pdf");
    fs::write(&broken_xref, &broken).expect("write");
    t.run("pdf-broken-xref", sign(path_str(&broken_xref)));
    nothing_written("pdf-broken-xref");

    let big = d.join("big.pdf");
    let file = fs::File::create(&big).expect("create");
    std::io::Write::write_all(&mut &file, b"%PDF-1.4\n").expect("header");
    file.set_len(600 * 1024 * 1024).expect("sparse");
    drop(file);
    t.run(
        "pdf-too-large",
        case(&["sign", path_str(&big), "--pin-stdin"])
            .stdin(&["123456"])
            .var("DIR", path_str(d)),
    );
    nothing_written("pdf-too-large");
    fs::remove_file(&big).expect("remove");

    let visible = |file: &str, at: &str| {
        case(&["sign", file, "--visible", at, "--pin-stdin"])
            .stdin(&["123456"])
            .var("FILE", file)
    };
    t.run("pdf-visible-no-page", visible(path_str(&good), "9,0,0"));
    nothing_written("pdf-visible-no-page");
    t.run("pdf-visible-not-page-x-y", visible(path_str(&good), "x"));
    nothing_written("pdf-visible-not-page-x-y");

    let verify = |file: &str| {
        case(&["verify-signature", file, "--trust", &root])
            .var("FILE", file)
            .var("ROOT", &root)
    };
    t.run("pdf-verify-unsigned", verify(path_str(&good)));
    t.run("pdf-verify-damaged", verify(path_str(&truncated)));
    t.run(
        "verify-signature-not-a-pdf-alone",
        case(&["verify-signature", "README.md", "--trust", &root]).var("ROOT", &root),
    );
    t.finish();
}

/// What a service gives `melli verify-auth-token` that cannot be a login (a token replayed for
/// another origin or nonce needs a card: `tests/e2e/login.rs`).
const LOGIN_INPUTS: &[&str] = &["auth-token-bad-origin", "auth-token-not-a-token"];

#[test]
fn login_inputs_are_refused() {
    let mut t = Table::new(LOGIN_INPUTS);
    let root = root_pem(crate::common::plain_issuer());
    let token = |origin: &str| {
        case(&[
            "verify-auth-token",
            "fixtures/records/valid-1.json",
            "--origin",
            origin,
            "--nonce",
            "abc",
            "--trust",
            &root,
        ])
        .var("ROOT", &root)
    };
    t.run("auth-token-bad-origin", token("e.gov.ir"));
    t.run("auth-token-not-a-token", token("https://e.gov.ir"));
    t.finish();
}

/// Timestamp options that cannot work, refused before anything is signed or judged (a TSA
/// that is unreachable or answers badly needs a card: `tests/e2e/timestamps.rs`).
const TIMESTAMP_INPUTS: &[&str] = &["tsa-trust-not-a-certificate", "tsa-not-http"];

#[test]
fn timestamp_inputs_are_refused() {
    let mut t = Table::new(TIMESTAMP_INPUTS);
    let root = root_pem(crate::common::plain_issuer());
    t.run(
        "tsa-trust-not-a-certificate",
        case(&[
            "verify-signature",
            "README.md",
            "README.md.p7s",
            "--trust",
            &root,
            "--tsa-trust",
            "README.md",
        ])
        .var("ROOT", &root),
    );
    t.run(
        "tsa-not-http",
        case(&[
            "sign",
            "README.md",
            "--tsa",
            "ftp://tsa.example/",
            "--pin-stdin",
        ]),
    );
    assert!(
        !Path::new("README.md.p7s").exists(),
        "a refused --tsa wrote a signature"
    );
}

/// The desk screen's and the timed card's options that cannot work, refused before anything
/// listens, is made or is asked of a card.
const DESK_AND_TIMING_INPUTS: &[&str] = &[
    "desk-trust-not-a-certificate",
    "desk-listen-not-an-address",
    "timing-unknown-profile",
    "timing-bit-rate-out-of-range",
];

#[test]
fn desk_and_timing_inputs_are_refused() {
    let mut t = Table::new(DESK_AND_TIMING_INPUTS);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    t.run(
        "desk-trust-not-a-certificate",
        case(&["desk", "--trust", "README.md", "--no-open"]),
    );
    t.run(
        "desk-listen-not-an-address",
        case(&[
            "desk",
            "--trust",
            "README.md",
            "--listen",
            "nonsense",
            "--no-open",
        ]),
    );
    let state = d.join("card.json");
    let state_s = path_str(&state);
    t.run(
        "timing-unknown-profile",
        case(&["card", "serve", "--state", state_s, "--timing", "t1-57600"]).var("FILE", state_s),
    );
    assert!(!state.exists(), "a refused --timing made a card");
    let profile = d.join("slow.json");
    fs::write(&profile, r#"{"link": {"bit_rate": 5}}"#).expect("write profile");
    let profile_s = path_str(&profile);
    let cards = d.join("cards");
    let cards_s = path_str(&cards);
    t.run(
        "timing-bit-rate-out-of-range",
        case(&[
            "card",
            "feed",
            "--dir",
            cards_s,
            "--count",
            "1",
            "--master-key",
            "README.md",
            "--timing",
            profile_s,
        ])
        .var("DIR", cards_s)
        .var("FILE", profile_s),
    );
    assert!(!cards.exists(), "a refused --timing made a card folder");
    t.finish();
}

#[test]
fn every_row_of_the_table_is_run() {
    let mut in_table = BTreeSet::new();
    for r in rows() {
        assert!(
            in_table.insert(r.id.as_str()),
            "{} is twice in {TABLE}",
            r.id
        );
        assert!(
            [1, 2, 3].contains(&r.exit),
            "{}: exit {} is not a failure code",
            r.id,
            r.exit
        );
        assert!(
            r.command.contains("melli "),
            "{}: {:?} does not run melli",
            r.id,
            r.command
        );
        if r.exit == 1 {
            assert!(r.message.starts_with("FAIL  "), "{}: {}", r.id, r.message);
        } else {
            assert!(r.message.starts_with("melli: "), "{}: {}", r.id, r.message);
        }
    }
    let mut in_tests = BTreeSet::new();
    for ids in ALL {
        for id in *ids {
            assert!(in_tests.insert(*id), "{id} is in two tests' lists");
        }
    }
    let untested: Vec<&&str> = in_table.difference(&in_tests).collect();
    let unknown: Vec<&&str> = in_tests.difference(&in_table).collect();
    assert!(
        untested.is_empty(),
        "rows of {TABLE} without a test: {untested:?}"
    );
    assert!(
        unknown.is_empty(),
        "tests of rows not in {TABLE}: {unknown:?}"
    );
}

#[test]
fn the_table_parser_reads_cells_and_placeholders() {
    assert_eq!(
        split_cells(r"| `a` | b \| c | `x` |"),
        ["`a`", "b | c", "`x`"]
    );
    assert_eq!(code_span("`plain`", "t"), "plain");
    assert_eq!(code_span("`` with `ticks` ``", "t"), "with `ticks`");
    let vars = [
        ("FILE", Var::Is("/tmp/x y".into())),
        ("READERS", Var::Readers(vec!["r 1".into()])),
    ];
    assert!(matches(
        "cannot read <FILE>: no",
        "cannot read /tmp/x y: no",
        &vars
    ));
    assert!(!matches(
        "cannot read <FILE>: no",
        "cannot read /tmp/x: no",
        &vars
    ));
    assert!(matches(
        "in (<READERS>): pick",
        "in (\"r 0\", \"r 1\"): pick",
        &vars
    ));
    assert!(!matches(
        "in (<READERS>): pick",
        "in (\"r 0\"): pick",
        &vars
    ));
    // Placeholders the row does not define are text.
    assert!(matches("usage: <RECORD>", "usage: <RECORD>", &vars));
    assert_eq!(placeholders("a /tmp/x y b", &vars), "a <FILE> b");
    assert!(is_progress("[ 3/11] write DG2 photo"));
    assert!(!is_progress("melli: [x] y"));
}

// ---------------------------------------------------------------------------------------------
// No card needed
// ---------------------------------------------------------------------------------------------

const USAGE_AND_FILES: &[&str] = &[
    "usage-unknown-command",
    "usage-missing-argument",
    "usage-bad-value",
    "usage-option-needs-another",
    "apdu-not-hex",
    "apdu-bad-length",
    "issuer-init-not-empty",
    "trust-missing",
    "trust-not-a-certificate",
    "trust-is-a-folder",
    "finger-missing",
    "finger-truncated",
    "finger-not-a-record",
    "finger-too-large",
    "finger-not-a-file",
    "sign-file-missing",
    "signature-missing",
    "signature-not-cms",
    "signature-no-signing-certificate",
    "signature-signer-not-for-signing",
];

const REVOCATION: &[&str] = &[
    "crl-missing",
    "crl-not-a-crl",
    "crl-a-certificate",
    "crl-is-a-folder",
    "revoke-bad-reason",
    "revoke-unknown-card",
    "revoke-not-an-issuer",
    "revoke-bad-national-code",
    "ocsp-responder-a-certificate",
];

/// `--crl` files that are no CRL, and revocations the issuer cannot make (CRLs that are stale
/// or of another issuer need a card: `tests/e2e/revocation.rs`).
#[test]
fn revocation_inputs_are_refused() {
    let mut t = Table::new(REVOCATION);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = path_str(dir.path());
    // An issuer of its own: a revocation makes its index.txt.
    let issuer = &crate::common::make_plain_issuer("bad-input-revoke");
    let root = root_pem(issuer);
    let vs = |crl: &str| {
        vec![
            "verify-signature".to_string(),
            "README.md".into(),
            "README.md.p7s".into(),
            "--trust".into(),
            root.clone(),
            "--crl".into(),
            crl.to_string(),
        ]
    };
    let run =
        |t: &mut Table, id: &'static str, args: Vec<String>, vars: &[(&'static str, &str)]| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut c = case(&args);
            for (name, value) in vars {
                c = c.var(name, value);
            }
            t.run(id, c);
        };
    let missing = format!("{d}/no-such.crl");
    run(
        &mut t,
        "crl-missing",
        vs(&missing),
        &[("DIR", d), ("ROOT", &root)],
    );
    run(&mut t, "crl-not-a-crl", vs("README.md"), &[("ROOT", &root)]);
    run(&mut t, "crl-a-certificate", vs(&root), &[("ROOT", &root)]);
    run(
        &mut t,
        "crl-is-a-folder",
        vec![
            "verify".into(),
            "--trust".into(),
            root.clone(),
            "--crl".into(),
            "fixtures".into(),
        ],
        &[("ROOT", &root)],
    );
    let issuer_str = path_str(issuer).to_string();
    let revoke = |serial: &str, reason: &str, dir: &str| {
        vec![
            "issuer".to_string(),
            "revoke".into(),
            dir.to_string(),
            "--card".into(),
            serial.to_string(),
            "--reason".into(),
            reason.to_string(),
        ]
    };
    run(
        &mut t,
        "revoke-bad-reason",
        revoke("MC0000009999", "stolen", &issuer_str),
        &[("ISSUER", &issuer_str), ("SERIAL", "MC0000009999")],
    );
    run(
        &mut t,
        "revoke-unknown-card",
        revoke("MC0000009999", "keyCompromise", &issuer_str),
        &[("ISSUER", &issuer_str), ("SERIAL", "MC0000009999")],
    );
    run(
        &mut t,
        "revoke-not-an-issuer",
        revoke("MC0000009999", "keyCompromise", "fixtures"),
        &[("SERIAL", "MC0000009999")],
    );
    run(
        &mut t,
        "revoke-bad-national-code",
        vec![
            "issuer".to_string(),
            "revoke".into(),
            issuer_str.clone(),
            "--national-code".into(),
            "0012345678".into(),
            "--reason".into(),
            "keyCompromise".into(),
        ],
        &[("ISSUER", &issuer_str)],
    );
    let responder = format!("{d}/responder.pem");
    run(
        &mut t,
        "ocsp-responder-a-certificate",
        vec![
            "issuer".into(),
            "ocsp-responder".into(),
            issuer_str.clone(),
            "--csr".into(),
            root.clone(),
            "--out".into(),
            responder.clone(),
        ],
        &[("ISSUER", &issuer_str), ("ROOT", &root), ("DIR", d)],
    );
    assert!(!Path::new(&responder).exists(), "nothing written");
    t.finish();
}

#[test]
fn usage_and_file_errors_before_any_card() {
    let mut t = Table::new(USAGE_AND_FILES);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = path_str(dir.path());
    let root = root_pem(test_issuer());

    t.run("usage-unknown-command", case(&["infoo"]));
    t.run("usage-missing-argument", case(&["check"]));
    t.run("usage-bad-value", case(&["pin", "stat"]));
    t.run("usage-option-needs-another", case(&["read", "--png"]));
    t.run(
        "apdu-not-hex",
        case(&["apdu", "00A4040C07F04D454C4C4901", "00CAZZ0100"]),
    );
    t.run("apdu-bad-length", case(&["apdu", "00A4040C05AA"]));

    let before: Vec<_> = fs::read_dir("fixtures")
        .expect("fixtures")
        .map(|e| e.expect("entry").file_name())
        .collect();
    t.run(
        "issuer-init-not-empty",
        case(&["issuer", "init", "fixtures"]),
    );
    let after: Vec<_> = fs::read_dir("fixtures")
        .expect("fixtures")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(before, after, "issuer init wrote into fixtures/");

    let missing_root = format!("{d}/no-such-root.pem");
    t.run(
        "trust-missing",
        case(&["verify", "--trust", &missing_root]).var("DIR", d),
    );
    t.run(
        "trust-not-a-certificate",
        case(&["verify", "--trust", "README.md"]),
    );
    t.run(
        "trust-is-a-folder",
        case(&[
            "verify-signature",
            "README.md",
            "README.md.p7s",
            "--trust",
            "fixtures",
        ]),
    );
    let missing_finger = format!("{d}/no-such-finger.fmr");
    t.run(
        "finger-missing",
        case(&["verify", "--trust", &root, "--finger", &missing_finger])
            .var("DIR", d)
            .var("ROOT", &root),
    );
    t.run(
        "finger-truncated",
        case(&[
            "verify",
            "--trust",
            &root,
            "--finger",
            "fixtures/fingerprints/truncated.fmr",
        ])
        .var("ROOT", &root),
    );
    for (id, finger) in [
        ("finger-not-a-record", "fixtures/photos/not-an-image.jpg"),
        ("finger-too-large", "fixtures/photos/face-1.jpg"),
        ("finger-not-a-file", "/dev/zero"),
    ] {
        t.run(
            id,
            case(&["verify", "--trust", &root, "--finger", finger]).var("ROOT", &root),
        );
    }
    let missing_file = format!("{d}/no-such-file.txt");
    t.run(
        "sign-file-missing",
        case(&["sign", &missing_file, "--pin-stdin"])
            .stdin(&["123456"])
            .var("DIR", d),
    );
    assert!(
        !Path::new(&format!("{missing_file}.p7s")).exists(),
        "a signature was written"
    );
    let missing_sig = format!("{d}/no-such.p7s");
    t.run(
        "signature-missing",
        case(&[
            "verify-signature",
            "README.md",
            &missing_sig,
            "--trust",
            &root,
        ])
        .var("DIR", d)
        .var("ROOT", &root),
    );
    t.run(
        "signature-not-cms",
        case(&[
            "verify-signature",
            "README.md",
            "README.md",
            "--trust",
            &root,
        ])
        .var("ROOT", &root),
    );

    // Signatures made by openssl with holder certificates from a (plain-key) issuer's signing
    // CA, verified against that issuer's root.
    let root = root_pem(crate::common::plain_issuer());
    let doc = format!("{d}/doc.txt");
    fs::write(&doc, "I agree.\n").expect("doc");
    let good_ext = "keyUsage = critical, digitalSignature, nonRepudiation\n\
                    extendedKeyUsage = emailProtection, 1.3.6.1.5.5.7.3.36\n";
    let sig = openssl_signature(dir.path(), "plain", good_ext, &[]);
    t.run(
        "signature-no-signing-certificate",
        case(&["verify-signature", &doc, &sig, "--trust", &root])
            .var("FILE", &doc)
            .var("ROOT", &root),
    );
    let tls_ext = "keyUsage = critical, digitalSignature, nonRepudiation\n\
                   extendedKeyUsage = emailProtection, 1.3.6.1.5.5.7.3.36, serverAuth\n";
    let sig = openssl_signature(dir.path(), "tls", tls_ext, &["-cades"]);
    t.run(
        "signature-signer-not-for-signing",
        case(&["verify-signature", &doc, &sig, "--trust", &root])
            .var("FILE", &doc)
            .var("ROOT", &root),
    );
    t.finish();
}

/// With openssl in `dir`: a P-256 key and a holder certificate `NAME.pem` with the
/// extensions `ext`, issued by the test issuer's signing CA, and `doc.txt.p7s`, openssl's
/// `cms -sign` of `doc.txt` with them and `extra` options; returns the signature's path, a
/// copy at `doc.txt.p7s` (as `<FILE>.p7s` in the table).
fn openssl_signature(dir: &Path, name: &str, ext: &str, extra: &[&str]) -> String {
    use crate::common::openssl::{openssl_certificate, openssl_sign_with};
    let issuer = crate::common::plain_issuer();
    let ca_cert = path_str(&issuer.join("signing-ca.pem")).to_string();
    let ca_key = path_str(&issuer.join("signing-ca.key")).to_string();
    openssl_certificate(dir, name, "/C=IR/CN=Ali Rezaei", ext, &ca_cert, &ca_key);
    let signed = openssl_sign_with(dir, name, &ca_cert, extra);
    let copy = dir.join("doc.txt.p7s");
    fs::copy(&signed, &copy).expect("copy the signature");
    path_str(&copy).to_string()
}

// ---------------------------------------------------------------------------------------------
// Signature files: other forms, content, algorithms, attributes, trust anchors
// ---------------------------------------------------------------------------------------------

const SIGNATURE_FILES: &[&str] = &[
    "signature-embedded-content",
    "signature-content-type-not-data",
    "signature-sha1",
    "signature-no-signed-attributes",
    "signature-message-digest-twice",
    "signature-ber",
    "signature-smime",
    "signature-is-a-device",
    "signature-too-large",
    "signed-file-is-a-device",
    "trust-bundle",
    "trust-intermediate",
    "trust-is-a-device",
];

#[test]
fn signature_files_in_other_forms_or_made_wrong_are_named_for_what_they_are() {
    use crate::common::openssl::openssl_certificate;
    let mut t = Table::new(SIGNATURE_FILES);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = path_str(dir.path());
    let issuer = crate::common::plain_issuer();
    let issuer_dir = path_str(issuer);
    let root = root_pem(issuer);
    let ca = format!("{issuer_dir}/signing-ca.pem");
    let ca_key = format!("{issuer_dir}/signing-ca.key");
    let doc = format!("{d}/doc.txt");
    fs::write(&doc, "I agree.\n").expect("doc");
    let ext = "basicConstraints = critical, CA:FALSE\n\
               keyUsage = critical, digitalSignature, nonRepudiation\n\
               extendedKeyUsage = emailProtection, 1.3.6.1.5.5.7.3.36\n";
    openssl_certificate(
        dir.path(),
        "holder",
        "/C=IR/CN=Ali Rezaei",
        ext,
        &ca,
        &ca_key,
    );
    let sig = format!("{doc}.p7s");
    // `openssl cms -sign` of doc.txt into doc.txt.p7s, with the options of the row.
    let sign = |extra: &[&str]| {
        crate::common::openssl::openssl_cms_sign(dir.path(), "holder", &ca, "doc.txt.p7s", extra);
    };
    let verify = || {
        case(&["verify-signature", &doc, &sig, "--trust", &root])
            .var("FILE", &doc)
            .var("ROOT", &root)
    };

    sign(&["-binary", "-cades", "-nodetach", "-outform", "DER"]);
    t.run("signature-embedded-content", verify());
    sign(&[
        "-binary",
        "-cades",
        "-econtent_type",
        "1.3.6.1.4.1.99999.1",
        "-outform",
        "DER",
    ]);
    t.run("signature-content-type-not-data", verify());
    sign(&["-binary", "-cades", "-md", "sha1", "-outform", "DER"]);
    t.run("signature-sha1", verify());
    sign(&["-binary", "-noattr", "-outform", "DER"]);
    t.run("signature-no-signed-attributes", verify());

    // Two messageDigest attributes, built with melli's CMS builder and openssl's key.
    {
        use melli::pki::asn1::{RawOid, ID_DATA, ID_MESSAGE_DIGEST};
        use melli::pki::signed_data;
        use p256::pkcs8::DecodePrivateKey;
        let key = p256::ecdsa::SigningKey::from_pkcs8_pem(
            &fs::read_to_string(dir.path().join("holder.key")).expect("key"),
        )
        .expect("PKCS#8 key");
        let cert = |p: &str| {
            melli::pki::cert::from_pem_or_der(&fs::read(p).expect("cert")).expect("certificate")
        };
        let holder = cert(&format!("{d}/holder.pem"));
        let mut values = der::asn1::SetOfVec::new();
        values
            .insert(der::Any::new(der::Tag::OctetString, [7u8; 32].as_slice()).expect("any"))
            .expect("value");
        let p7s = signed_data::sign(
            &RawOid::from(ID_DATA),
            b"I agree.\n",
            false,
            &key,
            &holder,
            &[holder.clone(), cert(&ca)],
            SystemTime::now(),
            vec![
                x509_cert::attr::Attribute {
                    oid: ID_MESSAGE_DIGEST,
                    values,
                },
                signed_data::signing_certificate_v2(&holder).expect("ESS"),
            ],
        )
        .expect("sign");
        fs::write(&sig, p7s).expect("write");
    }
    t.run("signature-message-digest-twice", verify());

    sign(&["-binary", "-cades", "-stream", "-outform", "DER"]);
    t.run("signature-ber", verify());
    sign(&["-cades"]);
    t.run("signature-smime", verify());
    // A good signature for the rows that are about the other files.
    sign(&["-binary", "-cades", "-outform", "DER"]);

    t.run(
        "signature-is-a-device",
        case(&["verify-signature", &doc, "/dev/zero", "--trust", &root])
            .var("FILE", &doc)
            .var("ROOT", &root),
    );
    let big = format!("{d}/big.p7s");
    fs::File::create(&big)
        .expect("big")
        .set_len(2 << 30)
        .expect("a sparse 2 GB file");
    t.run(
        "signature-too-large",
        case(&["verify-signature", &doc, &big, "--trust", &root])
            .var("FILE", &doc)
            .var("DIR", d)
            .var("ROOT", &root),
    );
    t.run(
        "signed-file-is-a-device",
        case(&["verify-signature", "/dev/zero", &sig, "--trust", &root])
            .var("FILE", &doc)
            .var("ROOT", &root),
    );
    let bundle = format!("{d}/bundle.pem");
    fs::write(
        &bundle,
        fs::read_to_string(&root).expect("root") + &fs::read_to_string(&ca).expect("ca"),
    )
    .expect("bundle");
    t.run(
        "trust-bundle",
        case(&["verify-signature", &doc, &sig, "--trust", &bundle])
            .var("FILE", &doc)
            .var("DIR", d),
    );
    t.run(
        "trust-intermediate",
        case(&["verify-signature", &doc, &sig, "--trust", &ca])
            .var("FILE", &doc)
            .var("ISSUER", issuer_dir),
    );
    t.run(
        "trust-is-a-device",
        case(&["verify-signature", &doc, &sig, "--trust", "/dev/zero"]).var("FILE", &doc),
    );
    t.finish();
}

// ---------------------------------------------------------------------------------------------
// Enrolment records: `melli check`, and the same refusal from `melli personalize`
// ---------------------------------------------------------------------------------------------

const RECORDS: &[&str] = &[
    "record-national-code-check-digit",
    "record-national-code-all-equal",
    "record-national-code-number",
    "record-national-code-letters",
    "record-national-code-length",
    "record-postal-code-leading-zero",
    "record-postal-code-length",
    "record-date-impossible",
    "record-date-month-13",
    "record-date-gregorian",
    "record-date-format",
    "record-birth-in-future",
    "record-issue-before-birth",
    "record-expiry-before-issue",
    "record-latin-in-persian-field",
    "record-persian-in-latin-field",
    "record-gender",
    "record-address-control-character",
    "record-photo-not-an-image",
    "record-photo-too-large",
    "record-photo-file-too-large",
    "record-photo-too-small",
    "record-photo-missing",
    "record-fingerprint-truncated",
    "record-fingerprint-not-a-record",
    "record-photo-jpeg-bomb",
    "record-photo-png16-bomb",
    "record-photo-png16-heavy",
    "record-photo-cut-jpeg",
    "record-photo-flat",
    "record-fingerprint-repeated-minutia",
    "record-fingerprint-impression-type",
    "record-fingerprint-extended-data",
    "record-name-double-zwnj",
    "record-name-zwnj-beside-space",
    "record-name-tag-character",
    "record-address-zero-width-space",
    "record-bom",
    "record-lone-surrogate",
    "record-postal-code-number",
    "record-unknown-field",
    "record-missing-field",
    "record-field-twice",
    "record-malformed-json",
    "record-not-an-object",
    "record-not-utf8",
    "record-file-missing",
    "record-file-is-a-folder",
];

#[test]
fn invalid_records_are_refused_with_one_line_and_the_card_untouched() {
    let mut t = Table::new(RECORDS);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let ds = path_str(d);
    let card = VirtualCard::for_issuer(test_issuer());
    let state_before = state_bytes(&card);
    let issuer = path_str(test_issuer()).to_string();
    let mailer = d.join("pins.txt");

    // `melli check RECORD` as the row says, then `melli personalize RECORD …`: the same line.
    let mut refuse = |id: &'static str, record: &str, vars: &[(&'static str, &str)]| {
        let mut c = case(&["check", record]);
        for &(name, value) in vars {
            c = c.var(name, value);
        }
        let checked = t.run(id, c);
        let out = melli(&personalize_args(record, &issuer, &card, path_str(&mailer)));
        assert_eq!(out.code, 2, "{id}: personalize: {out:?}");
        assert_eq!(
            out.stderr, checked.stderr,
            "{id}: personalize says otherwise"
        );
        assert!(out.stdout.is_empty(), "{id}: {out:?}");
        assert!(!mailer.exists(), "{id}: a PIN mailer was written");
    };

    for (id, file) in [
        ("record-national-code-check-digit", "invalid-check-digit"),
        (
            "record-national-code-all-equal",
            "invalid-national-code-all-equal",
        ),
        (
            "record-national-code-number",
            "invalid-national-code-number",
        ),
        (
            "record-postal-code-leading-zero",
            "invalid-postal-code-leading-zero",
        ),
        ("record-date-impossible", "invalid-issue-date-1404-12-30"),
        ("record-expiry-before-issue", "invalid-expiry-before-issue"),
        (
            "record-latin-in-persian-field",
            "invalid-latin-in-persian-field",
        ),
        ("record-photo-not-an-image", "invalid-photo-not-an-image"),
        (
            "record-fingerprint-truncated",
            "invalid-fingerprint-truncated",
        ),
        ("record-unknown-field", "invalid-unknown-field"),
        ("record-malformed-json", "invalid-malformed-json"),
    ] {
        refuse(id, &format!("fixtures/records/{file}.json"), &[]);
    }

    // valid-1.json with one field changed.
    for (id, field, value) in [
        (
            "record-national-code-letters",
            "national_code",
            "00814937a1",
        ),
        ("record-national-code-length", "national_code", "12345"),
        ("record-postal-code-length", "postal_code", "12345"),
        ("record-date-month-13", "issue_date", "1403/13/01"),
        ("record-date-gregorian", "birth_date", "1989/09/06"),
        ("record-date-format", "issue_date", "10 Azar 1403"),
        ("record-issue-before-birth", "issue_date", "1360/01/01"),
        ("record-persian-in-latin-field", "given_name_latin", "علی"),
        ("record-gender", "gender", "X"),
        ("record-address-control-character", "address", "تهران\u{7}"),
    ] {
        let record = record_with(d, id, field, value);
        refuse(id, path_str(&record), &[("FILE", path_str(&record))]);
    }

    // Dates relative to today: a birth date in 1590 stays in the future for two centuries.
    let mut record = valid_record();
    record["birth_date"] = "1590/01/01".into();
    record["issue_date"] = "1591/01/01".into();
    record["expiry_date"] = "1599/01/01".into();
    let path = write_record(d, "record-birth-in-future", record);
    let today = melli::model::JalaliDate::today()
        .expect("today")
        .to_string();
    refuse(
        "record-birth-in-future",
        path_str(&path),
        &[("FILE", path_str(&path)), ("TODAY", &today)],
    );

    // Photos and fingerprints beside the record (paths relative to it).
    fs::write(d.join("huge.png"), png(13_000, 13_000)).expect("huge.png");
    fs::write(d.join("small.png"), png(100, 100)).expect("small.png");
    fs::File::create(d.join("big.jpg"))
        .and_then(|f| f.set_len(60 * 1024 * 1024))
        .expect("a sparse 60 MiB file");
    // A small JPEG (the fingerprint file's cap is 64 KiB; face-1.jpg is larger).
    let mut small_jpeg = Vec::new();
    image::RgbImage::from_pixel(64, 64, image::Rgb([200, 150, 120]))
        .write_to(
            &mut std::io::Cursor::new(&mut small_jpeg),
            image::ImageFormat::Jpeg,
        )
        .expect("encode JPEG");
    fs::write(d.join("face.jpg"), small_jpeg).expect("face.jpg");
    for (id, field, value) in [
        ("record-photo-too-large", "photo", "huge.png"),
        ("record-photo-file-too-large", "photo", "big.jpg"),
        ("record-photo-too-small", "photo", "small.png"),
        ("record-photo-missing", "photo", "no-such-photo.jpg"),
        ("record-fingerprint-not-a-record", "fingerprint", "face.jpg"),
    ] {
        let record = record_with(d, id, field, value);
        refuse(
            id,
            path_str(&record),
            &[("FILE", path_str(&record)), ("DIR", ds)],
        );
    }

    // Decompression bombs, cut and flat photos, made here byte by byte.
    let face = fs::read("fixtures/photos/face-1.jpg").expect("face-1.jpg");
    fs::write(d.join("bomb.jpg"), with_sof_size(&face, 12_000, 12_000)).expect("bomb.jpg");
    fs::write(d.join("bomb16.png"), png16_rgba(12_000, 12_000)).expect("bomb16.png");
    fs::write(d.join("heavy16.png"), png16_rgba(4000, 4000)).expect("heavy16.png");
    let mut cut = face[..face.len() / 2].to_vec();
    cut.extend_from_slice(&[0xFF, 0xD9]);
    fs::write(d.join("cut.jpg"), cut).expect("cut.jpg");
    fs::write(d.join("grey.png"), flat_png(600, 800, 128)).expect("grey.png");
    // Fingerprints: finger-1.fmr with one thing changed.
    let finger = fs::read("fixtures/fingerprints/finger-1.fmr").expect("finger-1.fmr");
    let (view, m1) = (24, 28);
    let mut repeated = finger.clone();
    repeated.copy_within(m1..m1 + 6, m1 + 6 * 4);
    fs::write(d.join("repeated.fmr"), repeated).expect("repeated.fmr");
    let mut impression = finger.clone();
    impression[view + 1] = (impression[view + 1] & 0xF0) | 4;
    fs::write(d.join("impression.fmr"), impression).expect("impression.fmr");
    let mut extended = finger.clone();
    let n = extended.len();
    extended[n - 2..].copy_from_slice(&[0, 3]);
    extended.extend_from_slice(&[0, 1, 0]);
    let len = extended.len() as u32;
    extended[8..12].copy_from_slice(&len.to_be_bytes());
    fs::write(d.join("extended.fmr"), extended).expect("extended.fmr");
    for (id, field, value) in [
        ("record-photo-jpeg-bomb", "photo", "bomb.jpg"),
        ("record-photo-png16-bomb", "photo", "bomb16.png"),
        ("record-photo-png16-heavy", "photo", "heavy16.png"),
        ("record-photo-cut-jpeg", "photo", "cut.jpg"),
        ("record-photo-flat", "photo", "grey.png"),
        (
            "record-fingerprint-repeated-minutia",
            "fingerprint",
            "repeated.fmr",
        ),
        (
            "record-fingerprint-impression-type",
            "fingerprint",
            "impression.fmr",
        ),
        (
            "record-fingerprint-extended-data",
            "fingerprint",
            "extended.fmr",
        ),
        (
            "record-name-double-zwnj",
            "given_name_fa",
            "علی\u{200C}\u{200C}رضا",
        ),
        (
            "record-name-zwnj-beside-space",
            "surname_fa",
            "محمدی\u{200C} پور",
        ),
        (
            "record-name-tag-character",
            "father_name_fa",
            "حسین\u{E0041}",
        ),
        (
            "record-address-zero-width-space",
            "address",
            "تهران\u{200B}",
        ),
    ] {
        let record = record_with(d, id, field, value);
        refuse(
            id,
            path_str(&record),
            &[("FILE", path_str(&record)), ("DIR", ds)],
        );
    }

    // The record's own bytes: a byte-order mark, a lone surrogate escape, a number.
    let text = fs::read_to_string(VALID).expect("valid-1.json");
    let path = d.join("record-bom.json");
    fs::write(&path, format!("\u{FEFF}{text}")).expect("write record");
    refuse("record-bom", path_str(&path), &[("FILE", path_str(&path))]);
    let path = d.join("record-lone-surrogate.json");
    fs::write(&path, text.replace("\"140309100001\"", "\"1403\\ud800\"")).expect("write record");
    refuse(
        "record-lone-surrogate",
        path_str(&path),
        &[("FILE", path_str(&path))],
    );
    let path = d.join("record-postal-code-number.json");
    let number = text.replace("\"1345613478\"", "1345613478");
    assert_ne!(number, text, "valid-1.json's postal code changed");
    fs::write(&path, number).expect("write record");
    refuse(
        "record-postal-code-number",
        path_str(&path),
        &[("FILE", path_str(&path))],
    );

    // The file as a whole.
    let mut record = valid_record();
    record
        .as_object_mut()
        .expect("an object")
        .remove("birth_date");
    let path = write_record(d, "record-missing-field", record);
    refuse(
        "record-missing-field",
        path_str(&path),
        &[("FILE", path_str(&path))],
    );

    let text = fs::read_to_string(VALID).expect("valid-1.json").replace(
        "\"gender\": \"M\",",
        "\"gender\": \"M\", \"gender\": \"F\",",
    );
    let path = d.join("record-field-twice.json");
    fs::write(&path, text).expect("write record");
    refuse(
        "record-field-twice",
        path_str(&path),
        &[("FILE", path_str(&path))],
    );

    let path = d.join("record-not-an-object.json");
    fs::write(&path, "[1, 2]").expect("write record");
    refuse(
        "record-not-an-object",
        path_str(&path),
        &[("FILE", path_str(&path))],
    );

    let path = d.join("record-not-utf8.json");
    fs::write(&path, b"{\"tracking_code\": \"\xff\xfe\"}").expect("write record");
    refuse(
        "record-not-utf8",
        path_str(&path),
        &[("FILE", path_str(&path))],
    );

    let path = d.join("no-such-record.json");
    refuse(
        "record-file-missing",
        path_str(&path),
        &[("FILE", path_str(&path))],
    );
    refuse("record-file-is-a-folder", "fixtures", &[]);

    assert_eq!(lifecycle(&card), "blank");
    assert_eq!(state_bytes(&card), state_before, "the card's state changed");
    t.finish();
}

// ---------------------------------------------------------------------------------------------
// Records that are valid but implausible: `melli check` holds them (exit 1) unless allowed
// ---------------------------------------------------------------------------------------------

const RECORD_WARNINGS: &[&str] = &[
    "record-warning-birth-long-ago",
    "record-warning-long-validity",
    "record-warning-national-code-000",
    "record-warning-national-code-nine-equal",
];

#[test]
fn implausible_records_are_held_by_check_unless_warnings_are_allowed() {
    let mut t = Table::new(RECORD_WARNINGS);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    for (id, field, value) in [
        ("record-warning-birth-long-ago", "birth_date", "1204/06/15"),
        ("record-warning-long-validity", "expiry_date", "1599/09/10"),
        (
            "record-warning-national-code-000",
            "national_code",
            "0001234560",
        ),
        (
            "record-warning-national-code-nine-equal",
            "national_code",
            "1011111111",
        ),
    ] {
        let record = record_with(d, id, field, value);
        let path = path_str(&record);
        let held = t.run(id, case(&["check", path]).var("FILE", path));
        let warning = row(id)
            .message
            .strip_prefix("FAIL  ")
            .expect("a verdict line")
            .to_string();
        assert_eq!(
            held.stdout,
            format!(
                "FAIL  {warning}\n{path}: valid, but with 1 warning — check it, then accept with --allow-warnings\n"
            ),
            "{id}"
        );
        // Accepted: exit 0, the warning on stderr as personalize shows it.
        let allowed = melli(&["check", path, "--allow-warnings"]);
        assert_eq!(allowed.code, 0, "{id}: {allowed:?}");
        assert_eq!(allowed.stdout, format!("{path}: valid\n"), "{id}");
        assert_eq!(allowed.stderr, format!("{warning}\n"), "{id}");
        // JSON: the same verdict and exit code.
        let json = melli(&["check", path, "--json"]);
        assert_eq!(json.code, 1, "{id}: {json:?}");
        let report = json.json();
        assert_eq!(report["valid"], true, "{id}");
        assert_eq!(report["warnings_allowed"], false, "{id}");
        assert_eq!(
            report["warnings"][0]
                .as_str()
                .map(|w| format!("warning: {w}")),
            Some(warning.clone()),
            "{id}"
        );
    }

    // `check --json` of a file that is not a record prints the error object, exit 2.
    let bad = "fixtures/records/invalid-malformed-json.json";
    let out = melli(&["check", bad, "--json"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    let report = out.json();
    assert_eq!(report["valid"], false);
    assert_eq!(
        report["errors"],
        serde_json::json!([format!(
            "record: {bad}:21:1: trailing comma — fix the JSON syntax"
        )])
    );
    // A valid record without warnings: exit 0 with or without the option.
    for args in [&["check", VALID][..], &["check", VALID, "--allow-warnings"]] {
        let out = melli(args);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(out.stderr.is_empty(), "{out:?}");
    }
    t.finish();
}

// ---------------------------------------------------------------------------------------------
// Readers
// ---------------------------------------------------------------------------------------------

const READERS: &[&str] = &[
    "unknown-reader",
    "ambiguous-reader",
    "two-cards",
    "no-card-in-reader",
];

#[test]
fn readers_named_wrong_or_not_at_all() {
    let mut t = Table::new(READERS);
    let mut first = VirtualCard::new();
    let second = VirtualCard::new();
    let (a, b) = (
        first.reader_name().to_string(),
        second.reader_name().to_string(),
    );
    t.run(
        "unknown-reader",
        case(&["info", "--reader", "no such reader"]).readers("READERS", &[&a, &b]),
    );
    // "melli-test-" is a part of every reader's name of the test pcscd.
    let part = "melli-test-";
    assert!(a.contains(part) && b.contains(part), "{a}, {b}");
    t.run(
        "ambiguous-reader",
        case(&["info", "--reader", part])
            .var("PART", part)
            .readers("READERS", &[&a, &b]),
    );
    t.run("two-cards", case(&["info"]).readers("READERS", &[&a, &b]));
    first.kill();
    t.run(
        "no-card-in-reader",
        case(&["info", "--reader", &a]).var("READER", &a),
    );
    t.finish();
}

const NO_CARD: &[&str] = &["no-card"];

#[test]
fn no_card_in_any_reader() {
    let mut t = Table::new(NO_CARD);
    let pcscd = Pcscd::acquire();
    let _alone = pcscd.exclusive();
    t.run("no-card", case(&["info"]));
    t.finish();
}

const NO_SERVICE: &[&str] = &["pcscd-not-running", "no-readers"];

/// A pcscd of its own, in its own mount namespace, with no reader configured.
struct EmptyPcscd {
    child: Child,
    socket: PathBuf,
}

impl EmptyPcscd {
    fn start(dir: &Path) -> Option<EmptyPcscd> {
        let run = dir.join("run");
        let conf = dir.join("reader.conf.d");
        fs::create_dir_all(&run).ok()?;
        fs::create_dir_all(&conf).ok()?;
        let child = melli_testkit::pcscd::private_pcscd(&run, &conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut pcscd = EmptyPcscd {
            child,
            socket: run.join("pcscd.comm"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if pcscd.socket.exists() {
                return Some(pcscd);
            }
            if matches!(pcscd.child.try_wait(), Ok(Some(_))) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for EmptyPcscd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn no_pcsc_service_or_no_reader() {
    let mut t = Table::new(NO_SERVICE);
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("no-pcscd.comm");
    let socket = path_str(&socket);
    t.run(
        "pcscd-not-running",
        case(&["info"])
            .env("PCSCLITE_CSOCK_NAME", socket)
            .var("SOCKET", socket),
    );
    match EmptyPcscd::start(&dir.path().join("empty")) {
        Some(pcscd) => {
            let socket = path_str(&pcscd.socket);
            t.run(
                "no-readers",
                case(&["info"])
                    .env("PCSCLITE_CSOCK_NAME", socket)
                    .var("SOCKET", socket),
            );
        }
        None => t.skip(
            "no-readers",
            "a second pcscd needs `unshare -m` and mount (root or CAP_SYS_ADMIN)",
        ),
    }
    t.finish();
}

const NOT_MELLI: &[&str] = &["not-a-melli-card"];

#[test]
fn a_card_that_is_not_a_melli_card() {
    let mut t = Table::new(NOT_MELLI);
    let vicc = Vicc::new();
    let reader = vicc.reader_name().to_string();
    t.run(
        "not-a-melli-card",
        case(&["info", "--reader", &reader]).var("READER", &reader),
    );
    t.finish();
}

// ---------------------------------------------------------------------------------------------
// Blank cards, and cards of another issuer
// ---------------------------------------------------------------------------------------------

const BLANK_CARDS: &[&str] = &[
    "blank-card-read",
    "blank-card-verify",
    "blank-card-sign",
    "blank-card-pin-change",
    "secrets-no-terminal",
    "wrong-issuer-key",
    "record-expired",
    "issuer-dir-missing",
    "issuer-document-signer-expired",
    "pin-mailer-other-card",
    "pin-mailer-damaged",
    "pin-mailer-unwritable",
];

#[test]
fn blank_cards_and_cards_of_another_issuer() {
    let mut t = Table::new(BLANK_CARDS);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let ds = path_str(d);
    let card = VirtualCard::for_issuer(test_issuer());
    let reader = card.reader_name().to_string();
    let serial = card.serial().to_string();
    let state_before = state_bytes(&card);
    let issuer = path_str(test_issuer()).to_string();
    let root = root_pem(test_issuer());
    let doc = d.join("doc.txt");
    fs::write(&doc, "a contract\n").expect("doc");
    let doc = path_str(&doc);
    let on_card = |c: Case| c.var("READER", &reader).var("SERIAL", &serial);

    t.run(
        "blank-card-read",
        on_card(case(&["read", "--reader", &reader])),
    );
    t.run(
        "blank-card-verify",
        on_card(case(&["verify", "--trust", &root, "--reader", &reader])).var("ROOT", &root),
    );
    t.run(
        "blank-card-sign",
        on_card(case(&["sign", doc, "--pin-stdin", "--reader", &reader]))
            .stdin(&["123456"])
            .var("FILE", doc),
    );
    assert!(
        !Path::new(&format!("{doc}.p7s")).exists(),
        "a signature was written"
    );
    t.run(
        "blank-card-pin-change",
        on_card(case(&["pin", "change", "--pin-stdin", "--reader", &reader]))
            .stdin(&["123456", "654321"]),
    );
    t.run(
        "secrets-no-terminal",
        on_card(case(&[
            "personalize",
            VALID,
            "--issuer",
            &issuer,
            "--reader",
            &reader,
        ]))
        .var("ISSUER", &issuer),
    );

    // Refusals found before the card is written.
    let mailer = d.join("pins.txt");
    let mailer_s = path_str(&mailer);
    let mut expired = valid_record();
    expired["expiry_date"] = "1404/01/01".into();
    let expired = write_record(d, "expired", expired);
    let out = t.run(
        "record-expired",
        on_card(case(&personalize_args(
            path_str(&expired),
            &issuer,
            &card,
            mailer_s,
        )))
        .var("FILE", path_str(&expired))
        .var("ISSUER", &issuer)
        .var("OUT", mailer_s),
    );
    assert!(
        out.stderr
            .starts_with("warning: expiry_date: 1404/01/01 is not after today"),
        "{out:?}"
    );
    let _ = fs::remove_file(&mailer);

    let no_issuer = format!("{ds}/no-such-issuer");
    t.run(
        "issuer-dir-missing",
        on_card(case(&personalize_args(VALID, &no_issuer, &card, mailer_s)))
            .var("DIR", ds)
            .var("OUT", mailer_s),
    );
    let expired_issuer = crate::common::make_issuer("bad-input-expired-document-signer");
    let now = SystemTime::now();
    crate::common::issue_document_signer(
        &expired_issuer,
        now - Duration::from_secs(2 * 86_400),
        now - Duration::from_secs(86_400),
    );
    let yesterday = {
        let secs = (now - Duration::from_secs(86_400))
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        gregorian_of_unix_day(secs / 86_400)
    };
    let expired_issuer_s = path_str(&expired_issuer).to_string();
    t.run(
        "issuer-document-signer-expired",
        on_card(case(&personalize_args(
            VALID,
            &expired_issuer_s,
            &card,
            mailer_s,
        )))
        .var("ISSUER", &expired_issuer_s)
        .var("OUT", mailer_s)
        .var("DATE", &yesterday),
    );
    assert!(!mailer.exists(), "a PIN mailer was written");

    // PIN mailers that cannot be used.
    let other = d.join("other-card-pins.txt");
    let other_text = "melli PIN mailer\ncard: SOMEONEELSE\nPIN: 123456\nPUK: 1234567890\n";
    fs::write(&other, other_text).expect("other mailer");
    let other_s = path_str(&other);
    t.run(
        "pin-mailer-other-card",
        on_card(case(&personalize_args(VALID, &issuer, &card, other_s)))
            .var("ISSUER", &issuer)
            .var("FILE", other_s),
    );
    assert_eq!(fs::read_to_string(&other).expect("mailer"), other_text);
    let damaged = d.join("damaged-pins.txt");
    let damaged_text = format!("melli PIN mailer\ncard: {serial}\nPIN: 123456\n");
    fs::write(&damaged, &damaged_text).expect("damaged mailer");
    let damaged_s = path_str(&damaged);
    t.run(
        "pin-mailer-damaged",
        on_card(case(&personalize_args(VALID, &issuer, &card, damaged_s)))
            .var("ISSUER", &issuer)
            .var("FILE", damaged_s),
    );
    assert_eq!(fs::read_to_string(&damaged).expect("mailer"), damaged_text);
    let unwritable = format!("{ds}/no/such/folder/pins.txt");
    t.run(
        "pin-mailer-unwritable",
        on_card(case(&personalize_args(VALID, &issuer, &card, &unwritable)))
            .var("ISSUER", &issuer)
            .var("DIR", ds),
    );

    assert_eq!(lifecycle(&card), "blank");
    assert_eq!(state_bytes(&card), state_before, "the card's state changed");

    // A card made for another issuer's master key: refused at the secure channel, left blank.
    let foreign = VirtualCard::for_issuer(other_issuer());
    let foreign_before = state_bytes(&foreign);
    let foreign_reader = foreign.reader_name().to_string();
    let foreign_mailer = d.join("foreign-pins.txt");
    let foreign_mailer_s = path_str(&foreign_mailer);
    t.run(
        "wrong-issuer-key",
        case(&personalize_args(
            VALID,
            &issuer,
            &foreign,
            foreign_mailer_s,
        ))
        .var("ISSUER", &issuer)
        .var("READER", &foreign_reader)
        .var("OUT", foreign_mailer_s),
    );
    assert_eq!(lifecycle(&foreign), "blank");
    assert_eq!(
        state_bytes(&foreign),
        foreign_before,
        "the foreign card's state changed"
    );
    t.finish();
}

/// The Gregorian date `YYYY-MM-DD` of a day counted from 1970-01-01 (civil-from-days).
fn gregorian_of_unix_day(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

// ---------------------------------------------------------------------------------------------
// The holder's secrets, on personalized cards
// ---------------------------------------------------------------------------------------------

const PIN_ROWS: &[&str] = &[
    "pin-no-terminal",
    "pin-stdin-empty",
    "pin-not-digits",
    "pin-too-short",
    "sign-out-folder-missing",
    "read-out-is-a-file",
    "already-issued",
    "signature-file-changed",
    "signature-other-root",
    "wrong-pin",
    "wrong-pin-last-try",
    "pin-blocked",
];

#[test]
fn pins_typed_wrong_and_a_pin_blocked() {
    let mut t = Table::new(PIN_ROWS);
    let (card, mailer) = personalized_card();
    let Mailer { pin, .. } = &mailer;
    let reader = card.reader_name().to_string();
    let serial = card.serial().to_string();
    let doc = card.dir().join("contract.txt");
    fs::write(&doc, "I agree.\n").expect("doc");
    let doc = path_str(&doc).to_string();
    let sig = format!("{doc}.p7s");
    let sign = |stdin: Option<&[&str]>, extra: &[&str]| {
        let mut args = vec!["sign", doc.as_str()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--reader", &reader]);
        let c = case(&args)
            .var("FILE", &doc)
            .var("READER", &reader)
            .var("PIN", pin);
        match stdin {
            Some(lines) => c.stdin(lines),
            None => c,
        }
    };
    let tries = || pin_tries(&card)["pin"].as_u64();

    t.run("pin-no-terminal", sign(None, &[]));
    t.run("pin-stdin-empty", sign(Some(&[]), &["--pin-stdin"]));
    t.run("pin-not-digits", sign(Some(&["12ab56"]), &["--pin-stdin"]));
    t.run("pin-too-short", sign(Some(&["12"]), &["--pin-stdin"]));
    let dir = card.dir().to_str().expect("utf-8").to_string();
    let far = format!("{dir}/no/such/folder/doc.p7s");
    t.run(
        "sign-out-folder-missing",
        sign(Some(&[pin]), &["--out", &far, "--pin-stdin"]).var("DIR", &dir),
    );
    assert_eq!(tries(), Some(3), "a PIN was spent");
    assert!(!Path::new(&sig).exists(), "a signature was written");

    t.run(
        "read-out-is-a-file",
        case(&["read", "--out", &doc, "--reader", &reader])
            .var("FILE", &doc)
            .var("READER", &reader),
    );
    assert_eq!(fs::read_to_string(&doc).expect("doc"), "I agree.\n");

    let issuer = path_str(test_issuer()).to_string();
    let other_mailer = card.dir().join("second-pins.txt");
    let other_mailer_s = path_str(&other_mailer);
    t.run(
        "already-issued",
        case(&personalize_args(
            "fixtures/records/valid-2.json",
            &issuer,
            &card,
            other_mailer_s,
        ))
        .var("ISSUER", &issuer)
        .var("READER", &reader)
        .var("OUT", other_mailer_s)
        .var("SERIAL", &serial),
    );
    assert!(
        !other_mailer.exists(),
        "a PIN mailer with secrets the card never got was left behind"
    );

    // A good signature, then the file changed under it, and another issuer's root.
    let signed = melli_stdin(
        &["sign", &doc, "--pin-stdin", "--reader", &reader],
        &format!("{pin}\n"),
    );
    assert_eq!(signed.code, 0, "{signed:?}");
    fs::write(&doc, "I do not agree.\n").expect("change doc");
    let root = root_pem(test_issuer());
    t.run(
        "signature-file-changed",
        case(&["verify-signature", &doc, &sig, "--trust", &root])
            .var("FILE", &doc)
            .var("ROOT", &root),
    );
    fs::write(&doc, "I agree.\n").expect("restore doc");
    let other_root = root_pem(other_issuer());
    t.run(
        "signature-other-root",
        case(&["verify-signature", &doc, &sig, "--trust", &other_root])
            .var("FILE", &doc)
            .var("ROOT", &other_root),
    );
    fs::remove_file(&sig).expect("remove signature");

    let wrong_pin = wrong(pin, 6);
    t.run(
        "wrong-pin",
        sign(Some(&[&wrong_pin]), &["--pin-stdin"]).var("WRONG", &wrong_pin),
    );
    t.run(
        "wrong-pin-last-try",
        sign(Some(&[&wrong_pin]), &["--pin-stdin"]).var("WRONG", &wrong_pin),
    );
    let third = melli_stdin(
        &["sign", &doc, "--pin-stdin", "--reader", &reader],
        &format!("{wrong_pin}\n"),
    );
    assert_eq!(third.code, 3, "{third:?}");
    assert_eq!(tries(), Some(0));
    t.run("pin-blocked", sign(Some(&[pin]), &["--pin-stdin"]));
    assert!(!Path::new(&sig).exists(), "a signature was written");
    t.finish();
}

const PUK_ROWS: &[&str] = &[
    "puk-too-short",
    "wrong-puk",
    "puk-blocked",
    "signing-key-blocked",
];

#[test]
fn puks_typed_wrong_block_the_signing_key() {
    let mut t = Table::new(PUK_ROWS);
    let (card, mailer) = personalized_card();
    let reader = card.reader_name().to_string();
    let doc = card.dir().join("contract.txt");
    fs::write(&doc, "I agree.\n").expect("doc");
    let doc = path_str(&doc).to_string();
    let unblock = |lines: &[&str]| {
        case(&["pin", "unblock", "--pin-stdin", "--reader", &reader])
            .stdin(lines)
            .var("READER", &reader)
            .var("PUK", &mailer.puk)
    };
    let puk_tries = || pin_tries(&card)["puk"].as_u64();

    t.run("puk-too-short", unblock(&["123", "246810"]));
    assert_eq!(puk_tries(), Some(10), "a PUK try was spent");
    let wrong_puk = wrong(&mailer.puk, 10);
    t.run(
        "wrong-puk",
        unblock(&[&wrong_puk, "246810"]).var("WRONG", &wrong_puk),
    );
    for _ in 0..9 {
        let out = melli_stdin(
            &["pin", "unblock", "--pin-stdin", "--reader", &reader],
            &format!("{wrong_puk}\n246810\n"),
        );
        assert_eq!(out.code, 3, "{out:?}");
    }
    assert_eq!(puk_tries(), Some(0));
    t.run("puk-blocked", unblock(&[&mailer.puk, "246810"]));
    t.run(
        "signing-key-blocked",
        case(&["sign", &doc, "--pin-stdin", "--reader", &reader])
            .stdin(&[&mailer.pin])
            .var("FILE", &doc)
            .var("READER", &reader)
            .var("PIN", &mailer.pin),
    );
    assert!(
        !Path::new(&format!("{doc}.p7s")).exists(),
        "a signature was written"
    );
    t.finish();
}

// ---------------------------------------------------------------------------------------------
// Data on the card that do not parse, or do not verify
// ---------------------------------------------------------------------------------------------

const DAMAGED: &[&str] = &[
    "dg1-garbage-read",
    "dg1-garbage-verify",
    "dg2-garbage-read-png",
    "dg6-garbage-read-out",
    "dg6-garbage-sign",
    "dg6-garbage-verify",
    "sod-garbage-verify",
    "trust-other-root",
    "expired-card-verify",
];

#[test]
fn data_on_the_card_that_do_not_parse_or_verify() {
    let mut t = Table::new(DAMAGED);
    let (mut card, mailer) = personalized_card();
    let reader = card.reader_name().to_string();
    let root = root_pem(test_issuer());
    let pristine = read_state(&card);
    let content = |fid: &str| {
        let mut state = pristine.clone();
        state_file_content(&mut state, fid)
            .as_str()
            .expect("hex")
            .to_string()
    };
    let at_desk = |args: &[&str]| case(args).var("READER", &reader).var("ROOT", &root);
    let out_dir = card.dir().join("export");
    let out_dir_s = path_str(&out_dir).to_string();
    let restore = |card: &mut VirtualCard| {
        card.kill();
        write_state(card, &pristine);
        card.restart();
    };

    t.run(
        "trust-other-root",
        case(&[
            "verify",
            "--trust",
            &root_pem(other_issuer()),
            "--reader",
            &reader,
        ])
        .var("READER", &reader)
        .var("ROOT", root_pem(other_issuer())),
    );

    put_file(&mut card, "0101", "DEADBEEF");
    t.run("dg1-garbage-read", at_desk(&["read", "--reader", &reader]));
    t.run(
        "dg1-garbage-verify",
        at_desk(&["verify", "--trust", &root, "--reader", &reader]),
    );
    restore(&mut card);

    put_file(&mut card, "0102", "DEADBEEF");
    t.run(
        "dg2-garbage-read-png",
        at_desk(&["read", "--out", &out_dir_s, "--png", "--reader", &reader])
            .var("DIR", &out_dir_s),
    );
    assert!(
        !out_dir.exists(),
        "--out was written although the photo does not decode"
    );
    restore(&mut card);

    put_file(&mut card, "0106", "DEADBEEF");
    t.run(
        "dg6-garbage-read-out",
        at_desk(&["read", "--out", &out_dir_s, "--reader", &reader]).var("DIR", &out_dir_s),
    );
    assert!(
        !out_dir.exists(),
        "--out was written although DG6 does not parse"
    );
    let doc = card.dir().join("contract.txt");
    fs::write(&doc, "I agree.\n").expect("doc");
    let doc = path_str(&doc).to_string();
    t.run(
        "dg6-garbage-sign",
        case(&["sign", &doc, "--pin-stdin", "--reader", &reader])
            .stdin(&[&mailer.pin])
            .var("FILE", &doc)
            .var("READER", &reader)
            .var("PIN", &mailer.pin),
    );
    assert_eq!(pin_tries(&card)["pin"].as_u64(), Some(3));
    assert!(
        !Path::new(&format!("{doc}.p7s")).exists(),
        "a signature was written"
    );
    t.run(
        "dg6-garbage-verify",
        at_desk(&["verify", "--trust", &root, "--reader", &reader]),
    );
    restore(&mut card);

    put_file(&mut card, "011D", "DEADBEEF");
    t.run(
        "sod-garbage-verify",
        at_desk(&["verify", "--trust", &root, "--reader", &reader]),
    );
    restore(&mut card);

    // A genuine card past its expiry: DG1 says 1404/01/01, and the document signer signs a
    // security object over it, as the issuer would have.
    let dg1 = content("0101");
    let expiry = format!("DF0E08{}", hex::encode_upper("14100910"));
    assert!(dg1.contains(&expiry), "DG1 has no expiry 1410/09/10: {dg1}");
    let dg1 = dg1.replace(&expiry, &format!("DF0E08{}", hex::encode_upper("14040101")));
    let groups: Vec<(u8, Vec<u8>)> = [
        (1, dg1.clone()),
        (2, content("0102")),
        (4, content("0104")),
        (5, content("0105")),
        (6, content("0106")),
        (7, content("0107")),
    ]
    .into_iter()
    .map(|(n, h)| (n, hex::decode(h).expect("hex")))
    .filter(|(_, bytes)| !bytes.is_empty())
    .collect();
    let refs: Vec<(u8, &[u8])> = groups.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    let issuer = crate::common::load_issuer(test_issuer());
    let sod = issuer
        .sign_security_object(card.serial(), &refs)
        .expect("a security object");
    let mut state = pristine.clone();
    *state_file_content(&mut state, "0101") = dg1.into();
    *state_file_content(&mut state, "011D") = hex::encode_upper(sod).into();
    card.kill();
    write_state(&card, &state);
    card.restart();
    let out = t.run(
        "expired-card-verify",
        at_desk(&["verify", "--trust", &root, "--reader", &reader]),
    );
    let failed: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("FAIL"))
        .collect();
    assert_eq!(failed.len(), 1, "only the expiry fails: {}", out.stdout);
    t.finish();
}

// ---------------------------------------------------------------------------------------------
// The card pulled out in the middle of a command
// ---------------------------------------------------------------------------------------------

const PULLED: &[&str] = &[
    "card-removed-mid-read",
    "card-removed-mid-personalize",
    "half-personalized-read",
];

#[test]
fn cards_pulled_in_the_middle_of_a_command() {
    let mut t = Table::new(PULLED);
    let issued = {
        let (card, _) = personalized_card();
        state_bytes(&card)
    };
    // A personalized card that is pulled at its 8th APDU (in the middle of `melli read`).
    let mut card = VirtualCard::with_options(CardOptions {
        tear_at: Some(8),
        ..CardOptions::default()
    });
    card.kill();
    fs::write(card.state_path(), &issued).expect("state");
    card.restart();
    let reader = card.reader_name().to_string();
    t.run(
        "card-removed-mid-read",
        case(&["read", "--reader", &reader]).var("READER", &reader),
    );
    // Let it come back before it is dropped: a reader left mid-tear confuses the next card.
    card.wait_reinserted();
    drop(card);

    let mut card = VirtualCard::with_options(CardOptions {
        issuer: Some(test_issuer().to_path_buf()),
        tear_at: Some(10),
        ..CardOptions::default()
    });
    let reader = card.reader_name().to_string();
    let issuer = path_str(test_issuer()).to_string();
    let mailer = mailer_path(&card);
    let mailer_s = path_str(&mailer).to_string();
    t.run(
        "card-removed-mid-personalize",
        case(&personalize_args(VALID, &issuer, &card, &mailer_s))
            .var("ISSUER", &issuer)
            .var("READER", &reader)
            .var("OUT", &mailer_s),
    );
    card.wait_reinserted();
    t.run(
        "half-personalized-read",
        case(&["read", "--reader", &reader])
            .var("READER", &reader)
            .var("SERIAL", card.serial()),
    );
    // And the same command finishes it, as the message says.
    let again = personalize_with(&card, VALID, test_issuer());
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(read_mailer(&mailer).serial, card.serial());
    t.finish();
}

// ---------------------------------------------------------------------------------------------
// The issuance line and the virtual card's own commands
// ---------------------------------------------------------------------------------------------

const LINE: &[&str] = &[
    "status-bad-national-code",
    "status-bad-birth-date",
    "feed-count-zero",
    "feed-bad-prefix",
    "demo-dir-not-empty",
    "demo-readers-mismatch",
    "journal-missing",
    "journal-not-melli",
];

#[test]
fn issuance_line_and_card_feeder_input() {
    let mut t = Table::new(LINE);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = path_str(dir.path());
    let issuer = path_str(test_issuer()).to_string();
    let journal = format!("{d}/journal.db");
    t.run(
        "status-bad-national-code",
        case(&[
            "status",
            "--journal",
            &journal,
            "--national-code",
            "123",
            "--birth-date",
            "1368/06/15",
        ])
        .var("DIR", d),
    );
    t.run(
        "status-bad-birth-date",
        case(&[
            "status",
            "--journal",
            &journal,
            "--national-code",
            "0081493721",
            "--birth-date",
            "1368/13/15",
        ])
        .var("DIR", d),
    );
    let cards = format!("{d}/cards");
    t.run(
        "feed-count-zero",
        case(&[
            "card", "feed", "--dir", &cards, "--count", "0", "--issuer", &issuer,
        ])
        .var("DIR", d)
        .var("ISSUER", &issuer),
    );
    t.run(
        "feed-bad-prefix",
        case(&[
            "card",
            "feed",
            "--dir",
            &cards,
            "--count",
            "3",
            "--serial-prefix",
            "ab",
            "--issuer",
            &issuer,
        ])
        .var("DIR", d)
        .var("ISSUER", &issuer),
    );
    assert!(!Path::new(&cards).exists(), "a refused feeder made cards");
    t.run("demo-dir-not-empty", case(&["demo", "--dir", "fixtures"]));
    t.run(
        "demo-readers-mismatch",
        case(&[
            "demo",
            "--vpcd",
            "127.0.0.1:1",
            "--vpcd",
            "127.0.0.1:2",
            "--reader",
            "X",
        ]),
    );
    let missing = format!("{d}/none.db");
    t.run(
        "journal-missing",
        case(&[
            "status",
            "--journal",
            &missing,
            "--tracking-code",
            "140309200001",
        ])
        .var("DIR", d),
    );
    assert!(!Path::new(&missing).exists(), "status made a journal");
    let readme = fs::read("README.md").expect("README");
    t.run(
        "journal-not-melli",
        case(&[
            "status",
            "--journal",
            "README.md",
            "--tracking-code",
            "140309200001",
        ]),
    );
    assert_eq!(fs::read("README.md").expect("README"), readme);
    t.finish();
}

// ---------------------------------------------------------------------------------------------
// A virtual card's state file
// ---------------------------------------------------------------------------------------------

const CARD_STATE: &[&str] = &[
    "card-state-edited",
    "card-state-mode",
    "card-state-old-format",
];

#[test]
fn card_state_files_the_card_refuses() {
    use std::os::unix::fs::PermissionsExt;
    let mut t = Table::new(CARD_STATE);
    let dir = tempfile::tempdir().expect("tempdir");
    let new_card = |name: &str| {
        let path = dir.path().join(name);
        let out = melli(&[
            "card",
            "new",
            "--state",
            path_str(&path),
            "--serial",
            "BAD0001",
            "--issuer",
            path_str(test_issuer()),
        ]);
        assert_eq!(out.code, 0, "{out:?}");
        let text = fs::read_to_string(&path).expect("state file");
        (path, text)
    };
    let serve = |path: &Path| {
        case(&[
            "card",
            "serve",
            "--state",
            path_str(path),
            "--vpcd",
            "127.0.0.1:1",
        ])
        .var("FILE", path_str(path))
    };

    let (edited, text) = new_card("edited.json");
    let changed = text.replacen("\"tries_left\": 3", "\"tries_left\": 2", 1);
    assert_ne!(changed, text);
    fs::write(&edited, &changed).expect("edit");
    t.run("card-state-edited", serve(&edited));
    assert_eq!(fs::read_to_string(&edited).expect("state"), changed);

    let (open, text) = new_card("open.json");
    fs::set_permissions(&open, fs::Permissions::from_mode(0o644)).expect("chmod");
    t.run("card-state-mode", serve(&open));
    assert_eq!(fs::read_to_string(&open).expect("state"), text);

    let (old, text) = new_card("old.json");
    let mut v1: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let members = v1.as_object_mut().expect("object");
    members.remove("device_secret");
    members.remove("mac");
    v1["format_version"] = 1.into();
    v1["pin"]["reference"] = "313233343536FFFFFFFFFFFFFFFFFFFF".into();
    let v1 = serde_json::to_string_pretty(&v1).expect("JSON");
    fs::write(&old, &v1).expect("write");
    t.run("card-state-old-format", serve(&old));
    assert_eq!(fs::read_to_string(&old).expect("state"), v1);
    t.finish();
}

// ---------------------------------------------------------------------------------------------
// The issuer's key stores
// ---------------------------------------------------------------------------------------------

const ISSUER_KEYS: &[&str] = &[
    "issuer-key-file-open",
    "issuer-old-layout",
    "issuer-pin-missing",
    "issuer-pin-wrong",
    "issuer-token-missing",
    "issuer-passphrase-wrong",
    "issuer-passphrase-short",
    "issuer-root-not-apart",
    "issuer-root-missing",
];

#[test]
fn the_issuers_key_stores_refuse_bad_keys_and_secrets() {
    use std::os::unix::fs::PermissionsExt;
    let mut t = Table::new(ISSUER_KEYS);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = path_str(dir.path()).to_string();
    let out = format!("{d}/pin-mailer.txt");
    let personalize = |issuer: &str| {
        case(&[
            "personalize",
            VALID,
            "--issuer",
            issuer,
            "--pin-mailer",
            &out,
        ])
        .var("ISSUER", issuer)
        .var("OUT", &out)
    };
    let no_mailer = || assert!(!Path::new(&out).exists(), "a PIN mailer was written");

    let open = crate::common::make_plain_issuer("bad-input-open-key-file");
    fs::set_permissions(open.join("master.key"), fs::Permissions::from_mode(0o644)).expect("chmod");
    t.run("issuer-key-file-open", personalize(path_str(&open)));
    no_mailer();

    let old = dir.path().join("old-issuer");
    fs::create_dir(&old).expect("mkdir");
    for f in [
        "root.pem",
        "document-signer.key",
        "signing-ca.key",
        "master.key",
    ] {
        fs::write(old.join(f), "").expect("old file");
    }
    t.run("issuer-old-layout", personalize(path_str(&old)));

    let issuer = path_str(test_issuer()).to_string();
    let config: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(test_issuer().join("issuer.json")).expect("issuer.json"),
    )
    .expect("JSON");
    let token = config["keys"]["token"]
        .as_str()
        .expect("a token")
        .to_string();
    t.run(
        "issuer-pin-missing",
        personalize(&issuer)
            .env("MELLI_ISSUER_PIN", "")
            .var("TOKEN", &token),
    );
    let wrong_pin = "not-the-token-pin";
    let out_wrong = t.run(
        "issuer-pin-wrong",
        personalize(&issuer)
            .env("MELLI_ISSUER_PIN", wrong_pin)
            .var("WRONG", wrong_pin)
            .var("TOKEN", &token),
    );
    crate::common::assert_secret_absent(wrong_pin, &[&out_wrong]);
    no_mailer();

    let new = format!("{d}/new");
    t.run(
        "issuer-token-missing",
        case(&[
            "issuer",
            "init",
            &new,
            "--hsm",
            crate::common::SOFTHSM_MODULE,
            "--token",
            "no-such-token",
            "--root-token",
            "no-such-root",
        ])
        .var("DIR", &d),
    );
    assert!(!Path::new(&new).exists(), "a refused init left {new}");
    assert!(
        !Path::new(&format!("{new}-root")).exists(),
        "a refused init left its root"
    );

    // Encrypted key files, made with the harness's MELLI_ISSUER_PIN / MELLI_ROOT_PIN as their
    // passphrases.
    let encrypted = dir.path().join("encrypted");
    let made = melli(&["issuer", "init", path_str(&encrypted)]);
    assert_eq!(made.code, 0, "{made:?}");
    assert!(fs::read_to_string(encrypted.join("signing-ca.key"))
        .expect("key")
        .starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    let wrong_phrase = "not the passphrase";
    let out_wrong = t.run(
        "issuer-passphrase-wrong",
        personalize(path_str(&encrypted))
            .env("MELLI_ISSUER_PIN", wrong_phrase)
            .var("WRONG", wrong_phrase),
    );
    crate::common::assert_secret_absent(wrong_phrase, &[&out_wrong]);
    no_mailer();

    t.run(
        "issuer-passphrase-short",
        case(&["issuer", "init", &new])
            .env("MELLI_ROOT_PIN", "short")
            .var("DIR", &d),
    );
    assert!(!Path::new(&new).exists(), "a refused init left {new}");
    t.run(
        "issuer-root-not-apart",
        case(&[
            "issuer",
            "init",
            &new,
            "--root-dir",
            &new,
            "--insecure-plain-keys",
        ])
        .var("DIR", &d),
    );
    assert!(!Path::new(&new).exists(), "a refused init left {new}");

    let offline = crate::common::make_plain_issuer("bad-input-root-offline");
    let root = melli::pki::issuer::default_root_dir(&offline);
    fs::rename(&root, dir.path().join("the-root-in-a-safe")).expect("take the root away");
    let before = fs::read(offline.join("document-signer.pem")).expect("signer");
    t.run(
        "issuer-root-missing",
        case(&["issuer", "new-document-signer", path_str(&offline)])
            .var("ISSUER", path_str(&offline)),
    );
    assert_eq!(
        fs::read(offline.join("document-signer.pem")).expect("signer"),
        before,
        "the document signer changed"
    );
    t.finish();
}

// ---------------------------------------------------------------------------------------------
// Files and folders given where something else is meant; the journal
// ---------------------------------------------------------------------------------------------

const FILES: &[&str] = &[
    "journal-empty-file",
    "journal-is-a-folder",
    "status-bad-tracking-code",
    "status-birth-date-alone",
    "issuer-init-is-a-file",
    "issuer-init-dir-mode",
];

#[test]
fn files_and_folders_given_for_something_else_are_refused_untouched() {
    use std::os::unix::fs::PermissionsExt;
    let mut t = Table::new(FILES);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = path_str(dir.path());
    let journal = format!("{d}/journal.db");
    let empty = format!("{d}/empty.db");
    fs::write(&empty, b"").expect("write");
    t.run(
        "journal-empty-file",
        case(&["status", "--journal", &empty, "--tracking-code", "AB12CD"]).var("FILE", &empty),
    );
    assert_eq!(
        fs::read(&empty).expect("read"),
        b"",
        "status wrote a journal"
    );
    t.run(
        "journal-is-a-folder",
        case(&["status", "--journal", d, "--tracking-code", "AB12CD"]).var("DIR", d),
    );
    t.run(
        "status-bad-tracking-code",
        case(&["status", "--journal", &journal, "--tracking-code", "AB_12"]).var("DIR", d),
    );
    t.run(
        "status-birth-date-alone",
        case(&[
            "status",
            "--journal",
            &journal,
            "--birth-date",
            "1368/06/15",
        ])
        .var("DIR", d),
    );
    assert!(!Path::new(&journal).exists(), "status made a journal");
    t.run(
        "issuer-init-is-a-file",
        case(&["issuer", "init", &empty]).var("FILE", &empty),
    );
    assert_eq!(fs::read(&empty).expect("read"), b"");
    let open = format!("{d}/open");
    fs::create_dir(&open).expect("mkdir");
    fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).expect("chmod");
    t.run(
        "issuer-init-dir-mode",
        case(&["issuer", "init", &open, "--insecure-plain-keys"]).var("DIR", d),
    );
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["empty.db", "open"], "a refused run left something");
    assert_eq!(fs::read_dir(&open).expect("list").count(), 0);
    t.finish();
}

// ---------------------------------------------------------------------------------------------
// The journal on a PostgreSQL server
// ---------------------------------------------------------------------------------------------

const JOURNAL_SERVER: &[&str] = &[
    "journal-url-malformed",
    "journal-url-scheme",
    "journal-pg-wrong-password",
    "journal-pg-down",
    "journal-pg-too-new",
    "batch-import-other-content",
    "batch-run-on-a-file",
    "batch-run-station-name",
    "batch-run-station-twice",
    "batch-run-local-log-damaged",
    "status-shared-person-without-issuer",
    "journal-sslrootcert-missing",
];

#[test]
fn journal_connection_strings_and_servers_that_refuse() {
    use melli_testkit::postgres::Postgres;
    let mut t = Table::new(JOURNAL_SERVER);
    let wrong = "Wr0ng-pa55word";
    let malformed = format!("postgres://melli:{wrong}@localhost:notaport/melli");
    let out = t.run(
        "journal-url-malformed",
        case(&["journal", "migrate", "--journal", &malformed]).var("WRONG", wrong),
    );
    crate::common::assert_secret_absent(wrong, &[&out]);
    t.run(
        "journal-url-scheme",
        case(&[
            "journal",
            "migrate",
            "--journal",
            "mysql://melli@localhost/melli",
        ]),
    );

    let pg = Postgres::start_new();
    let url = pg.url();
    let pgdir = pg.encoded_socket_dir();
    let refused = pg.url_with_password(wrong);
    let out = t.run(
        "journal-pg-wrong-password",
        case(&["journal", "migrate", "--journal", &refused])
            .var("WRONG", wrong)
            .var("PGDIR", &pgdir),
    );
    crate::common::assert_secret_absent(wrong, &[&out]);
    assert_eq!(
        pg.superuser_sql("SELECT to_regclass('melli_schema') IS NULL"),
        "t\n",
        "a refused login made the schema"
    );

    let made = melli(&["journal", "migrate", "--journal", &url]);
    assert_eq!(made.code, 0, "{made:?}");
    shared_queue_rows(&mut t, &pg);
    pg.superuser_sql("INSERT INTO melli_schema (version) VALUES (999)");
    let tables = |pg: &Postgres| {
        pg.superuser_sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    };
    let before = tables(&pg);
    let out = t.run(
        "journal-pg-too-new",
        case(&["journal", "migrate", "--journal", &url])
            .var("URL", &url)
            .var("PGDIR", &pgdir),
    );
    crate::common::assert_secret_absent(pg.password(), &[&out, &made]);
    assert_eq!(tables(&pg), before);
    assert_eq!(
        pg.superuser_sql("SELECT version FROM melli_schema ORDER BY 1"),
        "1\n999\n"
    );

    pg.stop();
    let out = t.run(
        "journal-pg-down",
        case(&["journal", "migrate", "--journal", &url])
            .var("URL", &url)
            .var("PGDIR", &pgdir),
    );
    crate::common::assert_secret_absent(pg.password(), &[&out]);
    // The CA file is read before anything is sent: no server is needed to find it missing.
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("db-ca.pem");
    let tls_url = format!(
        "postgres://melli:{wrong}@127.0.0.1:1/melli?sslmode=verify-full&sslrootcert={}",
        ca.display()
    );
    let out = t.run(
        "journal-sslrootcert-missing",
        case(&["journal", "migrate", "--journal", &tls_url])
            .var("WRONG", wrong)
            .var("CA", path_str(&ca)),
    );
    crate::common::assert_secret_absent(wrong, &[&out]);
    t.finish();
}

/// The shared queue's refusals, on a migrated journal: a record imported again with other
/// content (nothing written), `batch run` given a SQLite file or a bad station name, a status
/// look-up by person without the issuer's key.
fn shared_queue_rows(t: &mut Table, pg: &melli_testkit::postgres::Postgres) {
    let url = pg.url();
    let dir = tempfile::tempdir().expect("tempdir");
    let records = crate::common::feeder::batch_records(dir.path(), 2);
    let issuer = path_str(test_issuer());
    let imported = melli(&[
        "batch",
        "import",
        path_str(&records),
        "--issuer",
        issuer,
        "--journal",
        &url,
    ]);
    assert_eq!(imported.code, 0, "{imported:?}");
    let contents = || pg.superuser_sql("SELECT tracking_code, content_sha256 FROM records");
    let before = contents();
    // The same tracking code, another given name.
    let other = dir.path().join("other.jsonl");
    let text = fs::read_to_string(&records).expect("records");
    fs::write(&other, text.replacen("Alireza", "Alirezaa", 1)).expect("other records");
    t.run(
        "batch-import-other-content",
        case(&[
            "batch",
            "import",
            path_str(&other),
            "--issuer",
            issuer,
            "--journal",
            &url,
        ])
        .var("RECORDS", path_str(&other))
        .var("ISSUER", issuer)
        .var("URL", &url),
    );
    assert_eq!(contents(), before, "a refused import changed the queue");

    let file = dir.path().join("journal.db");
    t.run(
        "batch-run-on-a-file",
        case(&[
            "batch",
            "run",
            "--station",
            "north",
            "--issuer",
            issuer,
            "--journal",
            path_str(&file),
        ])
        .var("ISSUER", issuer)
        .var("JOURNAL", path_str(&file)),
    );
    assert!(!file.exists(), "a refused run made a journal file");
    t.run(
        "batch-run-station-name",
        case(&[
            "batch",
            "run",
            "--station",
            "north 1",
            "--issuer",
            issuer,
            "--journal",
            &url,
        ])
        .var("ISSUER", issuer)
        .var("URL", &url),
    );
    // `batch run` as station north with its local log at `log`.
    let run_north = |log: &Path| {
        case(&[
            "batch",
            "run",
            "--station",
            "north",
            "--issuer",
            issuer,
            "--journal",
            &url,
            "--local-log",
            path_str(log),
        ])
        .var("ISSUER", issuer)
        .var("URL", &url)
        .var("LOG", path_str(log))
    };
    // A station already running on this machine holds its local log.
    let local_log = dir.path().join("north-local.log");
    let running = melli::journal::postgres::LocalLog::open(&local_log, "north").expect("lock");
    t.run("batch-run-station-twice", run_north(&local_log));
    drop(running);
    let damaged = dir.path().join("damaged-local.log");
    let line = b"{\"at\":1,\"what\":\"locked\"}\n";
    fs::write(&damaged, line).expect("damaged log");
    t.run("batch-run-local-log-damaged", run_north(&damaged));
    assert_eq!(
        fs::read(&damaged).expect("damaged log"),
        line,
        "a refused run changed the log"
    );
    t.run(
        "status-shared-person-without-issuer",
        case(&[
            "status",
            "--journal",
            &url,
            "--national-code",
            "2710079194",
            "--birth-date",
            "1368/06/15",
        ])
        .var("URL", &url),
    );
}

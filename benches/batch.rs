//! The issuance line's pace through the real stack: `melli batch` on 1, 2 and 4 vpcd readers of
//! one pcscd, each fed blank virtual cards by a `melli card feed` (a 500 ms card change, longer
//! than pcscd's 400 ms look at a vpcd reader), and the journal's size per 1 000 records.
//!
//! `cargo bench --bench batch` measures: 12 cards per reader, then 1 000 records on 4 readers
//! for the journal (`MELLI_BENCH_CARDS=N` sets the cards per reader, `MELLI_BENCH_JOURNAL=N`
//! the journal's records, 0 to skip). Run by `cargo test --all-targets`, it only checks that the
//! line works, with one card per reader, and prints no verdict: it is not a timed test.

#[path = "../tests/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::feeder::{Feeder, FeederOptions};
use common::{run, test_issuer, MELLI};

/// Milliseconds between two cards in a feeder.
const GAP_MS: u64 = 500;

/// A valid national code from a number: nine digits and the check digit.
fn national_code(n: u32) -> String {
    let nine = format!("{:09}", 300_000_000 + n * 7);
    let sum: u32 = nine
        .bytes()
        .zip((2..=10u32).rev())
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let r = sum % 11;
    let check = if r < 2 { r } else { 11 - r };
    format!("{nine}{check}")
}

/// `n` records: `fixtures/records/valid-1.json`, each with its own tracking and national code.
fn records_file(dir: &Path, n: u32) -> PathBuf {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let text = fs::read_to_string(fixtures.join("records/valid-1.json")).expect("fixture");
    let mut base: serde_json::Value = serde_json::from_str(&text).expect("fixture JSON");
    base["photo"] = fixtures.join("photos/face-1.jpg").to_string_lossy().into();
    base["fingerprint"] = fixtures
        .join("fingerprints/finger-1.fmr")
        .to_string_lossy()
        .into();
    let mut lines = String::new();
    for i in 1..=n {
        let mut record = base.clone();
        record["tracking_code"] = format!("1403093{i:05}").into();
        record["national_code"] = national_code(i).into();
        let _ = writeln!(lines, "{record}");
    }
    let path = dir.join("records.jsonl");
    fs::write(&path, lines).expect("write records");
    path
}

struct Line {
    cards: u64,
    seconds: f64,
    cards_per_minute: f64,
    journal_bytes: u64,
}

/// One batch of `readers × cards` records on fresh feeders.
fn run_line(readers: usize, records: u32) -> Line {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = records_file(dir.path(), records);
    let per_reader = records.div_ceil(readers as u32) + 1;
    let feeders: Vec<Feeder> = (0..readers)
        .map(|_| {
            Feeder::start(FeederOptions {
                gap_ms: GAP_MS,
                ..FeederOptions::new(per_reader, test_issuer())
            })
        })
        .collect();
    let names: Vec<&str> = feeders.iter().map(Feeder::reader_name).collect();
    let journal = dir.path().join("journal.db");
    let out = run(
        Command::new(MELLI)
            .arg("batch")
            .arg(&path)
            .arg("--issuer")
            .arg(test_issuer())
            .arg("--journal")
            .arg(&journal)
            .args(["--readers", &names.join(","), "--json"]),
        Duration::from_secs(3600),
    );
    assert_eq!(out.code, 0, "melli batch: {out:?}");
    let report = out.json();
    let size = |p: &Path| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    Line {
        cards: report["made"].as_u64().unwrap_or(0),
        seconds: report["seconds"].as_f64().unwrap_or(0.0),
        cards_per_minute: report["cards_per_minute"].as_f64().unwrap_or(0.0),
        journal_bytes: size(&journal) + size(&journal.with_extension("db-wal")),
    }
}

fn env_number(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let per_reader = env_number("MELLI_BENCH_CARDS", if measuring { 12 } else { 1 });
    let journal_records = env_number("MELLI_BENCH_JOURNAL", if measuring { 1000 } else { 0 });

    let mut lines = Vec::new();
    for readers in [1usize, 2, 4] {
        let line = run_line(readers, per_reader * readers as u32);
        assert_eq!(u64::from(per_reader) * readers as u64, line.cards);
        lines.push((readers, line));
    }
    if !measuring {
        println!(
            "batch: smoke run ok (1, 2 and 4 readers); measure with `cargo bench --bench batch`"
        );
        return;
    }
    println!();
    println!("melli batch through pcscd + vpcd, card feeders changing cards in {GAP_MS} ms");
    println!(
        "{:>7} {:>6} {:>9} {:>10}",
        "readers", "cards", "seconds", "cards/min"
    );
    for (readers, l) in &lines {
        println!(
            "{:>7} {:>6} {:>9.1} {:>10.1}",
            readers, l.cards, l.seconds, l.cards_per_minute
        );
    }
    if journal_records > 0 {
        let l = run_line(4, journal_records);
        println!(
            "journal: {} bytes for {} records on 4 readers ({:.0} bytes per 1 000 records; {:.1} cards/min)",
            l.journal_bytes,
            l.cards,
            l.journal_bytes as f64 * 1000.0 / l.cards as f64,
            l.cards_per_minute
        );
    }
}

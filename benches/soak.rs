//! Soak: card after card through pcscd — personalize, read, verify (with a live finger) and sign
//! with each of N virtual cards in a row (default 500), in one long-running host process,
//! the cards coming from one long-running `melli card feed`. Reports, at card 50 and at the
//! last card, the peak and current memory (RSS) and the open file descriptors of the host
//! process, the card feeder and pcscd, and counts every error.
//!
//! `bench/soak.sh` (or `cargo bench --bench soak`) runs it; `MELLI_SOAK_CARDS=N` sets the
//! number of cards. Run by `cargo test --all-targets`, it only checks the loop with 3 cards.

#[path = "../tests/common/mod.rs"]
mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use melli::applet::Applet;
use melli::model::{Secret, SecretKind, ValidRecord};
use melli::ops::personalize::personalize;
use melli::ops::read::read_card;
use melli::ops::sign::{hash_file, sign_digest, verify_signature};
use melli::ops::verify::verify_card;
use melli::pki::Issuer;
use melli::transport::{list_readers, PcscTransport};

use common::feeder::{Feeder, FeederOptions};
use common::{load_issuer, test_issuer};

/// What /proc says about a process.
#[derive(Clone, Copy, Debug, Default)]
struct Usage {
    peak_kib: u64,
    rss_kib: u64,
    fds: usize,
}

fn usage(pid: u32) -> Usage {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Usage {
        peak_kib: field("VmHWM:"),
        rss_kib: field("VmRSS:"),
        fds: fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or(0),
    }
}

/// Waits until `reader` holds a card other than the one seen at pcscd event count `after`
/// (pcscd counts insertions and removals); returns the new count.
fn wait_for_card(reader: &str, after: Option<u32>, deadline: Duration) -> Option<u32> {
    let started = Instant::now();
    while started.elapsed() < deadline {
        let found = list_readers().ok().and_then(|l| {
            l.into_iter()
                .find(|r| r.name == reader && r.card_present && Some(r.events) != after)
        });
        if let Some(r) = found {
            return Some(r.events);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// One card's whole life in one connection; the error, if any, as text.
fn one_card(
    reader: &str,
    record: &ValidRecord,
    issuer: &Issuer,
    document: &Path,
    live: &[u8],
) -> Result<(), String> {
    let pin = Secret::parse(SecretKind::Pin, "246810").map_err(|e| e.to_string())?;
    let puk = Secret::parse(SecretKind::Puk, "1357913579").map_err(|e| e.to_string())?;
    let transport = PcscTransport::connect(Some(reader)).map_err(|e| e.to_string())?;
    let mut applet = Applet::select(transport).map_err(|e| e.to_string())?;
    personalize(&mut applet, record, issuer, &pin, &puk, &mut |_| {})
        .map_err(|e| format!("personalize: {e}"))?;
    let contents = read_card(&mut applet).map_err(|e| format!("read: {e}"))?;
    contents
        .parse_identity()
        .map_err(|e| format!("identity: {e}"))?;
    let verdict = verify_card(
        &mut applet,
        &contents,
        issuer.root_certificate(),
        Some(live),
        SystemTime::now(),
    )
    .map_err(|e| format!("verify: {e}"))?;
    if !verdict.passed() {
        return Err(format!("verify: {verdict}"));
    }
    let digest = hash_file(document).map_err(|e| e.to_string())?;
    let p7s = sign_digest(&mut applet, &pin, &digest, SystemTime::now())
        .map_err(|e| format!("sign: {e}"))?;
    let report = verify_signature(&p7s, &digest, issuer.root_certificate(), SystemTime::now());
    if !report.verdict.passed() {
        return Err(format!("verify-signature: {}", report.verdict));
    }
    Ok(())
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let cards: u32 = std::env::var("MELLI_SOAK_CARDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if measuring { 500 } else { 3 });
    let checkpoint = 50.min(cards);

    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let record = ValidRecord::load(&fixtures.join("records/valid-1.json")).expect("record");
    let live = fs::read(fixtures.join("fingerprints/finger-1-live.fmr")).expect("live finger");
    let issuer = load_issuer(test_issuer());
    let dir = tempfile::tempdir().expect("tempdir");
    let document = dir.path().join("document.txt");
    fs::write(&document, "a document signed by every card of the soak\n").expect("document");

    let feeder = Feeder::start(FeederOptions {
        gap_ms: 500,
        // One card more than the soak uses: the feeder stays up to be measured at the end.
        ..FeederOptions::new(cards + 1, test_issuer())
    });
    let reader = feeder.reader_name().to_string();
    let feeder_pid = feeder.pid().expect("feeder runs");
    let pcscd_pid = feeder.pcscd().pid();
    let me = std::process::id();
    let start = [usage(me), usage(feeder_pid), usage(pcscd_pid)];
    let mut at_checkpoint = start;
    let mut errors: Vec<String> = Vec::new();
    let started = Instant::now();
    let mut seen = None;
    for n in 1..=cards {
        seen = wait_for_card(&reader, seen, Duration::from_secs(30));
        if seen.is_none() {
            errors.push(format!("card {n}: never came into the reader"));
            break;
        }
        if let Err(e) = one_card(&reader, &record, &issuer, &document, &live) {
            errors.push(format!("card {n}: {e}"));
        }
        if n == checkpoint {
            at_checkpoint = [usage(me), usage(feeder_pid), usage(pcscd_pid)];
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    // Let the last card leave, so the feeder is done with it.
    std::thread::sleep(Duration::from_millis(600));
    let end = [usage(me), usage(feeder_pid), usage(pcscd_pid)];

    println!();
    println!(
        "soak: {cards} cards in a row, each personalized, read, verified (with a live finger) and \
         signed through pcscd + vpcd, in {seconds:.0} s; {} error(s)",
        errors.len()
    );
    println!(
        "{:<22} {:>26} {:>26} {:>12}",
        "process",
        format!("peak / now RSS at card {checkpoint}"),
        format!("peak / now RSS at card {cards}"),
        "fds (start → end)"
    );
    for (i, name) in ["host (this process)", "card feeder", "pcscd"]
        .iter()
        .enumerate()
    {
        println!(
            "{:<22} {:>12} KiB / {:>6} KiB {:>12} KiB / {:>6} KiB {:>6} → {}",
            name,
            at_checkpoint[i].peak_kib,
            at_checkpoint[i].rss_kib,
            end[i].peak_kib,
            end[i].rss_kib,
            start[i].fds,
            end[i].fds
        );
    }
    for e in errors.iter().take(10) {
        println!("error: {e}");
    }
    assert!(errors.is_empty(), "the soak had errors");
    drop(feeder);
}

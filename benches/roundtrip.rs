//! Round trip of one APDU through the real stack — melli's PC/SC transport → libpcsclite →
//! pcscd → vpcd → TCP → card — for melli's Rust virtual card, the melli applet for Java Card in
//! jCardSim (`scripts/javacard-card`) and, in the same run and on the same pcscd, vsmartcard's
//! Python card (`vicc -t iso7816`).
//!
//! `cargo bench --bench roundtrip` measures (GET CHALLENGE loops; fewer for vicc, which takes
//! ~44 ms an APDU). Run by `cargo test --all-targets` (no `--bench` argument), it only checks
//! that the loop works, with a handful of APDUs, and prints no verdict: it is not a timed test.
//! `MELLI_BENCH_APDUS=N` sets the number of APDUs for melli's cards (vicc gets N / 50).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use melli::transport::{PcscTransport, Transport};

use common::{CardKind, CardOptions, Vicc, VirtualCard};

/// GET CHALLENGE, 8 bytes: answered the same way by both cards, without selecting anything.
const GET_CHALLENGE: [u8; 5] = [0x00, 0x84, 0x00, 0x00, 0x08];
const WARM_UP: usize = 5;

struct Stats {
    apdus: usize,
    median: Duration,
    p90: Duration,
    min: Duration,
    per_second: f64,
}

fn measure(reader: &str, apdus: usize) -> Stats {
    let mut transport =
        PcscTransport::connect(Some(reader)).unwrap_or_else(|e| panic!("connect to {reader}: {e}"));
    let mut once = || {
        let started = Instant::now();
        let response = transport
            .transmit(&GET_CHALLENGE)
            .unwrap_or_else(|e| panic!("GET CHALLENGE on {reader}: {e}"));
        let took = started.elapsed();
        assert_eq!(
            response.len(),
            10,
            "8 bytes and 9000 from {reader}: {response:02X?}"
        );
        assert_eq!(response[8..], [0x90, 0x00], "{reader}: {response:02X?}");
        took
    };
    for _ in 0..WARM_UP {
        once();
    }
    let started = Instant::now();
    let mut times: Vec<Duration> = (0..apdus).map(|_| once()).collect();
    let total = started.elapsed();
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Stats {
        apdus,
        median: at(0.5),
        p90: at(0.9),
        min: times[0],
        per_second: apdus as f64 / total.as_secs_f64(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let ours: usize = std::env::var("MELLI_BENCH_APDUS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if measuring { 5000 } else { 20 });
    let theirs = (ours / 50).max(3);

    let card_of = |kind| {
        VirtualCard::with_options(CardOptions {
            kind: Some(kind),
            ..CardOptions::default()
        })
    };
    let card = card_of(CardKind::Rust);
    let melli_stats = measure(card.reader_name(), ours);
    drop(card);
    let card = card_of(CardKind::JavaCard);
    let java_stats = measure(card.reader_name(), ours);
    drop(card);
    let vicc = Vicc::new();
    let vicc_stats = measure(vicc.reader_name(), theirs);
    drop(vicc);

    if !measuring {
        println!(
            "roundtrip: smoke run ok ({ours} + {ours} + {theirs} APDUs); measure with `cargo bench --bench roundtrip`"
        );
        return;
    }
    println!();
    println!(
        "GET CHALLENGE (00 84 00 00 08) round trip through pcscd + vpcd, melli's PC/SC transport"
    );
    println!(
        "{:<32} {:>7} {:>11} {:>11} {:>11} {:>9}",
        "card", "APDUs", "median", "p90", "min", "APDUs/s"
    );
    for (name, s) in [
        ("melli virtual card (Rust)", &melli_stats),
        ("melli applet in jCardSim (Java)", &java_stats),
        ("vicc -t iso7816 (Python)", &vicc_stats),
    ] {
        println!(
            "{:<32} {:>7} {:>11} {:>11} {:>11} {:>9.0}",
            name,
            s.apdus,
            ms(s.median),
            ms(s.p90),
            ms(s.min),
            s.per_second
        );
    }
    println!(
        "melli's card is {:.0}x faster per APDU (median)",
        vicc_stats.median.as_secs_f64() / melli_stats.median.as_secs_f64()
    );
}

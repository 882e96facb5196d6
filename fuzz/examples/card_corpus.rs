//! Replays `card_apdus` inputs (files or directories) through the harness and counts where
//! they start and end: `cargo run --release --example card_corpus fuzz/corpus/card_apdus`.

use std::collections::BTreeMap;
use std::path::Path;

use melli_fuzz::card_input;
use melli_fuzz::harness::{run, World};

fn main() {
    let world = World::get();
    let mut files = Vec::new();
    for arg in std::env::args().skip(1) {
        let path = Path::new(&arg);
        if path.is_dir() {
            for entry in std::fs::read_dir(path).expect("directory") {
                files.push(entry.expect("entry").path());
            }
        } else {
            files.push(path.to_path_buf());
        }
    }
    let names = ["blank", "personalizing", "operational"];
    let mut counts: BTreeMap<(&str, u8, bool), usize> = BTreeMap::new();
    let mut apdus = 0;
    for file in &files {
        let data = std::fs::read(file).expect("input");
        let (start, _) = card_input::decode(&data);
        let outcome = run(world, &data);
        apdus += outcome.apdus;
        *counts
            .entry((names[usize::from(start)], outcome.lifecycle, outcome.keyed))
            .or_default() += 1;
    }
    println!("{} inputs, {apdus} APDUs", files.len());
    println!("start          end  keyed  inputs");
    for ((start, end, keyed), n) in counts {
        println!("{start:<14} {end:02X}   {keyed:<5}  {n}");
    }
}

//! `melli card new` and `melli card serve`: the virtual card's factory and its socket.

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use melli::card::{vpcd, Card};
use melli::pki::read_master_key;

use crate::cli::Failure;

pub fn new(state: &Path, serial: &str, master_key: &Path) -> Result<ExitCode, Failure> {
    let key = read_master_key(master_key).map_err(|e| Failure::bad_input(e.to_string()))?;
    let card =
        Card::create_file(state, serial, &key).map_err(|e| Failure::bad_input(e.to_string()))?;
    println!(
        "manufactured blank card {} in {}",
        card.serial(),
        state.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn serve(state: &Path, vpcd_addr: &str, tear_at: Option<u64>) -> Result<ExitCode, Failure> {
    let mut card = Card::open_file(state).map_err(|e| Failure::bad_input(e.to_string()))?;
    let stop = AtomicBool::new(false);
    eprintln!(
        "card {} serving vpcd at {vpcd_addr} (state in {}); stop with Ctrl-C",
        card.serial(),
        state.display()
    );
    let options = vpcd::Options {
        tear_at,
        ..vpcd::Options::default()
    };
    vpcd::serve_with(
        &mut card,
        vpcd_addr,
        &stop,
        |line| eprintln!("card: {line}"),
        options,
    )
    .map_err(|e| Failure::card(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

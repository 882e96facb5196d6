//! The `melli` command: parses the command line, calls the library, prints the result, and
//! turns every error into one line and an exit code (0 success, 1 a check failed, 2 bad input or
//! usage, 3 card or reader error).
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("melli: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

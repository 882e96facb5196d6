//! The `melli` command: parses the command line, calls the library, prints the result, and
//! turns every error into one line and an exit code (0 success, 1 a check failed, 2 bad input or
//! usage, 3 card or reader error).
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

mod cli;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => return usage_error(e),
    };
    match cli::run(args) {
        Ok(code) => code,
        Err(failure) => {
            // The last safety net: whatever an error quotes from outside (a path, a name, a
            // card's answer) reaches the terminal as one line with nothing hidden in it.
            // Escaping is idempotent, so messages escaped at their source are unchanged.
            eprintln!("melli: {}", melli::display::escaped(&failure.message));
            ExitCode::from(failure.code)
        }
    }
}

/// `melli readers | head -1`: when whoever reads our output has gone away, stop quietly with
/// exit code 141 (128 + SIGPIPE), as a Unix tool killed by SIGPIPE does, instead of a panic
/// message — Rust ignores SIGPIPE, so `println!` meets EPIPE and panics.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let text = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if text.starts_with("failed printing to stdout") && text.contains("os error 32") {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// A command line clap refused, as one line (clap's own text spreads over several) and exit
/// code 2. `--help`, `--version` and a bare `melli` print clap's help as usual.
fn usage_error(e: clap::Error) -> ExitCode {
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    eprintln!(
        "melli: {}",
        melli::display::escaped(&one_line(&e.render().to_string()))
    );
    ExitCode::from(cli::exit::BAD_INPUT)
}

/// Folds clap's error text — `error: …`, indented details and tips, `Usage: …`, `For more
/// information…` — into `what is wrong — usage: …; more with --help`.
fn one_line(text: &str) -> String {
    let mut what = String::new();
    let mut usage = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(u) = line.strip_prefix("Usage: ") {
            usage = Some(u.to_string());
        } else if line.starts_with("For more information") {
            continue;
        } else {
            let line = line.strip_prefix("error: ").unwrap_or(line);
            if !what.is_empty() {
                // "…provided:" + "<RECORD>", "…for '<ACTION>'" + "[possible values: …]".
                let glue = if what.ends_with(':') || line.starts_with('[') {
                    " "
                } else {
                    "; "
                };
                what.push_str(glue);
            }
            what.push_str(line);
        }
    }
    match usage {
        Some(usage) => format!("{what} — usage: {usage}; more with --help"),
        None => format!("{what} — more with --help"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_are_one_line() {
        for args in [
            &["melli", "no-such-command"][..],
            &["melli", "check"],
            &["melli", "pin", "stat"],
            &["melli", "read", "--png"],
        ] {
            let e = cli::Cli::try_parse_from(args).expect_err("a usage error");
            let line = one_line(&e.render().to_string());
            assert!(!line.contains('\n'), "{args:?}: {line}");
            assert!(!line.starts_with("error"), "{args:?}: {line}");
            assert!(line.ends_with("more with --help"), "{args:?}: {line}");
        }
    }
}

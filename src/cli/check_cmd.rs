//! `melli check`: an enrolment record validated before any card is touched.

use std::path::Path;
use std::process::ExitCode;

use melli::display::escaped;
use melli::model::{enrolment::base_dir_of, EnrolmentRecord, JalaliDate};

use melli::display::escaped_cut;

use crate::cli::output;
use crate::cli::Failure;

#[derive(serde::Serialize)]
struct CheckReport {
    record: String,
    valid: bool,
    /// Whether the warnings, if any, were accepted (`--allow-warnings`).
    warnings_allowed: bool,
    errors: Vec<String>,
    warnings: Vec<String>,
}

/// `melli check` as the demo runs it: warnings allowed.
pub fn check(record_path: &Path, json: bool) -> Result<ExitCode, Failure> {
    check_with(record_path, json, true)
}

/// Validates a record and reports every problem, not only the first. Exit 2 when it is
/// invalid (an error line per problem, or the error object with `--json`, also when the file
/// is not a record at all); exit 1 when it is valid but draws warnings and `allow_warnings` is
/// false (each warning a `FAIL  warning: …` line of the verdict on stdout); 0 otherwise.
pub fn check_with(
    record_path: &Path,
    json: bool,
    allow_warnings: bool,
) -> Result<ExitCode, Failure> {
    // Every line quotes the record (its keys, its values, its path): shown escaped, in text
    // and in JSON alike.
    let shown_path = escaped(&record_path.display().to_string());
    let (errors, warnings): (Vec<String>, Vec<String>) =
        match EnrolmentRecord::from_json_file(record_path) {
            Err(e) => (vec![e.to_string()], Vec::new()),
            Ok(record) => {
                let today = JalaliDate::today()
                    .map_err(|e| Failure::bad_input(format!("today's date: {e}")))?;
                match record.validate_on(&base_dir_of(record_path), today) {
                    Ok(valid) => (
                        Vec::new(),
                        valid.warnings().iter().map(ToString::to_string).collect(),
                    ),
                    Err(errors) => (errors.iter().map(ToString::to_string).collect(), Vec::new()),
                }
            }
        };
    let shown = |lines: Vec<String>| -> Vec<String> {
        lines.iter().map(|l| escaped_cut(l, 1024)).collect()
    };
    let (errors, warnings) = (shown(errors), shown(warnings));
    let report = CheckReport {
        record: shown_path,
        valid: errors.is_empty(),
        warnings_allowed: allow_warnings,
        errors,
        warnings,
    };
    let held = report.valid && !report.warnings.is_empty() && !allow_warnings;
    if json {
        output::json(&report)?;
    } else if held {
        for w in &report.warnings {
            println!("FAIL  warning: {w}");
        }
        println!(
            "{}: valid, but with {} warning{} — check {}, then accept with --allow-warnings",
            report.record,
            report.warnings.len(),
            if report.warnings.len() == 1 { "" } else { "s" },
            if report.warnings.len() == 1 {
                "it"
            } else {
                "them"
            },
        );
    } else {
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
        for e in &report.errors {
            eprintln!("melli: {e}");
        }
        if report.valid {
            println!("{}: valid", report.record);
        }
    }
    Ok(if !report.valid {
        ExitCode::from(crate::cli::exit::BAD_INPUT)
    } else if held {
        ExitCode::from(crate::cli::exit::CHECK_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

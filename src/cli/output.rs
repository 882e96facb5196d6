//! Printing results: aligned text for people, JSON for scripts.

use crate::cli::Failure;

/// Prints a value as pretty JSON on stdout.
pub fn json<T: serde::Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::card(format!("could not format JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// Prints `label  value` rows with the values aligned.
pub fn rows(rows: &[(&str, String)]) {
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    for (label, value) in rows {
        println!("{label:<width$}  {value}");
    }
}

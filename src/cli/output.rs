//! Printing results: aligned text for people, JSON for scripts.
//!
//! Strings that came from outside (a card, a reader, a journal, a path) are made safe for a
//! terminal with `melli::display` before they are printed — in JSON too, since JSON escaping
//! leaves bidi and invisible characters as they are: [`json_from_outside`] escapes every string
//! of a value.

use melli::display::escaped;

use crate::cli::Failure;

/// Prints a value as pretty JSON on stdout.
pub fn json<T: serde::Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::card(format!("could not format JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// A value whose strings all came from outside, as JSON with each string (and each object key)
/// passed through [`escaped`].
pub fn json_from_outside<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, Failure> {
    let value = serde_json::to_value(value)
        .map_err(|e| Failure::card(format!("could not format JSON: {e}")))?;
    Ok(escape_strings(value))
}

fn escape_strings(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(escaped(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(escape_strings).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (escaped(&k), escape_strings(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Prints `label  value` rows with the values aligned.
pub fn rows(rows: &[(&str, String)]) {
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    for (label, value) in rows {
        println!("{label:<width$}  {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_and_key_of_a_json_value_is_escaped() {
        let value = serde_json::json!({
            "name\u{202E}": ["a\nb", {"x": "\u{1b}[2J"}],
            "n": 3,
        });
        let shown = json_from_outside(&value).expect("json");
        assert_eq!(
            shown,
            serde_json::json!({
                "name<U+202E>": ["a\\nb", {"x": "\\u{1B}[2J"}],
                "n": 3,
            })
        );
    }
}

//! Reading a record from JSON: every field a string, each syntax and field error in one line.

use super::{EnrolmentRecord, ValidationError, RECORD_FIELDS};
use crate::input::{self, InputError, Kind};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use std::path::Path;

impl EnrolmentRecord {
    /// Reads a record from a JSON file. Errors name the file and, for bad JSON, the line and
    /// column; a wrong or unknown field is named as the error's field.
    pub fn from_json_file(path: &Path) -> Result<Self, ValidationError> {
        let read_error = |e: &dyn fmt::Display| {
            ValidationError::new(
                "record",
                format!("cannot read {}: {e}", path.display()),
                "check the path of the record file",
            )
        };
        let bytes = input::read(path, Kind::Record).map_err(|e| match e {
            InputError::Io { source, .. } => read_error(&source),
            InputError::NotRegular { .. } => read_error(&"it is not a file"),
            InputError::TooLarge { size, .. } => ValidationError::new(
                "record",
                format!(
                    "{} is {size} bytes, too large for an enrolment record",
                    path.display()
                ),
                "check that this is the record file",
            ),
        })?;
        let text = String::from_utf8(bytes).map_err(|_| {
            ValidationError::new(
                "record",
                format!("{} is not UTF-8 text", path.display()),
                "save the record as UTF-8 JSON",
            )
        })?;
        Self::parse_json(&text, Some(path))
    }

    /// Reads a record from JSON text (one object).
    pub fn from_json_str(text: &str) -> Result<Self, ValidationError> {
        Self::parse_json(text, None)
    }

    fn parse_json(text: &str, origin: Option<&Path>) -> Result<Self, ValidationError> {
        let place = |line: usize, column: usize| match origin {
            Some(p) => format!("{}:{line}:{column}", p.display()),
            None => format!("line {line}, column {column}"),
        };
        if text.starts_with('\u{FEFF}') {
            let what = match origin {
                Some(p) => p.display().to_string(),
                None => "the text".to_owned(),
            };
            return Err(ValidationError::new(
                "record",
                format!("{what} begins with a byte-order mark (U+FEFF, bytes EF BB BF), which JSON does not allow"),
                "save the record as UTF-8 without a byte-order mark (BOM)",
            ));
        }
        let value: Value = serde_json::from_str(text).map_err(|e| syntax_error(&e, &place))?;
        let Value::Object(map) = &value else {
            return Err(ValidationError::new(
                "record",
                format!("the JSON is {}, not an object", json_kind(&value)),
                "an enrolment record is one JSON object; see fixtures/README.md",
            ));
        };
        for (key, v) in map {
            let Some(&(name, required)) = RECORD_FIELDS.iter().find(|(n, _)| n == key) else {
                return Err(ValidationError::new(
                    Cow::Owned(key.clone()),
                    "is not a field of an enrolment record",
                    "remove it or correct its spelling; the fields are listed in fixtures/README.md",
                ));
            };
            match v {
                Value::String(_) => {}
                Value::Null if !required => {}
                other => {
                    let hint = match name {
                        "national_code" | "postal_code" | "certificate_number"
                        | "tracking_code" => match name {
                            "national_code" => {
                                "write it in quotes so leading zeros survive, e.g. \"0012345679\""
                            }
                            "postal_code" => {
                                "write it in quotes so leading zeros survive, e.g. \"1345613478\""
                            }
                            "certificate_number" => {
                                "write it in quotes so leading zeros survive, e.g. \"0012\""
                            }
                            _ => "write it in quotes, e.g. \"140309100001\"",
                        },
                        _ => "write it as a JSON string in quotes",
                    };
                    return Err(ValidationError::new(
                        name,
                        format!("is {}, not a string", json_kind(other)),
                        hint,
                    ));
                }
            }
        }
        if let Some((name, _)) = RECORD_FIELDS
            .iter()
            .find(|(name, required)| *required && !map.contains_key(*name))
        {
            return Err(ValidationError::new(
                *name,
                "is missing",
                "add it; the fields are listed in fixtures/README.md",
            ));
        }
        // The shape is right; the derived deserializer also catches a key given twice.
        serde_json::from_str(text).map_err(|e| {
            let full = e.to_string();
            let what = full
                .rsplit_once(" at line ")
                .map_or(full.as_str(), |(m, _)| m);
            if let Some(name) = what
                .strip_prefix("duplicate field `")
                .and_then(|rest| rest.strip_suffix('`'))
            {
                ValidationError::new(
                    Cow::Owned(name.to_owned()),
                    format!("appears twice ({})", place(e.line(), e.column())),
                    "keep one of them",
                )
            } else {
                ValidationError::new(
                    "record",
                    format!("{}: {what}", place(e.line(), e.column())),
                    "see fixtures/README.md for the format",
                )
            }
        })
    }
}

/// A JSON syntax error, with its place; a lone surrogate escape (`"\ud800"`) said in words.
fn syntax_error(e: &serde_json::Error, place: &dyn Fn(usize, usize) -> String) -> ValidationError {
    let full = e.to_string();
    let what = full
        .rsplit_once(" at line ")
        .map_or(full.as_str(), |(m, _)| m);
    let at = place(e.line(), e.column());
    // serde_json says "unexpected end of hex escape" only where a leading surrogate is not
    // followed by a `\u` escape.
    if what.contains("surrogate") || what == "unexpected end of hex escape" {
        return ValidationError::new(
            "record",
            format!(
                "{at}: a \\u escape is half of a UTF-16 surrogate pair (\\ud800–\\udfff) without its other half, which is no character"
            ),
            "write the character itself, or both halves of the pair (e.g. \\ud83d\\ude00)",
        );
    }
    ValidationError::new("record", format!("{at}: {what}"), "fix the JSON syntax")
}

/// Position of a field in the record, for reporting problems in field order (stable sort).
pub(super) fn field_rank(field: &str) -> usize {
    RECORD_FIELDS
        .iter()
        .position(|(name, _)| *name == field)
        .unwrap_or(RECORD_FIELDS.len())
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

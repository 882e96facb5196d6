//! A batch's records file: JSON Lines, one enrolment record per line (blank lines ignored),
//! every line validated before anything is done, every problem reported with its line number.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use crate::journal::NewRecord;
use crate::model::enrolment::base_dir_of;
use crate::model::{
    EnrolmentRecord, JalaliDate, NationalCode, TrackingCode, ValidRecord, ValidationError, Warning,
};

/// Largest records file melli reads.
pub const MAX_RECORDS_FILE: u64 = crate::input::Kind::Records.cap();

/// A valid record and the line it came from.
#[derive(Debug, Clone)]
pub struct BatchRecord {
    /// 1-based line number in the records file.
    pub line: usize,
    pub record: ValidRecord,
}

impl BatchRecord {
    /// What the journal keeps of it.
    pub fn key(&self) -> NewRecord {
        let identity = self.record.identity();
        NewRecord {
            tracking_code: self.record.tracking_code().clone(),
            national_code: identity.national_code(),
            birth_date: identity.birth_date(),
        }
    }
}

/// The valid records of a batch, in file order, found by tracking code.
#[derive(Debug, Clone, Default)]
pub struct Records {
    list: Vec<BatchRecord>,
    by_code: HashMap<String, usize>,
}

impl Records {
    /// Records from already validated values (each tracking code once; later duplicates are
    /// dropped).
    pub fn new(records: impl IntoIterator<Item = BatchRecord>) -> Records {
        let mut out = Records::default();
        for record in records {
            out.push(record);
        }
        out
    }

    fn push(&mut self, record: BatchRecord) -> bool {
        let code = record.record.tracking_code().to_string();
        if self.by_code.contains_key(&code) {
            return false;
        }
        self.by_code.insert(code, self.list.len());
        self.list.push(record);
        true
    }

    pub fn get(&self, tracking_code: &str) -> Option<&BatchRecord> {
        self.by_code
            .get(tracking_code)
            .and_then(|&i| self.list.get(i))
    }

    pub fn iter(&self) -> impl Iterator<Item = &BatchRecord> {
        self.list.iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// What the journal keeps of each, in file order.
    pub fn keys(&self) -> Vec<NewRecord> {
        self.list.iter().map(BatchRecord::key).collect()
    }
}

/// A line that cannot go on a card.
#[derive(Debug, Clone)]
pub struct LineError {
    pub line: usize,
    /// One line: `FIELD: what is wrong — what to do`.
    pub error: ValidationError,
    /// The record's journal key, when its tracking code, national code and birth date are
    /// valid on their own and its tracking code is not taken by another line: such a record
    /// can be journaled as failed (`--skip-invalid`).
    pub key: Option<NewRecord>,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.error)
    }
}

/// Everything read from a records file.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub records: Records,
    /// Every problem, in line order (a line with several problems has several entries).
    pub invalid: Vec<LineError>,
    /// Odd things that do not stop a card, with their line.
    pub warnings: Vec<(usize, Warning)>,
}

impl Loaded {
    /// Number of distinct invalid lines.
    pub fn invalid_lines(&self) -> usize {
        let mut lines: Vec<usize> = self.invalid.iter().map(|e| e.line).collect();
        lines.dedup();
        lines.len()
    }
}

/// Why a records file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the records file {}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the records file {} is {len} bytes, more than the {MAX_RECORDS_FILE} melli reads: split it", path.display())]
    TooLarge { path: std::path::PathBuf, len: u64 },
    #[error(transparent)]
    NotAFile(crate::input::InputError),
    #[error("the records file {} is not UTF-8 text (line {line})", path.display())]
    NotText {
        path: std::path::PathBuf,
        line: usize,
    },
}

/// Reads and validates every line of the records file at `path` as of `today`; photo and
/// fingerprint paths are relative to the file's folder. Lines are validated on all cores.
pub fn load(path: &Path, today: JalaliDate) -> Result<Loaded, LoadError> {
    // A regular file only (not a FIFO or a device that would be read for ever), capped.
    let bytes = crate::input::read(path, crate::input::Kind::Records).map_err(|e| match e {
        crate::input::InputError::Io { source, .. } => LoadError::Read {
            path: path.to_path_buf(),
            source,
        },
        crate::input::InputError::TooLarge { size, .. } => LoadError::TooLarge {
            path: path.to_path_buf(),
            len: size,
        },
        not_a_file @ crate::input::InputError::NotRegular { .. } => LoadError::NotAFile(not_a_file),
    })?;
    let mut lines = Vec::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let text = std::str::from_utf8(line).map_err(|_| LoadError::NotText {
            path: path.to_path_buf(),
            line: i + 1,
        })?;
        if !text.trim().is_empty() {
            lines.push((i + 1, text));
        }
    }
    let base_dir = base_dir_of(path);
    let results = validate_all(&lines, &base_dir, today);

    let mut loaded = Loaded::default();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (line, result) in results {
        match result {
            Ok(record) => {
                let code = record.tracking_code().to_string();
                if let Some(first) = first_line.get(&code) {
                    loaded.invalid.push(duplicate(line, &code, *first));
                    continue;
                }
                first_line.insert(code, line);
                loaded
                    .warnings
                    .extend(record.warnings().iter().map(|w| (line, w.clone())));
                loaded.records.push(BatchRecord { line, record });
            }
            Err((errors, key)) => {
                let key = key.filter(|k| {
                    let code = k.tracking_code.to_string();
                    match first_line.get(&code) {
                        Some(_) => false,
                        None => {
                            first_line.insert(code, line);
                            true
                        }
                    }
                });
                for error in errors {
                    loaded.invalid.push(LineError {
                        line,
                        error,
                        key: key.clone(),
                    });
                }
            }
        }
    }
    Ok(loaded)
}

type LineResult = Result<ValidRecord, (Vec<ValidationError>, Option<NewRecord>)>;

/// Validates the lines in parallel, keeping their order.
fn validate_all(
    lines: &[(usize, &str)],
    base_dir: &Path,
    today: JalaliDate,
) -> Vec<(usize, LineResult)> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = lines.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = lines
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|&(line, text)| (line, validate_line(text, base_dir, today)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join().unwrap_or_else(|_| {
                    // A panic in validation is a bug; report it instead of losing the lines.
                    vec![(
                        0,
                        Err((
                            vec![ValidationError {
                                field: "record".into(),
                                message: "validation crashed".to_owned(),
                                hint: "report this as a melli bug".to_owned(),
                            }],
                            None,
                        )),
                    )]
                })
            })
            .collect()
    })
}

fn validate_line(text: &str, base_dir: &Path, today: JalaliDate) -> LineResult {
    let record = EnrolmentRecord::from_json_str(text).map_err(|mut e| {
        // The JSON parser counts lines inside this one line: keep only the column.
        if let Some(rest) = e.message.strip_prefix("line 1, column ") {
            e.message = format!("column {rest}");
        }
        (vec![e], None)
    })?;
    let key = match (
        TrackingCode::parse(&record.tracking_code),
        NationalCode::parse(&record.national_code),
        JalaliDate::parse(&record.birth_date),
    ) {
        (Ok(tracking_code), Ok(national_code), Ok(birth_date)) => Some(NewRecord {
            tracking_code,
            national_code,
            birth_date,
        }),
        _ => None,
    };
    record
        .validate_on(base_dir, today)
        .map_err(|errors| (errors, key))
}

fn duplicate(line: usize, code: &str, first: usize) -> LineError {
    LineError {
        line,
        error: ValidationError {
            field: "tracking_code".into(),
            message: format!("{code} is also the tracking code on line {first}"),
            hint: "give each record its own tracking code".to_owned(),
        },
        key: None,
    }
}

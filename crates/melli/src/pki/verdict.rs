//! A verdict made of named checks, each pass or fail with a one-line detail, for `melli
//! verify` (text and `--json`). Other verifications (chip authentication, card expiry) append
//! their own [`Check`]s to the same [`Verdict`].

use std::fmt;

use serde::Serialize;

/// One named check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable name, e.g. "security object signature", "DG2 photo".
    pub name: String,
    /// Whether the check passed.
    pub passed: bool,
    /// Why it failed, or what was found when it passed.
    pub detail: String,
    /// Neither pass nor fail could be told (revocation without a fresh CRL): shown as
    /// UNKNOWN; `passed` says whether the caller accepts that.
    #[serde(skip_serializing_if = "is_false")]
    pub unknown: bool,
    /// What the people at the terminal can do about this failure, for the front end to name
    /// (the library names no command).
    #[serde(skip)]
    pub remedy: Option<Remedy>,
}

/// A way out of a failed check that takes a step of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    /// Match-on-card is blocked: the holder gives the finger its tries back with the PUK.
    UnblockFinger,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Check {
    /// A passed check.
    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            passed: true,
            detail: detail.into(),
            unknown: false,
            remedy: None,
        }
    }

    /// A failed check.
    pub fn fail(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            passed: false,
            detail: detail.into(),
            unknown: false,
            remedy: None,
        }
    }

    /// The same check, with the step that remedies its failure.
    pub fn with_remedy(mut self, remedy: Remedy) -> Self {
        self.remedy = Some(remedy);
        self
    }

    /// A check that could tell neither way; it counts as passed only if `accepted`.
    pub fn unknown(name: impl Into<String>, detail: impl Into<String>, accepted: bool) -> Self {
        Check {
            name: name.into(),
            passed: accepted,
            detail: detail.into(),
            unknown: true,
            remedy: None,
        }
    }
}

impl fmt::Display for Check {
    /// `PASS  name: detail` / `FAIL  name: detail`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match (self.unknown, self.passed) {
            (true, _) => "UNKNOWN",
            (false, true) => "PASS",
            (false, false) => "FAIL",
        };
        write!(f, "{tag}  {}: {}", self.name, self.detail)
    }
}

/// An ordered list of checks; passes only if every check passes (and there is at least one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The checks, in the order they were made.
    pub checks: Vec<Check>,
}

impl Verdict {
    /// True when there is at least one check and every check passed.
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }

    /// The check named `name`, if made.
    pub fn get(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// Append a check.
    pub fn push(&mut self, check: Check) {
        self.checks.push(check);
    }
}

impl fmt::Display for Verdict {
    /// One line per check.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            writeln!(f, "{c}")?;
        }
        Ok(())
    }
}

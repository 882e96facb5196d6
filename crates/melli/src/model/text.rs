//! Persian text normalization and the script checks of names (applets-spec §5.1, DESIGN §5).
//!
//! The same name must always be stored — and hashed into the security object — as the same
//! bytes, whichever keyboard typed it. [`normalize_persian`] brings text to one code point per
//! letter; [`PersianText`] and [`LatinName`] hold names that passed their script check.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// Most UTF-8 bytes of a name or a birth place on the card (applets-spec §5.1).
pub const MAX_NAME_BYTES: usize = 96;
/// Most UTF-8 bytes of the address text on the card (applets-spec §5.4).
pub const MAX_ADDRESS_BYTES: usize = 200;

const ZWNJ: char = '\u{200C}';
const TATWEEL: char = '\u{0640}';
const PERSIAN_YEH: char = '\u{06CC}';
const PERSIAN_KAF: char = '\u{06A9}';

/// Brings Persian text to the one form melli stores (applets-spec §5.8, in its order):
///
/// 1. Arabic presentation forms (U+FB50–U+FDFF, U+FE70–U+FEFF, as old systems produce) are
///    replaced by their compatibility decomposition, the ordinary letters;
/// 2. Unicode NFC;
/// 3. ARABIC LETTER YEH U+064A and ALEF MAKSURA U+0649 become FARSI YEH U+06CC; ARABIC LETTER
///    KAF U+0643 becomes KEHEH U+06A9; HEH U+0647 + HAMZA ABOVE U+0654 becomes U+06C0;
///    Arabic-Indic digits U+0660–U+0669 become the Persian digits U+06F0–U+06F9 (the address
///    then takes ASCII digits, [`AddressText`]);
/// 4. TATWEEL U+0640 and the vowel marks U+064B–U+0652 (tanwin, fatha, damma, kasra, shadda,
///    sukun) are removed;
/// 5. every run of white space becomes one U+0020 SPACE, and the ends are trimmed.
///
/// Nothing invisible is removed or added: ZWNJ and every other format character stay, for
/// the checks to refuse where they do not belong ([`check_invisible`]).
pub fn normalize_persian(text: &str) -> String {
    let composed: String = text
        .chars()
        .flat_map(|c| {
            let decomposed: Vec<char> = if is_presentation_form(c) {
                std::iter::once(c).nfkc().collect()
            } else {
                vec![c]
            };
            decomposed
        })
        .nfc()
        .collect();
    let mut mapped = String::with_capacity(composed.len());
    let mut chars = composed.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{064A}' | '\u{0649}' => mapped.push(PERSIAN_YEH),
            '\u{0643}' => mapped.push(PERSIAN_KAF),
            '\u{0647}' if chars.peek() == Some(&'\u{0654}') => {
                chars.next();
                mapped.push('\u{06C0}');
            }
            '\u{0660}'..='\u{0669}' => mapped.push(shift(c, 0x0660, 0x06F0)),
            TATWEEL | '\u{064B}'..='\u{0652}' => {}
            other => mapped.push(other),
        }
    }
    collapse_whitespace(&mapped.nfc().collect::<String>())
}

/// Replaces Persian (U+06F0–U+06F9) and Arabic-Indic (U+0660–U+0669) digits by ASCII digits
/// and leaves everything else as it is. For fields where digits are expected: codes and dates.
pub fn ascii_digits(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{06F0}'..='\u{06F9}' => shift(c, 0x06F0, u32::from('0')),
            '\u{0660}'..='\u{0669}' => shift(c, 0x0660, u32::from('0')),
            other => other,
        })
        .collect()
}

/// Collapses every run of white space into one space and trims both ends.
pub fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shift(c: char, from: u32, to: u32) -> char {
    char::from_u32(u32::from(c) - from + to).unwrap_or(c)
}

fn is_presentation_form(c: char) -> bool {
    matches!(c, '\u{FB50}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}')
}

/// A letter of the Arabic script as Persian writes it (U+0600 block letters, Arabic
/// Supplement, Arabic Extended-A), excluding digits, punctuation and signs.
fn is_arabic_letter(c: char) -> bool {
    matches!(c,
        '\u{0621}'..='\u{063A}'
        | '\u{0641}'..='\u{064A}'
        | '\u{066E}'..='\u{066F}'
        | '\u{0671}'..='\u{06D3}'
        | '\u{06D5}'
        | '\u{06EE}'..='\u{06EF}'
        | '\u{06FA}'..='\u{06FC}'
        | '\u{06FF}'
        | '\u{0750}'..='\u{077F}'
        | '\u{08A0}'..='\u{08C9}')
}

/// An Arabic combining mark that may follow a letter once the vowel marks are removed: maddah,
/// hamza above and below, the rarer marks up to U+065F, superscript alef.
fn is_arabic_mark(c: char) -> bool {
    matches!(c, '\u{0653}'..='\u{065F}' | '\u{0670}')
}

/// The one rule for invisible characters, in names and in the address alike: ZWNJ stands
/// alone between two letters (a letter with its marks); every other format or invisible
/// character (`display::is_hidden`: bidi controls, zero-width space and joiner, BOM, tag
/// characters, variation selectors, …) is refused.
fn check_invisible(text: &str) -> Result<(), TextError> {
    if let Some(found) = text.chars().find(|&c| crate::display::is_hidden(c)) {
        return Err(TextError::Hidden { found });
    }
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c != ZWNJ {
            continue;
        }
        let before = i.checked_sub(1).map(|j| chars[j]);
        let after = chars.get(i + 1).copied();
        let place = match (before, after) {
            (None, _) => "at the start".to_owned(),
            (_, None) => "at the end".to_owned(),
            (Some(ZWNJ), _) | (_, Some(ZWNJ)) => "next to another ZWNJ".to_owned(),
            (Some(' '), _) | (_, Some(' ')) => "beside a space".to_owned(),
            (Some(b), Some(a)) => {
                let odd = [b, a]
                    .into_iter()
                    .find(|&x| !(is_arabic_letter(x) || (x == b && is_arabic_mark(x))));
                match odd {
                    None => continue,
                    Some(x) => format!("beside {}", shown(x)),
                }
            }
        };
        return Err(TextError::Zwnj { place });
    }
    Ok(())
}

/// Why a text was refused. `Display` names the problem without the field; callers say which
/// field it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("is empty")]
    Empty,
    #[error("is {len} bytes in UTF-8, at most {max} fit on the card")]
    TooLong { len: usize, max: usize },
    #[error("contains Latin letters ({found:?}); this field is written in Persian script")]
    LatinInPersian { found: String },
    #[error("contains {}, which is not a Persian letter", shown(*found))]
    NotPersian { found: char },
    #[error("contains {}; only the Latin letters A-Z, a-z, space, hyphen and apostrophe are allowed", shown(*found))]
    NotLatin { found: char },
    #[error("begins with {}; a name begins with a letter", shown(*found))]
    BadStart { found: char },
    #[error("ends with {}; a name ends with a letter", shown(*found))]
    BadEnd { found: char },
    #[error("contains the control character {}", shown(*found))]
    Control { found: char },
    #[error("is not in normalized form (expected {expected:?})")]
    NotNormalized { expected: String },
    #[error("contains the invisible character {}; only a ZWNJ between two letters may be invisible", shown(*found))]
    Hidden { found: char },
    #[error("has a ZWNJ (U+200C) {place}; a ZWNJ stands once, between two letters")]
    Zwnj { place: String },
    #[error("has the mark {} after {}; a mark follows a letter", shown(*found), shown(*after))]
    StrayMark { found: char, after: char },
}

/// A character as an error message shows it: visible ones quoted with their code point,
/// invisible and combining ones by code point (and name, for the usual suspects) alone.
pub(crate) fn shown(c: char) -> String {
    let code = u32::from(c);
    match c {
        ZWNJ => "ZWNJ (U+200C)".to_owned(),
        ' ' => "a space".to_owned(),
        _ if c.is_control()
            || is_arabic_mark(c)
            || matches!(c, '\u{064B}'..='\u{0652}')
            || crate::display::is_hidden(c) =>
        {
            format!("U+{code:04X}")
        }
        _ => format!("'{c}' (U+{code:04X})"),
    }
}

impl TextError {
    /// What the person fixing the record should do.
    pub fn hint(&self) -> &'static str {
        match self {
            TextError::Empty => "fill it in",
            TextError::TooLong { .. } => "shorten it or use the official abbreviation",
            TextError::LatinInPersian { .. } | TextError::NotPersian { .. } => {
                "write it in Persian letters (spaces and ZWNJ allowed, no digits or punctuation)"
            }
            TextError::NotLatin { .. } => "transliterate it into plain Latin letters",
            TextError::BadStart { .. } | TextError::BadEnd { .. } => "remove the stray character",
            TextError::Control { .. } => "remove the control character",
            TextError::NotNormalized { .. } => "store the text in melli's normalized form",
            TextError::Hidden { .. } => "retype the text without the invisible character",
            TextError::Zwnj { .. } => {
                "keep one ZWNJ between the two parts of a word, and none elsewhere"
            }
            TextError::StrayMark { .. } => "retype the word with the mark on its letter",
        }
    }
}

/// Persian-script text of a name or a place: Arabic-script letters (with the marks that
/// normalization keeps, each after a letter), single spaces, and ZWNJ once between two
/// letters; normalized by [`normalize_persian`]; non-empty; at most [`MAX_NAME_BYTES`] bytes
/// of UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersianText(String);

impl PersianText {
    /// Normalizes `text` and checks it.
    pub fn parse(text: &str) -> Result<Self, TextError> {
        let normalized = normalize_persian(text);
        check_persian(&normalized)?;
        Ok(PersianText(normalized))
    }

    /// Checks text that must already be in normalized form, as read from a card: text that
    /// [`normalize_persian`] would change is refused rather than silently changed, because the
    /// security object hashes the stored bytes.
    pub fn from_normalized(text: &str) -> Result<Self, TextError> {
        let parsed = Self::parse(text)?;
        if parsed.0 != text {
            return Err(TextError::NotNormalized { expected: parsed.0 });
        }
        Ok(parsed)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_persian(text: &str) -> Result<(), TextError> {
    check_len(text, MAX_NAME_BYTES)?;
    let latin: String = text.chars().filter(char::is_ascii_alphabetic).collect();
    if !latin.is_empty() {
        return Err(TextError::LatinInPersian { found: latin });
    }
    if let Some(found) = text.chars().find(|&c| crate::display::is_hidden(c)) {
        return Err(TextError::Hidden { found });
    }
    if let Some(bad) = text
        .chars()
        .find(|&c| !(is_arabic_letter(c) || is_arabic_mark(c) || c == ' ' || c == ZWNJ))
    {
        return Err(TextError::NotPersian { found: bad });
    }
    check_ends(text, is_arabic_letter, |c| {
        is_arabic_letter(c) || is_arabic_mark(c)
    })?;
    let mut previous = ' ';
    for c in text.chars() {
        if is_arabic_mark(c) && !(is_arabic_letter(previous) || is_arabic_mark(previous)) {
            return Err(TextError::StrayMark {
                found: c,
                after: previous,
            });
        }
        previous = c;
    }
    check_invisible(text)
}

fn check_len(text: &str, max: usize) -> Result<(), TextError> {
    if text.is_empty() {
        return Err(TextError::Empty);
    }
    if text.len() > max {
        return Err(TextError::TooLong {
            len: text.len(),
            max,
        });
    }
    Ok(())
}

fn check_ends(
    text: &str,
    ok_start: impl Fn(char) -> bool,
    ok_end: impl Fn(char) -> bool,
) -> Result<(), TextError> {
    if let Some(first) = text.chars().next().filter(|&c| !ok_start(c)) {
        return Err(TextError::BadStart { found: first });
    }
    if let Some(last) = text.chars().next_back().filter(|&c| !ok_end(c)) {
        return Err(TextError::BadEnd { found: last });
    }
    Ok(())
}

impl fmt::Display for PersianText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PersianText {
    type Error = TextError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PersianText> for String {
    fn from(value: PersianText) -> Self {
        value.0
    }
}

/// A name in Latin letters: ASCII letters, single spaces, hyphens and apostrophes, beginning and
/// ending with a letter; at most [`MAX_NAME_BYTES`] bytes. White space is collapsed and the
/// typographic apostrophe U+2019 becomes `'`. Case is kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LatinName(String);

impl LatinName {
    /// Normalizes `text` and checks it.
    pub fn parse(text: &str) -> Result<Self, TextError> {
        let normalized = collapse_whitespace(&text.replace('\u{2019}', "'"));
        check_len(&normalized, MAX_NAME_BYTES)?;
        if let Some(bad) = normalized
            .chars()
            .find(|&c| !(c.is_ascii_alphabetic() || matches!(c, ' ' | '-' | '\'')))
        {
            return Err(TextError::NotLatin { found: bad });
        }
        check_ends(
            &normalized,
            |c| c.is_ascii_alphabetic(),
            |c| c.is_ascii_alphabetic(),
        )?;
        Ok(LatinName(normalized))
    }

    /// Checks a name as read from a card: it must already be in normalized form.
    pub fn from_normalized(text: &str) -> Result<Self, TextError> {
        let parsed = Self::parse(text)?;
        if parsed.0 != text {
            return Err(TextError::NotNormalized { expected: parsed.0 });
        }
        Ok(parsed)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LatinName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for LatinName {
    type Error = TextError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<LatinName> for String {
    fn from(value: LatinName) -> Self {
        value.0
    }
}

/// Free address text (street, alley, plaque, unit), usually Persian: normalized by
/// [`normalize_persian`], with ASCII digits; any printable characters (digits and punctuation
/// included), no control characters, no invisible ones but a ZWNJ between two letters;
/// non-empty; at most [`MAX_ADDRESS_BYTES`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AddressText(String);

impl AddressText {
    /// Normalizes `text` and checks it.
    pub fn parse(text: &str) -> Result<Self, TextError> {
        let normalized = ascii_digits(&normalize_persian(text));
        check_len(&normalized, MAX_ADDRESS_BYTES)?;
        if let Some(bad) = normalized.chars().find(|c| c.is_control()) {
            return Err(TextError::Control { found: bad });
        }
        check_invisible(&normalized)?;
        Ok(AddressText(normalized))
    }

    /// Checks address text as read from a card: it must already be in normalized form.
    pub fn from_normalized(text: &str) -> Result<Self, TextError> {
        let parsed = Self::parse(text)?;
        if parsed.0 != text {
            return Err(TextError::NotNormalized { expected: parsed.0 });
        }
        Ok(parsed)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AddressText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AddressText {
    type Error = TextError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AddressText> for String {
    fn from(value: AddressText) -> Self {
        value.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

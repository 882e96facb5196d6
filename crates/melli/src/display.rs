//! Strings from outside, made safe to show on a terminal.
//!
//! A name in a certificate, a key in a JSON file, a path, a string on a card: any of them may
//! carry a newline and ANSI escapes that forge a line such as `verdict: VALID`, or a bidi
//! override that turns text around, or invisible characters that make two names look alike.
//! Before such a string reaches a terminal — in text and in `--json` alike, since JSON escaping
//! leaves bidi and invisible characters as they are — it goes through [`escaped`] (or
//! [`escaped_cut`] for values that may be long):
//!
//! - control characters (C0, DEL, C1) become `\n`, `\r`, `\t` or `\u{1B}`;
//! - format characters (Unicode category Cf: bidi embeddings, overrides and isolates, marks,
//!   zero-width characters, the byte-order mark, tag characters), line and paragraph
//!   separators, variation selectors and the Hangul fillers become `<U+202E>`;
//! - ZWNJ (U+200C) stays: Persian words need it, and it cannot reorder or hide text.
//!
//! Nothing is removed, so what is shown still tells what was there.

use std::fmt::Write;

/// ZERO WIDTH NON-JOINER, which Persian spelling needs.
const ZWNJ: char = '\u{200C}';

/// Whether `c` is shown as its code point: a format character (Unicode 15, category Cf), a line
/// or paragraph separator, a variation selector or a Hangul filler — characters that are
/// invisible or change how the text around them is laid out.
pub fn is_hidden(c: char) -> bool {
    c != ZWNJ
        && matches!(c,
            '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
            | '\u{E0100}'..='\u{E01EF}')
}

/// `text` with control characters escaped and hidden characters shown by code point (see the
/// module documentation).
pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_shown(&mut out, c);
    }
    out
}

/// As [`escaped`], and a value longer than `max_bytes` (counted before escaping) is cut at a
/// character boundary and ends in `…(N bytes)`, N being its whole length.
pub fn escaped_cut(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return escaped(text);
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = escaped(&text[..end]);
    let _ = write!(out, "…({} bytes)", text.len());
    out
}

/// Bytes from outside that should be text: valid UTF-8 is [`escaped`], each invalid byte is
/// shown as `\xNN`.
pub fn escaped_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_shown(&mut out, c);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02X}");
        }
    }
    out
}

fn push_shown(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        _ if c.is_control() => {
            let _ = write!(out, "\\u{{{:X}}}", u32::from(c));
        }
        _ if is_hidden(c) => {
            let _ = write!(out, "<U+{:04X}>", u32::from(c));
        }
        _ => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forged_verdict_line_stays_on_its_line_and_shows_its_escapes() {
        let name = "Ali\n\u{1b}[1Averdict: VALID\u{1b}[0m";
        let shown = escaped(name);
        assert_eq!(shown, "Ali\\n\\u{1B}[1Averdict: VALID\\u{1B}[0m");
        assert!(!shown.contains('\n') && !shown.contains('\u{1b}'));
    }

    #[test]
    fn bidi_invisible_and_tag_characters_are_shown_and_zwnj_stays() {
        assert_eq!(escaped("abc\u{202E}fed"), "abc<U+202E>fed");
        assert_eq!(escaped("a\u{200B}b\u{FEFF}"), "a<U+200B>b<U+FEFF>");
        assert_eq!(escaped("x\u{E0041}\u{E007F}"), "x<U+E0041><U+E007F>");
        assert_eq!(escaped("\u{2066}a\u{2069}"), "<U+2066>a<U+2069>");
        assert_eq!(escaped("علی‌رضا"), "علی‌رضا");
        assert_eq!(escaped("tab\there\r"), "tab\\there\\r");
        assert_eq!(escaped("\u{85}\u{7f}"), "\\u{85}\\u{7F}");
    }

    #[test]
    fn long_values_are_cut_with_their_length() {
        let long = "é".repeat(100);
        let shown = escaped_cut(&long, 11);
        assert_eq!(shown, format!("{}…(200 bytes)", "é".repeat(5)));
        assert_eq!(escaped_cut("short", 11), "short");
    }

    #[test]
    fn invalid_utf8_is_shown_byte_by_byte() {
        assert_eq!(escaped_bytes(b"ok\xFF\xFE\n"), "ok\\xFF\\xFE\\n");
    }
}

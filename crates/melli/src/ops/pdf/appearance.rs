//! The visible signature box (`melli sign FILE.pdf --visible PAGE,X,Y`): where it goes on the
//! page, and its normal appearance — a form XObject showing the holder's name in Persian,
//! shaped right to left, the Latin name, the national code and the signing time (the `/M` of
//! the signature).
//!
//! The Persian name is shaped by `rustybuzz` (HarfBuzz's shaping in Rust: direction RTL,
//! script Arabic, language fa), which gives the joining forms, ligatures and the visual
//! order; each glyph is then placed by the shaper's advances and offsets with its own text
//! matrix. The font is Noto Naskh Arabic (SIL OFL 1.1, `assets/fonts/OFL.txt`), embedded whole
//! as a Type 0 font over a CIDFontType2 (`/Identity-H`, `/CIDToGIDMap /Identity`, the widths of
//! the glyphs used, `/FontFile2`) with a `/ToUnicode` CMap from each glyph to the text of its
//! cluster, so that the name can be extracted and searched. The glyphs are drawn in visual
//! order: poppler (`pdftotext`) gives the name back in logical order; MuPDF's and
//! Ghostscript's text output give the glyphs as drawn (visual order). An `/ActualText` span
//! with the logical text was tried and left out: poppler then reverses that text. The Latin lines use the standard
//! Helvetica with `/WinAnsiEncoding`.
//!
//! Names come from the card's certificate and are hostile: control and bidirectional
//! formatting characters are dropped, lengths are capped, what Helvetica cannot show becomes
//! `?`, every string is written as a hexadecimal string, and text that is still too wide is
//! made smaller and finally cut at the box's edge (the form's `/BBox` clips).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::SystemTime;

use lopdf::content::{Content, Operation};
use lopdf::{Dictionary, Document, Object, ObjectId, Stream, StringFormat};

use super::{resolve, PdfError, MAX_DEPTH};
use crate::pki::HolderSubject;

/// The box's width in points.
pub const BOX_WIDTH: f32 = 200.0;
/// The box's height in points.
pub const BOX_HEIGHT: f32 = 60.0;

/// Noto Naskh Arabic Regular, as Debian's fonts-noto-core ships it (SIL OFL 1.1).
static FONT: &[u8] = include_bytes!("../../../assets/fonts/NotoNaskhArabic-Regular.ttf");
/// The font's PostScript name, its `/BaseFont`.
const FONT_NAME: &[u8] = b"NotoNaskhArabic-Regular";

/// The most characters of a name that are shown; a longer one is cut and ends with `…`.
const NAME_CHARS: usize = 64;
/// The most characters of a national code that are shown (it has 10 digits).
const CODE_CHARS: usize = 16;
/// Inner margin of the box, in points.
const MARGIN: f32 = 4.0;
/// The Persian name's font size, and the smallest it is made to fit.
const PERSIAN_SIZE: f32 = 13.0;
const PERSIAN_MIN_SIZE: f32 = 6.0;
/// The Latin lines' font size, and the smallest they are made to fit.
const LATIN_SIZE: f32 = 8.0;
const LATIN_MIN_SIZE: f32 = 5.0;

/// Where the box goes, as `--visible PAGE,X,Y` says: a page from 1, and the box's lower-left
/// corner in points from the lower-left corner of the page's `/MediaBox`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VisibleRequest {
    pub page: u32,
    pub x: f32,
    pub y: f32,
}

/// Why a visible signature cannot be placed as asked. The text is for one line after the
/// option; the caller escapes nothing in it (it holds only numbers), but the syntax error
/// quotes no input either.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VisibleError {
    #[error("not PAGE,X,Y ({0})")]
    Syntax(&'static str),
    #[error("page {page} does not exist: the PDF has {pages} page(s)")]
    NoPage { page: u32, pages: usize },
    #[error("page {0} has no usable /MediaBox")]
    NoMediaBox(u32),
    #[error(
        "a {w}×{h} pt box at {x},{y} does not fit on page {page}, which is {width}×{height} pt",
        w = BOX_WIDTH,
        h = BOX_HEIGHT
    )]
    OffPage {
        page: u32,
        x: f32,
        y: f32,
        width: f32,
        height: f32,
    },
}

impl VisibleError {
    /// What to do about it.
    pub fn remedy(&self) -> &'static str {
        match self {
            VisibleError::Syntax(_) => {
                "give --visible PAGE,X,Y: a page number from 1 and the box's lower-left corner in \
                 points from the page's lower-left, such as --visible 1,50,50"
            }
            VisibleError::NoPage { .. } => "give a page number the PDF has",
            VisibleError::NoMediaBox(_) => {
                "sign without --visible, or rewrite the PDF (qpdf IN.pdf OUT.pdf) first"
            }
            VisibleError::OffPage { .. } => {
                "give X and Y from 0 such that the box (200×60 pt) ends inside the page"
            }
        }
    }
}

impl std::str::FromStr for VisibleRequest {
    type Err = VisibleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        let [page, x, y] = parts[..] else {
            return Err(VisibleError::Syntax("three numbers separated by commas"));
        };
        let page: u32 = page
            .parse()
            .ok()
            .filter(|&p| p >= 1)
            .ok_or(VisibleError::Syntax("the page is a whole number from 1"))?;
        let coordinate = |s: &str| {
            // Digits, at most one point and a leading minus: no exponents, no inf or NaN.
            let plain = !s.is_empty()
                && s.len() <= 12
                && s.trim_start_matches('-')
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.');
            plain
                .then(|| s.parse::<f32>().ok())
                .flatten()
                .filter(|v| v.is_finite())
                .ok_or(VisibleError::Syntax("X and Y are numbers of points"))
        };
        Ok(VisibleRequest {
            page,
            x: coordinate(x)?,
            y: coordinate(y)?,
        })
    }
}

/// The box placed on a page of the document: the page and the widget's `/Rect`.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// The page, from 1.
    pub page: u32,
    pub page_id: ObjectId,
    /// `[llx lly urx ury]` in the page's default user space.
    pub rect: [f32; 4],
}

/// Places the box as `request` asks on a page of `doc`, refused when the page does not exist
/// or the box does not fit inside its `/MediaBox` (inherited from the page tree if need be).
pub fn place(doc: &Document, request: &VisibleRequest) -> Result<Placement, VisibleError> {
    let pages = doc.get_pages();
    let page_id = *pages.get(&request.page).ok_or(VisibleError::NoPage {
        page: request.page,
        pages: pages.len(),
    })?;
    let [llx, lly, urx, ury] =
        media_box(doc, page_id).ok_or(VisibleError::NoMediaBox(request.page))?;
    let (width, height) = (urx - llx, ury - lly);
    let fits = request.x >= 0.0
        && request.y >= 0.0
        && request.x + BOX_WIDTH <= width
        && request.y + BOX_HEIGHT <= height;
    if !fits {
        return Err(VisibleError::OffPage {
            page: request.page,
            x: request.x,
            y: request.y,
            width,
            height,
        });
    }
    let (x, y) = (llx + request.x, lly + request.y);
    Ok(Placement {
        page: request.page,
        page_id,
        rect: [x, y, x + BOX_WIDTH, y + BOX_HEIGHT],
    })
}

/// The page's `/MediaBox`, normalized (lower-left first), looked up the page tree as far as
/// [`MAX_DEPTH`] parents.
fn media_box(doc: &Document, page_id: ObjectId) -> Option<[f32; 4]> {
    let mut node = doc.get_dictionary(page_id).ok()?;
    for _ in 0..MAX_DEPTH {
        if let Ok(found) = node.get(b"MediaBox") {
            let numbers: Vec<f32> = resolve(doc, found)?
                .as_array()
                .ok()?
                .iter()
                .map(|n| resolve(doc, n).and_then(|n| n.as_float().ok()))
                .collect::<Option<_>>()?;
            let [a, b, c, d] = numbers[..] else {
                return None;
            };
            if ![a, b, c, d].iter().all(|v| v.is_finite()) {
                return None;
            }
            return Some([a.min(c), b.min(d), a.max(c), b.max(d)]);
        }
        let parent = node.get(b"Parent").ok()?;
        node = super::resolve_dict(doc, parent)?;
    }
    None
}

/// What the box says of the holder, made safe to show from the card certificate's subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderText {
    /// The full name in Persian script.
    pub name_fa: String,
    /// "Given Surname" in Latin letters.
    pub name_latin: String,
    pub national_code: String,
}

impl HolderText {
    /// The subject's names cleaned ([`clean`]) and capped.
    pub fn new(subject: &HolderSubject) -> Self {
        HolderText {
            name_fa: clean(&subject.full_name_fa, NAME_CHARS),
            name_latin: clean(
                &format!("{} {}", subject.given_name.trim(), subject.surname.trim()),
                NAME_CHARS,
            ),
            national_code: clean(&subject.national_code, CODE_CHARS),
        }
    }
}

/// `text` without control characters, bidirectional formatting characters (embeddings,
/// overrides, isolates, marks) and other invisible format characters except the zero-width
/// non-joiner and joiner that Persian spelling uses; runs of spaces made one; at most `max`
/// characters, a cut one ending with `…`.
pub fn clean(text: &str, max: usize) -> String {
    let kept = text.chars().filter(|&c| {
        let format_char = matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}' | '\u{200E}' | '\u{200F}'
            | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}');
        !c.is_control() && !format_char
    });
    let mut out = String::new();
    let mut count = 0;
    let mut last_space = true;
    for c in kept {
        let c = if c.is_whitespace() { ' ' } else { c };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        if count == max {
            out = out.trim_end().to_string();
            out.push('…');
            return out;
        }
        out.push(c);
        count += 1;
    }
    out.trim_end().to_string()
}

/// The signing time as the box shows it: `YYYY-MM-DD HH:MM:SS UTC` (the `/M` of the
/// signature, which is the same instant).
pub fn shown_time(time: SystemTime) -> String {
    let t = super::sign::utc(time);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minutes(),
        t.seconds()
    )
}

/// A glyph placed by the shaper: its id and its origin in font units from the run's start.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PlacedGlyph {
    id: u16,
    x: i32,
    y: i32,
}

/// A shaped run of text in visual order (left to right), with its advance and the text each
/// glyph stands for (for `/ToUnicode`).
#[derive(Debug, Clone, Default)]
struct ShapedRun {
    glyphs: Vec<PlacedGlyph>,
    /// The whole run's advance in font units.
    advance: i32,
    /// Each glyph's text: the characters of its cluster (the first glyph of a cluster gets
    /// them, a further glyph of the same cluster — a mark — gets nothing new).
    text: BTreeMap<u16, String>,
}

/// Shapes `text` right to left as Persian in `face`. Glyphs the font does not have (glyph 0)
/// and the invisible ones of joiners are left out.
fn shape_persian(face: &rustybuzz::Face<'_>, text: &str) -> ShapedRun {
    let mut buffer = rustybuzz::UnicodeBuffer::new();
    buffer.push_str(text);
    buffer.set_direction(rustybuzz::Direction::RightToLeft);
    buffer.set_script(rustybuzz::script::ARABIC);
    if let Ok(language) = "fa".parse::<rustybuzz::Language>() {
        buffer.set_language(language);
    }
    let shaped = rustybuzz::shape(face, &[], buffer);
    let infos = shaped.glyph_infos();
    let positions = shaped.glyph_positions();

    // Cluster starts (byte offsets into `text`), for the text of each cluster.
    let mut starts: Vec<usize> = infos.iter().map(|i| i.cluster as usize).collect();
    starts.sort_unstable();
    starts.dedup();
    let cluster_text = |start: usize| -> &str {
        let end = starts
            .iter()
            .find(|&&s| s > start)
            .copied()
            .unwrap_or(text.len());
        text.get(start..end).unwrap_or("")
    };

    let mut run = ShapedRun::default();
    let mut pen = 0i32;
    // Each cluster's glyphs, in logical order (the output is in visual order, right to left
    // reversed).
    // The joiners (ZWNJ, ZWJ) have done their work in shaping; the invisible glyph the
    // shaper leaves for them (the space's, with no advance) is not drawn, so that the space
    // glyph's text stays a space.
    let shown = |id: u16, cluster: u32| {
        id != 0
            && !cluster_text(cluster as usize)
                .chars()
                .all(|c| matches!(c, '\u{200C}' | '\u{200D}'))
    };
    let mut clusters: BTreeMap<usize, Vec<u16>> = BTreeMap::new();
    for info in infos.iter().rev() {
        let id = u16::try_from(info.glyph_id).unwrap_or(0);
        if shown(id, info.cluster) {
            clusters.entry(info.cluster as usize).or_default().push(id);
        }
    }
    for (info, position) in infos.iter().zip(positions) {
        let id = u16::try_from(info.glyph_id).unwrap_or(0);
        if shown(id, info.cluster) {
            run.glyphs.push(PlacedGlyph {
                id,
                x: pen.saturating_add(position.x_offset),
                y: position.y_offset,
            });
        }
        pen = pen.saturating_add(position.x_advance);
    }
    run.advance = pen;
    // One glyph per character: each its character; otherwise (a ligature, a base with a
    // mark) the first glyph the whole cluster. A glyph keeps the first text it was given.
    for (start, glyphs) in clusters {
        let text = cluster_text(start);
        let chars: Vec<char> = text.chars().collect();
        if chars.len() == glyphs.len() {
            for (id, c) in glyphs.iter().zip(chars) {
                run.text.entry(*id).or_insert_with(|| c.to_string());
            }
        } else if let Some(first) = glyphs.first() {
            run.text.entry(*first).or_insert_with(|| text.to_string());
        }
    }
    run
}

/// The standard Helvetica's widths (its AFM, per 1000 units of text space) of the printable
/// ASCII characters, from the space (32) to the tilde (126).
const HELVETICA_WIDTHS: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // 32–47
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 48–63
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722,
    778, // 64–79
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // 80–95
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556,
    556, // 96–111
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // 112–126
];

/// `text` in WinAnsiEncoding as far as Helvetica can show it (ASCII and Latin-1; `…` as the
/// ellipsis), anything else as `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '…' => 0x85,
            '\u{00A0}'..='\u{00FF}' => c as u32 as u8,
            _ => b'?',
        })
        .collect()
}

/// The width of WinAnsi `bytes` in Helvetica, per 1000 units of text space.
fn helvetica_width(bytes: &[u8]) -> f32 {
    bytes
        .iter()
        .map(|&b| match b {
            32..=126 => f32::from(HELVETICA_WIDTHS[usize::from(b - 32)]),
            0x85 => 1000.0,
            _ => 556.0,
        })
        .sum()
}

/// The largest size from `size` down to `min` at which `width` (per 1000 units) fits in
/// `room` points.
fn fitting_size(width_per_1000: f32, room: f32, size: f32, min: f32) -> f32 {
    if width_per_1000 <= 0.0 {
        return size;
    }
    (room * 1000.0 / width_per_1000).clamp(min, size)
}

fn real(v: f32) -> Object {
    // Two decimals are more than a renderer can show; fewer digits, a shorter stream.
    Object::Real((v * 100.0).round() / 100.0)
}

fn name(n: &[u8]) -> Object {
    Object::Name(n.to_vec())
}

/// A line of Helvetica at (`x`, `y`), left-aligned, made smaller to fit the box.
fn latin_line(ops: &mut Vec<Operation>, text: &str, y: f32, size: f32) {
    let bytes = win_ansi(text);
    let room = BOX_WIDTH - 2.0 * MARGIN;
    let size = fitting_size(helvetica_width(&bytes), room, size, LATIN_MIN_SIZE);
    ops.push(Operation::new("BT", vec![]));
    ops.push(Operation::new("Tf", vec![name(b"F2"), real(size)]));
    ops.push(Operation::new("Td", vec![real(MARGIN), real(y)]));
    ops.push(Operation::new(
        "Tj",
        vec![Object::String(bytes, StringFormat::Hexadecimal)],
    ));
    ops.push(Operation::new("ET", vec![]));
}

/// The appearance's content: a frame, the Persian name right-aligned at the top, then the
/// Latin name, the national code and the signing time.
fn content(run: &ShapedRun, units_per_em: f32, holder: &HolderText, time: SystemTime) -> Content {
    // The frame, and everything after clipped to the box.
    let mut ops = vec![
        Operation::new("q", vec![]),
        Operation::new("w", vec![real(0.8)]),
        Operation::new("RG", vec![real(0.1), real(0.2), real(0.45)]),
        Operation::new(
            "re",
            vec![
                real(0.4),
                real(0.4),
                real(BOX_WIDTH - 0.8),
                real(BOX_HEIGHT - 0.8),
            ],
        ),
        Operation::new("S", vec![]),
        Operation::new(
            "re",
            vec![real(0.0), real(0.0), real(BOX_WIDTH), real(BOX_HEIGHT)],
        ),
        Operation::new("W", vec![]),
        Operation::new("n", vec![]),
        Operation::new("rg", vec![real(0.0), real(0.0), real(0.0)]),
    ];

    // The Persian name, right-aligned; each glyph at the pen position the shaper gave it.
    let room = BOX_WIDTH - 2.0 * MARGIN;
    let width_per_1000 = run.advance.max(0) as f32 * 1000.0 / units_per_em;
    let size = fitting_size(width_per_1000, room, PERSIAN_SIZE, PERSIAN_MIN_SIZE);
    let scale = size / units_per_em;
    let run_width = run.advance.max(0) as f32 * scale;
    let start = (BOX_WIDTH - MARGIN - run_width).max(MARGIN);
    let baseline = 41.0;
    if !run.glyphs.is_empty() {
        ops.push(Operation::new("BT", vec![]));
        ops.push(Operation::new("Tf", vec![name(b"F1"), real(size)]));
        for glyph in &run.glyphs {
            ops.push(Operation::new(
                "Tm",
                vec![
                    Object::Integer(1),
                    Object::Integer(0),
                    Object::Integer(0),
                    Object::Integer(1),
                    real(start + glyph.x as f32 * scale),
                    real(baseline + glyph.y as f32 * scale),
                ],
            ));
            ops.push(Operation::new(
                "Tj",
                vec![Object::String(
                    glyph.id.to_be_bytes().to_vec(),
                    StringFormat::Hexadecimal,
                )],
            ));
        }
        ops.push(Operation::new("ET", vec![]));
    }

    latin_line(&mut ops, &holder.name_latin, 28.0, LATIN_SIZE);
    latin_line(
        &mut ops,
        &format!("National code {}", holder.national_code),
        17.0,
        LATIN_SIZE,
    );
    latin_line(
        &mut ops,
        &format!("Digitally signed {}", shown_time(time)),
        6.5,
        7.0,
    );
    ops.push(Operation::new("Q", vec![]));
    Content { operations: ops }
}

/// The `/ToUnicode` CMap of the glyphs of `run`: each glyph id (the CID, under
/// `/CIDToGIDMap /Identity`) to its text in UTF-16BE.
fn to_unicode_cmap(run: &ShapedRun) -> Vec<u8> {
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let entries: Vec<(u16, String)> = run
        .text
        .iter()
        .filter(|(_, text)| !text.is_empty())
        .map(|(&id, text)| {
            let utf16: String = text
                .encode_utf16()
                .take(256)
                .map(|unit| format!("{unit:04X}"))
                .collect();
            (id, utf16)
        })
        .collect();
    // At most 100 entries in a section (ISO 32000-1 §9.10.3, as in CMaps generally).
    for chunk in entries.chunks(100) {
        let _ = writeln!(cmap, "{} beginbfchar", chunk.len());
        for (id, utf16) in chunk {
            let _ = writeln!(cmap, "<{id:04X}> <{utf16}>");
        }
        cmap.push_str("endbfchar\n");
    }
    cmap.push_str("endcmap\nCMapName currentdict /CMapResource defineresource pop\nend\nend\n");
    cmap.into_bytes()
}

/// A stream, compressed when that makes it smaller.
fn stream(dict: Dictionary, content: Vec<u8>) -> Object {
    let mut stream = Stream::new(dict, content);
    // On failure the stream stays as it is, uncompressed and correct.
    let _ = stream.compress();
    Object::Stream(stream)
}

/// Adds the embedded Persian font (Type 0 over CIDFontType2, the whole TrueType file) with the
/// widths of the glyphs of `run` and its `/ToUnicode`; returns the Type 0 font's id.
fn add_persian_font(doc: &mut Document, face: &ttf_parser::Face<'_>, run: &ShapedRun) -> ObjectId {
    let units_per_em = f32::from(face.units_per_em().max(1));
    let per_1000 = |v: f32| Object::Integer((v * 1000.0 / units_per_em).round() as i64);

    let mut ids: Vec<u16> = run.glyphs.iter().map(|g| g.id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut widths = Vec::new();
    for id in ids {
        let advance = face
            .glyph_hor_advance(ttf_parser::GlyphId(id))
            .unwrap_or_default();
        widths.push(Object::Integer(i64::from(id)));
        widths.push(Object::Array(vec![per_1000(f32::from(advance))]));
    }

    let mut file = Dictionary::new();
    file.set("Length1", Object::Integer(FONT.len() as i64));
    let file_id = doc.add_object(stream(file, FONT.to_vec()));

    let bbox = face.global_bounding_box();
    let mut descriptor = Dictionary::new();
    descriptor.set("Type", name(b"FontDescriptor"));
    descriptor.set("FontName", name(FONT_NAME));
    // Symbolic (bit 3): the font's glyphs are addressed by id, not by a standard encoding.
    descriptor.set("Flags", Object::Integer(4));
    descriptor.set(
        "FontBBox",
        Object::Array(
            [bbox.x_min, bbox.y_min, bbox.x_max, bbox.y_max]
                .iter()
                .map(|&v| per_1000(f32::from(v)))
                .collect(),
        ),
    );
    descriptor.set("ItalicAngle", Object::Integer(0));
    descriptor.set("Ascent", per_1000(f32::from(face.ascender())));
    descriptor.set("Descent", per_1000(f32::from(face.descender())));
    descriptor.set(
        "CapHeight",
        per_1000(f32::from(face.capital_height().unwrap_or(face.ascender()))),
    );
    descriptor.set("StemV", Object::Integer(80));
    descriptor.set("FontFile2", Object::Reference(file_id));
    let descriptor_id = doc.add_object(Object::Dictionary(descriptor));

    let mut system_info = Dictionary::new();
    system_info.set("Registry", Object::string_literal("Adobe"));
    system_info.set("Ordering", Object::string_literal("Identity"));
    system_info.set("Supplement", Object::Integer(0));
    let mut cid_font = Dictionary::new();
    cid_font.set("Type", name(b"Font"));
    cid_font.set("Subtype", name(b"CIDFontType2"));
    cid_font.set("BaseFont", name(FONT_NAME));
    cid_font.set("CIDSystemInfo", Object::Dictionary(system_info));
    cid_font.set("FontDescriptor", Object::Reference(descriptor_id));
    cid_font.set("CIDToGIDMap", name(b"Identity"));
    cid_font.set("DW", Object::Integer(0));
    cid_font.set("W", Object::Array(widths));
    let cid_font_id = doc.add_object(Object::Dictionary(cid_font));

    let to_unicode_id = doc.add_object(stream(Dictionary::new(), to_unicode_cmap(run)));

    let mut font = Dictionary::new();
    font.set("Type", name(b"Font"));
    font.set("Subtype", name(b"Type0"));
    font.set("BaseFont", name(FONT_NAME));
    font.set("Encoding", name(b"Identity-H"));
    font.set(
        "DescendantFonts",
        Object::Array(vec![Object::Reference(cid_font_id)]),
    );
    font.set("ToUnicode", Object::Reference(to_unicode_id));
    doc.add_object(Object::Dictionary(font))
}

/// The standard Helvetica, in WinAnsiEncoding.
fn helvetica() -> Object {
    let mut font = Dictionary::new();
    font.set("Type", name(b"Font"));
    font.set("Subtype", name(b"Type1"));
    font.set("BaseFont", name(b"Helvetica"));
    font.set("Encoding", name(b"WinAnsiEncoding"));
    Object::Dictionary(font)
}

/// Adds the box's normal appearance to `doc` — a form XObject of [`BOX_WIDTH`] ×
/// [`BOX_HEIGHT`] with its fonts — showing `holder` and `time`; returns the XObject's id.
pub(crate) fn add_appearance(
    doc: &mut Document,
    holder: &HolderText,
    time: SystemTime,
) -> Result<ObjectId, PdfError> {
    let broken = || PdfError::Write(std::io::Error::other("the embedded font cannot be read"));
    let shaper = rustybuzz::Face::from_slice(FONT, 0).ok_or_else(broken)?;
    let face = ttf_parser::Face::parse(FONT, 0).map_err(|_| broken())?;
    let run = shape_persian(&shaper, &holder.name_fa);
    let units_per_em = f32::from(face.units_per_em().max(1));
    let content = content(&run, units_per_em, holder, time)
        .encode()
        .map_err(|e| PdfError::Write(std::io::Error::other(e.to_string())))?;

    let persian_id = add_persian_font(doc, &face, &run);
    let mut fonts = Dictionary::new();
    fonts.set("F1", Object::Reference(persian_id));
    fonts.set("F2", helvetica());
    let mut resources = Dictionary::new();
    resources.set("Font", Object::Dictionary(fonts));

    let mut form = Dictionary::new();
    form.set("Type", name(b"XObject"));
    form.set("Subtype", name(b"Form"));
    form.set(
        "BBox",
        Object::Array(vec![
            real(0.0),
            real(0.0),
            real(BOX_WIDTH),
            real(BOX_HEIGHT),
        ]),
    );
    form.set("Resources", Object::Dictionary(resources));
    Ok(doc.add_object(stream(form, content)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face() -> rustybuzz::Face<'static> {
        rustybuzz::Face::from_slice(FONT, 0).expect("the embedded font")
    }

    #[test]
    fn visible_is_parsed_strictly() {
        let ok: VisibleRequest = "1,50,50".parse().expect("parses");
        assert_eq!(
            ok,
            VisibleRequest {
                page: 1,
                x: 50.0,
                y: 50.0
            }
        );
        let spaced: VisibleRequest = " 2 , 10.5 ,0 ".parse().expect("parses");
        assert_eq!(
            spaced,
            VisibleRequest {
                page: 2,
                x: 10.5,
                y: 0.0
            }
        );
        for bad in [
            "",
            "x",
            "1,2",
            "1,2,3,4",
            "0,1,1",
            "-1,1,1",
            "1,inf,1",
            "1,NaN,1",
            "1,1e3,1",
            "1,,1",
            "1.5,1,1",
            "1,1,99999999999999",
        ] {
            assert!(
                matches!(bad.parse::<VisibleRequest>(), Err(VisibleError::Syntax(_))),
                "{bad:?} was accepted"
            );
        }
        // A negative coordinate parses; placing it fails (off the page).
        assert!("1,-5,10".parse::<VisibleRequest>().is_ok());
    }

    #[test]
    fn names_lose_controls_and_bidi_and_are_capped() {
        assert_eq!(
            clean("\u{202E}علی\u{0007}\u{2067} رضایی\u{200F}\n", 64),
            "علی رضایی"
        );
        // The zero-width non-joiner of Persian spelling stays.
        assert_eq!(clean("می\u{200C}خواهم", 64), "می\u{200C}خواهم");
        let long = "ب".repeat(500);
        let cut = clean(&long, NAME_CHARS);
        assert_eq!(cut.chars().count(), NAME_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(clean("  a \t  b  ", 10), "a b");
    }

    #[test]
    fn persian_is_shaped_right_to_left_with_joining_forms() {
        let face = face();
        // "بب": two beh, joined: the first (rightmost) initial, the second final — two
        // different glyphs, neither the isolated form.
        let run = shape_persian(&face, "بب");
        assert_eq!(run.glyphs.len(), 2);
        let isolated = shape_persian(&face, "ب").glyphs[0].id;
        assert_ne!(run.glyphs[0].id, run.glyphs[1].id);
        assert!(run.glyphs.iter().all(|g| g.id != isolated));
        // Visual order, left to right: in "با" (beh, alef) the alef is drawn first, on the left.
        let run = shape_persian(&face, "با");
        let texts: Vec<&str> = run
            .glyphs
            .iter()
            .map(|g| run.text.get(&g.id).map_or("", String::as_str))
            .collect();
        assert_eq!(texts, ["ا", "ب"]);
        assert!(run.glyphs[0].x < run.glyphs[1].x);
        assert!(run.advance > 0);
    }

    #[test]
    fn a_zero_width_non_joiner_breaks_the_join_and_is_not_drawn() {
        let face = face();
        let joined = shape_persian(&face, "بب");
        let apart = shape_persian(&face, "ب\u{200C}ب");
        assert_eq!(apart.glyphs.len(), 2);
        // Without the join, both beh take their isolated form.
        let isolated = shape_persian(&face, "ب").glyphs[0].id;
        assert!(apart.glyphs.iter().all(|g| g.id == isolated));
        assert_ne!(joined.glyphs[0].id, apart.glyphs[0].id);
        // The space keeps its own text.
        let words = shape_persian(&face, "ب\u{200C}ب ب");
        assert!(words.text.values().any(|t| t == " "), "{:?}", words.text);
        assert!(!words.text.values().any(|t| t.contains('\u{200C}')));
    }

    #[test]
    fn the_cmap_maps_each_glyph_to_its_text() {
        let face = face();
        let run = shape_persian(&face, "علی");
        let cmap = String::from_utf8(to_unicode_cmap(&run)).expect("ASCII");
        for (id, text) in &run.text {
            let utf16: String = text.encode_utf16().map(|u| format!("{u:04X}")).collect();
            assert!(cmap.contains(&format!("<{id:04X}> <{utf16}>")), "{cmap}");
        }
        assert!(cmap.contains("<0639>") && cmap.contains("<06CC>"), "{cmap}");
    }

    #[test]
    fn latin_text_is_win_ansi_and_fits() {
        assert_eq!(win_ansi("Ali (x)"), b"Ali (x)".to_vec());
        assert_eq!(
            win_ansi("Zoë علی"),
            vec![b'Z', b'o', 0xEB, b' ', b'?', b'?', b'?']
        );
        let wide = helvetica_width(&win_ansi(&"W".repeat(64)));
        let size = fitting_size(wide, BOX_WIDTH - 2.0 * MARGIN, LATIN_SIZE, LATIN_MIN_SIZE);
        assert_eq!(size, LATIN_MIN_SIZE);
        assert_eq!(
            fitting_size(helvetica_width(b"Ali Rezaei"), 192.0, 8.0, 5.0),
            8.0
        );
    }

    #[test]
    fn hostile_names_stay_text_in_the_appearance() {
        let subject = HolderSubject {
            given_name: "A) Tj ET 0 0 1 rg 0 0 999 999 re f BT (".into(),
            surname: "\\\u{202E}x\n\r%".into(),
            national_code: "0081493721\u{0000}) Tj".into(),
            full_name_fa: format!("\u{202E}علی{}", "ب".repeat(300)),
        };
        let holder = HolderText::new(&subject);
        assert!(holder.name_fa.chars().count() <= NAME_CHARS + 1);
        let mut doc = Document::with_version("1.7");
        let id = add_appearance(&mut doc, &holder, SystemTime::UNIX_EPOCH).expect("appearance");
        let Ok(Object::Stream(form)) = doc.get_object(id) else {
            panic!("no form XObject");
        };
        let content = Content::decode(&form.decompressed_content().expect("inflate"))
            .expect("the content parses");
        let operators: Vec<&str> = content
            .operations
            .iter()
            .map(|o| o.operator.as_str())
            .collect();
        // Only what the box draws: no fill of a rectangle, nothing the names brought in.
        assert!(
            operators.iter().all(|o| [
                "q", "Q", "w", "RG", "rg", "re", "S", "W", "n", "BT", "ET", "Tf", "Td", "Tm", "Tj"
            ]
            .contains(o)),
            "{operators:?}"
        );
        assert!(!operators.contains(&"f"));
        assert_eq!(operators.iter().filter(|o| **o == "re").count(), 2);
        // Three Latin lines, the Persian glyphs each its own Tj.
        let latin = content
            .operations
            .iter()
            .filter(|o| o.operator == "Tf" && o.operands.first() == Some(&name(b"F2")))
            .count();
        assert_eq!(latin, 3);
    }
}

//! Signing a PDF: an incremental update (ISO 32000-1 §7.5.6) after the original bytes, which
//! stay unchanged, with a signature dictionary (`/SubFilter /ETSI.CAdES.detached`), a
//! signature field on page 1, invisible (or a visible box on the page asked for, see
//! [`super::appearance`]), and the form's `/SigFlags 3`, written by lopdf's
//! `IncrementalDocument` with a cross-reference section of the kind the file already has.
//!
//! The steps: [`prepare`] writes the update to a temporary file beside the output with a
//! `/ByteRange` and a `/Contents` hole of fixed widths, [`PreparedPdf::digest`] hashes the
//! two ranges from the file as a stream, the card signs that digest (PAdES-B-B: a detached
//! CMS SignedData without signingTime, the time being `/M`), and [`PreparedPdf::finish`]
//! puts the signature in the hole and renames the file into place. On any error the
//! temporary file is removed and nothing is written.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::SystemTime;

use lopdf::{Dictionary, IncrementalDocument, Object, ObjectId, Stream, StringFormat};
use sha2::{Digest, Sha256};

use super::appearance::{self, HolderText, Placement, VisibleError, VisibleRequest};
use super::{load, read_pdf, resolve, signature_fields, PdfError};

/// Bytes reserved for the CMS signature in `/Contents` (twice as many hex digits): the
/// signature with the holder and signing-CA certificates is about 2 KB, an RFC 3161 token with
/// its TSA's certificates a few more.
pub const SIGNATURE_ROOM: usize = 16 * 1024;

/// The placeholder of each of the last three `/ByteRange` numbers: ten digits, wider than any
/// offset of a PDF within the size cap, overwritten in place with the real numbers padded
/// with spaces.
const RANGE_PLACEHOLDER: i64 = 9_999_999_999;

/// A signed PDF waiting for its signature: the update written to a temporary file, its byte
/// range filled in, its `/Contents` still zeros.
#[derive(Debug)]
pub struct PreparedPdf {
    file: tempfile::NamedTempFile,
    /// `[0, hole start, hole end, length after the hole]`.
    byte_range: [u64; 4],
    /// The size of the original file, the unchanged prefix of the signed one.
    original_len: u64,
    /// The signature field's name.
    field_name: String,
}

impl PreparedPdf {
    /// The `/ByteRange` written.
    pub fn byte_range(&self) -> [u64; 4] {
        self.byte_range
    }

    /// The size of the original PDF, which the signed one starts with.
    pub fn original_len(&self) -> u64 {
        self.original_len
    }

    /// The name of the new signature field.
    pub fn field_name(&self) -> &str {
        &self.field_name
    }

    /// SHA-256 of the two byte ranges, read from the file in pieces.
    pub fn digest(&mut self) -> Result<[u8; 32], PdfError> {
        let [start1, len1, start2, len2] = self.byte_range;
        let file = self.file.as_file_mut();
        let mut hasher = Sha256::new();
        hash_range(file, start1, len1, &mut hasher).map_err(PdfError::Write)?;
        hash_range(file, start2, len2, &mut hasher).map_err(PdfError::Write)?;
        Ok(hasher.finalize().into())
    }

    /// Puts `cms` (the DER of the signature) into the `/Contents` hole and moves the file to
    /// `out` (replacing it; the file and its folder are synced first).
    pub fn finish(mut self, cms: &[u8], out: &Path) -> Result<(), PdfError> {
        self.fill(cms)?;
        self.persist(out)
    }

    /// Puts `cms` into the `/Contents` hole; the file stays temporary (a later revision, such
    /// as [`super::dss::append`]'s, may follow before [`Self::persist`]).
    pub fn fill(&mut self, cms: &[u8]) -> Result<(), PdfError> {
        let room = self.room();
        if cms.len() > room {
            return Err(PdfError::SignatureTooLarge {
                size: cms.len(),
                room,
            });
        }
        let file = self.file.as_file_mut();
        file.seek(SeekFrom::Start(self.byte_range[1] + 1))
            .and_then(|_| file.write_all(hex::encode_upper(cms).as_bytes()))
            .map_err(PdfError::Write)
    }

    /// Syncs the file and moves it to `out` (replacing it; its folder is synced too).
    pub fn persist(mut self, out: &Path) -> Result<(), PdfError> {
        self.file
            .as_file_mut()
            .sync_all()
            .map_err(PdfError::Write)?;
        crate::files::persist(self.file, out).map_err(PdfError::Write)
    }

    /// The bytes `/Contents` holds: the signature, then zeros.
    pub(crate) fn room(&self) -> usize {
        (self.byte_range[2] - self.byte_range[1] - 2) as usize / 2
    }

    /// The temporary file.
    pub(crate) fn file_mut(&mut self) -> &mut File {
        self.file.as_file_mut()
    }
}

fn hash_range(file: &mut File, start: u64, len: u64, hasher: &mut Sha256) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(start))?;
    let mut left = len;
    let mut buffer = vec![0u8; 1 << 20];
    while left > 0 {
        let want = buffer
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = file.read(&mut buffer[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file ended inside its byte range",
            ));
        }
        hasher.update(&buffer[..n]);
        left -= n as u64;
    }
    Ok(())
}

/// `time` in UTC calendar fields (a clock before 1970 or after 9999 is shown as the end of
/// 9999, `der`'s last date: a claimed time, never trusted).
pub(crate) fn utc(time: SystemTime) -> der::DateTime {
    der::DateTime::from_system_time(time).unwrap_or(der::DateTime::INFINITY)
}

/// The PDF date of `time` in UTC: `D:YYYYMMDDHHmmSS+00'00'`.
pub fn pdf_date(time: SystemTime) -> String {
    let t = utc(time);
    format!(
        "D:{:04}{:02}{:02}{:02}{:02}{:02}+00'00'",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minutes(),
        t.seconds()
    )
}

/// Reads the PDF at `input`, writes its signed update (signing time `time`, in `/M`) with an
/// invisible signature to a temporary file in `folder`, and returns it ready to be hashed.
pub fn prepare(input: &Path, folder: &Path, time: SystemTime) -> Result<PreparedPdf, PdfError> {
    open(input)?.prepare(folder, time, None)
}

/// A visible signature: where its box goes and what it shows of the holder.
#[derive(Debug, Clone)]
pub struct VisibleSignature {
    pub placement: Placement,
    pub holder: HolderText,
}

/// A PDF read and parsed (stream contents condensed), not yet signed: the original is read
/// once and held once.
#[derive(Debug)]
pub struct OpenedPdf {
    bytes: Vec<u8>,
    doc: lopdf::Document,
}

/// Reads and parses the PDF at `input`, refused as [`load`] says.
pub fn open(input: &Path) -> Result<OpenedPdf, PdfError> {
    let bytes = read_pdf(input)?;
    let doc = load(&bytes)?;
    Ok(OpenedPdf { bytes, doc })
}

impl OpenedPdf {
    /// Where a visible signature's box goes, as `request` asks, if it fits on that page.
    pub fn place(&self, request: &VisibleRequest) -> Result<Placement, VisibleError> {
        appearance::place(&self.doc, request)
    }

    /// Writes the signed update (signing time `time`, in `/M`; the box of `visible` when
    /// given, else an invisible signature on page 1) to a temporary file in `folder`, and
    /// returns it ready to be hashed.
    pub fn prepare(
        self,
        folder: &Path,
        time: SystemTime,
        visible: Option<&VisibleSignature>,
    ) -> Result<PreparedPdf, PdfError> {
        let OpenedPdf { bytes, doc } = self;
        prepare_update(bytes, doc, folder, time, visible)
    }
}

fn prepare_update(
    bytes: Vec<u8>,
    doc: lopdf::Document,
    folder: &Path,
    time: SystemTime,
    visible: Option<&VisibleSignature>,
) -> Result<PreparedPdf, PdfError> {
    let original_len = bytes.len() as u64;
    let mut update = IncrementalDocument::create_from(bytes, doc);
    let field_name = add_signature(&mut update, time, visible)?;

    let mut file = tempfile::Builder::new()
        .prefix(".melli-")
        .suffix(".pdf")
        .tempfile_in(folder)
        .map_err(PdfError::Write)?;
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(PdfError::Write)?;
    }
    let mut writer = TailWriter {
        inner: std::io::BufWriter::new(file.as_file_mut()),
        skip: original_len,
        written: 0,
        tail: Vec::new(),
    };
    update.save_to(&mut writer).map_err(PdfError::Write)?;
    // lopdf ends the update with `%%EOF`; an end-of-line after it, as most writers do.
    writer.write_all(b"\n").map_err(PdfError::Write)?;
    writer.flush().map_err(PdfError::Write)?;
    let total = writer.written;
    let tail = std::mem::take(&mut writer.tail);
    drop(writer);
    drop(update);

    // Where lopdf put the placeholders, in the update only (the original may hold anything).
    let range_text = format!("[0 {RANGE_PLACEHOLDER} {RANGE_PLACEHOLDER} {RANGE_PLACEHOLDER}]");
    let range_at = only_occurrence(&tail, range_text.as_bytes())
        .ok_or_else(|| internal("the /ByteRange placeholder is not in the update once"))?;
    let hole_text = [&b"<"[..], &vec![b'0'; SIGNATURE_ROOM * 2][..], &b">"[..]].concat();
    let hole_at = only_occurrence(&tail, &hole_text)
        .ok_or_else(|| internal("the /Contents placeholder is not in the update once"))?;
    let hole_start = original_len + hole_at as u64;
    let hole_end = hole_start + hole_text.len() as u64;
    let byte_range = [0, hole_start, hole_end, total - hole_end];
    let mut filled =
        format!("[0 {} {} {}", byte_range[1], byte_range[2], byte_range[3]).into_bytes();
    if filled.len() + 1 > range_text.len() {
        return Err(internal("the byte range does not fit its placeholder"));
    }
    filled.resize(range_text.len() - 1, b' ');
    filled.push(b']');
    let handle = file.as_file_mut();
    handle
        .seek(SeekFrom::Start(original_len + range_at as u64))
        .and_then(|_| handle.write_all(&filled))
        .map_err(PdfError::Write)?;
    Ok(PreparedPdf {
        file,
        byte_range,
        original_len,
        field_name,
    })
}

fn internal(what: &str) -> PdfError {
    PdfError::Write(std::io::Error::other(what.to_string()))
}

/// The offset of the only occurrence of `needle` in `haystack`.
fn only_occurrence(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let mut hits = haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i);
    let first = hits.next()?;
    hits.next().is_none().then_some(first)
}

/// A writer that passes everything on and keeps a copy of what comes after the first `skip`
/// bytes (the update, a few kilobytes).
struct TailWriter<W: Write> {
    inner: W,
    skip: u64,
    written: u64,
    tail: Vec<u8>,
}

impl<W: Write> Write for TailWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let start = self.written;
        let end = start + n as u64;
        if end > self.skip {
            let from = self.skip.saturating_sub(start) as usize;
            self.tail.extend_from_slice(&buf[from..n]);
        }
        self.written = end;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Adds the signature dictionary, the field (merged with its widget: invisible on page 1, or
/// the box of `visible` on its page) and the form entries to `update`; returns the field's
/// name.
fn add_signature(
    update: &mut IncrementalDocument,
    time: SystemTime,
    visible: Option<&VisibleSignature>,
) -> Result<String, PdfError> {
    let prev = update.get_prev_documents();
    let root_id = prev
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| PdfError::Incomplete("a document catalog (/Root)".into()))?;
    let page_number = visible.map_or(1, |v| v.placement.page);
    let page_id = match visible {
        Some(v) => v.placement.page_id,
        None => *prev
            .get_pages()
            .get(&1)
            .ok_or_else(|| PdfError::Incomplete("pages".into()))?,
    };
    let taken: Vec<Vec<u8>> = signature_fields(prev)
        .into_iter()
        .map(|f| f.name)
        .chain(all_field_names(prev))
        .collect();
    let field_name = (1..)
        .map(|n| format!("Signature{n}"))
        .find(|name| !taken.iter().any(|t| t == name.as_bytes()))
        .unwrap_or_else(|| "Signature".into());

    // The trailer of the update: what identifies the document, and the previous section.
    let mut trailer = Dictionary::new();
    for key in [&b"Root"[..], b"Info", b"ID"] {
        if let Ok(value) = prev.trailer.get(key) {
            trailer.set(key, value.clone());
        }
    }
    trailer.set("Prev", Object::Integer(prev.xref_start as i64));
    let catalog = prev
        .get_dictionary(root_id)
        .map_err(|_| PdfError::Incomplete("a document catalog (/Root)".into()))?
        .clone();
    let acro_form = catalog.get(b"AcroForm").ok().cloned();
    let page = prev
        .get_dictionary(page_id)
        .map_err(|_| PdfError::Incomplete(format!("a usable page {page_number}")))?
        .clone();
    let annots = page.get(b"Annots").ok().cloned();
    update.new_document.trailer = trailer;

    let doc = &mut update.new_document;
    let mut signature = Dictionary::new();
    signature.set("Type", Object::Name(b"Sig".to_vec()));
    signature.set("Filter", Object::Name(b"Adobe.PPKLite".to_vec()));
    signature.set("SubFilter", Object::Name(b"ETSI.CAdES.detached".to_vec()));
    signature.set(
        "M",
        Object::String(pdf_date(time).into_bytes(), StringFormat::Literal),
    );
    signature.set(
        "ByteRange",
        Object::Array(vec![
            Object::Integer(0),
            Object::Integer(RANGE_PLACEHOLDER),
            Object::Integer(RANGE_PLACEHOLDER),
            Object::Integer(RANGE_PLACEHOLDER),
        ]),
    );
    signature.set(
        "Contents",
        Object::String(vec![0; SIGNATURE_ROOM], StringFormat::Hexadecimal),
    );
    let signature_id = doc.add_object(Object::Dictionary(signature));

    let zero_rect = || {
        Object::Array(vec![
            Object::Integer(0),
            Object::Integer(0),
            Object::Integer(0),
            Object::Integer(0),
        ])
    };
    let (rect, appearance_id) = match visible {
        Some(v) => (
            Object::Array(v.placement.rect.iter().map(|&n| Object::Real(n)).collect()),
            appearance::add_appearance(doc, &v.holder, time)?,
        ),
        None => {
            let mut appearance = Dictionary::new();
            appearance.set("Type", Object::Name(b"XObject".to_vec()));
            appearance.set("Subtype", Object::Name(b"Form".to_vec()));
            appearance.set("BBox", zero_rect());
            let id = doc.add_object(Object::Stream(Stream::new(appearance, Vec::new())));
            (zero_rect(), id)
        }
    };

    let mut widget = Dictionary::new();
    widget.set("Type", Object::Name(b"Annot".to_vec()));
    widget.set("Subtype", Object::Name(b"Widget".to_vec()));
    widget.set("FT", Object::Name(b"Sig".to_vec()));
    widget.set(
        "T",
        Object::String(field_name.clone().into_bytes(), StringFormat::Literal),
    );
    widget.set("V", Object::Reference(signature_id));
    widget.set("Rect", rect);
    // Print and Locked (ISO 32000-1 table 165).
    widget.set("F", Object::Integer(132));
    widget.set("P", Object::Reference(page_id));
    let mut ap = Dictionary::new();
    ap.set("N", Object::Reference(appearance_id));
    widget.set("AP", Object::Dictionary(ap));
    let widget_id = doc.add_object(Object::Dictionary(widget));

    // The page lists the widget among its annotations.
    match annots {
        None => {
            let mut page = page;
            page.set("Annots", Object::Array(vec![Object::Reference(widget_id)]));
            doc.set_object(page_id, Object::Dictionary(page));
        }
        Some(Object::Array(mut list)) => {
            list.push(Object::Reference(widget_id));
            let mut page = page;
            page.set("Annots", Object::Array(list));
            doc.set_object(page_id, Object::Dictionary(page));
        }
        Some(Object::Reference(list_id)) => {
            let what = format!("page {page_number}'s /Annots");
            append_to_array_object(update, list_id, widget_id, &what)?;
        }
        Some(_) => {
            return Err(PdfError::Incomplete(format!(
                "a usable /Annots on page {page_number} (it is not an array)"
            )))
        }
    }

    // The form lists the field; /SigFlags 3: signatures exist, append only.
    match acro_form {
        Some(Object::Reference(form_id)) => {
            let form = update
                .get_prev_documents()
                .get_dictionary(form_id)
                .map_err(|_| PdfError::Incomplete("a usable /AcroForm".into()))?
                .clone();
            let form = with_field(update, form, widget_id)?;
            update
                .new_document
                .set_object(form_id, Object::Dictionary(form));
        }
        Some(Object::Dictionary(form)) => {
            let form = with_field(update, form, widget_id)?;
            let mut catalog = catalog;
            catalog.set("AcroForm", Object::Dictionary(form));
            update
                .new_document
                .set_object(root_id, Object::Dictionary(catalog));
        }
        None => {
            let form = with_field(update, Dictionary::new(), widget_id)?;
            let mut catalog = catalog;
            catalog.set("AcroForm", Object::Dictionary(form));
            update
                .new_document
                .set_object(root_id, Object::Dictionary(catalog));
        }
        Some(_) => {
            return Err(PdfError::Incomplete(
                "a usable /AcroForm (it is not a dictionary)".into(),
            ))
        }
    }
    Ok(field_name)
}

/// `form` with the field `field_id` added to `/Fields` (an array in it, or an array object it
/// points to, which the update then rewrites) and `/SigFlags 3`.
fn with_field(
    update: &mut IncrementalDocument,
    mut form: Dictionary,
    field_id: ObjectId,
) -> Result<Dictionary, PdfError> {
    match form.get(b"Fields").ok().cloned() {
        None => form.set("Fields", Object::Array(vec![Object::Reference(field_id)])),
        Some(Object::Array(mut fields)) => {
            fields.push(Object::Reference(field_id));
            form.set("Fields", Object::Array(fields));
        }
        Some(Object::Reference(list_id)) => {
            append_to_array_object(update, list_id, field_id, "the form's /Fields")?
        }
        Some(_) => {
            return Err(PdfError::Incomplete(
                "a usable /Fields in its form (it is not an array)".into(),
            ))
        }
    }
    form.set("SigFlags", Object::Integer(3));
    Ok(form)
}

/// Rewrites the array object `list_id` in the update with `item` appended.
fn append_to_array_object(
    update: &mut IncrementalDocument,
    list_id: ObjectId,
    item: ObjectId,
    what: &str,
) -> Result<(), PdfError> {
    let mut list = match update.get_prev_documents().get_object(list_id) {
        Ok(Object::Array(list)) => list.clone(),
        _ => {
            return Err(PdfError::Incomplete(format!(
                "a usable {what} (it is not an array)"
            )))
        }
    };
    list.push(Object::Reference(item));
    update.new_document.set_object(list_id, Object::Array(list));
    Ok(())
}

/// The partial names (`/T`) of the form's top-level fields, so a new field's name is new.
fn all_field_names(doc: &lopdf::Document) -> Vec<Vec<u8>> {
    let Some(fields) = super::form(doc)
        .and_then(|f| f.get(b"Fields").ok())
        .and_then(|f| resolve(doc, f))
        .and_then(|f| f.as_array().ok())
    else {
        return Vec::new();
    };
    fields
        .iter()
        .filter_map(|f| super::resolve_dict(doc, f))
        .filter_map(|d| match d.get(b"T") {
            Ok(Object::String(name, _)) => Some(name.clone()),
            _ => None,
        })
        .collect()
}

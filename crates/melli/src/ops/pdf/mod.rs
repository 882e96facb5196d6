//! PDF signatures (PAdES baseline B-B, and B-T with a timestamp): signing a PDF with the card
//! as an incremental update, and verifying every signature in a signed PDF.
//!
//! PDFs are read with `lopdf` (classic cross-reference tables, cross-reference streams,
//! object streams, linearized files, files with several revisions); nothing here parses PDF
//! syntax by hand. A PDF is hostile input: it is capped in size ([`input::Kind::Pdf`]), a file
//! whose cross-reference data had to be rebuilt or that is encrypted is refused, and what it
//! says is only ever shown escaped by the command line.

use std::path::Path;

use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId};
use sha2::{Digest, Sha256};

use crate::input;

pub mod appearance;
pub mod dss;
pub mod sign;
pub mod verify;

pub use appearance::{HolderText, Placement, VisibleError, VisibleRequest};
pub use sign::{open, prepare, OpenedPdf, PreparedPdf, VisibleSignature};
pub use verify::{verify_pdf, PdfSignatureReport};

/// The header every PDF starts with.
const HEADER: &[u8] = b"%PDF-";

/// How deep a field tree or an object chain is followed before the file is judged hostile.
const MAX_DEPTH: usize = 32;

/// Whether the regular file at `path` starts with the PDF header `%PDF-`.
pub fn looks_like_pdf(path: &Path) -> Result<bool, input::InputError> {
    use std::io::Read;
    let (file, _) = input::open_regular(path, input::Kind::Pdf)?;
    let mut head = Vec::with_capacity(HEADER.len());
    file.take(HEADER.len() as u64)
        .read_to_end(&mut head)
        .map_err(|source| input::InputError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(head == HEADER)
}

/// Why a PDF is not signed or not verified: the file, not a verdict on a signature.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// Reading the file failed, or it is too large or not a regular file.
    #[error(transparent)]
    Input(#[from] input::InputError),
    /// No `%PDF-` header.
    #[error("not a PDF (it does not start with %PDF-)")]
    NotPdf,
    /// An encrypted PDF (a `/Encrypt` dictionary).
    #[error("an encrypted PDF")]
    Encrypted,
    /// lopdf could not read the file.
    #[error("not a readable PDF ({0})")]
    Unreadable(String),
    /// The file reads only after its cross-reference data was rebuilt or corrected: truncated
    /// or damaged.
    #[error("a damaged PDF: its cross-reference data is broken ({0})")]
    BrokenXref(&'static str),
    /// The file reads but lacks what a signature needs (a catalog, a first page, …).
    #[error("a PDF without {0}")]
    Incomplete(String),
    /// Writing the signed file failed.
    #[error("{0}")]
    Write(#[source] std::io::Error),
    /// The CMS signature is larger than the room reserved for it.
    #[error("the signature ({size} bytes) does not fit in the room reserved for it in the PDF ({room} bytes)")]
    SignatureTooLarge { size: usize, room: usize },
}

impl PdfError {
    /// What to do about it, the part of the message after the dash.
    pub fn remedy(&self) -> &'static str {
        match self {
            PdfError::Input(input::InputError::TooLarge { .. }) => {
                "sign so large a file as a detached signature with --format cms (any size)"
            }
            PdfError::Input(_) => "check the path of the PDF",
            PdfError::NotPdf => {
                "give a PDF, or sign any file as a detached signature with --format cms"
            }
            PdfError::Encrypted => {
                "remove its password first (qpdf --decrypt IN.pdf OUT.pdf) and sign the result"
            }
            PdfError::Unreadable(_) | PdfError::BrokenXref(_) | PdfError::Incomplete(_) => {
                "ask for an undamaged copy, or rewrite it (qpdf IN.pdf OUT.pdf) before it is signed"
            }
            PdfError::Write(_) => "choose another --out path",
            PdfError::SignatureTooLarge { .. } => {
                "sign without --tsa, or report this: the reserved room should be larger"
            }
        }
    }
}

/// Reads the PDF at `path` whole (at most [`input::Kind::Pdf`]'s cap) and checks its header.
pub fn read_pdf(path: &Path) -> Result<Vec<u8>, PdfError> {
    let bytes = input::read(path, input::Kind::Pdf)?;
    if !bytes.starts_with(HEADER) {
        return Err(PdfError::NotPdf);
    }
    Ok(bytes)
}

/// Streams larger than this are condensed by [`condense_streams`]; smaller ones are kept, so
/// the certificates, OCSP answers and CRLs of a document security store ([`dss`]) can be read.
pub(crate) const CONDENSE_ABOVE: usize = 1024 * 1024;

/// The key [`condense_streams`] sets in every stream's dictionary: `true` when the content
/// was replaced by its SHA-256, `false` when it is the stream's own. Whatever the file says
/// under that key is overwritten, so a condensed stream never compares equal to a stream
/// whose content happens to be that digest.
pub(crate) const CONDENSED_KEY: &[u8] = b"melli.condensed-to-sha256";

/// A loader filter: the content of each stream larger than [`CONDENSE_ABOVE`] (except object
/// and cross-reference streams, which lopdf still has to read) is replaced by its SHA-256,
/// and [`CONDENSED_KEY`] says so. Nothing here renders a page, so a 200 MB PDF of scans needs
/// no second copy of its images in memory, and two versions of a stream still compare equal
/// only when their contents are equal.
fn condense_streams(id: ObjectId, object: &mut Object) -> Option<(ObjectId, Object)> {
    if let Object::Stream(stream) = object {
        // An empty content here is a stream whose /Length is an indirect object: lopdf reads
        // it later, whole.
        let condense = stream.content.len() > CONDENSE_ABOVE
            && !stream.dict.has_type(b"ObjStm")
            && !stream.dict.has_type(b"XRef");
        if condense {
            let digest = Sha256::digest(&stream.content);
            stream.content = digest.to_vec();
        }
        if !stream.dict.has_type(b"ObjStm") && !stream.dict.has_type(b"XRef") {
            stream.dict.set(CONDENSED_KEY, Object::Boolean(condense));
        }
    }
    // lopdf keeps the object changed in place for objects of the file and the returned one
    // for objects of object streams: both the same.
    Some((id, object.clone()))
}

/// The content of `stream` as the file has it, unless [`condense_streams`] replaced it by its
/// digest.
pub(crate) fn own_content(stream: &lopdf::Stream) -> Option<&[u8]> {
    match stream.dict.get(CONDENSED_KEY) {
        Ok(Object::Boolean(true)) => None,
        _ => Some(&stream.content),
    }
}

/// The document in `bytes` (which start with `%PDF-`), refused when encrypted or when its
/// cross-reference data had to be rebuilt. Stream contents are condensed (see
/// [`condense_streams`]).
pub(crate) fn load(bytes: &[u8]) -> Result<Document, PdfError> {
    let doc = load_repaired(bytes)?;
    if let Some(e) = broken_xref(&doc) {
        return Err(e);
    }
    Ok(doc)
}

/// Why the cross-reference data of `doc` is not to be trusted, if it is not.
pub(crate) fn broken_xref(doc: &Document) -> Option<PdfError> {
    match doc.xref_recovery {
        Some(lopdf::xref::XrefRecovery::Reconstructed) => Some(PdfError::BrokenXref(
            "it had to be rebuilt by scanning the file: truncated or damaged",
        )),
        Some(_) => Some(PdfError::BrokenXref("an offset points to the wrong place")),
        None if doc.xref_start == 0 => Some(PdfError::BrokenXref("no startxref")),
        None => None,
    }
}

/// [`load`], but a file whose cross-reference data lopdf had to rebuild or correct is read
/// as lopdf repaired it ([`broken_xref`] tells): a signed PDF with bytes appended after its
/// last revision still shows its signatures, and the verdict names what follows them.
pub(crate) fn load_repaired(bytes: &[u8]) -> Result<Document, PdfError> {
    if !bytes.starts_with(HEADER) {
        return Err(PdfError::NotPdf);
    }
    let options = LoadOptions {
        filter: Some(condense_streams),
        ..LoadOptions::default()
    };
    let doc = Document::load_mem_with_options(bytes, options).map_err(|e| {
        let text = e.to_string();
        if text.to_ascii_lowercase().contains("encrypt") || has_encrypt_key(bytes) {
            PdfError::Encrypted
        } else {
            PdfError::Unreadable(text)
        }
    })?;
    if doc.trailer.has(b"Encrypt") || doc.encryption_state.is_some() || doc.was_encrypted() {
        return Err(PdfError::Encrypted);
    }
    doc.catalog()
        .map_err(|_| PdfError::Incomplete("a document catalog (/Root)".into()))?;
    Ok(doc)
}

/// Whether a trailer of the file names an `/Encrypt` dictionary (for files lopdf cannot open
/// at all because they are encrypted).
fn has_encrypt_key(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(64 * 1024)..];
    tail.windows(8).any(|w| w == b"/Encrypt")
}

/// `object`, resolved if it is a reference (one step; a reference to a reference is not
/// followed).
fn resolve<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Object> {
    match object {
        Object::Reference(id) => doc.get_object(*id).ok(),
        other => Some(other),
    }
}

fn resolve_dict<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Dictionary> {
    resolve(doc, object).and_then(|o| o.as_dict().ok())
}

/// A signature field or widget found in the form: its full name, and its value (the
/// signature dictionary), when it has one.
#[derive(Debug, Clone)]
pub(crate) struct SignatureField {
    pub name: Vec<u8>,
    pub value: Option<Object>,
}

/// Every signature field (`/FT /Sig`, inherited as the form rules say) of the document's
/// interactive form, in the order of `/Fields`; cycles and trees deeper than [`MAX_DEPTH`]
/// are cut off.
pub(crate) fn signature_fields(doc: &Document) -> Vec<SignatureField> {
    let mut found = Vec::new();
    let Some(fields) = form(doc).and_then(|f| f.get(b"Fields").ok()) else {
        return found;
    };
    let Some(fields) = resolve(doc, fields).and_then(|o| o.as_array().ok()) else {
        return found;
    };
    let mut seen = std::collections::HashSet::new();
    for field in fields {
        walk_field(doc, field, None, Vec::new(), 0, &mut seen, &mut found);
    }
    found
}

/// The catalog's `/AcroForm` dictionary.
pub(crate) fn form(doc: &Document) -> Option<&Dictionary> {
    let catalog = doc.catalog().ok()?;
    resolve_dict(doc, catalog.get(b"AcroForm").ok()?)
}

fn walk_field(
    doc: &Document,
    field: &Object,
    inherited_type: Option<&[u8]>,
    parent_name: Vec<u8>,
    depth: usize,
    seen: &mut std::collections::HashSet<ObjectId>,
    found: &mut Vec<SignatureField>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Object::Reference(id) = field {
        if !seen.insert(*id) {
            return;
        }
    }
    let Some(dict) = resolve_dict(doc, field) else {
        return;
    };
    let field_type = dict
        .get(b"FT")
        .ok()
        .and_then(|t| t.as_name().ok())
        .or(inherited_type);
    let mut name = parent_name;
    if let Ok(Object::String(part, _)) = dict.get(b"T") {
        if !name.is_empty() {
            name.push(b'.');
        }
        name.extend_from_slice(part);
    }
    let kids = dict
        .get(b"Kids")
        .ok()
        .and_then(|k| resolve(doc, k))
        .and_then(|k| k.as_array().ok());
    // Kids that are fields (they have a /T) make this a non-terminal field; kids that are
    // only widgets leave it a terminal field.
    let field_kids: Vec<&Object> = kids
        .map(|kids| {
            kids.iter()
                .filter(|k| resolve_dict(doc, k).is_some_and(|d| d.has(b"T")))
                .collect()
        })
        .unwrap_or_default();
    if !field_kids.is_empty() {
        for kid in field_kids {
            walk_field(doc, kid, field_type, name.clone(), depth + 1, seen, found);
        }
        return;
    }
    if field_type == Some(b"Sig") {
        found.push(SignatureField {
            name,
            value: dict.get(b"V").ok().cloned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_a_pdf_is_named() {
        assert!(matches!(load(b"hello"), Err(PdfError::NotPdf)));
        assert!(matches!(
            load(b"%PDF-1.4\nthis is not a PDF at all\n"),
            Err(PdfError::Unreadable(_) | PdfError::BrokenXref(_) | PdfError::Incomplete(_))
        ));
    }
}

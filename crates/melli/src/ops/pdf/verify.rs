//! Verifying the signatures of a PDF: for each signature field with a value, its byte range
//! (from 0, the hole exactly its `/Contents`, up to the end of a revision), the CMS checks of
//! a detached signature (`ops::sign::verify_timestamped_signature`, the same as for a
//! `.p7s`), and whether the document was changed after it was signed: a later revision that
//! does more than add signatures (or validation data, `/DSS`) fails the check.

use std::collections::HashSet;
use std::path::Path;
use std::time::SystemTime;

use lopdf::{Dictionary, Document, Object, ObjectId};
use sha2::{Digest, Sha256};

use super::{
    broken_xref, load, load_repaired, read_pdf, resolve, resolve_dict, signature_fields, PdfError,
    MAX_DEPTH,
};
use crate::ops::sign::{check as cms_check, verify_timestamped_signature, SignatureReport};
use crate::pki::{Certificate, Check};

/// Names of the checks a PDF adds to those of a CMS signature.
pub mod check {
    /// `/ByteRange` well-formed and covering the signed revision but the signature.
    pub const BYTE_RANGE: &str = "byte range";
    /// Later revisions that change the document.
    pub const CHANGED_AFTER_SIGNING: &str = "changed after signing";
}

/// The largest `/Contents` hole read, in bytes of hex digits.
const HOLE_MAX: u64 = 2 * 1024 * 1024;

/// The sub-filters whose signatures are CMS SignedData over the byte range.
const CMS_SUB_FILTERS: [&[u8]; 2] = [b"ETSI.CAdES.detached", b"adbe.pkcs7.detached"];

/// The verdict on one signature of a PDF.
#[derive(Debug, Clone)]
pub struct PdfSignatureReport {
    /// The field's full name, as the PDF spells it (to be shown escaped).
    pub field: String,
    /// `/M`, the signing time the signer claims (to be shown escaped).
    pub claimed_time: Option<String>,
    /// `/SubFilter`.
    pub sub_filter: Option<String>,
    /// `/ByteRange`, when well-formed.
    pub byte_range: Option<[u64; 4]>,
    /// The CMS signature (DER, without the zeros that pad `/Contents`), for the revocation
    /// check.
    pub cms: Vec<u8>,
    /// The checks of the CMS signature, with [`check::BYTE_RANGE`] first and
    /// [`check::CHANGED_AFTER_SIGNING`] last.
    pub report: SignatureReport,
    /// The revocation data of the PDF's document security store (PAdES-B-LT), for the
    /// revocation check: the same for every signature of the PDF.
    pub dss: super::dss::Material,
}

/// Verifies every signature in the PDF at `path` against `root` (see
/// [`verify_timestamped_signature`] for `tsa_anchors` and `now`). An empty list: the PDF has
/// no signature.
pub fn verify_pdf(
    path: &Path,
    root: &Certificate,
    tsa_anchors: &[Certificate],
    now: SystemTime,
) -> Result<Vec<PdfSignatureReport>, PdfError> {
    let bytes = read_pdf(path)?;
    let full = load_repaired(&bytes)?;
    let repaired = broken_xref(&full);
    // A file whose structure had to be repaired is read up to its last intact revision:
    // what an attacker appended does not get to say which signatures there are.
    let doc = match repaired {
        Some(_) => last_intact_revision(&bytes).unwrap_or(full),
        None => full,
    };
    let dss = super::dss::read(&doc);
    let reports: Vec<PdfSignatureReport> = signature_fields(&doc)
        .into_iter()
        .filter_map(|field| {
            let value = field.value?;
            Some(verify_one(
                &bytes,
                &doc,
                String::from_utf8_lossy(&field.name).into_owned(),
                &value,
                root,
                tsa_anchors,
                now,
            ))
        })
        .map(|report| PdfSignatureReport {
            dss: dss.clone(),
            ..report
        })
        .collect();
    // A damaged PDF without signatures is reported as damaged; with signatures, each
    // signature's verdict says whether what follows it reads as an update.
    match repaired {
        Some(e) if reports.is_empty() => Err(e),
        _ => Ok(reports),
    }
}

/// The document made of the longest prefix of `bytes` that ends with `%%EOF` and reads
/// without repair.
fn last_intact_revision(bytes: &[u8]) -> Option<Document> {
    let ends: Vec<usize> = bytes
        .windows(5)
        .enumerate()
        .filter(|(_, w)| *w == b"%%EOF")
        .map(|(i, _)| i + 5)
        .collect();
    ends.into_iter()
        .rev()
        .find_map(|end| load(&bytes[..end]).ok())
}

fn text(object: Option<&Object>) -> Option<String> {
    match object? {
        Object::String(s, _) | Object::Name(s) => Some(String::from_utf8_lossy(s).into_owned()),
        _ => None,
    }
}

fn verify_one(
    bytes: &[u8],
    doc: &Document,
    field: String,
    value: &Object,
    root: &Certificate,
    tsa_anchors: &[Certificate],
    now: SystemTime,
) -> PdfSignatureReport {
    let empty = Dictionary::new();
    let signature = resolve_dict(doc, value);
    let dict = signature.unwrap_or(&empty);
    let sub_filter = dict.get(b"SubFilter").ok().and_then(|o| o.as_name().ok());
    let contents: &[u8] = match dict.get(b"Contents") {
        Ok(Object::String(c, _)) => c,
        _ => &[],
    };
    let cms = der_prefix(contents).unwrap_or(contents).to_vec();
    let range = if signature.is_none() {
        Err("the field's value is not a signature dictionary".to_string())
    } else {
        check_byte_range(bytes, dict, contents)
    };
    let digest = range.as_ref().ok().map(|(r, _)| {
        let [a, b, c, d] = r.map(|n| n as usize);
        let mut hasher = Sha256::new();
        hasher.update(&bytes[a..a + b]);
        hasher.update(&bytes[c..c + d]);
        <[u8; 32]>::from(hasher.finalize())
    });
    let mut report =
        verify_timestamped_signature(&cms, &digest.unwrap_or([0; 32]), root, tsa_anchors, now);
    let checks = &mut report.verdict.checks;
    if digest.is_none() {
        for c in checks.iter_mut() {
            if c.name == cms_check::MESSAGE_DIGEST {
                *c = Check::fail(
                    cms_check::MESSAGE_DIGEST,
                    "not checked: the byte range is unusable",
                );
            }
        }
    }
    if !sub_filter.is_some_and(|s| CMS_SUB_FILTERS.contains(&s)) {
        let shown = sub_filter.map_or_else(
            || "none".to_string(),
            |s| format!("/{}", String::from_utf8_lossy(s)),
        );
        checks.insert(
            0,
            Check::fail(
                cms_check::FORMAT,
                format!(
                    "the signature's /SubFilter is {shown}, not /ETSI.CAdES.detached or \
                     /adbe.pkcs7.detached: not a CMS signature melli verifies"
                ),
            ),
        );
    }
    checks.insert(
        0,
        match &range {
            Ok((r, revision_end)) => Check::pass(
                check::BYTE_RANGE,
                format!(
                    "[{} {} {} {}]: the file's first {} bytes (a whole revision) but the \
                     signature itself",
                    r[0], r[1], r[2], r[3], revision_end
                ),
            ),
            Err(e) => Check::fail(check::BYTE_RANGE, e.clone()),
        },
    );
    checks.push(match &range {
        Ok((_, revision_end)) => changes_after(bytes, *revision_end, doc),
        Err(_) => Check::fail(
            check::CHANGED_AFTER_SIGNING,
            "not known: the byte range is unusable",
        ),
    });
    PdfSignatureReport {
        field,
        claimed_time: text(dict.get(b"M").ok()),
        sub_filter: sub_filter.map(|s| String::from_utf8_lossy(s).into_owned()),
        byte_range: range.ok().map(|(r, _)| r),
        cms,
        report,
        dss: super::dss::Material::default(),
    }
}

/// The DER element at the start of `bytes` (`/Contents` is padded with zeros after it).
fn der_prefix(bytes: &[u8]) -> Option<&[u8]> {
    use der::{Decode, Encode};
    let mut reader = der::SliceReader::new(bytes).ok()?;
    let header = der::Header::decode(&mut reader).ok()?;
    let total = (header.encoded_len().ok()? + header.length).ok()?;
    let total = usize::try_from(total).ok()?;
    let (element, padding) = (bytes.get(..total)?, &bytes[total..]);
    // Anything but zeros after it is left for the CMS parser to refuse.
    padding.iter().all(|&b| b == 0).then_some(element)
}

/// Checks `/ByteRange`: four non-negative integers `[0 a b c]`, the hole `a..b` exactly the
/// hex string that is this dictionary's `/Contents`, `b + c` within the file and the end of
/// a revision (`%%EOF`, maybe an end-of-line). The range and that end, or why not.
fn check_byte_range(
    bytes: &[u8],
    dict: &Dictionary,
    contents: &[u8],
) -> Result<([u64; 4], usize), String> {
    let numbers: Vec<u64> = match dict.get(b"ByteRange") {
        Ok(Object::Array(items)) => items
            .iter()
            .map(|n| match n {
                Object::Integer(n) => u64::try_from(*n).ok(),
                _ => None,
            })
            .collect::<Option<Vec<u64>>>()
            .ok_or("/ByteRange holds something else than non-negative integers")?,
        Ok(_) => return Err("/ByteRange is not an array".into()),
        Err(_) => return Err("the signature has no /ByteRange".into()),
    };
    let [start, len1, start2, len2] = <[u64; 4]>::try_from(numbers.as_slice())
        .map_err(|_| format!("/ByteRange has {} numbers, not 4", numbers.len()))?;
    if start != 0 {
        return Err(format!(
            "/ByteRange starts at {start}, not 0: the beginning of the file is not signed"
        ));
    }
    let size = bytes.len() as u64;
    let end = start2
        .checked_add(len2)
        .filter(|&e| e <= size)
        .ok_or("/ByteRange reaches past the end of the file")?;
    if len1 == 0 || start2 < len1 + 2 || start2 - len1 > HOLE_MAX {
        return Err("/ByteRange leaves no hole, overlapping ranges or a hole too large".into());
    }
    let (a, b) = (len1 as usize, start2 as usize);
    let hole = &bytes[a..b];
    let digits = &hole[1..hole.len() - 1];
    if hole[0] != b'<'
        || hole[hole.len() - 1] != b'>'
        || !digits.len().is_multiple_of(2)
        || !digits.iter().all(u8::is_ascii_hexdigit)
    {
        return Err(format!(
            "the hole in /ByteRange ({a}..{b}) is not a hex string: more than the signature \
             is left unsigned"
        ));
    }
    if hex::decode(digits).ok().as_deref() != Some(contents) {
        return Err(format!(
            "the hole in /ByteRange ({a}..{b}) is not this signature's /Contents"
        ));
    }
    let end = end as usize;
    let signed = &bytes[..end];
    let trimmed = signed
        .strip_suffix(b"\r\n")
        .or_else(|| signed.strip_suffix(b"\n"))
        .or_else(|| signed.strip_suffix(b"\r"))
        .unwrap_or(signed);
    if !trimmed.ends_with(b"%%EOF") {
        return Err(format!(
            "/ByteRange ends at byte {end}, not at the end of a revision (%%EOF)"
        ));
    }
    Ok(([start, len1, start2, len2], end))
}

/// The check [`check::CHANGED_AFTER_SIGNING`] of a signature whose revision ends at
/// `revision_end`, against the whole file (`doc`).
fn changes_after(bytes: &[u8], revision_end: usize, doc: &Document) -> Check {
    let later = &bytes[revision_end..];
    if later.iter().all(u8::is_ascii_whitespace) {
        return Check::pass(
            check::CHANGED_AFTER_SIGNING,
            "no: the signature covers the whole file",
        );
    }
    let changed = |detail: String| Check::fail(check::CHANGED_AFTER_SIGNING, detail);
    let last_end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    if !bytes[..last_end].ends_with(b"%%EOF")
        || doc.xref_start < revision_end
        || broken_xref(doc).is_some()
    {
        return changed(format!(
            "changed after signing: {} bytes follow the signed revision that are not a \
             PDF update",
            later.len()
        ));
    }
    let signed = match load(&bytes[..revision_end]) {
        Ok(signed) => signed,
        Err(e) => {
            return changed(format!(
                "changed after signing: the signed revision does not read alone ({e})"
            ))
        }
    };
    let (problems, signatures) = compare(&signed, doc);
    if problems.is_empty() {
        Check::pass(
            check::CHANGED_AFTER_SIGNING,
            format!(
                "no: the later revisions add {signatures} signature(s) or validation data, \
                 nothing else"
            ),
        )
    } else {
        let shown: Vec<&str> = problems.iter().take(5).map(String::as_str).collect();
        let more = problems.len().saturating_sub(shown.len());
        changed(format!(
            "changed after signing: {}{}",
            shown.join("; "),
            if more > 0 {
                format!(" (and {more} more)")
            } else {
                String::new()
            }
        ))
    }
}

/// What the later revisions (`new`) changed in the signed document (`old`) beyond adding
/// signatures, and how many signature dictionaries they added.
fn compare(old: &Document, new: &Document) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    for key in [&b"Root"[..], b"Info", b"Encrypt"] {
        if old.trailer.get(key).ok() != new.trailer.get(key).ok() {
            problems.push(format!(
                "the trailer's /{} was replaced",
                String::from_utf8_lossy(key)
            ));
        }
    }
    let context = Context::of(old, new);
    for (id, was) in &old.objects {
        match new.objects.get(id) {
            None => problems.push(format!("{} was removed", describe(*id, was))),
            Some(now) if now == was => {}
            Some(now) => {
                if !context.allowed(*id, was, now) {
                    problems.push(format!("{} changed", describe(*id, was)));
                }
            }
        }
    }
    let signatures = new
        .objects
        .iter()
        .filter(|(id, o)| {
            !old.objects.contains_key(id)
                && o.as_dict()
                    .is_ok_and(|d| d.has_type(b"Sig") || d.has_type(b"DocTimeStamp"))
        })
        .count();
    (problems, signatures)
}

fn describe(id: ObjectId, object: &Object) -> String {
    let kind = match object {
        Object::Dictionary(d) => type_name(d),
        Object::Stream(s) => type_name(&s.dict).or(Some("a stream".into())),
        Object::Array(_) => Some("an array".into()),
        _ => None,
    };
    match kind {
        Some(kind) => format!("object {} {} ({kind})", id.0, id.1),
        None => format!("object {} {}", id.0, id.1),
    }
}

fn type_name(d: &Dictionary) -> Option<String> {
    d.get(b"Type")
        .ok()
        .and_then(|t| t.as_name().ok())
        .map(|t| format!("/{}", String::from_utf8_lossy(t)))
}

/// What the later revisions may change: the catalog (its form and DSS), the form, pages
/// (their annotations), the arrays of fields and annotations, empty signature fields, and
/// validation data.
struct Context<'a> {
    old: &'a Document,
    new: &'a Document,
    root: Option<ObjectId>,
    form: Option<ObjectId>,
    lists: HashSet<ObjectId>,
    validation_data: HashSet<ObjectId>,
}

impl<'a> Context<'a> {
    fn of(old: &'a Document, new: &'a Document) -> Self {
        let root = old.trailer.get(b"Root").and_then(Object::as_reference).ok();
        let form = old
            .catalog()
            .ok()
            .and_then(|c| c.get(b"AcroForm").ok())
            .and_then(|f| f.as_reference().ok());
        // Arrays that list fields or annotations, in either version.
        let mut lists = HashSet::new();
        for doc in [old, new] {
            if let Some(Ok(id)) = super::form(doc)
                .and_then(|f| f.get(b"Fields").ok())
                .map(Object::as_reference)
            {
                lists.insert(id);
            }
            for page in doc.page_iter() {
                if let Some(Ok(id)) = doc
                    .get_dictionary(page)
                    .ok()
                    .and_then(|p| p.get(b"Annots").ok())
                    .map(Object::as_reference)
                {
                    lists.insert(id);
                }
            }
        }
        // Validation data when the signature was made: what a later revision may extend.
        // (A DSS added later is made of new objects; one that only a later revision points
        // at an object of the signed revision does not make that object extendable.)
        let mut validation_data = HashSet::new();
        if let Some(dss) = old.catalog().ok().and_then(|c| c.get(b"DSS").ok()) {
            reachable(old, dss, 0, &mut validation_data);
        }
        Context {
            old,
            new,
            root,
            form,
            lists,
            validation_data,
        }
    }

    fn allowed(&self, id: ObjectId, was: &Object, now: &Object) -> bool {
        if self.validation_data.contains(&id) {
            return true;
        }
        if self.lists.contains(&id) {
            return match (was, now) {
                (Object::Array(was), Object::Array(now)) => self.only_signatures_added(was, now),
                _ => false,
            };
        }
        let (Object::Dictionary(was), Object::Dictionary(now)) = (was, now) else {
            return false;
        };
        if Some(id) == self.root {
            return same_but(was, now, &[b"AcroForm", b"DSS"])
                && self.form_changes_allowed(was.get(b"AcroForm").ok(), now.get(b"AcroForm").ok());
        }
        if Some(id) == self.form {
            return self.form_allowed(Some(was), Some(now));
        }
        if was.has_type(b"Page") {
            return same_but(was, now, &[b"Annots"])
                && self.list_allowed(was.get(b"Annots").ok(), now.get(b"Annots").ok());
        }
        // An empty signature field that a later signer signed.
        was.get(b"FT").ok().and_then(|t| t.as_name().ok()) == Some(b"Sig")
            && !was.has(b"V")
            && same_but(was, now, &[b"V", b"AP"])
    }

    /// The catalog's `/AcroForm` entry, before and after.
    fn form_changes_allowed(&self, was: Option<&Object>, now: Option<&Object>) -> bool {
        if was == now {
            return true;
        }
        let was = was.and_then(|f| resolve_dict(self.old, f));
        let now = now.and_then(|f| resolve_dict(self.new, f));
        self.form_allowed(was, now)
    }

    fn form_allowed(&self, was: Option<&Dictionary>, now: Option<&Dictionary>) -> bool {
        let empty = Dictionary::new();
        let (was_form, now_form) = (was.unwrap_or(&empty), now.unwrap_or(&empty));
        same_but(was_form, now_form, &[b"Fields", b"SigFlags"])
            && self.list_allowed(was_form.get(b"Fields").ok(), now_form.get(b"Fields").ok())
    }

    /// A list of fields or annotations (inline or an array object), before (in the signed
    /// revision) and after.
    fn list_allowed(&self, was: Option<&Object>, now: Option<&Object>) -> bool {
        match (as_list(self.old, was), as_list(self.new, now)) {
            (Some(was), Some(now)) => self.only_signatures_added(was, now),
            _ => false,
        }
    }

    /// Every element of `was` is still in `now`, and what `now` adds are signature fields.
    fn only_signatures_added(&self, was: &[Object], now: &[Object]) -> bool {
        was.iter().all(|o| now.contains(o))
            && now
                .iter()
                .filter(|o| !was.contains(o))
                .all(|o| self.is_signature_field(o))
    }

    fn is_signature_field(&self, object: &Object) -> bool {
        let Object::Reference(id) = object else {
            return false;
        };
        let Ok(dict) = self.new.get_dictionary(*id) else {
            return false;
        };
        let is_sig =
            |d: &Dictionary| d.get(b"FT").ok().and_then(|t| t.as_name().ok()) == Some(b"Sig");
        is_sig(dict)
            || dict
                .get(b"Parent")
                .ok()
                .and_then(|p| resolve_dict(self.new, p))
                .is_some_and(is_sig)
    }
}

/// A list entry (inline or an array object) as a slice; none is an empty list.
fn as_list<'d>(doc: &'d Document, entry: Option<&'d Object>) -> Option<&'d [Object]> {
    match entry {
        None => Some(&[]),
        Some(o) => resolve(doc, o)
            .and_then(|o| o.as_array().ok())
            .map(Vec::as_slice),
    }
}

/// Whether `a` and `b` have the same entries but for `except`.
fn same_but(a: &Dictionary, b: &Dictionary, except: &[&[u8]]) -> bool {
    let keys: HashSet<&[u8]> = a
        .iter()
        .chain(b.iter())
        .map(|(k, _)| k.as_slice())
        .filter(|k| !except.contains(k))
        .collect();
    keys.into_iter().all(|k| a.get(k).ok() == b.get(k).ok())
}

/// The dictionaries and arrays of validation data that `object` (the catalog's `/DSS`)
/// refers to, directly or not, up to [`MAX_DEPTH`] levels: a later revision may extend them.
/// Streams (certificates, OCSP responses, CRLs) are not among them: new ones are new
/// objects, and a changed one is a change; nor is anything with a `/Type` of its own.
fn reachable(doc: &Document, object: &Object, depth: usize, found: &mut HashSet<ObjectId>) {
    if depth > MAX_DEPTH {
        return;
    }
    match object {
        Object::Reference(id) => {
            let Ok(target) = doc.get_object(*id) else {
                return;
            };
            let extendable = match target {
                Object::Array(_) => true,
                Object::Dictionary(d) => match type_name(d).as_deref() {
                    None | Some("/DSS") | Some("/VRI") => true,
                    Some(_) => false,
                },
                _ => false,
            };
            if extendable && found.insert(*id) {
                reachable(doc, target, depth + 1, found);
            }
        }
        Object::Array(items) => items
            .iter()
            .for_each(|o| reachable(doc, o, depth + 1, found)),
        Object::Dictionary(d) => d
            .iter()
            .for_each(|(_, o)| reachable(doc, o, depth + 1, found)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::dictionary;

    /// A one-page document whose page has a resources dictionary of its own (no /Type).
    fn one_page() -> (Document, ObjectId, ObjectId) {
        let mut doc = Document::with_version("1.7");
        let pages_id = doc.new_object_id();
        let resources_id =
            doc.add_object(dictionary! { "ProcSet" => vec![Object::Name(b"PDF".to_vec())] });
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), 100.into(), 100.into()],
            "Resources" => resources_id,
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages",
                "Kids" => vec![page_id.into()],
                "Count" => 1,
            }),
        );
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog_id);
        (doc, catalog_id, resources_id)
    }

    #[test]
    fn a_dss_added_later_extends_nothing_of_the_signed_revision() {
        let (old, catalog_id, resources_id) = one_page();
        let mut new = old.clone();
        // A later "DSS" that points at the page's resources, which it then changes.
        let dss_id =
            new.add_object(dictionary! { "Certs" => vec![Object::Reference(resources_id)] });
        let mut catalog = old.get_dictionary(catalog_id).cloned().unwrap_or_default();
        catalog.set("DSS", dss_id);
        new.objects.insert(catalog_id, Object::Dictionary(catalog));
        new.objects.insert(
            resources_id,
            Object::Dictionary(dictionary! { "ProcSet" => vec![Object::Name(b"Text".to_vec())] }),
        );
        let (problems, _) = compare(&old, &new);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("changed"), "{problems:?}");

        // A DSS of its own, new objects only: allowed.
        let mut new = old.clone();
        let ocsp = new.add_object(Object::Stream(lopdf::Stream::new(
            Dictionary::new(),
            vec![1, 2],
        )));
        let dss_id = new.add_object(dictionary! { "Type" => "DSS", "OCSPs" => vec![ocsp.into()] });
        let mut catalog = old.get_dictionary(catalog_id).cloned().unwrap_or_default();
        catalog.set("DSS", dss_id);
        new.objects.insert(catalog_id, Object::Dictionary(catalog));
        let (problems, _) = compare(&old, &new);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn a_dss_of_the_signed_revision_may_be_extended() {
        let (mut old, catalog_id, _) = one_page();
        let list = old.add_object(Object::Array(Vec::new()));
        let dss_id = old.add_object(dictionary! { "Type" => "DSS", "OCSPs" => list });
        let mut catalog = old.get_dictionary(catalog_id).cloned().unwrap_or_default();
        catalog.set("DSS", dss_id);
        old.objects.insert(catalog_id, Object::Dictionary(catalog));
        let mut new = old.clone();
        let ocsp = new.add_object(Object::Stream(lopdf::Stream::new(
            Dictionary::new(),
            vec![1],
        )));
        new.objects.insert(list, Object::Array(vec![ocsp.into()]));
        let (problems, _) = compare(&old, &new);
        assert!(problems.is_empty(), "{problems:?}");
    }
}

//! PAdES-B-LT (ETSI EN 319 142-1 §5.4): the validation data of a PDF signature in a document
//! security store, the catalog's `/DSS`, written as a second incremental update after the
//! signature's own, and read back by the verifier as revocation evidence that needs no
//! network.
//!
//! [`gather`] collects what `melli sign --ocsp-embed` puts there: the certificates the
//! signature and its timestamp token carry, the signer certificate's good OCSP answer (asked
//! and checked as for a detached signature, `ops::ocsp_embed`), and, when the signing CA's
//! CRL distribution point answers, the CRL that gives the signing CA's status. [`append`]
//! writes them as streams in `/Certs`, `/OCSPs` and `/CRLs` (kept with those of an earlier
//! DSS) and lists them in the `/VRI` entry of the signature, keyed by the uppercase hex SHA-1
//! of its `/Contents`. [`read`] gives a verifier the OCSP answers and CRLs of a PDF's DSS;
//! nothing read there is trusted for being there: each answer is checked as one from the
//! network would be.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{Duration, SystemTime};

use der::Encode;
use lopdf::{Dictionary, Document, IncrementalDocument, Object, ObjectId, Stream, StringFormat};
use sha1::{Digest, Sha1};

use super::sign::{pdf_date, PreparedPdf};
use super::{load, own_content, resolve, resolve_dict, PdfError};
use crate::display::escaped_cut;
use crate::net::{self, Limits};
use crate::ops::ocsp_embed::{signer_ocsp_answer, OcspEmbedError};
use crate::pki::revocation::{crl_url, parse_crl, CrlInput, CRL_TYPE, MAX_CRL};
use crate::pki::timestamp::signature_timestamp_tokens;
use crate::pki::{asn1, SignedDataView};

/// Where a verdict says the DSS's answers were found.
pub const PLACE: &str = "the PDF's DSS";

/// The most entries of one DSS array that are read or kept: a hostile file does not get to
/// make the verifier check a million answers.
const MAX_ENTRIES: usize = 256;

/// The largest DSS stream decoded (a CRL of many revoked cards).
const MAX_DECODED: usize = MAX_CRL as usize;

/// What the DSS of a newly signed PDF gets (each DER).
#[derive(Debug, Clone, Default)]
pub struct ValidationData {
    /// The signer's and the signing CA's certificates, and the TSA's.
    pub certificates: Vec<Vec<u8>>,
    /// The signer certificate's good OCSP answer.
    pub ocsps: Vec<Vec<u8>>,
    /// The CRL that gives the signing CA's status, when its distribution point answered.
    pub crls: Vec<Vec<u8>>,
    /// What was not added and why, one line each (shown after signing).
    pub notes: Vec<String>,
}

/// Why no validation data was gathered: nothing is written.
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    /// No good OCSP answer for the signer's certificate.
    #[error(transparent)]
    Signer(#[from] OcspEmbedError),
    /// The signing CA's CRL says the signing CA's certificate is revoked.
    #[error("the CRL at {url} says the signing CA's certificate is revoked since {date}")]
    CaRevoked { url: String, date: String },
}

/// The validation data of the PDF signature `cms` (DER, with its timestamp token if any),
/// gathered at `now`. `Err` when the signer's certificate has no good OCSP answer, or the
/// signing CA's CRL says it is revoked.
pub fn gather(cms: &[u8], now: SystemTime) -> Result<ValidationData, GatherError> {
    let ocsp = signer_ocsp_answer(cms, now)?;
    let view = SignedDataView::parse(cms).map_err(OcspEmbedError::Signature)?;
    let mut data = ValidationData {
        ocsps: vec![ocsp],
        ..ValidationData::default()
    };
    let mut add = |c: &x509_cert::Certificate| {
        if let Ok(der) = c.to_der() {
            if !data.certificates.contains(&der) {
                data.certificates.push(der);
            }
        }
    };
    view.certificates().iter().for_each(&mut add);
    for token in signature_timestamp_tokens(&view) {
        if let Ok(token) = SignedDataView::parse(&token) {
            token.certificates().iter().for_each(&mut add);
        }
    }
    // The signing CA's status: its CRL distribution point (the root's CRL). Best effort: a
    // verifier without it asks elsewhere.
    let signer = view
        .signer_certificate()
        .map_err(OcspEmbedError::Signature)?;
    let ca = view
        .certificates()
        .iter()
        .find(|c| c.tbs_certificate.subject == signer.tbs_certificate.issuer && *c != signer)
        .ok_or(OcspEmbedError::NoIssuer)?;
    match ca_crl(ca, now) {
        Ok(Some(crl)) => data.crls.push(crl),
        Ok(None) => {}
        Err(CaCrl::Revoked(e)) => return Err(e),
        Err(CaCrl::Note(note)) => data.notes.push(note),
    }
    Ok(data)
}

enum CaCrl {
    Revoked(GatherError),
    Note(String),
}

/// The CRL (DER) at the signing CA's CRL distribution point, when it is one of the CA's
/// issuer, well-formed and fresh and does not list the CA. Its signature is checked by the
/// verifier, who has the root (`melli sign` is not given it).
fn ca_crl(ca: &x509_cert::Certificate, now: SystemTime) -> Result<Option<Vec<u8>>, CaCrl> {
    let note =
        |why: String| CaCrl::Note(format!("the signing CA's status is not in the DSS: {why}"));
    let url = match crl_url(ca) {
        Ok(Some(url)) => url,
        Ok(None) => {
            return Err(note(
                "its certificate names no CRL distribution point".into(),
            ))
        }
        Err(e) => return Err(note(e)),
    };
    let shown = escaped_cut(&url, 200);
    let bytes = net::get(&url, CRL_TYPE, Limits::new(MAX_CRL))
        .map_err(|e| note(format!("CRL distribution point {e}")))?;
    let crl = parse_crl(&bytes).map_err(|e| note(format!("the CRL at {shown}: {e}")))?;
    let tbs = &crl.tbs_cert_list;
    if tbs.issuer != ca.tbs_certificate.issuer {
        return Err(note(format!(
            "the CRL at {shown} is not one of the signing CA's issuer"
        )));
    }
    let now_unix = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let fresh = tbs.this_update.to_unix_duration() <= now_unix + Duration::from_secs(300)
        && tbs
            .next_update
            .is_some_and(|next| next.to_unix_duration() >= now_unix);
    if !fresh {
        return Err(note(format!("the CRL at {shown} is not fresh")));
    }
    if let Some(entry) = tbs
        .revoked_certificates
        .iter()
        .flatten()
        .find(|r| r.serial_number == ca.tbs_certificate.serial_number)
    {
        return Err(CaCrl::Revoked(GatherError::CaRevoked {
            url: shown,
            date: asn1::date_time_string(&entry.revocation_date.to_date_time()),
        }));
    }
    crl.to_der()
        .map(Some)
        .map_err(|e| note(format!("the CRL at {shown} does not encode ({e})")))
}

/// The `/VRI` key of a signature whose `/Contents` string holds `contents` (the CMS and the
/// zeros after it): its SHA-1 in uppercase hex (ETSI EN 319 142-1 §5.4.2.2).
pub fn vri_key(contents: &[u8]) -> String {
    hex::encode_upper(Sha1::digest(contents))
}

/// Appends to the prepared, filled PDF (its signature `cms` in its `/Contents`) a second
/// incremental update that adds `data` to the catalog's `/DSS` (an earlier DSS's entries
/// kept) with a `/VRI` entry for this signature, stamped `time`.
pub fn append(
    prepared: &mut PreparedPdf,
    cms: &[u8],
    data: &ValidationData,
    time: SystemTime,
) -> Result<(), PdfError> {
    let mut contents = cms.to_vec();
    contents.resize(prepared.room().max(cms.len()), 0);
    let key = vri_key(&contents);
    let file = prepared.file_mut();
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(PdfError::Write)?;
    let doc = load(&bytes)?;
    let signed_len = bytes.len() as u64;
    let mut update = IncrementalDocument::create_from(bytes, doc);
    add_dss(&mut update, data, &key, time)?;
    file.seek(SeekFrom::End(0)).map_err(PdfError::Write)?;
    let mut writer = SkipWriter {
        inner: std::io::BufWriter::new(&mut *file),
        skip: signed_len,
        seen: 0,
    };
    update.save_to(&mut writer).map_err(PdfError::Write)?;
    writer.write_all(b"\n").map_err(PdfError::Write)?;
    writer.flush().map_err(PdfError::Write)
}

/// A writer that drops the first `skip` bytes (the file as it is, which lopdf writes again)
/// and passes on the rest.
struct SkipWriter<W: Write> {
    inner: W,
    skip: u64,
    seen: u64,
}

impl<W: Write> Write for SkipWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let start = self.seen;
        let dropped = self.skip.saturating_sub(start).min(buf.len() as u64) as usize;
        if dropped < buf.len() {
            self.inner.write_all(&buf[dropped..])?;
        }
        self.seen = start + buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The references of the list `entry` of `dss` (an array, or an array object), at most
/// [`MAX_ENTRIES`]; anything else in it is dropped.
fn old_list(doc: &Document, dss: &Dictionary, entry: &[u8]) -> Vec<ObjectId> {
    dss.get(entry)
        .ok()
        .and_then(|o| resolve(doc, o))
        .and_then(|o| o.as_array().ok())
        .map(|items| {
            items
                .iter()
                .filter_map(|o| o.as_reference().ok())
                .take(MAX_ENTRIES)
                .collect()
        })
        .unwrap_or_default()
}

/// The stream `id` of `doc` holds exactly `der` (unfiltered).
fn holds(doc: &Document, id: ObjectId, der: &[u8]) -> bool {
    doc.get_object(id)
        .ok()
        .and_then(|o| o.as_stream().ok())
        .filter(|s| !s.dict.has(b"Filter"))
        .and_then(own_content)
        .is_some_and(|c| c == der)
}

fn add_dss(
    update: &mut IncrementalDocument,
    data: &ValidationData,
    key: &str,
    time: SystemTime,
) -> Result<(), PdfError> {
    let prev = update.get_prev_documents();
    let root_id = prev
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| PdfError::Incomplete("a document catalog (/Root)".into()))?;
    let mut catalog = prev
        .get_dictionary(root_id)
        .map_err(|_| PdfError::Incomplete("a document catalog (/Root)".into()))?
        .clone();
    let old_dss = catalog
        .get(b"DSS")
        .ok()
        .and_then(|o| resolve_dict(prev, o))
        .cloned()
        .unwrap_or_default();
    let mut trailer = Dictionary::new();
    for k in [&b"Root"[..], b"Info", b"ID"] {
        if let Ok(value) = prev.trailer.get(k) {
            trailer.set(k, value.clone());
        }
    }
    trailer.set("Prev", Object::Integer(prev.xref_start as i64));

    // Each list: the earlier DSS's entries, then ours not already there.
    let mut lists = Vec::new();
    for (entry, new) in [
        (&b"Certs"[..], &data.certificates),
        (&b"OCSPs"[..], &data.ocsps),
        (&b"CRLs"[..], &data.crls),
    ] {
        let old = old_list(prev, &old_dss, entry);
        let mut ours = Vec::new();
        let mut fresh = Vec::new();
        for der in new {
            match old.iter().find(|id| holds(prev, **id, der)) {
                Some(id) => ours.push(*id),
                None => fresh.push(der.clone()),
            }
        }
        lists.push((entry, old, ours, fresh));
    }
    let old_vri = old_dss
        .get(b"VRI")
        .ok()
        .and_then(|o| resolve_dict(prev, o))
        .cloned()
        .unwrap_or_default();
    update.new_document.trailer = trailer;

    let doc = &mut update.new_document;
    let mut dss = old_dss;
    dss.set("Type", Object::Name(b"DSS".to_vec()));
    let mut vri_entry = Dictionary::new();
    for (entry, old, mut ours, fresh) in lists {
        for der in fresh {
            let id = doc.add_object(Object::Stream(Stream::new(Dictionary::new(), der)));
            ours.push(id);
        }
        let mut all = old;
        for id in &ours {
            if !all.contains(id) {
                all.push(*id);
            }
        }
        if all.is_empty() {
            continue;
        }
        dss.set(
            entry,
            Object::Array(all.into_iter().map(Object::Reference).collect()),
        );
        let vri_name: &[u8] = match entry {
            b"Certs" => b"Cert",
            b"OCSPs" => b"OCSP",
            _ => b"CRL",
        };
        if !ours.is_empty() {
            vri_entry.set(
                vri_name,
                Object::Array(ours.into_iter().map(Object::Reference).collect()),
            );
        }
    }
    vri_entry.set(
        "TU",
        Object::String(pdf_date(time).into_bytes(), StringFormat::Literal),
    );
    let mut vri = old_vri;
    vri.set(key.as_bytes(), Object::Dictionary(vri_entry));
    dss.set("VRI", Object::Dictionary(vri));
    let dss_id = doc.add_object(Object::Dictionary(dss));
    catalog.set("DSS", Object::Reference(dss_id));
    doc.set_object(root_id, Object::Dictionary(catalog));
    Ok(())
}

/// The revocation data of a PDF's DSS, for a verifier.
#[derive(Debug, Clone, Default)]
pub struct Material {
    /// The OCSP answers (DER) of `/OCSPs`.
    pub ocsps: Vec<Vec<u8>>,
    /// The CRLs of `/CRLs` that parse, each labelled by its object.
    pub crls: Vec<CrlInput>,
    /// Entries that could not be read, one line each.
    pub unreadable: Vec<String>,
}

impl Material {
    /// Whether the DSS gives any revocation data.
    pub fn any(&self) -> bool {
        !self.ocsps.is_empty() || !self.crls.is_empty()
    }
}

/// The OCSP answers and CRLs in the DSS of `doc` (none without one), at most
/// [`MAX_ENTRIES`] of each.
pub fn read(doc: &Document) -> Material {
    let mut material = Material::default();
    let Some(dss) = doc
        .catalog()
        .ok()
        .and_then(|c| c.get(b"DSS").ok())
        .and_then(|o| resolve_dict(doc, o))
    else {
        return material;
    };
    for id in old_list(doc, dss, b"OCSPs") {
        match stream_bytes(doc, id) {
            Ok(der) => material.ocsps.push(der),
            Err(why) => material.unreadable.push(why),
        }
    }
    for id in old_list(doc, dss, b"CRLs") {
        let label = format!("object {} {} of the PDF's DSS", id.0, id.1);
        match stream_bytes(doc, id)
            .and_then(|der| parse_crl(&der).map_err(|e| format!("{label}: {e}")))
        {
            Ok(crl) => material.crls.push(CrlInput { label, crl }),
            Err(why) => material.unreadable.push(why),
        }
    }
    material
}

/// The decoded content of the stream `id`.
fn stream_bytes(doc: &Document, id: ObjectId) -> Result<Vec<u8>, String> {
    let label = format!("object {} {} of the PDF's DSS", id.0, id.1);
    let stream = doc
        .get_object(id)
        .ok()
        .and_then(|o| o.as_stream().ok())
        .ok_or_else(|| format!("{label} is not a stream"))?;
    let raw = own_content(stream).ok_or_else(|| format!("{label} is too large to be read"))?;
    if !stream.dict.has(b"Filter") {
        return Ok(raw.to_vec());
    }
    let mut copy = stream.clone();
    copy.set_content(raw.to_vec());
    copy.decompressed_content_with_limit(MAX_DECODED)
        .map_err(|e| format!("{label} does not decode ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vri_key_is_the_uppercase_sha1_of_the_contents() {
        // SHA-1("abc"), FIPS 180-2 appendix A.
        assert_eq!(vri_key(b"abc"), "A9993E364706816ABA3E25717850C26C9CD0D89D");
    }

    #[test]
    fn the_skip_writer_passes_on_only_what_follows_the_prefix() {
        let mut out = Vec::new();
        let mut w = SkipWriter {
            inner: &mut out,
            skip: 5,
            seen: 0,
        };
        w.write_all(b"abc").unwrap_or_default();
        w.write_all(b"defgh").unwrap_or_default();
        assert_eq!(out, b"fgh");
    }
}

#[cfg(test)]
mod pdf_tests {
    use super::*;
    use lopdf::dictionary;

    /// A one-page PDF made by lopdf.
    fn pdf() -> Vec<u8> {
        let mut doc = Document::with_version("1.7");
        let pages_id = doc.new_object_id();
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), 100.into(), 100.into()],
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
        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).unwrap_or_default();
        bytes
    }

    /// `bytes` with an update adding `data` under the VRI key `key`.
    fn with_dss(bytes: Vec<u8>, data: &ValidationData, key: &str) -> Vec<u8> {
        let doc = load(&bytes).unwrap_or_else(|e| panic!("{e}"));
        let mut update = IncrementalDocument::create_from(bytes, doc);
        add_dss(&mut update, data, key, SystemTime::now()).unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        update.save_to(&mut out).unwrap_or_else(|e| panic!("{e}"));
        out
    }

    #[test]
    fn a_dss_is_written_read_back_and_extended() {
        let first = ValidationData {
            certificates: vec![b"cert A".to_vec(), b"cert B".to_vec()],
            ocsps: vec![b"answer 1".to_vec()],
            ..ValidationData::default()
        };
        let once = with_dss(pdf(), &first, "AAAA");
        let doc = load(&once).unwrap_or_else(|e| panic!("{e}"));
        let material = read(&doc);
        assert_eq!(material.ocsps, vec![b"answer 1".to_vec()]);
        assert!(material.crls.is_empty());

        // A second signature's data: cert A is not written twice, the first VRI entry stays.
        let second = ValidationData {
            certificates: vec![b"cert A".to_vec(), b"cert C".to_vec()],
            ocsps: vec![b"answer 2".to_vec()],
            crls: vec![b"not a CRL".to_vec()],
            ..ValidationData::default()
        };
        let twice = with_dss(once.clone(), &second, "BBBB");
        assert!(twice.starts_with(&once));
        let doc = load(&twice).unwrap_or_else(|e| panic!("{e}"));
        let material = read(&doc);
        assert_eq!(
            material.ocsps,
            vec![b"answer 1".to_vec(), b"answer 2".to_vec()]
        );
        assert_eq!(material.unreadable.len(), 1, "{:?}", material.unreadable);
        let catalog = doc.catalog().unwrap_or_else(|e| panic!("{e}"));
        let dss = catalog
            .get(b"DSS")
            .ok()
            .and_then(|o| resolve_dict(&doc, o))
            .unwrap_or_else(|| panic!("no DSS"));
        assert_eq!(old_list(&doc, dss, b"Certs").len(), 3);
        let vri = dss
            .get(b"VRI")
            .and_then(Object::as_dict)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(vri.has(b"AAAA") && vri.has(b"BBBB"));
        let entry = vri
            .get(b"BBBB")
            .and_then(Object::as_dict)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            entry
                .get(b"Cert")
                .and_then(Object::as_array)
                .map(Vec::len)
                .ok(),
            Some(2)
        );
    }

    #[test]
    fn a_hostile_dss_gives_nothing_and_does_not_panic() {
        let mut doc = load(&pdf()).unwrap_or_else(|e| panic!("{e}"));
        let root = doc
            .trailer
            .get(b"Root")
            .and_then(Object::as_reference)
            .unwrap_or_else(|e| panic!("{e}"));
        let looping = doc.new_object_id();
        doc.objects.insert(looping, Object::Reference(looping));
        let dss = doc.add_object(dictionary! {
            "OCSPs" => Object::Integer(7),
            "CRLs" => vec![Object::Reference(looping), Object::Null, Object::Reference((9999, 0))],
            "VRI" => looping,
        });
        if let Ok(Object::Dictionary(catalog)) = doc.get_object_mut(root) {
            catalog.set("DSS", dss);
        }
        let material = read(&doc);
        assert!(!material.any());
        assert_eq!(material.unreadable.len(), 2, "{:?}", material.unreadable);
    }
}

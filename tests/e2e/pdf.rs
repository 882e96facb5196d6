//! Signing PDFs with the card (PAdES-B-B) and verifying them: PDFs made by Ghostscript, qpdf
//! (cross-reference streams, linearized) and MuPDF (a second revision), signed through pcscd +
//! vpcd, then judged by poppler's `pdfsig` against a temporary NSS database, `qpdf --check`
//! and `melli verify-signature`; tampering, changes after signing, two signers, and PDFs that
//! are refused.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::pdf::{
    encrypted_pdf, ghostscript_pdf, linearized_pdf, mutool_change_page, mutool_update, nss_db,
    pdfsig, qpdf, qpdf_check, two_revision_pdf, xref_stream_pdf,
};
use crate::common::{
    melli, melli_stdin, path_str, personalized_card, root_pem, test_issuer, Mailer, Output,
    VirtualCard,
};

/// `melli sign INPUT --pin-stdin --reader R [--out OUT]`.
fn sign(card: &VirtualCard, mailer: &Mailer, input: &Path, out: Option<&Path>) -> Output {
    let mut args = vec![
        "sign",
        path_str(input),
        "--pin-stdin",
        "--reader",
        card.reader_name(),
        "--json",
    ];
    if let Some(out) = out {
        args.extend(["--out", path_str(out)]);
    }
    melli_stdin(&args, &format!("{}\n", mailer.pin))
}

/// `melli verify-signature FILE --trust ROOT --json`.
fn verify(file: &Path) -> Output {
    let root = root_pem(test_issuer());
    melli(&[
        "verify-signature",
        path_str(file),
        "--trust",
        &root,
        "--json",
    ])
}

/// The checks of signature `index` of a verification, by name: (passed, detail).
fn check(out: &Output, index: usize, name: &str) -> (bool, String) {
    let json = out.json();
    let check = json["signatures"][index]["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name).cloned())
        .unwrap_or_else(|| panic!("no check {name} in signature {index}: {out:?}"));
    (
        check["passed"].as_bool().expect("passed"),
        check["detail"].as_str().expect("detail").to_string(),
    )
}

/// The signature lines of pdfsig's report: how many say valid and trusted.
fn pdfsig_valid_and_trusted(out: &Output) -> (usize, usize) {
    (
        out.stdout.matches("Signature is Valid.").count(),
        out.stdout.matches("Certificate is Trusted.").count(),
    )
}

/// Signs `input` with `card`, then checks what every judge says: the original is a prefix,
/// pdfsig finds `signatures` valid and trusted signatures, qpdf finds no damage, melli says
/// VALID. Returns the signed file.
fn sign_and_judge(
    card: &VirtualCard,
    mailer: &Mailer,
    dir: &Path,
    input: &Path,
    out: &Path,
    signatures: usize,
) -> PathBuf {
    let original = fs::read(input).expect("read the original");
    let signed = sign(card, mailer, input, Some(out));
    assert_eq!(
        signed.code,
        0,
        "melli sign: {signed:?}\ncard log:\n{}",
        card.log()
    );
    assert_eq!(signed.json()["format"], "pdf", "{signed:?}");
    let bytes = fs::read(out).expect("read the signed PDF");
    assert!(
        bytes.len() > original.len() && bytes.starts_with(&original),
        "the original's bytes are not a prefix of the signed file"
    );

    let db = nss_db(dir, test_issuer());
    let theirs = pdfsig(&db, out);
    assert_eq!(
        pdfsig_valid_and_trusted(&theirs),
        (signatures, signatures),
        "pdfsig: {theirs:?}"
    );
    assert!(
        theirs.stdout.contains("ETSI.CAdES.detached"),
        "pdfsig: {theirs:?}"
    );

    let check = qpdf_check(out);
    assert_eq!(check.code, 0, "qpdf --check: {check:?}");
    assert!(
        check
            .stdout
            .contains("No syntax or stream encoding errors found"),
        "qpdf --check: {check:?}"
    );

    let ours = verify(out);
    assert_eq!(ours.code, 0, "melli verify-signature: {ours:?}");
    let json = ours.json();
    assert_eq!(json["passed"], true, "{ours:?}");
    assert_eq!(
        json["signatures"].as_array().map(Vec::len),
        Some(signatures),
        "{ours:?}"
    );
    for index in 0..signatures {
        assert_eq!(json["signatures"][index]["passed"], true, "{ours:?}");
        // PAdES: no signingTime in the CMS, the time is /M.
        assert!(json["signatures"][index]["claimed_signing_time"].is_null());
        assert!(json["signatures"][index]["claimed_time_m"]
            .as_str()
            .is_some_and(|m| m.starts_with("D:")));
    }
    out.to_path_buf()
}

/// The part of `signed` after the first `len` bytes, as text where it is text.
fn update_of(signed: &Path, len: usize) -> String {
    let bytes = fs::read(signed).expect("read");
    String::from_utf8_lossy(&bytes[len..]).into_owned()
}

#[test]
fn a_ghostscript_pdf_is_signed_as_pdfsig_and_qpdf_expect() {
    let (card, mailer) = personalized_card();
    let dir = tempfile::tempdir().expect("tempdir");
    let input = ghostscript_pdf(dir.path(), "contract", 2);
    let len = fs::metadata(&input).expect("size").len() as usize;
    let out = dir.path().join("contract-signed.pdf");
    sign_and_judge(&card, &mailer, dir.path(), &input, &out, 1);
    // Ghostscript wrote a classic table: so does the update, with /Prev to it.
    let update = update_of(&out, len);
    assert!(update.contains("\nxref\n"), "{update}");
    assert!(update.contains("/Prev "), "{update}");
    assert!(update.contains("/SigFlags 3"), "{update}");

    // Without --out, NAME-signed.pdf beside NAME.pdf.
    fs::remove_file(&out).expect("remove");
    let again = sign(&card, &mailer, &input, None);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(out.exists(), "no contract-signed.pdf: {again:?}");
}

#[test]
fn a_pdf_with_an_xref_stream_is_signed_with_an_xref_stream() {
    let (card, mailer) = personalized_card();
    let dir = tempfile::tempdir().expect("tempdir");
    let input = xref_stream_pdf(dir.path(), "streams");
    let len = fs::metadata(&input).expect("size").len() as usize;
    let out = dir.path().join("streams-signed.pdf");
    sign_and_judge(&card, &mailer, dir.path(), &input, &out, 1);
    let update = update_of(&out, len);
    assert!(
        update.contains("/XRef"),
        "no xref stream in the update: {update}"
    );
    assert!(
        !update.contains("\nxref\n"),
        "a classic table in the update"
    );
}

#[test]
fn a_linearized_pdf_is_signed() {
    let (card, mailer) = personalized_card();
    let dir = tempfile::tempdir().expect("tempdir");
    let input = linearized_pdf(dir.path(), "linear");
    let linearized = qpdf(&["--check-linearization", path_str(&input)]);
    assert!(
        linearized.stdout.contains("no linearization errors"),
        "{linearized:?}"
    );
    let out = dir.path().join("linear-signed.pdf");
    sign_and_judge(&card, &mailer, dir.path(), &input, &out, 1);
}

#[test]
fn a_pdf_with_two_revisions_is_signed() {
    let (card, mailer) = personalized_card();
    let dir = tempfile::tempdir().expect("tempdir");
    let input = two_revision_pdf(dir.path(), "revised");
    let text = String::from_utf8_lossy(&fs::read(&input).expect("read")).into_owned();
    assert_eq!(
        text.matches("%%EOF").count(),
        2,
        "MuPDF did not add a revision"
    );
    let out = dir.path().join("revised-signed.pdf");
    sign_and_judge(&card, &mailer, dir.path(), &input, &out, 1);
}

#[test]
fn a_byte_changed_in_the_signed_range_invalidates_the_signature() {
    let (card, mailer) = personalized_card();
    let dir = tempfile::tempdir().expect("tempdir");
    let input = ghostscript_pdf(dir.path(), "contract", 1);
    let out = dir.path().join("contract-signed.pdf");
    sign_and_judge(&card, &mailer, dir.path(), &input, &out, 1);

    // One digit of the signing time /M, inside the signed range, changed.
    let mut bytes = fs::read(&out).expect("read");
    let at = bytes
        .windows(5)
        .rposition(|w| w == b"(D:20")
        .expect("the /M string")
        + 3;
    bytes[at] = if bytes[at] == b'2' { b'3' } else { b'2' };
    let tampered = dir.path().join("tampered.pdf");
    fs::write(&tampered, &bytes).expect("write");

    let db = nss_db(&dir.path().join("db2"), test_issuer());
    let theirs = pdfsig(&db, &tampered);
    assert!(
        !theirs.stdout.contains("Signature is Valid.") && theirs.stdout.contains("Digest Mismatch"),
        "pdfsig: {theirs:?}"
    );
    let ours = verify(&tampered);
    assert_eq!(ours.code, 1, "{ours:?}");
    assert_eq!(ours.json()["passed"], false);
    let (passed, detail) = check(&ours, 0, "message digest");
    assert!(!passed, "{detail}");
}

#[test]
fn content_added_after_signing_is_reported() {
    let (card, mailer) = personalized_card();
    let dir = tempfile::tempdir().expect("tempdir");
    let input = ghostscript_pdf(dir.path(), "contract", 1);
    let out = dir.path().join("contract-signed.pdf");
    sign_and_judge(&card, &mailer, dir.path(), &input, &out, 1);

    // MuPDF paints on page 1 in an incremental update.
    let painted = dir.path().join("painted.pdf");
    mutool_change_page(&out, &painted);
    let ours = verify(&painted);
    assert_eq!(ours.code, 1, "{ours:?}");
    let (passed, detail) = check(&ours, 0, "changed after signing");
    assert!(
        !passed && detail.starts_with("changed after signing: "),
        "{detail}"
    );
    assert!(detail.contains("/Page"), "{detail}");
    // The signature itself is still good over its revision.
    assert!(check(&ours, 0, "message digest").0);
    assert!(check(&ours, 0, "signature").0);
    let text = melli(&[
        "verify-signature",
        path_str(&painted),
        "--trust",
        &root_pem(test_issuer()),
    ]);
    assert_eq!(text.code, 1, "{text:?}");
    assert!(
        text.stdout
            .contains("FAIL  changed after signing: changed after signing: "),
        "{text:?}"
    );
    assert!(text.stdout.contains("verdict: INVALID PDF"), "{text:?}");

    // MuPDF changes the document information in an incremental update.
    let retitled = dir.path().join("retitled.pdf");
    mutool_update(&out, &retitled, "Another title");
    let ours = verify(&retitled);
    assert_eq!(ours.code, 1, "{ours:?}");
    let (passed, detail) = check(&ours, 0, "changed after signing");
    assert!(!passed, "{detail}");

    // Bytes appended after the signed revision that no update takes in.
    let mut bytes = fs::read(&out).expect("read");
    bytes.extend_from_slice(b"\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n");
    let appended = dir.path().join("appended.pdf");
    fs::write(&appended, &bytes).expect("write");
    let ours = verify(&appended);
    assert_eq!(ours.code, 1, "{ours:?}");
    let (passed, detail) = check(&ours, 0, "changed after signing");
    assert!(!passed && detail.contains("not a PDF update"), "{detail}");
}

#[test]
fn two_signers_sign_in_sequence() {
    let (first_card, first) = personalized_card();
    let (second_card, second) = personalized_card();
    let dir = tempfile::tempdir().expect("tempdir");
    let input = xref_stream_pdf(dir.path(), "contract");
    let once = dir.path().join("once.pdf");
    sign_and_judge(&first_card, &first, dir.path(), &input, &once, 1);
    let twice = dir.path().join("twice.pdf");
    sign_and_judge(
        &second_card,
        &second,
        &dir.path().join("second"),
        &once,
        &twice,
        2,
    );
    let ours = verify(&twice);
    let json = ours.json();
    assert_eq!(json["signatures"][0]["field"], "Signature1", "{ours:?}");
    assert_eq!(json["signatures"][1]["field"], "Signature2", "{ours:?}");
    let (passed, detail) = check(&ours, 0, "changed after signing");
    assert!(passed && detail.contains("add 1 signature"), "{detail}");
    let (passed, detail) = check(&ours, 1, "changed after signing");
    assert!(
        passed && detail.contains("covers the whole file"),
        "{detail}"
    );
}

#[test]
fn pdfs_that_cannot_be_signed_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let good = ghostscript_pdf(d, "good", 1);
    let encrypted = encrypted_pdf(d, "encrypted", &good);
    let bytes = fs::read(&good).expect("read");
    let truncated = d.join("truncated.pdf");
    fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let startxref = bytes
        .windows(10)
        .rposition(|w| w == b"startxref\n")
        .expect("startxref")
        + 10;
    let end = startxref
        + bytes[startxref..]
            .iter()
            .position(|&b| b == b'\n')
            .expect("line");
    // The offset of the xref table, made to point 40 bytes before it.
    let offset: usize = std::str::from_utf8(&bytes[startxref..end])
        .expect("digits")
        .trim()
        .parse()
        .expect("offset");
    let mut broken = bytes.clone();
    broken.splice(startxref..end, (offset - 40).to_string().into_bytes());
    let broken_xref = d.join("broken-xref.pdf");
    fs::write(&broken_xref, &broken).expect("write");
    let text_file = d.join("notes.txt");
    fs::write(&text_file, "not a PDF\n").expect("write");

    let cases: [(&Path, &[&str], &str); 4] = [
        (
            &text_file,
            &["--format", "pdf"],
            "not a PDF (it does not start with %PDF-)",
        ),
        (
            &encrypted,
            &[],
            "an encrypted PDF — remove its password first",
        ),
        (
            &truncated,
            &[],
            "a damaged PDF: its cross-reference data is broken",
        ),
        (
            &broken_xref,
            &[],
            "a damaged PDF: its cross-reference data is broken",
        ),
    ];
    for (file, extra, message) in cases {
        let out = d.join("signed.pdf");
        let mut args = vec![
            "sign",
            path_str(file),
            "--pin-stdin",
            "--out",
            path_str(&out),
        ];
        args.extend_from_slice(extra);
        let refused = melli_stdin(&args, "123456\n");
        assert_eq!(refused.code, 2, "{refused:?}");
        assert!(refused.stdout.is_empty(), "{refused:?}");
        assert_eq!(refused.stderr.lines().count(), 1, "{refused:?}");
        assert!(refused.stderr.contains(message), "{refused:?}");
        assert!(!out.exists(), "{} was written", out.display());
        // And verify-signature says the same of it.
        let verified = verify(file);
        assert_eq!(verified.code, 2, "{verified:?}");
        if extra.is_empty() {
            let problem = message.split(" — ").next().unwrap_or(message);
            assert!(verified.stderr.contains(problem), "{verified:?}");
        }
    }
    let leftovers: Vec<_> = fs::read_dir(d)
        .expect("list")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".melli-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // An unsigned PDF has nothing to verify.
    let unsigned = verify(&good);
    assert_eq!(unsigned.code, 2, "{unsigned:?}");
    assert!(
        unsigned.stderr.contains("the PDF has no signature"),
        "{unsigned:?}"
    );
}

#[test]
fn a_pdf_signature_gets_a_timestamp_with_tsa() {
    use crate::common::tsa::{Behaviour, HttpTsa};
    let (card, mailer) = personalized_card();
    let dir = tempfile::tempdir().expect("tempdir");
    let tsa = HttpTsa::start(&dir.path().join("tsa"), Behaviour::Good);
    let input = ghostscript_pdf(dir.path(), "contract", 1);
    let out = dir.path().join("stamped.pdf");
    let signed = melli_stdin(
        &[
            "sign",
            path_str(&input),
            "--pin-stdin",
            "--reader",
            card.reader_name(),
            "--out",
            path_str(&out),
            "--tsa",
            &tsa.url(),
            "--json",
        ],
        &format!("{}\n", mailer.pin),
    );
    assert_eq!(signed.code, 0, "melli sign --tsa: {signed:?}");
    assert_eq!(
        signed.json()["timestamp"]["tsa"],
        "melli test TSA",
        "{signed:?}"
    );

    // pdfsig: still a valid signature (poppler shows no timestamp of its own).
    let db = nss_db(dir.path(), test_issuer());
    let theirs = pdfsig(&db, &out);
    assert_eq!(
        pdfsig_valid_and_trusted(&theirs),
        (1, 1),
        "pdfsig: {theirs:?}"
    );

    // melli: with --tsa-trust the timestamp is trusted and the chain checked at its time.
    let root = root_pem(test_issuer());
    let tsa_root = tsa.root_pem();
    let ours = melli(&[
        "verify-signature",
        path_str(&out),
        "--trust",
        &root,
        "--tsa-trust",
        &tsa_root,
        "--json",
    ]);
    assert_eq!(ours.code, 0, "{ours:?}");
    let signature = &ours.json()["signatures"][0];
    assert_eq!(signature["timestamp"]["trusted"], true, "{ours:?}");
    assert!(check(&ours, 0, "timestamp").0, "{ours:?}");
}

//! The visible signature box (`melli sign FILE.pdf --visible PAGE,X,Y`): a Ghostscript PDF
//! signed through pcscd + vpcd with a box on its page, then judged by poppler (`pdfsig`,
//! `pdffonts`, `pdftotext`, `pdftoppm`), `qpdf --check` and `melli verify-signature`; and the
//! places a box cannot go, refused before the card is asked.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::pdf::{ghostscript_pdf, nss_db, pdfsig, qpdf_check};
use crate::common::{
    melli, melli_stdin, path_str, personalized_card, root_pem, run, test_issuer, Output,
};

const TOOL_TIMEOUT: Duration = Duration::from_secs(120);

/// A poppler tool, which must succeed.
fn poppler(program: &str, args: &[&str]) -> Output {
    let out = run(Command::new(program).args(args), TOOL_TIMEOUT);
    assert_eq!(out.code, 0, "{program} {args:?}: {out:?}");
    out
}

/// Page 1 of `pdf` rendered by `pdftoppm -r 72` (one pixel a point), as grey levels.
fn render(pdf: &Path, dir: &Path, name: &str) -> image::GrayImage {
    let prefix = dir.join(name);
    poppler(
        "pdftoppm",
        &[
            "-r",
            "72",
            "-png",
            "-singlefile",
            "-f",
            "1",
            "-l",
            "1",
            path_str(pdf),
            path_str(&prefix),
        ],
    );
    image::open(prefix.with_extension("png"))
        .expect("decode pdftoppm's PNG")
        .to_luma8()
}

/// Dark pixels (grey below 128) of `page` in the rectangle of PDF points from (`x0`,`y0`)
/// to (`x1`,`y1`) above the page's lower-left corner.
fn dark_pixels(page: &image::GrayImage, x0: u32, y0: u32, x1: u32, y1: u32) -> usize {
    let height = page.height();
    (x0..x1)
        .flat_map(|x| (height - y1..height - y0).map(move |y| (x, y)))
        .filter(|&(x, y)| page.get_pixel(x, y).0[0] < 128)
        .count()
}

#[test]
fn a_visible_signature_shows_the_holder_in_persian_and_stays_valid() {
    let (card, mailer) = personalized_card();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = ghostscript_pdf(d, "contract", 1);
    let out = d.join("contract-signed.pdf");
    let original = fs::read(&input).expect("read the original");

    let signed = melli_stdin(
        &[
            "sign",
            path_str(&input),
            "--visible",
            "1,50,50",
            "--out",
            path_str(&out),
            "--pin-stdin",
            "--reader",
            card.reader_name(),
            "--json",
        ],
        &format!("{}\n", mailer.pin),
    );
    assert_eq!(
        signed.code,
        0,
        "melli sign: {signed:?}\ncard log:\n{}",
        card.log()
    );
    let json = signed.json();
    assert_eq!(json["visible"]["page"], 1, "{signed:?}");
    assert_eq!(
        json["visible"]["rect"],
        serde_json::json!([50.0, 50.0, 250.0, 110.0]),
        "{signed:?}"
    );
    assert!(fs::read(&out).expect("read").starts_with(&original));

    // Still a valid PAdES signature for poppler, qpdf and melli.
    let db = nss_db(d, test_issuer());
    let theirs = pdfsig(&db, &out);
    assert_eq!(
        theirs.stdout.matches("Signature is Valid.").count(),
        1,
        "pdfsig: {theirs:?}"
    );
    assert!(
        theirs.stdout.contains("Certificate is Trusted."),
        "pdfsig: {theirs:?}"
    );
    let check = qpdf_check(&out);
    assert_eq!(check.code, 0, "qpdf --check: {check:?}");
    assert!(
        check
            .stdout
            .contains("No syntax or stream encoding errors found"),
        "qpdf --check: {check:?}"
    );
    let root = root_pem(test_issuer());
    let ours = melli(&[
        "verify-signature",
        path_str(&out),
        "--trust",
        &root,
        "--json",
    ]);
    assert_eq!(ours.code, 0, "melli verify-signature: {ours:?}");
    let verdict = ours.json();
    assert_eq!(verdict["passed"], true, "{ours:?}");
    let signer = &verdict["signatures"][0]["signer"];
    let national_code = signer["national_code"].as_str().expect("national code");
    let name_fa = signer["full_name_fa"].as_str().expect("Persian name");
    assert_eq!(national_code.len(), 10, "{signer}");
    assert!(name_fa
        .chars()
        .any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)));

    // The Persian font is embedded, as a CID TrueType font.
    let fonts = poppler("pdffonts", &[path_str(&out)]);
    let noto = fonts
        .stdout
        .lines()
        .find(|l| l.contains("NotoNaskhArabic-Regular"))
        .unwrap_or_else(|| panic!("no Noto Naskh Arabic in pdffonts: {fonts:?}"));
    let columns: Vec<&str> = noto.split_whitespace().collect();
    assert!(noto.contains("CID TrueType"), "{noto}");
    assert!(noto.contains("Identity-H"), "{noto}");
    // name, type (CID TrueType), encoding, then emb, sub, uni: emb and uni are yes.
    let emb = columns.len() - 5;
    assert_eq!(
        (columns[emb], columns[emb + 2]),
        ("yes", "yes"),
        "pdffonts: {noto}"
    );

    // The text is there for whoever extracts it: poppler reads the Persian name through the
    // font's /ToUnicode, in logical order. The joiners (ZWNJ) are not drawn, so the name
    // extracts without them.
    let text = poppler(
        "pdftotext",
        &["-f", "1", "-l", "1", "-enc", "UTF-8", path_str(&out), "-"],
    );
    assert!(text.stdout.contains(national_code), "pdftotext: {text:?}");
    let shown_fa: String = name_fa.chars().filter(|&c| c != '\u{200C}').collect();
    assert!(
        text.stdout.contains(&shown_fa),
        "pdftotext has not {shown_fa:?}: {text:?}"
    );
    let latin = format!(
        "{} {}",
        signer["given_name"].as_str().expect("given name"),
        signer["surname"].as_str().expect("surname")
    );
    assert!(text.stdout.contains(&latin), "pdftotext: {text:?}");
    // The time shown is the /M of the signature: D:YYYYMMDDHHmmSS+00'00'.
    let m = verdict["signatures"][0]["claimed_time_m"]
        .as_str()
        .expect("/M");
    let digits = |from: usize, to: usize| m.get(from..to).expect("a PDF date");
    let shown = format!(
        "Digitally signed {}-{}-{} {}:{}:{} UTC",
        digits(2, 6),
        digits(6, 8),
        digits(8, 10),
        digits(10, 12),
        digits(12, 14),
        digits(14, 16)
    );
    assert!(text.stdout.contains(&shown), "no {shown:?}: {text:?}");
    let unsigned_text = poppler(
        "pdftotext",
        &["-f", "1", "-l", "1", "-enc", "UTF-8", path_str(&input), "-"],
    );
    assert!(!unsigned_text.stdout.contains(national_code));

    // Rendered, the box shows: dark pixels inside it (the frame left out), and in the line of
    // the Persian name, where the unsigned page is blank.
    let before = render(&input, d, "unsigned");
    let after = render(&out, d, "signed");
    assert_eq!(before.dimensions(), after.dimensions());
    assert_eq!(
        dark_pixels(&before, 48, 48, 252, 112),
        0,
        "the page is not blank there"
    );
    let inside = dark_pixels(&after, 53, 53, 247, 107);
    let persian_line = dark_pixels(&after, 53, 86, 247, 107);
    assert!(inside > 300, "{inside} dark pixels in the box");
    assert!(
        persian_line > 80,
        "{persian_line} dark pixels in the Persian name's line"
    );
}

/// The places a box cannot go: one line, exit 2, nothing written, and no card needed (no
/// reader is given: the PDF is judged first).
#[test]
fn a_box_that_cannot_be_placed_is_refused_before_the_card() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = ghostscript_pdf(d, "one-page", 1);
    for (visible, expected) in [
        ("9,0,0", "page 9 does not exist: the PDF has 1 page(s)"),
        ("x", "not PAGE,X,Y"),
        ("0,10,10", "not PAGE,X,Y"),
        ("1,inf,10", "not PAGE,X,Y"),
        ("1,-5,10", "does not fit on page 1"),
        ("1,500,800", "does not fit on page 1"),
    ] {
        let out = melli_stdin(
            &[
                "sign",
                path_str(&input),
                "--visible",
                visible,
                "--pin-stdin",
            ],
            "123456\n",
        );
        assert_eq!(out.code, 2, "--visible {visible}: {out:?}");
        assert_eq!(
            out.stderr.lines().count(),
            1,
            "--visible {visible}: {out:?}"
        );
        assert!(
            out.stderr
                .starts_with(&format!("melli: --visible {visible}: "))
                && out.stderr.contains(expected),
            "--visible {visible}: {out:?}"
        );
        let written: Vec<String> = fs::read_dir(d)
            .expect("list")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("-signed") || n.starts_with(".melli-"))
            .collect();
        assert!(
            written.is_empty(),
            "--visible {visible}: written {written:?}"
        );
    }
    // A detached signature has no page.
    let out = melli_stdin(
        &[
            "sign",
            "README.md",
            "--format",
            "cms",
            "--visible",
            "1,50,50",
            "--pin-stdin",
        ],
        "123456\n",
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--visible is for PDFs"), "{out:?}");
}

#[test]
fn a_visible_signature_goes_on_the_page_asked() {
    let (card, mailer) = personalized_card();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let input = ghostscript_pdf(d, "two-pages", 2);
    let out = d.join("two-pages-signed.pdf");
    let signed = melli_stdin(
        &[
            "sign",
            path_str(&input),
            "--visible",
            "2,300.5,700",
            "--out",
            path_str(&out),
            "--pin-stdin",
            "--reader",
            card.reader_name(),
        ],
        &format!("{}\n", mailer.pin),
    );
    assert_eq!(signed.code, 0, "melli sign: {signed:?}");
    assert!(signed.stdout.contains("visible on page 2"), "{signed:?}");
    let page = |n: &str| {
        poppler(
            "pdftotext",
            &["-f", n, "-l", n, "-enc", "UTF-8", path_str(&out), "-"],
        )
        .stdout
    };
    assert!(
        page("2").contains("National code "),
        "page 2: {}",
        page("2")
    );
    assert!(
        !page("1").contains("National code "),
        "page 1: {}",
        page("1")
    );
    let db = nss_db(d, test_issuer());
    let theirs = pdfsig(&db, &out);
    assert!(
        theirs.stdout.contains("Signature is Valid."),
        "pdfsig: {theirs:?}"
    );
}

//! PDFs for the PDF signing tests, made by tools nobody here wrote (Ghostscript's `ps2pdf`,
//! `qpdf`, MuPDF's `mutool`), and the peers that judge signed PDFs: poppler's `pdfsig` (with
//! a temporary NSS database holding the issuer's certificates) and `qpdf --check`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{path_str, run, Output};

const TOOL_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs a peer tool; it must succeed (qpdf's exit 3, "succeeded with warnings", is a failure
/// here too: these inputs must be clean).
fn tool(program: &str, args: &[&str]) -> Output {
    let out = run(Command::new(program).args(args), TOOL_TIMEOUT);
    assert_eq!(out.code, 0, "{program} {args:?}: {out:?}");
    out
}

/// A PostScript document of `pages` pages, each with a line of text.
fn postscript(pages: usize) -> String {
    let mut ps = String::from("%!PS\n/Helvetica findfont 20 scalefont setfont\n");
    for page in 1..=pages {
        ps.push_str(&format!(
            "72 700 moveto (A contract to sign, page {page} of {pages}) show\nshowpage\n"
        ));
    }
    ps
}

/// `ps2pdf` of a small PostScript document: Ghostscript's PDF with a classic xref table.
pub fn ghostscript_pdf(dir: &Path, name: &str, pages: usize) -> PathBuf {
    let ps = dir.join(format!("{name}.ps"));
    std::fs::write(&ps, postscript(pages)).expect("write PostScript");
    let pdf = dir.join(format!("{name}.pdf"));
    tool("ps2pdf", &[path_str(&ps), path_str(&pdf)]);
    pdf
}

/// `qpdf --object-streams=generate` of a Ghostscript PDF: a cross-reference stream and
/// object streams.
pub fn xref_stream_pdf(dir: &Path, name: &str) -> PathBuf {
    let source = ghostscript_pdf(dir, &format!("{name}-source"), 2);
    let pdf = dir.join(format!("{name}.pdf"));
    tool(
        "qpdf",
        &[
            "--object-streams=generate",
            path_str(&source),
            path_str(&pdf),
        ],
    );
    pdf
}

/// `qpdf --linearize` of a Ghostscript PDF.
/// `qpdf --encrypt` of `input` (AES-256, user password "user"): `dir/NAME.pdf`.
pub fn encrypted_pdf(dir: &Path, name: &str, input: &Path) -> PathBuf {
    let out = dir.join(format!("{name}.pdf"));
    qpdf(&[
        "--encrypt",
        "user",
        "owner",
        "256",
        "--",
        path_str(input),
        path_str(&out),
    ]);
    out
}

pub fn linearized_pdf(dir: &Path, name: &str) -> PathBuf {
    let source = ghostscript_pdf(dir, &format!("{name}-source"), 3);
    let pdf = dir.join(format!("{name}.pdf"));
    tool("qpdf", &["--linearize", path_str(&source), path_str(&pdf)]);
    pdf
}

/// `mutool run` of a script that changes the document's title and saves an incremental
/// update of `input` to `output`.
pub fn mutool_update(input: &Path, output: &Path, title: &str) {
    let script = output.with_extension("js");
    std::fs::write(
        &script,
        format!(
            "var doc = new PDFDocument(scriptArgs[0]);\n\
             var info = doc.getTrailer().get(\"Info\");\n\
             info.put(\"Title\", doc.newString({title:?}));\n\
             doc.save(scriptArgs[1], \"incremental\");\n"
        ),
    )
    .expect("write the mutool script");
    tool(
        "mutool",
        &["run", path_str(&script), path_str(input), path_str(output)],
    );
}

/// `mutool run` of a script that paints a rectangle on page 1 and saves an incremental update of
/// `input` to `output`: a real change of what the page shows.
pub fn mutool_change_page(input: &Path, output: &Path) {
    let script = output.with_extension("js");
    std::fs::write(
        &script,
        "var doc = new PDFDocument(scriptArgs[0]);\n\
         var page = doc.findPage(0);\n\
         var extra = doc.addStream(\"0 0 1 rg 72 500 200 50 re f\", {});\n\
         var contents = page.get(\"Contents\");\n\
         var list = doc.newArray();\n\
         if (contents.isArray()) { for (var i = 0; i < contents.length; i++) list.push(contents.get(i)); }\n\
         else { list.push(contents); }\n\
         list.push(extra);\n\
         page.put(\"Contents\", list);\n\
         doc.save(scriptArgs[1], \"incremental\");\n",
    )
    .expect("write the mutool script");
    tool(
        "mutool",
        &["run", path_str(&script), path_str(input), path_str(output)],
    );
}

/// A Ghostscript PDF that already has two revisions: MuPDF's incremental update of it.
pub fn two_revision_pdf(dir: &Path, name: &str) -> PathBuf {
    let source = ghostscript_pdf(dir, &format!("{name}-source"), 1);
    let pdf = dir.join(format!("{name}.pdf"));
    mutool_update(&source, &pdf, "Second revision");
    pdf
}

/// A temporary NSS database (`sql:DIR`) trusting the issuer's root, with its signing CA.
pub fn nss_db(dir: &Path, issuer: &Path) -> String {
    let db = dir.join("nssdb");
    std::fs::create_dir_all(&db).expect("NSS database folder");
    let spec = format!("sql:{}", path_str(&db));
    tool("certutil", &["-N", "-d", &spec, "--empty-password"]);
    let root = issuer.join("root.pem");
    tool(
        "certutil",
        &[
            "-A",
            "-d",
            &spec,
            "-n",
            "melli test root",
            "-t",
            "C,C,C",
            "-a",
            "-i",
            path_str(&root),
        ],
    );
    let ca = issuer.join("signing-ca.pem");
    tool(
        "certutil",
        &[
            "-A",
            "-d",
            &spec,
            "-n",
            "melli signing CA",
            "-t",
            ",,",
            "-a",
            "-i",
            path_str(&ca),
        ],
    );
    spec
}

/// `pdfsig -nssdir DB FILE` (its exit code is not a verdict: the caller reads the text).
pub fn pdfsig(db: &str, file: &Path) -> Output {
    run(
        Command::new("pdfsig").args(["-nssdir", db, path_str(file)]),
        TOOL_TIMEOUT,
    )
}

/// `qpdf --check FILE`.
pub fn qpdf_check(file: &Path) -> Output {
    run(
        Command::new("qpdf").args(["--check", path_str(file)]),
        TOOL_TIMEOUT,
    )
}

/// `qpdf ARGS…`, which must succeed.
pub fn qpdf(args: &[&str]) -> Output {
    tool("qpdf", args)
}

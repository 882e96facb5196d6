//! PAdES-B-LT: `melli sign contract.pdf --tsa URL --ocsp-embed` through pcscd + vpcd, against
//! OpenSSL's OCSP responder serving the issuer's `index.txt`, OpenSSL's TSA and the root's
//! CRL at its distribution point; the document security store the second incremental update
//! adds is read back with `qpdf --json`, its OCSP answer by `openssl ocsp`, the PDF judged by
//! poppler's `pdfsig`, `qpdf --check` and `melli verify-signature` with the responder stopped.

use std::fs;
use std::path::{Path, PathBuf};

use melli_testkit::http_server::{HttpServer, Reply};
use sha1::{Digest, Sha1};

use crate::common::ocsp::{free_port, responder_certificate, OcspResponder};
use crate::common::pdf::{ghostscript_pdf, nss_db, pdfsig, qpdf, qpdf_check};
use crate::common::tsa::{Behaviour, HttpTsa};
use crate::common::{
    make_issuer_with, melli, melli_stdin, path_str, personalized_card_of, revoke_card, root_pem,
    run, Mailer, Output, VirtualCard,
};

/// `melli sign INPUT --pin-stdin --reader R --out OUT --json [extra…]`.
fn sign(card: &VirtualCard, mailer: &Mailer, input: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "sign",
        path_str(input),
        "--pin-stdin",
        "--reader",
        card.reader_name(),
        "--out",
        path_str(out),
        "--json",
    ];
    args.extend_from_slice(extra);
    melli_stdin(&args, &format!("{}\n", mailer.pin))
}

/// `melli verify-signature FILE --trust ROOT --json [extra…]`.
fn verify(issuer: &Path, file: &Path, extra: &[&str]) -> Output {
    let root = root_pem(issuer);
    let mut args = vec![
        "verify-signature",
        path_str(file),
        "--trust",
        &root,
        "--json",
    ];
    args.extend_from_slice(extra);
    melli(&args)
}

/// The check `name` of signature `index`: (passed, unknown, detail).
fn check(out: &Output, index: usize, name: &str) -> (bool, bool, String) {
    let json = out.json();
    let check = json["signatures"][index]["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name).cloned())
        .unwrap_or_else(|| panic!("no check {name} in signature {index}: {out:?}"));
    (
        check["passed"].as_bool().unwrap_or(false),
        check["unknown"].as_bool().unwrap_or(false),
        check["detail"].as_str().unwrap_or_default().to_string(),
    )
}

/// The root's CRL distribution point: `GET /root.crl` answers the file `crl` once it exists.
fn crl_server(crl: PathBuf) -> HttpServer {
    HttpServer::start(move |r| match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/root.crl") => match fs::read(&crl) {
            Ok(bytes) => Reply::ok("application/pkix-crl", bytes),
            Err(_) => Reply::error(404, "not published yet"),
        },
        _ => Reply::error(404, "no such thing"),
    })
}

/// The objects of `file` as `qpdf --json=2` shows them: `"obj:N G R"` → value, and
/// `"trailer"`.
fn qpdf_objects(file: &Path) -> serde_json::Value {
    let out = qpdf(&["--json=2", "--json-key=qpdf", path_str(file)]);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("qpdf JSON");
    json["qpdf"][1].clone()
}

/// The value of the object `reference` ("N G R") in `objects`.
fn object<'a>(objects: &'a serde_json::Value, reference: &str) -> &'a serde_json::Value {
    let key = format!("obj:{reference}");
    let object = &objects[key.as_str()];
    if object["value"].is_null() {
        &object["stream"]["dict"]
    } else {
        &object["value"]
    }
}

/// The uppercase hex SHA-1 of the `/Contents` string of the signature whose byte range is
/// `range`: the key of its `/VRI` entry.
fn vri_key(bytes: &[u8], range: &[u64]) -> String {
    let hole = &bytes[range[1] as usize + 1..range[2] as usize - 1];
    let contents = hex::decode(hole).expect("hex /Contents");
    hex::encode_upper(Sha1::digest(contents))
}

#[test]
fn a_pdf_signed_with_ocsp_embed_carries_a_dss_and_verifies_without_the_network() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let root_crl = dir.join("root.crl");
    let crl = crl_server(root_crl.clone());
    let port = free_port();
    let ocsp_url = format!("http://127.0.0.1:{port}");
    let issuer = make_issuer_with(
        "pdf-ltv",
        &[
            "--ocsp-url",
            &ocsp_url,
            "--crl-url",
            &crl.url("/ca.crl"),
            "--root-crl-url",
            &crl.url("/root.crl"),
        ],
    );
    let signing_ca = issuer.join("signing-ca.pem");
    let (card, mailer) = personalized_card_of(&issuer);
    let (signer, key) = responder_certificate(&issuer, dir, "holders", false);
    let index = issuer.join("index.txt");
    let responder = OcspResponder::start(&index, &signing_ca, &signer, &key, port, dir);
    let out = melli(&[
        "issuer",
        "crl",
        path_str(&issuer),
        "--root-out",
        path_str(&root_crl),
    ]);
    assert_eq!(out.code, 0, "melli issuer crl: {out:?}");
    let tsa = HttpTsa::start(&dir.join("tsa"), Behaviour::Good);
    let tsa_root = tsa.root_pem();

    let input = ghostscript_pdf(dir, "contract", 1);
    let signed = dir.join("contract-signed.pdf");
    let out = sign(
        &card,
        &mailer,
        &input,
        &signed,
        &["--tsa", &tsa.url(), "--ocsp-embed"],
    );
    assert_eq!(
        out.code,
        0,
        "melli sign --tsa --ocsp-embed: {out:?}\nresponder: {}",
        responder.log()
    );
    let json = out.json();
    assert_eq!(json["dss"]["ocsp_responses"], 1, "{out:?}");
    assert_eq!(json["dss"]["crls"], 1, "the root's CRL: {out:?}");
    assert!(
        json["dss"]["certificates"].as_u64().is_some_and(|n| n >= 3),
        "signer, signing CA, TSA: {out:?}"
    );
    let range: Vec<u64> = json["byte_range"]
        .as_array()
        .expect("byte range")
        .iter()
        .filter_map(serde_json::Value::as_u64)
        .collect();

    // Two updates after the original's bytes: the signature's, ending where its byte range
    // ends, then the DSS's.
    let original = fs::read(&input).expect("original");
    let bytes = fs::read(&signed).expect("signed");
    let first_end = (range[2] + range[3]) as usize;
    assert!(bytes.starts_with(&original) && first_end > original.len());
    assert!(bytes.len() > first_end, "no second update");
    let tail = String::from_utf8_lossy(&bytes[first_end..]).into_owned();
    assert_eq!(
        tail.matches("%%EOF").count(),
        1,
        "one more revision: {tail}"
    );
    assert!(tail.contains("/DSS"), "{tail}");
    let first = dir.join("first-revision.pdf");
    fs::write(&first, &bytes[..first_end]).expect("write");

    // The peers: pdfsig and qpdf, for the whole file and for its signature revision alone.
    let db = nss_db(dir, &issuer);
    for file in [&signed, &first] {
        let theirs = pdfsig(&db, file);
        assert_eq!(
            (
                theirs.stdout.matches("Signature is Valid.").count(),
                theirs.stdout.matches("Certificate is Trusted.").count()
            ),
            (1, 1),
            "pdfsig {}: {theirs:?}",
            file.display()
        );
        let check = qpdf_check(file);
        assert!(
            check.code == 0
                && check
                    .stdout
                    .contains("No syntax or stream encoding errors found"),
            "qpdf --check: {check:?}"
        );
    }

    // The DSS as qpdf reads it: the catalog's /DSS, its lists, and the signature's /VRI entry.
    let objects = qpdf_objects(&signed);
    let root_ref = objects["trailer"]["value"]["/Root"]
        .as_str()
        .expect("/Root")
        .to_string();
    let dss = object(&objects, &root_ref)["/DSS"].clone();
    let dss = match dss.as_str() {
        Some(reference) => object(&objects, reference).clone(),
        None => dss,
    };
    let list = |name: &str| -> Vec<String> {
        dss[name]
            .as_array()
            .unwrap_or_else(|| panic!("no {name} in the DSS: {dss}"))
            .iter()
            .filter_map(|r| r.as_str().map(str::to_string))
            .collect()
    };
    assert!(list("/Certs").len() >= 3, "{dss}");
    assert_eq!(list("/OCSPs").len(), 1, "{dss}");
    assert_eq!(list("/CRLs").len(), 1, "{dss}");
    let vri_name = format!("/{}", vri_key(&bytes, &range));
    let vri = &dss["/VRI"][vri_name.as_str()];
    assert!(
        vri["/OCSP"].as_array().is_some_and(|a| a.len() == 1)
            && vri["/Cert"].as_array().is_some_and(|a| a.len() >= 3),
        "no /VRI entry {vri_name}: {dss}"
    );
    // The answer in the DSS is openssl's own, and says good.
    let ocsp_ref = &list("/OCSPs")[0];
    let number = ocsp_ref.split(' ').next().expect("object number");
    let answer = dir.join("dss-ocsp.der");
    let raw_bytes = std::process::Command::new("qpdf")
        .args([
            &format!("--show-object={number}"),
            "--raw-stream-data",
            path_str(&signed),
        ])
        .output()
        .expect("qpdf");
    assert!(
        raw_bytes.status.success(),
        "qpdf --show-object: {raw_bytes:?}"
    );
    fs::write(&answer, &raw_bytes.stdout).expect("write the answer");
    let said = run(
        std::process::Command::new("openssl").args([
            "ocsp",
            "-respin",
            path_str(&answer),
            "-resp_text",
            "-noverify",
        ]),
        std::time::Duration::from_secs(30),
    );
    assert!(
        said.code == 0 && said.stdout.contains("Cert Status: good"),
        "openssl ocsp -respin: {said:?}"
    );

    // The responder stopped (and no CRL server asked): the DSS is the evidence.
    drop(responder);
    let ours = verify(&issuer, &signed, &["--tsa-trust", &tsa_root]);
    assert_eq!(ours.code, 0, "melli verify-signature: {ours:?}");
    let (passed, unknown, detail) = check(&ours, 0, "revocation");
    assert!(
        passed
            && !unknown
            && detail.contains("OCSP answer in the PDF's DSS")
            && detail.contains("CRL in the PDF's DSS"),
        "{detail}"
    );
    let (passed, _, detail) = check(&ours, 0, "changed after signing");
    assert!(passed && detail.contains("validation data"), "{detail}");
    assert_eq!(ours.json()["signatures"][0]["timestamp"]["trusted"], true);
    // Without the TSA trusted the answer still counts while it is fresh.
    let ours = verify(&issuer, &signed, &[]);
    assert_eq!(ours.code, 0, "{ours:?}");
    assert!(check(&ours, 0, "revocation").0, "{ours:?}");
    // The signature revision alone has no DSS: no revocation check unless asked.
    let ours = verify(&issuer, &first, &[]);
    assert_eq!(ours.code, 0, "{ours:?}");
    assert!(
        ours.json()["signatures"][0]["checks"]
            .as_array()
            .is_some_and(|c| c.iter().all(|c| c["name"] != "revocation")),
        "{ours:?}"
    );

    // A responder that does not answer: --ocsp-embed writes nothing.
    let late = dir.join("late-signed.pdf");
    let out = sign(&card, &mailer, &input, &late, &["--ocsp-embed"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.starts_with(&format!(
            "melli: --ocsp-embed: OCSP responder {ocsp_url} is unreachable: "
        )) && out.stderr.trim().lines().count() == 1,
        "{out:?}"
    );
    assert!(!late.exists(), "nothing written");
    let leftovers: Vec<_> = fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".melli-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // A second signer of the B-LT PDF, with its own validation data: the DSS keeps the
    // first's, both signatures valid for pdfsig and melli.
    let responder = OcspResponder::start(&index, &signing_ca, &signer, &key, port, dir);
    let twice = dir.join("contract-signed-twice.pdf");
    let out = sign(
        &card,
        &mailer,
        &signed,
        &twice,
        &["--tsa", &tsa.url(), "--ocsp-embed"],
    );
    assert_eq!(
        out.code,
        0,
        "second signature: {out:?}\nresponder: {}",
        responder.log()
    );
    let twice_bytes = fs::read(&twice).expect("read");
    assert!(twice_bytes.starts_with(&bytes));
    let theirs = pdfsig(&db, &twice);
    assert_eq!(
        theirs.stdout.matches("Signature is Valid.").count(),
        2,
        "pdfsig: {theirs:?}"
    );
    assert_eq!(qpdf_check(&twice).code, 0);
    let objects = qpdf_objects(&twice);
    let root_ref = objects["trailer"]["value"]["/Root"]
        .as_str()
        .expect("/Root")
        .to_string();
    let dss_ref = object(&objects, &root_ref)["/DSS"]
        .as_str()
        .expect("an indirect /DSS")
        .to_string();
    let dss = object(&objects, &dss_ref);
    assert_eq!(
        dss["/VRI"].as_object().map(|v| v.len()),
        Some(2),
        "one /VRI entry per signature: {dss}"
    );
    assert_eq!(dss["/OCSPs"].as_array().map(Vec::len), Some(2), "{dss}");
    drop(responder);
    let ours = verify(&issuer, &twice, &["--tsa-trust", &tsa_root]);
    assert_eq!(ours.code, 0, "{ours:?}");
    for index in 0..2 {
        let (passed, _, detail) = check(&ours, index, "revocation");
        assert!(passed && detail.contains("in the PDF's DSS"), "{detail}");
    }

    // Revoked after signing (in a later second than the timestamp): the DSS's answer, given
    // after the trusted timestamp, still says the card was good when it signed; online, the
    // revocation is after the timestamp; without the TSA trusted, it is revoked.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = revoke_card(&issuer, card.serial(), "keyCompromise", &[]);
    assert_eq!(out.code, 0, "melli issuer revoke: {out:?}");
    // OpenSSL 3.0's responder reads a changed index.txt only for the request after the one it
    // waits for: started after the revocation.
    let responder = OcspResponder::start(&index, &signing_ca, &signer, &key, port, dir);
    let ours = verify(&issuer, &signed, &["--tsa-trust", &tsa_root]);
    assert_eq!(ours.code, 0, "offline, after revocation: {ours:?}");
    assert!(check(&ours, 0, "revocation")
        .2
        .contains("OCSP answer in the PDF's DSS"));
    let ours = verify(&issuer, &signed, &["--tsa-trust", &tsa_root, "--online"]);
    assert_eq!(
        ours.code,
        0,
        "online, after revocation: {ours:?}\n{}",
        responder.log()
    );
    let (passed, _, detail) = check(&ours, 0, "revocation");
    assert!(
        passed
            && detail.contains("signer certificate revoked on ")
            && detail.contains("after the timestamp of "),
        "{detail}"
    );
    let ours = verify(&issuer, &signed, &["--online"]);
    assert_eq!(ours.code, 1, "online, TSA not trusted: {ours:?}");
    let (passed, _, detail) = check(&ours, 0, "revocation");
    assert!(!passed && detail.ends_with(": keyCompromise"), "{detail}");
    drop(responder);
}

//! Revocation online (issue 16): `melli verify --online` and `melli verify-signature --online`
//! against OpenSSL's own OCSP responder (`openssl ocsp -index`) serving the issuer's
//! `index.txt`, its key certified by `melli issuer ocsp-responder`; the CRL distribution point
//! served by a small HTTP server; and OpenSSL's OCSP client as the peer that must agree.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use der::{Decode, Encode};
use melli_testkit::http_server::{HttpServer, Reply};

use crate::common::documents::{sign_contract, sign_document, verify_signature_args};
use crate::common::ocsp::{free_port, openssl_ocsp_status, responder_certificate, OcspResponder};
use crate::common::{
    make_issuer_with, melli, personalized_card_of, revoke_card, root_pem, Output, VirtualCard,
};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn revocation_check(out: &Output) -> (bool, bool, String) {
    let check = out.json()["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == "revocation").cloned())
        .unwrap_or_else(|| panic!("no revocation check: {out:?}"));
    (
        check["passed"].as_bool().unwrap_or(false),
        check["unknown"].as_bool().unwrap_or(false),
        check["detail"].as_str().unwrap_or_default().to_string(),
    )
}

/// `melli verify --trust ROOT --reader R --json --online [extra…]`.
fn verify_online(card: &VirtualCard, issuer: &Path, extra: &[&str]) -> Output {
    let root = root_pem(issuer);
    let mut args = vec![
        "verify",
        "--trust",
        &root,
        "--reader",
        card.reader_name(),
        "--json",
        "--online",
    ];
    args.extend_from_slice(extra);
    melli(&args)
}

/// A CRL distribution point: `GET /ca.crl` answers the file `crl` once it exists, 404 before;
/// `GET /root.crl` likewise the file `root.crl` beside it (the root's CRL).
fn crl_server(crl: PathBuf) -> HttpServer {
    let root_crl = crl.with_file_name("root.crl");
    HttpServer::start(move |r| {
        let file = match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/ca.crl") => &crl,
            ("GET", "/root.crl") => &root_crl,
            _ => return Reply::error(404, "no such thing"),
        };
        match std::fs::read(file) {
            Ok(bytes) => Reply::ok("application/pkix-crl", bytes),
            Err(_) => Reply::error(404, "not published yet"),
        }
    })
}

fn melli_ok(args: &[&str]) {
    let out = melli(args);
    assert_eq!(out.code, 0, "melli {args:?}: {out:?}");
}

/// `melli verify-signature FILE SIG --trust ROOT --json [extra…]`.
fn verify_signature_of(issuer: &Path, doc: &(String, String), extra: &[&str]) -> Output {
    let root = root_pem(issuer);
    melli(&verify_signature_args(&root, &doc.0, &doc.1, extra))
}

/// `openssl cms -verify` of a detached signature: whether openssl accepts it, and what it said.
fn openssl_cms_verify(issuer: &Path, doc: &(String, String)) -> (bool, String) {
    let root = root_pem(issuer);
    let out = crate::common::run(
        std::process::Command::new("openssl").args([
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-content",
            &doc.0,
            "-in",
            &doc.1,
            "-CAfile",
            &root,
            "-out",
            "/dev/null",
        ]),
        std::time::Duration::from_secs(30),
    );
    (out.code == 0, format!("{}{}", out.stdout, out.stderr))
}

#[test]
fn good_then_revoked_and_openssl_agrees() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let published = dir.join("published-ca.crl");
    let crl = crl_server(published.clone());
    let port = free_port();
    let ocsp_url = format!("http://127.0.0.1:{port}");
    let crl_url = crl.url("/ca.crl");
    let root_crl_url = crl.url("/root.crl");
    let issuer = make_issuer_with(
        "ocsp",
        &[
            "--ocsp-url",
            &ocsp_url,
            "--crl-url",
            &crl_url,
            "--root-crl-url",
            &root_crl_url,
        ],
    );
    let signing_ca = issuer.join("signing-ca.pem");
    let root = issuer.join("root.pem");
    let (card, mailer) = personalized_card_of(&issuer);
    // index.txt exists from the first certificate issued.
    let (signer, key) = responder_certificate(&issuer, dir, "holders", false);
    let responder = OcspResponder::start(
        &issuer.join("index.txt"),
        &signing_ca,
        &signer,
        &key,
        port,
        dir,
    );
    let read = card.dir().join("read");
    melli_ok(&["read", "--reader", card.reader_name(), "--out", s(&read)]);
    let holder = read.join("holder.pem");
    let doc = sign_contract(&card, &mailer.pin);
    let root_crl = dir.join("root.crl");

    // The signing CA and the document signer name no responder, only the root's CRL
    // distribution point: before the root's CRL is published there, their status is unknown,
    // never a silent pass.
    let out = verify_online(&card, &issuer, &[]);
    assert_eq!(out.code, 1, "{out:?}");
    let (_, unknown, detail) = revocation_check(&out);
    assert!(unknown, "{out:?}");
    assert!(
        detail.contains("it names no OCSP responder")
            && detail.contains(&root_crl_url)
            && detail.contains("HTTP 404")
            && detail.contains("for the CA certificate melli Signing CA")
            && !detail.contains("for the holder certificate"),
        "{detail}"
    );
    // Published: `--online` alone finds every status — the holder's by OCSP, the CAs' on the
    // root's CRL from its distribution point.
    melli_ok(&["issuer", "crl", s(&issuer), "--root-out", s(&root_crl)]);
    let out = verify_online(&card, &issuer, &[]);
    assert_eq!(out.code, 0, "{out:?}\nresponder: {}", responder.log());
    let (passed, _, detail) = revocation_check(&out);
    assert!(passed && detail.contains("OCSP"), "{detail}");

    // Everything served: PASS, the holder certificate by OCSP.
    let out = verify_online(&card, &issuer, &["--crl", s(&root_crl)]);
    assert_eq!(out.code, 0, "{out:?}\nresponder: {}", responder.log());
    let (passed, _, detail) = revocation_check(&out);
    assert!(passed && detail.ends_with("(fresh CRLs, OCSP)"), "{detail}");
    let (ok, said) = openssl_ocsp_status(&signing_ca, &holder, &ocsp_url, &root, &signing_ca);
    assert!(
        ok && said.contains("Response verify OK") && said.contains(": good"),
        "openssl ocsp: {said}"
    );
    let verify_signature = |extra: &[&str]| {
        let root = root_pem(&issuer);
        let mut args = vec![
            "verify-signature",
            &doc.0,
            &doc.1,
            "--trust",
            &root,
            "--json",
            "--online",
            "--crl",
            s(&root_crl),
        ];
        args.extend_from_slice(extra);
        melli(&args)
    };
    let out = verify_signature(&[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(revocation_check(&out).0, "{out:?}");

    // --ocsp-embed: the signer's good answer carried in the signature (RFC 5940), which
    // openssl cms -verify still accepts.
    let (out, file, sig) = sign_document(&card, &mailer.pin, "embedded.txt", &["--ocsp-embed"]);
    assert_eq!(out.code, 0, "melli sign --ocsp-embed: {out:?}");
    let embedded = (file, sig);
    let (ok, said) = openssl_cms_verify(&issuer, &embedded);
    assert!(ok, "openssl cms -verify: {said}");

    // The responder gone and no CRL published yet: UNKNOWN, the responder named; exit 1
    // unless an unknown status is accepted.
    drop(responder);
    let out = verify_online(&card, &issuer, &["--crl", s(&root_crl)]);
    assert_eq!(out.code, 1, "{out:?}");
    let (_, unknown, detail) = revocation_check(&out);
    assert!(unknown, "{out:?}");
    assert!(
        detail.contains(&format!("OCSP responder {ocsp_url} is unreachable: "))
            && detail.contains(&format!(
                "CRL distribution point {crl_url} answered HTTP 404"
            ))
            && detail.contains("for the holder certificate")
            && detail.contains("--allow-unknown-revocation"),
        "{detail}"
    );
    let out = verify_online(
        &card,
        &issuer,
        &["--crl", s(&root_crl), "--allow-unknown-revocation"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(revocation_check(&out).1, "{out:?}");
    // The signature that carries its answer needs no responder (while the answer is fresh),
    // offline and online alike; one that does not, does; and none can be embedded now.
    for extra in [
        &["--crl", s(&root_crl)][..],
        &["--online", "--crl", s(&root_crl)],
    ] {
        let out = verify_signature_of(&issuer, &embedded, extra);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(
            revocation_check(&out).2.ends_with("(OCSP, fresh CRLs)"),
            "{out:?}"
        );
    }
    let out = verify_signature_of(&issuer, &doc, &["--crl", s(&root_crl)]);
    assert_eq!(out.code, 1, "{out:?}");
    let (out, _, sig) = sign_document(&card, &mailer.pin, "late.txt", &["--ocsp-embed"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.starts_with(&format!(
            "melli: --ocsp-embed: OCSP responder {ocsp_url} is unreachable: "
        )) && out.stderr.trim().lines().count() == 1,
        "{out:?}"
    );
    assert!(!Path::new(&sig).exists(), "nothing written");

    // The signing CA's CRL published at the distribution point: the fallback answers.
    melli_ok(&["issuer", "crl", s(&issuer), "--out", s(&published)]);
    let out = verify_online(&card, &issuer, &["--crl", s(&root_crl)]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(revocation_check(&out).2.contains("(fresh CRLs)"), "{out:?}");

    // Revoked: melli and openssl agree. OpenSSL 3.0's responder looks whether index.txt
    // changed before it waits for a request, so the first answer after a change is still
    // from the old index: it is started after the revocation.
    let out = revoke_card(&issuer, card.serial(), "keyCompromise", &[]);
    assert_eq!(out.code, 0, "melli issuer revoke: {out:?}");
    let responder = OcspResponder::start(
        &issuer.join("index.txt"),
        &signing_ca,
        &signer,
        &key,
        port,
        dir,
    );
    let out = verify_online(&card, &issuer, &["--crl", s(&root_crl)]);
    assert_eq!(out.code, 1, "{out:?}\nresponder: {}", responder.log());
    let (passed, _, detail) = revocation_check(&out);
    assert!(
        !passed
            && detail.starts_with("holder certificate revoked on ")
            && detail.ends_with(": keyCompromise"),
        "{detail}"
    );
    let (ok, said) = openssl_ocsp_status(&signing_ca, &holder, &ocsp_url, &root, &signing_ca);
    assert!(
        ok && said.contains(": revoked") && said.contains("Reason: keyCompromise"),
        "openssl ocsp: {said}"
    );
    let out = verify_signature(&[]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        revocation_check(&out).2.ends_with(": keyCompromise"),
        "{out:?}"
    );
    // Online, the responder's fresher word beats the good answer the signature carries …
    let out = verify_signature_of(&issuer, &embedded, &["--online", "--crl", s(&root_crl)]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        revocation_check(&out).2.ends_with(": keyCompromise"),
        "{out:?}"
    );
    // … and a revoked card's signature gets no answer embedded.
    let (out, _, sig) = sign_document(&card, &mailer.pin, "revoked.txt", &["--ocsp-embed"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("the OCSP responder says the signer certificate is revoked since ")
            && out.stderr.contains(": keyCompromise — nothing written"),
        "{out:?}"
    );
    assert!(!Path::new(&sig).exists(), "nothing written");
}

/// Where the test's proxy sends OCSP requests, and whether it asks about another serial.
#[derive(Clone, Default)]
struct Route {
    to: Option<String>,
    other_serial: bool,
}

/// An OCSP proxy in front of real responders: `POST /ocsp` goes to `route.to`, the request's
/// serial number changed first when `route.other_serial`. `GET /ca.crl` is never published.
fn proxy(route: Arc<Mutex<Route>>) -> HttpServer {
    HttpServer::start(move |r| {
        let route = route.lock().expect("route").clone();
        let (Some(to), "/ocsp") = (route.to, r.path.as_str()) else {
            return Reply::error(404, "no such thing");
        };
        let mut body = r.body;
        if route.other_serial {
            let mut request = x509_ocsp::OcspRequest::from_der(&body).expect("an OCSP request");
            request.tbs_request.request_list[0].req_cert.serial_number =
                x509_cert::serial_number::SerialNumber::new(&[0x01, 0x23, 0x45]).expect("serial");
            body = request.to_der().expect("encode");
        }
        match melli::net::post(
            &to,
            "application/ocsp-request",
            &body,
            "application/ocsp-response",
            melli::net::Limits::new(64 * 1024),
        ) {
            Ok(answer) => Reply::ok("application/ocsp-response", answer),
            Err(e) => {
                eprintln!("the OCSP proxy could not forward: {e}");
                Reply::error(502, &e.to_string())
            }
        }
    })
}

#[test]
fn answers_for_another_certificate_or_by_an_unauthorised_responder_are_refused() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let route = Arc::new(Mutex::new(Route::default()));
    let proxy = proxy(Arc::clone(&route));
    let issuer = make_issuer_with(
        "ocsp-refused",
        &[
            "--ocsp-url",
            &proxy.url("/ocsp"),
            "--crl-url",
            &proxy.url("/ca.crl"),
        ],
    );
    let index = issuer.join("index.txt");
    let signing_ca = issuer.join("signing-ca.pem");
    let (card, _) = personalized_card_of(&issuer);
    let root_crl = dir.join("root.crl");
    melli_ok(&["issuer", "crl", s(&issuer), "--root-out", s(&root_crl)]);

    // The real responder, and one whose key the root certified: a responder, but not one the
    // signing CA authorised to answer for its holders.
    let (signer, key) = responder_certificate(&issuer, dir, "holders", false);
    let good = OcspResponder::start(&index, &signing_ca, &signer, &key, free_port(), dir);
    let (rogue_signer, rogue_key) = responder_certificate(&issuer, dir, "rogue", true);
    let rogue = OcspResponder::start(
        &index,
        &signing_ca,
        &rogue_signer,
        &rogue_key,
        free_port(),
        dir,
    );
    let go = |to: &OcspResponder, other_serial: bool| {
        *route.lock().expect("route") = Route {
            to: Some(to.url()),
            other_serial,
        };
        verify_online(&card, &issuer, &["--crl", s(&root_crl)])
    };

    // Through the proxy, untouched: PASS.
    let out = go(&good, false);
    assert_eq!(out.code, 0, "{out:?}");

    // The responder asked about another serial number: its answer is refused, with why.
    let out = go(&good, true);
    assert_eq!(out.code, 1, "{out:?}");
    let (_, unknown, detail) = revocation_check(&out);
    assert!(unknown, "{out:?}");
    assert!(
        detail.contains(&format!(
            "the OCSP answer of {} is refused: it is for another certificate (serial number 012345), not the holder certificate (serial number ",
            proxy.url("/ocsp")
        )),
        "{detail}"
    );

    // Signed by a responder the root certified, for a holder certificate the signing CA issued.
    let out = go(&rogue, false);
    assert_eq!(out.code, 1, "{out:?}\nrogue: {}", rogue.log());
    let (_, unknown, detail) = revocation_check(&out);
    assert!(unknown, "{out:?}");
    assert!(
        detail.contains("is refused: signed by melli OCSP responder rogue, which melli Signing CA did not authorise to answer for it: its certificate is issued by melli Root CA"),
        "{detail}"
    );

    // That certificate's place: answering for the root's own certificates, as openssl agrees.
    drop(rogue);
    let root = issuer.join("root.pem");
    let for_root = OcspResponder::start(&index, &root, &rogue_signer, &rogue_key, free_port(), dir);
    let (ok, said) = openssl_ocsp_status(&root, &signing_ca, &for_root.url(), &root, &root);
    assert!(
        ok && said.contains("Response verify OK") && said.contains(": good"),
        "openssl ocsp: {said}"
    );
}

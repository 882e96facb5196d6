//! TLS client-certificate login with the card (issue 17): Debian's nginx asks for a client
//! certificate that chains to the issuer's CAs (`ssl_verify_client on`, `ssl_client_certificate`
//! = root + signing CA, optionally `ssl_crl`) and echoes the verified certificate's subject.
//! curl and `openssl s_client` log in through OpenSSL's pkcs11 engine (libp11) and the melli
//! PKCS#11 module with the card's authentication key, and see the holder's national code on
//! the page. nginx refuses a revoked card, a card of another issuer, and the signing key (its
//! certificate has no clientAuth purpose); `melli verify-signature` refuses a document signed
//! with the login key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::documents::{failed_checks, named_check, verify_signature_args};
use crate::common::nginx::{Nginx, ServerCa};
use crate::common::pkcs11::{command, engine_tty_sh, openssl_conf, openssl_engine, sh_quote};
use crate::common::{
    assert_secret_absent, make_issuer, melli, other_issuer, personalized_card,
    personalized_card_of, publish_crls, revoke_card, root_pem, run_with_input, test_issuer,
    write_private, Output, VirtualCard,
};

const AUTHENTICATION: &str = "Authentication";
const SIGNING: &str = "Digital%20Signature";

/// What nginx says of a client whose certificate it could not verify (`ssl_verify_client on`:
/// the handshake completes, the request is answered 400 with this page).
const REFUSED_PAGE: &str = "The SSL certificate error";

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// The national code of the record every personalized test card is made from.
fn national_code() -> String {
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("fixtures/records/valid-1.json").expect("the record"),
    )
    .expect("JSON record");
    record["national_code"]
        .as_str()
        .expect("national_code")
        .to_string()
}

/// `melli read --out CARD_DIR/read`: `authentication.pem`, `holder.pem`, `signing-ca.pem`, ….
fn read_certificates(card: &VirtualCard) -> PathBuf {
    let read = card.dir().join("read");
    let out = melli(&["read", "--reader", card.reader_name(), "--out", s(&read)]);
    assert_eq!(
        out.code,
        0,
        "melli read: {out:?}\ncard log:\n{}",
        card.log()
    );
    assert!(read.join("authentication.pem").exists(), "{out:?}");
    read
}

/// The engine's URI of the card's private key labelled `object` (URI-encoded).
fn key_uri(card: &VirtualCard, object: &str) -> String {
    format!(
        "pkcs11:serial={};object={object};type=private",
        card.serial()
    )
}

/// The certificate curl presents: from the card through the engine, or a PEM file.
enum Cert<'a> {
    OnCard(&'a str),
    File(&'a Path),
}

/// A curl configuration file (`curl -K`, mode 0600) in `dir` for a login to `nginx` with the
/// card's key labelled `key_object` and `cert`, trusting the server by `server`'s CA. The PIN
/// of the token login goes in it, on no command line: as the key's passphrase (`pass`), which
/// libp11 asks curl's UI for when it loads the key; and, for a certificate from the card, in
/// the certificate's URI (`pin-value`) — curl loads the certificate first, with no UI of its
/// own, and libp11 (FORCE_LOGIN) logs in before it looks. curl prints the page, then
/// `status: CODE`.
fn curl_config(
    tag: &str,
    card: &VirtualCard,
    key_object: &str,
    cert: Cert,
    pin: &str,
    nginx: &Nginx,
    server: &ServerCa,
) -> PathBuf {
    let (cert_type, cert) = match cert {
        Cert::OnCard(object) => (
            "ENG",
            format!(
                "pkcs11:serial={};object={object};type=cert;pin-value={pin}",
                card.serial()
            ),
        ),
        Cert::File(path) => ("PEM", s(path).to_string()),
    };
    let path = card.dir().join(format!("curl-{tag}.conf"));
    write_private(
        &path,
        &format!(
            "silent\nshow-error\nengine = \"pkcs11\"\nkey-type = \"ENG\"\nkey = \"{}\"\n\
             cert-type = \"{cert_type}\"\ncert = \"{cert}\"\npass = \"{pin}\"\n\
             cacert = \"{}\"\nwrite-out = \"status: %{{http_code}}\\n\"\nurl = \"{}\"\n",
            key_uri(card, key_object),
            s(&server.ca_pem),
            nginx.url(),
        ),
    );
    path
}

/// curl with the configuration `conf`, the engine loaded by `OPENSSL_CONF`, seeing only the
/// card's reader.
fn curl(card: &VirtualCard, conf: &Path) -> Output {
    crate::common::run(
        command("curl", card.reader_name())
            .current_dir(card.dir())
            .env("OPENSSL_CONF", openssl_conf(card.dir()))
            .args(["-K", s(conf)]),
        Duration::from_secs(60),
    )
}

/// `openssl s_client` logging in to `nginx` with the card's authentication key and the
/// certificate `cert`, the PIN read from a 0600 file (`-pass file:`), `GET /` sent on stdin.
fn s_client(
    card: &VirtualCard,
    pin: &str,
    cert: &Path,
    nginx: &Nginx,
    server: &ServerCa,
) -> Output {
    let dir = card.dir();
    let pin_file = dir.join("s_client.pin");
    if !pin_file.exists() {
        write_private(&pin_file, &format!("{pin}\n"));
    }
    run_with_input(
        command("openssl", card.reader_name())
            .current_dir(dir)
            .env("OPENSSL_CONF", openssl_conf(dir))
            .args(["s_client", "-connect", &nginx.address()])
            .args(["-servername", "localhost", "-verify_return_error"])
            .args(["-CAfile", s(&server.ca_pem)])
            .args(["-engine", "pkcs11", "-keyform", "engine"])
            .args(["-key", &key_uri(card, AUTHENTICATION)])
            .args(["-cert", s(cert), "-pass", &format!("file:{}", s(&pin_file))])
            .arg("-ign_eof"),
        Some("GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"),
        Duration::from_secs(60),
    )
}

/// Asserts that `out` shows the page of a verified login of the holder of the record's
/// national code: in the certificate's subject, and as the application got it from nginx.
fn assert_logged_in(out: &Output, nginx: &Nginx, card: &VirtualCard) {
    let code = national_code();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines.contains(&"verify: SUCCESS")
            && lines.contains(&format!("national code: {code}").as_str())
            && lines
                .iter()
                .any(|l| l.starts_with("subject: ") && l.contains(&format!("serialNumber={code}"))),
        "no login page with the national code {code}: {out:?}\nnginx:\n{}\ncard log:\n{}",
        nginx.log(),
        card.log()
    );
}

/// Asserts that nginx answered `out` (a curl run) with its 400 page, and that its error log
/// gives `reason` as the verification error.
fn assert_refused(out: &Output, nginx: &Nginx, reason: &str) {
    assert!(
        out.code == 0 && out.stdout.contains("status: 400") && out.stdout.contains(REFUSED_PAGE),
        "not nginx's refusal: {out:?}\nnginx:\n{}",
        nginx.log()
    );
    assert!(!out.stdout.contains("verify: SUCCESS"), "{out:?}");
    let log = nginx.log();
    assert!(
        log.lines()
            .any(|l| l.contains("client SSL certificate verify error") && l.contains(reason)),
        "nginx does not say {reason:?}:\n{log}"
    );
}

/// A fresh directory in the card's directory.
fn subdir(card: &VirtualCard, name: &str) -> PathBuf {
    let dir = card.dir().join(name);
    std::fs::create_dir_all(&dir).expect("a directory");
    dir
}

#[test]
fn a_card_logs_in_to_nginx_with_curl_and_openssl_s_client() {
    let (card, mailer) = personalized_card();
    let dir = card.dir().to_path_buf();
    let read = read_certificates(&card);
    let server = ServerCa::create(&subdir(&card, "server-ca"));
    let nginx = Nginx::for_issuer(&dir, "client-cas", &server, test_issuer(), &[]);

    // curl: the key and the certificate both from the card, through the engine.
    let conf = curl_config(
        "card-cert",
        &card,
        AUTHENTICATION,
        Cert::OnCard(AUTHENTICATION),
        &mailer.pin,
        &nginx,
        &server,
    );
    let by_card = curl(&card, &conf);
    assert_eq!(
        by_card.code,
        0,
        "curl: {by_card:?}\nnginx:\n{}",
        nginx.log()
    );
    assert!(by_card.stdout.contains("status: 200"), "{by_card:?}");
    assert_logged_in(&by_card, &nginx, &card);
    // curl with the certificate `melli read` wrote.
    let conf = curl_config(
        "pem-cert",
        &card,
        AUTHENTICATION,
        Cert::File(&read.join("authentication.pem")),
        &mailer.pin,
        &nginx,
        &server,
    );
    let by_file = curl(&card, &conf);
    assert_eq!(
        by_file.code,
        0,
        "curl: {by_file:?}\nnginx:\n{}",
        nginx.log()
    );
    assert_logged_in(&by_file, &nginx, &card);

    // openssl s_client, the PIN from a file.
    let out = s_client(
        &card,
        &mailer.pin,
        &read.join("authentication.pem"),
        &nginx,
        &server,
    );
    assert_eq!(out.code, 0, "s_client: {out:?}\nnginx:\n{}", nginx.log());
    assert!(out.stdout.contains("HTTP/1.1 200"), "{out:?}");
    assert_logged_in(&out, &nginx, &card);

    // The PIN shows in no client's output, nor in nginx's or the card's log.
    let logs = Output {
        code: 0,
        stdout: nginx.log(),
        stderr: card.log(),
    };
    assert_secret_absent(&mailer.pin, &[&by_card, &by_file, &out, &logs]);
}

/// curl logs in to `nginx` with the card's Authentication key and `authentication.pem` of
/// `read` (`melli read --out`).
fn curl_login(
    card: &VirtualCard,
    read: &Path,
    pin: &str,
    server: &ServerCa,
    nginx: &Nginx,
    tag: &str,
) -> Output {
    let cert = read.join("authentication.pem");
    let conf = curl_config(
        tag,
        card,
        AUTHENTICATION,
        Cert::File(&cert),
        pin,
        nginx,
        server,
    );
    curl(card, &conf)
}

#[test]
fn nginx_refuses_a_card_whose_authentication_certificate_is_revoked() {
    let issuer = make_issuer("tls-revoked");
    let (card, mailer) = personalized_card_of(&issuer);
    let dir = card.dir().to_path_buf();
    let read = read_certificates(&card);
    let server = ServerCa::create(&subdir(&card, "server-ca"));
    let login =
        |nginx: &Nginx, tag: &str| curl_login(&card, &read, &mailer.pin, &server, nginx, tag);

    // With both CRLs and nothing revoked, the card logs in.
    let before = publish_crls(&issuer, &dir, "before", &[]);
    let nginx = Nginx::for_issuer(&dir, "before", &server, &issuer, &[&before.0, &before.1]);
    let out = login(&nginx, "before");
    assert_eq!(out.code, 0, "curl: {out:?}\nnginx:\n{}", nginx.log());
    assert_logged_in(&out, &nginx, &card);
    drop(nginx);

    // The card revoked (its certificates: the login one among them), the CRLs published anew.
    let out = revoke_card(&issuer, card.serial(), "keyCompromise", &["--json"]);
    assert_eq!(out.code, 0, "melli issuer revoke: {out:?}");
    let serial = authentication_serial(&dir);
    let changed = out.json()["changed"].clone();
    assert!(
        changed
            .as_array()
            .expect("changed")
            .iter()
            .any(|e| e["serial"].as_str().map(str::to_ascii_uppercase) == Some(serial.clone())),
        "the authentication certificate {serial} is not among the revoked: {changed}"
    );
    let after = publish_crls(&issuer, &dir, "after", &[]);
    let nginx = Nginx::for_issuer(&dir, "after", &server, &issuer, &[&after.0, &after.1]);
    let out = login(&nginx, "after");
    assert_refused(&out, &nginx, "certificate revoked");
}

/// The serial number of `read/authentication.pem`, hex upper case, as openssl prints it.
fn authentication_serial(dir: &Path) -> String {
    let out = crate::common::run(
        std::process::Command::new("openssl").args([
            "x509",
            "-noout",
            "-serial",
            "-in",
            s(&dir.join("read/authentication.pem")),
        ]),
        Duration::from_secs(30),
    );
    assert_eq!(out.code, 0, "{out:?}");
    out.stdout
        .trim()
        .strip_prefix("serial=")
        .expect("serial=")
        .to_ascii_uppercase()
}

#[test]
fn nginx_refuses_a_card_of_another_issuer() {
    let (card, mailer) = personalized_card_of(other_issuer());
    let dir = card.dir().to_path_buf();
    let read = read_certificates(&card);
    let server = ServerCa::create(&subdir(&card, "server-ca"));
    let login =
        |nginx: &Nginx, tag: &str| curl_login(&card, &read, &mailer.pin, &server, nginx, tag);

    // A service of the test issuer refuses it …
    let nginx = Nginx::for_issuer(&dir, "test-issuer", &server, test_issuer(), &[]);
    let out = login(&nginx, "test-issuer");
    assert_refused(&out, &nginx, "unable to verify the first certificate");
    drop(nginx);

    // … and a service of its own issuer lets it in.
    let nginx = Nginx::for_issuer(&dir, "own-issuer", &server, other_issuer(), &[]);
    let out = login(&nginx, "own-issuer");
    assert_eq!(out.code, 0, "curl: {out:?}\nnginx:\n{}", nginx.log());
    assert_logged_in(&out, &nginx, &card);
}

/// The signing key with its certificate (keyUsage nonRepudiation, no clientAuth) makes the
/// handshake's signature — its context-specific login typed on the terminal — and nginx refuses
/// the certificate for TLS client authentication.
#[test]
fn nginx_refuses_a_login_with_the_signing_key() {
    let (card, mailer) = personalized_card();
    let dir = card.dir().to_path_buf();
    let read = read_certificates(&card);
    let server = ServerCa::create(&subdir(&card, "server-ca"));
    let nginx = Nginx::for_issuer(&dir, "client-cas", &server, test_issuer(), &[]);
    let conf = curl_config(
        "signing",
        &card,
        SIGNING,
        Cert::File(&read.join("holder.pem")),
        &mailer.pin,
        &nginx,
        &server,
    );
    let out = engine_tty_sh(
        &dir,
        card.reader_name(),
        &format!("curl -K {}", sh_quote(s(&conf))),
        &mailer.pin,
    );
    assert_secret_absent(&mailer.pin, &[&out]);
    assert_refused(&out, &nginx, "unsuitable certificate purpose");
}

/// The login key signs a document through OpenSSL (`openssl cms -sign` with the engine and
/// `authentication.pem`, with signingCertificateV2): `melli verify-signature` finds the
/// signature good and refuses it for its certificate's purpose.
#[test]
fn a_document_signed_with_the_login_key_is_refused() {
    let (card, mailer) = personalized_card();
    let dir = card.dir().to_path_buf();
    let read = read_certificates(&card);
    std::fs::write(dir.join("doc.txt"), "Signed with the login key.\n").expect("doc");
    let pin_file = dir.join("cms.pin");
    write_private(&pin_file, &format!("{}\n", mailer.pin));
    let out = openssl_engine(
        &dir,
        card.reader_name(),
        &[
            "cms",
            "-sign",
            "-binary",
            "-cades",
            "-md",
            "sha256",
            "-in",
            "doc.txt",
            "-signer",
            s(&read.join("authentication.pem")),
            "-certfile",
            s(&read.join("signing-ca.pem")),
            "-engine",
            "pkcs11",
            "-keyform",
            "engine",
            "-inkey",
            &key_uri(&card, AUTHENTICATION),
            "-passin",
            &format!("file:{}", s(&pin_file)),
            "-outform",
            "DER",
            "-out",
            "doc.p7s",
        ],
    );
    assert_eq!(out.code, 0, "openssl cms -sign with the login key: {out:?}");
    let root = root_pem(test_issuer());
    let doc = dir.join("doc.txt");
    let sig = dir.join("doc.p7s");
    let out = melli(&verify_signature_args(&root, s(&doc), s(&sig), &[]));
    assert_eq!(out.code, 1, "verify-signature: {out:?}");
    let failed = failed_checks(&out);
    // A good signature over the document, bound to its certificate (-cades): refused for the
    // certificate's purpose alone.
    assert_eq!(named_check(&out, "signature")["passed"], true, "{out:?}");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].contains("signer certificate chain") && failed[0].contains("clientAuth"),
        "the failed check does not name the login certificate's purpose: {failed:?}"
    );
}

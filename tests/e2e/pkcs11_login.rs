//! The PKCS#11 module and a version 1.1 card (issue 17, applets-spec §12): two keys, each with
//! its certificate and public key, labelled "Authentication" and "Digital Signature"; the
//! signing key is CKA_ALWAYS_AUTHENTICATE (a fresh VERIFY for every signature, §12.4), the
//! login key signs for the whole logged-in session. Through pkcs11-tool, p11tool, OpenSSL and an
//! application on the `cryptoki` crate.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::pinentry::TestPinentry;
use crate::common::pkcs11::{module_str, pkcs11_tool_ok};
use crate::common::{melli, personalized_card, run, Output};

const AUTHENTICATION: &str = "Authentication";
const SIGNING: &str = "Digital Signature";

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// One object of pkcs11-tool -O's listing: its heading ("Private Key Object; EC") and its
/// indented lines.
struct Listed {
    heading: String,
    lines: Vec<String>,
}

impl Listed {
    fn field(&self, name: &str) -> Option<&str> {
        self.lines
            .iter()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(|v| v.trim_start_matches(':').trim())
    }
}

fn listed(listing: &str) -> Vec<Listed> {
    let mut out: Vec<Listed> = Vec::new();
    for line in listing.lines() {
        if line.contains(" Object") && !line.starts_with(char::is_whitespace) {
            out.push(Listed {
                heading: line.to_string(),
                lines: Vec::new(),
            });
        } else if let Some(last) = out.last_mut() {
            last.lines.push(line.to_string());
        }
    }
    out
}

/// The object of `kind` labelled `label`, exactly one.
fn find<'l>(objects: &'l [Listed], kind: &str, label: &str) -> &'l Listed {
    let found: Vec<&Listed> = objects
        .iter()
        .filter(|o| o.heading.starts_with(kind) && o.field("label") == Some(label))
        .collect();
    assert_eq!(found.len(), 1, "{kind} {label:?}: {} found", found.len());
    found[0]
}

fn openssl(dir: &Path, args: &[&str]) -> Output {
    let out = run(
        Command::new("openssl").current_dir(dir).args(args),
        Duration::from_secs(30),
    );
    assert_eq!(out.code, 0, "openssl {args:?}: {out:?}");
    out
}

/// pkcs11-tool signs `doc.txt` in `dir` with the key `id` labelled `label` (ECDSA-SHA256,
/// logging in with `pin`), and OpenSSL verifies the signature with the public key of
/// `cert_pem`. (pkcs11-tool 0.23 picks the key of `--sign` by `--id` only: with `--label` alone
/// it takes the first private key.)
fn sign_and_verify(
    reader: &str,
    dir: &Path,
    (label, id): (&str, &str),
    pin: &str,
    cert_pem: &Path,
) {
    let name = label.replace(' ', "-");
    let sig = dir.join(format!("{name}.sig"));
    let signed = pkcs11_tool_ok(
        reader,
        &[
            "--sign",
            "--mechanism",
            "ECDSA-SHA256",
            "--login",
            "--pin",
            pin,
            "--id",
            id,
            "--signature-format",
            "openssl",
            "--input-file",
            s(&dir.join("doc.txt")),
            "--output-file",
            s(&sig),
        ],
    );
    crate::common::assert_secret_absent(pin, &[&signed]);
    let public = dir.join(format!("{name}.pub.pem"));
    openssl(
        dir,
        &[
            "x509",
            "-in",
            s(cert_pem),
            "-noout",
            "-pubkey",
            "-out",
            s(&public),
        ],
    );
    let verified = openssl(
        dir,
        &[
            "dgst",
            "-sha256",
            "-verify",
            s(&public),
            "-signature",
            s(&sig),
            "doc.txt",
        ],
    );
    assert!(verified.stdout.contains("Verified OK"), "{verified:?}");
}

#[test]
fn pkcs11_tool_shows_and_uses_the_authentication_and_the_signing_key() {
    let (card, mailer) = personalized_card();
    let reader = card.reader_name();
    let dir = card.dir().to_path_buf();

    let listing = pkcs11_tool_ok(reader, &["-O"]).stdout;
    let objects = listed(&listing);
    let mut ids = Vec::new();
    for label in [AUTHENTICATION, SIGNING] {
        let private = find(&objects, "Private Key Object", label);
        let public = find(&objects, "Public Key Object", label);
        let cert = find(&objects, "Certificate Object", label);
        let id = private.field("ID").expect("ID").to_string();
        assert_eq!(public.field("ID"), Some(id.as_str()), "{listing}");
        assert_eq!(cert.field("ID"), Some(id.as_str()), "{listing}");
        assert!(
            private.field("Usage").is_some_and(|u| u.contains("sign")),
            "{listing}"
        );
        let always = private
            .lines
            .iter()
            .any(|l| l.contains("always authenticate"));
        assert_eq!(
            always,
            label == SIGNING,
            "CKA_ALWAYS_AUTHENTICATE:\n{listing}"
        );
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1], "{listing}");
    let private_keys = objects
        .iter()
        .filter(|o| o.heading.starts_with("Private Key Object"))
        .count();
    assert_eq!(private_keys, 2, "{listing}");
    // The CA certificate is there too, once.
    let certificates = objects
        .iter()
        .filter(|o| o.heading.starts_with("Certificate Object"))
        .count();
    assert_eq!(certificates, 3, "{listing}");

    // The certificates as `melli read` writes them.
    let read = dir.join("read");
    let out = melli(&["read", "--reader", reader, "--out", s(&read)]);
    assert_eq!(out.code, 0, "melli read: {out:?}");
    fs::write(
        dir.join("doc.txt"),
        "Signed through PKCS#11 with each key.\n",
    )
    .expect("doc");

    // The login key signs after --login; pkcs11-tool logs in once for the session.
    sign_and_verify(
        reader,
        &dir,
        (AUTHENTICATION, &ids[0]),
        &mailer.pin,
        &read.join("authentication.pem"),
    );
    // The signing key: pkcs11-tool sees CKA_ALWAYS_AUTHENTICATE and makes the
    // context-specific login itself after C_SignInit, with the same PIN.
    sign_and_verify(
        reader,
        &dir,
        (SIGNING, &ids[1]),
        &mailer.pin,
        &read.join("holder.pem"),
    );

    // GnuTLS lists both keys and both certificates by their labels (the private keys after
    // login: GNUTLS_PIN).
    let p11tool = run(
        crate::common::pkcs11::command("p11tool", reader)
            .env("GNUTLS_PIN", &mailer.pin)
            .args([
                "--provider",
                module_str(),
                "--login",
                "--list-all",
                "pkcs11:model=melli%20ID%20card",
            ]),
        Duration::from_secs(60),
    );
    assert_eq!(p11tool.code, 0, "p11tool: {p11tool:?}");
    for label in [AUTHENTICATION, SIGNING] {
        let url = format!("object={}", label.replace(' ', "%20"));
        let shown = p11tool.stdout.lines().filter(|l| l.contains(&url)).count();
        // Certificate, public key and private key.
        assert_eq!(shown, 3, "{label}: {p11tool:?}");
    }
}

/// `crates/melli-pkcs11/examples/p11_drive.rs context`: C_SignInit + C_Sign with the signing key
/// and no context-specific login answers CKR_USER_NOT_LOGGED_IN, with it the signature is made
/// (once); the login key needs none.
#[test]
fn the_signing_key_wants_a_context_specific_login_for_every_signature() {
    let (card, mailer) = personalized_card();
    let out = run(
        crate::common::pkcs11::command(s(&crate::pkcs11::driver()), card.reader_name()).args([
            module_str(),
            "context",
            card.serial(),
            &mailer.pin,
        ]),
        Duration::from_secs(120),
    );
    assert_eq!(
        out.code,
        0,
        "p11_drive context: {out:?}\ncard log:\n{}",
        card.log()
    );
    assert!(out.stdout.contains("context ok"), "{out:?}");
    crate::common::assert_secret_absent(&mailer.pin, &[&out]);
}

/// A version 1.0 card (no key `03`, no DG7): the token shows the Digital Signature objects only,
/// as before version 1.1, and that key still signs through pkcs11-tool (context login and all).
#[test]
fn a_version_1_0_card_shows_only_the_signing_key() {
    use crate::common::{card_kind, personalized_version_1_0_card, CardKind};
    if card_kind() != CardKind::Rust {
        // The Java Card applet's version comes from its build, not from the state file.
        return;
    }
    let (card, mailer) = personalized_version_1_0_card();
    let reader = card.reader_name();
    let dir = card.dir().to_path_buf();

    let listing = pkcs11_tool_ok(reader, &["-O"]).stdout;
    assert!(!listing.contains(AUTHENTICATION), "{listing}");
    let objects = listed(&listing);
    let private = find(&objects, "Private Key Object", SIGNING);
    find(&objects, "Public Key Object", SIGNING);
    find(&objects, "Certificate Object", SIGNING);
    let keys = objects
        .iter()
        .filter(|o| o.heading.starts_with("Private Key Object"))
        .count();
    assert_eq!(keys, 1, "{listing}");
    let id = private.field("ID").expect("ID").to_string();

    let read = dir.join("read");
    let out = melli(&["read", "--reader", reader, "--out", s(&read)]);
    assert_eq!(out.code, 0, "melli read: {out:?}");
    assert!(!read.join("authentication.pem").exists());
    fs::write(dir.join("doc.txt"), "Signed on a version 1.0 card.\n").expect("doc");
    sign_and_verify(
        reader,
        &dir,
        (SIGNING, &id),
        &mailer.pin,
        &read.join("holder.pem"),
    );
}

/// The module's own PIN dialog (`MELLI_PINENTRY`; docs/browser-login.md), driven by
/// `p11_drive dialog`: the token asks no login and says it has a protected authentication path;
/// without any C_Login the login key signs twice on one dialog and the signing key twice on a
/// dialog each; C_Login without a PIN asks once more. Each dialog names the card and what the
/// PIN is for, and the PIN reaches the card only.
#[test]
fn the_modules_own_pin_dialog_asks_once_per_session_for_logins_and_per_signature() {
    let (card, mailer) = personalized_card();
    let pinentry = TestPinentry::new(&card.dir().join("pinentry"), &mailer.pin);
    let out = run(
        crate::common::pkcs11::command(s(&crate::pkcs11::driver()), card.reader_name())
            .env("MELLI_PINENTRY", pinentry.program())
            .args([module_str(), "dialog", card.serial()]),
        Duration::from_secs(120),
    );
    assert_eq!(
        out.code,
        0,
        "p11_drive dialog: {out:?}\ncard log:\n{}",
        card.log()
    );
    let asked = pinentry.descriptions();
    assert_eq!(asked.len(), 4, "PIN dialogs: {asked:?}");
    let login = asked.iter().filter(|d| d.contains("to log in")).count();
    let signature = asked.iter().filter(|d| d.contains("to sign")).count();
    assert_eq!((login, signature), (2, 2), "{asked:?}");
    assert!(asked.iter().all(|d| d.contains(card.serial())), "{asked:?}");
    crate::common::assert_secret_absent(&mailer.pin, &[&out]);

    // A holder who cancels: no signature, and no try spent.
    pinentry.answer("cancel");
    let cancelled = pkcs11_tool_dialog(&card, &pinentry.program(), "03");
    assert_ne!(cancelled.code, 0, "signed without a PIN: {cancelled:?}");
    assert!(
        cancelled.stderr.contains("CKR_FUNCTION_CANCELED"),
        "{cancelled:?}"
    );
    let status = crate::common::melli(&["pin", "status", "--reader", card.reader_name(), "--json"]);
    assert_eq!(status.json()["pin"], 3, "{status:?}");
}

/// pkcs11-tool (C, SIGPIPE not ignored) with a pinentry that closes its input before its
/// greeting: the module's write to it fails, and the application gets an error, not a SIGPIPE
/// that would end it.
#[test]
fn a_pinentry_that_dies_fails_the_login_without_killing_the_application() {
    let (card, _mailer) = personalized_card();
    let dying = card.dir().join("dying-pinentry");
    fs::write(&dying, "#!/bin/sh\nexec 0<&-\necho 'OK hello'\nsleep 1\n").expect("write");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&dying, fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = pkcs11_tool_dialog(&card, &dying, "03");
    assert_eq!(
        out.code, 1,
        "pkcs11-tool did not end with its own error: {out:?}"
    );
    assert!(out.stderr.contains("CKR_FUNCTION_FAILED"), "{out:?}");
}

/// pkcs11-tool logs in on the protected authentication path (no --pin: C_Login with no PIN)
/// and signs `doc.txt` with key `id`.
fn pkcs11_tool_dialog(card: &crate::common::VirtualCard, pinentry: &Path, id: &str) -> Output {
    let doc = card.dir().join("doc.txt");
    fs::write(&doc, b"a document").expect("write");
    run(
        crate::common::pkcs11::command("pkcs11-tool", card.reader_name())
            .env("MELLI_PINENTRY", pinentry)
            .args([
                "--module",
                module_str(),
                "--login",
                "--sign",
                "--id",
                id,
                "--mechanism",
                "ECDSA-SHA256",
                "--input-file",
                s(&doc),
                "--output-file",
                s(&card.dir().join("doc.sig")),
            ]),
        Duration::from_secs(60),
    )
}

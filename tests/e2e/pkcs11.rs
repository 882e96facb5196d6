//! The PKCS#11 module (`crates/melli-pkcs11`) through the peers that load it — OpenSC's
//! pkcs11-tool, GnuTLS's p11tool, OpenSSL's pkcs11 engine, NSS's modutil/certutil/cmsutil, and
//! an application on the `cryptoki` crate (`examples/p11_drive.rs`) — against personalized
//! virtual cards through pcscd + vpcd. Each peer sees only its test's reader
//! (`MELLI_PKCS11_READERS`).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::pkcs11::{
    module_path, module_str, nss, nss_add_module, openssl_engine_tty, pkcs11_tool, pkcs11_tool_ok,
};
use crate::common::{
    melli, melli_stdin, personalized_card, root_pem, run, test_issuer, Output, VirtualCard,
};

fn s(p: &Path) -> String {
    p.to_str().expect("a UTF-8 path").to_string()
}

/// The value of `ID:` in pkcs11-tool -O's listing of the first object of `kind`.
fn object_id(listing: &str, kind: &str) -> String {
    let block = listing
        .split(kind)
        .nth(1)
        .unwrap_or_else(|| panic!("no {kind:?} in:\n{listing}"));
    block
        .lines()
        .find_map(|l| l.trim().strip_prefix("ID:"))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no ID for {kind:?} in:\n{listing}"))
}

/// The holder (signing) certificate and the signing CA certificate as PEM files in `dir`, the
/// first read through the module by its label.
fn certificates(card: &VirtualCard, dir: &Path) -> (PathBuf, PathBuf) {
    let der = dir.join("holder.der");
    pkcs11_tool_ok(
        card.reader_name(),
        &[
            "--read-object",
            "--type",
            "cert",
            "--label",
            "Digital Signature",
            "--output-file",
            &s(&der),
        ],
    );
    let holder = dir.join("holder.pem");
    let out = run(
        Command::new("openssl").args([
            "x509",
            "-inform",
            "DER",
            "-in",
            &s(&der),
            "-out",
            &s(&holder),
        ]),
        Duration::from_secs(30),
    );
    assert_eq!(out.code, 0, "{out:?}");
    // The CA certificate: the other certificate object.
    let ca = test_issuer().join("signing-ca.pem");
    (holder, ca)
}

#[test]
fn pkcs11_tool_lists_the_token_and_signs_and_openssl_verifies() {
    let (card, mailer) = personalized_card();
    let reader = card.reader_name();
    let dir = card.dir().to_path_buf();

    let slots = pkcs11_tool_ok(reader, &["-L"]);
    let out = &slots.stdout;
    assert!(
        out.contains(&format!("serial num         : {}", card.serial())),
        "{out}"
    );
    assert!(
        out.contains(card.serial()) && out.contains("token label"),
        "{out}"
    );
    assert!(
        out.contains("login required") && out.contains("PIN initialized"),
        "{out}"
    );
    assert!(out.contains("melli ID card"), "{out}");

    let objects = pkcs11_tool_ok(reader, &["-O"]).stdout;
    for kind in [
        "Certificate Object",
        "Public Key Object",
        "Private Key Object",
    ] {
        assert!(objects.contains(kind), "no {kind}:\n{objects}");
    }
    assert!(
        objects.contains("EC_POINT 256 bits") || objects.contains("EC_POINT"),
        "{objects}"
    );
    let key_id = object_id(&objects, "Private Key Object");
    assert_eq!(
        object_id(&objects, "Public Key Object"),
        key_id,
        "{objects}"
    );
    assert_eq!(
        object_id(&objects, "Certificate Object"),
        key_id,
        "{objects}"
    );
    assert!(
        !objects.contains("chip"),
        "the chip-authentication key is no object:\n{objects}"
    );

    let mechanisms = pkcs11_tool_ok(reader, &["-M"]).stdout;
    assert!(mechanisms.contains("ECDSA-SHA256"), "{mechanisms}");
    assert!(
        mechanisms.contains("ECDSA,") || mechanisms.contains("ECDSA "),
        "{mechanisms}"
    );

    // Sign with the card through the module, verify with openssl and the public key read back.
    let doc = dir.join("doc.txt");
    fs::write(&doc, "A document signed through PKCS#11.\n").expect("doc");
    let sig = dir.join("doc.sig");
    let signed = pkcs11_tool_ok(
        reader,
        &[
            "--sign",
            "--mechanism",
            "ECDSA-SHA256",
            "--login",
            "--pin",
            &mailer.pin,
            "--id",
            &key_id,
            "--signature-format",
            "openssl",
            "--input-file",
            &s(&doc),
            "--output-file",
            &s(&sig),
        ],
    );
    crate::common::assert_secret_absent(&mailer.pin, &[&signed]);
    let public = dir.join("public.der");
    pkcs11_tool_ok(
        reader,
        &[
            "--read-object",
            "--type",
            "pubkey",
            "--id",
            &key_id,
            "--output-file",
            &s(&public),
        ],
    );
    let verified = run(
        Command::new("openssl").args([
            "dgst",
            "-sha256",
            "-verify",
            &s(&public),
            "-keyform",
            "DER",
            "-signature",
            &s(&sig),
            &s(&doc),
        ]),
        Duration::from_secs(30),
    );
    assert_eq!(verified.code, 0, "openssl dgst -verify: {verified:?}");
    assert!(verified.stdout.contains("Verified OK"), "{verified:?}");

    // The card's random generator (GET CHALLENGE) behind C_GenerateRandom.
    let random = dir.join("random.bin");
    pkcs11_tool_ok(
        reader,
        &["--generate-random", "40", "--output-file", &s(&random)],
    );
    assert_eq!(fs::read(&random).expect("random bytes").len(), 40);

    // GnuTLS lists the holder certificate.
    let p11tool = run(
        crate::common::pkcs11::command("p11tool", reader).args([
            "--provider",
            module_str(),
            "--list-all-certs",
            "pkcs11:model=melli%20ID%20card",
        ]),
        Duration::from_secs(60),
    );
    assert_eq!(p11tool.code, 0, "p11tool: {p11tool:?}");
    assert!(
        p11tool.stdout.contains("Type: X.509 Certificate"),
        "{p11tool:?}"
    );
    assert!(
        p11tool.stdout.contains(card.serial()),
        "the token's URL names the card: {p11tool:?}"
    );
}

#[test]
fn openssl_signs_through_the_pkcs11_engine() {
    let (card, mailer) = personalized_card();
    let reader = card.reader_name();
    let dir = card.dir().to_path_buf();
    let (holder, ca) = certificates(&card, &dir);
    fs::write(
        dir.join("doc.txt"),
        "Signed by OpenSSL with the card's key.\n",
    )
    .expect("doc");
    // The signing key by its label: the token has the login key too (a 1.1 card). It is
    // CKA_ALWAYS_AUTHENTICATE: libp11 asks OpenSSL's UI, on the terminal, for the PIN of the
    // context-specific login before each signature (`openssl_engine_tty` types it there).
    let key = format!(
        "pkcs11:serial={};object=Digital%20Signature;type=private;pin-value={}",
        card.serial(),
        mailer.pin
    );

    let cms = openssl_engine_tty(
        &dir,
        reader,
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
            &s(&holder),
            "-certfile",
            &s(&ca),
            "-engine",
            "pkcs11",
            "-keyform",
            "engine",
            "-inkey",
            &key,
            "-outform",
            "DER",
            "-out",
            "doc.p7s",
        ],
        &mailer.pin,
    );
    assert_eq!(cms.code, 0, "openssl cms -sign -engine pkcs11: {cms:?}");
    let root = root_pem(test_issuer());
    let verdict = melli(&[
        "verify-signature",
        &s(&dir.join("doc.txt")),
        &s(&dir.join("doc.p7s")),
        "--trust",
        &root,
    ]);
    assert_eq!(
        verdict.code, 0,
        "melli verify-signature of openssl's signature: {verdict:?}"
    );

    let dgst = openssl_engine_tty(
        &dir,
        reader,
        &[
            "dgst", "-sha256", "-engine", "pkcs11", "-keyform", "engine", "-sign", &key, "-out",
            "doc.sig", "doc.txt",
        ],
        &mailer.pin,
    );
    assert_eq!(dgst.code, 0, "openssl dgst -sign -engine pkcs11: {dgst:?}");
    let public = run(
        Command::new("openssl").args([
            "x509",
            "-in",
            &s(&holder),
            "-noout",
            "-pubkey",
            "-out",
            &s(&dir.join("public.pem")),
        ]),
        Duration::from_secs(30),
    );
    assert_eq!(public.code, 0, "{public:?}");
    let verified = run(
        Command::new("openssl").current_dir(&dir).args([
            "dgst",
            "-sha256",
            "-verify",
            "public.pem",
            "-signature",
            "doc.sig",
            "doc.txt",
        ]),
        Duration::from_secs(30),
    );
    assert_eq!(
        verified.code, 0,
        "the engine's signature verifies: {verified:?}"
    );
    crate::common::assert_secret_absent(&mailer.pin, &[&cms, &dgst]);
}

#[test]
fn nss_registers_the_module_lists_the_certificate_and_signs() {
    let (card, mailer) = personalized_card();
    let reader = card.reader_name();
    let dir = card.dir().to_path_buf();
    let db = format!("sql:{}", s(&dir.join("nssdb")));
    fs::create_dir_all(dir.join("nssdb")).expect("db dir");
    let ok = |out: Output, what: &str| {
        assert_eq!(out.code, 0, "{what}: {out:?}");
        out
    };
    ok(
        nss(
            "certutil",
            reader,
            &["-N", "-d", &db, "--empty-password"],
            None,
        ),
        "certutil -N",
    );
    ok(nss_add_module(&db, reader), "modutil -add");
    let listed = ok(
        nss("modutil", reader, &["-dbdir", &db, "-list", "melli"], None),
        "modutil -list",
    );
    assert!(listed.stdout.contains(card.serial()), "{listed:?}");
    let certs = ok(
        nss("certutil", reader, &["-L", "-d", &db, "-h", "all"], None),
        "certutil -L",
    );
    // The token's certificates, named TOKEN:LABEL.
    let nickname = certs
        .stdout
        .lines()
        .find(|l| l.contains(card.serial()) && l.contains(":Digital Signature"))
        .map(|l| {
            l.rsplit_once(|c: char| c.is_whitespace() && c != ' ')
                .map_or(l, |(n, _)| n)
        })
        .map(|l| l.split("  ").next().unwrap_or(l).trim().to_string())
        .unwrap_or_else(|| panic!("no certificate of the card: {certs:?}"));

    // The issuer's root, trusted for e-mail, so that NSS accepts the signer (the signing CA's
    // certificate is on the card).
    let root_pem_path = s(&test_issuer().join("root.pem"));
    ok(
        nss(
            "certutil",
            reader,
            &[
                "-A",
                "-d",
                &db,
                "-n",
                "root",
                "-t",
                "C,C,C",
                "-i",
                &root_pem_path,
            ],
            None,
        ),
        "certutil -A",
    );
    fs::write(dir.join("doc.txt"), "Signed by NSS with the card's key.\n").expect("doc");
    let pin_file = dir.join("pin.txt");
    crate::common::write_private(&pin_file, &format!("{}\n", mailer.pin));
    let signed = nss(
        "cmsutil",
        reader,
        &[
            "-S",
            "-T",
            "-G",
            // smimeEncryptionKeyPreference naming the card's certificate by issuer and serial
            // number: the signed reference to the certificate that melli takes in place of
            // signingCertificateV2, which cmsutil cannot write (cmsutil also carries that
            // certificate a second time, byte for byte).
            "-Y",
            &nickname,
            "-H",
            "SHA256",
            "-d",
            &db,
            "-N",
            &nickname,
            "-f",
            &s(&pin_file),
            "-i",
            &s(&dir.join("doc.txt")),
            "-o",
            &s(&dir.join("doc.p7s")),
        ],
        None,
    );
    assert_eq!(signed.code, 0, "cmsutil -S: {signed:?}\n{certs:?}");
    crate::common::assert_secret_absent(&mailer.pin, &[&signed]);

    // cmsutil writes BER (indefinite lengths); melli reads DER and says how to convert.
    let der = run(
        Command::new("openssl").current_dir(&dir).args([
            "cms",
            "-cmsout",
            "-inform",
            "DER",
            "-in",
            "doc.p7s",
            "-outform",
            "DER",
            "-out",
            "doc.der.p7s",
        ]),
        Duration::from_secs(30),
    );
    assert_eq!(der.code, 0, "{der:?}");
    // What -Y wrote: the signed attribute id-aa-encrypKeyPref, and the card's certificate a
    // second time (holder, holder, signing CA), which melli counts once.
    let printed = run(
        Command::new("openssl").current_dir(&dir).args([
            "cms",
            "-cmsout",
            "-print",
            "-inform",
            "DER",
            "-in",
            "doc.der.p7s",
        ]),
        Duration::from_secs(30),
    );
    assert_eq!(printed.code, 0, "{printed:?}");
    assert!(
        printed.stdout.contains("(1.2.840.113549.1.9.16.2.11)"),
        "{}",
        printed.stdout
    );
    let carried = run(
        Command::new("openssl").current_dir(&dir).args([
            "pkcs7",
            "-print_certs",
            "-noout",
            "-inform",
            "DER",
            "-in",
            "doc.der.p7s",
        ]),
        Duration::from_secs(30),
    );
    assert_eq!(carried.code, 0, "{carried:?}");
    let subjects: Vec<&str> = carried
        .stdout
        .lines()
        .filter(|l| l.starts_with("subject"))
        .collect();
    assert_eq!(subjects.len(), 3, "{}", carried.stdout);
    let root = root_pem(test_issuer());
    let verified = run(
        Command::new("openssl").current_dir(&dir).args([
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "doc.p7s",
            "-content",
            "doc.txt",
            "-CAfile",
            &root,
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ]),
        Duration::from_secs(30),
    );
    assert_eq!(
        verified.code, 0,
        "openssl cms -verify of NSS's signature: {verified:?}"
    );
    let verdict = melli(&[
        "verify-signature",
        &s(&dir.join("doc.txt")),
        &s(&dir.join("doc.der.p7s")),
        "--trust",
        &root,
        "--json",
    ]);
    assert_eq!(
        verdict.code, 0,
        "melli verify-signature of NSS's signature: {verdict:?}"
    );
    let json = verdict.json();
    assert_eq!(json["passed"], true, "{verdict:?}");
    let binding = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "signing certificate")
        .unwrap_or_else(|| panic!("no signing certificate check: {verdict:?}"));
    assert_eq!(
        binding["detail"],
        "smimeEncryptionKeyPreference names the signer's certificate by issuer and serial \
         number (no signingCertificateV2)",
        "{verdict:?}"
    );
    // And the human verdict says VALID.
    let text = melli(&[
        "verify-signature",
        &s(&dir.join("doc.txt")),
        &s(&dir.join("doc.der.p7s")),
        "--trust",
        &root,
    ]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(text.stdout.contains("verdict: VALID signature"), "{text:?}");
    eprintln!(
        "melli verify-signature of NSS's signature:\n{}",
        text.stdout
    );
}

#[test]
fn wrong_pins_block_the_pin_and_the_puk_unblocks_it() {
    let (card, mailer) = personalized_card();
    let reader = card.reader_name();
    let wrong = if mailer.pin == "000000" {
        "111111"
    } else {
        "000000"
    };
    for tries_left in [2, 1, 0] {
        let out = pkcs11_tool(reader, &["--login", "--pin", wrong, "--test"]);
        assert_ne!(out.code, 0, "a wrong PIN was accepted: {out:?}");
        // The try that uses up the counter says the PIN is now locked.
        let expected = if tries_left == 0 {
            "CKR_PIN_LOCKED"
        } else {
            "CKR_PIN_INCORRECT"
        };
        assert!(out.stderr.contains(expected), "{out:?}");
        let status = melli(&["pin", "status", "--reader", reader, "--json"]);
        assert_eq!(status.json()["pin"], tries_left, "{status:?}");
    }
    let locked = pkcs11_tool(reader, &["--login", "--pin", &mailer.pin, "--test"]);
    assert!(
        locked.stderr.contains("CKR_PIN_LOCKED") || locked.stdout.contains("CKR_PIN_LOCKED"),
        "{locked:?}"
    );
    let listing = pkcs11_tool_ok(reader, &["-L"]).stdout;
    assert!(listing.contains("user PIN locked"), "{listing}");

    // The PUK (C_Login as SO) and C_InitPIN unblock it and set a new PIN.
    let new_pin = "246810";
    let unblocked = pkcs11_tool(
        reader,
        &[
            "--login",
            "--login-type",
            "so",
            "--so-pin",
            &mailer.puk,
            "--init-pin",
            "--new-pin",
            new_pin,
        ],
    );
    assert_eq!(unblocked.code, 0, "C_InitPIN with the PUK: {unblocked:?}");
    crate::common::assert_secret_absent(&mailer.puk, &[&unblocked]);
    let status = melli(&["pin", "status", "--reader", reader, "--json"]);
    assert_eq!(status.json()["pin"], 3, "{status:?}");
    // C_SetPIN changes it.
    let changed_pin = "135790";
    let changed = pkcs11_tool(
        reader,
        &[
            "--login",
            "--pin",
            new_pin,
            "--change-pin",
            "--new-pin",
            changed_pin,
        ],
    );
    assert_eq!(changed.code, 0, "C_SetPIN: {changed:?}");
    let new_pin = changed_pin;
    // And the new PIN signs (`melli sign` takes it).
    let doc = card.dir().join("doc.txt");
    fs::write(&doc, "after unblock\n").expect("doc");
    let signed = melli_stdin(
        &["sign", &s(&doc), "--reader", reader, "--pin-stdin"],
        &format!("{new_pin}\n"),
    );
    assert_eq!(signed.code, 0, "{signed:?}");
}

/// The `cryptoki` application of `crates/melli-pkcs11/examples`.
pub(crate) fn driver() -> PathBuf {
    let exe = module_path()
        .parent()
        .expect("profile dir")
        .join("examples")
        .join("p11_drive");
    if !exe.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = run(
            Command::new(cargo)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .args(["build", "--quiet", "-p", "melli-pkcs11", "--examples"]),
            Duration::from_secs(600),
        );
        assert_eq!(out.code, 0, "{out:?}");
    }
    exe
}

#[test]
fn threads_sessions_and_reload_through_cryptoki() {
    let (card, mailer) = personalized_card();
    let out = run(
        crate::common::pkcs11::command(&s(&driver()), card.reader_name()).args([
            module_str(),
            "sessions",
            card.serial(),
            &mailer.pin,
        ]),
        Duration::from_secs(120),
    );
    assert_eq!(
        out.code,
        0,
        "p11_drive sessions: {out:?}\ncard log:\n{}",
        card.log()
    );
}

#[test]
fn a_pulled_card_ends_its_sessions_with_device_removed() {
    let (mut card, mailer) = personalized_card();
    let mut child = crate::common::pkcs11::command(&s(&driver()), card.reader_name())
        .args([module_str(), "removal", card.serial(), &mailer.pin])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start p11_drive");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut expect = |word: &str| {
        let line = lines.next().and_then(Result::ok).unwrap_or_default();
        assert_eq!(line, word, "p11_drive said {line:?}");
    };
    expect("PULL");
    card.kill();
    writeln!(stdin).expect("tell p11_drive");
    expect("INSERT");
    card.restart();
    writeln!(stdin).expect("tell p11_drive");
    expect("removal ok");
    let status = child.wait().expect("p11_drive ends");
    let mut stderr = String::new();
    let _ = std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr);
    assert!(status.success(), "p11_drive removal: {status} {stderr}");
}

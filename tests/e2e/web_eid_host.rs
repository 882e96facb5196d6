//! `melli web-eid-host` (issue 17): the Web eID browser extension's native application, driven
//! as the extension drives it — length-prefixed JSON messages on the host's stdin, answers on
//! its stdout — against a personalized virtual card over pcscd. The PIN comes from a test
//! pinentry script (`common::pinentry`): the holder at the dialog is the only thing replaced.
//! Tokens are checked by `melli verify-auth-token`, signatures by `openssl dgst -verify` with
//! the key of the certificate `melli read --out` wrote.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha384};

use crate::common::pinentry::TestPinentry;
use crate::common::{melli, personalized_card, run, verify_auth_token, MELLI};

const ORIGIN: &str = "https://e.gov.ir";
const NONCE: &str = "bmF0aXZlLW1lc3NhZ2luZy1ub25jZS1mb3ItbWVsbGktdGVzdHM=";

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A running `melli web-eid-host`, talked to as the browser does.
struct Host {
    child: Child,
    stdin: Option<ChildStdin>,
    answers: Receiver<Option<Value>>,
    stderr: PathBuf,
}

impl Host {
    fn start(dir: &Path, reader: &str, pinentry: &Path) -> Host {
        // The browser's own arguments (the extension's origin) come along and are ignored.
        Host::start_with(
            dir,
            &[
                "web-eid-host",
                "--reader",
                reader,
                "--pinentry",
                s(pinentry),
                "chrome-extension://ncibgoaomkmdpilpocfeponihegamlic/",
            ],
        )
    }

    fn start_with(dir: &Path, args: &[&str]) -> Host {
        std::fs::create_dir_all(dir).expect("host dir");
        let stderr = dir.join("host-stderr.txt");
        let mut child = Command::new(MELLI)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start melli web-eid-host");
        let mut stdout = child.stdout.take().expect("stdout");
        let (sender, answers) = mpsc::channel();
        std::thread::spawn(move || loop {
            let mut length = [0u8; 4];
            if stdout.read_exact(&mut length).is_err() {
                let _ = sender.send(None);
                return;
            }
            let len = u32::from_ne_bytes(length) as usize;
            assert!(len <= 1024 * 1024, "an answer over the browser's 1 MB cap");
            let mut body = vec![0u8; len];
            stdout.read_exact(&mut body).expect("a whole answer");
            let value = serde_json::from_slice(&body).expect("an answer is JSON");
            if sender.send(Some(value)).is_err() {
                return;
            }
        });
        Host {
            stdin: child.stdin.take(),
            child,
            answers,
            stderr,
        }
    }

    fn write_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write to the host");
        stdin.flush().expect("flush");
    }

    /// Writes bytes the host may refuse to read: after a length over its cap it answers and
    /// leaves without reading the body, so a closed pipe here is the host doing its job.
    fn write_after_refusal(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        match stdin.write_all(bytes).and_then(|()| stdin.flush()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(e) => panic!("write to the host: {e}"),
        }
    }

    fn next(&self) -> Option<Value> {
        self.answers
            .recv_timeout(Duration::from_secs(90))
            .expect("the host answers within 90 s")
    }

    fn request(&mut self, command: &str, arguments: Value) -> Value {
        let body = serde_json::to_vec(&json!({ "command": command, "arguments": arguments }))
            .expect("json");
        self.write_raw(&frame(&body));
        self.next().expect("an answer, not the end")
    }

    /// Closes stdin (the browser went away) and waits: the exit code and the host's stderr.
    fn finish(mut self) -> (i32, String) {
        drop(self.stdin.take());
        let until = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > until {
                let _ = self.child.kill();
                panic!("the host did not end after its stdin closed");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        (status.code().unwrap_or(-1), stderr)
    }
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_ne_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

fn error_code(answer: &Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or("(no error)")
}

/// The DER inside a PEM file.
fn pem_der(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).expect("read PEM");
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    Base64::decode_vec(&body).expect("PEM base64")
}

fn openssl(dir: &Path, args: &[&str]) -> crate::common::Output {
    run(
        Command::new("openssl").args(args).current_dir(dir),
        Duration::from_secs(30),
    )
}

fn pin_tries(reader: &str) -> u64 {
    let out = melli(&["pin", "status", "--reader", reader, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    out.json()["pin"].as_u64().expect("pin counter")
}

#[test]
fn web_eid_host_logs_in_gives_the_signing_certificate_and_signs() {
    let (card, mailer) = personalized_card();
    let dir = card.dir().join("web-eid");
    let read = dir.join("read");
    let out = melli(&["read", "--reader", card.reader_name(), "--out", s(&read)]);
    assert_eq!(out.code, 0, "{out:?}");
    let pinentry = TestPinentry::new(&dir.join("pinentry"), &mailer.pin);
    let mut host = Host::start(&dir, card.reader_name(), &pinentry.program());

    // The handshake the extension waits for (its web-eid:status): a semver version whose
    // major is the Web eID protocol generation.
    let hello = host.next().expect("the version message");
    let version = hello["version"].as_str().expect("version string");
    assert!(version.starts_with("2.0.0+melli."), "{hello}");

    // An unknown command is answered, and the host goes on serving.
    let answer = host.request("frobnicate", json!({ "origin": ORIGIN }));
    assert_eq!(
        error_code(&answer),
        "ERR_WEBEID_NATIVE_INVALID_ARGUMENT",
        "{answer}"
    );
    // The extension's names as commands: status (the version again) and get-certificate (the
    // signing certificate, checked below against get-signing-certificate's).
    let status = host.request("status", json!({}));
    assert_eq!(status["version"], hello["version"], "{status}");
    let by_short_name = host.request("get-certificate", json!({ "origin": ORIGIN }));

    // get-signing-certificate: the card's signing (holder) certificate, as `melli read` has it.
    let answer = host.request("get-signing-certificate", json!({ "origin": ORIGIN }));
    let certificate = answer["certificate"]
        .as_str()
        .expect("certificate")
        .to_string();
    assert_eq!(
        Base64::decode_vec(&certificate).expect("base64"),
        pem_der(&read.join("holder.pem")),
        "{answer}"
    );
    assert_eq!(
        by_short_name["certificate"], answer["certificate"],
        "{by_short_name}"
    );
    assert_ne!(
        pem_der(&read.join("holder.pem")),
        pem_der(&read.join("authentication.pem")),
        "the signing and login certificates differ"
    );
    let algorithms = answer["supportedSignatureAlgorithms"]
        .as_array()
        .expect("algorithms");
    assert!(
        algorithms.contains(
            &json!({"cryptoAlgorithm": "ECC", "hashFunction": "SHA-256", "paddingScheme": "NONE"})
        ),
        "{answer}"
    );
    assert!(
        pinentry.log().is_empty(),
        "no PIN for a certificate: {}",
        pinentry.log()
    );

    // authenticate: a web-eid:1.0 token that verifies for this origin and nonce only.
    let token = host.request(
        "authenticate",
        json!({ "challengeNonce": NONCE, "origin": ORIGIN, "lang": "en" }),
    );
    assert_eq!(token["format"], "web-eid:1.0", "{token}");
    assert_eq!(token["algorithm"], "ES256", "{token}");
    let descriptions = pinentry.descriptions();
    assert_eq!(descriptions.len(), 1, "{descriptions:?}");
    assert!(
        descriptions[0].starts_with(&format!("Log in to {ORIGIN}%0A")),
        "{descriptions:?}"
    );
    let token_file = dir.join("token.json");
    std::fs::write(&token_file, token.to_string()).expect("write token");
    let ca = read.join("signing-ca.pem");
    let verify = |origin: &str, nonce: &str| verify_auth_token(&token_file, origin, nonce, &ca);
    let out = verify(ORIGIN, NONCE);
    assert_eq!(out.code, 0, "{out:?}");
    let out = verify("https://evil.example", NONCE);
    assert_eq!(out.code, 1, "{out:?}");
    let out = verify(
        ORIGIN,
        "bm90LXRoZS1ub25jZS10aGF0LXdhcy1zaWduZWQtZm9yLXRoaXM=",
    );
    assert_eq!(out.code, 1, "{out:?}");

    // sign: SHA-256 and SHA-384 hashes of a document, each verified by openssl with the key
    // of the signing certificate, and each with a PIN entry of its own.
    let document = b"contract: the holder agrees\n";
    std::fs::write(dir.join("document.txt"), document).expect("write document");
    std::fs::write(dir.join("other.txt"), b"another document\n").expect("write other");
    let out = openssl(
        &dir,
        &[
            "x509",
            "-in",
            s(&read.join("holder.pem")),
            "-pubkey",
            "-noout",
            "-out",
            "signing-key.pem",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    for (function, hash, flag) in [
        ("SHA-256", Sha256::digest(document).to_vec(), "-sha256"),
        ("SHA-384", Sha384::digest(document).to_vec(), "-sha384"),
    ] {
        let answer = host.request(
            "sign",
            json!({
                "hash": Base64::encode_string(&hash),
                "hashFunction": function,
                "certificate": certificate,
                "origin": ORIGIN,
            }),
        );
        assert_eq!(
            answer["signatureAlgorithm"],
            json!({"cryptoAlgorithm": "ECC", "hashFunction": function, "paddingScheme": "NONE"}),
            "{answer}"
        );
        let raw =
            Base64::decode_vec(answer["signature"].as_str().expect("signature")).expect("base64");
        let der = p256::ecdsa::Signature::from_slice(&raw)
            .expect("r ‖ s")
            .to_der();
        let sig = format!("signature-{function}.der");
        std::fs::write(dir.join(&sig), der.as_bytes()).expect("write signature");
        let check = |file: &str| {
            openssl(
                &dir,
                &[
                    "dgst",
                    flag,
                    "-verify",
                    "signing-key.pem",
                    "-signature",
                    &sig,
                    file,
                ],
            )
        };
        let out = check("document.txt");
        assert_eq!(out.code, 0, "{function}: {out:?}");
        assert!(out.stdout.contains("Verified OK"), "{out:?}");
        let out = check("other.txt");
        assert_ne!(out.code, 0, "{function} over another document: {out:?}");
    }
    let descriptions = pinentry.descriptions();
    assert_eq!(
        descriptions.len(),
        3,
        "a PIN entry per signature: {descriptions:?}"
    );
    for d in &descriptions[1..] {
        assert!(d.starts_with(&format!("Sign for {ORIGIN}%0A")), "{d}");
        assert!(d.contains("0081493721"), "the holder is named: {d}");
    }

    // sign is refused without a PIN entry for a certificate that is not the card's signing
    // certificate (here its login certificate) and for a hash of the wrong length.
    let login_certificate = Base64::encode_string(&pem_der(&read.join("authentication.pem")));
    let hash = Base64::encode_string(&Sha256::digest(document));
    for (arguments, why) in [
        (
            json!({"hash": hash, "hashFunction": "SHA-256", "certificate": login_certificate, "origin": ORIGIN}),
            "not the signing certificate",
        ),
        (
            json!({"hash": hash, "hashFunction": "SHA-384", "certificate": certificate, "origin": ORIGIN}),
            "SHA-384 hash is 48 bytes, this one is 32",
        ),
        (
            json!({"hash": hash, "hashFunction": "MD5", "certificate": certificate, "origin": ORIGIN}),
            "hashFunction \"MD5\"",
        ),
        (
            json!({"hash": hash, "hashFunction": "SHA-256", "certificate": certificate, "origin": "https://e.gov.ir/path"}),
            "origin",
        ),
    ] {
        let answer = host.request("sign", arguments);
        assert_eq!(
            error_code(&answer),
            "ERR_WEBEID_NATIVE_INVALID_ARGUMENT",
            "{answer}"
        );
        let message = answer["error"]["message"].as_str().expect("message");
        assert!(message.contains(why), "{why}: {message}");
    }
    assert_eq!(pinentry.descriptions().len(), 3, "no PIN was asked");

    // quit ends the host; nothing it wrote holds the PIN.
    let answer = host.request("quit", json!({}));
    assert_eq!(answer, json!({}));
    let (code, stderr) = host.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains(&mailer.pin), "{stderr}");
    assert!(!token.to_string().contains(&mailer.pin));
}

#[test]
fn web_eid_host_wrong_pin_is_reported_and_cancel_is_the_users() {
    let (card, mailer) = personalized_card();
    let reader = card.reader_name();
    let dir = card.dir().join("web-eid");
    let wrong = if mailer.pin.starts_with('9') {
        format!("1{}", &mailer.pin[1..])
    } else {
        format!("9{}", &mailer.pin[1..])
    };
    let pinentry = TestPinentry::new(&dir.join("pinentry"), &wrong);
    let mut host = Host::start(&dir, reader, &pinentry.program());
    assert!(host.next().expect("version")["version"].is_string());
    let authenticate = json!({ "challengeNonce": NONCE, "origin": ORIGIN });

    // A wrong PIN: the card's answer, with the tries it leaves, goes to the page; it is not
    // typed again behind the holder's back.
    assert_eq!(pin_tries(reader), 3);
    let answer = host.request("authenticate", authenticate.clone());
    assert_eq!(error_code(&answer), "ERR_WEBEID_NATIVE_FATAL", "{answer}");
    let message = answer["error"]["message"].as_str().expect("message");
    assert!(message.contains("wrong PIN: 2 tries left"), "{message}");
    assert_eq!(pinentry.descriptions().len(), 1, "asked once");
    assert_eq!(pin_tries(reader), 2, "exactly one try used");

    // The next dialog tells the holder how many tries are left. Cancel there: the user's
    // decision, no try used.
    pinentry.answer("cancel");
    let answer = host.request("authenticate", authenticate.clone());
    assert_eq!(error_code(&answer), "ERR_WEBEID_USER_CANCELLED", "{answer}");
    let descriptions = pinentry.descriptions();
    assert!(
        descriptions[1].contains("2 tries left before the PIN is blocked"),
        "{descriptions:?}"
    );
    assert_eq!(pin_tries(reader), 2, "a cancel uses no try");

    // A PIN that is not one (letters, too short) never reaches the card.
    pinentry.answer("12ab");
    let answer = host.request("authenticate", authenticate.clone());
    assert_eq!(error_code(&answer), "ERR_WEBEID_NATIVE_FATAL", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no try was used"),
        "{answer}"
    );
    assert_eq!(pin_tries(reader), 2);

    // The right PIN logs in and gives the tries back.
    pinentry.answer(&mailer.pin);
    let answer = host.request("authenticate", authenticate);
    assert_eq!(answer["format"], "web-eid:1.0", "{answer}");
    assert_eq!(pin_tries(reader), 3);
    let (code, stderr) = host.finish();
    assert_eq!(code, 0, "the browser closed stdin: {stderr}");
    assert!(!stderr.contains(&mailer.pin), "{stderr}");
}

#[test]
fn web_eid_host_ends_on_a_broken_frame_after_answering_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pinentry = TestPinentry::new(&dir.path().join("pinentry"), "123456");
    // No card is touched: the reader named need not exist.
    let start = || Host::start(dir.path(), "no such reader", &pinentry.program());

    // A length far beyond the cap: refused before anything is allocated, answered, the end.
    let mut host = start();
    assert!(host.next().expect("version")["version"].is_string());
    host.write_raw(&u32::MAX.to_ne_bytes());
    let answer = host.next().expect("an error answer");
    assert_eq!(
        error_code(&answer),
        "ERR_WEBEID_NATIVE_INVALID_ARGUMENT",
        "{answer}"
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("4294967295 bytes"),
        "{answer}"
    );
    assert_eq!(host.next(), None, "the host stopped writing");
    let (code, stderr) = host.finish();
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("native-messaging stream is broken"),
        "{stderr}"
    );

    // Just over 8 KiB: the same.
    let mut host = start();
    host.next().expect("version");
    host.write_raw(&(8 * 1024 + 1u32).to_ne_bytes());
    host.write_after_refusal(&vec![b' '; 8 * 1024 + 1]);
    assert!(error_code(&host.next().expect("answer")).starts_with("ERR_WEBEID_NATIVE_INVALID"));
    assert_eq!(host.finish().0, 2);

    // Not JSON.
    let mut host = start();
    host.next().expect("version");
    host.write_raw(&frame(b"{command: sign"));
    let answer = host.next().expect("answer");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not JSON"),
        "{answer}"
    );
    assert_eq!(host.finish().0, 2);

    // A message cut short by the end of the input.
    let mut host = start();
    host.next().expect("version");
    host.write_raw(&frame(br#"{"command":"quit","arguments":{}}"#)[..10]);
    drop(host.stdin.take());
    let answer = host.next().expect("answer");
    assert_eq!(
        error_code(&answer),
        "ERR_WEBEID_NATIVE_INVALID_ARGUMENT",
        "{answer}"
    );
    assert_eq!(host.finish().0, 2);

    // Well-formed frames with bad requests are answered, and the host keeps serving.
    let mut host = start();
    host.next().expect("version");
    for body in [
        &b"[1,2]"[..],
        br#"{"arguments":{}}"#,
        br#"{"command":"sign","arguments":[]}"#,
    ] {
        host.write_raw(&frame(body));
        let answer = host.next().expect("answer");
        assert_eq!(
            error_code(&answer),
            "ERR_WEBEID_NATIVE_INVALID_ARGUMENT",
            "{answer}"
        );
    }
    let answer = host.request(
        "authenticate",
        json!({ "challengeNonce": "short", "origin": ORIGIN }),
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("44 to 128"),
        "{answer}"
    );
    let answer = host.request(
        "authenticate",
        json!({ "challengeNonce": NONCE, "origin": ORIGIN, "extra": 1 }),
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("\"extra\" is not taken"),
        "{answer}"
    );
    assert!(pinentry.log().is_empty(), "no PIN asked for a bad request");
    let (code, stderr) = host.finish();
    assert_eq!(code, 0, "{stderr}");

    // --one-request, as the browser's script starts it: one answer (here an error), then the
    // end, with the browser's connection still open.
    let mut host = Host::start_with(
        dir.path(),
        &[
            "web-eid-host",
            "--one-request",
            "--pinentry",
            s(&pinentry.program()),
        ],
    );
    host.next().expect("version");
    let answer = host.request("no-such-command", json!({}));
    assert_eq!(
        error_code(&answer),
        "ERR_WEBEID_NATIVE_INVALID_ARGUMENT",
        "{answer}"
    );
    assert_eq!(host.next(), None, "the host ended after one answer");
    let until = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = host.child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < until, "the host did not end by itself");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
}

//! Online identity (issue 17, applets-spec §12): a version 1.1 card has a login key beside its
//! signing key. `melli verify` checks DG7; `melli auth-token` makes a Web eID token that
//! `melli verify-auth-token` accepts for its origin and nonce only, and that OpenSSL's `dgst
//! -verify` accepts over the reconstructed signed data.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64ct::Encoding;
use sha2::{Digest, Sha256};

use crate::common::documents::failed_checks;
use crate::common::{
    melli, melli_stdin, personalized_card, root_pem, run, test_issuer, verify_auth_token,
    verify_card,
};

const ORIGIN: &str = "https://e.gov.ir";
const NONCE: &str = "q2h0b3RlbnMtYXJlLWJvdW5kLXRvLXRoZWlyLW9yaWdpbg==";

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn a_card_logs_in_with_its_own_key_for_one_origin_and_nonce() {
    let (card, mailer) = personalized_card();
    let dir = card.dir().to_path_buf();
    let (out, checks) = verify_card(&card, test_issuer(), &[]);
    assert_eq!(out.code, 0, "{out:?}");
    for name in [
        "DG7 authentication certificate",
        "authentication certificate",
        "authentication certificate binding",
    ] {
        assert!(
            checks.iter().any(|(n, passed, _)| n == name && *passed),
            "no passed {name:?} check: {checks:?}"
        );
    }
    let read = dir.join("read");
    let out = melli(&["read", "--reader", card.reader_name(), "--out", s(&read)]);
    assert_eq!(out.code, 0, "{out:?}");

    let out = melli_stdin(
        &[
            "auth-token",
            "--origin",
            ORIGIN,
            "--nonce",
            NONCE,
            "--reader",
            card.reader_name(),
            "--pin-stdin",
        ],
        &format!("{}\n", mailer.pin),
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains(&mailer.pin) && !out.stderr.contains(&mailer.pin));
    let token = out.json();
    assert_eq!(token["format"], "web-eid:1.0", "{token}");
    assert_eq!(token["algorithm"], "ES256", "{token}");
    let token_file = dir.join("token.json");
    std::fs::write(&token_file, &out.stdout).expect("write token");

    let ca = read.join("signing-ca.pem");
    let root = root_pem(test_issuer());
    let verify = |origin: &str, nonce: &str| verify_auth_token(&token_file, origin, nonce, &ca);
    let out = verify(ORIGIN, NONCE);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.json()["holder"]["national_code"],
        "0081493721",
        "{out:?}"
    );
    for (origin, nonce) in [
        ("https://evil.example", NONCE),
        (ORIGIN, "another-login-nonce"),
    ] {
        let out = verify(origin, nonce);
        assert_eq!(out.code, 1, "{out:?}");
        let failed = failed_checks(&out);
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(
            failed[0].contains("token signature") && failed[0].contains("replay"),
            "{failed:?}"
        );
    }

    // OpenSSL, independently: ES256 over SHA-256(origin) ‖ SHA-256(nonce) with the key of the
    // certificate `melli read --out` exported.
    let data = [
        Sha256::digest(ORIGIN.as_bytes()),
        Sha256::digest(NONCE.as_bytes()),
    ]
    .concat();
    std::fs::write(dir.join("signed-data.bin"), &data).expect("write data");
    let raw = base64ct::Base64::decode_vec(token["signature"].as_str().expect("signature"))
        .expect("base64");
    assert_eq!(raw.len(), 64);
    std::fs::write(dir.join("signature.der"), der_signature(&raw)).expect("write signature");
    let openssl = |args: &[&str]| {
        run(
            Command::new("openssl").args(args).current_dir(&dir),
            Duration::from_secs(30),
        )
    };
    let out = openssl(&[
        "x509",
        "-in",
        s(&read.join("authentication.pem")),
        "-pubkey",
        "-noout",
        "-out",
        "login-key.pem",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        "login-key.pem",
        "-signature",
        "signature.der",
        "signed-data.bin",
    ]);
    assert_eq!(
        out.code, 0,
        "openssl dgst -verify refused the token's signature: {out:?}"
    );
    assert!(out.stdout.contains("Verified OK"), "{out:?}");
    // The login certificate is no signing certificate, and openssl agrees on its purpose.
    for (certificate, client) in [("authentication.pem", true), ("holder.pem", false)] {
        let out = openssl(&[
            "verify",
            "-purpose",
            "sslclient",
            "-CAfile",
            &root,
            "-untrusted",
            s(&ca),
            s(&read.join(certificate)),
        ]);
        assert_eq!(
            out.code == 0,
            client,
            "{certificate} as a TLS client certificate: {out:?}"
        );
    }
}

/// r ‖ s as the DER ECDSA-Sig-Value openssl reads.
fn der_signature(raw: &[u8]) -> Vec<u8> {
    let signature = p256::ecdsa::Signature::from_slice(raw).expect("r ‖ s");
    signature.to_der().as_bytes().to_vec()
}

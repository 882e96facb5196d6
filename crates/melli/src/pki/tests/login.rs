//! The login certificate (applets-spec §12.5, §12.6): issued with clientAuth alone, accepted as
//! a login certificate and never as a signing one, and the other way round; Web eID tokens
//! signed by a software stand-in of the card's key `03`.

use super::*;
use crate::ops::auth_token::{self, AuthToken};
use base64ct::{Base64, Encoding};

/// A login key and its certificate from `card`'s issuer.
fn login_certificate(card: &Card) -> (SigningKey, Certificate) {
    let key = SigningKey::random(&mut OsRng);
    let point = key.verifying_key().to_encoded_point(false);
    let der = card
        .issuer
        .issue_authentication_certificate(&HolderRequest {
            card_serial: None,
            public_key: point.as_bytes(),
            subject: &subject(),
            card_expiry: GregorianDate {
                year: 2032,
                month: 3,
                day: 20,
            },
        })
        .unwrap();
    (key, Certificate::from_der(&der).unwrap())
}

/// A token as the card would make it, signed with `key` for `certificate`.
fn token(key: &SigningKey, certificate: &Certificate, origin: &str, nonce: &str) -> Vec<u8> {
    use signature::Signer;
    let signature: p256::ecdsa::Signature = key.sign(&auth_token::signed_data(origin, nonce));
    serde_json::to_vec(&AuthToken {
        unverified_certificate: Base64::encode_string(&certificate.to_der().unwrap()),
        algorithm: "ES256".into(),
        signature: Base64::encode_string(&signature.to_bytes()),
        format: "web-eid:1.0".into(),
        app_version: "test".into(),
    })
    .unwrap()
}

const ORIGIN: &str = "https://e.gov.ir";
const NONCE: &str = "bm9uY2Utb2YtdGhpcnR5LXR3by1yYW5kb20tYnl0ZXMhIQ==";

#[test]
fn a_login_certificate_logs_in_and_never_signs() {
    let card = Card::new();
    let (key, login) = login_certificate(&card);
    let root = card.issuer.root_certificate();
    let cas = [card.issuer.signing_ca_certificate().clone()];
    let now = SystemTime::now();
    assert!(verify_path(
        &login,
        "login",
        LeafPurpose::ClientAuthentication,
        &cas,
        root,
        now
    )
    .is_ok());
    let err = verify_path(
        &login,
        "login",
        LeafPurpose::DocumentSignature,
        &cas,
        root,
        now,
    )
    .expect_err("a login certificate is no signing certificate");
    assert!(
        err.to_string().contains("extendedKeyUsage has clientAuth"),
        "{err}"
    );

    let good = auth_token::verify_token(
        &token(&key, &login, ORIGIN, NONCE),
        ORIGIN,
        NONCE,
        root,
        &cas,
        now,
    );
    assert!(good.verdict.passed(), "{:?}", good.verdict);
    assert_eq!(
        good.holder.map(|h| h.national_code),
        Some("0012345679".into())
    );

    // Replayed at another site, or for another login: the signature says so.
    for (origin, nonce) in [("https://evil.example", NONCE), (ORIGIN, "another-nonce")] {
        let replay = auth_token::verify_token(
            &token(&key, &login, ORIGIN, NONCE),
            origin,
            nonce,
            root,
            &cas,
            now,
        );
        let check = replay
            .verdict
            .get(auth_token::check::SIGNATURE)
            .expect("signature check");
        assert!(
            !check.passed && check.detail.contains("replay"),
            "{check:?}"
        );
    }
    // Without the signing CA the path does not reach the root.
    let alone = auth_token::verify_token(
        &token(&key, &login, ORIGIN, NONCE),
        ORIGIN,
        NONCE,
        root,
        &[],
        now,
    );
    assert!(!alone.verdict.passed());
}

#[test]
fn a_signing_certificate_does_not_log_in() {
    let card = Card::new();
    let holder = Certificate::from_der(&card.holder_cert).unwrap();
    let root = card.issuer.root_certificate();
    let cas = [card.issuer.signing_ca_certificate().clone()];
    let t = token(&card.holder_key, &holder, ORIGIN, NONCE);
    let report = auth_token::verify_token(&t, ORIGIN, NONCE, root, &cas, SystemTime::now());
    let check = report
        .verdict
        .get(auth_token::check::CERTIFICATE)
        .expect("certificate check");
    assert!(!check.passed, "{check:?}");
    assert!(
        check
            .detail
            .contains("an authentication certificate has keyUsage digitalSignature only"),
        "{check:?}"
    );
}

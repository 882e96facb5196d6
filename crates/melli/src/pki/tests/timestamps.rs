//! RFC 3161 timestamps of document signatures, with tokens made by an OpenSSL TSA
//! (`melli_testkit::tsa`): a good token, one over other data, a damaged one, an untrusted
//! TSA, a wrong nonce, a refusal, and the chain checked at genTime years later.

use super::signatures::holder_signature;
use super::*;
use crate::ops::sign::{verify_timestamped_signature, CHECKED_AT_TIMESTAMP, CHECKED_NOW};
use crate::pki::timestamp::{
    accept_reply, signature_timestamp_tokens, trust_tsa, verify_token, with_timestamp_token,
    ReplyError, TimestampRequest, TokenError, TrustError,
};
use melli_testkit::tsa::{EssCertId, OpenSslTsa};

/// Thirty years: the TSA outlives the holder certificate (which ends 2032-03-20).
const TSA_DAYS: u32 = 30 * 365;

fn make_tsa(card: &Card, name: &str, days: u32, ess: EssCertId) -> (OpenSslTsa, Certificate) {
    let tsa = OpenSslTsa::create(&card.tmp.path().join(name), "melli test TSA", days, ess);
    let root = Certificate::from_der(&tsa.root_der()).unwrap();
    (tsa, root)
}

fn signature(card: &Card, doc: &[u8]) -> Vec<u8> {
    let holder = Certificate::from_der(&card.holder_cert).unwrap();
    let ess = vec![signed_data::signing_certificate_v2(&holder).unwrap()];
    holder_signature(card, doc, SystemTime::now(), ess, |_| {})
}

fn signature_value(p7s: &[u8]) -> Vec<u8> {
    let view = SignedDataView::parse(p7s).unwrap();
    view.signer_info().signature.as_bytes().to_vec()
}

/// The signature timestamped by `tsa`, and the token.
fn stamped(tsa: &OpenSslTsa, p7s: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let value = signature_value(p7s);
    let request = TimestampRequest::over_signature(&value).unwrap();
    let reply = tsa.reply(&request.der);
    let (token, info) = accept_reply(&reply, &request, &value, SystemTime::now()).unwrap();
    assert_eq!(info.tsa_name, "melli test TSA");
    (with_timestamp_token(p7s, &token).unwrap(), token)
}

/// 2032-03-27, a week after the holder certificate expired.
fn later() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_964_000_000)
}

#[test]
fn a_trusted_timestamp_keeps_an_expired_signer_valid() {
    let card = Card::new();
    let doc = b"signed before expiry\n";
    let digest: [u8; 32] = Sha256::digest(doc).into();
    let root = card.issuer.root_certificate();
    for (name, ess) in [("sha1", EssCertId::Sha1), ("sha256", EssCertId::Sha256)] {
        let (tsa, tsa_root) = make_tsa(&card, name, TSA_DAYS, ess);
        let plain = signature(&card, doc);
        let (p7s, token) = stamped(&tsa, &plain);
        let view = SignedDataView::parse(&p7s).unwrap();
        assert_eq!(signature_timestamp_tokens(&view), vec![token.clone()]);
        assert_eq!(
            with_timestamp_token(&p7s, &token).unwrap_err(),
            crate::pki::timestamp::AttributeError::AlreadyTimestamped
        );
        // The signed part did not move: the signature still verifies.
        view.verify_signature(&Certificate::from_der(&card.holder_cert).unwrap())
            .unwrap();

        // Now, trusted: the chain is checked at genTime.
        let now = SystemTime::now();
        let report =
            verify_timestamped_signature(&p7s, &digest, root, std::slice::from_ref(&tsa_root), now);
        assert!(report.verdict.passed(), "{ess:?}: {}", report.verdict);
        assert!(report
            .chain_checked_at
            .reason
            .starts_with(CHECKED_AT_TIMESTAMP));
        let ts = report.verdict.get("timestamp").unwrap();
        assert!(ts.detail.starts_with("trusted: a timestamp of "), "{ts}");
        assert!(report.existed_at().is_some());

        // After the holder certificate expired: still valid, and said so.
        let report = verify_timestamped_signature(
            &p7s,
            &digest,
            root,
            std::slice::from_ref(&tsa_root),
            later(),
        );
        assert!(report.verdict.passed(), "{}", report.verdict);
        let chain = report.verdict.get("signer certificate chain").unwrap();
        assert!(
            chain.detail.contains("checked at the timestamp")
                && chain.detail.contains("expired on 2032-03-20 ")
                && chain.detail.contains("after the timestamp"),
            "{chain}"
        );

        // The same, without trusting the TSA: a claim; checked now, expired, refused.
        let report = verify_timestamped_signature(&p7s, &digest, root, &[], later());
        assert!(!report.verdict.passed());
        assert_eq!(report.chain_checked_at.reason, CHECKED_NOW);
        let ts = report.verdict.get("timestamp").unwrap();
        assert!(
            ts.passed && ts.detail.contains("not trusted (no TSA root given)"),
            "{ts}"
        );
        let chain = report.verdict.get("signer certificate chain").unwrap();
        assert!(!chain.passed && chain.detail.contains("expired"), "{chain}");
        assert!(report.existed_at().is_none());

        // And without a timestamp at all, no "timestamp" check.
        let report = verify_timestamped_signature(&plain, &digest, root, &[tsa_root], later());
        assert!(report.verdict.get("timestamp").is_none());
        assert!(!report.verdict.passed());
    }
}

#[test]
fn a_token_over_other_data_fails() {
    let card = Card::new();
    let (tsa, tsa_root) = make_tsa(&card, "tsa", TSA_DAYS, EssCertId::Sha256);
    let doc = b"one\n";
    let digest: [u8; 32] = Sha256::digest(doc).into();

    // A TSA answering for another query: refused at signing.
    let value = signature_value(&signature(&card, doc));
    let request = TimestampRequest::over_signature(&value).unwrap();
    let reply = tsa.reply(&tsa.query_over(b"other data"));
    let err = accept_reply(&reply, &request, &value, SystemTime::now()).unwrap_err();
    assert!(
        matches!(err, ReplyError::Token(TokenError::OtherData { .. })),
        "{err}"
    );

    // Another signature's token pasted into this one: the check fails, and says why. (Of
    // another document: ECDSA here is deterministic, RFC 6979, so the same document signed in
    // the same second gives the same signature value.)
    let (_, token) = stamped(&tsa, &signature(&card, b"another document\n"));
    let pasted = with_timestamp_token(&signature(&card, doc), &token).unwrap();
    let report = verify_timestamped_signature(
        &pasted,
        &digest,
        card.issuer.root_certificate(),
        &[tsa_root],
        SystemTime::now(),
    );
    assert!(!report.verdict.passed());
    let failed: Vec<&str> = report.verdict.failures().map(|c| c.name.as_str()).collect();
    assert_eq!(failed, ["timestamp"], "{}", report.verdict);
    let ts = report.verdict.get("timestamp").unwrap();
    assert!(ts.detail.contains("timestamps other data"), "{ts}");
    assert_eq!(report.chain_checked_at.reason, CHECKED_NOW);
}

#[test]
fn a_damaged_token_a_wrong_nonce_and_a_refusal_are_refused() {
    let card = Card::new();
    let (tsa, _) = make_tsa(&card, "tsa", TSA_DAYS, EssCertId::Sha1);
    let value = signature_value(&signature(&card, b"x"));
    let now = SystemTime::now();
    let request = TimestampRequest::over_signature(&value).unwrap();
    let reply = tsa.reply(&request.der);
    let (token, info) = accept_reply(&reply, &request, &value, now).unwrap();

    // The last byte of the TSA's ECDSA signature changed.
    let mut bad = token.clone();
    *bad.last_mut().unwrap() ^= 0x01;
    let err = verify_token(&bad, &value, None, now).unwrap_err();
    assert!(matches!(err, TokenError::BadSignature(_)), "{err}");

    // A reply to another request over the same value (its nonce is not ours).
    let again = TimestampRequest::over_signature(&value).unwrap();
    assert_ne!(again.nonce, request.nonce);
    let err = accept_reply(&reply, &again, &value, now).unwrap_err();
    assert!(matches!(err, ReplyError::Token(TokenError::Nonce)), "{err}");

    // A genTime ahead of the verifier's clock.
    let before = info.gen_time - Duration::from_secs(3600);
    let err = verify_token(&token, &value, None, before).unwrap_err();
    assert!(matches!(err, TokenError::Future(_)), "{err}");

    // The TSA refuses a SHA-1 imprint (its `digests` lack it): status rejection.
    let sha1_query = {
        let dir = tsa.dir().join("sha1");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("data"), b"x").unwrap();
        let out = Command::new("openssl")
            .args(["ts", "-query", "-data", "data", "-sha1", "-cert"])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(out.status.success());
        out.stdout
    };
    let err = accept_reply(&tsa.reply(&sha1_query), &request, &value, now).unwrap_err();
    assert!(
        matches!(
            err,
            ReplyError::Refused {
                status: "rejection",
                ..
            }
        ),
        "{err}"
    );

    // Not a reply at all.
    let err = accept_reply(b"<html>busy</html>", &request, &value, now).unwrap_err();
    assert!(matches!(err, ReplyError::Malformed(_)), "{err}");
}

#[test]
fn an_untrusted_or_expired_tsa_is_only_a_claim() {
    let card = Card::new();
    let (tsa, tsa_root) = make_tsa(&card, "tsa", 2, EssCertId::Sha256);
    let (_, other_root) = make_tsa(&card, "other", TSA_DAYS, EssCertId::Sha256);
    let value = signature_value(&signature(&card, b"x"));
    let now = SystemTime::now();
    let request = TimestampRequest::over_signature(&value).unwrap();
    let (token, _) = accept_reply(&tsa.reply(&request.der), &request, &value, now).unwrap();
    let info = verify_token(&token, &value, None, now).unwrap();

    assert!(trust_tsa(&info, std::slice::from_ref(&tsa_root), now).is_ok());
    // The TSA profile: the TSA's certificate passes, a holder's (documentSigning) does not.
    crate::pki::chain::check_end_entity(&info.tsa_certificate, "TSA", LeafPurpose::TimeStamping)
        .unwrap();
    let holder = Certificate::from_der(&card.holder_cert).unwrap();
    let err = crate::pki::chain::check_end_entity(&holder, "holder", LeafPurpose::TimeStamping)
        .unwrap_err();
    assert!(
        matches!(err, ChainError::WrongExtendedKeyUsage { .. }),
        "{err}"
    );
    assert_eq!(
        trust_tsa(&info, &[], now).unwrap_err(),
        TrustError::NoAnchor
    );
    for anchor in [other_root, card.issuer.root_certificate().clone()] {
        let err = trust_tsa(&info, &[anchor], now).unwrap_err();
        assert!(
            matches!(&err, TrustError::Untrusted(why) if why.contains("is not trusted by")),
            "{err}"
        );
    }
    // The TSA's certificate is checked at the time of verification: three days on, it has
    // expired and its tokens prove nothing.
    let err = trust_tsa(&info, &[tsa_root], now + Duration::from_secs(3 * 24 * 3600)).unwrap_err();
    assert!(
        matches!(&err, TrustError::Untrusted(why) if why.contains("expired")),
        "{err}"
    );
}

#[test]
fn gen_time_with_fractions_of_a_second() {
    use crate::pki::timestamp::tst_info::GenTime;
    use der::{Decode, Encode};

    let decode = |text: &str| {
        let mut der = vec![0x18, text.len() as u8];
        der.extend_from_slice(text.as_bytes());
        GenTime::from_der(&der).map(|t| (t.clone(), t.to_der().unwrap() == der))
    };
    let (t, same) = decode("20261202113005.25Z").unwrap();
    assert!(same, "encodes back to the same bytes");
    assert_eq!(t.fraction.as_deref(), Some("25"));
    // Rounded up: 11:30:05.25 counts as 11:30:06.
    assert_eq!(
        t.to_system_time_ceil(),
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_211_006)
    );
    let (t, same) = decode("20261202113005Z").unwrap();
    assert!(same && t.fraction.is_none());
    for bad in [
        "20261202113005.250Z", // trailing zero (X.690 §11.7.3)
        "20261202113005.Z",
        "20261202113005,5Z",
        "20261202113005.5",
        "20261202113005.5+0100",
        "202612021130Z",
    ] {
        assert!(decode(bad).is_err(), "{bad}");
    }

    // A TSA that writes milliseconds (openssl ts, clock_precision_digits = 3).
    let card = Card::new();
    let (tsa, tsa_root) = make_tsa(&card, "tsa", TSA_DAYS, EssCertId::Sha256);
    tsa.set_clock_precision(3);
    let doc = b"to the millisecond\n";
    let digest: [u8; 32] = Sha256::digest(doc).into();
    // (A genTime on a whole second has no fraction: one in a thousand; try again then.)
    for _ in 0..3 {
        let (p7s, _) = stamped(&tsa, &signature(&card, doc));
        let report = verify_timestamped_signature(
            &p7s,
            &digest,
            card.issuer.root_certificate(),
            std::slice::from_ref(&tsa_root),
            SystemTime::now(),
        );
        assert!(report.verdict.passed(), "{}", report.verdict);
        assert!(report.existed_at().is_some());
        let time = report.timestamp.expect("a timestamp").time;
        if time.contains('.') {
            assert!(time.ends_with(" UTC"), "{time}");
            return;
        }
    }
    panic!("the TSA never wrote a fraction of a second");
}

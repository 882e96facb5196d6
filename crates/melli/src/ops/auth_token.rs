//! Web eID-style authentication tokens (`web-eid:1.0`, applets-spec §12.5): a citizen proves to
//! a web service who they are by having the card's authentication key sign the service's
//! origin and a nonce the service chose; the service checks the token.
//!
//! The signed data are SHA-256(origin) ‖ SHA-256(nonce), signed with ES256 (ECDSA P-256 over
//! SHA-256 of those 64 bytes): the card is given that outer SHA-256 (INTERNAL AUTHENTICATE with
//! key `03`). The token is JSON: the certificate (base64 DER), the algorithm, the signature
//! (base64 of the raw `r ‖ s`), the format and the application's version.

use std::time::SystemTime;

use base64ct::{Base64, Encoding};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::Signature;
use sha2::{Digest, Sha256};

use crate::applet::{Applet, AppletError, PinCheckError, PinError};
use crate::model::Secret;
use crate::pki::{cert, verify_path, Certificate, Check, HolderSubject, LeafPurpose, Verdict};
use crate::spec::ef;
use crate::transport::Transport;

/// The token format melli writes; a verifier accepts `web-eid:1` and its minor versions.
pub const FORMAT: &str = "web-eid:1.0";
/// The only algorithm of a P-256 key.
pub const ALGORITHM: &str = "ES256";
/// Largest token a verifier reads (a certificate of a few KB, base64, and a signature).
pub const MAX_TOKEN: usize = 16 * 1024;
/// Longest origin and nonce accepted.
pub const MAX_FIELD: usize = 1024;

/// Check names of [`verify_token`].
pub mod check {
    pub const FORMAT: &str = "token format";
    pub const CERTIFICATE: &str = "authentication certificate";
    pub const SIGNATURE: &str = "token signature";
}

/// The token, as it travels (JSON, camelCase field names as Web eID writes them).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthToken {
    /// The authentication certificate, base64 DER: "unverified" until the service checks it.
    pub unverified_certificate: String,
    pub algorithm: String,
    /// The raw `r ‖ s` signature, base64.
    pub signature: String,
    pub format: String,
    pub app_version: String,
}

/// The 32 bytes the card signs as the hash value: SHA-256(SHA-256(origin) ‖ SHA-256(nonce)).
pub fn signed_digest(origin: &str, nonce: &str) -> [u8; 32] {
    Sha256::digest(signed_data(origin, nonce)).into()
}

/// The data an ES256 verifier checks the signature over: SHA-256(origin) ‖ SHA-256(nonce).
pub fn signed_data(origin: &str, nonce: &str) -> [u8; 64] {
    let mut data = [0u8; 64];
    data[..32].copy_from_slice(&Sha256::digest(origin.as_bytes()));
    data[32..].copy_from_slice(&Sha256::digest(nonce.as_bytes()));
    data
}

/// Why no token was made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Card(#[from] AppletError),
    #[error(transparent)]
    Pin(#[from] PinError),
    /// The card has no DG7: a version 1.0 card, or personalized without a login key.
    #[error("this card has no authentication key (no DG7): it was made before cards could log in")]
    NoLoginKey,
    #[error("the card's authentication certificate (DG7) is unusable: {0}")]
    Certificate(#[source] super::read::GroupError),
    #[error("the card's authentication certificate (DG7) has an unusable key: {0}")]
    Key(#[source] spki::Error),
    /// The card's answer does not verify with its own certificate.
    #[error("the card's login signature does not verify with its own authentication certificate: the card and its certificate do not belong together")]
    Mismatch,
    #[error("{0}")]
    BadInput(String),
}

impl From<PinCheckError> for TokenError {
    fn from(e: PinCheckError) -> Self {
        match e {
            PinCheckError::Refused(pin) => TokenError::Pin(pin),
            PinCheckError::Card(card) => TokenError::Card(card),
        }
    }
}

/// Checks an origin as a service names itself: `https://host[:port]` (or `http://` for a
/// loopback host in tests), no path, no user information, at most [`MAX_FIELD`] bytes.
pub fn check_origin(origin: &str) -> Result<(), String> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or("an origin starts with https://")?;
    let host_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    if origin.len() > MAX_FIELD || rest.is_empty() || !rest.chars().all(host_ok) {
        return Err("an origin is scheme://host[:port], nothing more (no path, no spaces)".into());
    }
    Ok(())
}

/// Checks a nonce: printable ASCII, 1 to [`MAX_FIELD`] bytes (Web eID services send the
/// base64 of at least 32 random bytes).
pub fn check_nonce(nonce: &str) -> Result<(), String> {
    if nonce.is_empty() || nonce.len() > MAX_FIELD || !nonce.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "a nonce is 1 to {MAX_FIELD} printable ASCII characters (the service's challenge)"
        ));
    }
    Ok(())
}

/// Makes a token for `origin` and `nonce` with the card behind `applet`, after verifying
/// `pin`: DG7 read, the PIN verified, the card's authentication key asked to sign, the
/// answer checked against the certificate before it is given out.
pub fn make_token<T: Transport>(
    applet: &mut Applet<T>,
    pin: &Secret,
    origin: &str,
    nonce: &str,
    app_version: &str,
) -> Result<AuthToken, TokenError> {
    check_origin(origin).map_err(TokenError::BadInput)?;
    check_nonce(nonce).map_err(TokenError::BadInput)?;
    let dg7 = super::read::read_optional(applet, ef::AUTH_CERT)?.ok_or(TokenError::NoLoginKey)?;
    let login = login_certificate(&dg7)?;
    let key = cert::verifying_key(&login).map_err(TokenError::Key)?;
    let digest = signed_digest(origin, nonce);
    let raw = applet.verify_pin(pin)?.authenticate(&digest)?;
    let signature = Signature::from_slice(&raw).map_err(|_| TokenError::Mismatch)?;
    key.verify(&signed_data(origin, nonce), &signature)
        .map_err(|_| TokenError::Mismatch)?;
    let der = der::Encode::to_der(&login).map_err(|e| TokenError::BadInput(e.to_string()))?;
    Ok(AuthToken {
        unverified_certificate: Base64::encode_string(&der),
        algorithm: ALGORITHM.into(),
        signature: Base64::encode_string(&raw),
        format: FORMAT.into(),
        app_version: app_version.into(),
    })
}

fn login_certificate(dg7: &[u8]) -> Result<Certificate, TokenError> {
    super::read::split_authentication_path(dg7)
        .map(|(login, _)| login)
        .map_err(TokenError::Certificate)
}

/// What a service learns from a token.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenReport {
    pub verdict: Verdict,
    /// The holder the certificate names: verified only when the verdict passed.
    pub holder: Option<HolderSubject>,
}

/// Checks `token` (JSON) as a service does: its format and algorithm; the certificate chains
/// to `root` through `cas` with the authentication profile (clientAuth), valid at `now`; the
/// signature verifies over this `origin` and this `nonce` — a token made for another site or
/// another login fails there.
pub fn verify_token(
    token: &[u8],
    origin: &str,
    nonce: &str,
    root: &Certificate,
    cas: &[Certificate],
    now: SystemTime,
) -> TokenReport {
    let mut verdict = Verdict::default();
    let parsed = parse_token(token);
    let (certificate, signature) = match parsed {
        Ok(parts) => {
            verdict.push(Check::pass(
                check::FORMAT,
                format!("{FORMAT} token, {ALGORITHM}"),
            ));
            parts
        }
        Err(why) => {
            verdict.push(Check::fail(check::FORMAT, why));
            return TokenReport {
                verdict,
                holder: None,
            };
        }
    };
    verdict.push(
        match verify_path(
            &certificate,
            "authentication certificate",
            LeafPurpose::ClientAuthentication,
            cas,
            root,
            now,
        ) {
            Ok(path) => Check::pass(check::CERTIFICATE, path.labels().join(" <- ")),
            Err(e) => Check::fail(check::CERTIFICATE, e.to_string()),
        },
    );
    let key = cert::verifying_key(&certificate);
    verdict.push(match key {
        Err(e) => Check::fail(check::SIGNATURE, format!("the certificate's key: {e}")),
        Ok(key) => match key.verify(&signed_data(origin, nonce), &signature) {
            Ok(()) => Check::pass(
                check::SIGNATURE,
                "made by the certificate's key for this origin and this nonce",
            ),
            Err(_) => Check::fail(
                check::SIGNATURE,
                "does not verify over this origin and nonce: the token was made for another \
                 site or another login (a replay), or altered",
            ),
        },
    });
    TokenReport {
        verdict,
        holder: HolderSubject::from_certificate(&certificate).ok(),
    }
}

/// The certificate and signature of a token, or why it is not one.
fn parse_token(token: &[u8]) -> Result<(Certificate, Signature), String> {
    if token.len() > MAX_TOKEN {
        return Err(format!("longer than {MAX_TOKEN} bytes"));
    }
    let token: AuthToken =
        serde_json::from_slice(token).map_err(|e| format!("not a Web eID token (JSON: {e})"))?;
    if !(token.format == "web-eid:1" || token.format.starts_with("web-eid:1.")) {
        return Err(format!(
            "format {} is not web-eid:1",
            crate::display::escaped_cut(&token.format, 40)
        ));
    }
    if token.algorithm != ALGORITHM {
        return Err(format!(
            "algorithm {} is not {ALGORITHM} (the card's key is P-256)",
            crate::display::escaped_cut(&token.algorithm, 40)
        ));
    }
    let der = Base64::decode_vec(&token.unverified_certificate)
        .map_err(|_| "unverifiedCertificate is not base64")?;
    let certificate: Certificate = der::Decode::from_der(&der)
        .map_err(|e| format!("unverifiedCertificate is not a DER certificate ({e})"))?;
    let raw = Base64::decode_vec(&token.signature).map_err(|_| "signature is not base64")?;
    let signature = Signature::from_slice(&raw)
        .map_err(|_| format!("signature is {} bytes, not an r ‖ s pair of 64", raw.len()))?;
    Ok((certificate, signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_data_are_the_two_hashes() {
        let data = signed_data("https://e.gov.ir", "nonce");
        assert_eq!(&data[..32], Sha256::digest(b"https://e.gov.ir").as_slice());
        assert_eq!(&data[32..], Sha256::digest(b"nonce").as_slice());
        assert_eq!(
            signed_digest("https://e.gov.ir", "nonce").as_slice(),
            Sha256::digest(data).as_slice()
        );
    }

    #[test]
    fn origins_and_nonces() {
        assert!(check_origin("https://e.gov.ir").is_ok());
        assert!(check_origin("http://127.0.0.1:8443").is_ok());
        for bad in [
            "e.gov.ir",
            "https://e.gov.ir/login",
            "https://",
            "https://a b",
            "ftp://x",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
        assert!(check_nonce("12345678901234567890123456789012345678901234").is_ok());
        assert!(check_nonce("").is_err());
        assert!(check_nonce("a\u{1b}b").is_err());
    }

    #[test]
    fn a_token_that_is_not_one_says_why() {
        let why = |t: &str| parse_token(t.as_bytes()).expect_err("refused");
        assert!(why("{").starts_with("not a Web eID token"), "{}", why("{"));
        let t = r#"{"unverifiedCertificate":"AA==","algorithm":"RS256","signature":"","format":"web-eid:1.0","appVersion":"x"}"#;
        assert!(why(t).starts_with("algorithm RS256"), "{}", why(t));
        let t = r#"{"unverifiedCertificate":"AA==","algorithm":"ES256","signature":"","format":"web-eid:2","appVersion":"x"}"#;
        assert!(why(t).starts_with("format web-eid:2"), "{}", why(t));
        let t = r#"{"unverifiedCertificate":"!!","algorithm":"ES256","signature":"","format":"web-eid:1.0","appVersion":"x"}"#;
        assert_eq!(why(t), "unverifiedCertificate is not base64");
        assert!(parse_token(&vec![b' '; MAX_TOKEN + 1]).is_err());
    }
}

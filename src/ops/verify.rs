//! Verifying a card at the desk: passive authentication (the security object and every data
//! group), chip authentication (the chip holds the private key of DG5), the holder
//! certificate, the card's expiry, and optionally a live fingerprint matched on the card.
//! The result is a [`Verdict`] of named checks.

use std::time::SystemTime;

use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use rand_core::{OsRng, RngCore};
use spki::DecodePublicKey;

use super::read::CardContents;
use crate::applet::{Applet, AppletError, FingerMatch};
use crate::model::JalaliDate;
use crate::pki::{
    verify_path, verify_security_object, Certificate, Check, LeafPurpose, Verdict, VerifyInput,
};
use crate::transport::Transport;

/// Check names, as `melli verify` prints them.
pub mod check {
    pub const CHIP_AUTHENTICATION: &str = "chip authentication";
    pub const HOLDER_CERTIFICATE: &str = "holder certificate";
    pub const CARD_EXPIRY: &str = "card expiry";
    pub const FINGERPRINT: &str = "fingerprint match";
}

/// Domain-separation prefix of chip authentication (applets-spec §6.13).
const CHIP_AUTH_PREFIX: &[u8] = b"MELLI-CA-V1";
/// Length of the desk's random challenge.
const CHALLENGE_LEN: usize = 32;

/// Runs every check on a card whose files were read into `contents`.
pub fn verify_card<T: Transport>(
    applet: &mut Applet<T>,
    contents: &CardContents,
    trusted_root: &Certificate,
    live_finger: Option<&[u8]>,
    at: SystemTime,
) -> Result<Verdict, AppletError> {
    let groups = contents.data_groups();
    let mut verdict = verify_security_object(
        &contents.security_object,
        &VerifyInput {
            trusted_root,
            card_serial: &contents.serial,
            data_groups: &groups,
            at,
        },
    );
    let dg5_covered = verdict
        .get(&crate::pki::security_object::data_group_check_name(5))
        .is_some_and(|c| c.passed);
    verdict.push(chip_authentication(applet, contents, dg5_covered)?);
    verdict.push(holder_certificate(contents, trusted_root, at));
    verdict.push(card_expiry(contents, at));
    if let Some(live) = live_finger {
        verdict.push(match applet.verify_finger(live)? {
            FingerMatch::Match => {
                Check::pass(check::FINGERPRINT, "the card matched the live fingerprint")
            }
            FingerMatch::NoMatch { tries_left } => Check::fail(
                check::FINGERPRINT,
                format!("no match ({tries_left} tries left before the card blocks matching)"),
            ),
            FingerMatch::Blocked => Check::fail(
                check::FINGERPRINT,
                "matching is blocked on this card; the holder gives it its tries back with the \
                 PUK (melli pin unblock-finger)",
            ),
        });
    }
    Ok(verdict)
}

/// A fresh challenge, INTERNAL AUTHENTICATE, and the signature checked with DG5's key — only
/// trusted when the security object covers DG5, or a clone could bring its own key.
fn chip_authentication<T: Transport>(
    applet: &mut Applet<T>,
    contents: &CardContents,
    dg5_covered: bool,
) -> Result<Check, AppletError> {
    let name = check::CHIP_AUTHENTICATION;
    if !dg5_covered {
        return Ok(Check::fail(
            name,
            "DG5 is not covered by a valid security object, so its key proves nothing",
        ));
    }
    let key = match VerifyingKey::from_public_key_der(&contents.chip_auth_key) {
        Ok(key) => key,
        Err(e) => {
            return Ok(Check::fail(
                name,
                format!("DG5 does not hold a P-256 key: {e}"),
            ))
        }
    };
    let mut challenge = [0u8; CHALLENGE_LEN];
    OsRng.fill_bytes(&mut challenge);
    let answer = match applet.internal_authenticate(&challenge) {
        Ok(answer) => answer,
        Err(AppletError::Status { status, .. }) => {
            return Ok(Check::fail(
                name,
                format!("the chip refused to authenticate: {status}"),
            ))
        }
        Err(other) => return Err(other),
    };
    let Ok(signature) = Signature::from_slice(&answer) else {
        return Ok(Check::fail(
            name,
            "the chip's answer is not an ECDSA signature",
        ));
    };
    let mut message =
        Vec::with_capacity(CHIP_AUTH_PREFIX.len() + contents.serial.len() + CHALLENGE_LEN);
    message.extend_from_slice(CHIP_AUTH_PREFIX);
    message.extend_from_slice(contents.serial.as_bytes());
    message.extend_from_slice(&challenge);
    Ok(match key.verify(&message, &signature) {
        Ok(()) => Check::pass(name, "the chip signed a fresh challenge with the key of DG5"),
        Err(_) => Check::fail(name, "the chip's signature does not verify with the key of DG5: the chip is not the one this data was issued for (a clone?)"),
    })
}

fn holder_certificate(contents: &CardContents, root: &Certificate, at: SystemTime) -> Check {
    let name = check::HOLDER_CERTIFICATE;
    let (holder, cas) = match contents.parse_certificates() {
        Ok(certs) => certs,
        Err(e) => return Check::fail(name, e.to_string()),
    };
    match verify_path(
        &holder,
        "holder certificate",
        LeafPurpose::DocumentSignature,
        &cas,
        root,
        at,
    ) {
        Ok(_) => Check::pass(
            name,
            "chains to the trusted root through the signing CA and is valid now",
        ),
        Err(e) => Check::fail(name, e.to_string()),
    }
}

fn card_expiry(contents: &CardContents, at: SystemTime) -> Check {
    let name = check::CARD_EXPIRY;
    let identity = match contents.parse_identity() {
        Ok(identity) => identity,
        Err(e) => return Check::fail(name, e.to_string()),
    };
    let today = match JalaliDate::from_system_time(at) {
        Ok(today) => today,
        Err(e) => return Check::fail(name, format!("today's date: {e}")),
    };
    let expiry = identity.expiry_date();
    if today <= expiry {
        Check::pass(name, format!("valid until {}", expiry.with_gregorian()))
    } else {
        Check::fail(name, format!("expired on {}", expiry.with_gregorian()))
    }
}

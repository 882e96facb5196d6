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
use crate::pki::revocation::{self, CrlRefused, Sources};
use crate::pki::HolderSubject;
use crate::pki::SignedDataView;
use crate::pki::{
    verify_path, verify_security_object, Certificate, Check, LeafPurpose, Remedy, Verdict,
    VerifyInput,
};
use crate::spec::reference;
use crate::transport::Transport;

/// Check names, as `melli verify` prints them.
pub mod check {
    pub const CHIP_AUTHENTICATION: &str = "chip authentication";
    pub const HOLDER_CERTIFICATE: &str = "holder certificate";
    pub const HOLDER_BINDING: &str = "holder certificate binding";
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
    let mut verdict = passive_authentication(
        &contents.security_object,
        &contents.serial,
        &groups,
        trusted_root,
        at,
    );
    let vouched = dg5_vouched_for(&verdict);
    verdict.push(chip_authentication(applet, contents, vouched)?);
    verdict.push(holder_certificate(contents, trusted_root, at));
    verdict.push(holder_binding(applet, contents)?);
    for check in super::login::authentication_checks(applet, contents, trusted_root, at)? {
        verdict.push(check);
    }
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
                 PUK",
            )
            .with_remedy(Remedy::UnblockFinger),
        });
    }
    Ok(verdict)
}

/// Passive authentication (applets-spec §9.4): the security object parses, its signature and
/// message digest hold, its document signer chains to `trusted_root`, it names this serial,
/// and every readable data group in `groups` has the hash it lists. One check each.
pub fn passive_authentication(
    security_object: &[u8],
    serial: &str,
    groups: &[(u8, &[u8])],
    trusted_root: &Certificate,
    at: SystemTime,
) -> Verdict {
    verify_security_object(
        security_object,
        &VerifyInput {
            trusted_root,
            card_serial: serial,
            data_groups: groups,
            at,
        },
    )
}

/// Whether the passive-authentication verdict vouches for DG5: `Ok` only when every one of its
/// checks passed (the signature and chain as much as DG5's hash — a hash in a security object
/// nobody vouches for proves nothing); otherwise why not, naming the failed checks.
pub fn dg5_vouched_for(passive: &Verdict) -> Result<(), String> {
    if passive.passed() {
        return Ok(());
    }
    let failed: Vec<&str> = passive.failures().map(|c| c.name.as_str()).collect();
    let failed = if failed.is_empty() {
        "no check was made".to_owned()
    } else {
        failed.join(", ")
    };
    Err(format!(
        "DG5 is not vouched for: passive authentication failed ({failed}), so its key proves \
         nothing"
    ))
}

/// A fresh random challenge for INTERNAL AUTHENTICATE (§9.5 step 3).
pub fn fresh_challenge() -> [u8; CHALLENGE_LEN] {
    let mut challenge = [0u8; CHALLENGE_LEN];
    OsRng.fill_bytes(&mut challenge);
    challenge
}

/// Checks the chip's answer to INTERNAL AUTHENTICATE (§9.5 steps 2, 5 and 6): `dg5` is a P-256
/// SubjectPublicKeyInfo, and `answer` is its ECDSA signature `r ‖ s` over
/// SHA-256("MELLI-CA-V1" ‖ serial ‖ challenge). The error says what is wrong.
pub fn check_chip_signature(
    dg5: &[u8],
    serial: &str,
    challenge: &[u8],
    answer: &[u8],
) -> Result<(), String> {
    let key = VerifyingKey::from_public_key_der(dg5)
        .map_err(|e| format!("DG5 does not hold a P-256 key: {e}"))?;
    let signature = Signature::from_slice(answer)
        .map_err(|_| "the chip's answer is not an ECDSA signature".to_owned())?;
    let mut message = Vec::with_capacity(CHIP_AUTH_PREFIX.len() + serial.len() + challenge.len());
    message.extend_from_slice(CHIP_AUTH_PREFIX);
    message.extend_from_slice(serial.as_bytes());
    message.extend_from_slice(challenge);
    key.verify(&message, &signature).map_err(|_| {
        "the chip's signature does not verify with the key of DG5: the chip is not the one \
         this data was issued for (a clone?)"
            .to_owned()
    })
}

/// A fresh challenge, INTERNAL AUTHENTICATE, and the signature checked with DG5's key — only
/// when passive authentication vouches for DG5 (`vouched`), or a clone could bring its own
/// key (or a forged security object its own DG5).
fn chip_authentication<T: Transport>(
    applet: &mut Applet<T>,
    contents: &CardContents,
    vouched: Result<(), String>,
) -> Result<Check, AppletError> {
    let name = check::CHIP_AUTHENTICATION;
    if let Err(why) = vouched {
        return Ok(Check::fail(name, why));
    }
    if let Err(why) = VerifyingKey::from_public_key_der(&contents.chip_auth_key) {
        return Ok(Check::fail(
            name,
            format!("DG5 does not hold a P-256 key: {why}"),
        ));
    }
    let challenge = fresh_challenge();
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
    Ok(
        match check_chip_signature(
            &contents.chip_auth_key,
            &contents.serial,
            &challenge,
            &answer,
        ) {
            Ok(()) => Check::pass(
                name,
                "the chip signed a fresh challenge with the key of DG5",
            ),
            Err(why) => Check::fail(name, why),
        },
    )
}

/// The "revocation" check (`melli verify --crl`, `--online`): the document signer, the holder
/// certificate and the signing CA, each by a fresh status from `sources` (CRLs given; online,
/// its OCSP responder, then its CRL distribution point: see
/// [`crate::pki::revocation::statuses`]). A given CRL that no CA of these paths signed is
/// refused.
pub fn revocation(
    contents: &CardContents,
    root: &Certificate,
    sources: &Sources<'_>,
    at: SystemTime,
    allow_unknown: bool,
) -> Result<Check, CrlRefused> {
    let cannot = |why: String| {
        Ok(Check::unknown(
            revocation::CHECK,
            format!("cannot tell: {why}"),
            allow_unknown,
        ))
    };
    let view = match SignedDataView::parse(&contents.security_object) {
        Ok(view) => view,
        Err(e) => return cannot(format!("security object: {e}")),
    };
    let document_signer = match view.signer_certificate() {
        Ok(c) => c.clone(),
        Err(e) => return cannot(format!("security object: {e}")),
    };
    let (holder, cas) = match contents.parse_certificates() {
        Ok(certs) => certs,
        Err(e) => return cannot(e.to_string()),
    };
    revocation::check_chains_at(
        &[
            (&document_signer, "document signer certificate", &[]),
            (&holder, "holder certificate", &cas),
        ],
        root,
        sources,
        at,
        None,
        allow_unknown,
    )
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

/// The holder certificate belongs to this card and this holder (§9.4.1): its key is the public
/// key of the card's signing key (read from the card: GENERATE `00 47 81 01`), and its subject
/// names DG1's holder as the issuer writes it (§9.3.5).
fn holder_binding<T: Transport>(
    applet: &mut Applet<T>,
    contents: &CardContents,
) -> Result<Check, AppletError> {
    let name = check::HOLDER_BINDING;
    let holder = match contents.parse_certificates() {
        Ok((holder, _)) => holder,
        Err(e) => return Ok(Check::fail(name, e.to_string())),
    };
    let identity = match contents.parse_identity() {
        Ok(identity) => identity,
        Err(e) => return Ok(Check::fail(name, e.to_string())),
    };
    let signing_key = match applet.read_public_key(reference::SIGNING_KEY) {
        Ok(point) => point,
        Err(AppletError::Status { status, .. }) => {
            return Ok(Check::fail(
                name,
                format!("the card does not give its signing key's public key ({status})"),
            ))
        }
        Err(e) => return Err(e),
    };
    let certified = holder
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    if certified != signing_key.as_slice() {
        return Ok(Check::fail(
            name,
            "the holder certificate certifies another key than the card's signing key: DG6 does not belong to this card",
        ));
    }
    let subject = match HolderSubject::from_certificate(&holder) {
        Ok(subject) => subject,
        Err(e) => {
            return Ok(Check::fail(
                name,
                format!("holder certificate subject: {e}"),
            ))
        }
    };
    let expected = [
        ("national code", identity.national_code().to_string()),
        (
            "given name",
            identity.given_name_latin().as_str().to_string(),
        ),
        ("surname", identity.surname_latin().as_str().to_string()),
        (
            "Persian name",
            format!("{} {}", identity.given_name_fa(), identity.surname_fa()),
        ),
    ];
    let in_certificate = [
        &subject.national_code,
        &subject.given_name,
        &subject.surname,
        &subject.full_name_fa,
    ];
    for ((what, want), got) in expected.iter().zip(in_certificate) {
        if want != got {
            return Ok(Check::fail(
                name,
                format!("the holder certificate's {what} is not DG1's: DG6 names someone else"),
            ));
        }
    }
    Ok(Check::pass(
        name,
        "certifies the card's signing key and names DG1's holder",
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dg5_is_vouched_for_only_by_a_whole_passive_authentication() {
        let mut passive = Verdict::default();
        passive.push(Check::pass("security object signature", "ok"));
        passive.push(Check::pass("DG5 chip-authentication key", "hash matches"));
        assert_eq!(dg5_vouched_for(&passive), Ok(()));
        passive.push(Check::fail("document signer chain", "another root"));
        let why = dg5_vouched_for(&passive).expect_err("not vouched for");
        assert!(
            why.starts_with(
                "DG5 is not vouched for: passive authentication failed (document signer chain)"
            ),
            "{why}"
        );
        assert!(dg5_vouched_for(&Verdict::default()).is_err());
    }
}

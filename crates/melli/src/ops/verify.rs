//! Verifying a card at the desk: passive authentication (the security object and every data
//! group), chip authentication (the chip holds the private key of DG5), the holder
//! certificate and its binding to the card, the card's expiry, and optionally a live
//! fingerprint matched on the card. The result is a [`Verdict`] of named checks.
//!
//! The checks work on what [`super::read::read_card`] read in its one pass; the card is asked
//! only for what no file can tell: INTERNAL AUTHENTICATE, and VERIFY of a live finger
//! (applets-spec, "The desk check in the fewest APDUs").

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

/// Runs every check on a card whose files were read into `contents`: one INTERNAL
/// AUTHENTICATE, and with `live_finger` one VERIFY, are all it sends.
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
    let chip = chip_authentication(applet, contents, vouched.clone())?;
    let basis = Basis::of(&verdict, &chip);
    verdict.push(chip);
    verdict.push(holder_certificate(contents, trusted_root, at));
    verdict.push(holder_binding(contents, &basis));
    for check in super::login::authentication_checks(contents, trusted_root, at, &basis) {
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
    passive_failed(passive).map_or(Ok(()), |failed| {
        Err(format!(
            "DG5 is not vouched for: passive authentication failed ({failed}), so its key \
             proves nothing"
        ))
    })
}

/// The names of the failed checks of a passive-authentication verdict, `None` when it passed.
fn passive_failed(passive: &Verdict) -> Option<String> {
    if passive.passed() {
        return None;
    }
    let failed: Vec<&str> = passive.failures().map(|c| c.name.as_str()).collect();
    Some(if failed.is_empty() {
        "no check was made".to_owned()
    } else {
        failed.join(", ")
    })
}

/// What binds DG6 and DG7 to the chip at the desk, which reads no public key from the card:
/// passive authentication vouches that the issuer wrote them, with DG5, for this serial, and
/// chip authentication that this chip holds the private key of that DG5 — so it is the card
/// the issuer made them for, and the issuer certified in them the keys it saw this chip
/// generate under the secure channel, checked before it locked the card (§10.8, §12.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Basis {
    /// Both passed.
    Established,
    /// Passive authentication failed (its failed checks named): nothing vouches for the
    /// certificates, so whose they are cannot be told.
    PassiveFailed(String),
    /// Passive authentication passed but chip authentication failed: this chip is not the
    /// card the certificates were issued for.
    ChipFailed,
}

impl Basis {
    /// The basis given the verdict of passive authentication alone and the
    /// chip-authentication check.
    pub fn of(passive: &Verdict, chip: &Check) -> Basis {
        match passive_failed(passive) {
            Some(failed) => Basis::PassiveFailed(failed),
            None if chip.passed => Basis::Established,
            None => Basis::ChipFailed,
        }
    }

    /// The check `name` about `what` ("DG6's holder certificate") when the basis is missing:
    /// UNKNOWN (not accepted) after a failed passive authentication, FAIL after a failed chip
    /// authentication, each saying why; `None` when established.
    pub fn refusal(&self, name: &str, what: &str) -> Option<Check> {
        match self {
            Basis::Established => None,
            Basis::PassiveFailed(failed) => Some(Check::unknown(
                name,
                format!(
                    "cannot tell whether {what} belongs to this card: passive authentication \
                     failed ({failed}), so nothing vouches that the issuer wrote it for it"
                ),
                false,
            )),
            Basis::ChipFailed => Some(Check::fail(
                name,
                format!(
                    "{what} does not belong to this chip: chip authentication failed, so this \
                     chip is not the card the issuer certified it for (a clone?)"
                ),
            )),
        }
    }
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

/// The holder certificate belongs to this card and this holder (§9.4.1): its subject names
/// DG1's holder as the issuer writes it (§9.3.5), and it is the issuer's for this chip on
/// `basis` — passive and chip authentication — which alone lets it pass.
fn holder_binding(contents: &CardContents, basis: &Basis) -> Check {
    let name = check::HOLDER_BINDING;
    let holder = match contents.parse_certificates() {
        Ok((holder, _)) => holder,
        Err(e) => return Check::fail(name, e.to_string()),
    };
    let identity = match contents.parse_identity() {
        Ok(identity) => identity,
        Err(e) => return Check::fail(name, e.to_string()),
    };
    let subject = match HolderSubject::from_certificate(&holder) {
        Ok(subject) => subject,
        Err(e) => return Check::fail(name, format!("holder certificate subject: {e}")),
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
            return Check::fail(
                name,
                format!("the holder certificate's {what} is not DG1's: DG6 names someone else"),
            );
        }
    }
    if let Some(refused) = basis.refusal(name, "DG6's holder certificate") {
        return refused;
    }
    Check::pass(
        name,
        format!(
            "names DG1's holder, and is the issuer's for this chip: the document signer vouches \
             for it with DG5 for card {} and the chip proved it holds DG5's key, so it \
             certifies the signing key the issuer saw this chip generate (§10.8; the key is not \
             read from the card)",
            contents.serial
        ),
    )
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

//! Personalizing a blank card from a validated enrolment record (issue centre's job).
//!
//! Every step is idempotent while the card is still personalizing: files are rewritten from
//! offset 0 and trimmed, keys regenerated, the certificate and security object issued anew. So
//! a card pulled at any point is finished by running the same personalization again, and the
//! card's own completeness check at ACTIVATE FILE means it can never be locked half-written.
//!
//! The issuer trusts nothing the card says that it did not check under the secure channel: DG5
//! must be the key GENERATE answered with before the security object vouches for it, and
//! before ACTIVATE FILE the card is checked as a desk would check it (the self-check: passive
//! authentication of every data group read back, chip authentication on a fresh challenge, DG6
//! certifying the signing key GENERATE answered with). A card that fails is not locked.

use std::fmt;
use std::time::Instant;

use p256::pkcs8::EncodePublicKey;

use crate::applet::{Applet, AppletError, Lifecycle, PublicPoint};
use crate::model::{Secret, ValidRecord};
use crate::pki::{GregorianDate, HolderRequest, HolderSubject, Issuer, PkiError};
use crate::spec::{ef, reference};
use crate::transport::{Traffic, Transport};

mod self_check;

pub use self_check::SelfCheckFailure;

/// The steps of a personalization, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    SecureChannel,
    Identity,
    Photo,
    Address,
    Fingerprint,
    SigningKey,
    ChipAuthenticationKey,
    HolderCertificate,
    SecurityObject,
    PinAndPuk,
    SelfCheck,
    Lock,
}

impl Step {
    pub const ALL: [Step; 12] = [
        Step::SecureChannel,
        Step::Identity,
        Step::Photo,
        Step::Address,
        Step::Fingerprint,
        Step::SigningKey,
        Step::ChipAuthenticationKey,
        Step::HolderCertificate,
        Step::SecurityObject,
        Step::PinAndPuk,
        Step::SelfCheck,
        Step::Lock,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            Step::SecureChannel => "open the secure channel",
            Step::Identity => "write DG1 identity",
            Step::Photo => "write DG2 photo",
            Step::Address => "write DG4 address",
            Step::Fingerprint => "write DG3 fingerprint templates",
            Step::SigningKey => "generate the signing (and authentication) keys on the chip",
            Step::ChipAuthenticationKey => "generate the chip-authentication key on the chip",
            Step::HolderCertificate => "issue and write the holder certificates",
            Step::SecurityObject => "sign and write the security object",
            Step::PinAndPuk => "set PIN and PUK",
            Step::SelfCheck => "check the card as a desk would (self-check)",
            Step::Lock => "lock the card",
        }
    }

    /// The step named `name` (as [`Step::name`] gives it, as the journal stores it).
    pub fn named(name: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Step::SecureChannel => "secure-channel",
            Step::Identity => "identity",
            Step::Photo => "photo",
            Step::Address => "address",
            Step::Fingerprint => "fingerprint",
            Step::SigningKey => "signing-key",
            Step::ChipAuthenticationKey => "chip-authentication-key",
            Step::HolderCertificate => "holder-certificate",
            Step::SecurityObject => "security-object",
            Step::PinAndPuk => "pin-puk",
            Step::SelfCheck => "self-check",
            Step::Lock => "lock",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Why a personalization stopped.
#[derive(Debug, thiserror::Error)]
pub enum PersonalizeError {
    #[error("card {serial} is already personalized and locked ({lifecycle}): use a blank card")]
    AlreadyIssued {
        serial: String,
        lifecycle: Lifecycle,
    },
    #[error("{step}: {source}")]
    Card {
        step: Step,
        #[source]
        source: AppletError,
    },
    #[error("{step}: {source}")]
    Issuer {
        step: Step,
        #[source]
        source: PkiError,
    },
    /// The card answered every command, but what it holds is not what the issuer made: it is
    /// not locked, and the issuer has vouched for nothing on it that it did not check.
    #[error("self-check: {failure}; the card was not locked")]
    SelfCheck {
        step: Step,
        failure: SelfCheckFailure,
    },
    #[error("{0}")]
    Start(#[source] AppletError),
}

impl PersonalizeError {
    /// The step the personalization stopped at, when it had begun.
    pub fn step(&self) -> Option<Step> {
        match self {
            PersonalizeError::Card { step, .. }
            | PersonalizeError::Issuer { step, .. }
            | PersonalizeError::SelfCheck { step, .. } => Some(*step),
            _ => None,
        }
    }
}

/// What a finished personalization reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub serial: String,
    pub holder: String,
    pub national_code: String,
    /// The card was found half-personalized and was finished.
    pub resumed: bool,
    /// The holder's earlier cards, revoked now that this one is locked.
    pub replacement: Replacement,
    pub seconds: f64,
    pub traffic: Traffic,
}

/// Personalizes the card behind `applet` (already selected) for `record`, with keys and
/// certificates from `issuer`. `progress` is told each step as it starts.
pub fn personalize<T: Transport>(
    applet: &mut Applet<T>,
    record: &ValidRecord,
    issuer: &Issuer,
    pin: &Secret,
    puk: &Secret,
    progress: &mut dyn FnMut(Step),
) -> Result<Summary, PersonalizeError> {
    let started = Instant::now();
    let serial = applet.serial().map_err(PersonalizeError::Start)?;
    let lifecycle = applet.lifecycle().map_err(PersonalizeError::Start)?;
    let identity = record.identity();
    if lifecycle >= Lifecycle::Operational {
        // A card pulled just after it locked itself never answered the last command: it is
        // finished, and finished for this record when it holds this record's identity.
        let on_card = applet
            .read_file(ef::IDENTITY)
            .map_err(PersonalizeError::Start)?;
        if lifecycle == Lifecycle::Operational && *on_card == record.identity_dg() {
            let replacement =
                supersede_others(issuer, &identity.national_code().to_string(), &serial);
            return Ok(Summary {
                serial,
                holder: format!(
                    "{} {}",
                    identity.given_name_latin(),
                    identity.surname_latin()
                ),
                national_code: identity.national_code().to_string(),
                resumed: true,
                replacement,
                seconds: started.elapsed().as_secs_f64(),
                traffic: applet.traffic(),
            });
        }
        return Err(PersonalizeError::AlreadyIssued { serial, lifecycle });
    }
    let card = |step: Step| move |source: AppletError| PersonalizeError::Card { step, source };
    let issuer_err = |step: Step| move |source: PkiError| PersonalizeError::Issuer { step, source };
    // A version 1.1 card also gets the authentication key and DG7 (applets-spec §12.7).
    let with_login_key = applet.spec_version().map_err(PersonalizeError::Start)?
        >= crate::spec::authentication::SINCE;

    // A card expiry the holder certificate cannot have (already past, or after the signing CA
    // expires) is refused before anything is written, not at step 8 with the card half-written.
    let (year, month, day) = identity.expiry_date().to_gregorian();
    let card_expiry = GregorianDate {
        year: u16::try_from(year).unwrap_or(u16::MAX),
        month,
        day,
    };
    issuer
        .check_card_expiry(card_expiry, std::time::SystemTime::now())
        .map_err(issuer_err(Step::HolderCertificate))?;

    progress(Step::SecureChannel);
    let keys = issuer
        .card_keys(&serial)
        .map_err(issuer_err(Step::SecureChannel))?;
    let mut session = applet
        .open_secure_channel(&keys)
        .map_err(card(Step::SecureChannel))?;

    let identity_dg = record.identity_dg();
    let address_dg = record.address_dg();
    let files: [(Step, u16, &[u8]); 3] = [
        (Step::Identity, ef::IDENTITY, &identity_dg),
        (Step::Photo, ef::PHOTO, record.photo_dg()),
        (Step::Address, ef::ADDRESS, &address_dg),
    ];
    for (step, fid, content) in files {
        progress(step);
        session.write_file(fid, content).map_err(card(step))?;
    }
    progress(Step::Fingerprint);
    session
        .write_file(ef::FINGERPRINT, &record.fingerprint_dg())
        .map_err(card(Step::Fingerprint))?;

    progress(Step::SigningKey);
    let signing_key = session
        .generate_key(reference::SIGNING_KEY)
        .map_err(card(Step::SigningKey))?;
    let authentication_key = if with_login_key {
        Some(
            session
                .generate_key(reference::AUTHENTICATION_KEY)
                .map_err(card(Step::SigningKey))?,
        )
    } else {
        None
    };
    progress(Step::ChipAuthenticationKey);
    let chip_auth_key = session
        .generate_key(reference::CHIP_AUTH_KEY)
        .map_err(card(Step::ChipAuthenticationKey))?;
    // The card writes DG5 itself from the key it generated (§5.5). The issuer vouches for DG5
    // in the security object, so it takes DG5 only if it is the key GENERATE answered with
    // under the secure channel, read back under the same channel.
    let chip_auth_dg =
        subject_public_key_info(&chip_auth_key).map_err(card(Step::ChipAuthenticationKey))?;
    let on_card = session
        .read_file(ef::CHIP_AUTH_KEY)
        .map_err(card(Step::ChipAuthenticationKey))?;
    if *on_card != *chip_auth_dg {
        return Err(PersonalizeError::SelfCheck {
            step: Step::ChipAuthenticationKey,
            failure: SelfCheckFailure::ForeignDg5,
        });
    }

    progress(Step::HolderCertificate);
    let subject = HolderSubject {
        given_name: identity.given_name_latin().as_str().to_string(),
        surname: identity.surname_latin().as_str().to_string(),
        national_code: identity.national_code().to_string(),
        full_name_fa: format!("{} {}", identity.given_name_fa(), identity.surname_fa()),
    };
    let request = |public_key| HolderRequest {
        card_serial: Some(serial.as_str()),
        public_key,
        subject: &subject,
        card_expiry,
    };
    let certificate = issuer
        .issue_holder_certificate(&request(&signing_key[..]))
        .map_err(issuer_err(Step::HolderCertificate))?;
    // DG6 holds the path: the holder certificate, then the signing CA's (applets-spec §5.6).
    let certificate_path =
        with_ca(issuer, certificate).map_err(issuer_err(Step::HolderCertificate))?;
    session
        .write_file(ef::HOLDER_CERT, &certificate_path)
        .map_err(card(Step::HolderCertificate))?;
    // DG7 likewise, for the authentication key (§12.1, §12.5).
    let authentication_path = match &authentication_key {
        Some(key) => {
            let path = issuer
                .issue_authentication_certificate(&request(&key[..]))
                .and_then(|c| with_ca(issuer, c))
                .map_err(issuer_err(Step::HolderCertificate))?;
            session
                .write_file(ef::AUTH_CERT, &path)
                .map_err(card(Step::HolderCertificate))?;
            Some(path)
        }
        None => None,
    };

    progress(Step::SecurityObject);
    let mut groups: Vec<(u8, &[u8])> = vec![
        (1, &identity_dg),
        (2, record.photo_dg()),
        (4, &address_dg),
        (5, &chip_auth_dg),
        (6, &certificate_path),
    ];
    if let Some(path) = &authentication_path {
        groups.push((7, path));
    }
    let security_object = issuer
        .sign_security_object(&serial, &groups)
        .map_err(issuer_err(Step::SecurityObject))?;
    session
        .write_file(ef::SECURITY_OBJECT, &security_object)
        .map_err(card(Step::SecurityObject))?;

    progress(Step::PinAndPuk);
    session.set_secret(pin).map_err(card(Step::PinAndPuk))?;
    session.set_secret(puk).map_err(card(Step::PinAndPuk))?;

    progress(Step::SelfCheck);
    self_check(
        &mut session,
        &Expected {
            serial: &serial,
            root: issuer.root_certificate(),
            signing_key: &signing_key,
            authentication_key: authentication_key.as_ref(),
            chip_auth_dg: &chip_auth_dg,
            security_object: &security_object,
        },
        std::time::SystemTime::now(),
    )?;

    progress(Step::Lock);
    session.activate().map_err(card(Step::Lock))?;
    let replacement = supersede_others(issuer, &subject.national_code, &serial);

    Ok(Summary {
        serial,
        holder: subject.common_name(),
        national_code: subject.national_code,
        resumed: lifecycle == Lifecycle::Personalizing,
        replacement,
        seconds: started.elapsed().as_secs_f64(),
        traffic: applet.traffic(),
    })
}

/// A certificate path as DG6 and DG7 hold it: the certificate `der`, then the signing CA's
/// (applets-spec §5.6).
fn with_ca(issuer: &Issuer, mut der: Vec<u8>) -> Result<Vec<u8>, PkiError> {
    der::Encode::encode_to_vec(issuer.signing_ca_certificate(), &mut der)?;
    Ok(der)
}

/// What became of a holder's earlier cards when a new one was locked.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Replacement {
    /// The serials of the earlier cards whose certificates were revoked (superseded) now.
    pub replaced: Vec<String>,
    /// Why the earlier cards could not be revoked (the new card is good regardless): the
    /// issuer must revoke them by hand.
    #[serde(skip)]
    pub failed: Option<std::sync::Arc<PkiError>>,
}

/// A replacement card `serial` is locked: the certificates of the holder's other cards are
/// revoked as superseded (RFC 5280 §5.3.1) in the issuer's database, for the next CRL and the
/// OCSP responder. Running it again changes nothing.
pub fn supersede_others(issuer: &Issuer, national_code: &str, serial: &str) -> Replacement {
    match issuer
        .database()
        .supersede(national_code, serial, std::time::SystemTime::now())
    {
        Ok(entries) => {
            let mut replaced: Vec<String> = entries
                .iter()
                .filter_map(|e| e.card().map(str::to_string))
                .collect();
            replaced.dedup();
            Replacement {
                replaced,
                failed: None,
            }
        }
        Err(e) => Replacement {
            replaced: Vec::new(),
            failed: Some(std::sync::Arc::new(e)),
        },
    }
}

/// The DER SubjectPublicKeyInfo (RFC 5480) of a P-256 point: DG5 as §5.5 defines it.
fn subject_public_key_info(point: &PublicPoint) -> Result<Vec<u8>, AppletError> {
    let malformed =
        |source: Box<dyn std::error::Error + Send + Sync>| AppletError::MalformedBecause {
            what: "chip-authentication public key",
            source,
        };
    let key = p256::PublicKey::from_sec1_bytes(point).map_err(|e| malformed(e.into()))?;
    let der = key.to_public_key_der().map_err(|e| malformed(e.into()))?;
    Ok(der.as_bytes().to_vec())
}

#[cfg(test)]
mod tests;
use self_check::self_check;
use self_check::Expected;

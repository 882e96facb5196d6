//! The issuer's self-check before it locks a card (applets-spec §10.8): every group read back under secure messaging, passive and chip authentication, DG6 certifying the generated signing key.

use super::{PersonalizeError, Step};
use crate::applet::{AppletError, Personalization, PublicPoint};
use crate::ops::read::{split_certificate_path, GroupError};
use crate::ops::verify;
use crate::pki::{verify_path, Certificate, ChainError, LeafPurpose};
use crate::spec::ef;
use crate::transport::Transport;

/// Which check of the card's own answers failed (see [`PersonalizeError::SelfCheck`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelfCheckFailure {
    /// DG5, read back under the secure channel, is not the SubjectPublicKeyInfo of the key
    /// GENERATE returned for key `02`.
    #[error("DG5 on the card is not the chip-authentication key the card generated")]
    ForeignDg5,
    /// The security object read back is not the one just signed and written.
    #[error("the security object on the card is not the one the issuer signed")]
    SecurityObjectChanged,
    /// Passive authentication (applets-spec §9.4) of the files read back failed.
    #[error("passive authentication of the card failed ({0})")]
    PassiveAuthentication(String),
    /// The chip did not prove the key of DG5 on a fresh challenge (§9.5).
    #[error("chip authentication failed: {0}")]
    ChipAuthentication(String),
    /// DG6, read back, does not hold a holder certificate for the key GENERATE returned for
    /// key `01`, chaining to the issuer's root.
    #[error("DG6 on the card does not certify the signing key the card generated: {0}")]
    HolderCertificate(String),
    /// DG6, read back, is not a certificate path.
    #[error("DG6 on the card does not certify the signing key the card generated: {0}")]
    HolderCertificateUnreadable(#[source] GroupError),
    /// DG7, read back, does not hold an authentication certificate for the key GENERATE
    /// returned for key `03`, chaining to the issuer's root (§12.5).
    #[error("DG7 on the card does not certify the authentication key the card generated: {0}")]
    AuthenticationCertificate(String),
    /// DG6's holder certificate does not chain to the issuer's root.
    #[error("DG6 on the card does not certify the signing key the card generated: {0}")]
    HolderCertificatePath(#[source] ChainError),
}

/// What the issuer made for a card and expects to find on it before locking it.
pub(super) struct Expected<'a> {
    pub(super) serial: &'a str,
    /// The trust anchor a desk would use.
    pub(super) root: &'a Certificate,
    /// The public key GENERATE returned for key `01` under the secure channel.
    pub(super) signing_key: &'a PublicPoint,
    /// The public key GENERATE returned for key `03` (a version 1.1 card, §12).
    pub(super) authentication_key: Option<&'a PublicPoint>,
    /// DG5 as built from the key GENERATE returned for key `02` under the secure channel.
    pub(super) chip_auth_dg: &'a [u8],
    /// The security object just signed and written.
    pub(super) security_object: &'a [u8],
}

/// The card checked as a desk would, before it is locked, on what it holds now: every
/// readable data group and the security object read back under the secure channel, passive
/// authentication of them with the issuer's root as trust anchor (§9.4), DG5 the key the chip
/// generated, chip authentication on a fresh challenge (§9.5), and DG6 a certificate of the
/// signing key the chip generated, chaining to the root.
pub(super) fn self_check<T: Transport>(
    session: &mut Personalization<'_, T>,
    expected: &Expected<'_>,
    at: std::time::SystemTime,
) -> Result<(), PersonalizeError> {
    let card = |source: AppletError| PersonalizeError::Card {
        step: Step::SelfCheck,
        source,
    };
    let failed = |failure: SelfCheckFailure| PersonalizeError::SelfCheck {
        step: Step::SelfCheck,
        failure,
    };
    let mut read = |fid: u16| session.read_file(fid).map_err(card);
    let identity = read(ef::IDENTITY)?;
    let photo = read(ef::PHOTO)?;
    let address = read(ef::ADDRESS)?;
    let chip_auth_dg = read(ef::CHIP_AUTH_KEY)?;
    let certificates = read(ef::HOLDER_CERT)?;
    let authentication = match expected.authentication_key {
        Some(_) => Some(read(ef::AUTH_CERT)?),
        None => None,
    };
    let security_object = read(ef::SECURITY_OBJECT)?;

    if *security_object != *expected.security_object {
        return Err(failed(SelfCheckFailure::SecurityObjectChanged));
    }
    let mut groups: Vec<(u8, &[u8])> = vec![
        (1, &identity),
        (2, &photo),
        (4, &address),
        (5, &chip_auth_dg),
        (6, &certificates),
    ];
    if let Some(dg7) = &authentication {
        groups.push((7, dg7));
    }
    let passive = verify::passive_authentication(
        &security_object,
        expected.serial,
        &groups,
        expected.root,
        at,
    );
    if !passive.passed() {
        let failures: Vec<String> = passive
            .failures()
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        return Err(failed(SelfCheckFailure::PassiveAuthentication(
            failures.join("; "),
        )));
    }
    if *chip_auth_dg != *expected.chip_auth_dg {
        return Err(failed(SelfCheckFailure::ForeignDg5));
    }

    let challenge = verify::fresh_challenge();
    let answer = session.internal_authenticate(&challenge).map_err(card)?;
    verify::check_chip_signature(&chip_auth_dg, expected.serial, &challenge, &answer)
        .map_err(|why| failed(SelfCheckFailure::ChipAuthentication(why)))?;

    let holder_failure = |why: String| failed(SelfCheckFailure::HolderCertificate(why));
    let (holder, cas) = split_certificate_path(&certificates)
        .map_err(|e| failed(SelfCheckFailure::HolderCertificateUnreadable(e)))?;
    let certified = holder
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .as_bytes();
    if certified != Some(&expected.signing_key[..]) {
        return Err(holder_failure(
            "its public key is another key than GENERATE returned for key 01".to_owned(),
        ));
    }
    verify_path(
        &holder,
        "holder certificate",
        LeafPurpose::DocumentSignature,
        &cas,
        expected.root,
        at,
    )
    .map_err(|e| failed(SelfCheckFailure::HolderCertificatePath(e)))?;

    if let (Some(key), Some(dg7)) = (expected.authentication_key, &authentication) {
        let wrong = |why: String| failed(SelfCheckFailure::AuthenticationCertificate(why));
        let (login, cas) = split_certificate_path(dg7).map_err(|e| wrong(e.to_string()))?;
        if login
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .as_bytes()
            != Some(&key[..])
        {
            return Err(wrong(
                "its public key is another key than GENERATE returned for key 03".to_owned(),
            ));
        }
        verify_path(
            &login,
            "authentication certificate",
            LeafPurpose::ClientAuthentication,
            &cas,
            expected.root,
            at,
        )
        .map_err(|e| wrong(e.to_string()))?;
    }
    Ok(())
}

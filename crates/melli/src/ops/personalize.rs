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

use super::read::split_certificate_path;
use super::verify;
use crate::applet::{Applet, AppletError, Lifecycle, Personalization, PublicPoint};
use crate::model::{Secret, ValidRecord};
use crate::pki::{
    verify_path, Certificate, GregorianDate, HolderRequest, HolderSubject, Issuer, LeafPurpose,
    PkiError,
};
use crate::spec::{ef, reference};
use crate::transport::{Traffic, Transport};

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
            Step::SigningKey => "generate the signing key on the chip",
            Step::ChipAuthenticationKey => "generate the chip-authentication key on the chip",
            Step::HolderCertificate => "issue and write the holder certificate",
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
            return Ok(Summary {
                serial,
                holder: format!(
                    "{} {}",
                    identity.given_name_latin(),
                    identity.surname_latin()
                ),
                national_code: identity.national_code().to_string(),
                resumed: true,
                seconds: started.elapsed().as_secs_f64(),
                traffic: applet.traffic(),
            });
        }
        return Err(PersonalizeError::AlreadyIssued { serial, lifecycle });
    }
    let card = |step: Step| move |source: AppletError| PersonalizeError::Card { step, source };
    let issuer_err = |step: Step| move |source: PkiError| PersonalizeError::Issuer { step, source };

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
    let certificate = issuer
        .issue_holder_certificate(&HolderRequest {
            public_key: &signing_key,
            subject: &subject,
            card_expiry,
        })
        .map_err(issuer_err(Step::HolderCertificate))?;
    // DG6 holds the path: the holder certificate, then the signing CA's (applets-spec §5.6).
    let mut certificate_path = certificate;
    der::Encode::encode_to_vec(issuer.signing_ca_certificate(), &mut certificate_path).map_err(
        |e| PersonalizeError::Issuer {
            step: Step::HolderCertificate,
            source: PkiError::from(e),
        },
    )?;
    session
        .write_file(ef::HOLDER_CERT, &certificate_path)
        .map_err(card(Step::HolderCertificate))?;

    progress(Step::SecurityObject);
    let groups: [(u8, &[u8]); 5] = [
        (1, &identity_dg),
        (2, record.photo_dg()),
        (4, &address_dg),
        (5, &chip_auth_dg),
        (6, &certificate_path),
    ];
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
            chip_auth_dg: &chip_auth_dg,
            security_object: &security_object,
        },
        std::time::SystemTime::now(),
    )?;

    progress(Step::Lock);
    session.activate().map_err(card(Step::Lock))?;

    Ok(Summary {
        serial,
        holder: subject.common_name(),
        national_code: subject.national_code,
        resumed: lifecycle == Lifecycle::Personalizing,
        seconds: started.elapsed().as_secs_f64(),
        traffic: applet.traffic(),
    })
}

/// The DER SubjectPublicKeyInfo (RFC 5480) of a P-256 point: DG5 as §5.5 defines it.
fn subject_public_key_info(point: &PublicPoint) -> Result<Vec<u8>, AppletError> {
    let malformed = |detail: String| AppletError::Malformed {
        what: "chip-authentication public key",
        detail,
    };
    let key = p256::PublicKey::from_sec1_bytes(point).map_err(|e| malformed(e.to_string()))?;
    let der = key
        .to_public_key_der()
        .map_err(|e| malformed(e.to_string()))?;
    Ok(der.as_bytes().to_vec())
}

/// What the issuer made for a card and expects to find on it before locking it.
struct Expected<'a> {
    serial: &'a str,
    /// The trust anchor a desk would use.
    root: &'a Certificate,
    /// The public key GENERATE returned for key `01` under the secure channel.
    signing_key: &'a PublicPoint,
    /// DG5 as built from the key GENERATE returned for key `02` under the secure channel.
    chip_auth_dg: &'a [u8],
    /// The security object just signed and written.
    security_object: &'a [u8],
}

/// The card checked as a desk would, before it is locked, on what it holds now: every
/// readable data group and the security object read back under the secure channel, passive
/// authentication of them with the issuer's root as trust anchor (§9.4), DG5 the key the chip
/// generated, chip authentication on a fresh challenge (§9.5), and DG6 a certificate of the
/// signing key the chip generated, chaining to the root.
fn self_check<T: Transport>(
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
    let security_object = read(ef::SECURITY_OBJECT)?;

    if *security_object != *expected.security_object {
        return Err(failed(SelfCheckFailure::SecurityObjectChanged));
    }
    let groups: [(u8, &[u8]); 5] = [
        (1, &identity),
        (2, &photo),
        (4, &address),
        (5, &chip_auth_dg),
        (6, &certificates),
    ];
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
    let (holder, cas) =
        split_certificate_path(&certificates).map_err(|e| holder_failure(e.to_string()))?;
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
    .map_err(|e| holder_failure(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SecretKind;
    use crate::test_cards::{blank_card, InProcessCard};
    use std::path::Path;

    fn fixture(path: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path)
    }

    #[test]
    fn the_journal_stores_the_step_names_and_knows_the_lock_by_its_own() {
        assert_eq!(Step::Lock.name(), crate::journal::LOCK_STEP);
        for step in Step::ALL {
            assert_eq!(Step::named(step.name()), Some(step));
        }
        assert_eq!(Step::named("no such step"), None);
    }

    #[test]
    fn personalizes_an_in_process_card() {
        let dir = tempfile::tempdir().expect("tempdir");
        let issuer = Issuer::init_plain(&dir.path().join("issuer")).expect("issuer");
        let record = ValidRecord::load(&fixture("fixtures/records/valid-1.json")).expect("record");
        let card = blank_card(&issuer, "MC0000000042");
        let mut applet = Applet::select(InProcessCard::new(card)).expect("select");
        let pin = Secret::parse(SecretKind::Pin, "123456").expect("pin");
        let puk = Secret::parse(SecretKind::Puk, "12345678").expect("puk");
        let mut steps = Vec::new();
        let summary = personalize(&mut applet, &record, &issuer, &pin, &puk, &mut |s| {
            steps.push(s)
        })
        .expect("personalized");
        assert_eq!(steps, Step::ALL);
        assert_eq!(summary.serial, "MC0000000042");
        assert_eq!(
            applet.lifecycle().expect("lifecycle"),
            Lifecycle::Operational
        );
    }

    fn secrets() -> (Secret, Secret) {
        (
            Secret::parse(SecretKind::Pin, "123456").expect("pin"),
            Secret::parse(SecretKind::Puk, "12345678").expect("puk"),
        )
    }

    #[test]
    fn a_card_whose_dg5_is_not_its_key_gets_no_security_object_and_is_not_locked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let issuer = Issuer::init_plain(&dir.path().join("issuer")).expect("issuer");
        let record = ValidRecord::load(&fixture("fixtures/records/valid-1.json")).expect("record");
        let mut card = blank_card(&issuer, "MC0000000043");
        card.set_fault(melli_card::Fault::ForeignDg5);
        let mut applet = Applet::select(InProcessCard::new(card)).expect("select");
        let (pin, puk) = secrets();
        let error = personalize(&mut applet, &record, &issuer, &pin, &puk, &mut |_| {})
            .expect_err("the card lies about DG5");
        assert!(
            matches!(
                error,
                PersonalizeError::SelfCheck {
                    step: Step::ChipAuthenticationKey,
                    failure: SelfCheckFailure::ForeignDg5,
                }
            ),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "self-check: DG5 on the card is not the chip-authentication key the card \
             generated; the card was not locked"
        );
        let security_object = applet.read_file(ef::SECURITY_OBJECT).expect("read");
        assert!(
            security_object.is_empty(),
            "the issuer signed the foreign DG5"
        );
        assert_eq!(
            applet.lifecycle().expect("lifecycle"),
            Lifecycle::Personalizing
        );
    }

    /// Sends nothing once `stop` is set, as a card pulled from its reader.
    struct Stoppable {
        inner: InProcessCard,
        stop: std::rc::Rc<std::cell::Cell<bool>>,
    }

    impl Transport for Stoppable {
        fn transmit(
            &mut self,
            command: &[u8],
        ) -> Result<Vec<u8>, crate::transport::TransportError> {
            if self.stop.get() {
                return Err(crate::transport::TransportError::CardRemoved);
            }
            self.inner.transmit(command)
        }
        fn atr(&self) -> &[u8] {
            self.inner.atr()
        }
        fn reader(&self) -> &str {
            self.inner.reader()
        }
    }

    /// The self-check passes on what the issuer made, and names what differs: another DG5,
    /// another signing key, another security object, another trust anchor.
    #[test]
    fn the_self_check_passes_on_a_sound_card_and_names_each_failure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let issuer = Issuer::init_plain(&dir.path().join("issuer")).expect("issuer");
        let other = Issuer::init_plain(&dir.path().join("other")).expect("other issuer");
        let record = ValidRecord::load(&fixture("fixtures/records/valid-1.json")).expect("record");
        let card = blank_card(&issuer, "MC0000000044");
        let stop = std::rc::Rc::new(std::cell::Cell::new(false));
        let mut applet = Applet::select(Stoppable {
            inner: InProcessCard::new(card),
            stop: stop.clone(),
        })
        .expect("select");
        let (pin, puk) = secrets();
        // Everything written and checked; the card pulled just before ACTIVATE FILE.
        let mut steps = Vec::new();
        let pulled = personalize(&mut applet, &record, &issuer, &pin, &puk, &mut |step| {
            steps.push(step);
            if step == Step::Lock {
                stop.set(true);
            }
        })
        .expect_err("pulled before the lock");
        assert_eq!(pulled.step(), Some(Step::Lock), "{pulled}");
        assert_eq!(steps, Step::ALL);
        stop.set(false);

        let security_object = applet.read_file(ef::SECURITY_OBJECT).expect("SO");
        let chip_auth_dg = applet.read_file(ef::CHIP_AUTH_KEY).expect("DG5");
        let dg6 = applet.read_file(ef::HOLDER_CERT).expect("DG6");
        let (holder, _) = split_certificate_path(&dg6).expect("DG6");
        let signing_key: PublicPoint = holder
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .as_bytes()
            .expect("bit string")
            .try_into()
            .expect("65 bytes");
        let serial = applet.serial().expect("serial");
        let keys = issuer.card_keys(&serial).expect("card keys");
        let mut session = applet.open_secure_channel(&keys).expect("channel");
        let now = std::time::SystemTime::now();
        let good = Expected {
            serial: &serial,
            root: issuer.root_certificate(),
            signing_key: &signing_key,
            chip_auth_dg: &chip_auth_dg,
            security_object: &security_object,
        };
        self_check(&mut session, &good, now).expect("a sound card passes");

        let failure = |session: &mut Personalization<'_, Stoppable>, expected: &Expected<'_>| {
            match self_check(session, expected, now) {
                Err(PersonalizeError::SelfCheck {
                    step: Step::SelfCheck,
                    failure,
                }) => failure,
                other => panic!("not a self-check failure: {other:?}"),
            }
        };
        let mut other_key = signing_key;
        other_key[64] ^= 1;
        assert!(matches!(
            failure(
                &mut session,
                &Expected {
                    signing_key: &other_key,
                    ..good
                }
            ),
            SelfCheckFailure::HolderCertificate(_)
        ));
        let foreign_dg5 = subject_public_key_info(&other_key_point()).expect("SPKI");
        assert_eq!(
            failure(
                &mut session,
                &Expected {
                    chip_auth_dg: &foreign_dg5,
                    ..good
                }
            ),
            SelfCheckFailure::ForeignDg5
        );
        let mut other_so = security_object.to_vec();
        *other_so.last_mut().expect("SO") ^= 1;
        assert_eq!(
            failure(
                &mut session,
                &Expected {
                    security_object: &other_so,
                    ..good
                }
            ),
            SelfCheckFailure::SecurityObjectChanged
        );
        match failure(
            &mut session,
            &Expected {
                root: other.root_certificate(),
                ..good
            },
        ) {
            SelfCheckFailure::PassiveAuthentication(why) => {
                assert!(why.starts_with("document signer chain: "), "{why}")
            }
            other => panic!("{other:?}"),
        }
        self_check(&mut session, &good, now).expect("the channel is still sound");
    }

    /// A P-256 point no card holds the private key of.
    fn other_key_point() -> PublicPoint {
        let key = p256::SecretKey::random(&mut rand_core::OsRng);
        p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&key.public_key(), false)
            .as_bytes()
            .try_into()
            .expect("65 bytes")
    }
}

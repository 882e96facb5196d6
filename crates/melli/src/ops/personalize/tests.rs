use super::self_check::{self_check, Expected};
use super::*;
use crate::applet::Personalization;
use crate::model::SecretKind;
use crate::ops::read::split_certificate_path;
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
    assert_eq!(Step::SecureChannel.name(), crate::journal::FIRST_STEP);
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
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, crate::transport::TransportError> {
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
    // A version 1.1 card also has DG7 and the authentication key (applets-spec §12).
    let authentication_key: Option<PublicPoint> = match applet.read_file(ef::AUTH_CERT) {
        Ok(dg7) if !dg7.is_empty() => {
            let (login, _) = split_certificate_path(&dg7).expect("DG7");
            Some(
                login
                    .tbs_certificate
                    .subject_public_key_info
                    .subject_public_key
                    .as_bytes()
                    .expect("bit string")
                    .try_into()
                    .expect("65 bytes"),
            )
        }
        _ => None,
    };
    let serial = applet.serial().expect("serial");
    let keys = issuer.card_keys(&serial).expect("card keys");
    let mut session = applet.open_secure_channel(&keys).expect("channel");
    let now = std::time::SystemTime::now();
    let good = Expected {
        serial: &serial,
        root: issuer.root_certificate(),
        signing_key: &signing_key,
        authentication_key: authentication_key.as_ref(),
        chip_auth_dg: &chip_auth_dg,
        security_object: &security_object,
    };
    self_check(&mut session, &good, now).expect("a sound card passes");

    let failure =
        |session: &mut Personalization<'_, Stoppable>, expected: &Expected<'_>| match self_check(
            session, expected, now,
        ) {
            Err(PersonalizeError::SelfCheck {
                step: Step::SelfCheck,
                failure,
            }) => failure,
            other => panic!("not a self-check failure: {other:?}"),
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

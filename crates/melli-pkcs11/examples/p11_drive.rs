//! Drives `libmelli_pkcs11.so` through the `cryptoki` crate, as an application would, for the
//! end-to-end tests and the benchmark (a process of its own, so that `MELLI_PKCS11_READERS`
//! can show it only the test's reader).
//!
//! ```text
//! p11_drive MODULE sessions SERIAL PIN     token, objects, 4 threads × 5 signatures, finalize and reload
//! p11_drive MODULE removal SERIAL PIN      logs in, prints PULL and waits for a line on stdin (the
//!                                           card pulled meanwhile), expects CKR_DEVICE_REMOVED, a slot
//!                                           event, prints INSERT, waits for the card to come back
//! p11_drive MODULE context SERIAL PIN      the signing key wants C_Login(CKU_CONTEXT_SPECIFIC) before
//!                                           every signature; the authentication key does not
//! p11_drive MODULE dialog SERIAL          with MELLI_PINENTRY set: the token asks no login, the
//!                                           login key signs twice on one PIN dialog, the signing
//!                                           key twice on a dialog each, C_Login without a PIN asks
//! p11_drive MODULE init N                  N × (C_Initialize + C_GetSlotList + C_Finalize): median µs
//! ```
//! Exit 0 when everything held, 1 with the reason on stderr otherwise.

use std::io::BufRead;
use std::time::Instant;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

type Result<T> = std::result::Result<T, String>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [module, "sessions", serial, pin] => sessions(module, serial, pin),
        [module, "removal", serial, pin] => removal(module, serial, pin),
        [module, "context", serial, pin] => context(module, serial, pin),
        [module, "dialog", serial] => dialog(module, serial),
        [module, "init", n] => init(module, n.parse().unwrap_or(20)),
        _ => Err("usage: p11_drive MODULE (sessions|removal|context SERIAL PIN | init N)".into()),
    };
    if let Err(e) = outcome {
        eprintln!("p11_drive: {e}");
        std::process::exit(1);
    }
}

fn e(what: &str) -> impl Fn(Error) -> String + '_ {
    move |err| format!("{what}: {err}")
}

fn load(module: &str) -> Result<Pkcs11> {
    let p11 = Pkcs11::new(module).map_err(e("load"))?;
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(e("C_Initialize"))?;
    Ok(p11)
}

/// The one slot with a token, whose serial must be `serial`.
fn token(p11: &Pkcs11, serial: &str) -> Result<Slot> {
    let slots = p11.get_slots_with_token().map_err(e("C_GetSlotList"))?;
    let [slot] = slots.as_slice() else {
        return Err(format!("{} slots with a token, expected 1", slots.len()));
    };
    let info = p11.get_token_info(*slot).map_err(e("C_GetTokenInfo"))?;
    if info.serial_number() != serial || !info.label().ends_with(serial) {
        return Err(format!(
            "token {:?} serial {:?}, expected {serial}",
            info.label(),
            info.serial_number()
        ));
    }
    // With the module's own PIN dialog (MELLI_PINENTRY) no login is required: `dialog`
    // checks those flags itself.
    let dialog = std::env::var_os("MELLI_PINENTRY").is_some();
    if info.login_required() == dialog || !info.user_pin_initialized() {
        return Err(
            "token flags: login required (unless MELLI_PINENTRY) and user PIN initialized expected"
                .into(),
        );
    }
    Ok(*slot)
}

/// The labels of the card's two keys (and of their public keys and certificates).
const AUTHENTICATION: &str = "Authentication";
const SIGNING: &str = "Digital Signature";

/// The one object of `class` labelled `label`.
fn object(
    session: &Session,
    class: ObjectClass,
    label: &str,
) -> Result<cryptoki::object::ObjectHandle> {
    let found = session
        .find_objects(&[
            Attribute::Class(class),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(e("C_FindObjects"))?;
    let [object] = found.as_slice() else {
        return Err(format!("{} objects {class} {label:?}", found.len()));
    };
    Ok(*object)
}

/// The login key: the one that signs once the session is logged in.
fn private_key(session: &Session) -> Result<cryptoki::object::ObjectHandle> {
    let keys = session
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
        .map_err(e("C_FindObjects"))?;
    if keys.len() != 2 {
        return Err(format!("{} private keys, expected 2", keys.len()));
    }
    object(session, ObjectClass::PRIVATE_KEY, AUTHENTICATION)
}

fn public_key(session: &Session) -> Result<p256::ecdsa::VerifyingKey> {
    public_key_of(session, AUTHENTICATION)
}

fn public_key_of(session: &Session, label: &str) -> Result<p256::ecdsa::VerifyingKey> {
    let key = &object(session, ObjectClass::PUBLIC_KEY, label)?;
    let attrs = session
        .get_attributes(*key, &[AttributeType::EcPoint])
        .map_err(e("C_GetAttributeValue"))?;
    let Some(Attribute::EcPoint(point)) = attrs.first() else {
        return Err("no CKA_EC_POINT".into());
    };
    // A DER OCTET STRING around the uncompressed point.
    let raw = point.get(2..).ok_or("short CKA_EC_POINT")?;
    p256::ecdsa::VerifyingKey::from_sec1_bytes(raw).map_err(|e| format!("CKA_EC_POINT: {e}"))
}

fn sessions(module: &str, serial: &str, pin: &str) -> Result<()> {
    let fds_before = open_fds();
    for round in 0..2 {
        let p11 = load(module)?;
        let slot = token(&p11, serial)?;
        let session = p11.open_ro_session(slot).map_err(e("C_OpenSession"))?;
        let public = public_key(&session)?;
        let key = private_key(&session)?;
        // The private key has no value, ever.
        match session.get_attributes(key, &[AttributeType::Value]) {
            Ok(attrs) if attrs.is_empty() => {}
            other => return Err(format!("CKA_VALUE of the private key: {other:?}")),
        }
        session
            .login(UserType::User, Some(&AuthPin::new(pin.into())))
            .map_err(e("C_Login"))?;
        // Four threads, each with its own session, sign at once; the card sees one operation
        // (one PC/SC transaction) at a time.
        std::thread::scope(|scope| -> Result<()> {
            let workers: Vec<_> = (0..4u8)
                .map(|t| {
                    let p11 = &p11;
                    scope.spawn(move || -> Result<()> {
                        let session = p11.open_ro_session(slot).map_err(e("C_OpenSession"))?;
                        let key = private_key(&session)?;
                        for i in 0..5u8 {
                            let digest = [t * 16 + i; 32];
                            let signature = session
                                .sign(&Mechanism::Ecdsa, key, &digest)
                                .map_err(e("C_Sign"))?;
                            let signature = p256::ecdsa::Signature::from_slice(&signature)
                                .map_err(|e| format!("r||s: {e}"))?;
                            use p256::ecdsa::signature::hazmat::PrehashVerifier;
                            public
                                .verify_prehash(&digest, &signature)
                                .map_err(|e| format!("signature does not verify: {e}"))?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for w in workers {
                w.join().map_err(|_| "a thread panicked".to_string())??;
            }
            Ok(())
        })?;
        // CKM_ECDSA_SHA256 in parts equals CKM_ECDSA of the SHA-256.
        let signature = session
            .sign(&Mechanism::EcdsaSha256, key, b"part one, part two")
            .map_err(e("C_Sign ECDSA-SHA256"))?;
        use p256::ecdsa::signature::Verifier;
        let signature =
            p256::ecdsa::Signature::from_slice(&signature).map_err(|e| e.to_string())?;
        public
            .verify(b"part one, part two", &signature)
            .map_err(|e| format!("ECDSA-SHA256 signature: {e}"))?;
        // Nothing can be written.
        match session.create_object(&[Attribute::Class(ObjectClass::DATA)]) {
            Err(Error::Pkcs11(RvError::TokenWriteProtected, _)) => {}
            other => return Err(format!("C_CreateObject: {other:?}")),
        }
        match session.destroy_object(key) {
            Err(Error::Pkcs11(RvError::TokenWriteProtected, _)) => {}
            other => return Err(format!("C_DestroyObject: {other:?}")),
        }
        if round == 0
            && p11
                .get_slot_event()
                .map_err(e("C_WaitForSlotEvent"))?
                .is_some()
        {
            return Err("a slot event while nothing happened".into());
        }
        drop(session);
        p11.finalize().map_err(e("C_Finalize"))?;
    }
    // Finalize and reload leave nothing open behind.
    for _ in 0..20 {
        let p11 = load(module)?;
        token(&p11, serial)?;
        p11.finalize().map_err(e("C_Finalize"))?;
    }
    let fds_after = open_fds();
    if fds_after > fds_before + 2 {
        return Err(format!(
            "open descriptors {fds_before} -> {fds_after} after 22 loads"
        ));
    }
    println!("sessions ok, descriptors {fds_before} -> {fds_after}");
    Ok(())
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn wait_line(what: &str) -> Result<()> {
    println!("{what}");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("stdin: {e}"))?;
    Ok(())
}

fn removal(module: &str, serial: &str, pin: &str) -> Result<()> {
    let p11 = load(module)?;
    let slot = token(&p11, serial)?;
    let session = p11.open_ro_session(slot).map_err(e("C_OpenSession"))?;
    let key = private_key(&session)?;
    session
        .login(UserType::User, Some(&AuthPin::new(pin.into())))
        .map_err(e("C_Login"))?;
    session
        .sign(&Mechanism::Ecdsa, key, &[7; 32])
        .map_err(e("C_Sign"))?;
    wait_line("PULL")?;
    match session.sign(&Mechanism::Ecdsa, key, &[8; 32]) {
        Err(Error::Pkcs11(RvError::DeviceRemoved, _)) => {}
        other => return Err(format!("C_Sign after the card left: {other:?}")),
    }
    match session.get_session_info() {
        Err(Error::Pkcs11(RvError::DeviceRemoved, _)) => {}
        other => return Err(format!("C_GetSessionInfo after the card left: {other:?}")),
    }
    let event = p11.get_slot_event().map_err(e("C_WaitForSlotEvent"))?;
    if event != Some(slot) {
        return Err(format!("slot event after removal: {event:?}"));
    }
    if !p11
        .get_slots_with_token()
        .map_err(e("C_GetSlotList"))?
        .is_empty()
    {
        return Err("a token without a card".into());
    }
    wait_line("INSERT")?;
    // Blocks until the card is back.
    let event = p11.wait_for_slot_event().map_err(e("C_WaitForSlotEvent"))?;
    if event != slot {
        return Err(format!("slot event on insertion: {event:?}"));
    }
    token(&p11, serial)?;
    let fresh = p11.open_ro_session(slot).map_err(e("C_OpenSession"))?;
    // The card came back as a new token: the old session stays dead, the new one is not
    // logged in.
    match session.get_session_info() {
        Err(Error::Pkcs11(RvError::DeviceRemoved, _)) => {}
        other => return Err(format!("the old session after reinsertion: {other:?}")),
    }
    let key = private_key(&fresh)?;
    match fresh.sign(&Mechanism::Ecdsa, key, &[9; 32]) {
        Err(Error::Pkcs11(RvError::UserNotLoggedIn, _)) => {}
        other => return Err(format!("C_Sign on the new token before login: {other:?}")),
    }
    drop(session);
    drop(fresh);
    p11.finalize().map_err(e("C_Finalize"))?;
    println!("removal ok");
    Ok(())
}

fn always_authenticate(session: &Session, key: cryptoki::object::ObjectHandle) -> Result<bool> {
    match session
        .get_attributes(key, &[AttributeType::AlwaysAuthenticate])
        .map_err(e("C_GetAttributeValue"))?
        .first()
    {
        Some(Attribute::AlwaysAuthenticate(b)) => Ok(*b),
        other => Err(format!("CKA_ALWAYS_AUTHENTICATE: {other:?}")),
    }
}

/// PKCS#11 v2.40 §4.9: a CKA_ALWAYS_AUTHENTICATE key signs only after its own
/// C_Login(CKU_CONTEXT_SPECIFIC), once per signature; the login key signs on the session's
/// login alone.
/// The module's own PIN dialog (`MELLI_PINENTRY`): the test's pinentry counts the dialogs.
fn dialog(module: &str, serial: &str) -> Result<()> {
    use cryptoki::slot::TokenInfo;
    use p256::ecdsa::signature::Verifier;
    let p11 = load(module)?;
    let slot = token(&p11, serial)?;
    let info: TokenInfo = p11.get_token_info(slot).map_err(e("C_GetTokenInfo"))?;
    if info.login_required() || !info.protected_authentication_path() {
        return Err(format!(
            "flags: login required {}, protected authentication path {}: want false, true",
            info.login_required(),
            info.protected_authentication_path()
        ));
    }
    let session = p11.open_ro_session(slot).map_err(e("C_OpenSession"))?;
    let data = b"a document";
    for (label, dialogs) in [(AUTHENTICATION, 1), (SIGNING, 2)] {
        let key = object(&session, ObjectClass::PRIVATE_KEY, label)?;
        let public = public_key_of(&session, label)?;
        for _ in 0..2 {
            let signature = session
                .sign(&Mechanism::EcdsaSha256, key, data)
                .map_err(e("C_Sign with the PIN from the dialog"))?;
            let signature = p256::ecdsa::Signature::from_slice(&signature)
                .map_err(|e| format!("{label}: r||s: {e}"))?;
            public
                .verify(data, &signature)
                .map_err(|e| format!("{label}: the signature does not verify: {e}"))?;
        }
        println!("{label}: 2 signatures, {dialogs} dialog(s) expected");
    }
    session.logout().map_err(e("C_Logout"))?;
    // The protected authentication path: C_Login with no PIN asks through the dialog.
    session
        .login(UserType::User, None)
        .map_err(e("C_Login without a PIN"))?;
    let login = object(&session, ObjectClass::PRIVATE_KEY, AUTHENTICATION)?;
    session
        .sign(&Mechanism::EcdsaSha256, login, data)
        .map_err(e("C_Sign after C_Login from the dialog"))?;
    println!("C_Login: 1 dialog expected");
    Ok(())
}

fn context(module: &str, serial: &str, pin: &str) -> Result<()> {
    use p256::ecdsa::signature::Verifier;
    let p11 = load(module)?;
    let slot = token(&p11, serial)?;
    let session = p11.open_ro_session(slot).map_err(e("C_OpenSession"))?;
    let signing = object(&session, ObjectClass::PRIVATE_KEY, SIGNING)?;
    let login = object(&session, ObjectClass::PRIVATE_KEY, AUTHENTICATION)?;
    if !always_authenticate(&session, signing)? || always_authenticate(&session, login)? {
        return Err("CKA_ALWAYS_AUTHENTICATE: TRUE on the signing key only expected".into());
    }
    let signing_public = public_key_of(&session, SIGNING)?;
    let login_public = public_key_of(&session, AUTHENTICATION)?;
    let pin = AuthPin::new(pin.into());
    session
        .login(UserType::User, Some(&pin))
        .map_err(e("C_Login"))?;
    let data = b"a document";
    let verify = |public: &p256::ecdsa::VerifyingKey, signature: &[u8], what: &str| {
        let signature = p256::ecdsa::Signature::from_slice(signature)
            .map_err(|e| format!("{what}: r||s: {e}"))?;
        public
            .verify(data, &signature)
            .map_err(|e| format!("{what}: the signature does not verify: {e}"))
    };

    // C_SignInit + C_Sign without the context-specific login.
    match session.sign(&Mechanism::EcdsaSha256, signing, data) {
        Err(Error::Pkcs11(RvError::UserNotLoggedIn, _)) => {}
        other => return Err(format!("C_Sign without context login: {other:?}")),
    }
    // C_SignInit + C_SignUpdate without it.
    session
        .sign_init(&Mechanism::EcdsaSha256, signing)
        .map_err(e("C_SignInit"))?;
    match session.sign_update(data) {
        Err(Error::Pkcs11(RvError::UserNotLoggedIn, _)) => {}
        other => return Err(format!("C_SignUpdate without context login: {other:?}")),
    }
    // With it: C_SignInit, C_Login(CKU_CONTEXT_SPECIFIC), C_SignUpdate, C_SignFinal.
    session
        .sign_init(&Mechanism::EcdsaSha256, signing)
        .map_err(e("C_SignInit"))?;
    session
        .login(UserType::ContextSpecific, Some(&pin))
        .map_err(e("C_Login(CKU_CONTEXT_SPECIFIC)"))?;
    session.sign_update(data).map_err(e("C_SignUpdate"))?;
    let signature = session.sign_final().map_err(e("C_SignFinal"))?;
    verify(&signing_public, &signature, "signing key")?;
    // Used up by that signature.
    match session.sign(&Mechanism::EcdsaSha256, signing, data) {
        Err(Error::Pkcs11(RvError::UserNotLoggedIn, _)) => {}
        other => {
            return Err(format!(
                "a second signature on one context login: {other:?}"
            ))
        }
    }
    // No context-specific login where no operation wants it.
    match session.login(UserType::ContextSpecific, Some(&pin)) {
        Err(Error::Pkcs11(RvError::OperationNotInitialized, _)) => {}
        other => return Err(format!("context login with no operation: {other:?}")),
    }
    // The login key signs on the session's login, again and again.
    for _ in 0..2 {
        let signature = session
            .sign(&Mechanism::EcdsaSha256, login, data)
            .map_err(e("C_Sign with the authentication key"))?;
        verify(&login_public, &signature, "authentication key")?;
    }
    session
        .sign_init(&Mechanism::EcdsaSha256, login)
        .map_err(e("C_SignInit"))?;
    match session.login(UserType::ContextSpecific, Some(&pin)) {
        Err(Error::Pkcs11(RvError::OperationNotInitialized, _)) => {}
        other => return Err(format!("context login for the login key: {other:?}")),
    }
    session.sign_update(data).map_err(e("C_SignUpdate"))?;
    let signature = session.sign_final().map_err(e("C_SignFinal"))?;
    verify(
        &login_public,
        &signature,
        "authentication key after a refused context login",
    )?;
    // A raw hash shorter than 32 bytes is the same integer with zeros on the left.
    let short = [0x5a; 20];
    let signature = session
        .sign(&Mechanism::Ecdsa, login, &short)
        .map_err(e("C_Sign CKM_ECDSA 20 bytes"))?;
    let mut padded = [0u8; 32];
    padded[12..].copy_from_slice(&short);
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    let signature = p256::ecdsa::Signature::from_slice(&signature).map_err(|e| e.to_string())?;
    login_public
        .verify_prehash(&padded, &signature)
        .map_err(|e| format!("a 20-byte hash signed as its padded integer: {e}"))?;
    match session.sign(&Mechanism::Ecdsa, login, &[1; 65]) {
        Err(Error::Pkcs11(RvError::DataLenRange, _)) => {}
        other => return Err(format!("a 65-byte raw input: {other:?}")),
    }
    drop(session);
    p11.finalize().map_err(e("C_Finalize"))?;
    println!("context ok");
    Ok(())
}

fn init(module: &str, n: usize) -> Result<()> {
    let mut times = Vec::with_capacity(n);
    let mut slots = 0;
    for _ in 0..n {
        let p11 = Pkcs11::new(module).map_err(e("load"))?;
        let start = Instant::now();
        p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(e("C_Initialize"))?;
        slots = p11
            .get_slots_with_token()
            .map_err(e("C_GetSlotList"))?
            .len();
        times.push(start.elapsed().as_secs_f64() * 1e6);
        p11.finalize().map_err(e("C_Finalize"))?;
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!("{slots} {:.0}", times[times.len() / 2]);
    Ok(())
}

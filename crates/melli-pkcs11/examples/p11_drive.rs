//! Drives `libmelli_pkcs11.so` through the `cryptoki` crate, as an application would, for the
//! end-to-end tests and the benchmark (a process of its own, so that `MELLI_PKCS11_READERS`
//! can show it only the test's reader).
//!
//! ```text
//! p11_drive MODULE sessions SERIAL PIN     token, objects, 4 threads × 5 signatures, finalize and reload
//! p11_drive MODULE removal SERIAL PIN      logs in, prints PULL and waits for a line on stdin (the
//!                                           card pulled meanwhile), expects CKR_DEVICE_REMOVED, a slot
//!                                           event, prints INSERT, waits for the card to come back
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
        [module, "init", n] => init(module, n.parse().unwrap_or(20)),
        _ => Err(
            "usage: p11_drive MODULE (sessions SERIAL PIN | removal SERIAL PIN | init N)".into(),
        ),
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
    if !info.login_required() || !info.user_pin_initialized() {
        return Err("token flags: login required and user PIN initialized expected".into());
    }
    Ok(*slot)
}

fn private_key(session: &Session) -> Result<cryptoki::object::ObjectHandle> {
    let keys = session
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
        .map_err(e("C_FindObjects"))?;
    let [key] = keys.as_slice() else {
        return Err(format!("{} private keys", keys.len()));
    };
    Ok(*key)
}

fn public_key(session: &Session) -> Result<p256::ecdsa::VerifyingKey> {
    let keys = session
        .find_objects(&[Attribute::Class(ObjectClass::PUBLIC_KEY)])
        .map_err(e("C_FindObjects"))?;
    let key = keys.first().ok_or("no public key")?;
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

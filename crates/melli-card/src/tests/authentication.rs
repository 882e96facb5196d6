//! Version 1.1, online identity (§12), as APDU scripts: DG7 (§12.1), the authentication key
//! `03` (§12.2), INTERNAL AUTHENTICATE P2 `03` and its checks in order (§12.3), GET DATA
//! `DF03`, ACTIVATE FILE with and without the online identity (§6.15), TERMINATE DF and an
//! exhausted PUK (§8.1, §8.7).

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};

use super::*;

fn verify(block: &str) -> String {
    format!("00200081 10 {block}")
}

/// A digest of `len` bytes whose leftmost 32 differ from the rest.
fn digest(len: usize) -> String {
    hex::encode_upper(pattern(len, 0xA5))
}

/// INTERNAL AUTHENTICATE with key `03` over a `len`-byte digest, Le `00`.
fn login(len: usize) -> String {
    format!("00880003 {len:02X} {} 00", digest(len))
}

/// The public key of reference `key` as the card shows it (`00 47 81 key`).
fn public_key(card: &mut Card, key: u8) -> VerifyingKey {
    let response = send(card, &format!("004781{key:02X}00"));
    let (object, sw) = split(&response);
    assert_eq!(sw, "9000");
    assert_eq!(&object[..10], "7F49438641");
    VerifyingKey::from_sec1_bytes(&hex::decode(&object[10..]).unwrap()).unwrap()
}

/// A card personalized with the online identity, activated, application selected again.
fn with_login_key() -> Card {
    personalized()
}

/// A card personalized by a 1.0 host (no key `03`, no DG7), activated, selected again.
fn without_login_key() -> Card {
    let (mut card, mut host) = personalizing();
    personalize_1_0(&mut card, &mut host);
    host.expect(&mut card, "00440000", "9000");
    script(&mut card, &[(SELECT_AID, "9000")]);
    card
}

#[test]
fn the_card_reports_version_1_1() {
    let mut card = Card::manufacture(SERIAL, &MASTER_KEY).unwrap();
    script(
        &mut card,
        &[(SELECT_AID, "9000"), ("00CADF0300", "01019000")],
    );
    script(&mut with_login_key(), &[("00CADF0300", "01019000")]);
}

// §12.2, §6.11: GENERATE with key reference 03.

#[test]
fn generate_the_authentication_key() {
    let (mut card, mut host) = personalizing();
    host.expect(&mut card, "00478103 00", "6A88"); // not generated yet
    let first = host.expect(&mut card, "00478003 00", "9000");
    assert_eq!(first.len(), 70);
    assert_eq!(&first[..5], &[0x7F, 0x49, 0x43, 0x86, 0x41]);
    assert_eq!(host.expect(&mut card, "00478103 00", "9000"), first);
    // A second generation replaces the key (a resumed personalization).
    let second = host.expect(&mut card, "00478003 00", "9000");
    assert_ne!(second, first);
    assert_eq!(host.expect(&mut card, "00478103 00", "9000"), second);
    // It is none of the other keys.
    let signing = host.expect(&mut card, "00478001 00", "9000");
    let chip = host.expect(&mut card, "00478002 00", "9000");
    assert!(second != signing && second != chip);
    // Plain generation is refused (§6.11); reading the public key plain works.
    script(
        &mut card,
        &[
            ("00478003 00", "6982"),
            (
                "00478103 00",
                &format!("{}9000", hex::encode_upper(&second)),
            ),
        ],
    );
}

#[test]
fn the_authentication_key_is_fixed_once_operational() {
    let mut card = with_login_key();
    let public = send(&mut card, "0047810300");
    assert!(public.starts_with("7F4943") && public.ends_with("9000"));
    script(
        &mut card,
        &[
            ("00478003 00", "6982"),
            ("0047810300", &public),
            ("00478104 00", "6A88"),
        ],
    );
}

// §12.1: DG7, like DG6.

#[test]
fn dg7_is_written_under_secure_messaging_and_read_by_anyone() {
    let (mut card, mut host) = personalizing();
    let fcp = host.expect(&mut card, "00A40204020107 00", "9000");
    assert_eq!(
        hex::encode_upper(fcp),
        compact("6215 80020000 81020800 820101 83020107 880107 8A0103")
    );
    // Plain writes are refused; by SFI 07 and under SM they work.
    script(&mut card, &[("00D6870001AA", "6982")]);
    host.expect(&mut card, "00D6870002AABB", "9000");
    host.expect(&mut card, "00D6870102CCDD", "9000");
    host.expect(&mut card, "00B0870000", "9000");
    host.expect(&mut card, "000E0001", "9000");
    // An odd-INS write names the file by FID; the file grows no larger than 2 048 bytes.
    host.expect(&mut card, "00D70107 07 540101 5302EEFF", "9000");
    assert_eq!(
        card.state.files.content(ef::AUTH_CERT),
        Some(&[0xAA, 0xEE, 0xFF][..])
    );
    host.write_file(&mut card, "0107", &[0x30; 2048]);
    host.expect(&mut card, "00D6080001AA", "6A84");
    host.write_file(&mut card, "0107", &auth_cert());
    let content = auth_cert();
    let mut card = {
        personalize_1_0(&mut card, &mut host);
        host.expect(&mut card, "00478003 00", "9000");
        host.expect(&mut card, "00440000", "9000");
        script(&mut card, &[(SELECT_AID, "9000")]);
        card
    };
    let whole = format!("{}9000", hex::encode_upper(&content));
    let head = format!("{}9000", hex::encode_upper(&content[..16]));
    let at_256 = format!("{}9000", hex::encode_upper(&content[256..272]));
    // B1 with Le 256: data object 53 81 FD and 253 bytes from offset 256.
    let odd_at_256 = format!("5381FD{}", hex::encode_upper(&content[256..509]));
    script(
        &mut card,
        &[
            ("00B0870000 0000", &whole), // by SFI, extended Le
            ("00B0870010", &head),       // by SFI, short
            ("00B0010010", &at_256),     // the current EF from offset 256
            ("00A4000C020107", "9000"),  // SELECT by FID
            ("00B0000000 0000", &whole),
            ("00B10107 04 54020100 00", &format!("{}9000", odd_at_256)), // odd INS by FID
            ("00D6870001AA", "6982"),                                    // locked
            ("000E0000", "6982"),
        ],
    );
    assert_eq!(card.state.files.content(ef::AUTH_CERT), Some(&content[..]));
}

// §6.15: the online identity is complete or absent.

#[test]
fn activate_needs_key_03_and_dg7_together_or_neither() {
    // Key 03 without DG7.
    let (mut card, mut host) = personalizing();
    personalize_1_0(&mut card, &mut host);
    host.expect(&mut card, "00478003 00", "9000");
    host.expect(&mut card, "00440000", "6985");
    host.write_file(&mut card, "0107", &auth_cert());
    host.expect(&mut card, "00440000", "9000");

    // DG7 without key 03; emptied again, the card is as a 1.0 host leaves it.
    let (mut card, mut host) = personalizing();
    personalize_1_0(&mut card, &mut host);
    host.write_file(&mut card, "0107", &auth_cert());
    host.expect(&mut card, "00440000", "6985");
    host.expect(&mut card, "00A4020C020107", "9000");
    host.expect(&mut card, "000E0000", "9000");
    host.expect(&mut card, "00440000", "9000");
    assert!(card.state.auth_key.is_none());

    // Neither: a 1.0 host's card locks.
    let mut card = without_login_key();
    assert_eq!(card.lifecycle(), 0x05);
    script(&mut card, &[("0047810300", "6A88"), ("00B0870000", "6282")]);
}

// §12.3: INTERNAL AUTHENTICATE P2 03, its checks in order.

#[test]
fn login_checks_in_order() {
    let mut card = with_login_key();
    let d32 = digest(32);
    script(
        &mut card,
        &[
            // 1. Nc not 32, 48 or 64 — before P1, CLA and everything else.
            (&format!("00880003 1F {} 00", digest(31)), "6700"),
            (&format!("00880003 21 {} 00", digest(33)), "6700"),
            (&format!("00880003 08 {} 00", digest(8)), "6700"),
            (&format!("00880003 3F {} 00", digest(63)), "6700"),
            (&format!("00880003 41 {} 00", digest(65)), "6700"),
            ("00880003 00", "6700"),
            (&format!("00880103 1F {} 00", digest(31)), "6700"),
            // 2. P1.
            (&format!("00880103 20 {d32} 00"), "6A86"),
            (&format!("00888003 20 {d32} 00"), "6A86"),
            (&format!("00880004 20 {d32} 00"), "6A86"),
            // 3. Secure messaging (no channel needed to be refused).
            (&format!("0C880003 20 {d32} 00"), "6A81"),
            // 6. PIN not verified.
            (&login(32), "6982"),
            (&login(48), "6982"),
            (&login(64), "6982"),
            // 7. Sign.
            (&verify(PIN), "9000"),
            (&login(32), "*9000"),
            (&format!("00880003 20 {d32}"), "6140"), // no Le: 61xx, GET RESPONSE
            ("00C0000040", "*9000"),
        ],
    );

    // 4. State ≠ OPERATIONAL: blank and personalizing cards.
    let mut blank = Card::manufacture(SERIAL, &MASTER_KEY).unwrap();
    script(&mut blank, &[(SELECT_AID, "9000"), (&login(32), "6985")]);
    let (mut card, mut host) = personalizing();
    personalize_all(&mut card, &mut host);
    script(&mut card, &[(&login(32), "6985"), (&login(64), "6985")]);

    // 5. Key 03 not generated (before the PIN check).
    let mut card = without_login_key();
    script(
        &mut card,
        &[
            (&login(32), "6A88"),
            (&verify(PIN), "9000"),
            (&login(48), "6A88"),
            // The chip-authentication key still answers P2 02.
            ("00880002080001020304050607 00", "*9000"),
        ],
    );

    // Length is judged before "not selected" (§4.6).
    let mut card = with_login_key();
    card.reset();
    script(
        &mut card,
        &[
            (&format!("00880003 1F {} 00", digest(31)), "6700"),
            (&login(32), "6985"),
        ],
    );
}

/// The signature verifies with the key of `00 47 81 03` over the leftmost 32 bytes of the
/// data, for every digest length; it is not a signature by key 01 or 02.
#[test]
fn login_signatures_verify_over_the_leftmost_32_bytes() {
    let mut card = with_login_key();
    let key = public_key(&mut card, 0x03);
    let signing = public_key(&mut card, 0x01);
    let chip = public_key(&mut card, 0x02);
    script(&mut card, &[(&verify(PIN), "9000")]);
    for len in [32, 48, 64] {
        let response = send(&mut card, &login(len));
        let (signature, sw) = split(&response);
        assert_eq!(sw, "9000", "{len}");
        let signature = Signature::from_slice(&hex::decode(signature).unwrap()).unwrap();
        let data = pattern(len, 0xA5);
        key.verify_prehash(&data[..32], &signature).unwrap();
        assert!(signing.verify_prehash(&data[..32], &signature).is_err());
        assert!(chip.verify_prehash(&data[..32], &signature).is_err());
        if len > 32 {
            // Not the hash of the whole digest, nor its rightmost bytes.
            assert!(key.verify_prehash(&data[len - 32..], &signature).is_err());
        }
    }
}

/// §12.3: the PIN stays verified for the session; a reset or a new SELECT ends it.
#[test]
fn the_pin_serves_several_logins_in_one_session() {
    let mut card = with_login_key();
    script(
        &mut card,
        &[
            (&verify(PIN), "9000"),
            (&login(32), "*9000"),
            (&login(48), "*9000"),
            (&login(64), "*9000"),
            (SELECT_AID, "9000"),
            (&login(32), "6982"),
        ],
    );
    script(&mut card, &[(&verify(PIN), "9000")]);
    card.reset();
    script(&mut card, &[(SELECT_AID, "9000"), (&login(32), "6982")]);
}

/// §12.2, §8.1: an exhausted PUK blocks the signing key only; the login key still works with
/// the PIN, after a power cycle too.
#[test]
fn an_exhausted_puk_leaves_the_login_key_usable() {
    let dir = tempfile::tempdir().unwrap();
    let (mut card, path) = personalized_file(dir.path());
    for left in (0..10).rev() {
        let sw = format!("63C{left:X}");
        script(
            &mut card,
            &[(&format!("002C0081 20 {WRONG_PUK}{PIN}"), &sw)],
        );
    }
    let pso = format!("002A9E9A 20 {} 00", digest(32));
    script(
        &mut card,
        &[
            (&verify(PIN), "9000"),
            (&pso, "6983"),
            (&login(32), "*9000"),
        ],
    );
    let mut card = Card::open_file(&path).unwrap();
    assert!(card.state.signing_key_blocked && card.state.auth_key.is_some());
    script(
        &mut card,
        &[
            (SELECT_AID, "9000"),
            (&login(64), "6982"),
            (&verify(PIN), "9000"),
            (&pso, "6983"),
            (&login(64), "*9000"),
        ],
    );
}

/// §6.16, §8.7: TERMINATE DF erases key 03 with the other keys, in the state file too.
#[test]
fn terminate_erases_the_authentication_key() {
    let dir = tempfile::tempdir().unwrap();
    let (mut card, path) = personalized_file(dir.path());
    assert!(card.state.auth_key.is_some());
    script(
        &mut card,
        &[
            (&verify(PIN), "9000"),
            (&login(32), "*9000"),
            (&format!("00E60000 10 {PUK}"), "9000"),
            (&login(32), "6985"),
            ("0047810300", "6985"),
        ],
    );
    assert!(card.state.auth_key.is_none());
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(saved["key_pairs"]["auth"], serde_json::Value::Null);
    // DG7 is public, and stays like DG6.
    assert_eq!(
        card.state.files.content(ef::AUTH_CERT),
        Some(&auth_cert()[..])
    );
}

/// The login key survives a power cycle through the state file.
#[test]
fn the_authentication_key_is_kept_in_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let (mut card, path) = personalized_file(dir.path());
    let before = public_key(&mut card, 0x03);
    drop(card);
    let mut card = Card::open_file(&path).unwrap();
    script(&mut card, &[(SELECT_AID, "9000")]);
    assert_eq!(public_key(&mut card, 0x03), before);
    script(&mut card, &[(&verify(PIN), "9000")]);
    let response = send(&mut card, &login(32));
    let (signature, _) = split(&response);
    let signature = Signature::from_slice(&hex::decode(signature).unwrap()).unwrap();
    before
        .verify_prehash(&pattern(32, 0xA5), &signature)
        .unwrap();
}

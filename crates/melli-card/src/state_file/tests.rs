use super::*;
use crate::spec::ef;

fn sample() -> CardState {
    let serial = Serial::parse("MELLI0001").unwrap();
    let keys = StaticKeys::derive(&[7; 16], &serial);
    let mut state = CardState::blank(serial, keys, DeviceSecret::generate().unwrap());
    state
        .files
        .set_content(ef::IDENTITY, vec![0xE1, 0x00])
        .unwrap();
    state
}

fn pin_block(digits: &str) -> [u8; 16] {
    let mut block = [0xFF; 16];
    block[..digits.len()].copy_from_slice(digits.as_bytes());
    block
}

fn json(state: &CardState) -> serde_json::Value {
    serde_json::from_slice(&encode(state).unwrap()).unwrap()
}

fn decode_value(value: &serde_json::Value) -> Result<CardState, DecodeError> {
    decode(&serde_json::to_vec(value).unwrap())
}

/// Decodes `value` after sealing it again, as someone who knows the construction would.
fn decode_sealed(value: &serde_json::Value) -> Result<CardState, DecodeError> {
    let mut value = value.clone();
    seal(&mut value);
    decode_value(&value)
}

fn field_of(result: Result<CardState, DecodeError>) -> String {
    match result {
        Err(DecodeError::Field { field, .. }) => field,
        Err(other) => panic!("{other:?} instead of a field error"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn round_trip_keeps_everything() {
    let mut state = sample();
    state.lifecycle = Lifecycle::Operational;
    state.pin = ReferenceData {
        reference: Some(
            HashedReference::new(&state.device_secret, 0x81, &pin_block("123456")).unwrap(),
        ),
        tries_left: 2,
    };
    state.signing_key = Some(p256::SecretKey::from_slice(&[0x11; 32]).unwrap());
    state.signing_key_blocked = true;
    let decoded = decode(&encode(&state).unwrap()).unwrap();
    assert_eq!(decoded.serial, state.serial);
    assert_eq!(decoded.lifecycle, state.lifecycle);
    assert_eq!(decoded.static_keys, state.static_keys);
    assert_eq!(decoded.device_secret, state.device_secret);
    assert_eq!(decoded.pin, state.pin);
    assert_eq!(decoded.puk, state.puk);
    assert_eq!(decoded.finger_tries_left, state.finger_tries_left);
    assert_eq!(
        decoded.signing_key.as_ref().map(|k| k.to_bytes()),
        state.signing_key.as_ref().map(|k| k.to_bytes())
    );
    assert!(decoded.signing_key_blocked);
    assert!(decoded.chip_auth_key.is_none());
    assert!(decoded.auth_key.is_none());
    assert_eq!(decoded.spec_version, (1, 1));
    assert_eq!(decoded.files, state.files);
    assert_eq!(*encode(&decoded).unwrap(), *encode(&state).unwrap());
    assert!(decoded.pin.reference.unwrap().matches(
        &decoded.device_secret,
        0x81,
        &pin_block("123456")
    ));
}

/// Issue 11 finding 8: the PIN and the PUK are kept as salted hashes, never in clear — not
/// as digits, not as the hex of their blocks.
#[test]
fn the_file_never_holds_a_pin_or_puk_in_clear() {
    let mut state = sample();
    let (pin, puk) = ("246813", "9753108642");
    state.pin.reference =
        Some(HashedReference::new(&state.device_secret, 0x81, &pin_block(pin)).unwrap());
    state.puk.reference =
        Some(HashedReference::new(&state.device_secret, 0x82, &pin_block(puk)).unwrap());
    let text = String::from_utf8(encode(&state).unwrap().to_vec()).unwrap();
    for secret in [pin, puk] {
        assert!(!text.contains(secret), "{secret} in clear");
        assert!(
            !text.contains(&hex::encode_upper(secret)),
            "{secret} as hex digits"
        );
    }
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        value["pin"]["reference"]["salt"].as_str().unwrap().len(),
        32
    );
    assert_eq!(
        value["pin"]["reference"]["hash"].as_str().unwrap().len(),
        64
    );
}

/// Issue 11 finding 8: a file changed by anything but the card is refused, whatever the
/// change — a counter, a file byte, the lifecycle, the secret, the MAC, a member added or
/// removed.
#[test]
fn every_edit_fails_the_integrity_check() {
    let good = json(&sample());
    assert!(decode_value(&good).is_ok());
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let edits: Vec<Edit> = vec![
        Box::new(|v| v["pin"]["tries_left"] = 2.into()),
        Box::new(|v| v["files"][0]["content"] = "E101".into()),
        Box::new(|v| v["lifecycle"] = "operational".into()),
        Box::new(|v| v["key_pairs"]["signing_blocked"] = true.into()),
        Box::new(|v| v["serial"] = "MELLI0002".into()),
        Box::new(|v| v["device_secret"] = "00".repeat(32).into()),
        Box::new(|v| v["device_secret"] = "XY".into()),
        Box::new(|v| {
            v.as_object_mut().unwrap().remove("device_secret");
        }),
        Box::new(|v| v["mac"] = "00".repeat(32).into()),
        Box::new(|v| v["mac"] = "".into()),
        Box::new(|v| {
            v.as_object_mut().unwrap().remove("mac");
        }),
        Box::new(|v| {
            v.as_object_mut().unwrap().remove("serial");
        }),
        Box::new(|v| v["extra"] = 1.into()),
        Box::new(|v| v["pin"]["tries_left"] = "three".into()),
    ];
    for (n, edit) in edits.into_iter().enumerate() {
        let mut value = good.clone();
        edit(&mut value);
        assert!(
            matches!(decode_value(&value), Err(DecodeError::Integrity)),
            "edit {n} accepted or misnamed"
        );
    }
}

#[test]
fn the_mac_ignores_layout_only() {
    let state = sample();
    let text = String::from_utf8(encode(&state).unwrap().to_vec()).unwrap();
    let compact =
        serde_json::to_vec(&serde_json::from_str::<serde_json::Value>(&text).unwrap()).unwrap();
    assert!(
        decode(&compact).is_ok(),
        "whitespace and member order are no edit"
    );
    let flipped = text.replacen("\"E100\"", "\"E101\"", 1);
    assert_ne!(text, flipped);
    assert!(matches!(
        decode(flipped.as_bytes()),
        Err(DecodeError::Integrity)
    ));
}

#[test]
fn other_format_versions_are_named() {
    let mut old = json(&sample());
    old["format_version"] = 1.into();
    assert!(matches!(decode_value(&old), Err(DecodeError::Version(1))));
    // A real version-1 file: PIN in clear, no secret, no MAC.
    let mut v1 = json(&sample());
    let members = v1.as_object_mut().unwrap();
    members.remove("device_secret");
    members.remove("mac");
    v1["format_version"] = 1.into();
    v1["pin"]["reference"] = "313233343536FFFFFFFFFFFFFFFFFFFF".into();
    assert!(matches!(decode_value(&v1), Err(DecodeError::Version(1))));
    let mut newer = json(&sample());
    newer["format_version"] = 4.into();
    assert!(matches!(decode_value(&newer), Err(DecodeError::Version(4))));
}

/// A sealed file (its MAC right) with a value the card cannot accept still names the field.
#[test]
fn every_corruption_names_its_field() {
    let good = json(&sample());
    type Corruption = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Corruption)> = vec![
        ("format", Box::new(|v| v["format"] = "other".into())),
        (
            "format",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("format");
            }),
        ),
        (
            "format_version",
            Box::new(|v| v["format_version"] = "2".into()),
        ),
        (
            "spec_version",
            Box::new(|v| v["spec_version"] = "2.0".into()),
        ),
        ("serial", Box::new(|v| v["serial"] = "melli".into())),
        ("lifecycle", Box::new(|v| v["lifecycle"] = "frozen".into())),
        (
            "static_keys.enc",
            Box::new(|v| v["static_keys"]["enc"] = "XY".into()),
        ),
        (
            "static_keys.mac",
            Box::new(|v| v["static_keys"]["mac"] = "0011".into()),
        ),
        (
            "pin.reference.salt",
            Box::new(|v| {
                v["pin"]["reference"] = serde_json::json!({ "salt": "00", "hash": "00".repeat(32) })
            }),
        ),
        (
            "puk.reference.hash",
            Box::new(|v| {
                v["puk"]["reference"] =
                    serde_json::json!({ "salt": "00".repeat(16), "hash": "0G".repeat(32) })
            }),
        ),
        (
            "pin.tries_left",
            Box::new(|v| v["pin"]["tries_left"] = 4.into()),
        ),
        (
            "puk.tries_left",
            Box::new(|v| v["puk"]["tries_left"] = 300.into()),
        ),
        (
            "finger.tries_left",
            Box::new(|v| v["finger"]["tries_left"] = 6.into()),
        ),
        (
            "key_pairs.signing",
            Box::new(|v| v["key_pairs"]["signing"] = "00".repeat(32).into()),
        ),
        (
            "key_pairs.chip_auth",
            Box::new(|v| v["key_pairs"]["chip_auth"] = "FF".repeat(32).into()),
        ),
        (
            "key_pairs.auth",
            Box::new(|v| v["key_pairs"]["auth"] = "00".repeat(31).into()),
        ),
        (
            "key_pairs.auth",
            Box::new(|v| {
                v["key_pairs"].as_object_mut().unwrap().remove("auth");
            }),
        ),
        (
            "spec_version",
            Box::new(|v| v["spec_version"] = "1.2".into()),
        ),
        (
            "files[0].fid",
            Box::new(|v| v["files"][0]["fid"] = "01".into()),
        ),
        (
            "files[0].fid",
            Box::new(|v| v["files"][0]["fid"] = "0108".into()),
        ),
        (
            "files[1].fid",
            Box::new(|v| v["files"][1]["fid"] = "0101".into()),
        ),
        (
            "files[0101].content",
            Box::new(|v| v["files"][0]["content"] = "E1Z".into()),
        ),
        (
            "files[0104].content",
            Box::new(|v| v["files"][3]["content"] = "00".repeat(257).into()),
        ),
        (
            "files",
            Box::new(|v| {
                v["files"].as_array_mut().unwrap().pop();
            }),
        ),
    ];
    for (expected, corrupt) in cases {
        let mut value = good.clone();
        corrupt(&mut value);
        assert_eq!(field_of(decode_sealed(&value)), expected);
    }
}

#[test]
fn shape_errors_are_syntax_errors() {
    let good = json(&sample());
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("serial");
    let mut unknown = good.clone();
    unknown["extra"] = 1.into();
    let mut wrong_type = good;
    wrong_type["pin"]["tries_left"] = "three".into();
    for value in [missing, unknown, wrong_type] {
        assert!(matches!(decode_sealed(&value), Err(DecodeError::Syntax(_))));
    }
    assert!(matches!(decode(b""), Err(DecodeError::Syntax(_))));
    assert!(matches!(
        decode(b"{\"format\""),
        Err(DecodeError::Syntax(_))
    ));
}

#[test]
fn a_flipped_file_byte_sealed_again_loads_as_that_byte() {
    let mut value = json(&sample());
    value["files"][0]["content"] = "E101".into();
    let state = decode_sealed(&value).unwrap();
    assert_eq!(state.files.content(ef::IDENTITY), Some(&[0xE1, 0x01][..]));
}

/// The canonical text is what §8.7 says: compact, members sorted, `mac` left out — the
/// same as serde_json writes a parsed value without `mac` (its maps are sorted).
#[test]
fn canonical_text() {
    let value = serde_json::json!({ "b": [1, "x\"y"], "a": { "d": null, "c": true }, "mac": "00" });
    assert_eq!(
        String::from_utf8(canonical(&value).unwrap().to_vec()).unwrap(),
        r#"{"a":{"c":true,"d":null},"b":[1,"x\"y"]}"#
    );
}

/// Format 3 keeps the authentication key `03` of a 1.1 card (§12.2) and DG7.
#[test]
fn the_authentication_key_and_dg7_round_trip() {
    let mut state = sample();
    state.auth_key = Some(p256::SecretKey::from_slice(&[0x33; 32]).unwrap());
    state
        .files
        .set_content(ef::AUTH_CERT, vec![0x30; 2048])
        .unwrap();
    let value = json(&state);
    assert_eq!(value["format_version"], 3);
    assert_eq!(value["spec_version"], "1.1");
    assert_eq!(value["key_pairs"]["auth"], "33".repeat(32));
    let decoded = decode(&encode(&state).unwrap()).unwrap();
    assert_eq!(
        decoded.auth_key.map(|k| k.to_bytes()),
        state.auth_key.as_ref().map(|k| k.to_bytes())
    );
    assert_eq!(decoded.files, state.files);
}

/// A 1.0 card as format 2 wrote it: `spec_version` "1.0", no `key_pairs.auth`, no DG7.
fn format_2_of_a_1_0_card() -> serde_json::Value {
    let mut value = json(&sample());
    value["format_version"] = 2.into();
    value["spec_version"] = "1.0".into();
    value["key_pairs"].as_object_mut().unwrap().remove("auth");
    value["files"]
        .as_array_mut()
        .unwrap()
        .retain(|file| file["fid"] != "0107");
    seal(&mut value);
    value
}

/// A format-2 file loads as the 1.0 card it is, and is saved as format 3 of a 1.0 card,
/// which loads again the same.
#[test]
fn a_format_2_file_is_a_1_0_card() {
    let state = decode_value(&format_2_of_a_1_0_card()).unwrap();
    assert_eq!(state.spec_version, (1, 0));
    assert!(!state.has_online_identity());
    assert!(state.auth_key.is_none());
    assert_eq!(state.files.by_fid(ef::AUTH_CERT), None);
    let value = json(&state);
    assert_eq!(value["format_version"], 3);
    assert_eq!(value["spec_version"], "1.0");
    assert_eq!(value["key_pairs"]["auth"], serde_json::Value::Null);
    assert!(value["files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["fid"] != "0107"));
    let again = decode_value(&value).unwrap();
    assert_eq!(again.spec_version, (1, 0));
    assert_eq!(again.files, state.files);
}

/// What format 2 never held is refused in it: the `auth` member, a 1.1 version, DG7; and a
/// 1.0 card of format 3 holds no authentication key and no DG7.
#[test]
fn a_1_0_card_has_no_authentication_key_and_no_dg7() {
    type Corruption = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Corruption)> = vec![
        (
            "key_pairs.auth",
            Box::new(|v| v["key_pairs"]["auth"] = serde_json::Value::Null),
        ),
        (
            "spec_version",
            Box::new(|v| v["spec_version"] = "1.1".into()),
        ),
        (
            "files[7].fid",
            Box::new(|v| {
                let entry = serde_json::json!({ "fid": "0107", "content": "" });
                v["files"].as_array_mut().unwrap().push(entry);
            }),
        ),
    ];
    for (expected, corrupt) in cases {
        let mut value = format_2_of_a_1_0_card();
        corrupt(&mut value);
        assert_eq!(field_of(decode_sealed(&value)), expected);
    }
    let mut value = json(&decode_value(&format_2_of_a_1_0_card()).unwrap());
    value["key_pairs"]["auth"] = "33".repeat(32).into();
    assert_eq!(field_of(decode_sealed(&value)), "key_pairs.auth");
}

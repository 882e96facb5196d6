//! The state file format: the card's persistent state as JSON, bytes as hexadecimal strings, so
//! that a person (or a test) can read it and change one byte of a data group.
//!
//! Decoding validates every field and names the field that is wrong; it never panics on a
//! corrupted file. Secret fields (keys, reference data) are wiped from memory after use.
//!
//! ```json
//! { "format": "melli-card-state", "format_version": 1, "spec_version": "1.0",
//!   "serial": "MELLI0001", "lifecycle": "blank",
//!   "static_keys": { "enc": "…32 hex digits…", "mac": "…" },
//!   "pin": { "reference": null, "tries_left": 3 }, "puk": { "reference": null, "tries_left": 10 },
//!   "finger": { "tries_left": 5 },
//!   "key_pairs": { "signing": null, "signing_blocked": false, "chip_auth": null },
//!   "files": [ { "fid": "0101", "content": "" }, … ] }
//! ```

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::files::{FileSpec, Files};
use super::keys::{AesKey, StaticKeys};
use super::state::{
    CardState, Lifecycle, ReferenceData, ReferenceRules, Serial, PIN_RULES, PUK_RULES,
};
use crate::spec::{self, pin};

const FORMAT: &str = "melli-card-state";
const FORMAT_VERSION: u64 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    format: String,
    format_version: u64,
    spec_version: String,
    serial: String,
    lifecycle: String,
    static_keys: StaticKeysHex,
    pin: ReferenceHex,
    puk: ReferenceHex,
    finger: FingerCounter,
    key_pairs: KeyPairsHex,
    files: Vec<FileHex>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StaticKeysHex {
    enc: String,
    mac: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferenceHex {
    reference: Option<String>,
    tries_left: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FingerCounter {
    tries_left: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyPairsHex {
    signing: Option<String>,
    signing_blocked: bool,
    chip_auth: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHex {
    fid: String,
    content: String,
}

impl Drop for StaticKeysHex {
    fn drop(&mut self) {
        self.enc.zeroize();
        self.mac.zeroize();
    }
}

impl Drop for ReferenceHex {
    fn drop(&mut self) {
        self.reference.zeroize();
    }
}

impl Drop for KeyPairsHex {
    fn drop(&mut self) {
        self.signing.zeroize();
        self.chip_auth.zeroize();
    }
}

/// Why a state file was refused.
#[derive(Debug)]
pub(super) enum DecodeError {
    /// Not JSON of the right shape.
    Syntax(serde_json::Error),
    /// A field with a value the card cannot accept.
    Field { field: String, problem: String },
}

fn field_error(field: impl Into<String>, problem: impl Into<String>) -> DecodeError {
    DecodeError::Field {
        field: field.into(),
        problem: problem.into(),
    }
}

/// The state as the bytes of a state file (pretty-printed JSON, wiped from memory when
/// dropped).
pub(super) fn encode(state: &CardState) -> Result<Zeroizing<Vec<u8>>, serde_json::Error> {
    let file = StateFile {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        spec_version: version_text(state.spec_version),
        serial: state.serial.as_str().to_owned(),
        lifecycle: state.lifecycle.name().to_owned(),
        static_keys: StaticKeysHex {
            enc: hex::encode_upper(*state.static_keys.enc),
            mac: hex::encode_upper(*state.static_keys.mac),
        },
        pin: reference_hex(&state.pin),
        puk: reference_hex(&state.puk),
        finger: FingerCounter {
            tries_left: u64::from(state.finger_tries_left),
        },
        key_pairs: KeyPairsHex {
            signing: state.signing_key.as_ref().map(secret_key_hex),
            signing_blocked: state.signing_key_blocked,
            chip_auth: state.chip_auth_key.as_ref().map(secret_key_hex),
        },
        files: state
            .files
            .iter()
            .map(|(file, content)| FileHex {
                fid: format!("{:04X}", file.fid),
                content: hex::encode_upper(content),
            })
            .collect(),
    };
    let mut bytes = Zeroizing::new(Vec::new());
    serde_json::to_writer_pretty(&mut *bytes, &file)?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn version_text((major, minor): (u8, u8)) -> String {
    format!("{major}.{minor}")
}

fn reference_hex(data: &ReferenceData) -> ReferenceHex {
    ReferenceHex {
        reference: data.value.as_ref().map(|block| hex::encode_upper(**block)),
        tries_left: u64::from(data.tries_left),
    }
}

fn secret_key_hex(key: &p256::SecretKey) -> String {
    hex::encode_upper(*Zeroizing::new(key.to_bytes()))
}

/// Reads and validates a state file's bytes.
pub(super) fn decode(bytes: &[u8]) -> Result<CardState, DecodeError> {
    let file: StateFile = serde_json::from_slice(bytes).map_err(DecodeError::Syntax)?;
    if file.format != FORMAT {
        return Err(field_error(
            "format",
            format!("is {:?}, not {FORMAT:?}", file.format),
        ));
    }
    if file.format_version != FORMAT_VERSION {
        return Err(field_error(
            "format_version",
            format!(
                "is {}, but this melli reads version {FORMAT_VERSION}",
                file.format_version
            ),
        ));
    }
    let expected_version = version_text(spec::SPEC_VERSION);
    if file.spec_version != expected_version {
        return Err(field_error(
            "spec_version",
            format!(
                "is {:?}, but this melli implements {expected_version:?}",
                file.spec_version
            ),
        ));
    }
    let serial = Serial::parse(&file.serial).ok_or_else(|| {
        field_error(
            "serial",
            format!(
                "is {:?}, not 1 to 16 characters from 0-9 and A-Z",
                file.serial
            ),
        )
    })?;
    let lifecycle = Lifecycle::from_name(&file.lifecycle).ok_or_else(|| {
        field_error(
            "lifecycle",
            format!(
                "is {:?}, not one of blank, personalizing, operational, terminated",
                file.lifecycle
            ),
        )
    })?;
    let static_keys = StaticKeys {
        enc: aes_key("static_keys.enc", &file.static_keys.enc)?,
        mac: aes_key("static_keys.mac", &file.static_keys.mac)?,
    };
    Ok(CardState {
        serial,
        lifecycle,
        spec_version: spec::SPEC_VERSION,
        static_keys,
        pin: reference("pin", &file.pin, PIN_RULES)?,
        puk: reference("puk", &file.puk, PUK_RULES)?,
        finger_tries_left: tries(
            "finger.tries_left",
            file.finger.tries_left,
            pin::FINGER_TRIES,
        )?,
        signing_key: key_pair("key_pairs.signing", file.key_pairs.signing.as_deref())?,
        signing_key_blocked: file.key_pairs.signing_blocked,
        chip_auth_key: key_pair("key_pairs.chip_auth", file.key_pairs.chip_auth.as_deref())?,
        files: files(&file.files)?,
    })
}

/// Hex text to bytes, wiped from memory when dropped.
fn secret_hex(field: &str, text: &str) -> Result<Zeroizing<Vec<u8>>, DecodeError> {
    hex::decode(text)
        .map(Zeroizing::new)
        .map_err(|e| field_error(field, format!("is not hexadecimal ({e})")))
}

/// Hex text of exactly `N` bytes.
fn fixed_secret<const N: usize>(
    field: &str,
    text: &str,
) -> Result<Zeroizing<[u8; N]>, DecodeError> {
    let bytes = secret_hex(field, text)?;
    let mut out = Zeroizing::new([0u8; N]);
    if bytes.len() != N {
        return Err(field_error(
            field,
            format!(
                "holds {} bytes, but must hold {N} ({} hex digits)",
                bytes.len(),
                N.saturating_mul(2)
            ),
        ));
    }
    out.copy_from_slice(&bytes);
    Ok(out)
}

fn aes_key(field: &str, text: &str) -> Result<AesKey, DecodeError> {
    fixed_secret(field, text)
}

fn tries(field: &str, value: u64, max: u8) -> Result<u8, DecodeError> {
    u8::try_from(value)
        .ok()
        .filter(|tries| *tries <= max)
        .ok_or_else(|| {
            field_error(
                field,
                format!("is {value}, more than the {max} tries allowed"),
            )
        })
}

fn reference(
    name: &str,
    data: &ReferenceHex,
    rules: ReferenceRules,
) -> Result<ReferenceData, DecodeError> {
    let field = format!("{name}.reference");
    let value = match &data.reference {
        None => None,
        Some(text) => {
            let block = fixed_secret::<{ pin::BLOCK_LEN }>(&field, text)?;
            if !rules.is_well_formed(&*block) {
                return Err(field_error(
                    field,
                    format!(
                        "is not {} to {} ASCII digits padded with FF",
                        rules.min_digits, rules.max_digits
                    ),
                ));
            }
            Some(block)
        }
    };
    Ok(ReferenceData {
        value,
        tries_left: tries(&format!("{name}.tries_left"), data.tries_left, rules.tries)?,
    })
}

fn key_pair(field: &str, text: Option<&str>) -> Result<Option<p256::SecretKey>, DecodeError> {
    let Some(text) = text else {
        return Ok(None);
    };
    let scalar = fixed_secret::<32>(field, text)?;
    p256::SecretKey::from_slice(&*scalar)
        .map(Some)
        .map_err(|_| field_error(field, "is not a valid P-256 private key"))
}

fn files(entries: &[FileHex]) -> Result<Files, DecodeError> {
    let mut files = Files::blank();
    let mut seen: Vec<u16> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let fid_field = format!("files[{index}].fid");
        let fid = match hex::decode(&entry.fid).as_deref() {
            Ok(&[high, low]) => u16::from_be_bytes([high, low]),
            _ => {
                return Err(field_error(
                    fid_field,
                    format!("is {:?}, not 4 hex digits", entry.fid),
                ))
            }
        };
        if seen.contains(&fid) {
            return Err(field_error(fid_field, format!("repeats file {fid:04X}")));
        }
        seen.push(fid);
        let content_field = format!("files[{fid:04X}].content");
        let content = hex::decode(&entry.content)
            .map_err(|e| field_error(&content_field, format!("is not hexadecimal ({e})")))?;
        let length = content.len();
        match files.set_content(fid, content) {
            Ok(true) => {}
            Ok(false) => {
                return Err(field_error(
                    fid_field,
                    format!("names file {fid:04X}, which the application does not have"),
                ))
            }
            Err(too_long) => {
                return Err(field_error(
                    content_field,
                    format!(
                        "holds {length} bytes, more than the file's maximum of {}",
                        too_long.max_size
                    ),
                ))
            }
        }
    }
    if let Some(missing) = FileSpec::all().find(|file| !seen.contains(&file.fid)) {
        return Err(field_error(
            "files",
            format!("has no entry for file {:04X}", missing.fid),
        ));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ef;

    fn sample() -> CardState {
        let serial = Serial::parse("MELLI0001").unwrap();
        let keys = StaticKeys::derive(&[7; 16], &serial);
        let mut state = CardState::blank(serial, keys);
        state
            .files
            .set_content(ef::IDENTITY, vec![0xE1, 0x00])
            .unwrap();
        state
    }

    fn json(state: &CardState) -> serde_json::Value {
        serde_json::from_slice(&encode(state).unwrap()).unwrap()
    }

    fn decode_value(value: &serde_json::Value) -> Result<CardState, DecodeError> {
        decode(&serde_json::to_vec(value).unwrap())
    }

    fn field_of(result: Result<CardState, DecodeError>) -> String {
        match result {
            Err(DecodeError::Field { field, .. }) => field,
            Err(DecodeError::Syntax(e)) => panic!("syntax error instead of a field error: {e}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn round_trip_keeps_everything() {
        let mut state = sample();
        state.lifecycle = Lifecycle::Operational;
        let mut block = [0xFF; 16];
        block[..6].copy_from_slice(b"123456");
        state.pin = ReferenceData {
            value: Some(Zeroizing::new(block)),
            tries_left: 2,
        };
        state.signing_key = Some(p256::SecretKey::from_slice(&[0x11; 32]).unwrap());
        state.signing_key_blocked = true;
        let decoded = decode(&encode(&state).unwrap()).unwrap();
        assert_eq!(decoded.serial, state.serial);
        assert_eq!(decoded.lifecycle, state.lifecycle);
        assert_eq!(decoded.static_keys, state.static_keys);
        assert_eq!(decoded.pin, state.pin);
        assert_eq!(decoded.puk, state.puk);
        assert_eq!(decoded.finger_tries_left, state.finger_tries_left);
        assert_eq!(
            decoded.signing_key.as_ref().map(|k| k.to_bytes()),
            state.signing_key.as_ref().map(|k| k.to_bytes())
        );
        assert!(decoded.signing_key_blocked);
        assert!(decoded.chip_auth_key.is_none());
        assert_eq!(decoded.files, state.files);
        assert_eq!(*encode(&decoded).unwrap(), *encode(&state).unwrap());
    }

    #[test]
    fn every_corruption_names_its_field() {
        let good = json(&sample());
        type Corruption = Box<dyn Fn(&mut serde_json::Value)>;
        let cases: Vec<(&str, Corruption)> = vec![
            ("format", Box::new(|v| v["format"] = "other".into())),
            (
                "format_version",
                Box::new(|v| v["format_version"] = 2.into()),
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
                "pin.reference",
                Box::new(|v| v["pin"]["reference"] = "31323334".into()),
            ),
            (
                "pin.reference",
                Box::new(|v| v["pin"]["reference"] = "3132333435FFFFFFFFFFFFFFFFFFFFFF".into()),
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
                "files[0].fid",
                Box::new(|v| v["files"][0]["fid"] = "01".into()),
            ),
            (
                "files[0].fid",
                Box::new(|v| v["files"][0]["fid"] = "0107".into()),
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
            assert_eq!(field_of(decode_value(&value)), expected);
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
            assert!(matches!(decode_value(&value), Err(DecodeError::Syntax(_))));
        }
        assert!(matches!(decode(b""), Err(DecodeError::Syntax(_))));
        assert!(matches!(
            decode(b"{\"format\""),
            Err(DecodeError::Syntax(_))
        ));
    }

    #[test]
    fn a_flipped_file_byte_loads_as_that_byte() {
        let text = String::from_utf8(encode(&sample()).unwrap().to_vec()).unwrap();
        let flipped = text.replacen("\"E100\"", "\"E101\"", 1);
        assert_ne!(text, flipped);
        let state = decode(flipped.as_bytes()).unwrap();
        assert_eq!(state.files.content(ef::IDENTITY), Some(&[0xE1, 0x01][..]));
    }
}

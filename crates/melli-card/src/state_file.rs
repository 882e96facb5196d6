//! The state file format: the card's persistent state as JSON, bytes as hexadecimal strings, so
//! that a person (or a test) can read it — and a MAC over all of it, so that nobody changes it
//! but the card (spec §8.7).
//!
//! Decoding checks the format and its version first, then the MAC, then every field, naming the
//! field that is wrong; it never panics on a corrupted file. Secret fields (keys, reference
//! hashes, the device secret) are wiped from memory after use.
//!
//! ```json
//! { "format": "melli-card-state", "format_version": 3, "spec_version": "1.1",
//!   "serial": "MELLI0001", "lifecycle": "blank",
//!   "device_secret": "…64 hex digits…",
//!   "static_keys": { "enc": "…32 hex digits…", "mac": "…" },
//!   "pin": { "reference": null, "tries_left": 3 },
//!   "puk": { "reference": { "salt": "…32 hex digits…", "hash": "…64…" }, "tries_left": 10 },
//!   "finger": { "tries_left": 5 },
//!   "key_pairs": { "signing": null, "signing_blocked": false, "chip_auth": null,
//!                  "auth": null },
//!   "files": [ { "fid": "0101", "content": "" }, … ],
//!   "mac": "…64 hex digits…" }
//! ```
//!
//! The MAC is HMAC-SHA256 under K_file (see `device_secret`) over the canonical text of the
//! file without its `mac` member: compact JSON (no whitespace), the members of every object
//! sorted by name, strings escaped as serde_json writes them.
//!
//! Format 3 added `key_pairs.auth`, the authentication key `03` of a 1.1 card (§12.2), and a
//! card's `spec_version` is its own: `"1.0"` or `"1.1"`. A format-2 file (a 1.0 card, no
//! `auth` member, no DG7) still loads, as the 1.0 card it was, and is saved as format 3.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::{Zeroize, Zeroizing};

use super::device_secret::{DeviceSecret, HashedReference, HASH_LEN, SALT_LEN, SECRET_LEN};
use super::files::{FileSpec, Files};
use super::keys::{AesKey, StaticKeys};
use super::state::{
    CardState, Lifecycle, ReferenceData, ReferenceRules, Serial, PIN_RULES, PUK_RULES,
};
use crate::spec::{self, pin};

const FORMAT: &str = "melli-card-state";
/// Version 3: the authentication key `03` (`key_pairs.auth`) and the card's own
/// specification version, 1.0 or 1.1. Version 2 (hashed reference data, the device secret and
/// the MAC) is read too; version 1 kept the PIN and the PUK in clear and had no MAC.
pub(super) const FORMAT_VERSION: u64 = 3;
/// The format written before version 1.1 of the specification, still read (a 1.0 card).
const FORMAT_VERSION_1_0: u64 = 2;
/// The oldest format this melli reads.
pub(super) const OLDEST_FORMAT_VERSION: u64 = FORMAT_VERSION_1_0;
/// The specification versions a state file may name: a card made before 1.1 stays a 1.0 card.
const SPEC_VERSIONS: [(u8, u8); 2] = [(1, 0), spec::SPEC_VERSION];
/// The member format 3 added to `key_pairs`.
const AUTH_KEY_FIELD: &str = "auth";
const MAC_FIELD: &str = "mac";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    format: String,
    format_version: u64,
    spec_version: String,
    serial: String,
    lifecycle: String,
    device_secret: String,
    static_keys: StaticKeysHex,
    pin: ReferenceHex,
    puk: ReferenceHex,
    finger: FingerCounter,
    key_pairs: KeyPairsHex,
    files: Vec<FileHex>,
    mac: String,
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
    reference: Option<HashHex>,
    tries_left: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HashHex {
    salt: String,
    hash: String,
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
    /// Format 3 (absent from format 2: see [`check_auth_member`]).
    #[serde(default)]
    auth: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHex {
    fid: String,
    content: String,
}

impl Drop for StateFile {
    fn drop(&mut self) {
        self.device_secret.zeroize();
    }
}

impl Drop for StaticKeysHex {
    fn drop(&mut self) {
        self.enc.zeroize();
        self.mac.zeroize();
    }
}

impl Drop for HashHex {
    fn drop(&mut self) {
        self.salt.zeroize();
        self.hash.zeroize();
    }
}

impl Drop for KeyPairsHex {
    fn drop(&mut self) {
        self.signing.zeroize();
        self.chip_auth.zeroize();
        self.auth.zeroize();
    }
}

impl Drop for FileHex {
    fn drop(&mut self) {
        // DG3 holds fingerprint templates.
        self.content.zeroize();
    }
}

/// A JSON value whose strings (hex of keys and hashes) are overwritten when it is dropped.
struct WipedValue(Value);

impl Drop for WipedValue {
    fn drop(&mut self) {
        fn wipe(value: &mut Value) {
            match value {
                Value::String(text) => text.zeroize(),
                Value::Array(items) => items.iter_mut().for_each(wipe),
                Value::Object(members) => members.values_mut().for_each(wipe),
                Value::Null | Value::Bool(_) | Value::Number(_) => {}
            }
        }
        wipe(&mut self.0);
    }
}

/// Why a state file was refused.
#[derive(Debug)]
pub(super) enum DecodeError {
    /// Not JSON of the right shape.
    Syntax(serde_json::Error),
    /// A state file of another format version.
    Version(u64),
    /// The MAC is missing or wrong: the file was changed by something other than the card.
    Integrity,
    /// A field with a value the card cannot accept.
    Field { field: String, problem: String },
}

fn field_error(field: impl Into<String>, problem: impl Into<String>) -> DecodeError {
    DecodeError::Field {
        field: field.into(),
        problem: problem.into(),
    }
}

/// The canonical text of a state file's JSON for its MAC: compact, the members of every object
/// sorted by name, and the top-level `mac` member left out.
fn canonical(value: &Value) -> Result<Zeroizing<Vec<u8>>, serde_json::Error> {
    fn write(out: &mut Vec<u8>, value: &Value, skip: Option<&str>) -> serde_json::Result<()> {
        match value {
            Value::Object(members) => {
                let mut names: Vec<&String> = members
                    .keys()
                    .filter(|name| Some(name.as_str()) != skip)
                    .collect();
                names.sort();
                out.push(b'{');
                for (n, name) in names.into_iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut *out, name)?;
                    out.push(b':');
                    if let Some(member) = members.get(name) {
                        write(out, member, None)?;
                    }
                }
                out.push(b'}');
            }
            Value::Array(items) => {
                out.push(b'[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    write(out, item, None)?;
                }
                out.push(b']');
            }
            scalar => serde_json::to_writer(&mut *out, scalar)?,
        }
        Ok(())
    }
    let mut out = Zeroizing::new(Vec::new());
    write(&mut out, value, Some(MAC_FIELD))?;
    Ok(out)
}

/// The MAC of a state file's JSON under the card's device secret.
fn mac_of(value: &Value, secret: &DeviceSecret) -> Result<String, serde_json::Error> {
    Ok(hex::encode_upper(*secret.file_mac(&canonical(value)?)))
}

/// The state as the bytes of a state file (pretty-printed JSON with its MAC, wiped from memory
/// when dropped).
pub(super) fn encode(state: &CardState) -> Result<Zeroizing<Vec<u8>>, serde_json::Error> {
    let mut file = StateFile {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        spec_version: version_text(state.spec_version),
        serial: state.serial.as_str().to_owned(),
        lifecycle: state.lifecycle.name().to_owned(),
        device_secret: hex::encode_upper(state.device_secret.as_bytes()),
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
            auth: state.auth_key.as_ref().map(secret_key_hex),
        },
        files: state
            .files
            .iter()
            .map(|(file, content)| FileHex {
                fid: format!("{:04X}", file.fid),
                content: hex::encode_upper(content),
            })
            .collect(),
        mac: String::new(),
    };
    let value = WipedValue(serde_json::to_value(&file)?);
    file.mac = mac_of(&value.0, &state.device_secret)?;
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
        reference: data.reference.as_ref().map(|hashed| HashHex {
            salt: hex::encode_upper(hashed.salt),
            hash: hex::encode_upper(hashed.hash),
        }),
        tries_left: u64::from(data.tries_left),
    }
}

fn secret_key_hex(key: &p256::SecretKey) -> String {
    hex::encode_upper(*Zeroizing::new(key.to_bytes()))
}

/// Reads and validates a state file's bytes: format and version, then the MAC, then every
/// field.
pub(super) fn decode(bytes: &[u8]) -> Result<CardState, DecodeError> {
    let value = WipedValue(serde_json::from_slice(bytes).map_err(DecodeError::Syntax)?);
    if !value.0.is_object() {
        // JSON, but not an object at all: serde names what it found.
        StateFile::deserialize(&value.0).map_err(DecodeError::Syntax)?;
    }
    let format_version = check_format(&value.0)?;
    let device_secret = check_integrity(&value.0)?;
    check_auth_member(&value.0, format_version)?;
    let file = StateFile::deserialize(&value.0).map_err(DecodeError::Syntax)?;
    let spec_version = card_version(&file.spec_version, format_version)?;
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
    let auth_key = key_pair("key_pairs.auth", file.key_pairs.auth.as_deref())?;
    if auth_key.is_some() && spec_version < spec::authentication::SINCE {
        return Err(field_error(
            "key_pairs.auth",
            "holds a key, but a 1.0 card has no authentication key",
        ));
    }
    Ok(CardState {
        serial,
        lifecycle,
        spec_version,
        static_keys,
        device_secret,
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
        auth_key,
        files: files(&file.files, spec_version)?,
    })
}

/// The `format` and `format_version` members, read before anything else so that a file of
/// another version is named as such (and not as a broken file of this one). The format
/// version, 2 or 3.
fn check_format(value: &Value) -> Result<u64, DecodeError> {
    let format = value.get("format");
    if format.and_then(Value::as_str) != Some(FORMAT) {
        let shown = format.map_or_else(|| "missing".to_owned(), |f| format!("is {f}"));
        return Err(field_error("format", format!("{shown}, not {FORMAT:?}")));
    }
    match value.get("format_version").and_then(Value::as_u64) {
        Some(version @ (FORMAT_VERSION_1_0 | FORMAT_VERSION)) => Ok(version),
        Some(other) => Err(DecodeError::Version(other)),
        None => Err(field_error(
            "format_version",
            format!(
                "is missing or not a number; this melli reads versions \
                 {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION}"
            ),
        )),
    }
}

/// `key_pairs.auth` is a member of format 3 and not of format 2 (serde accepts either: its
/// absence reads as no key).
fn check_auth_member(value: &Value, format_version: u64) -> Result<(), DecodeError> {
    let present = value
        .get("key_pairs")
        .and_then(Value::as_object)
        .is_some_and(|pairs| pairs.contains_key(AUTH_KEY_FIELD));
    match (format_version == FORMAT_VERSION, present) {
        (true, false) => Err(field_error(
            "key_pairs.auth",
            format!("is missing; format {FORMAT_VERSION} has it (null without a key)"),
        )),
        (false, true) => Err(field_error(
            "key_pairs.auth",
            format!("is not a member of format {format_version}"),
        )),
        _ => Ok(()),
    }
}

/// The card's specification version: "1.0" or "1.1" in format 3, only "1.0" in format 2.
fn card_version(text: &str, format_version: u64) -> Result<(u8, u8), DecodeError> {
    let known: &[(u8, u8)] = if format_version == FORMAT_VERSION {
        &SPEC_VERSIONS
    } else {
        &SPEC_VERSIONS[..1]
    };
    known
        .iter()
        .copied()
        .find(|version| version_text(*version) == text)
        .ok_or_else(|| {
            let names: Vec<String> = known.iter().copied().map(version_text).collect();
            field_error(
                "spec_version",
                format!(
                    "is {text:?}, but a format-{format_version} file names {}",
                    names.join(" or ")
                ),
            )
        })
}

/// The MAC check (§8.7): the device secret must be there and the `mac` member must be the MAC
/// of the rest under it. Anything else is [`DecodeError::Integrity`].
fn check_integrity(value: &Value) -> Result<DeviceSecret, DecodeError> {
    let text = |name: &str| value.get(name).and_then(Value::as_str);
    let secret = text("device_secret")
        .and_then(|hex_text| fixed_secret::<SECRET_LEN>("device_secret", hex_text).ok())
        .map(DeviceSecret::from_bytes)
        .ok_or(DecodeError::Integrity)?;
    let tag = text(MAC_FIELD)
        .and_then(|hex_text| hex::decode(hex_text).ok())
        .ok_or(DecodeError::Integrity)?;
    let canonical = canonical(value).map_err(DecodeError::Syntax)?;
    if secret.file_mac_matches(&canonical, &tag) {
        Ok(secret)
    } else {
        Err(DecodeError::Integrity)
    }
}

/// Seals a state file's JSON as the card does: sets its `mac` member to the MAC under its own
/// `device_secret`. For the tests, which play someone who knows this construction.
#[cfg(test)]
pub(super) fn seal(value: &mut Value) {
    let secret: [u8; SECRET_LEN] = hex::decode(value["device_secret"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let secret = DeviceSecret::from_bytes(Zeroizing::new(secret));
    value[MAC_FIELD] = mac_of(value, &secret).unwrap().into();
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
    let hashed = match &data.reference {
        None => None,
        Some(hashed) => Some(HashedReference {
            salt: *fixed_secret::<SALT_LEN>(&format!("{name}.reference.salt"), &hashed.salt)?,
            hash: *fixed_secret::<HASH_LEN>(&format!("{name}.reference.hash"), &hashed.hash)?,
        }),
    };
    Ok(ReferenceData {
        reference: hashed,
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

/// The files of a card of `spec_version`: each exactly once, none it does not have.
fn files(entries: &[FileHex], spec_version: (u8, u8)) -> Result<Files, DecodeError> {
    let mut files = Files::blank(spec_version);
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
    if let Some(missing) = FileSpec::all(spec_version).find(|file| !seen.contains(&file.fid)) {
        return Err(field_error(
            "files",
            format!("has no entry for file {:04X}", missing.fid),
        ));
    }
    Ok(files)
}

#[cfg(test)]
mod tests;

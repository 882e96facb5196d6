//! A virtual card's state file, read and changed the way someone with the file would.

use std::fs;

use super::VirtualCard;

/// The card's state file as JSON.
pub fn read_state(card: &VirtualCard) -> serde_json::Value {
    let text = fs::read_to_string(card.state_path()).expect("state file");
    serde_json::from_str(&text).expect("state file is JSON")
}

/// Writes a changed state file sealed again, as someone who read applets-spec §8.7 would (the
/// card refuses an unsealed edit): the `mac` member is HMAC-SHA256 under
/// K_file = HMAC-SHA256(device_secret, "melli-card state file v2") of the file's compact JSON
/// without `mac`, members sorted by name (serde_json's `Value` keeps them sorted).
pub fn write_state(card: &VirtualCard, state: &serde_json::Value) {
    use hmac::{Hmac, Mac};
    let hmac = |key: &[u8], data: &[u8]| {
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC key");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    };
    let mut state = state.clone();
    let members = state
        .as_object_mut()
        .expect("a state file is a JSON object");
    members.remove("mac");
    let secret = hex::decode(members["device_secret"].as_str().expect("device_secret"))
        .expect("device_secret is hex");
    let file_key = hmac(&secret, b"melli-card state file v2");
    let canonical = serde_json::to_vec(&state).expect("serialize state");
    state["mac"] = hex::encode_upper(hmac(&file_key, &canonical)).into();
    fs::write(
        card.state_path(),
        serde_json::to_string_pretty(&state).expect("serialize state"),
    )
    .expect("write state file");
}

/// The hex content of elementary file `fid` ("0101" …) in a state file, as a mutable JSON value.
pub fn state_file_content<'a>(
    state: &'a mut serde_json::Value,
    fid: &str,
) -> &'a mut serde_json::Value {
    state["files"]
        .as_array_mut()
        .expect("a files list in the state")
        .iter_mut()
        .find(|f| f["fid"].as_str().map(|s| s.eq_ignore_ascii_case(fid)) == Some(true))
        .map(|f| &mut f["content"])
        .unwrap_or_else(|| panic!("no file {fid} in the card state"))
}

/// Changes one bit in the middle of elementary file `fid` of `state` (the same length, so the
/// card still serves it, but its hash in the security object no longer holds), writes the state
/// back sealed and restarts the card with it: a data group changed after the issuer signed it.
pub fn tamper_file(card: &mut VirtualCard, mut state: serde_json::Value, fid: &str) {
    let content = state_file_content(&mut state, fid);
    let mut bytes = hex::decode(content.as_str().expect("hex")).expect("hex content");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    *content = serde_json::Value::String(hex::encode_upper(&bytes));
    card.kill();
    write_state(card, &state);
    card.restart();
}

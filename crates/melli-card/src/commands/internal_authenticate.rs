//! INTERNAL AUTHENTICATE `00 88 00 02` (spec §6.13, §9.5): chip authentication. The card signs
//! SHA-256("MELLI-CA-V1" ‖ serial ‖ c) for the host's challenge c (8 to 64 bytes) with the
//! chip-authentication key `02`, whose public half is DG5. No PIN: anyone may ask the chip to
//! prove it is genuine. The prefix keeps the key from signing a digest of the host's choice.
//!
//! On a card of version 1.1, P2 `03` is the authentication key's login signature (§12.3), in
//! [`super::login_signature`]; a 1.0 card answers it as any other P2 (`6A86`).

use crate::command::Command;
use crate::crypto;
use crate::dispatch::{never, Ctx, Entry, Presence, Protection, Shape};
use crate::key_pairs;
use crate::response::{Reply, Status};
use crate::spec::authentication::DIGEST_LENS;
use crate::spec::{chip_auth, ins, reference};

pub(crate) const ENTRY: Entry = Entry {
    ins: ins::INTERNAL_AUTHENTICATE,
    check_shape,
    before_selection: false,
    when_terminated: never,
    run,
};

/// A challenge of 8 to 64 bytes, or with P2 `03` a digest of 32, 48 or 64 bytes (§12.3
/// check 1) (6700); Le `00` (optional: without it the signature waits behind `61xx`). The
/// length is judged before the card looks at P2 (§4.6 step 3), so a 1.0 card answers a P2 `03`
/// of another length 6700 too, where it would otherwise answer 6A86.
fn check_shape(command: &Command<'_>) -> Result<(), Status> {
    let length_ok = if command.p2() == reference::AUTHENTICATION_KEY {
        DIGEST_LENS.contains(&command.data.len())
    } else {
        (chip_auth::CHALLENGE_MIN..=chip_auth::CHALLENGE_MAX).contains(&command.data.len())
    };
    if !length_ok {
        return Err(Status::WRONG_LENGTH);
    }
    Shape {
        data: Presence::Required,
        le: Presence::Optional,
    }
    .check(command)
}

/// P1 `00`, P2 `02` (6A86), secure messaging, key `02` generated (6A88), then the signature.
/// Allowed in BLANK, PERSONALIZING and OPERATIONAL (in BLANK the key never exists).
fn run(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    if command.p2() == reference::AUTHENTICATION_KEY && ctx.state().has_online_identity() {
        return super::login_signature::run(ctx, command);
    }
    if command.p1() != 0x00 || command.p2() != reference::CHIP_AUTH_KEY {
        return Err(Status::INCORRECT_P1P2);
    }
    let unwrapped = ctx.secure_messaging(command, Protection::Either)?;
    let state = ctx.state();
    let key = state
        .chip_auth_key
        .as_ref()
        .ok_or(Status::REFERENCE_NOT_FOUND)?;
    let digest = message_digest(state.serial.as_str(), unwrapped.command().data);
    key_pairs::sign_digest(key, &digest).map(Reply::data)
}

/// e = SHA-256(M), M = "MELLI-CA-V1" ‖ serial (ASCII, as GET DATA `DF01`) ‖ c.
pub(crate) fn message_digest(serial: &str, challenge: &[u8]) -> [u8; 32] {
    crypto::sha256(&[chip_auth::PREFIX, serial.as_bytes(), challenge])
}

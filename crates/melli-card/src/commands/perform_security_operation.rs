//! PERFORM SECURITY OPERATION: COMPUTE DIGITAL SIGNATURE `00 2A 9E 9A` (spec §6.12): the
//! holder's signature with key `01` over a 32-byte SHA-256 digest the host computed, after the
//! PIN was verified in this card session. Answers r ‖ s (64 bytes).

use crate::command::Command;
use crate::dispatch::{never, require_lifecycle, Ctx, Entry, Presence, Protection, Shape};
use crate::key_pairs;
use crate::response::{Reply, Status};
use crate::spec::{ins, PSO_COMPUTE_DIGITAL_SIGNATURE, PSO_DIGEST_LEN};
use crate::state::Lifecycle;

pub(crate) const ENTRY: Entry = Entry {
    ins: ins::PERFORM_SECURITY_OPERATION,
    check_shape,
    before_selection: false,
    when_terminated: never,
    run,
};

/// Exactly 32 data bytes (6700); Le `00` or `40` (optional: without it the signature waits
/// behind `61xx`).
fn check_shape(command: &Command<'_>) -> Result<(), Status> {
    if command.data.len() != PSO_DIGEST_LEN {
        return Err(Status::WRONG_LENGTH);
    }
    Shape {
        data: Presence::Required,
        le: Presence::Optional,
    }
    .check(command)
}

/// P1-P2 (6A86), plain only (6A81), OPERATIONAL (6985), signing key not blocked by an
/// exhausted PUK (6983), PIN verified in this session (6982), then the signature.
fn run(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    if command.p1p2() != PSO_COMPUTE_DIGITAL_SIGNATURE {
        return Err(Status::INCORRECT_P1P2);
    }
    ctx.secure_messaging(command, Protection::PlainOnly)?;
    require_lifecycle(ctx, Lifecycle::Operational)?;
    let state = ctx.state();
    if state.signing_key_blocked {
        return Err(Status::AUTHENTICATION_BLOCKED);
    }
    if !ctx.session.app.pin_verified {
        return Err(Status::SECURITY_STATUS_NOT_SATISFIED);
    }
    let key = state
        .signing_key
        .as_ref()
        .ok_or(Status::REFERENCE_NOT_FOUND)?;
    let digest: &[u8; PSO_DIGEST_LEN] =
        command.data.try_into().map_err(|_| Status::WRONG_LENGTH)?;
    key_pairs::sign_digest(key, digest).map(Reply::data)
}

//! GET CHALLENGE `00 84 00 00 Le` (spec §6.7): Ne random bytes, 1 to 32.

use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use crate::command::Command;
use crate::dispatch::{always, require_p1p2_zero, Ctx, Entry, Presence, Protection, Shape};
use crate::response::{Reply, Status};
use crate::spec::{ins, secure_channel::NONCE_LEN, CHALLENGE_MAX};

pub(crate) const ENTRY: Entry = Entry {
    ins: ins::GET_CHALLENGE,
    check_shape,
    before_selection: true,
    when_terminated: always,
    run,
};

fn check_shape(command: &Command<'_>) -> Result<(), Status> {
    Shape {
        data: Presence::Forbidden,
        le: Presence::Required,
    }
    .check(command)
}

/// P1-P2 (6A86), plain only (6A81), Ne above 32 (6C20, Le `00` included), then the random
/// bytes. A 16-byte challenge is kept for MUTUAL AUTHENTICATE (§10 step 1); any other length
/// leaves none.
fn run(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    require_p1p2_zero(command)?;
    ctx.secure_messaging(command, Protection::PlainOnly)?;
    let count = command.ne();
    if count > CHALLENGE_MAX {
        return Err(Status::wrong_le(
            u8::try_from(CHALLENGE_MAX).unwrap_or(u8::MAX),
        ));
    }
    let mut challenge = vec![0u8; count];
    OsRng
        .try_fill_bytes(&mut challenge)
        .map_err(|_| Status::NO_PRECISE_DIAGNOSIS)?;
    ctx.session.challenge = <[u8; NONCE_LEN]>::try_from(challenge.as_slice())
        .ok()
        .map(Zeroizing::new);
    Ok(Reply::data(challenge))
}

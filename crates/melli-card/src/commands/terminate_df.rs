//! TERMINATE DF `00 E6 00 00` with the PUK (spec §6.16): the holder ends the card for good.
//! The PUK is checked with the tearing-safe sequence of §8.3; on a match the card becomes
//! TERMINATED (§7), saved before `9000`, and erases what no command could use any more and
//! what must not outlive the card (§6.16, §8.7): the private keys (signing, chip
//! authentication and, on a 1.1 card, authentication), the enrolled fingerprint templates
//! (DG3, emptied) and the PIN and PUK reference values.

use crate::command::Command;
use crate::dispatch::{
    never, require_lifecycle, require_p1p2_zero, Ctx, Entry, Presence, Protection, Shape,
};
use crate::response::{Reply, Status};
use crate::spec::{ef, ins};
use crate::state::Lifecycle;
use crate::verification::{self, Counter, Reference};

pub(crate) const ENTRY: Entry = Entry {
    ins: ins::TERMINATE_DF,
    check_shape,
    before_selection: false,
    when_terminated: never,
    run,
};

/// No length rule of its own: a wrong data length is 6A80, judged after the state (§6.16).
fn check_shape(command: &Command<'_>) -> Result<(), Status> {
    Shape {
        data: Presence::Optional,
        le: Presence::Optional,
    }
    .check(command)
}

/// P1-P2 (6A86), plain only (6A81), OPERATIONAL (6985), PUK not exhausted (6983), a valid
/// PUK block (6A80, no try consumed); then the try is consumed and saved, the PUK compared:
/// `63Cx` on a mismatch, TERMINATED on a match.
fn run(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    require_p1p2_zero(command)?;
    ctx.secure_messaging(command, Protection::PlainOnly)?;
    require_lifecycle(ctx, Lifecycle::Operational)?;
    verification::not_blocked(ctx, Counter::Puk)?;
    verification::well_formed(Reference::Puk, command.data)?;

    let left = verification::consume_try(ctx, Counter::Puk)?;
    if !verification::matches(ctx.state(), Reference::Puk, command.data) {
        return Err(verification::mismatch(left));
    }
    verification::restore(ctx, Counter::Puk);
    let state = ctx.state_mut();
    state.lifecycle = Lifecycle::Terminated;
    state.signing_key = None;
    state.chip_auth_key = None;
    state.auth_key = None;
    state.pin.reference = None;
    state.puk.reference = None;
    state.files.erase(ef::FINGERPRINT);
    ctx.commit()?;
    ctx.session.app.pin_verified = false;
    ctx.session.app.finger_verified = false;
    Ok(Reply::ok())
}

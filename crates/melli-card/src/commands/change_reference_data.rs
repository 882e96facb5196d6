//! CHANGE REFERENCE DATA `00 24` (spec §6.9): the holder changes the PIN (`00 24 00 81`, old ‖
//! new block, plain, OPERATIONAL), and personalization sets the initial PIN or the PUK
//! (`0C 24 01 81` / `0C 24 01 82`, new block, under secure messaging, PERSONALIZING).
//!
//! A change checks the old PIN with the tearing-safe sequence of §8.3: the try is consumed
//! and saved before the comparison.

use crate::command::Command;
use crate::dispatch::{never, require_lifecycle, Ctx, Entry, Presence, Protection, Shape};
use crate::response::{Reply, Status};
use crate::spec::{ins, pin, reference, reference_data};
use crate::state::Lifecycle;
use crate::verification::{self, Counter, Reference};

pub(crate) const ENTRY: Entry = Entry {
    ins: ins::CHANGE_REFERENCE_DATA,
    check_shape,
    before_selection: false,
    when_terminated: never,
    run,
};

/// No length rule of its own: a wrong data length is 6A80, judged after the state (§6.9).
fn check_shape(command: &Command<'_>) -> Result<(), Status> {
    Shape {
        data: Presence::Optional,
        le: Presence::Optional,
    }
    .check(command)
}

/// The P1-P2 combinations of §6.9; any other is 6A86.
fn run(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    match (command.p1(), command.p2()) {
        (reference_data::P1_CHANGE, reference::PIN) => change_pin(ctx, command),
        (reference_data::P1_SET, reference::PIN) => set(ctx, command, Reference::Pin),
        (reference_data::P1_SET, reference::PUK) => set(ctx, command, Reference::Puk),
        _ => Err(Status::INCORRECT_P1P2),
    }
}

/// Plain only (6A81), OPERATIONAL (6985), PIN not blocked (6983), two valid PIN blocks
/// (6A80, no try consumed); then the try is consumed and saved, the old PIN compared. A
/// mismatch is `63Cx` and clears the PIN-verified flag; a match stores the new PIN with the
/// counter back at 3 in one update, and sets the flag *(choice of §6.9)*.
fn change_pin(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    ctx.secure_messaging(command, Protection::PlainOnly)?;
    require_lifecycle(ctx, Lifecycle::Operational)?;
    verification::not_blocked(ctx, Counter::Pin)?;
    let (old, new) = command
        .data
        .split_at_checked(pin::BLOCK_LEN)
        .filter(|(_, new)| new.len() == pin::BLOCK_LEN)
        .ok_or(Status::INCORRECT_DATA)?;
    verification::well_formed(Reference::Pin, old)?;
    verification::well_formed(Reference::Pin, new)?;

    ctx.session.app.pin_verified = false;
    let left = verification::consume_try(ctx, Counter::Pin)?;
    if !verification::matches(ctx.state(), Reference::Pin, old) {
        return Err(verification::mismatch(left));
    }
    ctx.state_mut().pin = verification::new_reference(ctx.state(), Reference::Pin, new)?;
    ctx.commit()?;
    ctx.session.app.pin_verified = true;
    Ok(Reply::ok())
}

/// Protection required (6982), PERSONALIZING (6985), one valid block (6A80); then the value
/// is stored with its counter at the maximum. The last value set wins.
fn set(ctx: &mut Ctx<'_>, command: &Command<'_>, reference: Reference) -> Result<Reply, Status> {
    let unwrapped = ctx.secure_messaging(command, Protection::Required)?;
    require_lifecycle(ctx, Lifecycle::Personalizing)?;
    let block = unwrapped.command().data;
    verification::well_formed(reference, block)?;
    *reference.data_mut(ctx.state_mut()) =
        verification::new_reference(ctx.state(), reference, block)?;
    Ok(Reply::ok())
}

//! RESET RETRY COUNTER `00 2C` (spec §6.10): the holder presents the PUK to unblock the PIN
//! with a new value (`00 2C 00 81`, PUK ‖ new PIN) or to unblock the finger (`00 2C 01 83`,
//! PUK). Plain, OPERATIONAL. The PUK is checked with the tearing-safe sequence of §8.3; ten
//! wrong PUKs block the signing key for good (§8.1).

use crate::command::Command;
use crate::dispatch::{never, require_lifecycle, Ctx, Entry, Presence, Protection, Shape};
use crate::response::{Reply, Status};
use crate::spec::{ins, pin, reference, reference_data};
use crate::state::Lifecycle;
use crate::verification::{self, Counter, Reference};

pub(crate) const ENTRY: Entry = Entry {
    ins: ins::RESET_RETRY_COUNTER,
    check_shape,
    before_selection: false,
    when_terminated: never,
    run,
};

/// No length rule of its own: a wrong data length is 6A80, judged after the state (§6.10).
fn check_shape(command: &Command<'_>) -> Result<(), Status> {
    Shape {
        data: Presence::Optional,
        le: Presence::Optional,
    }
    .check(command)
}

/// What is unblocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unblock {
    Pin,
    Finger,
}

/// P1/P2 (6A86), plain only (6A81), OPERATIONAL (6985), PUK not exhausted (6983), the blocks
/// (6A80, no try consumed); then the PUK try is consumed and saved, and the PUK compared. A
/// mismatch is `63Cx` (at 0 the signing key is blocked in the same update). A match restores
/// the PUK counter and unblocks, in one update.
fn run(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    let unblock = match (command.p1(), command.p2()) {
        (reference_data::P1_UNBLOCK_PIN, reference::PIN) => Unblock::Pin,
        (reference_data::P1_UNBLOCK_FINGER, reference::FINGER) => Unblock::Finger,
        _ => return Err(Status::INCORRECT_P1P2),
    };
    ctx.secure_messaging(command, Protection::PlainOnly)?;
    require_lifecycle(ctx, Lifecycle::Operational)?;
    verification::not_blocked(ctx, Counter::Puk)?;
    let (puk, new_pin) = match unblock {
        Unblock::Pin => command
            .data
            .split_at_checked(pin::BLOCK_LEN)
            .filter(|(_, new)| new.len() == pin::BLOCK_LEN)
            .ok_or(Status::INCORRECT_DATA)?,
        Unblock::Finger => (command.data, &[][..]),
    };
    verification::well_formed(Reference::Puk, puk)?;
    if unblock == Unblock::Pin {
        verification::well_formed(Reference::Pin, new_pin)?;
    }

    let left = verification::consume_try(ctx, Counter::Puk)?;
    if !verification::matches(ctx.state(), Reference::Puk, puk) {
        return Err(verification::mismatch(left));
    }
    verification::restore(ctx, Counter::Puk);
    match unblock {
        Unblock::Pin => {
            ctx.state_mut().pin =
                verification::new_reference(ctx.state(), Reference::Pin, new_pin)?;
        }
        Unblock::Finger => verification::restore(ctx, Counter::Finger),
    }
    ctx.commit()?;
    if unblock == Unblock::Pin {
        // The new PIN must be verified before signing (§6.10, a choice of the specification).
        ctx.session.app.pin_verified = false;
    }
    Ok(Reply::ok())
}

//! VERIFY `00 20 00 P2` (spec §6.8): the PIN (P2 `81`, a 16-byte block) or the finger (P2
//! `83`, a live ISO/IEC 19794-2 template matched on the card, §11). Plain, OPERATIONAL.
//!
//! Without data, VERIFY reports: `6983` blocked, `9000` verified in this card session, else
//! `63Cx`. With data it follows the tearing-safe sequence of §8.3: blocked (6983), malformed
//! data (6A80, no try consumed), the try consumed and saved, then the comparison; a match
//! restores the counter and sets the session's verified flag, a mismatch clears it and
//! answers `63Cx`.

use crate::biometric;
use crate::command::Command;
use crate::dispatch::{never, require_lifecycle, Ctx, Entry, Presence, Protection, Shape};
use crate::response::{Reply, Status};
use crate::spec::{ef, ins, reference};
use crate::state::Lifecycle;
use crate::timing::{self, Work};
use crate::verification::{self, Counter, Reference};

pub(crate) const ENTRY: Entry = Entry {
    ins: ins::VERIFY,
    check_shape,
    before_selection: false,
    when_terminated: never,
    run,
};

/// Data optional (absent: a status query); Le ignored.
fn check_shape(command: &Command<'_>) -> Result<(), Status> {
    Shape {
        data: Presence::Optional,
        le: Presence::Optional,
    }
    .check(command)
}

/// P1 `00` and P2 `81` or `83` (6A86; the PUK is never verified alone), plain only (6A81),
/// OPERATIONAL (6985), then the query or the verification.
fn run(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    let counter = match (command.p1(), command.p2()) {
        (0x00, reference::PIN) => Counter::Pin,
        (0x00, reference::FINGER) => Counter::Finger,
        _ => return Err(Status::INCORRECT_P1P2),
    };
    ctx.secure_messaging(command, Protection::PlainOnly)?;
    require_lifecycle(ctx, Lifecycle::Operational)?;
    if command.data.is_empty() {
        return query(ctx, counter);
    }
    verification::not_blocked(ctx, counter)?;
    if counter == Counter::Finger {
        verify_finger(ctx, command.data)
    } else {
        verify_pin(ctx, command.data)
    }
}

/// The status query: 6983 when blocked, 9000 when verified in this session, else `63Cx`.
fn query(ctx: &Ctx<'_>, counter: Counter) -> Result<Reply, Status> {
    verification::not_blocked(ctx, counter)?;
    let app = &ctx.session.app;
    let verified = match counter {
        Counter::Finger => app.finger_verified,
        Counter::Pin | Counter::Puk => app.pin_verified,
    };
    if verified {
        Ok(Reply::ok())
    } else {
        Err(Status::counter(counter.tries_left(ctx.state())))
    }
}

/// A valid PIN block (6A80), then §8.3 steps 3 to 6.
fn verify_pin(ctx: &mut Ctx<'_>, block: &[u8]) -> Result<Reply, Status> {
    verification::well_formed(Reference::Pin, block)?;
    ctx.session.app.pin_verified = false;
    let left = verification::consume_try(ctx, Counter::Pin)?;
    if !verification::matches(ctx.state(), Reference::Pin, block) {
        return Err(verification::mismatch(left));
    }
    verification::restore(ctx, Counter::Pin);
    ctx.commit()?;
    ctx.session.app.pin_verified = true;
    Ok(Reply::ok())
}

/// A well-formed live template (6A80), a usable enrolled record (6981), then §8.3 steps 3 to
/// 6 with the matcher of §11.4.
fn verify_finger(ctx: &mut Ctx<'_>, template: &[u8]) -> Result<Reply, Status> {
    let live = biometric::parse_live_template(template).map_err(|_| Status::INCORRECT_DATA)?;
    let enrolled = ctx
        .state()
        .files
        .content(ef::FINGERPRINT)
        .ok_or(Status::INCOMPATIBLE_FILE_STRUCTURE)
        .and_then(|record| {
            biometric::parse_record(record).map_err(|_| Status::INCOMPATIBLE_FILE_STRUCTURE)
        })?;
    ctx.session.app.finger_verified = false;
    let left = verification::consume_try(ctx, Counter::Finger)?;
    timing::note(Work {
        finger_matches: 1,
        ..Work::default()
    });
    if !biometric::matches(&enrolled, &live).matched {
        return Err(verification::mismatch(left));
    }
    verification::restore(ctx, Counter::Finger);
    ctx.commit()?;
    ctx.session.app.finger_verified = true;
    Ok(Reply::ok())
}

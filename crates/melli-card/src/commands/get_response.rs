//! GET RESPONSE `00 C0 00 00 Le` (spec §4.4, §6.17): hands out the response data the previous
//! command could not fit in its Ne, Ne bytes at a time (`61xx` while more remain).

use crate::command::Command;
use crate::dispatch::{always, require_p1p2_zero, Ctx, Entry, Presence, Protection, Shape};
use crate::response::{Reply, Status};
use crate::spec::ins;

pub(crate) const ENTRY: Entry = Entry {
    ins: ins::GET_RESPONSE,
    check_shape,
    before_selection: true,
    // It returns what the previous command produced, so it goes wherever that command went.
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

/// P1-P2 (6A86), plain only (6A81), then nothing pending (6985). A failing GET RESPONSE leaves
/// the pending data in place. Otherwise the whole remainder is the reply: the dispatcher
/// delivers `min(Ne, remainder)` of it and keeps the rest, exactly as for the original command.
fn run(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    require_p1p2_zero(command)?;
    ctx.secure_messaging(command, Protection::PlainOnly)?;
    ctx.session
        .pending_response
        .take()
        .map(Reply::data)
        .ok_or(Status::CONDITIONS_NOT_SATISFIED)
}

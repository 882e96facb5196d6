//! GET RESPONSE `00 C0 00 00 Le` (spec §4.4, §6.17): hands out the response data the previous
//! command could not fit in its Ne, Ne bytes at a time (`61xx` while more remain).

use crate::card::command::Command;
use crate::card::dispatch::{params_zero, Ctx, Entry, Presence, Shape};
use crate::card::response::{Reply, Status};
use crate::spec::ins;

pub(in crate::card) const ENTRY: Entry = Entry {
    ins: ins::GET_RESPONSE,
    shape: Shape {
        data: Presence::Forbidden,
        le: Presence::Required,
    },
    before_selection: true,
    check_params: params_zero,
    run,
};

/// Nothing pending: 6985. Otherwise the whole remainder is the reply; the dispatcher delivers
/// `min(Ne, remainder)` of it and keeps the rest, exactly as for the original command.
fn run(ctx: &mut Ctx<'_>, _: &Command<'_>) -> Result<Reply, Status> {
    ctx.previous_response
        .take()
        .map(Reply::data)
        .ok_or(Status::CONDITIONS_NOT_SATISFIED)
}

//! ERASE BINARY `0C 0E P1-P2=offset` (spec §6.4): cuts the current EF back to `offset` bytes,
//! under secure messaging, while the card is PERSONALIZING. A resuming personalization host
//! erases a file to offset 0 before it rewrites it.

use super::{addressing, update_binary};
use crate::command::Command;
use crate::dispatch::{never, Ctx, Entry, Presence, Protection, Shape};
use crate::response::{Reply, Status};
use crate::spec::ins;

pub(crate) const ENTRY: Entry = Entry {
    ins: ins::ERASE_BINARY,
    check_shape,
    before_selection: false,
    when_terminated: never,
    run,
};

/// P1 bit 8, which would announce an SFI: not allowed here.
const P1_SFI_BIT: u8 = 0x80;

/// No data; Le ignored.
fn check_shape(command: &Command<'_>) -> Result<(), Status> {
    Shape {
        data: Presence::Forbidden,
        le: Presence::Optional,
    }
    .check(command)
}

/// P1 b8 (6A86), the current EF (6986), protection required (6982), PERSONALIZING (6985),
/// not EF `0105` (6982), then the erase: the current length becomes min(length, offset). An
/// offset at or beyond the end changes nothing and still answers `9000`.
fn run(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    if command.p1() & P1_SFI_BIT != 0 {
        return Err(Status::INCORRECT_P1P2);
    }
    let fid = addressing::current_ef(ctx)?;
    ctx.secure_messaging(command, Protection::Required)?;
    update_binary::writable(ctx, fid)?;
    let offset = usize::from(command.p1p2());
    let content = addressing::whole(ctx, fid)?;
    if offset < content.len() {
        let kept = content.get(..offset).unwrap_or_default().to_vec();
        ctx.state_mut()
            .files
            .set_content(fid, kept)
            .map_err(|_| Status::NO_PRECISE_DIAGNOSIS)?;
    }
    Ok(Reply::ok())
}

//! UPDATE BINARY `0C D6` and `0C D7` (spec §6.3): personalization writes a data group, under
//! secure messaging, while the card is PERSONALIZING.
//!
//! `D6` addresses like READ BINARY `B0` (current EF and 15-bit offset, or SFI and 8-bit
//! offset) and carries the bytes to write as its data; `D7` names the file like `B1` and
//! carries `54 L offset ‖ 53 L bytes`. There are no holes: an offset beyond the current length
//! is refused, so a file grows from its start. The new length is max(length, offset + n), and
//! the new content is saved atomically before `9000` goes out.

use super::addressing;
use crate::command::Command;
use crate::dispatch::{never, require_lifecycle, Ctx, Entry, Presence, Protection, Shape};
use crate::response::{Reply, Status};
use crate::spec::{ef, ins, tag};
use crate::state::Lifecycle;
use crate::timing::{self, Work};
use crate::tlv;

pub(crate) const ENTRY: Entry = Entry {
    ins: ins::UPDATE_BINARY,
    check_shape,
    before_selection: false,
    when_terminated: never,
    run: run_even,
};

pub(crate) const ENTRY_ODD: Entry = Entry {
    ins: ins::UPDATE_BINARY_ODD,
    check_shape,
    before_selection: false,
    when_terminated: never,
    run: run_odd,
};

/// Data required; Le ignored (§4.2: Le on a command that returns no data).
fn check_shape(command: &Command<'_>) -> Result<(), Status> {
    Shape {
        data: Presence::Required,
        le: Presence::Optional,
    }
    .check(command)
}

/// Addressing (6A86, 6A82, 6986), offset past the current length (6B00), protection required
/// (6982, §10.6), PERSONALIZING (6985), not EF `0105` (6982), beyond the maximum size (6A84),
/// then the write.
fn run_even(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    let (fid, offset) = addressing::even(ctx, command.p1(), command.p2())?;
    addressing::from_offset(ctx, fid, offset)?;
    let unwrapped = ctx.secure_messaging(command, Protection::Required)?;
    writable(ctx, fid)?;
    write(ctx, fid, offset, unwrapped.command().data)
}

/// The file (6986, 6A82), protection required (6982), PERSONALIZING (6985), not EF `0105`
/// (6982), the `54`/`53` objects (6A80), offset past the current length (6B00), beyond the
/// maximum size (6A84), then the write.
fn run_odd(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    let fid = addressing::odd(ctx, command.p1p2())?;
    let unwrapped = ctx.secure_messaging(command, Protection::Required)?;
    writable(ctx, fid)?;
    let (offset, bytes) =
        offset_and_bytes(unwrapped.command().data).ok_or(Status::INCORRECT_DATA)?;
    addressing::from_offset(ctx, fid, offset)?;
    write(ctx, fid, offset, bytes)
}

/// Only while PERSONALIZING (6985), and never EF `0105`, which the card writes itself at
/// GENERATE `80 02` (6982, §5.5).
pub(super) fn writable(ctx: &Ctx<'_>, fid: u16) -> Result<(), Status> {
    require_lifecycle(ctx, Lifecycle::Personalizing)?;
    if fid == ef::CHIP_AUTH_KEY {
        return Err(Status::SECURITY_STATUS_NOT_SATISFIED);
    }
    Ok(())
}

/// `54 L offset` (L = 1–3) followed by `53 L bytes` (L ≥ 1), and nothing else.
fn offset_and_bytes(data: &[u8]) -> Option<(usize, &[u8])> {
    let (offset, rest) = tlv::first(data, tag::OFFSET)?;
    let offset = addressing::offset_value(offset)?;
    let bytes = tlv::single(rest, tag::DISCRETIONARY)?;
    (!bytes.is_empty()).then_some((offset, bytes))
}

/// Writes `bytes` at `offset` (no further than the current length): 6A84 beyond the file's
/// maximum size.
fn write(ctx: &mut Ctx<'_>, fid: u16, offset: usize, bytes: &[u8]) -> Result<Reply, Status> {
    let file = ctx
        .state()
        .files
        .by_fid(fid)
        .ok_or(Status::FILE_NOT_FOUND)?;
    let end = offset
        .checked_add(bytes.len())
        .filter(|end| *end <= file.max_size)
        .ok_or(Status::NOT_ENOUGH_MEMORY)?;
    let mut content = addressing::whole(ctx, fid)?.to_vec();
    if offset > content.len() {
        return Err(Status::WRONG_P1P2);
    }
    content.resize(content.len().max(end), 0x00);
    content
        .get_mut(offset..end)
        .ok_or(Status::NO_PRECISE_DIAGNOSIS)?
        .copy_from_slice(bytes);
    ctx.state_mut()
        .files
        .set_content(fid, content)
        .map_err(|_| Status::NOT_ENOUGH_MEMORY)?;
    timing::note(Work {
        nvm_bytes: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
        ..Work::default()
    });
    Ok(Reply::ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_data_objects() {
        assert_eq!(
            offset_and_bytes(&[0x54, 0x01, 0x10, 0x53, 0x01, 0xAA]),
            Some((0x10, &[0xAA][..]))
        );
        assert_eq!(
            offset_and_bytes(&[0x54, 0x03, 0x01, 0x00, 0x00, 0x53, 0x02, 1, 2]),
            Some((0x10000, &[1, 2][..]))
        );
        for bad in [
            &[0x54, 0x01, 0x10][..],                     // no 53
            &[0x54, 0x01, 0x10, 0x53, 0x00],             // nothing to write
            &[0x54, 0x00, 0x53, 0x01, 0xAA],             // empty offset
            &[0x54, 0x04, 0, 0, 0, 0, 0x53, 0x01, 0xAA], // four offset bytes
            &[0x53, 0x01, 0xAA, 0x54, 0x01, 0x10],       // wrong order
            &[0x54, 0x01, 0x10, 0x53, 0x01, 0xAA, 0x00], // trailing byte
            &[0x54, 0x01, 0x10, 0x53, 0x02, 0xAA],       // short
        ] {
            assert_eq!(offset_and_bytes(bad), None, "{bad:02X?}");
        }
    }
}

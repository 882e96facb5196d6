//! How READ BINARY and UPDATE BINARY name a file and an offset (spec §6.2, §6.3), shared by
//! both: the even INS addresses the current EF with a 15-bit offset in P1-P2, or a file by
//! short EF identifier with an 8-bit offset in P2; the odd INS names the file by FID in P1-P2
//! (`0000`: the current EF) and carries the offset in data object `54`.

use crate::dispatch::Ctx;
use crate::response::Status;

/// P1 bit 8: short EF identifier in P1 bits 5-1.
const BY_SFI: u8 = 0x80;
/// P1 bits 7-6, which must be zero when P1 carries an SFI.
const SFI_RFU: u8 = 0x60;
const SFI_MASK: u8 = 0x1F;
/// The offset bits of P1-P2 when P1 bit 8 is clear.
const OFFSET_MASK: u16 = 0x7FFF;
/// P1-P2 of the odd INS that means "the current EF".
const CURRENT_EF: u16 = 0x0000;

/// The file and offset of an even-INS command (`B0`, `D6`): P1 bits (6A86), then the file
/// (6A82 for an unknown SFI, 6986 without a current EF). A file named by SFI becomes the
/// current EF as soon as it is found, whatever the outcome of the command.
pub(crate) fn even(ctx: &mut Ctx<'_>, p1: u8, p2: u8) -> Result<(u16, usize), Status> {
    if p1 & BY_SFI != 0 {
        if p1 & SFI_RFU != 0 {
            return Err(Status::INCORRECT_P1P2);
        }
        let file = ctx
            .state()
            .files
            .by_sfi(p1 & SFI_MASK)
            .ok_or(Status::FILE_NOT_FOUND)?;
        ctx.session.app.current_ef = Some(file.fid);
        Ok((file.fid, usize::from(p2)))
    } else {
        let offset = u16::from_be_bytes([p1, p2]) & OFFSET_MASK;
        Ok((current_ef(ctx)?, usize::from(offset)))
    }
}

/// The file of an odd-INS command (`B1`, `D7`): the current EF for `0000` (6986 without one),
/// else the FID, which becomes the current EF (6A82 if the application has no such file).
pub(crate) fn odd(ctx: &mut Ctx<'_>, p1p2: u16) -> Result<u16, Status> {
    match p1p2 {
        CURRENT_EF => current_ef(ctx),
        fid => {
            let file = ctx
                .state()
                .files
                .by_fid(fid)
                .ok_or(Status::FILE_NOT_FOUND)?;
            ctx.session.app.current_ef = Some(file.fid);
            Ok(file.fid)
        }
    }
}

/// The current EF, or 6986.
pub(crate) fn current_ef(ctx: &Ctx<'_>) -> Result<u16, Status> {
    ctx.session.app.current_ef.ok_or(Status::NO_CURRENT_EF)
}

/// The bytes of file `fid` from `offset` on; 6B00 when the offset is past the current length.
pub(crate) fn from_offset<'c>(
    ctx: &'c Ctx<'_>,
    fid: u16,
    offset: usize,
) -> Result<&'c [u8], Status> {
    ctx.state()
        .files
        .content(fid)
        .ok_or(Status::FILE_NOT_FOUND)?
        .get(offset..)
        .ok_or(Status::WRONG_P1P2)
}

/// The whole current content of file `fid`.
pub(crate) fn whole<'c>(ctx: &'c Ctx<'_>, fid: u16) -> Result<&'c [u8], Status> {
    ctx.state().files.content(fid).ok_or(Status::FILE_NOT_FOUND)
}

/// The value of an offset object `54`: one to three big-endian bytes (0 to 16 777 215).
pub(crate) fn offset_value(value: &[u8]) -> Option<usize> {
    let offset = match *value {
        [a] => u32::from(a),
        [a, b] => u32::from(u16::from_be_bytes([a, b])),
        [a, b, c] => u32::from_be_bytes([0, a, b, c]),
        _ => return None,
    };
    usize::try_from(offset).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_in_one_to_three_bytes() {
        assert_eq!(offset_value(&[0x10]), Some(0x10));
        assert_eq!(offset_value(&[0x01, 0x00]), Some(0x100));
        assert_eq!(offset_value(&[0xFF, 0xFF, 0xFF]), Some(0xFF_FFFF));
        assert_eq!(offset_value(&[]), None);
        assert_eq!(offset_value(&[0, 0, 0, 1]), None);
    }
}

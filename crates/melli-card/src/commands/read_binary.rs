//! READ BINARY `00 B0` and `00 B1` (spec §6.2, ISO/IEC 7816-4 §11.3.3).
//!
//! `B0` addresses the current EF with a 15-bit offset in P1-P2, or a file by short EF
//! identifier with an 8-bit offset. `B1` names the file by FID in P1-P2 (`0000`: the current
//! EF) and carries the offset in data object `54`, so any offset up to 16 777 215 can be read;
//! the file bytes come back in data object `53`. Neither uses `61xx`: a read returns at most
//! Ne bytes, and the host reads on from where it stopped.

use super::addressing;
use crate::command::{Command, Le};
use crate::dispatch::{never, Ctx, Entry, Presence, Protection, Shape};
use crate::response::{Reply, Status};
use crate::spec::{ins, tag, MAX_RESPONSE_DATA};
use crate::tlv;

pub(crate) const ENTRY: Entry = Entry {
    ins: ins::READ_BINARY,
    check_shape: check_shape_even,
    before_selection: false,
    when_terminated: never,
    run: run_even,
};

pub(crate) const ENTRY_ODD: Entry = Entry {
    ins: ins::READ_BINARY_ODD,
    check_shape: check_shape_odd,
    before_selection: false,
    when_terminated: never,
    run: run_odd,
};

/// The smallest Ne of `B1`: room for `53 01` and one byte.
const MIN_NE_ODD: usize = 3;

/// No data, Le required.
fn check_shape_even(command: &Command<'_>) -> Result<(), Status> {
    Shape {
        data: Presence::Forbidden,
        le: Presence::Required,
    }
    .check(command)
}

/// Data (the offset object) and Le required, Ne at least 3.
fn check_shape_odd(command: &Command<'_>) -> Result<(), Status> {
    Shape {
        data: Presence::Required,
        le: Presence::Required,
    }
    .check(command)?;
    if command.ne() < MIN_NE_ODD {
        return Err(Status::WRONG_LENGTH);
    }
    Ok(())
}

/// P1 bits (6A86), the file (6A82 / 6986; an SFI makes it current as soon as it is found),
/// never-readable (6982), offset past the end (6B00), secure messaging, then the read.
fn run_even(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    let (fid, offset) = addressing::even(ctx, command.p1(), command.p2())?;
    readable(ctx, fid)?;
    addressing::from_offset(ctx, fid, offset)?;
    let command = ctx.secure_messaging(command, Protection::Either)?;
    read(
        addressing::from_offset(ctx, fid, offset)?,
        command.command().le,
        Encoding::Bare,
    )
}

/// The file (6986 / 6A82; a FID makes it current), never-readable (6982), secure messaging,
/// the offset object (6A80), offset past the end (6B00), then the read.
fn run_odd(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    let fid = addressing::odd(ctx, command.p1p2())?;
    readable(ctx, fid)?;
    let unwrapped = ctx.secure_messaging(command, Protection::Either)?;
    let command = unwrapped.command();
    let offset = offset_object(command.data).ok_or(Status::INCORRECT_DATA)?;
    read(
        addressing::from_offset(ctx, fid, offset)?,
        command.le,
        Encoding::Discretionary,
    )
}

/// 6982 for the file that is never read (DG3, §5), whatever the offset.
fn readable(ctx: &Ctx<'_>, fid: u16) -> Result<(), Status> {
    match ctx.state().files.by_fid(fid) {
        Some(file) if file.readable() => Ok(()),
        Some(_) => Err(Status::SECURITY_STATUS_NOT_SATISFIED),
        None => Err(Status::FILE_NOT_FOUND),
    }
}

/// `54 L offset`, the offset in one to three big-endian bytes.
fn offset_object(data: &[u8]) -> Option<usize> {
    addressing::offset_value(tlv::single(data, tag::OFFSET)?)
}

/// How the file bytes travel in the response.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// As they are (`B0`).
    Bare,
    /// Inside data object `53`, which counts against Ne too (`B1`).
    Discretionary,
}

/// Reads the file bytes `rest` (those from the offset on): at the end, 6282 and no data.
/// Otherwise as many bytes as Ne (and the largest response) allow, with 6282 when Le asked for
/// an exact count that the end of the file cut short.
fn read(rest: &[u8], le: Le, encoding: Encoding) -> Result<Reply, Status> {
    if rest.is_empty() {
        return Ok(Reply::warning(Vec::new(), Status::END_OF_FILE));
    }
    let ne = le.ne().unwrap_or(0);
    let budget = ne.min(MAX_RESPONSE_DATA);
    let (data, count) = match encoding {
        Encoding::Bare => {
            let count = rest.len().min(budget);
            (rest.get(..count).unwrap_or_default().to_vec(), count)
        }
        Encoding::Discretionary => {
            let count = fitting_in_object(rest.len(), budget).ok_or(Status::WRONG_LENGTH)?;
            let bytes = rest.get(..count).unwrap_or_default();
            (tlv::object(tag::DISCRETIONARY.into(), bytes), count)
        }
    };
    let cut_short = le.is_explicit() && count == rest.len() && data.len() < ne;
    Ok(if cut_short {
        Reply::warning(data, Status::END_OF_FILE)
    } else {
        Reply::data(data)
    })
}

/// The most of `available` bytes that fit, with their `53` tag and length, in `budget` bytes.
fn fitting_in_object(available: usize, budget: usize) -> Option<usize> {
    let mut count = available.min(budget.checked_sub(2)?);
    while tlv::header_len(count).saturating_add(count) > budget {
        count = count.checked_sub(1)?;
    }
    Some(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_fit_their_budget() {
        assert_eq!(fitting_in_object(10, 1), None);
        assert_eq!(fitting_in_object(10, 2), Some(0));
        assert_eq!(fitting_in_object(10, 256), Some(10));
        assert_eq!(fitting_in_object(1000, 129), Some(127));
        assert_eq!(fitting_in_object(1000, 130), Some(127));
        assert_eq!(fitting_in_object(1000, 131), Some(128));
        assert_eq!(fitting_in_object(1000, 256), Some(253));
        assert_eq!(fitting_in_object(100_000, 65_533), Some(65_529));
        for budget in 2..600 {
            let count = fitting_in_object(100_000, budget).unwrap();
            assert!(tlv::header_len(count) + count <= budget);
            assert!(tlv::header_len(count + 1) + count + 1 > budget);
        }
    }

    #[test]
    fn offsets_in_one_to_three_bytes() {
        assert_eq!(offset_object(&[0x54, 0x01, 0x10]), Some(0x10));
        assert_eq!(offset_object(&[0x54, 0x02, 0x01, 0x00]), Some(0x100));
        assert_eq!(
            offset_object(&[0x54, 0x03, 0xFF, 0xFF, 0xFF]),
            Some(0xFF_FFFF)
        );
        assert_eq!(offset_object(&[0x54, 0x00]), None);
        assert_eq!(offset_object(&[0x54, 0x04, 0, 0, 0, 1]), None);
        assert_eq!(offset_object(&[0x53, 0x01, 0x10]), None);
    }
}

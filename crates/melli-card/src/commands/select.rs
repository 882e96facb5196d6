//! SELECT `00 A4` (spec §6.1, ISO/IEC 7816-4 §11.2.2): the application by its AID, or one of
//! its elementary files by file identifier, answering the FCP template when asked.

use crate::command::Command;
use crate::dispatch::{always, Ctx, Entry, Presence, Protection, Shape};
use crate::files::FileSpec;
use crate::response::{Reply, Status};
use crate::spec::{ins, select, tag, AID};
use crate::tlv;

pub(crate) const ENTRY: Entry = Entry {
    ins: ins::SELECT,
    check_shape,
    before_selection: true,
    when_terminated: always,
    run,
};

/// FCP data objects (ISO/IEC 7816-4 §7.4.3, Table 12).
mod fcp {
    pub const DATA_LENGTH: u16 = 0x80;
    pub const FILE_SIZE: u16 = 0x81;
    pub const DESCRIPTOR: u16 = 0x82;
    pub const FILE_ID: u16 = 0x83;
    pub const DF_NAME: u16 = 0x84;
    /// Proprietary information, primitive: the card serial (version 1.1, §6.1).
    pub const SERIAL: u16 = crate::spec::tag::FCP_SERIAL as u16;
    pub const SFI: u16 = 0x88;
    pub const LIFECYCLE: u16 = 0x8A;
    /// File descriptor byte of a DF.
    pub const DF: u8 = 0x38;
    /// File descriptor byte of a working EF with transparent structure.
    pub const TRANSPARENT_EF: u8 = 0x01;
}

fn by_name(command: &Command<'_>) -> bool {
    command.p1() == select::P1_BY_NAME
}

fn by_fid(command: &Command<'_>) -> bool {
    matches!(command.p1(), select::P1_BY_FID | select::P1_EF_UNDER_DF)
}

/// Data required, Le optional; by FID, exactly two data bytes.
fn check_shape(command: &Command<'_>) -> Result<(), Status> {
    Shape {
        data: Presence::Required,
        le: Presence::Optional,
    }
    .check(command)?;
    if by_fid(command) && command.data.len() != 2 {
        return Err(Status::WRONG_LENGTH);
    }
    Ok(())
}

/// P1 `04` (by DF name), `00` or `02` (by FID); P2 `00` / `04` (FCP) or `0C` (no data). By
/// DF name the command is plain only; by FID it may be protected. A failing SELECT changes
/// nothing.
fn run(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    let p2_known = matches!(
        command.p2(),
        select::P2_FCI | select::P2_FCP | select::P2_NO_DATA
    );
    if !(by_name(command) || by_fid(command)) || !p2_known {
        return Err(Status::INCORRECT_P1P2);
    }
    let fcp = if by_name(command) {
        ctx.secure_messaging(command, Protection::PlainOnly)?;
        select_application(ctx, command.data)?
    } else {
        let command = ctx.secure_messaging(command, Protection::Either)?;
        select_file(ctx, command.command().data)?
    };
    Ok(if command.p2() == select::P2_NO_DATA {
        Reply::ok()
    } else {
        Reply::data(fcp)
    })
}

/// The data must be the AID exactly (no partial names), else 6A82. Selecting it starts a
/// fresh card session (§2.2).
fn select_application(ctx: &mut Ctx<'_>, name: &[u8]) -> Result<Vec<u8>, Status> {
    if name != AID {
        return Err(Status::FILE_NOT_FOUND);
    }
    ctx.session.start_application();
    let state = ctx.state();
    // The serial rides in the FCP since version 1.1, so that a desk learns it with the
    // SELECT it sends anyway; a 1.0 card answers the FCP it always did.
    let serial = (state.spec_version >= select::SERIAL_IN_FCP_SINCE).then(|| state.serial.as_str());
    Ok(application_fcp(state.lifecycle.byte(), serial))
}

/// Before the application is selected no file can be found (6A82), nor can the MF (`3F00`)
/// or any FID the application lacks.
fn select_file(ctx: &mut Ctx<'_>, data: &[u8]) -> Result<Vec<u8>, Status> {
    let fid = <[u8; 2]>::try_from(data)
        .map(u16::from_be_bytes)
        .map_err(|_| Status::WRONG_LENGTH)?;
    if !ctx.session.app.selected {
        return Err(Status::FILE_NOT_FOUND);
    }
    let state = ctx.state();
    let file = state.files.by_fid(fid).ok_or(Status::FILE_NOT_FOUND)?;
    let length = state.files.content(fid).map_or(0, <[u8]>::len);
    let fcp = file_fcp(file, length, state.lifecycle.byte());
    ctx.session.app.current_ef = Some(fid);
    Ok(fcp)
}

/// `62 { 82 01 38; 84 AID; 85 serial; 8A LCS }`, without `85` on a 1.0 card (`serial` none).
fn application_fcp(lifecycle: u8, serial: Option<&str>) -> Vec<u8> {
    let mut inner = Vec::new();
    tlv::push(&mut inner, fcp::DESCRIPTOR, &[fcp::DF]);
    tlv::push(&mut inner, fcp::DF_NAME, &AID);
    if let Some(serial) = serial {
        tlv::push(&mut inner, fcp::SERIAL, serial.as_bytes());
    }
    tlv::push(&mut inner, fcp::LIFECYCLE, &[lifecycle]);
    tlv::object(tag::FCP.into(), &inner)
}

/// `62 { 80 02 current length; 81 02 maximum size; 82 01 01; 83 02 FID; 88 01 SFI; 8A LCS }`.
fn file_fcp(file: FileSpec, length: usize, lifecycle: u8) -> Vec<u8> {
    let two_bytes = |n: usize| u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes();
    let mut inner = Vec::new();
    tlv::push(&mut inner, fcp::DATA_LENGTH, &two_bytes(length));
    tlv::push(&mut inner, fcp::FILE_SIZE, &two_bytes(file.max_size));
    tlv::push(&mut inner, fcp::DESCRIPTOR, &[fcp::TRANSPARENT_EF]);
    tlv::push(&mut inner, fcp::FILE_ID, &file.fid.to_be_bytes());
    tlv::push(&mut inner, fcp::SFI, &[file.sfi()]);
    tlv::push(&mut inner, fcp::LIFECYCLE, &[lifecycle]);
    tlv::object(tag::FCP.into(), &inner)
}

//! GET DATA `00 CA P1-P2=tag` (spec §6.6): the card's public data objects.

use crate::biometric;
use crate::command::Command;
use crate::dispatch::{Ctx, Entry, Presence, Protection, Shape};
use crate::response::{Reply, Status};
use crate::spec::{data_object, ef, ins, MAX_COMMAND_DATA, MAX_RESPONSE_DATA};
use crate::state::CardState;
use crate::tlv;

pub(crate) const ENTRY: Entry = Entry {
    ins: ins::GET_DATA,
    check_shape,
    before_selection: false,
    when_terminated,
    run,
};

fn check_shape(command: &Command<'_>) -> Result<(), Status> {
    Shape {
        data: Presence::Forbidden,
        le: Presence::Optional,
    }
    .check(command)
}

/// A terminated card still tells its serial and its lifecycle state, nothing else (§7).
fn when_terminated(command: &Command<'_>) -> bool {
    matches!(command.p1p2(), data_object::SERIAL | data_object::LIFECYCLE)
}

/// The data objects GET DATA knows (§6.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DataObject {
    Serial,
    Lifecycle,
    SpecVersion,
    RetryCounters,
    ExtendedLengthInfo,
    BitGroup,
}

impl DataObject {
    fn from_tag(tag: u16) -> Option<DataObject> {
        Some(match tag {
            data_object::SERIAL => DataObject::Serial,
            data_object::LIFECYCLE => DataObject::Lifecycle,
            data_object::SPEC_VERSION => DataObject::SpecVersion,
            data_object::RETRY_COUNTERS => DataObject::RetryCounters,
            data_object::EXTENDED_LENGTH_INFO => DataObject::ExtendedLengthInfo,
            data_object::BIT_GROUP => DataObject::BitGroup,
            _ => return None,
        })
    }
}

/// Unknown tag (6A88), secure messaging, then the value. `DFxx` objects are returned bare
/// (value only); `7F66` and `7F61` as whole data objects.
fn run(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    let object = DataObject::from_tag(command.p1p2()).ok_or(Status::REFERENCE_NOT_FOUND)?;
    ctx.secure_messaging(command, Protection::Either)?;
    let state = ctx.state();
    let value = match object {
        DataObject::Serial => state.serial.as_str().as_bytes().to_vec(),
        DataObject::Lifecycle => vec![state.lifecycle.byte()],
        DataObject::SpecVersion => {
            let (major, minor) = state.spec_version;
            vec![major, minor]
        }
        DataObject::RetryCounters => vec![
            state.pin.tries_left,
            state.puk.tries_left,
            state.finger_tries_left,
        ],
        DataObject::ExtendedLengthInfo => extended_length_info(),
        DataObject::BitGroup => biometric_information_template(state)?,
    };
    Ok(Reply::data(value))
}

/// `7F66 { 02 02 <max command data per APDU>; 02 02 <max response data> }` (ISO/IEC 7816-4
/// §12.7.1; values of §4.3 and §4.4).
fn extended_length_info() -> Vec<u8> {
    const INTEGER: u16 = 0x02;
    let limit = |n: usize| u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes();
    let mut inner = Vec::new();
    tlv::push(&mut inner, INTEGER, &limit(MAX_COMMAND_DATA));
    tlv::push(&mut inner, INTEGER, &limit(MAX_RESPONSE_DATA));
    tlv::object(data_object::EXTENDED_LENGTH_INFO, &inner)
}

/// The biometric information template group `7F61` (ISO/IEC 7816-11) describing the enrolled
/// fingerprint, laid out as §11.3 gives it; 6A88 while DG3 holds no well-formed ISO/IEC
/// 19794-2 record (§11.1). The biometric subtype comes from the record's first view.
fn biometric_information_template(state: &CardState) -> Result<Vec<u8>, Status> {
    let record = state
        .files
        .content(ef::FINGERPRINT)
        .and_then(|bytes| biometric::parse_record(bytes).ok())
        .ok_or(Status::REFERENCE_NOT_FOUND)?;
    let mut header = Vec::new();
    tlv::push(&mut header, 0x81, &[0x08]); // biometric type: fingerprint
    tlv::push(&mut header, 0x82, &[record.biometric_subtype()]); // biometric subtype
    tlv::push(&mut header, 0x87, &[0x01, 0x01]); // format owner: ISO/IEC JTC 1 SC 37
    tlv::push(&mut header, 0x88, &[0x00, 0x02]); // format type: 19794-2 finger minutiae
    tlv::push(&mut header, 0x83, &[crate::spec::reference::FINGER]); // VERIFY P2
    let template = tlv::object(0x7F60, &tlv::object(0xA1, &header));
    let mut group = Vec::new();
    tlv::push(&mut group, 0x02, &[0x01]); // number of templates
    group.extend_from_slice(&template);
    Ok(tlv::object(data_object::BIT_GROUP, &group))
}

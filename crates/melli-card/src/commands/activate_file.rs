//! ACTIVATE FILE `0C 44 00 00` (spec §6.15): the last step of personalization. If the card
//! holds everything a holder's card needs, it becomes OPERATIONAL (saved before the answer),
//! answers under the secure channel one last time, and closes the channel. From then on no
//! file and no key can change (§7).

use crate::biometric;
use crate::command::Command;
use crate::dispatch::{
    never, require_lifecycle, require_p1p2_zero, Ctx, Entry, Presence, Protection, Shape,
};
use crate::response::{Reply, Status};
use crate::spec::{ef, ins};
use crate::state::{CardState, Lifecycle};

pub(crate) const ENTRY: Entry = Entry {
    ins: ins::ACTIVATE_FILE,
    check_shape,
    before_selection: false,
    when_terminated: never,
    run,
};

/// No data; Le ignored (the protected APDU always ends with Le `00`, §10.4).
fn check_shape(command: &Command<'_>) -> Result<(), Status> {
    Shape {
        data: Presence::Forbidden,
        le: Presence::Optional,
    }
    .check(command)
}

/// The files that must not be empty (DG5 is covered by the chip-authentication key, which the
/// card wrote into it).
const REQUIRED_FILES: [u16; 6] = [
    ef::IDENTITY,
    ef::PHOTO,
    ef::FINGERPRINT,
    ef::ADDRESS,
    ef::HOLDER_CERT,
    ef::SECURITY_OBJECT,
];

/// P1-P2 (6A86), protection required (6982), PERSONALIZING (6985), complete (6985); then
/// OPERATIONAL, saved; the channel closes after the protected answer.
fn run(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    require_p1p2_zero(command)?;
    ctx.secure_messaging(command, Protection::Required)?;
    require_lifecycle(ctx, Lifecycle::Personalizing)?;
    if !complete(ctx.state()) {
        return Err(Status::CONDITIONS_NOT_SATISFIED);
    }
    ctx.state_mut().lifecycle = Lifecycle::Operational;
    ctx.commit()?;
    ctx.close_channel_after_response();
    Ok(Reply::ok())
}

/// Personalization is complete (§6.15 step 5): DG1, DG2, DG3, DG4, DG6 and the security object
/// are not empty; DG3 is a well-formed ISO/IEC 19794-2 record (§11.1); keys `01` and `02`
/// exist and DG5 holds the SubjectPublicKeyInfo of key `02`; the PIN and the PUK are set; key
/// `03` and DG7 are both there or both absent.
pub(crate) fn complete(state: &CardState) -> bool {
    let non_empty = |fid| state.files.content(fid).is_some_and(|c| !c.is_empty());
    let files = REQUIRED_FILES.into_iter().all(non_empty);
    let finger = state
        .files
        .content(ef::FINGERPRINT)
        .is_some_and(|record| biometric::parse_record(record).is_ok());
    let keys = state.signing_key.is_some() && state.chip_auth_key.is_some();
    let dg5 = state.chip_auth_key.as_ref().is_some_and(|key| {
        crate::key_pairs::subject_public_key_info(key)
            .is_ok_and(|spki| state.files.content(ef::CHIP_AUTH_KEY) == Some(spki.as_slice()))
    });
    let references = state.pin.reference.is_some() && state.puk.reference.is_some();
    files && finger && keys && dg5 && references && online_identity_complete(state)
}

/// Version 1.1 (§6.15 step 5, §12.7): the authentication key `03` and DG7 both, or neither. A
/// host that knows only 1.0 personalizes neither and can still lock the card; a host that
/// began the online identity must finish it, so that no card is issued with a login key
/// without its certificate, or a certificate without its key.
fn online_identity_complete(state: &CardState) -> bool {
    let key = state.auth_key.is_some();
    let certificate = state
        .files
        .content(ef::AUTH_CERT)
        .is_some_and(|c| !c.is_empty());
    key == certificate
}

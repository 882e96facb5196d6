//! GENERATE ASYMMETRIC KEY PAIR `00 47` (spec §6.11): P1 `80` generates a P-256 key pair on
//! the card (under secure messaging, while PERSONALIZING) and P1 `81` reads its public key
//! (plain or protected, in any state but TERMINATED). Both answer the public key DO
//! `7F49 { 86 04 ‖ X ‖ Y }`; the private half never leaves the card (§8.6).
//!
//! Key `03`, the authentication key (§12.2), exists on a card of version 1.1 only; a 1.0 card
//! answers `6A88` for it as for any unknown reference.
//!
//! Generating key `02` also writes its SubjectPublicKeyInfo to EF `0105` (DG5, §5.5). A new
//! key replaces the old one, which is how a resumed personalization regenerates it; the key
//! (and the file) are saved before the answer goes out. A card told to commit
//! [`Fault::ForeignDg5`] (tests only) writes another key's SubjectPublicKeyInfo into DG5.

use crate::command::Command;
use crate::dispatch::{never, require_lifecycle, Ctx, Entry, Presence, Protection, Shape};
use crate::fault::Fault;
use crate::key_pairs;
use crate::response::{Reply, Status};
use crate::spec::{ef, ins, key_pair, reference};
use crate::state::{CardState, Lifecycle};

pub(crate) const ENTRY: Entry = Entry {
    ins: ins::GENERATE_ASYMMETRIC_KEY_PAIR,
    check_shape,
    before_selection: false,
    when_terminated: never,
    run,
};

/// No data; Le `00` (optional: without it the key waits behind `61xx`).
fn check_shape(command: &Command<'_>) -> Result<(), Status> {
    Shape {
        data: Presence::Forbidden,
        le: Presence::Optional,
    }
    .check(command)
}

/// The key pairs of the card (§8.5, §12.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyRef {
    Signing,
    ChipAuthentication,
    Authentication,
}

impl KeyRef {
    /// The key P2 names on this card: key `03` only on a card of version 1.1 or later.
    fn from_p2(p2: u8, state: &CardState) -> Option<KeyRef> {
        match p2 {
            reference::SIGNING_KEY => Some(KeyRef::Signing),
            reference::CHIP_AUTH_KEY => Some(KeyRef::ChipAuthentication),
            reference::AUTHENTICATION_KEY if state.has_online_identity() => {
                Some(KeyRef::Authentication)
            }
            _ => None,
        }
    }

    fn key(self, state: &CardState) -> Option<&p256::SecretKey> {
        match self {
            KeyRef::Signing => state.signing_key.as_ref(),
            KeyRef::ChipAuthentication => state.chip_auth_key.as_ref(),
            KeyRef::Authentication => state.auth_key.as_ref(),
        }
    }
}

/// P1 (6A86), P2 (6A88), then for `80`: protection required (6982), PERSONALIZING (6985),
/// generate; for `81`: secure messaging, the key exists (6A88), read.
fn run(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    let generate = match command.p1() {
        key_pair::P1_GENERATE => true,
        key_pair::P1_READ_PUBLIC_KEY => false,
        _ => return Err(Status::INCORRECT_P1P2),
    };
    let key_ref = KeyRef::from_p2(command.p2(), ctx.state()).ok_or(Status::REFERENCE_NOT_FOUND)?;
    if generate {
        ctx.secure_messaging(command, Protection::Required)?;
        require_lifecycle(ctx, Lifecycle::Personalizing)?;
        generate_key(ctx, key_ref)
    } else {
        ctx.secure_messaging(command, Protection::Either)?;
        let key = key_ref
            .key(ctx.state())
            .ok_or(Status::REFERENCE_NOT_FOUND)?;
        Ok(Reply::data(key_pairs::public_key_object(key)))
    }
}

/// A fresh key pair replaces the key `key_ref`; for the chip-authentication key, EF `0105`
/// becomes its SubjectPublicKeyInfo in the same update.
fn generate_key(ctx: &mut Ctx<'_>, key_ref: KeyRef) -> Result<Reply, Status> {
    let key = key_pairs::generate()?;
    let answer = key_pairs::public_key_object(&key);
    match key_ref {
        KeyRef::Signing => ctx.state_mut().signing_key = Some(key),
        KeyRef::Authentication => ctx.state_mut().auth_key = Some(key),
        KeyRef::ChipAuthentication => {
            let spki = match ctx.session.fault {
                // Testing (`--fault foreign-dg5`): DG5 gets a key this chip does not hold.
                Some(Fault::ForeignDg5) => {
                    key_pairs::subject_public_key_info(&key_pairs::generate()?)?
                }
                None => key_pairs::subject_public_key_info(&key)?,
            };
            let state = ctx.state_mut();
            state
                .files
                .set_content(ef::CHIP_AUTH_KEY, spki)
                .map_err(|_| Status::NO_PRECISE_DIAGNOSIS)?;
            state.chip_auth_key = Some(key);
        }
    }
    Ok(Reply::data(answer))
}

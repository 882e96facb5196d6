//! Try counters and the tearing-safe verification sequence of spec §8.3, shared by VERIFY,
//! CHANGE REFERENCE DATA, RESET RETRY COUNTER and TERMINATE DF (§6.8–§6.10, §6.16):
//!
//! 1. counter 0: 6983, compare nothing ([`not_blocked`]);
//! 2. malformed data: 6A80, counter unchanged ([`well_formed`]);
//! 3. decrement the counter and make it persistent — 6581 and compare nothing if that fails
//!    ([`consume_try`]); a PUK counter reaching 0 blocks the signing key in the same update;
//! 4. compare in constant time ([`matches`]);
//! 5. on a match, the caller restores the counter ([`restore`]) with its other changes in one
//!    atomic update; on a mismatch it answers `63Cx` with the counter of step 3.
//!
//! So the card never answers before a decremented counter is persistent, and pulling the card
//! after step 3 costs a try whatever the outcome.

use super::device_secret::HashedReference;
use super::dispatch::Ctx;
use super::response::Status;
use super::state::{CardState, ReferenceData, ReferenceRules, PIN_RULES, PUK_RULES};
use crate::spec::{pin, reference};
use crate::timing::{self, Work};

/// A try counter (§8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Counter {
    Pin,
    Puk,
    Finger,
}

impl Counter {
    /// Its value after a success: 3, 10 or 5.
    pub fn max(self) -> u8 {
        match self {
            Counter::Pin => pin::PIN_TRIES,
            Counter::Puk => pin::PUK_TRIES,
            Counter::Finger => pin::FINGER_TRIES,
        }
    }

    pub fn tries_left(self, state: &CardState) -> u8 {
        match self {
            Counter::Pin => state.pin.tries_left,
            Counter::Puk => state.puk.tries_left,
            Counter::Finger => state.finger_tries_left,
        }
    }

    fn set(self, state: &mut CardState, tries: u8) {
        match self {
            Counter::Pin => state.pin.tries_left = tries,
            Counter::Puk => state.puk.tries_left = tries,
            Counter::Finger => state.finger_tries_left = tries,
        }
    }
}

/// The reference data that travel as 16-byte blocks (§8.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reference {
    Pin,
    Puk,
}

impl Reference {
    pub fn rules(self) -> ReferenceRules {
        match self {
            Reference::Pin => PIN_RULES,
            Reference::Puk => PUK_RULES,
        }
    }

    /// Its reference byte (P2 of VERIFY, §8.1), which also separates PIN hashes from PUK
    /// hashes (§8.7).
    pub fn kind(self) -> u8 {
        match self {
            Reference::Pin => reference::PIN,
            Reference::Puk => reference::PUK,
        }
    }

    pub fn counter(self) -> Counter {
        match self {
            Reference::Pin => Counter::Pin,
            Reference::Puk => Counter::Puk,
        }
    }

    fn data(self, state: &CardState) -> &ReferenceData {
        match self {
            Reference::Pin => &state.pin,
            Reference::Puk => &state.puk,
        }
    }

    pub fn data_mut(self, state: &mut CardState) -> &mut ReferenceData {
        match self {
            Reference::Pin => &mut state.pin,
            Reference::Puk => &mut state.puk,
        }
    }
}

/// §8.3 step 1: 6983 when the counter is 0.
pub(super) fn not_blocked(ctx: &Ctx<'_>, counter: Counter) -> Result<(), Status> {
    if counter.tries_left(ctx.state()) == 0 {
        Err(Status::AUTHENTICATION_BLOCKED)
    } else {
        Ok(())
    }
}

/// §8.2, §8.3 step 2: 6A80 unless `block` is a valid block for `reference`.
pub(super) fn well_formed(reference: Reference, block: &[u8]) -> Result<(), Status> {
    if reference.rules().is_well_formed(block) {
        Ok(())
    } else {
        Err(Status::INCORRECT_DATA)
    }
}

/// §8.3 step 3: decrements the counter and saves it before anything is compared (6581, and
/// nothing compared, if the save fails). When the PUK counter reaches 0, the signing key is
/// blocked for good in the same update (§6.10, §8.1). Returns the tries left.
pub(super) fn consume_try(ctx: &mut Ctx<'_>, counter: Counter) -> Result<u8, Status> {
    let left = counter
        .tries_left(ctx.state())
        .checked_sub(1)
        .ok_or(Status::AUTHENTICATION_BLOCKED)?;
    let state = ctx.state_mut();
    counter.set(state, left);
    if counter == Counter::Puk && left == 0 {
        state.signing_key_blocked = true;
    }
    ctx.commit()?;
    Ok(left)
}

/// §8.3 step 4: is `block` the reference value? Its salted hash is compared with the stored
/// one in constant time (§8.7); a reference that was never set matches nothing.
pub(super) fn matches(state: &CardState, reference: Reference, block: &[u8]) -> bool {
    timing::note(Work {
        pin_checks: 1,
        ..Work::default()
    });
    reference
        .data(state)
        .reference
        .as_ref()
        .is_some_and(|hashed| hashed.matches(&state.device_secret, reference.kind(), block))
}

/// A reference value set from a (validated) block: hashed under a fresh salt, with the full
/// number of tries. A failing random generator is 6F00.
pub(super) fn new_reference(
    state: &CardState,
    reference: Reference,
    block: &[u8],
) -> Result<ReferenceData, Status> {
    let hashed = HashedReference::new(&state.device_secret, reference.kind(), block)
        .map_err(|_| Status::NO_PRECISE_DIAGNOSIS)?;
    Ok(ReferenceData {
        reference: Some(hashed),
        tries_left: reference.counter().max(),
    })
}

/// §8.3 step 5: the counter back to its maximum. The caller commits it together with the rest
/// of the success.
pub(super) fn restore(ctx: &mut Ctx<'_>, counter: Counter) {
    counter.set(ctx.state_mut(), counter.max());
}

/// The `63Cx` of a mismatch with `left` tries left.
pub(super) fn mismatch(left: u8) -> Status {
    Status::counter(left)
}

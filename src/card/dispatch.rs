//! The command dispatcher: the order in which the card checks a command (spec §4.5), the table
//! of implemented commands (§6), and the transaction that saves the persistent state before a
//! response goes out (§7).
//!
//! Order of checks, each stopping at the first failure:
//! 1. at least four header bytes, else 6700 (§4.2);
//! 2. CLA, else 6E00 (§4.1);
//! 3. INS, else 6D00 — the instructions the specification defines but this card does not
//!    implement yet (VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER, GENERATE ASYMMETRIC KEY
//!    PAIR, PERFORM SECURITY OPERATION, INTERNAL and MUTUAL AUTHENTICATE, UPDATE and ERASE
//!    BINARY, ACTIVATE FILE, TERMINATE DF) are simply not in [`COMMANDS`] yet;
//! 4. length encoding and the per-APDU data limit, else 6700 (§4.2, §4.3);
//! 5. command chaining: 6883 / 6A84, or 9000 for a chained APDU that is not the last (§4.3);
//! 6. the command's own length shape (data and Le present or not), else 6700;
//! 7. application selected, else 6985 (§2);
//! 8. P1-P2, else 6A86 / 6B00;
//! 9. secure messaging (§10);
//! 10. then the command itself: access and lifecycle state, then its data.

use zeroize::Zeroizing;

use super::chain::{self, Outcome};
use super::command::{decode_body, Class, Command, Header, Le};
use super::commands::{get_challenge, get_data, get_response, read_binary, select};
use super::response::{deliver, Reply, Response, Status};
use super::session::Session;
use super::state::{CardState, Lifecycle};
use super::storage::Persist;
use crate::spec::MAX_COMMAND_DATA;

/// Whether a part of the command APDU must be there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Presence {
    Forbidden,
    Optional,
    Required,
}

/// The command data and Le a command accepts (which of the ISO/IEC 7816-4 cases), checked on
/// the whole command after chaining; a mismatch is 6700.
#[derive(Clone, Copy, Debug)]
pub(super) struct Shape {
    pub data: Presence,
    pub le: Presence,
}

impl Shape {
    fn check(self, command: &Command<'_>) -> Result<(), Status> {
        let present = |presence, there: bool| match presence {
            Presence::Forbidden => !there,
            Presence::Optional => true,
            Presence::Required => there,
        };
        let data_ok = present(self.data, !command.data.is_empty());
        let le_ok = present(self.le, command.le != Le::Absent);
        if data_ok && le_ok {
            Ok(())
        } else {
            Err(Status::WRONG_LENGTH)
        }
    }
}

/// One implemented command: how the dispatcher checks it and the function that carries it out.
pub(super) struct Entry {
    pub ins: u8,
    pub shape: Shape,
    /// Usable before the application is selected (§2: SELECT, GET CHALLENGE, GET RESPONSE).
    pub before_selection: bool,
    /// The P1-P2 check (6A86 / 6B00), made before secure messaging and before any state is
    /// looked at. Values that name things (a tag, a file) are judged later, by `run`.
    pub check_params: fn(&Command<'_>) -> Result<(), Status>,
    /// Carries the command out: access and state checks, then the data.
    pub run: fn(&mut Ctx<'_>, &Command<'_>) -> Result<Reply, Status>,
}

/// Every instruction the card implements (§6).
const COMMANDS: [&Entry; 6] = [
    &select::ENTRY,
    &read_binary::ENTRY,
    &read_binary::ENTRY_ODD,
    &get_data::ENTRY,
    &get_challenge::ENTRY,
    &get_response::ENTRY,
];

fn lookup(ins: u8) -> Option<&'static Entry> {
    COMMANDS.into_iter().find(|entry| entry.ins == ins)
}

/// `check_params` for commands whose P1-P2 carry a value judged by the command itself.
pub(super) fn any_params(_: &Command<'_>) -> Result<(), Status> {
    Ok(())
}

/// `check_params` for commands whose P1-P2 must be `0000`.
pub(super) fn params_zero(command: &Command<'_>) -> Result<(), Status> {
    if command.p1p2() == 0 {
        Ok(())
    } else {
        Err(Status::INCORRECT_P1P2)
    }
}

/// What a command sees of the card while it runs.
pub(super) struct Ctx<'a> {
    state: &'a mut CardState,
    /// The persistent state as it was before the command first asked to change it.
    backup: Option<CardState>,
    pub session: &'a mut Session,
    /// Response data the previous command left undelivered (§4.4); only GET RESPONSE uses
    /// them, and they are gone after this command either way.
    pub previous_response: Option<Vec<u8>>,
}

impl Ctx<'_> {
    pub fn state(&self) -> &CardState {
        self.state
    }

    /// The persistent state, to change it. After the command, the card saves the state before
    /// answering; if the save fails, the card goes back to the state (and session) it had
    /// before the command and answers 6581.
    #[allow(dead_code)] // First used by MUTUAL AUTHENTICATE (BLANK → PERSONALIZING, §6.14).
    pub fn state_mut(&mut self) -> &mut CardState {
        if self.backup.is_none() {
            self.backup = Some(self.state.clone());
        }
        self.state
    }

    /// 6985 on a terminated card, for the commands it no longer answers (§5).
    pub fn refuse_if_terminated(&self) -> Result<(), Status> {
        if self.state.lifecycle == Lifecycle::Terminated {
            Err(Status::CONDITIONS_NOT_SATISFIED)
        } else {
            Ok(())
        }
    }
}

/// Processes one command APDU; never panics, always answers with at least a status word.
pub(super) fn process(
    state: &mut CardState,
    session: &mut Session,
    store: &mut dyn Persist,
    apdu: &[u8],
) -> Response {
    // What the previous command left behind is for this command only (§4.3, §4.4, §6.7).
    let previous_response = session.pending_response.take();
    let open_chain = session.chain.take();
    // MUTUAL AUTHENTICATE (§6.14) will claim the challenge here; any other command clears it.
    session.challenge = None;
    let card = Card {
        state,
        session,
        store,
    };
    card.execute(apdu, previous_response, open_chain)
        .unwrap_or_else(Response::status)
}

/// The parts of the card a command may touch.
struct Card<'a> {
    state: &'a mut CardState,
    session: &'a mut Session,
    store: &'a mut dyn Persist,
}

impl Card<'_> {
    fn execute(
        self,
        apdu: &[u8],
        previous_response: Option<Vec<u8>>,
        open_chain: Option<chain::Chain>,
    ) -> Result<Response, Status> {
        let (header, body) = Header::split(apdu).ok_or(Status::WRONG_LENGTH)?;
        let class = Class::decode(header.cla).ok_or(Status::CLA_NOT_SUPPORTED)?;
        let entry = lookup(header.ins).ok_or(Status::INS_NOT_SUPPORTED)?;
        let (data, le) = decode_body(body).ok_or(Status::WRONG_LENGTH)?;
        if data.len() > MAX_COMMAND_DATA {
            return Err(Status::WRONG_LENGTH);
        }
        let apdu = Command {
            header,
            class,
            data,
            le,
        };

        let chained: Zeroizing<Vec<u8>>;
        let command = match chain::accept(open_chain, &apdu)? {
            Outcome::Single => apdu,
            Outcome::Continue(chain) => {
                self.session.chain = Some(chain);
                return Ok(Response::status(Status::OK));
            }
            Outcome::Complete(data) => {
                chained = data;
                apdu.with_data(&chained)
            }
        };

        entry.shape.check(&command)?;
        if !self.session.selected && !entry.before_selection {
            return Err(Status::CONDITIONS_NOT_SATISFIED);
        }
        (entry.check_params)(&command)?;
        if command.class.secure_messaging {
            // No secure channel can be open yet: MUTUAL AUTHENTICATE (§10) is not implemented.
            return Err(Status::SECURITY_STATUS_NOT_SATISFIED);
        }

        let ne = command.ne();
        let session = &mut *self.session;
        let reply = transaction(self.state, session, self.store, previous_response, |ctx| {
            (entry.run)(ctx, &command)
        })?;
        Ok(deliver(reply, ne, &mut session.pending_response))
    }
}

/// Runs a command and, if it changed the persistent state, saves the state before the response
/// goes out (§7). A failed save restores the state and session as they were and answers 6581.
fn transaction(
    state: &mut CardState,
    session: &mut Session,
    store: &mut dyn Persist,
    previous_response: Option<Vec<u8>>,
    run: impl FnOnce(&mut Ctx<'_>) -> Result<Reply, Status>,
) -> Result<Reply, Status> {
    let session_before = session.clone();
    let mut ctx = Ctx {
        state: &mut *state,
        backup: None,
        session: &mut *session,
        previous_response,
    };
    let result = run(&mut ctx);
    if let Some(before) = ctx.backup {
        if store.save(state).is_err() {
            *state = before;
            *session = session_before;
            return Err(Status::MEMORY_FAILURE);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::keys::StaticKeys;
    use crate::card::state::Serial;
    use crate::card::storage::SaveFailed;

    /// Counts saves; fails them when told to.
    #[derive(Default)]
    struct TestStore {
        saves: usize,
        fail: bool,
    }

    impl Persist for TestStore {
        fn save(&mut self, _: &CardState) -> Result<(), SaveFailed> {
            self.saves += 1;
            if self.fail {
                Err(SaveFailed)
            } else {
                Ok(())
            }
        }
    }

    fn blank() -> CardState {
        let serial = Serial::parse("T1").unwrap();
        let keys = StaticKeys::derive(&[0; 16], &serial);
        CardState::blank(serial, keys)
    }

    fn change_lifecycle(ctx: &mut Ctx<'_>) -> Result<Reply, Status> {
        ctx.session.current_ef = Some(0x0101);
        ctx.state_mut().lifecycle = Lifecycle::Personalizing;
        Ok(Reply::ok())
    }

    #[test]
    fn a_change_is_saved_before_the_answer() {
        let (mut state, mut session, mut store) =
            (blank(), Session::default(), TestStore::default());
        let reply = transaction(&mut state, &mut session, &mut store, None, change_lifecycle);
        assert_eq!(reply, Ok(Reply::ok()));
        assert_eq!(store.saves, 1);
        assert_eq!(state.lifecycle, Lifecycle::Personalizing);
        assert_eq!(session.current_ef, Some(0x0101));
    }

    #[test]
    fn a_failed_save_restores_everything_and_answers_6581() {
        let (mut state, mut session) = (blank(), Session::default());
        let mut store = TestStore {
            fail: true,
            ..TestStore::default()
        };
        let reply = transaction(&mut state, &mut session, &mut store, None, change_lifecycle);
        assert_eq!(reply, Err(Status::MEMORY_FAILURE));
        assert_eq!(state.lifecycle, Lifecycle::Blank);
        assert_eq!(session.current_ef, None);
    }

    #[test]
    fn an_error_after_a_change_still_saves() {
        let (mut state, mut session, mut store) =
            (blank(), Session::default(), TestStore::default());
        let reply = transaction(&mut state, &mut session, &mut store, None, |ctx| {
            ctx.state_mut().pin.tries_left = 2;
            Err(Status(0x63C2))
        });
        assert_eq!(reply, Err(Status(0x63C2)));
        assert_eq!(store.saves, 1);
        assert_eq!(state.pin.tries_left, 2);
    }

    #[test]
    fn reads_never_save() {
        let (mut state, mut session, mut store) =
            (blank(), Session::default(), TestStore::default());
        for apdu in [
            "00A4040C07F04D454C4C4901",
            "00A4000C020101",
            "00B0000000",
            "00CADF0100",
            "00CADF0400",
            "0084000010",
            "00C0000000",
            "80CA000000",
        ] {
            process(
                &mut state,
                &mut session,
                &mut store,
                &hex::decode(apdu).unwrap(),
            );
        }
        assert_eq!(store.saves, 0);
    }

    #[test]
    fn the_table_has_one_entry_per_instruction() {
        for (i, a) in COMMANDS.iter().enumerate() {
            for b in COMMANDS.iter().skip(i + 1) {
                assert_ne!(a.ins, b.ins);
            }
        }
    }
}

//! The command dispatcher: the order in which the card checks every APDU (spec §4.6), the
//! table of implemented commands (§6), and the transaction that saves the persistent state
//! before a response goes out (§4.5 `6581`, §7).
//!
//! On receipt, pending response data are discarded unless the INS is GET RESPONSE, and the
//! stored challenge is cleared unless it is MUTUAL AUTHENTICATE. Then, each check stopping at
//! the first failure:
//! 0. at least four header bytes, else 6700;
//! 1. CLA, else 6E00 (§4.1);
//! 2. INS, else 6D00 — the instructions the specification defines but this card does not
//!    implement yet (VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER, GENERATE ASYMMETRIC KEY
//!    PAIR, PERFORM SECURITY OPERATION, INTERNAL and MUTUAL AUTHENTICATE, UPDATE and ERASE
//!    BINARY, ACTIVATE FILE, TERMINATE DF) are simply not in [`COMMANDS`] yet;
//! 3. length: the encoding and the 1024-byte limit (6700), chaining (9000 for a non-last APDU,
//!    6883, 6A84), then the command's own data and Le rules (6700; for a protected command
//!    these come after unwrapping);
//! 4. application selected, and a TERMINATED card's short list of commands (6985);
//! 5. to 8. in the command's own module: P1-P2 and addressing, secure messaging
//!    ([`Ctx::secure_messaging`]), access and state, then the data and the operation.

use super::chain::{self, Outcome};
use super::command::{decode_body, Class, Command, Header, Le};
use super::commands::{get_challenge, get_data, get_response, read_binary, select};
use super::response::{deliver, Reply, Response, Status};
use super::session::Session;
use super::state::{CardState, Lifecycle};
use super::storage::Persist;
use crate::spec::{ins, MAX_COMMAND_DATA};

/// Whether a part of the command APDU must be there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Presence {
    Forbidden,
    Optional,
    Required,
}

/// Which command data and Le a command accepts: which of the ISO/IEC 7816-4 cases (§4.2).
#[derive(Clone, Copy, Debug)]
pub(super) struct Shape {
    pub data: Presence,
    pub le: Presence,
}

impl Shape {
    /// 6700 unless the command has this shape.
    pub fn check(self, command: &Command<'_>) -> Result<(), Status> {
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

/// How a command may travel (§6, column "Secure messaging").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Protection {
    /// Plain only: with CLA `0C`, 6A81 (and the channel closes).
    PlainOnly,
    /// Plain or protected.
    Either,
}

/// One implemented command: how the dispatcher checks it and the function that carries it out.
pub(super) struct Entry {
    pub ins: u8,
    /// §4.6 step 3(d): the command's own data and Le rules (6700).
    pub check_shape: fn(&Command<'_>) -> Result<(), Status>,
    /// §4.6 step 4: usable before the application is selected (§2.2).
    pub before_selection: bool,
    /// §4.6 step 4: usable on a TERMINATED card (§7).
    pub when_terminated: fn(&Command<'_>) -> bool,
    /// §4.6 steps 5 to 8, in the order the command's section gives.
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

/// `when_terminated` of the commands a terminated card still answers.
pub(super) fn always(_: &Command<'_>) -> bool {
    true
}

/// `when_terminated` of the commands a terminated card refuses.
pub(super) fn never(_: &Command<'_>) -> bool {
    false
}

/// P1-P2 must be `0000`, else 6A86.
pub(super) fn require_p1p2_zero(command: &Command<'_>) -> Result<(), Status> {
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
}

impl Ctx<'_> {
    pub fn state(&self) -> &CardState {
        self.state
    }

    /// The persistent state, to change it. After the command, the card saves the state before
    /// answering; if the save fails, the card goes back to the state (and application session)
    /// it had before the command and answers 6581.
    #[allow(dead_code)] // First used by MUTUAL AUTHENTICATE (BLANK → PERSONALIZING, §6.14).
    pub fn state_mut(&mut self) -> &mut CardState {
        if self.backup.is_none() {
            self.backup = Some(self.state.clone());
        }
        self.state
    }

    /// §4.6 step 6, secure messaging (§10.6). A plain command passes. A protected command is
    /// refused with 6A81 if the command is plain-only, else with 6988: no secure channel can be
    /// open yet, since MUTUAL AUTHENTICATE (§6.14) is not implemented.
    pub fn secure_messaging(
        &mut self,
        command: &Command<'_>,
        protection: Protection,
    ) -> Result<(), Status> {
        if !command.class.secure_messaging {
            return Ok(());
        }
        Err(match protection {
            Protection::PlainOnly => Status::FUNCTION_NOT_SUPPORTED,
            Protection::Either => Status::SM_DATA_INCORRECT,
        })
    }
}

/// Processes one command APDU; never panics, always answers with at least a status word.
pub(super) fn process(
    state: &mut CardState,
    session: &mut Session,
    store: &mut dyn Persist,
    apdu: &[u8],
) -> Response {
    let instruction = apdu.get(1).copied();
    if instruction != Some(ins::GET_RESPONSE) {
        session.pending_response = None;
    }
    if instruction != Some(ins::MUTUAL_AUTHENTICATE) {
        session.challenge = None;
    }
    // An open chain survives only as the chain's next APDU (§4.3): any error discards it.
    let open_chain = session.chain.take();
    let card = Card {
        state,
        session,
        store,
    };
    card.execute(apdu, open_chain)
        .unwrap_or_else(Response::status)
}

/// The parts of the card a command may touch.
struct Card<'a> {
    state: &'a mut CardState,
    session: &'a mut Session,
    store: &'a mut dyn Persist,
}

impl Card<'_> {
    fn execute(self, apdu: &[u8], open_chain: Option<chain::Chain>) -> Result<Response, Status> {
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

        let chained;
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
        if !command.class.secure_messaging {
            (entry.check_shape)(&command)?;
        }

        if !self.session.app.selected && !entry.before_selection {
            return Err(Status::CONDITIONS_NOT_SATISFIED);
        }
        if self.state.lifecycle == Lifecycle::Terminated && !(entry.when_terminated)(&command) {
            return Err(Status::CONDITIONS_NOT_SATISFIED);
        }

        let ne = command.ne();
        let session = &mut *self.session;
        let reply = transaction(self.state, session, self.store, |ctx| {
            (entry.run)(ctx, &command)
        })?;
        Ok(deliver(reply, ne, &mut session.pending_response))
    }
}

/// Runs a command and, if it changed the persistent state, saves the state before the response
/// goes out (§7). A failed save restores the state and the application session as they were
/// and answers 6581.
fn transaction(
    state: &mut CardState,
    session: &mut Session,
    store: &mut dyn Persist,
    run: impl FnOnce(&mut Ctx<'_>) -> Result<Reply, Status>,
) -> Result<Reply, Status> {
    let app_before = session.app.clone();
    let mut ctx = Ctx {
        state: &mut *state,
        backup: None,
        session: &mut *session,
    };
    let result = run(&mut ctx);
    if let Some(before) = ctx.backup {
        if store.save(state).is_err() {
            *state = before;
            session.app = app_before;
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
        ctx.session.app.current_ef = Some(0x0101);
        ctx.state_mut().lifecycle = Lifecycle::Personalizing;
        Ok(Reply::ok())
    }

    #[test]
    fn a_change_is_saved_before_the_answer() {
        let (mut state, mut session, mut store) =
            (blank(), Session::default(), TestStore::default());
        let reply = transaction(&mut state, &mut session, &mut store, change_lifecycle);
        assert_eq!(reply, Ok(Reply::ok()));
        assert_eq!(store.saves, 1);
        assert_eq!(state.lifecycle, Lifecycle::Personalizing);
        assert_eq!(session.app.current_ef, Some(0x0101));
    }

    #[test]
    fn a_failed_save_restores_everything_and_answers_6581() {
        let (mut state, mut session) = (blank(), Session::default());
        let mut store = TestStore {
            fail: true,
            ..TestStore::default()
        };
        let reply = transaction(&mut state, &mut session, &mut store, change_lifecycle);
        assert_eq!(reply, Err(Status::MEMORY_FAILURE));
        assert_eq!(state.lifecycle, Lifecycle::Blank);
        assert_eq!(session.app.current_ef, None);
    }

    #[test]
    fn an_error_after_a_change_still_saves() {
        let (mut state, mut session, mut store) =
            (blank(), Session::default(), TestStore::default());
        let reply = transaction(&mut state, &mut session, &mut store, |ctx| {
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

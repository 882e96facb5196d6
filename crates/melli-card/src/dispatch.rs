//! The command dispatcher: the order in which the card checks every APDU (spec §4.6), the
//! table of implemented commands (§6), secure messaging around them (§10.6), and the
//! transaction that saves the persistent state before a response goes out (§4.5 `6581`, §7).
//!
//! On receipt, pending response data are discarded unless the INS is GET RESPONSE, and the
//! stored challenge is cleared unless it is MUTUAL AUTHENTICATE; a MUTUAL AUTHENTICATE (not a
//! non-last chain link) closes any open channel and consumes the challenge, whatever its
//! outcome. Then, each check stopping at the first failure:
//! 0. at least four header bytes, else 6700;
//! 1. CLA, else 6E00 (§4.1);
//! 2. INS, else 6D00 (§6: the 18 instructions of [`COMMANDS`]);
//! 3. length: the encoding and the 1024-byte limit (6700), chaining (9000 for a non-last APDU,
//!    6883, 6A84), then the command's own data and Le rules (6700; for a protected command
//!    these come after unwrapping);
//! 4. application selected, and a TERMINATED card's short list of commands (6985);
//! 5. to 8. in the command's own module: P1-P2 and addressing, secure messaging
//!    ([`Ctx::secure_messaging`]), access and state, then the data and the operation.
//!
//! Secure messaging (§4.6 "Rules for protected commands", §10.6): once a protected command is
//! unwrapped, whatever it answers — data, a warning or an error — goes back protected with
//! outer `9000`. Any other answer to a protected APDU is a plain status word, and every plain
//! status word other than `9000` (a non-last chain link) closes the channel.

use super::chain::{self, Outcome};
use super::command::{decode_body, Class, Command, Header, Le};
use super::commands::{
    activate_file, change_reference_data, erase_binary, generate_key_pair, get_challenge, get_data,
    get_response, internal_authenticate, mutual_authenticate, perform_security_operation,
    read_binary, reset_retry_counter, select, terminate_df, update_binary, verify,
};
use super::response::{deliver, Reply, Response, Status};
use super::secure_messaging::Unwrapped;
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
    /// Protected only: plain, 6982 (an open channel stays open).
    Required,
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

/// Every instruction the card implements (§6): 18 instructions, 17 entries and the two READ
/// BINARY and two UPDATE BINARY forms.
const COMMANDS: [&Entry; 18] = [
    &select::ENTRY,
    &read_binary::ENTRY,
    &read_binary::ENTRY_ODD,
    &update_binary::ENTRY,
    &update_binary::ENTRY_ODD,
    &erase_binary::ENTRY,
    &get_data::ENTRY,
    &get_challenge::ENTRY,
    &verify::ENTRY,
    &change_reference_data::ENTRY,
    &reset_retry_counter::ENTRY,
    &generate_key_pair::ENTRY,
    &perform_security_operation::ENTRY,
    &internal_authenticate::ENTRY,
    &mutual_authenticate::ENTRY,
    &activate_file::ENTRY,
    &terminate_df::ENTRY,
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

/// 6985 unless the card is in `lifecycle` (§7.3).
pub(super) fn require_lifecycle(ctx: &Ctx<'_>, lifecycle: Lifecycle) -> Result<(), Status> {
    if ctx.state().lifecycle == lifecycle {
        Ok(())
    } else {
        Err(Status::CONDITIONS_NOT_SATISFIED)
    }
}

/// What secure messaging did to the command being run.
#[derive(Clone, Copy, Debug, Default)]
struct SmOutcome {
    /// The command was unwrapped: its answer, whatever it is, goes back protected.
    protected: bool,
    /// Close the channel once the protected answer is built (ACTIVATE FILE, §6.15).
    close_after_response: bool,
}

/// What a command sees of the card while it runs.
pub(super) struct Ctx<'a> {
    state: &'a mut CardState,
    /// The persistent state as it was before the command first asked to change it (since the
    /// last [`Ctx::commit`]).
    backup: Option<CardState>,
    store: &'a mut dyn Persist,
    pub session: &'a mut Session,
    /// The command's step-3(d) rules, applied to a protected command once it is unwrapped.
    shape: fn(&Command<'_>) -> Result<(), Status>,
    sm: SmOutcome,
}

impl Ctx<'_> {
    pub fn state(&self) -> &CardState {
        self.state
    }

    /// The persistent state, to change it. The change is saved by the next [`Ctx::commit`],
    /// or after the command, before the answer goes out; if that save fails, the card goes
    /// back to the state it had before the change (and after the command also to the
    /// application session it had before) and answers 6581.
    pub fn state_mut(&mut self) -> &mut CardState {
        if self.backup.is_none() {
            self.backup = Some(self.state.clone());
        }
        self.state
    }

    /// Saves the changes made so far, now (§8.3 step 3: a decremented try counter is
    /// persistent before anything is compared). If the save fails, the changes since the last
    /// commit are undone and the answer is 6581.
    pub fn commit(&mut self) -> Result<(), Status> {
        if let Some(before) = self.backup.take() {
            if self.store.save(self.state).is_err() {
                *self.state = before;
                return Err(Status::MEMORY_FAILURE);
            }
        }
        Ok(())
    }

    /// §4.6 step 6, secure messaging (§10.6), giving the command to carry out.
    ///
    /// A plain command passes as it is, except that a command requiring protection answers
    /// 6982. A protected one: 6A81 if the command is plain-only; 6988 with no channel open;
    /// then the channel unwraps it (6987, 6988) and the command's own shape rules are applied
    /// to the result (a protected 6700). Every error before the unwrap is answered plain and
    /// closes the channel; from the unwrap on, every answer is protected.
    pub fn secure_messaging<'c>(
        &mut self,
        command: &Command<'c>,
        protection: Protection,
    ) -> Result<Unwrapped<'c>, Status> {
        if !command.class.secure_messaging {
            return match protection {
                Protection::Required => Err(Status::SECURITY_STATUS_NOT_SATISFIED),
                Protection::PlainOnly | Protection::Either => Ok(Unwrapped::plain(command)),
            };
        }
        if protection == Protection::PlainOnly {
            return Err(Status::FUNCTION_NOT_SUPPORTED);
        }
        let channel = self
            .session
            .channel
            .as_mut()
            .ok_or(Status::SM_DATA_INCORRECT)?;
        let unwrapped = channel.unwrap_command(command)?;
        self.sm.protected = true;
        (self.shape)(&unwrapped.command())?;
        Ok(unwrapped)
    }

    /// Closes the secure channel once the protected response to this command is built
    /// (ACTIVATE FILE, §6.15).
    pub fn close_channel_after_response(&mut self) {
        self.sm.close_after_response = true;
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
    let class = apdu.first().copied().and_then(Class::decode);
    if instruction != Some(ins::GET_RESPONSE) {
        session.pending_response = None;
    }
    if instruction != Some(ins::MUTUAL_AUTHENTICATE) {
        session.challenge = None;
    }
    // §6.14 step 1: a MUTUAL AUTHENTICATE closes the channel before any check.
    let mutual_authenticate =
        instruction == Some(ins::MUTUAL_AUTHENTICATE) && !class.is_some_and(|c| c.chaining);
    if mutual_authenticate {
        session.channel = None;
    }
    // An open chain survives only as the chain's next APDU (§4.3): any error discards it.
    let open_chain = session.chain.take();
    let card = Card {
        state,
        session: &mut *session,
        store,
    };
    let answer = card.execute(apdu, open_chain);
    if mutual_authenticate {
        session.challenge = None;
    }
    match answer {
        Ok(Answer::Protected(response)) => response,
        Ok(Answer::Plain(response)) => {
            if class.is_some_and(|c| c.secure_messaging) && response.status != Status::OK {
                session.channel = None;
            }
            response
        }
        Err(status) => {
            if class.is_some_and(|c| c.secure_messaging) {
                session.channel = None;
            }
            Response::status(status)
        }
    }
}

/// A response, and whether secure messaging protected it.
enum Answer {
    Plain(Response),
    Protected(Response),
}

/// The parts of the card a command may touch.
struct Card<'a> {
    state: &'a mut CardState,
    session: &'a mut Session,
    store: &'a mut dyn Persist,
}

impl Card<'_> {
    fn execute(self, apdu: &[u8], open_chain: Option<chain::Chain>) -> Result<Answer, Status> {
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
                return Ok(Answer::Plain(Response::status(Status::OK)));
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

        let session = &mut *self.session;
        let (result, sm) = transaction(self.state, session, self.store, entry.check_shape, |ctx| {
            (entry.run)(ctx, &command)
        });
        let ne = command.ne();
        if sm.protected {
            let protected = protect(session, header.ins, result);
            if sm.close_after_response {
                session.channel = None;
            }
            let reply = Reply::data(protected?);
            return Ok(Answer::Protected(deliver(
                reply,
                ne,
                &mut session.pending_response,
            )));
        }
        if command.class.secure_messaging {
            // A protected command is either unwrapped or refused before it: an answer that is
            // neither would travel unprotected. Defence in depth; no handler does this.
            result?;
            return Err(Status::NO_PRECISE_DIAGNOSIS);
        }
        Ok(Answer::Plain(deliver(
            result?,
            ne,
            &mut session.pending_response,
        )))
    }
}

/// Protects the answer of an unwrapped command with the open channel (§10.5): the whole reply
/// data (never `61xx` inside) and its status word, or the error in DO99.
fn protect(
    session: &mut Session,
    ins: u8,
    result: Result<Reply, Status>,
) -> Result<Vec<u8>, Status> {
    let channel = session
        .channel
        .as_mut()
        .ok_or(Status::NO_PRECISE_DIAGNOSIS)?;
    match result {
        Ok(reply) => channel.wrap_response(ins, &reply.data, reply.status),
        Err(status) => channel.wrap_response(ins, &[], status),
    }
}

/// Runs a command and, if it changed the persistent state since its last commit, saves the
/// state before the response goes out (§7). A failed save restores the state and the
/// application session as they were and answers 6581.
fn transaction(
    state: &mut CardState,
    session: &mut Session,
    store: &mut dyn Persist,
    shape: fn(&Command<'_>) -> Result<(), Status>,
    run: impl FnOnce(&mut Ctx<'_>) -> Result<Reply, Status>,
) -> (Result<Reply, Status>, SmOutcome) {
    let app_before = session.app.clone();
    let mut ctx = Ctx {
        state,
        backup: None,
        store,
        session: &mut *session,
        shape,
        sm: SmOutcome::default(),
    };
    let result = run(&mut ctx);
    let saved = ctx.commit();
    let sm = ctx.sm;
    if saved.is_err() {
        session.app = app_before;
        return (Err(Status::MEMORY_FAILURE), sm);
    }
    (result, sm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::StaticKeys;
    use crate::state::Serial;
    use crate::storage::SaveFailed;

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
        let secret = crate::device_secret::DeviceSecret::generate().unwrap();
        CardState::blank(serial, keys, secret)
    }

    fn any(_: &Command<'_>) -> Result<(), Status> {
        Ok(())
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
        let (reply, _) = transaction(&mut state, &mut session, &mut store, any, change_lifecycle);
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
        let (reply, _) = transaction(&mut state, &mut session, &mut store, any, change_lifecycle);
        assert_eq!(reply, Err(Status::MEMORY_FAILURE));
        assert_eq!(state.lifecycle, Lifecycle::Blank);
        assert_eq!(session.app.current_ef, None);
    }

    #[test]
    fn an_error_after_a_change_still_saves() {
        let (mut state, mut session, mut store) =
            (blank(), Session::default(), TestStore::default());
        let (reply, _) = transaction(&mut state, &mut session, &mut store, any, |ctx| {
            ctx.state_mut().pin.tries_left = 2;
            Err(Status(0x63C2))
        });
        assert_eq!(reply, Err(Status(0x63C2)));
        assert_eq!(store.saves, 1);
        assert_eq!(state.pin.tries_left, 2);
    }

    /// Fails every save after the first `ok` ones.
    struct FailAfter {
        ok: usize,
        saves: Vec<u8>,
    }

    impl Persist for FailAfter {
        fn save(&mut self, state: &CardState) -> Result<(), SaveFailed> {
            if self.saves.len() >= self.ok {
                return Err(SaveFailed);
            }
            self.saves.push(state.pin.tries_left);
            Ok(())
        }
    }

    #[test]
    fn a_commit_saves_at_once_and_survives_a_later_failure() {
        let (mut state, mut session) = (blank(), Session::default());
        let mut store = FailAfter {
            ok: 1,
            saves: Vec::new(),
        };
        let (reply, _) = transaction(&mut state, &mut session, &mut store, any, |ctx| {
            ctx.state_mut().pin.tries_left = 2;
            ctx.commit()?;
            ctx.state_mut().pin.tries_left = 3;
            ctx.commit()?;
            Ok(Reply::ok())
        });
        assert_eq!(reply, Err(Status::MEMORY_FAILURE));
        assert_eq!(store.saves, vec![2]);
        assert_eq!(
            state.pin.tries_left, 2,
            "the first commit stays, the second is undone"
        );

        let mut store = FailAfter {
            ok: 0,
            saves: Vec::new(),
        };
        let (reply, _) = transaction(&mut state, &mut session, &mut store, any, |ctx| {
            ctx.state_mut().pin.tries_left = 1;
            ctx.commit()?;
            unreachable!("a failed commit stops the command");
        });
        assert_eq!(reply, Err(Status::MEMORY_FAILURE));
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

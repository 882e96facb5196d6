//! The module's state and every PKCS#11 operation in safe Rust: slots (one per PC/SC reader),
//! tokens (an operational melli card in a reader), sessions, login, objects and signing.
//! Functions return `Result<_, CK_RV>`; the FFI layer (`ffi.rs`) only moves bytes in and out.
//!
//! Locks, always taken in this order and never the other way: the module (`MODULE`, read), a
//! session, a slot. A card operation holds its slot's lock for one PC/SC transaction, so
//! sessions on different cards work in parallel and one card sees one operation at a time.

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use cryptoki_sys::*;
use melli::apdu::StatusError;
use melli::applet::{AppletError, PinCheckError, PinError, PinSession};
use melli::model::{Secret, SecretKind};
use melli::spec;
use pcsc::{Context, ReaderState, Scope, State};

use crate::card::{self, CardError, Connection, Probe, TokenData};
use crate::keys::{Input, Key, Signing};
use crate::objects::{self, Kind, Value};
use crate::pin_dialog::PinDialog;

pub(crate) type Rv = CK_RV;

/// Locks a mutex; a panic that poisoned it (caught at the FFI boundary) does not make every
/// later call fail.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The module between C_Initialize and C_Finalize.
static MODULE: RwLock<Option<Arc<Module>>> = RwLock::new(None);

/// Readers the module shows, from `MELLI_PKCS11_READERS` (comma-separated parts of reader
/// names); every reader when it is unset.
const READERS_ENV: &str = "MELLI_PKCS11_READERS";

pub(crate) struct Module {
    /// The PC/SC context, made when first needed (pcscd may start after the application
    /// loaded the module) and made again when pcscd went away.
    ctx: Mutex<Option<Context>>,
    filter: Option<Vec<String>>,
    /// The module's own PIN dialog, when `MELLI_PINENTRY` names one.
    pin_dialog: Option<PinDialog>,
    slots: Mutex<Vec<Arc<Slot>>>,
    sessions: Mutex<HashMap<CK_SESSION_HANDLE, Arc<Mutex<Session>>>>,
    next_session: AtomicU64,
    /// What C_WaitForSlotEvent last reported of each slot: (card present, pcscd's event count).
    seen: Mutex<HashMap<CK_SLOT_ID, (bool, u32)>>,
    finalized: AtomicBool,
}

/// A PC/SC reader.
pub(crate) struct Slot {
    id: CK_SLOT_ID,
    reader: String,
    creader: CString,
    state: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    /// The token in the reader now, with the pcscd event count of its insertion.
    token: Option<(Arc<TokenData>, u32)>,
    /// Bumped whenever the token changes; sessions and object handles carry it.
    generation: u64,
    /// Held while sessions are open on the token.
    connection: Option<Connection>,
    sessions: usize,
    ro_sessions: usize,
    login: Login,
    /// The event count of a card that is no melli card: not probed again until it changes.
    foreign: Option<u32>,
}

#[derive(Default)]
enum Login {
    #[default]
    None,
    User(PinSession),
    /// The PUK, kept (wiped on drop) until C_InitPIN uses it or the SO logs out: the card
    /// checks it only together with a new PIN (RESET RETRY COUNTER, applets-spec §6.10).
    So(Secret),
}

static GENERATIONS: AtomicU64 = AtomicU64::new(1);

pub(crate) struct Session {
    slot: Arc<Slot>,
    generation: u64,
    rw: bool,
    find: Option<Vec<CK_OBJECT_HANDLE>>,
    sign: Option<Signing>,
}

// ---------------------------------------------------------------------------------------------
// Initialize, finalize, the module
// ---------------------------------------------------------------------------------------------

pub(crate) fn initialize() -> Result<(), Rv> {
    let mut module = MODULE.write().unwrap_or_else(|e| e.into_inner());
    if module.is_some() {
        return Err(CKR_CRYPTOKI_ALREADY_INITIALIZED);
    }
    let filter = std::env::var(READERS_ENV).ok().map(|v| {
        v.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    });
    let new = Arc::new(Module {
        ctx: Mutex::new(None),
        filter,
        pin_dialog: PinDialog::from_env(),
        slots: Mutex::new(Vec::new()),
        sessions: Mutex::new(HashMap::new()),
        next_session: AtomicU64::new(1),
        seen: Mutex::new(HashMap::new()),
        finalized: AtomicBool::new(false),
    });
    // What is in the readers now is no event for C_WaitForSlotEvent.
    if let Ok(states) = new.reader_states() {
        let mut seen = lock(&new.seen);
        for (slot, present, count) in states {
            seen.insert(slot.id, (present, count));
        }
    }
    *module = Some(new);
    Ok(())
}

pub(crate) fn finalize() -> Result<(), Rv> {
    let module = MODULE
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .ok_or(CKR_CRYPTOKI_NOT_INITIALIZED)?;
    module.finalized.store(true, Ordering::SeqCst);
    if let Some(ctx) = lock(&module.ctx).take() {
        let _ = ctx.cancel();
    }
    lock(&module.sessions).clear();
    for slot in lock(&module.slots).iter() {
        let mut state = lock(&slot.state);
        state.login = Login::None;
        if let Some(connection) = state.connection.take() {
            connection.close(true);
        }
    }
    Ok(())
}

/// The initialized module.
pub(crate) fn module() -> Result<Arc<Module>, Rv> {
    MODULE
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or(CKR_CRYPTOKI_NOT_INITIALIZED)
}

impl Module {
    fn ctx(&self) -> Result<Context, Rv> {
        let mut ctx = lock(&self.ctx);
        if let Some(c) = ctx.as_ref() {
            if c.is_valid().is_ok() {
                return Ok(c.clone());
            }
        }
        let c = Context::establish(Scope::User).map_err(|_| CKR_DEVICE_ERROR)?;
        *ctx = Some(c.clone());
        Ok(c)
    }

    fn shows(&self, reader: &str) -> bool {
        match &self.filter {
            None => true,
            Some(parts) => parts.iter().any(|p| reader.contains(p.as_str())),
        }
    }

    /// Every reader pcscd knows (that the filter lets through) with whether a card is in it and
    /// pcscd's event count; a slot is made for every reader seen for the first time.
    fn reader_states(&self) -> Result<Vec<(Arc<Slot>, bool, u32)>, Rv> {
        // No PC/SC service: no readers, no slots (yet).
        let Ok(ctx) = self.ctx() else {
            return Ok(Vec::new());
        };
        let names = match ctx.list_readers_owned() {
            Ok(names) => names,
            Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
            Err(
                pcsc::Error::NoService | pcsc::Error::ServiceStopped | pcsc::Error::InvalidHandle,
            ) => {
                // pcscd went away: no readers now, a new context next time.
                lock(&self.ctx).take();
                Vec::new()
            }
            Err(_) => return Err(CKR_DEVICE_ERROR),
        };
        let names: Vec<CString> = names
            .into_iter()
            .filter(|n| self.shows(&n.to_string_lossy()))
            .collect();
        let mut states: Vec<ReaderState> = names
            .iter()
            .map(|n| ReaderState::new(n.clone(), State::UNAWARE))
            .collect();
        if !states.is_empty() {
            match ctx.get_status_change(Duration::ZERO, &mut states) {
                Ok(()) | Err(pcsc::Error::Timeout) => {}
                Err(_) => return Err(CKR_DEVICE_ERROR),
            }
        }
        let mut slots = lock(&self.slots);
        let mut out = Vec::with_capacity(states.len());
        for state in &states {
            let name = state.name().to_string_lossy().into_owned();
            let slot = match slots.iter().find(|s| s.reader == name) {
                Some(slot) => Arc::clone(slot),
                None => {
                    let slot = Arc::new(Slot {
                        id: slots.len() as CK_SLOT_ID + 1,
                        reader: name,
                        creader: state.name().to_owned(),
                        state: Mutex::new(SlotState::default()),
                    });
                    slots.push(Arc::clone(&slot));
                    slot
                }
            };
            let event = state.event_state();
            let present = event.contains(State::PRESENT) && !event.contains(State::MUTE);
            out.push((slot, present, state.event_count()));
        }
        Ok(out)
    }

    fn slot(&self, id: CK_SLOT_ID) -> Result<Arc<Slot>, Rv> {
        lock(&self.slots)
            .iter()
            .find(|s| s.id == id)
            .cloned()
            .ok_or(CKR_SLOT_ID_INVALID)
    }

    /// The present state of one reader: (card present, event count); absent when the reader is.
    fn reader_state(&self, slot: &Slot) -> (bool, u32) {
        let mut states = [ReaderState::new(slot.creader.clone(), State::UNAWARE)];
        let Ok(ctx) = self.ctx() else {
            return (false, 0);
        };
        match ctx.get_status_change(Duration::ZERO, &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {
                let event = states[0].event_state();
                (
                    event.contains(State::PRESENT) && !event.contains(State::MUTE),
                    states[0].event_count(),
                )
            }
            Err(_) => (false, 0),
        }
    }

    /// Brings a slot's token up to date with its reader: a card that left (or was replaced)
    /// ends its token, its sessions and its login; a new operational melli card becomes a token.
    fn refresh(&self, slot: &Slot, state: &mut SlotState, present: bool, count: u32) {
        if let Some((_, token_count)) = &state.token {
            if !present || *token_count != count {
                drop_token(state);
            }
        }
        if !present || state.token.is_some() || state.foreign == Some(count) {
            return;
        }
        let Ok(ctx) = self.ctx() else {
            return;
        };
        // Busy (held exclusively by another program), or gone again: no token for now.
        let Ok(mut connection) = Connection::connect(&ctx, &slot.creader) else {
            return;
        };
        match card::probe(&mut connection) {
            Ok(Probe::Token(token)) => {
                state.token = Some((Arc::from(token), count));
                state.generation = GENERATIONS.fetch_add(1, Ordering::SeqCst);
                state.foreign = None;
                if state.sessions > 0 {
                    state.connection = Some(connection);
                } else {
                    connection.close(false);
                }
            }
            Err(CardError::Applet(AppletError::NotMelli(_))) => {
                state.foreign = Some(count);
                connection.close(false);
            }
            // Blank or being personalized: it may become a token without leaving the reader.
            Ok(Probe::NotToken) => connection.close(false),
            Err(_) => connection.close(false),
        }
    }

    fn refreshed<'s>(&self, slot: &'s Slot) -> MutexGuard<'s, SlotState> {
        let (present, count) = self.reader_state(slot);
        let mut state = lock(&slot.state);
        self.refresh(slot, &mut state, present, count);
        state
    }
}

/// The token left: sessions on it are dead (they answer CKR_DEVICE_REMOVED until closed).
fn drop_token(state: &mut SlotState) {
    state.token = None;
    state.generation = GENERATIONS.fetch_add(1, Ordering::SeqCst);
    state.login = Login::None;
    state.sessions = 0;
    state.ro_sessions = 0;
    if let Some(connection) = state.connection.take() {
        connection.close(false);
    }
}

fn pad<const N: usize>(text: &str) -> [u8; N] {
    let mut out = [b' '; N];
    // Cut on a character boundary so that the field stays UTF-8.
    let mut end = text.len().min(N);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    out[..end].copy_from_slice(&text.as_bytes()[..end]);
    out
}

/// Token label: the holder's Latin name and the card serial, the name cut to fit 32 bytes.
pub(crate) fn token_label(token: &TokenData) -> String {
    let room = 32usize.saturating_sub(token.serial.len() + 1);
    let mut name = token.holder_name.as_str();
    if name.len() > room {
        let mut end = room;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name = name[..end].trim_end();
    }
    format!("{name} {}", token.serial)
}

// ---------------------------------------------------------------------------------------------
// General, slots and tokens
// ---------------------------------------------------------------------------------------------

pub(crate) fn info() -> Result<CK_INFO, Rv> {
    module()?;
    Ok(CK_INFO {
        cryptokiVersion: CK_VERSION {
            major: 2,
            minor: 40,
        },
        manufacturerID: pad("melli"),
        flags: 0,
        libraryDescription: pad("melli ID card PKCS#11 module"),
        libraryVersion: CK_VERSION { major: 0, minor: 1 },
    })
}

pub(crate) fn slot_list(token_present: bool) -> Result<Vec<CK_SLOT_ID>, Rv> {
    let m = module()?;
    let mut out = Vec::new();
    for (slot, present, count) in m.reader_states()? {
        if token_present {
            let mut state = lock(&slot.state);
            m.refresh(&slot, &mut state, present, count);
            if state.token.is_none() {
                continue;
            }
        }
        out.push(slot.id);
    }
    Ok(out)
}

pub(crate) fn slot_info(id: CK_SLOT_ID) -> Result<CK_SLOT_INFO, Rv> {
    let m = module()?;
    let slot = m.slot(id)?;
    let state = m.refreshed(&slot);
    let mut flags = CKF_REMOVABLE_DEVICE | CKF_HW_SLOT;
    if state.token.is_some() {
        flags |= CKF_TOKEN_PRESENT;
    }
    Ok(CK_SLOT_INFO {
        slotDescription: pad(&slot.reader),
        manufacturerID: pad("PC/SC reader (melli)"),
        flags,
        hardwareVersion: CK_VERSION { major: 0, minor: 0 },
        firmwareVersion: CK_VERSION { major: 0, minor: 0 },
    })
}

/// The PIN flags of the retry counters (GET DATA DF04).
fn pin_flags(pin: u8, puk: u8) -> CK_FLAGS {
    let mut flags = 0;
    match pin {
        0 => flags |= CKF_USER_PIN_LOCKED,
        1 => flags |= CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_COUNT_LOW,
        n if n < spec::pin::PIN_TRIES => flags |= CKF_USER_PIN_COUNT_LOW,
        _ => {}
    }
    match puk {
        0 => flags |= CKF_SO_PIN_LOCKED,
        1 => flags |= CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_COUNT_LOW,
        n if n < spec::pin::PUK_TRIES => flags |= CKF_SO_PIN_COUNT_LOW,
        _ => {}
    }
    flags
}

/// Runs a card operation on a slot's token: on the session connection when sessions are open,
/// else on a connection opened for it and let go after (one transaction either way).
fn with_card<R>(
    m: &Module,
    slot: &Slot,
    state: &mut SlotState,
    op: impl FnOnce(&mut melli::applet::Applet<card::TxTransport<'_>>) -> Result<R, CardError>,
) -> Result<R, Rv> {
    let result = match state.connection.as_mut() {
        Some(connection) => connection.transact(op),
        None => {
            let mut connection = Connection::connect(&m.ctx()?, &slot.creader).map_err(card_rv)?;
            let result = connection.select_then(op);
            connection.close(false);
            result
        }
    };
    match result {
        Ok(r) => Ok(r),
        Err(CardError::Removed) => {
            drop_token(state);
            Err(CKR_DEVICE_REMOVED)
        }
        Err(CardError::Reset) => {
            state.login = Login::None;
            Err(CKR_USER_NOT_LOGGED_IN)
        }
        Err(e) => Err(card_rv(e)),
    }
}

fn card_rv(e: CardError) -> Rv {
    match e {
        CardError::Removed => CKR_DEVICE_REMOVED,
        CardError::Reset => CKR_USER_NOT_LOGGED_IN,
        CardError::Busy => CKR_DEVICE_ERROR,
        CardError::Applet(AppletError::Status {
            status: StatusError::SecurityStatusNotSatisfied,
            ..
        }) => CKR_USER_NOT_LOGGED_IN,
        CardError::Applet(AppletError::SigningKeyBlocked) => CKR_FUNCTION_FAILED,
        CardError::Applet(_) => CKR_DEVICE_ERROR,
    }
}

pub(crate) fn token_info(id: CK_SLOT_ID) -> Result<CK_TOKEN_INFO, Rv> {
    let m = module()?;
    let slot = m.slot(id)?;
    let mut state = m.refreshed(&slot);
    let (token, _) = state.token.clone().ok_or(CKR_TOKEN_NOT_PRESENT)?;
    let counters = with_card(&m, &slot, &mut state, |applet| Ok(applet.retry_counters()?))?;
    // With its own PIN dialog the module asks for the PIN when a key needs it, as a PIN-pad
    // reader does: the application need not log in, and C_Login without a PIN asks.
    let login = match m.pin_dialog {
        None => CKF_LOGIN_REQUIRED,
        Some(_) => CKF_PROTECTED_AUTHENTICATION_PATH,
    };
    let flags = CKF_TOKEN_INITIALIZED
        | login
        | CKF_USER_PIN_INITIALIZED
        | CKF_RNG
        | pin_flags(counters.pin, counters.puk);
    Ok(CK_TOKEN_INFO {
        label: pad(&token_label(&token)),
        manufacturerID: pad("melli"),
        model: pad("melli ID card"),
        serialNumber: pad(&token.serial),
        flags,
        ulMaxSessionCount: CK_EFFECTIVELY_INFINITE,
        ulSessionCount: state.sessions as CK_ULONG,
        ulMaxRwSessionCount: CK_EFFECTIVELY_INFINITE,
        ulRwSessionCount: (state.sessions - state.ro_sessions) as CK_ULONG,
        ulMaxPinLen: spec::pin::PIN_MAX as CK_ULONG,
        ulMinPinLen: spec::pin::PIN_MIN as CK_ULONG,
        ulTotalPublicMemory: CK_UNAVAILABLE_INFORMATION,
        ulFreePublicMemory: CK_UNAVAILABLE_INFORMATION,
        ulTotalPrivateMemory: CK_UNAVAILABLE_INFORMATION,
        ulFreePrivateMemory: CK_UNAVAILABLE_INFORMATION,
        hardwareVersion: CK_VERSION {
            major: token.spec_version.0,
            minor: token.spec_version.1,
        },
        firmwareVersion: CK_VERSION {
            major: token.spec_version.0,
            minor: token.spec_version.1,
        },
        utcTime: [b' '; 16],
    })
}

pub(crate) const CK_UNAVAILABLE_INFORMATION: CK_ULONG = !0;
const CK_EFFECTIVELY_INFINITE: CK_ULONG = 0;

fn token_slot(id: CK_SLOT_ID) -> Result<(), Rv> {
    let m = module()?;
    let slot = m.slot(id)?;
    let state = m.refreshed(&slot);
    state
        .token
        .as_ref()
        .map(|_| ())
        .ok_or(CKR_TOKEN_NOT_PRESENT)
}

pub(crate) fn mechanism_list(id: CK_SLOT_ID) -> Result<Vec<CK_MECHANISM_TYPE>, Rv> {
    token_slot(id)?;
    Ok(objects::MECHANISMS.to_vec())
}

pub(crate) fn mechanism_info(
    id: CK_SLOT_ID,
    mechanism: CK_MECHANISM_TYPE,
) -> Result<CK_MECHANISM_INFO, Rv> {
    token_slot(id)?;
    if !objects::MECHANISMS.contains(&mechanism) {
        return Err(CKR_MECHANISM_INVALID);
    }
    Ok(CK_MECHANISM_INFO {
        ulMinKeySize: 256,
        ulMaxKeySize: 256,
        flags: CKF_HW | CKF_SIGN | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS,
    })
}

/// C_WaitForSlotEvent: the next slot whose card came or went since it was last reported.
pub(crate) fn wait_for_slot_event(block: bool) -> Result<CK_SLOT_ID, Rv> {
    loop {
        let m = module()?;
        for (slot, present, count) in m.reader_states()? {
            let mut seen = lock(&m.seen);
            let before = seen.get(&slot.id).copied().unwrap_or((false, count));
            if before != (present, count) {
                seen.insert(slot.id, (present, count));
                return Ok(slot.id);
            }
        }
        if !block {
            return Err(CKR_NO_EVENT);
        }
        if m.finalized.load(Ordering::SeqCst) {
            return Err(CKR_CRYPTOKI_NOT_INITIALIZED);
        }
        drop(m);
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------------

pub(crate) fn open_session(id: CK_SLOT_ID, flags: CK_FLAGS) -> Result<CK_SESSION_HANDLE, Rv> {
    if flags & CKF_SERIAL_SESSION == 0 {
        return Err(CKR_SESSION_PARALLEL_NOT_SUPPORTED);
    }
    let m = module()?;
    let slot = m.slot(id)?;
    let rw = flags & CKF_RW_SESSION != 0;
    let mut state = m.refreshed(&slot);
    if state.token.is_none() {
        return Err(CKR_TOKEN_NOT_PRESENT);
    }
    if !rw && matches!(state.login, Login::So(_)) {
        return Err(CKR_SESSION_READ_WRITE_SO_EXISTS);
    }
    if state.connection.is_none() {
        let connection = Connection::open(&m.ctx()?, &slot.creader).map_err(card_rv)?;
        state.connection = Some(connection);
    }
    state.sessions += 1;
    if !rw {
        state.ro_sessions += 1;
    }
    let handle = m.next_session.fetch_add(1, Ordering::SeqCst) as CK_SESSION_HANDLE;
    let session = Session {
        slot: Arc::clone(&slot),
        generation: state.generation,
        rw,
        find: None,
        sign: None,
    };
    drop(state);
    lock(&m.sessions).insert(handle, Arc::new(Mutex::new(session)));
    Ok(handle)
}

/// Forgets a session; the last one on a token logs out and lets go of the card (reset, so that
/// a verified PIN does not stay behind).
fn release(session: &Session) {
    let mut state = lock(&session.slot.state);
    if state.generation != session.generation {
        return;
    }
    state.sessions = state.sessions.saturating_sub(1);
    if !session.rw {
        state.ro_sessions = state.ro_sessions.saturating_sub(1);
    }
    if state.sessions == 0 {
        state.login = Login::None;
        if let Some(connection) = state.connection.take() {
            connection.close(true);
        }
    }
}

pub(crate) fn close_session(handle: CK_SESSION_HANDLE) -> Result<(), Rv> {
    let m = module()?;
    let session = lock(&m.sessions)
        .remove(&handle)
        .ok_or(CKR_SESSION_HANDLE_INVALID)?;
    release(&lock(&session));
    Ok(())
}

pub(crate) fn close_all_sessions(id: CK_SLOT_ID) -> Result<(), Rv> {
    let m = module()?;
    let slot = m.slot(id)?;
    let closing: Vec<Arc<Mutex<Session>>> = {
        let mut sessions = lock(&m.sessions);
        let handles: Vec<CK_SESSION_HANDLE> = sessions
            .iter()
            .filter(|(_, s)| lock(s).slot.id == slot.id)
            .map(|(h, _)| *h)
            .collect();
        handles.iter().filter_map(|h| sessions.remove(h)).collect()
    };
    for session in closing {
        release(&lock(&session));
    }
    Ok(())
}

fn session(m: &Module, handle: CK_SESSION_HANDLE) -> Result<Arc<Mutex<Session>>, Rv> {
    lock(&m.sessions)
        .get(&handle)
        .cloned()
        .ok_or(CKR_SESSION_HANDLE_INVALID)
}

/// The session's slot state, refreshed, if its token is still the one the session was opened
/// on; CKR_DEVICE_REMOVED when that card left.
fn live<'s>(
    m: &Module,
    session: &'s Session,
) -> Result<(MutexGuard<'s, SlotState>, Arc<TokenData>), Rv> {
    let state = m.refreshed(&session.slot);
    if state.generation != session.generation {
        return Err(CKR_DEVICE_REMOVED);
    }
    let token = state
        .token
        .as_ref()
        .map(|(t, _)| Arc::clone(t))
        .ok_or(CKR_DEVICE_REMOVED)?;
    Ok((state, token))
}

pub(crate) fn session_info(handle: CK_SESSION_HANDLE) -> Result<CK_SESSION_INFO, Rv> {
    let m = module()?;
    let session = session(&m, handle)?;
    let session = lock(&session);
    let (state, _) = live(&m, &session)?;
    let st = match (&state.login, session.rw) {
        (Login::None, false) => CKS_RO_PUBLIC_SESSION,
        (Login::None, true) => CKS_RW_PUBLIC_SESSION,
        (Login::User(_), false) => CKS_RO_USER_FUNCTIONS,
        (Login::User(_), true) => CKS_RW_USER_FUNCTIONS,
        (Login::So(_), _) => CKS_RW_SO_FUNCTIONS,
    };
    let mut flags = CKF_SERIAL_SESSION;
    if session.rw {
        flags |= CKF_RW_SESSION;
    }
    Ok(CK_SESSION_INFO {
        slotID: session.slot.id,
        state: st,
        flags,
        ulDeviceError: 0,
    })
}

/// A session that must exist, for the functions that do not apply to this token.
pub(crate) fn check_session(handle: CK_SESSION_HANDLE) -> Result<(), Rv> {
    let m = module()?;
    session(&m, handle).map(|_| ())
}

// ---------------------------------------------------------------------------------------------
// PIN
// ---------------------------------------------------------------------------------------------

fn pin_rv(e: PinCheckError) -> Rv {
    match e {
        PinCheckError::Refused(PinError::Wrong { .. }) => CKR_PIN_INCORRECT,
        PinCheckError::Refused(PinError::Blocked(_)) => CKR_PIN_LOCKED,
        PinCheckError::Card(card) => card_rv(card.into()),
    }
}

/// The PIN as text, wiped when dropped. Not UTF-8, or not digits, is no PIN of this card.
fn secret(kind: SecretKind, pin: &[u8]) -> Option<Secret> {
    let text = zeroize::Zeroizing::new(std::str::from_utf8(pin).ok()?.to_string());
    Secret::parse(kind, &text).ok()
}

/// A new PIN's rules broken: its length, or anything else than digits.
fn new_pin(pin: &[u8]) -> Result<Secret, Rv> {
    if pin.len() < spec::pin::PIN_MIN || pin.len() > spec::pin::PIN_MAX {
        return Err(CKR_PIN_LEN_RANGE);
    }
    secret(SecretKind::Pin, pin).ok_or(CKR_PIN_INVALID)
}

/// Runs a PIN command (VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER) in one
/// transaction: the card's answer to the PIN comes back as it is, a card that failed as the
/// return value.
fn pin_command<R>(
    m: &Module,
    slot: &Slot,
    state: &mut SlotState,
    op: impl FnOnce(&mut melli::applet::Applet<card::TxTransport<'_>>) -> Result<R, PinCheckError>,
) -> Result<Result<R, PinCheckError>, Rv> {
    with_card(m, slot, state, |applet| match op(applet) {
        Err(PinCheckError::Card(card)) => Err(card.into()),
        other => Ok(other),
    })
}

pub(crate) fn login(handle: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &[u8]) -> Result<(), Rv> {
    let m = module()?;
    let session = session(&m, handle)?;
    let mut session = lock(&session);
    if user == CKU_CONTEXT_SPECIFIC {
        return context_login(&m, &mut session, pin);
    }
    let (mut state, _) = live(&m, &session)?;
    match (&state.login, user) {
        (Login::User(_), CKU_USER) | (Login::So(_), CKU_SO) => {
            return Err(CKR_USER_ALREADY_LOGGED_IN)
        }
        (Login::User(_), CKU_SO) | (Login::So(_), CKU_USER) => {
            return Err(CKR_USER_ANOTHER_ALREADY_LOGGED_IN)
        }
        _ => {}
    }
    match user {
        CKU_USER => {
            let pin = match (&m.pin_dialog, pin.is_empty()) {
                // The protected authentication path: the module's own dialog asks.
                (Some(dialog), true) => {
                    let (pin, again) =
                        dialog_pin(&m, &session, state, dialog, Key::Authentication)?;
                    state = again;
                    pin
                }
                // A PIN that cannot be this card's (not 6 to 12 digits) costs no try.
                _ => secret(SecretKind::Pin, pin).ok_or(CKR_PIN_INCORRECT)?,
            };
            verify_for_session(&m, &session.slot, &mut state, pin)
        }
        CKU_SO => {
            if state.ro_sessions > 0 {
                return Err(CKR_SESSION_READ_ONLY_EXISTS);
            }
            let puk = secret(SecretKind::Puk, pin).ok_or(CKR_PIN_INCORRECT)?;
            let counters = with_card(&m, &session.slot, &mut state, |applet| {
                Ok(applet.retry_counters()?)
            })?;
            if counters.puk == 0 {
                return Err(CKR_PIN_LOCKED);
            }
            state.login = Login::So(puk);
            Ok(())
        }
        _ => Err(CKR_USER_TYPE_INVALID),
    }
}

/// C_Login(CKU_CONTEXT_SPECIFIC) after C_SignInit with a CKA_ALWAYS_AUTHENTICATE key: a fresh
/// VERIFY on the card, good for the one signature in progress (PKCS#11 v2.40 §4.9, §5.5;
/// applets-spec §12.4).
fn context_login(m: &Module, session: &mut Session, pin: &[u8]) -> Result<(), Rv> {
    let mut signing = session.sign.take().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
    let result = context_verify(m, session, &signing, pin);
    if result.is_ok() {
        signing.authorize();
    }
    session.sign = Some(signing);
    result
}

fn context_verify(m: &Module, session: &Session, signing: &Signing, pin: &[u8]) -> Result<(), Rv> {
    if !signing.wants_context_login() {
        return Err(CKR_OPERATION_NOT_INITIALIZED);
    }
    let (mut state, _) = live(m, session)?;
    let pin = match (&m.pin_dialog, pin.is_empty()) {
        (Some(dialog), true) => {
            let (pin, again) = dialog_pin(m, session, state, dialog, signing.key)?;
            state = again;
            pin
        }
        (None, _) if !matches!(state.login, Login::User(_)) => {
            return Err(CKR_USER_NOT_LOGGED_IN);
        }
        _ => secret(SecretKind::Pin, pin).ok_or(CKR_PIN_INCORRECT)?,
    };
    verify_for_session(m, &session.slot, &mut state, pin)
}

/// The PIN for `key` from the module's own dialog. The dialog names the card and its tries
/// left (none left: CKR_PIN_LOCKED, no dialog); the slot is not held while the holder types,
/// and its state is taken again, still this session's token, afterwards.
fn dialog_pin<'s>(
    m: &Module,
    session: &'s Session,
    mut state: MutexGuard<'s, SlotState>,
    dialog: &PinDialog,
    key: Key,
) -> Result<(Secret, MutexGuard<'s, SlotState>), Rv> {
    let token = state
        .token
        .as_ref()
        .map(|(t, _)| Arc::clone(t))
        .ok_or(CKR_DEVICE_REMOVED)?;
    let counters = with_card(m, &session.slot, &mut state, |applet| {
        Ok(applet.retry_counters()?)
    })?;
    if counters.pin == 0 {
        return Err(CKR_PIN_LOCKED);
    }
    drop(state);
    let pin = dialog.ask(&token, key, counters.pin)?;
    let (state, _) = live(m, session)?;
    Ok((pin, state))
}

/// VERIFY with `pin`: the session is logged in (with a fresh verification) when it is right,
/// logged out when it is wrong.
fn verify_for_session(
    m: &Module,
    slot: &Slot,
    state: &mut SlotState,
    pin: Secret,
) -> Result<(), Rv> {
    let result = pin_command(m, slot, state, |applet| {
        applet.verify_pin(&pin).map(|verified| verified.session())
    })?;
    drop(pin);
    match result {
        Ok(proof) => {
            state.login = Login::User(proof);
            Ok(())
        }
        Err(e) => {
            // A wrong PIN clears the card's verified PIN (applets-spec §6.8): the session is
            // no longer logged in, and the application must C_Login again.
            if matches!(e, PinCheckError::Refused(_)) {
                state.login = Login::None;
            }
            Err(pin_rv(e))
        }
    }
}

pub(crate) fn logout(handle: CK_SESSION_HANDLE) -> Result<(), Rv> {
    let m = module()?;
    let session = session(&m, handle)?;
    let session = lock(&session);
    let (mut state, _) = live(&m, &session)?;
    if matches!(state.login, Login::None) {
        return Err(CKR_USER_NOT_LOGGED_IN);
    }
    state.login = Login::None;
    // A new card session: the card forgets the verified PIN (applets-spec §2.2).
    if let Some(connection) = state.connection.as_mut() {
        if let Err(CardError::Removed) = connection.select() {
            drop_token(&mut state);
        }
    }
    Ok(())
}

pub(crate) fn init_pin(handle: CK_SESSION_HANDLE, pin: &[u8]) -> Result<(), Rv> {
    let m = module()?;
    let session = session(&m, handle)?;
    let session = lock(&session);
    let (mut state, _) = live(&m, &session)?;
    let Login::So(puk) = &state.login else {
        return Err(CKR_USER_NOT_LOGGED_IN);
    };
    let puk = puk.clone();
    if !session.rw {
        return Err(CKR_SESSION_READ_ONLY);
    }
    let pin = new_pin(pin)?;
    let result = pin_command(&m, &session.slot, &mut state, |applet| {
        applet.unblock_pin(&puk, &pin)
    })?;
    if let Err(e) = result {
        // A wrong PUK: the SO must log in again with the right one.
        state.login = Login::None;
        return Err(pin_rv(e));
    }
    Ok(())
}

pub(crate) fn set_pin(handle: CK_SESSION_HANDLE, old: &[u8], new: &[u8]) -> Result<(), Rv> {
    let m = module()?;
    let session = session(&m, handle)?;
    let session = lock(&session);
    let (mut state, _) = live(&m, &session)?;
    if matches!(state.login, Login::So(_)) {
        // The PUK cannot be changed on this card.
        return Err(CKR_FUNCTION_NOT_SUPPORTED);
    }
    if !session.rw {
        return Err(CKR_SESSION_READ_ONLY);
    }
    let old = secret(SecretKind::Pin, old).ok_or(CKR_PIN_INCORRECT)?;
    let new = new_pin(new)?;
    let logged_in = matches!(state.login, Login::User(_));
    let result = pin_command(&m, &session.slot, &mut state, |applet| {
        applet.change_pin(&old, &new)
    })?;
    if let Err(e) = result {
        // A failed CHANGE REFERENCE DATA clears the card's verified PIN (§8.4).
        state.login = Login::None;
        return Err(pin_rv(e));
    }
    if !logged_in {
        // CHANGE REFERENCE DATA verified the PIN on the card; the module was not logged in,
        // so the card must not stay so either.
        if let Some(connection) = state.connection.as_mut() {
            let _ = connection.select();
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------------------------

/// What C_GetAttributeValue hands out for each asked attribute.
pub(crate) fn attributes(
    handle: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    types: &[CK_ATTRIBUTE_TYPE],
) -> Result<Vec<Value>, Rv> {
    let m = module()?;
    let session = session(&m, handle)?;
    let session = lock(&session);
    let (_state, token) = live(&m, &session)?;
    let kind =
        objects::kind_of(&token, session.generation, object).ok_or(CKR_OBJECT_HANDLE_INVALID)?;
    Ok(types
        .iter()
        .map(|t| objects::attribute(&token, kind, *t))
        .collect())
}

pub(crate) fn object_size(
    handle: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
) -> Result<CK_ULONG, Rv> {
    let m = module()?;
    let session = session(&m, handle)?;
    let session = lock(&session);
    let (_state, token) = live(&m, &session)?;
    let kind =
        objects::kind_of(&token, session.generation, object).ok_or(CKR_OBJECT_HANDLE_INVALID)?;
    let key = |k| token.key(k).ok_or(CKR_OBJECT_HANDLE_INVALID);
    Ok(match kind {
        Kind::Cert(k) => key(k)?.cert.der.len(),
        Kind::CaCert(n) => token.cas.get(n).ok_or(CKR_OBJECT_HANDLE_INVALID)?.der.len(),
        Kind::PublicKey(k) => key(k)?.spki.len(),
        Kind::PrivateKey(_) => return Err(CKR_INFORMATION_SENSITIVE),
    } as CK_ULONG)
}

pub(crate) fn find_init(
    handle: CK_SESSION_HANDLE,
    template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
) -> Result<(), Rv> {
    let m = module()?;
    let session = session(&m, handle)?;
    let mut session = lock(&session);
    if session.find.is_some() {
        return Err(CKR_OPERATION_ACTIVE);
    }
    let (_state, token) = live(&m, &session)?;
    let found = objects::all(&token)
        .into_iter()
        .filter(|k| objects::matches(&token, *k, template))
        .map(|k| objects::handle(session.generation, k))
        .collect();
    drop(_state);
    session.find = Some(found);
    Ok(())
}

pub(crate) fn find(handle: CK_SESSION_HANDLE, max: usize) -> Result<Vec<CK_OBJECT_HANDLE>, Rv> {
    let m = module()?;
    let session = session(&m, handle)?;
    let mut session = lock(&session);
    live(&m, &session).map(|_| ())?;
    let found = session.find.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
    let n = max.min(found.len());
    Ok(found.drain(..n).collect())
}

pub(crate) fn find_final(handle: CK_SESSION_HANDLE) -> Result<(), Rv> {
    let m = module()?;
    let session = session(&m, handle)?;
    let mut session = lock(&session);
    session
        .find
        .take()
        .map(|_| ())
        .ok_or(CKR_OPERATION_NOT_INITIALIZED)
}

// ---------------------------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------------------------

pub(crate) fn sign_init(
    handle: CK_SESSION_HANDLE,
    mechanism: CK_MECHANISM_TYPE,
    key: CK_OBJECT_HANDLE,
) -> Result<(), Rv> {
    let m = module()?;
    let session = session(&m, handle)?;
    let mut session = lock(&session);
    if session.sign.is_some() {
        return Err(CKR_OPERATION_ACTIVE);
    }
    let (state, token) = live(&m, &session)?;
    let key = match objects::kind_of(&token, session.generation, key) {
        Some(Kind::PrivateKey(key)) => key,
        Some(_) => return Err(CKR_KEY_FUNCTION_NOT_PERMITTED),
        None => return Err(CKR_KEY_HANDLE_INVALID),
    };
    let input = Input::new(mechanism).ok_or(CKR_MECHANISM_INVALID)?;
    // With its own PIN dialog the module asks when the signature is made.
    if !matches!(state.login, Login::User(_)) && m.pin_dialog.is_none() {
        return Err(CKR_USER_NOT_LOGGED_IN);
    }
    drop(state);
    session.sign = Some(Signing::new(key, input));
    Ok(())
}

pub(crate) const SIGNATURE_LEN: usize = 64;

/// What C_Sign / C_SignFinal do once the caller's buffer is known to be large enough.
pub(crate) enum SignStep {
    /// Only the length was asked (or the buffer is too small): the operation goes on.
    Length,
    Signed([u8; SIGNATURE_LEN]),
}

pub(crate) fn sign(
    handle: CK_SESSION_HANDLE,
    data: &[u8],
    room: Option<usize>,
) -> Result<SignStep, Rv> {
    sign_end(handle, Some(data), room)
}

pub(crate) fn sign_update(handle: CK_SESSION_HANDLE, data: &[u8]) -> Result<(), Rv> {
    let m = module()?;
    let session = session(&m, handle)?;
    let mut session = lock(&session);
    let result = live(&m, &session).map(|_| ()).and_then(|()| {
        let op = session.sign.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        op.feed(data)
    });
    if result.is_err() {
        session.sign = None;
    }
    result
}

pub(crate) fn sign_final(handle: CK_SESSION_HANDLE, room: Option<usize>) -> Result<SignStep, Rv> {
    sign_end(handle, None, room)
}

fn sign_end(
    handle: CK_SESSION_HANDLE,
    data: Option<&[u8]>,
    room: Option<usize>,
) -> Result<SignStep, Rv> {
    let m = module()?;
    let session = session(&m, handle)?;
    let mut session = lock(&session);
    match &session.sign {
        None => return Err(CKR_OPERATION_NOT_INITIALIZED),
        // C_Sign after C_SignUpdate: the operation stays active (PKCS#11 v2.40 §5.11).
        Some(op) if op.input.in_parts() && data.is_some() => return Err(CKR_OPERATION_ACTIVE),
        _ => {}
    }
    if room.is_none_or(|r| r < SIGNATURE_LEN) {
        let alive = live(&m, &session).map(|_| ());
        if let Err(e) = alive {
            session.sign = None;
            return Err(e);
        }
        return match room {
            None => Ok(SignStep::Length),
            Some(_) => Err(CKR_BUFFER_TOO_SMALL),
        };
    }
    // The operation ends here whatever happens: a CKA_ALWAYS_AUTHENTICATE key's context login
    // is used up by this one signature, or by its failure.
    let mut op = session.sign.take().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
    if let Some(dialog) = &m.pin_dialog {
        let (state, _) = live(&m, &session)?;
        if op.needs_pin(matches!(state.login, Login::User(_))) {
            let (pin, mut state) = dialog_pin(&m, &session, state, dialog, op.key)?;
            verify_for_session(&m, &session.slot, &mut state, pin)?;
            op.authorize();
        }
    }
    op.may_sign()?;
    if let Some(data) = data {
        op.feed(data)?;
    }
    let key = op.key;
    let digest = op.input.digest()?;
    let slot = Arc::clone(&session.slot);
    let (mut state, token) = live(&m, &session)?;
    let public = token.key(key).ok_or(CKR_KEY_HANDLE_INVALID)?.public;
    let Login::User(proof) = state.login else {
        return Err(CKR_USER_NOT_LOGGED_IN);
    };
    let signature = with_card(&m, &slot, &mut state, |applet| {
        Ok(key.sign_on_card(&mut applet.resume_verified(proof), &digest)?)
    });
    let signature = match signature {
        Err(CKR_USER_NOT_LOGGED_IN) => {
            // The card's session lost the PIN (another program selected the application or
            // reset the card): the module is no longer logged in either.
            state.login = Login::None;
            return Err(CKR_USER_NOT_LOGGED_IN);
        }
        other => other?,
    };
    // A card that signed with another key than its certificate's makes signatures nobody can
    // verify: checked before anything is returned, as `CardSigner` does.
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    let checked = p256::ecdsa::Signature::from_slice(&signature)
        .ok()
        .filter(|s| public.verify_prehash(&digest, s).is_ok());
    if checked.is_none() {
        return Err(CKR_DEVICE_ERROR);
    }
    Ok(SignStep::Signed(signature))
}

// ---------------------------------------------------------------------------------------------
// Random
// ---------------------------------------------------------------------------------------------

pub(crate) fn generate_random(handle: CK_SESSION_HANDLE, out: &mut [u8]) -> Result<(), Rv> {
    let m = module()?;
    let session = session(&m, handle)?;
    let session = lock(&session);
    let (mut state, _) = live(&m, &session)?;
    let slot = Arc::clone(&session.slot);
    with_card(&m, &slot, &mut state, |applet| {
        for chunk in out.chunks_mut(spec::CHALLENGE_MAX) {
            let random = applet.challenge(chunk.len())?;
            chunk.copy_from_slice(&random);
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_flags_follow_the_retry_counters() {
        assert_eq!(pin_flags(3, 10), 0);
        assert_eq!(pin_flags(2, 10), CKF_USER_PIN_COUNT_LOW);
        assert_eq!(
            pin_flags(1, 10),
            CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY
        );
        assert_eq!(pin_flags(0, 10), CKF_USER_PIN_LOCKED);
        assert_eq!(pin_flags(3, 0), CKF_SO_PIN_LOCKED);
        assert_eq!(pin_flags(3, 1), CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY);
    }

    #[test]
    fn text_fields_are_padded_and_cut_on_characters() {
        assert_eq!(&pad::<8>("abc"), b"abc     ");
        assert_eq!(&pad::<4>("abcdef"), b"abcd");
        // "é" is two bytes: it is not cut in half.
        assert_eq!(&pad::<4>("abcé"), b"abc ");
    }
}

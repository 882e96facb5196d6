//! The module's own PIN dialog: a pinentry program (`MELLI_PINENTRY`) the module runs when a
//! key needs the PIN and the application gave none.
//!
//! Applications that show their own PIN prompt (Firefox, pkcs11-tool, OpenSSL) call C_Login
//! with the PIN; some cannot — a headless or kiosk browser, a service without a terminal. With
//! `MELLI_PINENTRY` set, the token says so the way a PIN-pad reader does: no
//! CKF_LOGIN_REQUIRED (the application never needs to ask) and
//! CKF_PROTECTED_AUTHENTICATION_PATH (C_Login with no PIN asks through the dialog). The module
//! then asks whenever a signature needs the PIN: once per session for the authentication key,
//! once per signature for the signing key (applets-spec §12.4). The dialog names the card and
//! the key, so the holder knows what the PIN is for.

use std::path::PathBuf;

use cryptoki_sys::*;
use melli::model::{Secret, SecretKind};

use crate::card::TokenData;
use crate::keys::Key;
use crate::module::{token_label, Rv};

/// The environment variable that names the pinentry program.
pub(crate) const PINENTRY_ENV: &str = "MELLI_PINENTRY";

pub(crate) struct PinDialog {
    program: PathBuf,
}

impl PinDialog {
    /// The dialog `MELLI_PINENTRY` names, if it names one.
    pub(crate) fn from_env() -> Option<PinDialog> {
        let program = std::env::var_os(PINENTRY_ENV)?;
        (!program.is_empty()).then(|| PinDialog {
            program: PathBuf::from(program),
        })
    }

    /// Asks the holder for the PIN of `token` to use `key`; `tries` is what the card has left.
    /// CKR_FUNCTION_CANCELED when the holder closed the dialog, CKR_PIN_INCORRECT for an
    /// answer that cannot be a PIN of this card (it costs no try), CKR_FUNCTION_FAILED when the
    /// program could not be run.
    pub(crate) fn ask(&self, token: &TokenData, key: Key, tries: u8) -> Result<Secret, Rv> {
        let purpose = match key {
            Key::Authentication => "to log in with your card",
            Key::Signing => "to sign with your card: this signature has legal weight",
        };
        let request = melli::pinentry::PinRequest {
            title: "melli ID card".into(),
            description: format!(
                "Enter the PIN of {} {purpose}. Tries left: {tries}.",
                // The name comes from the card: shown escaped, as everything from outside.
                melli::display::escaped(&token_label(token))
            ),
            prompt: "PIN:".into(),
            error: None,
            timeout: None,
        };
        let answer = {
            let _quiet = SigpipeBlocked::new();
            melli::pinentry::ask(&self.program, &request)
        };
        match answer {
            Ok(pin) => Secret::parse(SecretKind::Pin, &pin).map_err(|_| CKR_PIN_INCORRECT),
            Err(melli::pinentry::PinentryError::Cancelled) => Err(CKR_FUNCTION_CANCELED),
            Err(_) => Err(CKR_FUNCTION_FAILED),
        }
    }
}

/// SIGPIPE blocked on this thread while the dialog runs, and restored when dropped. A write to
/// a pinentry that died raises SIGPIPE, whose default action ends the process: Rust programs
/// ignore it, but the module runs inside applications that may not. A SIGPIPE raised meanwhile
/// is taken off this thread before the old mask comes back, so that it is never delivered.
struct SigpipeBlocked {
    old: Option<libc::sigset_t>,
}

impl SigpipeBlocked {
    fn new() -> SigpipeBlocked {
        let set = sigpipe_set();
        // SAFETY: both sets are valid, initialized values owned here; pthread_sigmask changes
        // this thread's mask only.
        let old = unsafe {
            let mut old: libc::sigset_t = std::mem::zeroed();
            (libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old) == 0).then_some(old)
        };
        SigpipeBlocked { old }
    }
}

impl Drop for SigpipeBlocked {
    fn drop(&mut self) {
        let Some(old) = self.old.take() else {
            return;
        };
        let set = sigpipe_set();
        // SAFETY: as in `new`; sigtimedwait with a zero timeout only takes a pending SIGPIPE
        // (it was blocked here, so it can only be pending, not delivered), and only when the
        // application had not blocked SIGPIPE itself (then any pending one is its own).
        unsafe {
            let mut pending: libc::sigset_t = std::mem::zeroed();
            if libc::sigismember(&old, libc::SIGPIPE) == 0
                && libc::sigpending(&mut pending) == 0
                && libc::sigismember(&pending, libc::SIGPIPE) == 1
            {
                let now = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                libc::sigtimedwait(&set, std::ptr::null_mut(), &now);
            }
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        }
    }
}

fn sigpipe_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initializes the set it is given; sigaddset adds a valid signal.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        set
    }
}

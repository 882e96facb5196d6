//! SoftHSM2: turns at its token store, a configuration of its own, and new tokens for a demo.

use super::module;
use crate::pki::error::PkiError;
use cryptoki::error::Error as CkError;
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Turns at a SoftHSM2 token store, taken by every melli process that uses it.
///
/// SoftHSM2's file store is not safe when one process rewrites a token — every C_Login does
/// (`token.object`) — while another process reads it: the reader sees "Token integrity check
/// failed" and the token vanishes for it (softhsm/SoftHSMv2#757). A real HSM serializes this
/// itself; for SoftHSM2, melli processes take turns through an advisory lock (`flock`) on a
/// file `$SOFTHSM2_CONF.melli-lock` (or `melli-softhsm.lock` in the temporary folder for the
/// system's store), held for one call sequence at a time. Other modules are not locked.
pub(super) struct StoreTurn(Option<std::fs::File>);

/// The lock file SoftHSM2 users take turns through ([`StoreTurn`]): beside the configuration
/// that names the token store (`$SOFTHSM2_CONF.melli-lock`, so a test's or a demo's store, in a
/// folder of its own, leaves nothing elsewhere), or `melli-softhsm.lock` in the temporary folder
/// for the system's store. A peer tool that logs in to the same store (`pkcs11-tool`) takes the
/// same turn through it.
pub fn softhsm_lock_path() -> PathBuf {
    match std::env::var_os("SOFTHSM2_CONF") {
        Some(conf) if !conf.is_empty() => {
            let mut lock = conf;
            lock.push(".melli-lock");
            PathBuf::from(lock)
        }
        _ => std::env::temp_dir().join("melli-softhsm.lock"),
    }
}

/// Makes a SoftHSM2 of its own in `dir`: a token folder `dir/tokens` and the configuration
/// `dir/softhsm2.conf` naming it (file object store, errors only in the log). Returns the
/// configuration's path, for `SOFTHSM2_CONF`.
pub fn softhsm_config(dir: &Path) -> std::io::Result<PathBuf> {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens)?;
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )?;
    Ok(conf)
}

impl StoreTurn {
    pub(super) fn take(module: &Path) -> StoreTurn {
        let is_softhsm = module
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.contains("softhsm"));
        if !is_softhsm {
            return StoreTurn(None);
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(softhsm_lock_path())
            .ok();
        // Without the lock file (another user's, a read-only /tmp) melli still works, only
        // without the protection against SoftHSM2's race.
        let file = file.filter(|f| f.lock().is_ok());
        StoreTurn(file)
    }
}

impl Drop for StoreTurn {
    fn drop(&mut self) {
        if let Some(f) = &self.0 {
            let _ = f.unlock();
        }
    }
}

/// Initializes a new token labelled `label` on the first slot of `module` that holds no
/// initialized token, with security-officer PIN `so_pin` and user PIN `user_pin` — what
/// `softhsm2-util --init-token --free` does, for a demo that makes its own SoftHSM2 tokens.
pub fn init_token(
    module_path: &Path,
    label: &str,
    so_pin: &str,
    user_pin: &str,
) -> Result<(), PkiError> {
    let m = module(module_path)?;
    let _turn = StoreTurn::take(module_path);
    let failed = |what: &str, e: CkError| {
        PkiError::Store(format!(
            "{}: {what} for token '{label}' failed ({e})",
            module_path.display()
        ))
    };
    let slots = m
        .get_slots_with_token()
        .map_err(|e| failed("listing slots", e))?;
    let mut free = None;
    for slot in slots {
        let info = m
            .get_token_info(slot)
            .map_err(|e| failed("reading token information", e))?;
        if !info.token_initialized() {
            free = Some(slot);
            break;
        }
    }
    let slot = free.ok_or_else(|| {
        PkiError::Store(format!(
            "{}: no free slot to initialize token '{label}' in",
            module_path.display()
        ))
    })?;
    let so_pin = AuthPin::new(so_pin.into());
    m.init_token(slot, &so_pin, label)
        .map_err(|e| failed("C_InitToken", e))?;
    let session = m
        .open_rw_session(slot)
        .map_err(|e| failed("opening a session", e))?;
    session
        .login(UserType::So, Some(&so_pin))
        .map_err(|e| failed("the security officer's login", e))?;
    session
        .init_pin(&AuthPin::new(user_pin.into()))
        .map_err(|e| failed("setting the user PIN", e))?;
    session
        .logout()
        .map_err(|e| failed("the security officer's logout", e))?;
    Ok(())
}

//! `melli pin status|change|unblock|unblock-finger`: the holder's PIN, PUK and finger tries.

use std::process::ExitCode;

use melli::applet::{Applet, PinCheckError};
use melli::model::SecretKind;
use melli::transport::PcscTransport;

use crate::cli::desk_cmd::require_issued;
use crate::cli::output;
use crate::cli::secret_input::SecretInput;
use crate::cli::Failure;

/// `melli pin status|change|unblock|unblock-finger`.
pub fn pin(
    action: PinAction,
    reader: Option<&str>,
    stdin: bool,
    json: bool,
) -> Result<ExitCode, Failure> {
    let mut applet = Applet::select(PcscTransport::connect(reader)?)?;
    if !matches!(action, PinAction::Status) {
        // A card without PIN and PUK would only answer "conditions of use not satisfied".
        let serial = applet.serial()?;
        require_issued(&serial, applet.lifecycle()?)?;
    }
    match action {
        PinAction::Status => {
            let counters = applet.retry_counters()?;
            if json {
                output::json(&counters)?;
            } else {
                output::rows(&[
                    ("PIN tries left", counters.pin.to_string()),
                    ("PUK tries left", counters.puk.to_string()),
                    ("fingerprint tries left", counters.finger.to_string()),
                ]);
            }
        }
        PinAction::Change => {
            let mut secrets = SecretInput::new(stdin)?;
            let old = secrets.read(SecretKind::Pin, "current PIN")?;
            let new = secrets.read(SecretKind::Pin, "new PIN")?;
            applet.change_pin(&old, &new).map_err(pin_failure)?;
            println!("PIN changed");
        }
        PinAction::Unblock => {
            let mut secrets = SecretInput::new(stdin)?;
            let puk = secrets.read(SecretKind::Puk, "PUK")?;
            let new = secrets.read(SecretKind::Pin, "new PIN")?;
            applet.unblock_pin(&puk, &new).map_err(pin_failure)?;
            println!("PIN unblocked and set");
        }
        PinAction::UnblockFinger => {
            let mut secrets = SecretInput::new(stdin)?;
            let puk = secrets.read(SecretKind::Puk, "PUK")?;
            applet.unblock_finger(&puk).map_err(pin_failure)?;
            println!("fingerprint unblocked: its tries are back");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PinAction {
    /// Tries left for the PIN, the PUK and the fingerprint.
    Status,
    /// Change the PIN (asks for the current one and the new one).
    Change,
    /// Unblock the PIN with the PUK and set a new PIN.
    Unblock,
    /// Give the fingerprint its tries back with the PUK, after too many misses at a desk.
    UnblockFinger,
}

/// A refused PIN or PUK is said as the card said it (tries left, blocked); a card error as
/// any card error.
fn pin_failure(e: PinCheckError) -> Failure {
    match e {
        PinCheckError::Refused(refused) => crate::cli::pin_refused(&refused),
        PinCheckError::Card(card) => Failure::from(card),
    }
}

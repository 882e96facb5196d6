//! Command chaining (spec §4.3, ISO/IEC 7816-4 §5.3.3): the card collects the data of a chain
//! and processes the command once, when its last APDU arrives.

use zeroize::Zeroizing;

use super::command::{Command, Header};
use super::response::Status;
use crate::spec::{cla, MAX_CHAIN_DATA};

/// An unfinished chain: the header every further APDU must repeat, and the data so far.
pub(super) struct Chain {
    /// CLA without the chaining bit, INS, P1, P2.
    header: Header,
    data: Zeroizing<Vec<u8>>,
}

/// What to do with an APDU, given the chain (if any) that was open before it.
pub(super) enum Outcome {
    /// Not part of a chain: process the APDU as it is.
    Single,
    /// Part of a chain with more to come: keep the chain, answer 9000.
    Continue(Chain),
    /// The last APDU of a chain: process the command with these data.
    Complete(Zeroizing<Vec<u8>>),
}

/// The header with the chaining bit cleared, to compare the APDUs of one chain.
fn unchained(header: Header) -> Header {
    Header {
        cla: header.cla & !cla::CHAINING,
        ..header
    }
}

/// Decides how `apdu` relates to the chain `open` (§4.3):
/// - an APDU with the chain's INS continues it: its CLA (without the chaining bit), P1 and P2
///   must be the chain's (else 6883), the data may not grow beyond 65 535 bytes (else 6A84),
///   and a clear chaining bit ends the chain;
/// - an APDU with another INS abandons the chain and is processed on its own (it may start a
///   chain of its own).
///
/// In every case but `Continue` the open chain is gone afterwards.
pub(super) fn accept(open: Option<Chain>, apdu: &Command<'_>) -> Result<Outcome, Status> {
    let header = unchained(apdu.header);
    match open {
        Some(mut chain) if chain.header.ins == header.ins => {
            if chain.header != header {
                return Err(Status::LAST_COMMAND_OF_CHAIN_EXPECTED);
            }
            let total = chain.data.len().saturating_add(apdu.data.len());
            if total > MAX_CHAIN_DATA {
                return Err(Status::NOT_ENOUGH_MEMORY);
            }
            chain.data.extend_from_slice(apdu.data);
            if apdu.class.chaining {
                Ok(Outcome::Continue(chain))
            } else {
                Ok(Outcome::Complete(chain.data))
            }
        }
        _ if apdu.class.chaining => Ok(Outcome::Continue(Chain {
            header,
            data: Zeroizing::new(apdu.data.to_vec()),
        })),
        _ => Ok(Outcome::Single),
    }
}

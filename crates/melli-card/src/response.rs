//! Status words and response APDUs on the card side: spec §4.4 (responses, `61xx`, GET
//! RESPONSE) and §4.5 (status words).

use crate::spec::{self, sw};

/// A status word (SW1 SW2). Commands return `Err(Status)` for every outcome that carries no
/// data, so `?` stops a command at the first failed check (§4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Status(pub u16);

impl Status {
    pub const OK: Status = Status(sw::OK);
    pub const END_OF_FILE: Status = Status(sw::END_OF_FILE);
    pub const MEMORY_FAILURE: Status = Status(sw::MEMORY_FAILURE);
    pub const WRONG_LENGTH: Status = Status(sw::WRONG_LENGTH);
    pub const LAST_COMMAND_OF_CHAIN_EXPECTED: Status = Status(sw::LAST_COMMAND_OF_CHAIN_EXPECTED);
    pub const INCOMPATIBLE_FILE_STRUCTURE: Status = Status(sw::INCOMPATIBLE_FILE_STRUCTURE);
    pub const SECURITY_STATUS_NOT_SATISFIED: Status = Status(sw::SECURITY_STATUS_NOT_SATISFIED);
    pub const AUTHENTICATION_BLOCKED: Status = Status(sw::AUTHENTICATION_BLOCKED);
    pub const CONDITIONS_NOT_SATISFIED: Status = Status(sw::CONDITIONS_NOT_SATISFIED);
    pub const NO_CURRENT_EF: Status = Status(sw::NO_CURRENT_EF);
    pub const SM_DATA_MISSING: Status = Status(sw::SM_DATA_MISSING);
    pub const SM_DATA_INCORRECT: Status = Status(sw::SM_DATA_INCORRECT);
    pub const INCORRECT_DATA: Status = Status(sw::INCORRECT_DATA);
    pub const FUNCTION_NOT_SUPPORTED: Status = Status(sw::FUNCTION_NOT_SUPPORTED);
    pub const FILE_NOT_FOUND: Status = Status(sw::FILE_NOT_FOUND);
    pub const NOT_ENOUGH_MEMORY: Status = Status(sw::NOT_ENOUGH_MEMORY);
    pub const INCORRECT_P1P2: Status = Status(sw::INCORRECT_P1P2);
    pub const REFERENCE_NOT_FOUND: Status = Status(sw::REFERENCE_NOT_FOUND);
    pub const WRONG_P1P2: Status = Status(sw::WRONG_P1P2);
    pub const INS_NOT_SUPPORTED: Status = Status(sw::INS_NOT_SUPPORTED);
    pub const CLA_NOT_SUPPORTED: Status = Status(sw::CLA_NOT_SUPPORTED);
    pub const NO_PRECISE_DIAGNOSIS: Status = Status(sw::NO_PRECISE_DIAGNOSIS);

    /// `61xx`: `remaining` bytes wait for GET RESPONSE; xx is `00` for 256 or more (§4.4).
    pub fn bytes_remaining(remaining: usize) -> Status {
        let xx = u8::try_from(remaining).unwrap_or(0);
        Status(u16::from_be_bytes([sw::BYTES_REMAINING, xx]))
    }

    /// `63Cx`: a verification failed or was queried; `tries_left` (0–15) tries remain (§4.5,
    /// §8.3). `63C0` means the reference data is now blocked.
    pub fn counter(tries_left: u8) -> Status {
        Status(sw::COUNTER | u16::from(tries_left & 0x0F))
    }

    /// `6Cxx`: wrong Le, ask again with Le = `exact` (§6.7).
    pub fn wrong_le(exact: u8) -> Status {
        Status(u16::from_be_bytes([sw::WRONG_LE, exact]))
    }
}

/// What a command produces when it succeeds: data and `9000`, or data and a warning (`6282`).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Reply {
    pub data: Vec<u8>,
    pub status: Status,
}

impl Reply {
    /// Data with `9000`; more data than Ne are delivered through `61xx` (§4.4).
    pub fn data(data: Vec<u8>) -> Reply {
        Reply {
            data,
            status: Status::OK,
        }
    }

    /// `9000` with no data.
    pub fn ok() -> Reply {
        Reply::data(Vec::new())
    }

    /// Data with a warning status. The command has already fitted its data within Ne.
    pub fn warning(data: Vec<u8>, status: Status) -> Reply {
        Reply { data, status }
    }
}

/// A response APDU: data, then SW1 SW2.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Response {
    pub data: Vec<u8>,
    pub status: Status,
}

impl Response {
    /// A response with no data.
    pub fn status(status: Status) -> Response {
        Response {
            data: Vec::new(),
            status,
        }
    }

    /// The bytes sent back to the reader.
    pub fn into_bytes(self) -> Vec<u8> {
        let mut bytes = self.data;
        bytes.extend_from_slice(&self.status.0.to_be_bytes());
        bytes
    }
}

/// Turns a reply into the response APDU for a command whose Le asked for `ne` bytes (0 when Le
/// was absent), §4.4: at most `min(ne, MAX_RESPONSE_DATA)` bytes go out now; when more are
/// left, they wait in `pending` for GET RESPONSE and the status is `61xx`.
pub(super) fn deliver(reply: Reply, ne: usize, pending: &mut Option<Vec<u8>>) -> Response {
    let limit = ne.min(spec::MAX_RESPONSE_DATA);
    let Reply { mut data, status } = reply;
    if data.len() <= limit {
        return Response { data, status };
    }
    let rest = data.split_off(limit);
    let status = Status::bytes_remaining(rest.len());
    *pending = Some(rest);
    Response { data, status }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_word_builders() {
        assert_eq!(Status::bytes_remaining(0x20), Status(0x6120));
        assert_eq!(Status::bytes_remaining(255), Status(0x61FF));
        assert_eq!(Status::bytes_remaining(256), Status(0x6100));
        assert_eq!(Status::bytes_remaining(70_000), Status(0x6100));
        assert_eq!(Status::wrong_le(0x20), Status(0x6C20));
        assert_eq!(Status::counter(3), Status(0x63C3));
        assert_eq!(Status::counter(10), Status(0x63CA));
        assert_eq!(Status::counter(0), Status(0x63C0));
    }

    #[test]
    fn deliver_keeps_what_does_not_fit() {
        let mut pending = None;
        let response = deliver(Reply::data(vec![1, 2, 3, 4, 5]), 2, &mut pending);
        assert_eq!(response.into_bytes(), vec![1, 2, 0x61, 0x03]);
        assert_eq!(pending, Some(vec![3, 4, 5]));

        let mut pending = None;
        let response = deliver(Reply::data(vec![1, 2]), 0, &mut pending);
        assert_eq!(response.into_bytes(), vec![0x61, 0x02]);
        assert_eq!(pending, Some(vec![1, 2]));

        let mut pending = None;
        let response = deliver(Reply::data(vec![1, 2]), 256, &mut pending);
        assert_eq!(response.into_bytes(), vec![1, 2, 0x90, 0x00]);
        assert_eq!(pending, None);
    }

    #[test]
    fn deliver_caps_at_the_largest_response() {
        let mut pending = None;
        let big = vec![0xAB; spec::MAX_RESPONSE_DATA + 10];
        let response = deliver(Reply::data(big), 65_536, &mut pending);
        assert_eq!(response.data.len(), spec::MAX_RESPONSE_DATA);
        assert_eq!(response.status, Status(0x610A));
        assert_eq!(pending.map(|p| p.len()), Some(10));
    }
}

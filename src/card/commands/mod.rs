//! One module per command family of the specification (§6). Each exposes its dispatcher
//! entry (or entries): the length shape, the P1-P2 check and the function that runs it.

pub(super) mod get_challenge;
pub(super) mod get_data;
pub(super) mod get_response;
pub(super) mod read_binary;
pub(super) mod select;

//! One module per command family of the specification (§6). Each exposes its dispatcher
//! entry (or entries): the length shape, the P1-P2 check and the function that runs it.
//! `addressing` is the file and offset addressing READ BINARY and UPDATE BINARY share;
//! `login_signature` is INTERNAL AUTHENTICATE with the authentication key (P2 `03`, §12.3).

pub(super) mod activate_file;
pub(super) mod addressing;
pub(super) mod change_reference_data;
pub(super) mod erase_binary;
pub(super) mod generate_key_pair;
pub(super) mod get_challenge;
pub(super) mod get_data;
pub(super) mod get_response;
pub(super) mod internal_authenticate;
mod login_signature;
pub(super) mod mutual_authenticate;
pub(super) mod perform_security_operation;
pub(super) mod read_binary;
pub(super) mod reset_retry_counter;
pub(super) mod select;
pub(super) mod terminate_df;
pub(super) mod update_binary;
pub(super) mod verify;

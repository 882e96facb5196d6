//! The end-to-end test environment: a real pcscd with vpcd readers, virtual cards attached to
//! them, and helpers that run `melli` and peer tools with a timeout.
//!
//! What it does, and why (the measured recipe is `../shared/TEST-ENVIRONMENT.md`):
//!
//! - **The pcscd, its readers and this process's work directory** are the test kit's
//!   (`melli_testkit::pcscd`, `::process`, `::readers`, `::run`): one pcscd per test process,
//!   shared by its tests, private (in its own mount namespace) where possible, with sixteen
//!   vpcd readers of our own; the leftovers of crashed runs cleared away; readiness always
//!   polled, never slept for. Their names are re-exported here.
//! - **What runs `melli`** is here, in modules named for what they do: the cards in the
//!   readers (`cards`, `vicc`, `feeder`), the issuers and their SoftHSM2 (`issuers`),
//!   personalized cards and their PIN mailers (`personalized`), a card's state file
//!   (`card_state`), the PKCS#11 module and its peers (`pkcs11`), and the peers `opensc-tool`
//!   (`opensc`) and `openssl` (`openssl`), OpenSSL's OCSP responder (`ocsp`), and an OpenSSL
//!   time-stamping authority behind HTTP (`tsa`).
#![allow(dead_code)]

mod card_state;
mod cards;
pub mod chromium;
pub mod desk_screen;
pub mod devtools;
pub mod documents;
pub mod feeder;
mod issuers;
pub mod nginx;
pub mod ocsp;
mod opensc;
pub mod openssl;
pub mod pdf;
mod personalized;
pub mod pinentry;
pub mod pkcs11;
pub mod stations;
pub mod tsa;
mod vicc;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

// The names the tests and benches use; each test binary uses some of them.
#[allow(unused_imports)]
pub use {
    card_state::{read_state, state_file_content, tamper_file, write_state},
    cards::{card_kind, CardKind, CardOptions, VirtualCard, TEST_MASTER_KEY},
    issuers::{
        issue_document_signer, load_issuer, make_issuer, make_issuer_with, make_plain_issuer,
        other_issuer, plain_issuer, plain_root_key, publish_crls, revoke_card, softhsm_turn,
        test_issuer, SOFTHSM_MODULE, TOKEN_PIN,
    },
    melli_testkit::pcscd::{Exclusive, Pcscd, Slot},
    melli_testkit::process::note,
    melli_testkit::readers::{reader_statuses, wait_for_readers, ReaderStatus},
    melli_testkit::run::Output,
    opensc::{opensc_send, OpenscExchange},
    personalized::{
        assert_secret_absent, mailer_path, personalize_with, personalized_card,
        personalized_card_of, personalized_version_1_0_card, pin_block, read_mailer, root_pem,
        verify_auth_token, verify_card, Mailer,
    },
    vicc::Vicc,
};

use melli_testkit::process::Process;

/// The melli binary under test.
pub const MELLI: &str = env!("CARGO_BIN_EXE_melli");

/// The ATR of a melli card (applets-spec §3), as `melli` prints it.
pub const MELLI_ATR: &str = "3B8B800180739001C0554D454C4C49BC";
/// SELECT of the melli application, no response data.
pub const SELECT_MELLI: &str = "00A4040C07F04D454C4C4901";

/// Sets up this process once: the test kit's part (work directory, pcscd mode, clean-up of
/// crashed runs: `melli_testkit::process::process`), then the issuers' SoftHSM2. Every helper
/// here calls it before it starts a program, so the environment is in place before the first
/// `melli` reads it.
fn process() -> &'static Process {
    let process = melli_testkit::process::process();
    issuers::softhsm_setup(process.work_dir());
    process
}

/// Runs `melli ARGS…` against this process's pcscd, with a 60 s timeout.
pub fn melli(args: &[&str]) -> Output {
    let mut command = Command::new(MELLI);
    command.args(args);
    run(&mut command, Duration::from_secs(60))
}

/// Runs `melli ARGS…` with `input` on its stdin, with a 60 s timeout.
pub fn melli_stdin(args: &[&str], input: &str) -> Output {
    let mut command = Command::new(MELLI);
    command.args(args);
    run_with_input(&mut command, Some(input), Duration::from_secs(60))
}

/// `melli_testkit::run::run` (a timeout, stdin closed, output captured), in this process's
/// environment (see [`process`]).
pub fn run(command: &mut Command, timeout: Duration) -> Output {
    process();
    melli_testkit::run::run(command, timeout)
}

/// [`run`], with `input` written to the program's stdin (then closed) when given.
pub fn run_with_input(command: &mut Command, input: Option<&str>, timeout: Duration) -> Output {
    process();
    melli_testkit::run::run_with_input(command, input, timeout)
}

/// Writes a new file readable by its owner alone (a key file).
pub fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .expect("create a private file");
    f.write_all(text.as_bytes()).expect("write a private file");
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}
